-- Media uploads (issue 11): local uploads processed into the MediaStore (storage/media_files.py),
-- remote attachments linked or cached, local avatars and headers.
--
-- `file_path` / `preview_path` are names in the MediaStore (never paths chosen by a user); a
-- remote attachment that is only linked has neither, and keeps `remote_url` /
-- `remote_preview_url`. `processing` is 'pending' while a video or audio upload waits for its
-- background job, 'failed' when that job refused the file.
ALTER TABLE media_attachments
    ADD COLUMN preview_path       text,
    ADD COLUMN content_type       text,
    ADD COLUMN processing         text NOT NULL DEFAULT 'done'
        CHECK (processing IN ('pending', 'done', 'failed')),
    ADD COLUMN focus_x            real CHECK (focus_x BETWEEN -1 AND 1),
    ADD COLUMN focus_y            real CHECK (focus_y BETWEEN -1 AND 1),
    ADD COLUMN remote_preview_url text,
    -- The stored upload (a MediaStore name) a background job still has to process, and why
    -- processing failed (shown to the uploader).
    ADD COLUMN upload_path        text,
    ADD COLUMN processing_error   text;

-- A status's removal (a hard delete, rare: statuses are soft-deleted) detaches its media
-- instead of deleting the rows, so the clean-up job (server/usecases/media_cleanup.py) sees
-- them and removes their files too; a row gone in a cascade would leave its files behind.
ALTER TABLE media_attachments DROP CONSTRAINT media_attachments_status_id_fkey;
ALTER TABLE media_attachments ADD CONSTRAINT media_attachments_status_id_fkey
    FOREIGN KEY (status_id) REFERENCES statuses (id) ON DELETE SET NULL;

-- The clean-up job's scans: unattached uploads by age, and "does any row name this file?".
CREATE INDEX media_attachments_unattached_idx ON media_attachments (created_at)
    WHERE status_id IS NULL;
CREATE INDEX media_attachments_file_idx ON media_attachments (file_path)
    WHERE file_path IS NOT NULL;
CREATE INDEX media_attachments_preview_idx ON media_attachments (preview_path)
    WHERE preview_path IS NOT NULL;
CREATE INDEX media_attachments_upload_idx ON media_attachments (upload_path)
    WHERE upload_path IS NOT NULL;
-- ... and deleted statuses by deletion time (a small index: only deleted statuses are in it).
CREATE INDEX statuses_deleted_idx ON statuses (deleted_at) WHERE deleted_at IS NOT NULL;

-- A local account's processed avatar and header (MediaStore names); `avatar_url` / `header_url`
-- keep the full URL shown to everyone.
ALTER TABLE accounts
    ADD COLUMN avatar_path text,
    ADD COLUMN header_path text;

-- Which attachments, in order, each revision of a status showed (Mastodon's
-- `ordered_media_attachment_ids`); the edit history renders those rows that still exist.
ALTER TABLE status_edits
    ADD COLUMN media_attachment_ids bigint[] NOT NULL DEFAULT '{}';
