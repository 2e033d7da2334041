-- Conflict lookups from the active side: each active member finds the
-- deleted members sharing its email key or phone (F12) by index, so that
-- listing a tenant's deleted members needs no per-member probe.
CREATE INDEX deleted_members_email_key ON deleted_members (tenant_id, email_key);
CREATE INDEX deleted_members_phone ON deleted_members (tenant_id, phone);
