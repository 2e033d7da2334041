-- Attributes (docs/rule-language-next.md §6): open data on tenants, active
-- members and deleted members, typed by the policy at evaluation. Stored as
-- canonical JSON text (an object, keys sorted, compact); NULL = none. The
-- adapter decodes every value with restore_directory::attributes::decode,
-- which enforces the limits, and reports a bad one as a bad row.
ALTER TABLE tenants ADD COLUMN attributes TEXT;
ALTER TABLE members ADD COLUMN attributes TEXT;
ALTER TABLE deleted_members ADD COLUMN attributes TEXT;
