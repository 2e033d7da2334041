-- The directory: tenants, active members, deleted members with their resource
-- items, and the audit log of restores.
--
-- Enum-like columns (plan, reason, deletion) are plain TEXT without CHECK
-- constraints on purpose: the database may be written by other tools, so the
-- adapter validates every row it reads and reports `BadRow` instead.

CREATE TABLE tenants (
    id          TEXT    NOT NULL PRIMARY KEY,
    plan        TEXT    NOT NULL,
    seats_total INTEGER NOT NULL,
    seats_used  INTEGER NOT NULL
);

-- Active members. The implicit rowid keeps insertion order, which is the
-- order conflicts are reported in (the memory adapter's order).
CREATE TABLE members (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    id         TEXT NOT NULL,
    email      TEXT,
    -- restore_engine::facts::email_key(email), computed in Rust.
    email_key  TEXT,
    phone      TEXT,
    -- JSON array of role names.
    roles      TEXT NOT NULL DEFAULT '[]',
    department TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX members_email_key ON members (tenant_id, email_key);
CREATE INDEX members_phone ON members (tenant_id, phone);

-- Deleted members. A restored member keeps its row (restored_at set) so that
-- its resource items and history stay; every read filters restored_at IS NULL.
CREATE TABLE deleted_members (
    tenant_id         TEXT    NOT NULL REFERENCES tenants (id),
    id                TEXT    NOT NULL,
    email             TEXT,
    email_key         TEXT,
    phone             TEXT,
    -- RFC 3339 with zone.
    deleted_at        TEXT    NOT NULL,
    reason            TEXT    NOT NULL,
    deletion          TEXT    NOT NULL,
    removed_from_list INTEGER NOT NULL DEFAULT 0,
    restored_at       TEXT,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

-- One row per item of a deleted member's resource, in snapshot order.
CREATE TABLE resource_items (
    tenant_id      TEXT    NOT NULL,
    member_id      TEXT    NOT NULL,
    resource       TEXT    NOT NULL,
    position       INTEGER NOT NULL,
    item_id        TEXT    NOT NULL,
    transferred_to TEXT,
    -- Set when a restore brought the item back.
    restored       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, member_id, resource, position),
    FOREIGN KEY (tenant_id, member_id) REFERENCES deleted_members (tenant_id, id)
) WITHOUT ROWID;

CREATE TABLE audit (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    member_id      TEXT NOT NULL,
    actor          TEXT NOT NULL,
    at             TEXT NOT NULL,
    department     TEXT NOT NULL,
    policy_name    TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    digest         TEXT NOT NULL,
    -- The full decision, as JSON.
    decision       TEXT NOT NULL
);
CREATE INDEX audit_member ON audit (tenant_id, member_id);
