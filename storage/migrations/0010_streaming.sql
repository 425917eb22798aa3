-- Live streaming: the database announces what changed on the channel `kith_stream`, and every
-- web process (server/streaming/hub.py) LISTENs once and renders events for its own subscribers.
--
-- Statement-level triggers with transition tables, so that no service has to remember to
-- notify and a fan-out of 20,000 home_feed rows sends a few dozen NOTIFYs, not 20,000.
-- Payloads carry ids only (PostgreSQL refuses a payload of 8000 bytes or more): `kind:` then
-- comma-separated ids, cut into chunks that stay well under the limit.
--
--   h:<status_id>:<account_id>,...    the status entered these home feeds (fan-out on write)
--   n:<notification_id>/<account_id>,...   notifications created
--   s:<status_id>,...                 statuses created
--   e:<status_id>,...                 statuses edited
--   d:<status_id>,...                 statuses deleted (marked deleted, or removed outright)
--   f:<account_id>,...                these members' filters changed
--
-- NOTIFY is delivered when the transaction commits, so a listener that reads the ids sees
-- everything the transaction wrote (mentions, tags, media) and never a rolled-back status.

CREATE FUNCTION kith_stream_send(prefix text, items text[], per_chunk integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    i integer := 1;
    n integer := coalesce(array_length(items, 1), 0);
BEGIN
    WHILE i <= n LOOP
        PERFORM pg_notify('kith_stream',
                          prefix || array_to_string(items[i:i + per_chunk - 1], ','));
        i := i + per_chunk;
    END LOOP;
END $$;

-- Only a fan-out streams: fan-out on write always gives the author's own feed the status, a
-- follow's backfill (old statuses copied into a new follower's feed) never does, and old
-- statuses must not arrive on a live stream as if they were new.
CREATE FUNCTION kith_stream_home_feed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT i.status_id, array_agg(i.account_id::text) AS readers
        FROM inserted i
        WHERE i.status_id IN (SELECT a.status_id FROM inserted a
                              WHERE a.account_id = a.author_account_id)
        GROUP BY i.status_id
    LOOP
        -- 20 characters an id at most: 350 of them and the prefix stay under 7,500 bytes.
        PERFORM kith_stream_send('h:' || r.status_id || ':', r.readers, 350);
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER home_feed_stream AFTER INSERT ON home_feed
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_home_feed();

CREATE FUNCTION kith_stream_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kith_stream_send(
        'n:', (SELECT array_agg(i.id || '/' || i.account_id) FROM inserted i), 180);
    RETURN NULL;
END $$;

CREATE TRIGGER notifications_stream AFTER INSERT ON notifications
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_notifications();

CREATE FUNCTION kith_stream_statuses_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kith_stream_send('s:', (SELECT array_agg(i.id::text) FROM inserted i), 350);
    RETURN NULL;
END $$;

CREATE TRIGGER statuses_stream_insert AFTER INSERT ON statuses
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_statuses_inserted();

-- Most updates of a status only move its counters; only edits and deletions are announced.
CREATE FUNCTION kith_stream_statuses_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kith_stream_send('e:', (
        SELECT array_agg(n.id::text) FROM updated n JOIN previous o ON o.id = n.id
        WHERE n.deleted_at IS NULL AND n.edited_at IS DISTINCT FROM o.edited_at), 350);
    PERFORM kith_stream_send('d:', (
        SELECT array_agg(n.id::text) FROM updated n JOIN previous o ON o.id = n.id
        WHERE n.deleted_at IS NOT NULL AND o.deleted_at IS NULL), 350);
    RETURN NULL;
END $$;

CREATE TRIGGER statuses_stream_update AFTER UPDATE ON statuses
    REFERENCING OLD TABLE AS previous NEW TABLE AS updated
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_statuses_updated();

CREATE FUNCTION kith_stream_statuses_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kith_stream_send('d:', (
        SELECT array_agg(o.id::text) FROM previous o WHERE o.deleted_at IS NULL), 350);
    RETURN NULL;
END $$;

CREATE TRIGGER statuses_stream_delete AFTER DELETE ON statuses
    REFERENCING OLD TABLE AS previous
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_statuses_deleted();

-- filters_changed: a filter, or one of its keywords or statuses, was added, changed or removed.
-- A rule removed together with its filter is announced by the filter's own trigger.
CREATE FUNCTION kith_stream_filters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kith_stream_send('f:', (
        SELECT array_agg(DISTINCT c.account_id::text) FROM changed c), 350);
    RETURN NULL;
END $$;

CREATE FUNCTION kith_stream_filter_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kith_stream_send('f:', (
        SELECT array_agg(DISTINCT f.account_id::text)
        FROM changed c JOIN filters f ON f.id = c.filter_id), 350);
    RETURN NULL;
END $$;

CREATE TRIGGER filters_stream_insert AFTER INSERT ON filters
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_filters();
CREATE TRIGGER filters_stream_update AFTER UPDATE ON filters
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_filters();
CREATE TRIGGER filters_stream_delete AFTER DELETE ON filters
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_filters();

CREATE TRIGGER filter_keywords_stream_insert AFTER INSERT ON filter_keywords
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_filter_rules();
CREATE TRIGGER filter_keywords_stream_update AFTER UPDATE ON filter_keywords
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_filter_rules();
CREATE TRIGGER filter_keywords_stream_delete AFTER DELETE ON filter_keywords
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_filter_rules();

CREATE TRIGGER filter_statuses_stream_insert AFTER INSERT ON filter_statuses
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_filter_rules();
CREATE TRIGGER filter_statuses_stream_delete AFTER DELETE ON filter_statuses
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_filter_rules();
