-- Jobs that failed for good (a permanent failure, an unknown queue, or attempts exhausted) stay
-- in the table with `failed_at` and `last_error` set, for inspection; they are never claimed
-- again. Completed jobs are deleted.
ALTER TABLE jobs ADD COLUMN failed_at timestamptz;

DROP INDEX jobs_due_idx;
CREATE INDEX jobs_due_idx ON jobs (run_at, id) WHERE failed_at IS NULL;

-- Every insert into `jobs`, whoever makes it, wakes idle workers: the notification is delivered
-- when the inserting transaction commits (and never if it rolls back), so a worker never sees a
-- job before it exists. One notification per statement, so fan-out stays cheap.
CREATE FUNCTION kith_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kith_jobs', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_notify AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION kith_jobs_notify();
