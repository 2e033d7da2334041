//! Every statement the adapter runs. All take their values as parameters and
//! every one that reads member data names its tenant.

pub(crate) const TENANT: &str =
    "SELECT id, plan, seats_total, seats_used FROM tenants WHERE id = $1";

/// The restore's first statement: every restore in a tenant queues here, so
/// the seat count and member state it then reads stay true until commit.
pub(crate) const TENANT_FOR_UPDATE: &str =
    "SELECT id, plan, seats_total, seats_used FROM tenants WHERE id = $1 FOR UPDATE";

pub(crate) const ACTOR: &str = "SELECT id, roles FROM members WHERE tenant_id = $1 AND id = $2";

/// Columns of a deleted member with conflicts and items; `d` is the member.
/// Conflicts list active members in insertion (`seq`) order, as the memory
/// adapter does; items come ordered by resource, then position.
macro_rules! deleted_columns {
    () => {
        "SELECT d.id, d.email, d.phone, d.deleted_at, d.reason, d.deletion, d.removed_from_list,
            (SELECT a.id FROM members a WHERE a.tenant_id = d.tenant_id AND a.id = d.id)
                AS conflict_user_id,
            ARRAY(SELECT a.id FROM members a
                WHERE a.tenant_id = d.tenant_id AND a.email_key = d.email_key ORDER BY a.seq)
                AS conflict_email,
            ARRAY(SELECT a.id FROM members a
                WHERE a.tenant_id = d.tenant_id AND a.phone = d.phone ORDER BY a.seq)
                AS conflict_phone,
            COALESCE((SELECT json_agg(json_build_array(r.resource, r.item_id, r.transferred_to)
                    ORDER BY r.resource, r.position)
                FROM resource_items r WHERE r.tenant_id = d.tenant_id AND r.member_id = d.id)::text,
                '[]') AS items
        FROM deleted_members d "
    };
}

pub(crate) const DELETED_MEMBER: &str = concat!(
    deleted_columns!(),
    "WHERE d.tenant_id = $1 AND d.id = $2 AND d.restored_at IS NULL"
);

/// The whole tenant, as joins rather than [`DELETED_MEMBER`]'s per-row
/// subqueries: conflicts are aggregated once per email key / phone over the
/// (few) active members and hash-joined, items are aggregated per member and
/// merge-joined in id order. Same columns and values as `deleted_columns!`
/// (array order by `seq`, items by resource then position, `'[]'` when none),
/// several times faster than four index probes, sorts and subplans per row
/// (BENCHMARKS.md). The server sorts by id once (spilling past `work_mem`);
/// the client still receives rows one by one.
pub(crate) const DELETED_MEMBERS: &str =
    "SELECT d.id, d.email, d.phone, d.deleted_at, d.reason, d.deletion, d.removed_from_list,
        cu.id AS conflict_user_id,
        COALESCE(ce.ids, '{}') AS conflict_email,
        COALESCE(cp.ids, '{}') AS conflict_phone,
        COALESCE(ri.items, '[]') AS items
    FROM deleted_members d
    LEFT JOIN members cu ON cu.tenant_id = d.tenant_id AND cu.id = d.id
    LEFT JOIN (SELECT email_key, array_agg(id ORDER BY seq) AS ids FROM members
            WHERE tenant_id = $1 AND email_key IS NOT NULL GROUP BY email_key) ce
        ON ce.email_key = d.email_key
    LEFT JOIN (SELECT phone, array_agg(id ORDER BY seq) AS ids FROM members
            WHERE tenant_id = $1 AND phone IS NOT NULL GROUP BY phone) cp
        ON cp.phone = d.phone
    LEFT JOIN (SELECT member_id,
                json_agg(json_build_array(resource, item_id, transferred_to)
                    ORDER BY resource, position)::text AS items
            FROM resource_items WHERE tenant_id = $1 GROUP BY member_id) ri
        ON ri.member_id = d.id
    WHERE d.tenant_id = $1 AND d.restored_at IS NULL ORDER BY d.id";

pub(crate) const MARK_RESTORED: &str = "UPDATE deleted_members SET restored_at = $1
    WHERE tenant_id = $2 AND id = $3 AND restored_at IS NULL";

pub(crate) const INSERT_ACTIVE: &str =
    "INSERT INTO members (tenant_id, id, email, email_key, phone, roles, department)
    VALUES ($1, $2, $3, $4, $5, '{}', $6)";

pub(crate) const TAKE_SEAT: &str =
    "UPDATE tenants SET seats_used = seats_used + 1 WHERE id = $1 RETURNING seats_used";

/// $3: resources restored whole; $4: transfer-dependent ones.
pub(crate) const RESTORE_ITEMS: &str = "UPDATE resource_items SET restored = TRUE
    WHERE tenant_id = $1 AND member_id = $2
      AND (resource = ANY($3) OR (resource = ANY($4) AND transferred_to IS NULL))";

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit
    (tenant_id, member_id, actor, at, department, policy_name, policy_version, digest, decision)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) RETURNING id";

pub(crate) const AUDIT: &str = "SELECT id, member_id, actor, at, department, policy_name,
    policy_version, digest, decision::text AS decision FROM audit WHERE tenant_id = $1 ORDER BY id";

pub(crate) const DEPARTMENT: &str =
    "SELECT department FROM members WHERE tenant_id = $1 AND id = $2";

pub(crate) const RESTORED_ITEMS: &str = "SELECT item_id FROM resource_items
    WHERE tenant_id = $1 AND member_id = $2 AND resource = $3 AND restored
    ORDER BY position";

/// Existing tenants among $1, to refuse an import before writing.
pub(crate) const EXISTING_TENANTS: &str = "SELECT id FROM tenants WHERE id = ANY($1) ORDER BY id";

pub(crate) const INSERT_TENANTS: &str = "INSERT INTO tenants (id, plan, seats_total, seats_used)
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[])";

/// Roles come as one JSON array text per member (arrays of arrays do not unnest).
/// WITH ORDINALITY + ORDER BY keeps snapshot order for `seq`.
pub(crate) const INSERT_MEMBERS: &str =
    "INSERT INTO members (tenant_id, id, email, email_key, phone, roles, department)
    SELECT u.t, u.i, u.e, u.k, u.p, ARRAY(SELECT json_array_elements_text(u.r::json)), u.dep
    FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
        WITH ORDINALITY AS u(t, i, e, k, p, r, dep, ord)
    ORDER BY u.ord";

pub(crate) const INSERT_DELETED: &str = "INSERT INTO deleted_members
    (tenant_id, id, email, email_key, phone, deleted_at, reason, deletion, removed_from_list)
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
        $6::timestamptz[], $7::text[], $8::text[], $9::bool[])";

pub(crate) const INSERT_ITEMS: &str = "INSERT INTO resource_items
    (tenant_id, member_id, resource, position, item_id, transferred_to)
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::text[])";
