-- Polls end to end (0001 made `polls` and `poll_votes`).
--
-- polls.options stays [{title, votes_count}]: for a local poll the counts are ours, for a remote
-- one what its server last said plus the votes cast here since. hide_totals hides the counts
-- until the end (local polls). update_due_at debounces the Update of a local poll's counts: set
-- when a vote changes them and no Update is queued yet, cleared by the job that sends it.
-- ended_at is set once by the end-of-poll job, so its notifications and final Update happen once.
-- fetched_at: when a remote poll was last queued to be fetched again (a member looking at it).
ALTER TABLE polls
    ADD COLUMN hide_totals boolean NOT NULL DEFAULT false,
    ADD COLUMN fetched_at timestamptz,
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN update_due_at timestamptz,
    ADD COLUMN ended_at timestamptz;

-- The polls an account voted in (end-of-poll notifications, own_votes on a page of statuses).
CREATE INDEX poll_votes_account_idx ON poll_votes (account_id, poll_id);

-- A remote multiple-choice poll whose server does not say how many people voted has no count.
ALTER TABLE polls ALTER COLUMN voters_count DROP NOT NULL;
