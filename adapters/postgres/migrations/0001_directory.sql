-- The directory: tenants, active members, deleted members with their resource
-- items, and the audit log of restores. Same logical schema as the SQLite
-- adapter's.
--
-- Enum-like columns (plan, reason, deletion) are plain TEXT without CHECK
-- constraints on purpose: the database may be written by other tools, so the
-- adapter validates every row it reads and reports `BadRow` instead.
--
-- Ids and resource names use the "C" collation so that ORDER BY is byte
-- order, the order of the memory adapter's BTreeMap, on any server locale.

CREATE TABLE tenants (
    id          TEXT COLLATE "C" PRIMARY KEY,
    plan        TEXT   NOT NULL,
    seats_total BIGINT NOT NULL,
    seats_used  BIGINT NOT NULL
);

CREATE TABLE members (
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    id         TEXT COLLATE "C" NOT NULL,
    -- Insertion order: the order conflicts are reported in.
    seq        BIGINT GENERATED ALWAYS AS IDENTITY,
    email      TEXT,
    -- restore_engine::facts::email_key(email), computed in Rust.
    email_key  TEXT,
    phone      TEXT,
    roles      TEXT[] NOT NULL DEFAULT '{}',
    department TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX members_email_key ON members (tenant_id, email_key);
CREATE INDEX members_phone ON members (tenant_id, phone);

-- A restored member keeps its row (restored_at set) so that its resource
-- items and history stay; every read filters restored_at IS NULL.
CREATE TABLE deleted_members (
    tenant_id         TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    id                TEXT COLLATE "C" NOT NULL,
    email             TEXT,
    email_key         TEXT,
    phone             TEXT,
    deleted_at        TIMESTAMPTZ NOT NULL,
    reason            TEXT    NOT NULL,
    deletion          TEXT    NOT NULL,
    removed_from_list BOOLEAN NOT NULL DEFAULT FALSE,
    restored_at       TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE resource_items (
    tenant_id      TEXT COLLATE "C" NOT NULL,
    member_id      TEXT COLLATE "C" NOT NULL,
    resource       TEXT COLLATE "C" NOT NULL,
    position       INTEGER NOT NULL,
    item_id        TEXT    NOT NULL,
    transferred_to TEXT,
    restored       BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (tenant_id, member_id, resource, position),
    FOREIGN KEY (tenant_id, member_id) REFERENCES deleted_members (tenant_id, id)
);

CREATE TABLE audit (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    member_id      TEXT NOT NULL,
    actor          TEXT NOT NULL,
    at             TIMESTAMPTZ NOT NULL,
    department     TEXT NOT NULL,
    policy_name    TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    digest         TEXT NOT NULL,
    decision       JSONB NOT NULL
);
CREATE INDEX audit_member ON audit (tenant_id, member_id);
