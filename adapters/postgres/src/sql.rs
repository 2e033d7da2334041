//! Every statement the adapter runs. All take their values as parameters and
//! every one that reads member data names its tenant.

pub(crate) const TENANT: &str =
    "SELECT id, plan, seats_total, seats_used FROM tenants WHERE id = $1";

/// The restore's first statement: every restore in a tenant queues here, so
/// the seat count and member state it then reads stay true until commit.
pub(crate) const TENANT_FOR_UPDATE: &str =
    "SELECT id, plan, seats_total, seats_used FROM tenants WHERE id = $1 FOR UPDATE";

pub(crate) const ACTOR: &str = "SELECT id, roles FROM members WHERE tenant_id = $1 AND id = $2";

/// The parts of deleted members of tenant $1
/// ([`restore_directory::stored::MemberPart`]), ordered by member: the
/// member's own row (part 0), its conflicts (1), its resource items (2), in
/// no particular order within a member. Columns are [`crate::rows`]' `col`
/// constants; each part uses `t1`..`t4`, `ts`, `n` and `flag` its own way
/// (see there). Every arm has the same column types, so the planner
/// flattens the `UNION ALL` and sorts (or merges) once.
///
/// Conflicts (F11, F12) join active and deleted members on id, email key
/// and phone; indexes on both sides let the planner start from whichever
/// is smaller. `$member_filter` / `$item_filter` narrow it to one member
/// ($2), which the planner turns into index lookups.
macro_rules! deleted_parts {
    ($member_filter:literal, $item_filter:literal) => {
        concat!(
            "SELECT d.id AS member, 0 AS part, d.email AS t1, d.phone AS t2, d.reason AS t3,
                d.deletion AS t4, d.deleted_at AS ts, NULL::int8 AS n, d.removed_from_list AS flag
            FROM deleted_members d
            WHERE d.tenant_id = $1 AND d.restored_at IS NULL",
            $member_filter,
            " UNION ALL
            SELECT d.id, 1, 'id'::text, a.id::text, NULL::text, NULL::text, NULL::timestamptz,
                a.seq, NULL::bool
            FROM members a JOIN deleted_members d ON d.tenant_id = a.tenant_id AND d.id = a.id
            WHERE a.tenant_id = $1 AND d.restored_at IS NULL",
            $member_filter,
            " UNION ALL
            SELECT d.id, 1, 'email'::text, a.id::text, NULL::text, NULL::text, NULL::timestamptz,
                a.seq, NULL::bool
            FROM members a JOIN deleted_members d
                ON d.tenant_id = a.tenant_id AND d.email_key = a.email_key
            WHERE a.tenant_id = $1 AND d.restored_at IS NULL",
            $member_filter,
            " UNION ALL
            SELECT d.id, 1, 'phone'::text, a.id::text, NULL::text, NULL::text, NULL::timestamptz,
                a.seq, NULL::bool
            FROM members a JOIN deleted_members d ON d.tenant_id = a.tenant_id AND d.phone = a.phone
            WHERE a.tenant_id = $1 AND d.restored_at IS NULL",
            $member_filter,
            " UNION ALL
            SELECT r.member_id, 2, r.resource::text, r.item_id, r.transferred_to, NULL::text,
                NULL::timestamptz, r.position::int8, NULL::bool
            FROM resource_items r
            WHERE r.tenant_id = $1",
            $item_filter,
            " ORDER BY 1"
        )
    };
}

/// The parts of one deleted member ($2) of tenant $1: see `deleted_parts!`.
pub(crate) const DELETED_MEMBER: &str = deleted_parts!(" AND d.id = $2", " AND r.member_id = $2");

/// The parts of every deleted member of tenant $1: see `deleted_parts!`.
pub(crate) const DELETED_MEMBERS: &str = deleted_parts!("", "");

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
