-- A notification is unique per (recipient, sender, type, status) -- and per report, so a second
-- report from the same reporter notifies staff again.
DROP INDEX notifications_dedup_key;
CREATE UNIQUE INDEX notifications_dedup_key
    ON notifications (account_id, from_account_id, type, coalesce(status_id, 0),
                      coalesce(report_id, 0));
