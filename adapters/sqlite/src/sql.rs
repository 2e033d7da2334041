//! Every statement the adapter runs. All take their values as parameters and
//! every one that reads member data names its tenant.

pub(crate) const TENANT: &str =
    "SELECT id, plan, seats_total, seats_used, attributes FROM tenants WHERE id = ?1";

pub(crate) const ACTOR: &str =
    "SELECT id, roles, attributes FROM members WHERE tenant_id = ?1 AND id = ?2";

/// Deleted members, one row each, with their conflicts and resource items
/// as JSON arrays (NULL when there are none). Columns are [`crate::rows`]'
/// `col` constants.
///
/// One row per member, unlike PostgreSQL's one row per part: sqlx hands each
/// SQLite row from its worker thread to the caller with a wake-up, which
/// costs more than building the member's JSON in SQLite (BENCHMARKS.md,
/// "Directory adapters"). Items are read by primary key, only for members
/// that have any; conflicts are joined in from `$conflicts`, one row per
/// conflicting member.
macro_rules! deleted_members {
    ($conflicts:literal, $member_filter:literal) => {
        concat!(
            "SELECT d.id, d.email, d.phone, d.deleted_at, d.reason, d.deletion,
                d.removed_from_list, c.conflicts,
                CASE WHEN EXISTS (SELECT 1 FROM resource_items r
                        WHERE r.tenant_id = d.tenant_id AND r.member_id = d.id)
                    THEN (SELECT json_group_array(
                            json_array(r.resource, r.position, r.item_id, r.transferred_to))
                        FROM resource_items r
                        WHERE r.tenant_id = d.tenant_id AND r.member_id = d.id)
                END AS items, d.attributes
            FROM deleted_members d
            LEFT JOIN ",
            $conflicts,
            " c ON c.member_id = d.id
            WHERE d.tenant_id = ?1 AND d.restored_at IS NULL",
            $member_filter,
            " ORDER BY d.id"
        )
    };
}

/// One deleted member ($2) of tenant $1; its conflicts are looked up from
/// the member (CROSS JOIN fixes the loop order).
pub(crate) const DELETED_MEMBER: &str = deleted_members!(
    "(SELECT x.member_id, json_group_array(json_array(x.kind, x.seq, x.id)) AS conflicts
    FROM (
        SELECT 'id' AS kind, d.id AS member_id, a.rowid AS seq, a.id
        FROM deleted_members d CROSS JOIN members a ON a.tenant_id = d.tenant_id AND a.id = d.id
        WHERE d.tenant_id = ?1 AND d.id = ?2
        UNION ALL
        SELECT 'email', d.id, a.rowid, a.id
        FROM deleted_members d CROSS JOIN members a
            ON a.tenant_id = d.tenant_id AND a.email_key = d.email_key
        WHERE d.tenant_id = ?1 AND d.id = ?2
        UNION ALL
        SELECT 'phone', d.id, a.rowid, a.id
        FROM deleted_members d CROSS JOIN members a
            ON a.tenant_id = d.tenant_id AND a.phone = d.phone
        WHERE d.tenant_id = ?1 AND d.id = ?2
    ) x GROUP BY x.member_id)",
    " AND d.id = ?2"
);

/// Every deleted member of tenant $1, in id order. Conflicts are looked up
/// from the active side, one index lookup per active member and key (CROSS
/// JOIN fixes that loop order, INDEXED BY the index: without statistics
/// SQLite would rather probe from each deleted member), grouped per deleted
/// member and joined in by an automatic index: work proportional to the
/// active members, not three lookups per deleted member.
pub(crate) const DELETED_MEMBERS: &str = deleted_members!(
    "(SELECT x.member_id, json_group_array(json_array(x.kind, x.seq, x.id)) AS conflicts
    FROM (
        SELECT 'id' AS kind, d.id AS member_id, a.rowid AS seq, a.id
        FROM members a CROSS JOIN deleted_members d ON d.tenant_id = a.tenant_id AND d.id = a.id
        WHERE a.tenant_id = ?1
        UNION ALL
        SELECT 'email', d.id, a.rowid, a.id
        FROM members a CROSS JOIN deleted_members d INDEXED BY deleted_members_email_key
            ON d.tenant_id = a.tenant_id AND d.email_key = a.email_key
        WHERE a.tenant_id = ?1
        UNION ALL
        SELECT 'phone', d.id, a.rowid, a.id
        FROM members a CROSS JOIN deleted_members d INDEXED BY deleted_members_phone
            ON d.tenant_id = a.tenant_id AND d.phone = a.phone
        WHERE a.tenant_id = ?1
    ) x GROUP BY x.member_id)",
    ""
);

pub(crate) const MARK_RESTORED: &str = "UPDATE deleted_members SET restored_at = ?1
    WHERE tenant_id = ?2 AND id = ?3 AND restored_at IS NULL";

pub(crate) const INSERT_ACTIVE: &str =
    "INSERT INTO members (tenant_id, id, email, email_key, phone, roles, department, attributes)
    VALUES (?1, ?2, ?3, ?4, ?5, '[]', ?6, ?7)";

pub(crate) const TAKE_SEAT: &str =
    "UPDATE tenants SET seats_used = seats_used + 1 WHERE id = ?1 RETURNING seats_used";

/// ?3: JSON list of resources restored whole; ?4: transfer-dependent ones.
pub(crate) const RESTORE_ITEMS: &str = "UPDATE resource_items SET restored = 1
    WHERE tenant_id = ?1 AND member_id = ?2
      AND (resource IN (SELECT value FROM json_each(?3))
           OR (resource IN (SELECT value FROM json_each(?4)) AND transferred_to IS NULL))";

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit
    (tenant_id, member_id, actor, at, department, policy_name, policy_version, digest, decision)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id";

pub(crate) const AUDIT: &str = "SELECT id, member_id, actor, at, department, policy_name,
    policy_version, digest, decision FROM audit WHERE tenant_id = ?1 ORDER BY id";

pub(crate) const DEPARTMENT: &str =
    "SELECT department FROM members WHERE tenant_id = ?1 AND id = ?2";

pub(crate) const RESTORED_ITEMS: &str = "SELECT item_id FROM resource_items
    WHERE tenant_id = ?1 AND member_id = ?2 AND resource = ?3 AND restored = 1
    ORDER BY position";

pub(crate) const TENANT_EXISTS: &str = "SELECT id FROM tenants WHERE id = ?1";
