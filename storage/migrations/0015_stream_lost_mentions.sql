-- Live streams hear when a member stops being mentioned by a status that stays: an edit that
-- removes the mention takes away her access, and her open streams are told to drop the status
-- (server/streaming/events.py sends `delete` to those who may no longer see it).
--
--   x:<status_id>:<account_id>,...    these local members are no longer mentioned by it
--
-- Mentions removed with their status are left to the statuses' own `d:` announcement.

CREATE FUNCTION kith_stream_lost_mentions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT o.status_id, array_agg(o.account_id::text) AS members
        FROM previous o
        JOIN accounts a ON a.id = o.account_id AND a.domain IS NULL
        JOIN statuses s ON s.id = o.status_id AND s.deleted_at IS NULL
        GROUP BY o.status_id
    LOOP
        PERFORM kith_stream_send('x:' || r.status_id || ':', r.members, 350);
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER mentions_stream_delete AFTER DELETE ON mentions
    REFERENCING OLD TABLE AS previous
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_lost_mentions();
