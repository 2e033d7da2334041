//! What every SQL import shares, free of any database driver: the summary
//! it reports, and a snapshot flattened into the rows of each table, in
//! snapshot order, in batches.

use restore_engine::facts::{email_key, ResourceItem};

use crate::attributes::encode;
use crate::snapshot::{SnapshotDeletedMember, SnapshotMember, SnapshotTenant};
use crate::{DirectoryError, Snapshot};

/// What an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub tenants: usize,
    pub members: usize,
    pub deleted_members: usize,
    pub resource_items: usize,
    /// Tenants, active and deleted members written with attributes.
    pub with_attributes: usize,
}

impl ImportSummary {
    /// Counts the rows of `snapshot` that carry attributes.
    pub fn count_attributes(&mut self, snapshot: &Snapshot) {
        self.with_attributes = snapshot
            .tenants
            .iter()
            .map(|t| {
                usize::from(!t.attributes.is_empty())
                    + t.members
                        .iter()
                        .filter(|m| !m.attributes.is_empty())
                        .count()
                    + t.deleted_members
                        .iter()
                        .filter(|m| !m.attributes.is_empty())
                        .count()
            })
            .sum();
    }
}

/// An active member with its tenant, as a `members` row needs it.
#[derive(Debug, Clone)]
pub struct MemberRow<'s> {
    pub tenant: &'s str,
    pub member: &'s SnapshotMember,
    /// [`email_key`] of the email: what conflicts compare (F12).
    pub email_key: Option<String>,
    /// The roles as a JSON array.
    pub roles: String,
    /// The attributes' stored form; `None` (NULL) when there are none.
    pub attributes: Option<String>,
}

/// A deleted member with its tenant, as a `deleted_members` row needs it.
#[derive(Debug, Clone)]
pub struct DeletedRow<'s> {
    pub tenant: &'s str,
    pub member: &'s SnapshotDeletedMember,
    pub email_key: Option<String>,
    /// The attributes' stored form; `None` (NULL) when there are none.
    pub attributes: Option<String>,
}

/// One resource item with its owner and its position in the resource.
#[derive(Debug, Clone)]
pub struct ItemRow<'s> {
    pub tenant: &'s str,
    pub member: &'s str,
    pub resource: &'s str,
    /// Snapshot order within the resource, from 0.
    pub position: i64,
    pub item: &'s ResourceItem,
}

/// Every active member, tenant by tenant.
pub fn member_rows(snapshot: &Snapshot) -> impl Iterator<Item = MemberRow<'_>> {
    snapshot.tenants.iter().flat_map(|t| {
        t.members.iter().map(move |m| MemberRow {
            tenant: &t.id,
            member: m,
            email_key: m.email.as_deref().map(email_key),
            roles: roles_json(&m.roles),
            attributes: encode(&m.attributes),
        })
    })
}

/// Every deleted member, tenant by tenant.
pub fn deleted_rows(snapshot: &Snapshot) -> impl Iterator<Item = DeletedRow<'_>> {
    snapshot.tenants.iter().flat_map(|t| {
        t.deleted_members.iter().map(move |m| DeletedRow {
            tenant: &t.id,
            member: m,
            email_key: m.email.as_deref().map(email_key),
            attributes: encode(&m.attributes),
        })
    })
}

/// Every tenant with the stored form of its attributes.
pub fn tenant_rows(snapshot: &Snapshot) -> impl Iterator<Item = (&SnapshotTenant, Option<String>)> {
    snapshot.tenants.iter().map(|t| (t, encode(&t.attributes)))
}

/// Every resource item of every deleted member.
pub fn item_rows(snapshot: &Snapshot) -> impl Iterator<Item = ItemRow<'_>> {
    snapshot.tenants.iter().flat_map(|t| {
        t.deleted_members.iter().flat_map(move |m| {
            m.resources.iter().flat_map(move |(resource, items)| {
                (0_i64..).zip(items).map(move |(position, item)| ItemRow {
                    tenant: &t.id,
                    member: &m.id,
                    resource,
                    position,
                    item,
                })
            })
        })
    })
}

/// A list of role names as the JSON array the `roles` columns hold.
pub fn roles_json(roles: &[String]) -> String {
    // A list of strings always encodes; written by hand so that no error
    // path is needed: strings escaped as serde_json escapes them.
    let mut out = String::from("[");
    for (i, role) in roles.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::String(role.clone()).to_string());
    }
    out.push(']');
    out
}

/// Splits `iter` into vectors of at most `size` items, lazily.
pub fn chunks<T>(iter: impl Iterator<Item = T>, size: usize) -> impl Iterator<Item = Vec<T>> {
    let mut iter = iter.peekable();
    let size = size.max(1);
    std::iter::from_fn(move || {
        iter.peek()?;
        Some(iter.by_ref().take(size).collect())
    })
}

/// The documented refusal of an import that names an existing tenant.
pub fn already_exists(tenant: &str) -> DirectoryError {
    DirectoryError::Conflict(format!(
        "tenant `{tenant}` already exists in the directory; nothing was imported"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::SnapshotSyntax;

    fn snapshot() -> Snapshot {
        Snapshot::parse(
            r#"
format: restore-directory/v2
tenants:
  - id: t
    plan: pro
    seats: { total: 3, used: 1 }
    attributes: { region: eu }
    members:
      - { id: a, email: A@X.test, roles: [primary_admin, "quo\"te"] }
      - { id: b, attributes: { was_admin: true, tags: [y, x] } }
    deleted_members:
      - id: d
        email: D@x.TEST
        deleted_at: 2026-11-01T00:00:00Z
        reason: removed_by_admin
        deletion: completed
        resources:
          documents: [{ id: d0 }, { id: d1, transferred_to: a }]
          events_created: [{ id: e0 }]
"#,
            "inline.yaml",
            SnapshotSyntax::Yaml,
        )
        .unwrap()
    }

    #[test]
    fn rows_are_flattened_in_snapshot_order() {
        let s = snapshot();
        let members: Vec<_> = member_rows(&s).collect();
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].attributes, None);
        assert_eq!(
            members[1].attributes.as_deref(),
            Some(r#"{"tags":["y","x"],"was_admin":true}"#)
        );
        let tenants: Vec<_> = tenant_rows(&s).map(|(_, a)| a).collect();
        assert_eq!(tenants, [Some(r#"{"region":"eu"}"#.to_owned())]);
        let mut summary = ImportSummary::default();
        summary.count_attributes(&s);
        assert_eq!(summary.with_attributes, 2);
        assert_eq!(members[0].email_key.as_deref(), Some("a@x.test"));
        let roles: Vec<String> = serde_json::from_str(&members[0].roles).unwrap();
        assert_eq!(roles, ["primary_admin", "quo\"te"]);
        let deleted: Vec<_> = deleted_rows(&s).collect();
        assert_eq!(deleted[0].email_key.as_deref(), Some("d@x.test"));
        let items: Vec<(&str, i64, &str)> = item_rows(&s)
            .map(|r| (r.resource, r.position, r.item.id.as_str()))
            .collect();
        assert_eq!(
            items,
            [
                ("documents", 0, "d0"),
                ("documents", 1, "d1"),
                ("events_created", 0, "e0")
            ]
        );
    }

    #[test]
    fn chunks_are_lazy_and_bounded() {
        let sizes: Vec<usize> = chunks(0..7, 3).map(|c| c.len()).collect();
        assert_eq!(sizes, [3, 3, 1]);
        assert_eq!(chunks(0..0, 3).count(), 0);
        assert_eq!(chunks(0..2, 0).count(), 2, "a zero size is one per chunk");
    }
}
