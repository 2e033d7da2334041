//! Every statement the adapter runs. All take their values as parameters and
//! every one that reads member data names its tenant.

pub(crate) const TENANT: &str =
    "SELECT id, plan, seats_total, seats_used FROM tenants WHERE id = ?1";

pub(crate) const ACTOR: &str = "SELECT id, roles FROM members WHERE tenant_id = ?1 AND id = ?2";

/// Columns of a deleted member with conflicts and items; `d` is the member.
/// Conflicts list active members in insertion (rowid) order, as the memory
/// adapter does; items come ordered by resource, then position.
macro_rules! deleted_columns {
    () => {
        "SELECT d.id, d.email, d.phone, d.deleted_at, d.reason, d.deletion, d.removed_from_list,
            (SELECT a.id FROM members a WHERE a.tenant_id = d.tenant_id AND a.id = d.id)
                AS conflict_user_id,
            (SELECT json_group_array(a.id ORDER BY a.rowid) FROM members a
                WHERE a.tenant_id = d.tenant_id AND a.email_key = d.email_key)
                AS conflict_email,
            (SELECT json_group_array(a.id ORDER BY a.rowid) FROM members a
                WHERE a.tenant_id = d.tenant_id AND a.phone = d.phone)
                AS conflict_phone,
            (SELECT json_group_array(json_array(r.resource, r.item_id, r.transferred_to)
                    ORDER BY r.resource, r.position)
                FROM resource_items r WHERE r.tenant_id = d.tenant_id AND r.member_id = d.id)
                AS items
        FROM deleted_members d "
    };
}

pub(crate) const DELETED_MEMBER: &str = concat!(
    deleted_columns!(),
    "WHERE d.tenant_id = ?1 AND d.id = ?2 AND d.restored_at IS NULL"
);

pub(crate) const DELETED_MEMBERS: &str = concat!(
    deleted_columns!(),
    "WHERE d.tenant_id = ?1 AND d.restored_at IS NULL ORDER BY d.id"
);

pub(crate) const MARK_RESTORED: &str = "UPDATE deleted_members SET restored_at = ?1
    WHERE tenant_id = ?2 AND id = ?3 AND restored_at IS NULL";

pub(crate) const INSERT_ACTIVE: &str =
    "INSERT INTO members (tenant_id, id, email, email_key, phone, roles, department)
    VALUES (?1, ?2, ?3, ?4, ?5, '[]', ?6)";

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
