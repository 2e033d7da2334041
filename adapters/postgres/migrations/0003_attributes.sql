-- Attributes (docs/rule-language-next.md §6): open data on tenants, active
-- members and deleted members, typed by the policy at evaluation. A JSON
-- object; NULL = none. Read as `attributes::text` and decoded by
-- restore_directory::attributes::decode, the same decoder as every other
-- backend's (JSONB drops duplicate keys itself; a number outside i64 is a
-- bad row).
ALTER TABLE tenants ADD COLUMN attributes JSONB;
ALTER TABLE members ADD COLUMN attributes JSONB;
ALTER TABLE deleted_members ADD COLUMN attributes JSONB;
