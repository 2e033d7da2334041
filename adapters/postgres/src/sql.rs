//! Every statement the adapter runs. All take their values as parameters and
//! every one that reads member data names its tenant.

pub(crate) const TENANT: &str =
    "SELECT id, plan, seats_total, seats_used, attributes::text AS attributes
    FROM tenants WHERE id = $1";

/// The restore's first statement: every restore in a tenant queues here, so
/// the seat count and member state it then reads stay true until commit.
pub(crate) const TENANT_FOR_UPDATE: &str =
    "SELECT id, plan, seats_total, seats_used, attributes::text AS attributes
    FROM tenants WHERE id = $1 FOR UPDATE";

pub(crate) const ACTOR: &str = "SELECT id, roles, attributes::text AS attributes
    FROM members WHERE tenant_id = $1 AND id = $2";

/// Deleted members of tenant $1, one row each, ordered by id, with their
/// conflicts and resource items as parallel arrays (NULL when there are
/// none). Columns are [`crate::rows`]' `col` constants.
///
/// Both lists are grouped per member from index scans in member order and
/// merge-joined to the members' primary-key scan, so the statement runs as
/// one ordered pass with no sort, no per-member subquery and no JSON
/// (BENCHMARKS.md, "Directory adapters"). The aggregates need no `ORDER BY`:
/// the adapter orders each list itself. Conflicts (F11, F12) join active and
/// deleted members on id, email key and phone; indexes on both sides let the
/// planner start from whichever is smaller. `$member_filter` narrows it to
/// one member ($2), which the planner pushes into both groupings as index
/// lookups.
macro_rules! deleted_members {
    ($member_filter:literal) => {
        concat!(
            "SELECT d.id, d.email, d.phone, d.deleted_at, d.reason, d.deletion,
                d.removed_from_list, c.kinds, c.seqs, c.ids,
                r.resources, r.positions, r.item_ids, r.transferred_to,
                d.attributes::text AS attributes
            FROM deleted_members d
            LEFT JOIN (
                SELECT member_id, array_agg(resource) AS resources,
                    array_agg(position) AS positions, array_agg(item_id) AS item_ids,
                    array_agg(transferred_to) AS transferred_to
                FROM resource_items WHERE tenant_id = $1 GROUP BY member_id
            ) r ON r.member_id = d.id
            LEFT JOIN (
                SELECT x.member_id, array_agg(x.kind) AS kinds, array_agg(x.seq) AS seqs,
                    array_agg(x.id) AS ids
                FROM (
                    SELECT 'id'::text AS kind, d.id AS member_id, a.seq, a.id::text AS id
                    FROM members a JOIN deleted_members d
                        ON d.tenant_id = a.tenant_id AND d.id = a.id
                    WHERE a.tenant_id = $1
                    UNION ALL
                    SELECT 'email'::text, d.id, a.seq, a.id::text
                    FROM members a JOIN deleted_members d
                        ON d.tenant_id = a.tenant_id AND d.email_key = a.email_key
                    WHERE a.tenant_id = $1
                    UNION ALL
                    SELECT 'phone'::text, d.id, a.seq, a.id::text
                    FROM members a JOIN deleted_members d
                        ON d.tenant_id = a.tenant_id AND d.phone = a.phone
                    WHERE a.tenant_id = $1
                ) x
                GROUP BY x.member_id
            ) c ON c.member_id = d.id
            WHERE d.tenant_id = $1 AND d.restored_at IS NULL",
            $member_filter,
            " ORDER BY d.id"
        )
    };
}

/// One deleted member ($2) of tenant $1: see `deleted_members!`.
pub(crate) const DELETED_MEMBER: &str = deleted_members!(" AND d.id = $2");

/// Every deleted member of tenant $1, in id order: see `deleted_members!`.
pub(crate) const DELETED_MEMBERS: &str = deleted_members!("");

pub(crate) const MARK_RESTORED: &str = "UPDATE deleted_members SET restored_at = $1
    WHERE tenant_id = $2 AND id = $3 AND restored_at IS NULL";

pub(crate) const INSERT_ACTIVE: &str =
    "INSERT INTO members (tenant_id, id, email, email_key, phone, roles, department, attributes)
    VALUES ($1, $2, $3, $4, $5, '{}', $6, $7::jsonb)";

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

/// Attributes come as JSON text (NULL for none), cast per row.
pub(crate) const INSERT_TENANTS: &str =
    "INSERT INTO tenants (id, plan, seats_total, seats_used, attributes)
    SELECT u.i, u.p, u.t, u.u, u.a::jsonb
    FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[]) AS u(i, p, t, u, a)
    ON CONFLICT (id) DO NOTHING RETURNING id";

/// Roles come as one JSON array text per member (arrays of arrays do not unnest).
/// WITH ORDINALITY + ORDER BY keeps snapshot order for `seq`.
pub(crate) const INSERT_MEMBERS: &str =
    "INSERT INTO members (tenant_id, id, email, email_key, phone, roles, department, attributes)
    SELECT u.t, u.i, u.e, u.k, u.p, ARRAY(SELECT json_array_elements_text(u.r::json)), u.dep,
        u.a::jsonb
    FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[])
        WITH ORDINALITY AS u(t, i, e, k, p, r, dep, a, ord)
    ORDER BY u.ord";

pub(crate) const INSERT_DELETED: &str = "INSERT INTO deleted_members
    (tenant_id, id, email, email_key, phone, deleted_at, reason, deletion, removed_from_list,
        attributes)
    SELECT u.t, u.i, u.e, u.k, u.p, u.d, u.r, u.s, u.l, u.a::jsonb
    FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
        $6::timestamptz[], $7::text[], $8::text[], $9::bool[], $10::text[])
        AS u(t, i, e, k, p, d, r, s, l, a)";

pub(crate) const INSERT_ITEMS: &str = "INSERT INTO resource_items
    (tenant_id, member_id, resource, position, item_id, transferred_to)
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::text[])";
