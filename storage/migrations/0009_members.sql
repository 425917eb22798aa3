-- A member's domain blocks are listed with Mastodon's id-based pagination, so they need an id.
ALTER TABLE account_domain_blocks ADD COLUMN id bigint NOT NULL DEFAULT kith_id();
CREATE UNIQUE INDEX account_domain_blocks_page_idx ON account_domain_blocks (account_id, id);
