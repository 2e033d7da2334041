//! Stored rows → engine facts, with the checks every backend needs (enum
//! text, seat counts, JSON columns). Backends decode their own column types
//! into these plain structs; the validation lives here once.
//!
//! A backend reads a deleted member as one row: its own columns, and its
//! conflicts and resource items as lists (JSON in SQLite, arrays in
//! PostgreSQL) aggregated in any order; [`StoredDeletedMember::into_facts`]
//! orders them. Letting the database skip the ordering keeps the whole-tenant
//! statement one ordered pass (BENCHMARKS.md, "Directory adapters").

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use restore_engine::facts::{Actor, Conflicts, DeletedMember, Facts, ResourceItem, TenantFacts};

use crate::DirectoryError;

/// A `tenants` row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTenant {
    pub id: String,
    pub plan: String,
    pub seats_total: i64,
    pub seats_used: i64,
    /// The `attributes` column: JSON text, `None` for NULL.
    pub attributes: Option<String>,
}

impl StoredTenant {
    /// Checked facts: an identifier as plan and non-negative seat counts.
    pub fn into_facts(self) -> Result<TenantFacts, DirectoryError> {
        let bad = |reason: String| DirectoryError::BadRow {
            table: "tenants",
            key: self.id.clone(),
            reason,
        };
        let plan = restore_engine::facts::plan_name(&self.plan).map_err(|e| bad(e.to_string()))?;
        let attributes = crate::attributes::decode_column(
            self.attributes.as_deref(),
            "tenants",
            || self.id.clone(),
            "attributes",
        )?;
        if self.seats_total < 0 {
            return Err(bad(format!(
                "seats_total `{}` is negative",
                self.seats_total
            )));
        }
        if self.seats_used < 0 {
            return Err(bad(format!("seats_used `{}` is negative", self.seats_used)));
        }
        Ok(TenantFacts {
            id: self.id.into(),
            plan,
            seats_total: self.seats_total,
            seats_used: self.seats_used,
            attributes,
        })
    }
}

/// An active member as the actor of a request, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredActor<'r> {
    pub id: String,
    pub roles: Vec<String>,
    /// The `attributes` column: JSON text, `None` for NULL.
    pub attributes: Option<&'r str>,
}

impl StoredActor<'_> {
    /// The actor, its attributes decoded; `tenant` names a bad row.
    pub fn into_actor(self, tenant: &str) -> Result<Actor, DirectoryError> {
        let attributes = crate::attributes::decode_column(
            self.attributes,
            "members",
            || member_key(tenant, &self.id),
            "attributes",
        )?;
        Ok(Actor {
            id: self.id,
            roles: self.roles,
            attributes,
        })
    }
}

/// A deleted member with its conflicts and resource items, as a backend's
/// query computes them. The enum columns are borrowed from the row: they
/// are parsed, never kept, and streaming reads one per member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeletedMember<'r> {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub deleted_at: DateTime<Utc>,
    pub reason: &'r str,
    pub deletion: &'r str,
    pub removed_from_list: bool,
    /// Active members this one conflicts with, in any order;
    /// [`Self::into_facts`] orders them by insertion.
    pub conflicts: Vec<StoredConflict>,
    /// Resource items, in any order; [`Self::into_facts`] orders them by
    /// resource, then position.
    pub items: Vec<StoredItem>,
    /// The `attributes` column: JSON text, `None` for NULL.
    pub attributes: Option<&'r str>,
}

/// An active member that shares a deleted member's user id, email or phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConflict {
    /// What is shared, as the query names it: `id`, `email` or `phone`;
    /// checked by [`StoredDeletedMember::into_facts`].
    pub kind: String,
    /// Insertion order of the active member.
    pub seq: i64,
    /// The active member's id.
    pub id: String,
}

/// What a conflict shares (F11, F12); declared in the order conflicts are
/// grouped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ConflictKind {
    UserId,
    Email,
    Phone,
}

impl ConflictKind {
    /// The name stored in query rows.
    fn parse(text: &str) -> Option<Self> {
        match text {
            "id" => Some(Self::UserId),
            "email" => Some(Self::Email),
            "phone" => Some(Self::Phone),
            _ => None,
        }
    }
}

/// One item of a deleted member's resource, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub resource: String,
    /// Snapshot order within the resource.
    pub position: i64,
    pub id: String,
    pub transferred_to: Option<String>,
}

impl StoredDeletedMember<'_> {
    /// Facts for this member; `tenant` and `actor` were read in the same
    /// transaction or stream.
    pub fn into_facts(
        self,
        tenant: &TenantFacts,
        actor: Option<Actor>,
    ) -> Result<Facts, DirectoryError> {
        // The key only names a bad row; built on error, not for every row.
        let key = || member_key(&tenant.id, &self.id);
        let bad = |reason: String| DirectoryError::BadRow {
            table: "deleted_members",
            key: key(),
            reason,
        };
        let reason = self.reason.parse().map_err(|e| bad(format!("{e}")))?;
        let deletion = self.deletion.parse().map_err(|e| bad(format!("{e}")))?;
        let attributes = crate::attributes::decode_column(
            self.attributes,
            "deleted_members",
            key,
            "attributes",
        )?;
        let mut items = self.items;
        items.sort_unstable_by(|a, b| {
            (a.resource.as_str(), a.position).cmp(&(b.resource.as_str(), b.position))
        });
        let mut resources: BTreeMap<String, Vec<ResourceItem>> = BTreeMap::new();
        for item in items {
            resources
                .entry(item.resource)
                .or_default()
                .push(ResourceItem {
                    id: item.id,
                    transferred_to: item.transferred_to,
                });
        }
        let mut stored_conflicts = self
            .conflicts
            .into_iter()
            .map(|c| match ConflictKind::parse(&c.kind) {
                Some(kind) => Ok((kind, c.seq, c.id)),
                None => Err(DirectoryError::BadRow {
                    table: "members",
                    key: key(),
                    reason: format!("unknown conflict kind `{}`", c.kind),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        stored_conflicts.sort_unstable_by_key(|&(kind, seq, _)| (kind, seq));
        let mut conflicts = Conflicts::default();
        for (kind, _, id) in stored_conflicts {
            match kind {
                ConflictKind::UserId => conflicts.user_id.push(id),
                ConflictKind::Email => conflicts.email.push(id),
                ConflictKind::Phone => conflicts.phone.push(id),
            }
        }
        Ok(Facts {
            tenant: tenant.clone(),
            member: DeletedMember {
                id: self.id,
                email: self.email,
                phone: self.phone,
                deleted_at: self.deleted_at,
                reason,
                deletion,
                removed_from_list: self.removed_from_list,
                resources,
                attributes,
            },
            conflicts,
            actor,
        })
    }
}

/// `tenant/member`, the key bad-row errors name.
pub fn member_key(tenant: &str, member: &str) -> String {
    format!("{tenant}/{member}")
}

/// Parses a JSON column; malformed JSON is a bad row of `table`, named by
/// `key` (built only on error: this runs for every streamed row).
pub fn parse_json_column<T: serde::de::DeserializeOwned + Default>(
    text: &str,
    table: &'static str,
    key: impl FnOnce() -> String,
    column: &str,
) -> Result<T, DirectoryError> {
    // Most rows have no conflicts and no items: skip the parser for those.
    if text == "[]" {
        return Ok(T::default());
    }
    serde_json::from_str(text).map_err(|e| DirectoryError::BadRow {
        table,
        key: key(),
        reason: format!("{column}: not the expected JSON: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn tenant() -> TenantFacts {
        TenantFacts {
            id: "t".into(),
            plan: "pro".into(),
            seats_total: 10,
            seats_used: 1,
            attributes: Default::default(),
        }
    }

    fn member() -> StoredDeletedMember<'static> {
        StoredDeletedMember {
            id: "m".to_owned(),
            email: None,
            phone: None,
            deleted_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            reason: "removed_by_admin",
            deletion: "completed",
            removed_from_list: false,
            conflicts: Vec::new(),
            items: Vec::new(),
            attributes: None,
        }
    }

    fn conflict(kind: &str, seq: i64, id: &str) -> StoredConflict {
        StoredConflict {
            kind: kind.to_owned(),
            seq,
            id: id.to_owned(),
        }
    }

    fn item(resource: &str, position: i64, id: &str) -> StoredItem {
        StoredItem {
            resource: resource.to_owned(),
            position,
            id: id.to_owned(),
            transferred_to: None,
        }
    }

    #[test]
    fn lists_in_any_order_come_out_ordered() {
        let stored = StoredDeletedMember {
            conflicts: vec![
                conflict("phone", 7, "p7"),
                conflict("email", 9, "e9"),
                conflict("id", 2, "m"),
                conflict("email", 3, "e3"),
            ],
            items: vec![
                item("events", 0, "e0"),
                item("documents", 2, "d2"),
                item("documents", 0, "d0"),
                item("documents", 1, "d1"),
            ],
            ..member()
        };
        let facts = stored.into_facts(&tenant(), None).expect("valid member");
        assert_eq!(facts.conflicts.user_id, ["m"]);
        assert_eq!(facts.conflicts.email, ["e3", "e9"], "insertion order");
        assert_eq!(facts.conflicts.phone, ["p7"]);
        let docs: Vec<&str> = facts.member.resources["documents"]
            .iter()
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(docs, ["d0", "d1", "d2"], "position order");
        assert_eq!(facts.member.resources["events"][0].id, "e0");
        assert_eq!(facts.member.resources.len(), 2);
    }

    #[test]
    fn bad_enum_text_names_the_member() {
        let stored = StoredDeletedMember {
            deletion: "paused",
            ..member()
        };
        match stored.into_facts(&tenant(), None) {
            Err(DirectoryError::BadRow { table, key, reason }) => {
                assert_eq!((table, key.as_str()), ("deleted_members", "t/m"));
                assert!(reason.contains("paused"), "{reason}");
            }
            other => panic!("expected BadRow, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_conflict_kind_is_a_bad_members_row() {
        let stored = StoredDeletedMember {
            conflicts: vec![conflict("Email", 1, "x")],
            ..member()
        };
        match stored.into_facts(&tenant(), None) {
            Err(DirectoryError::BadRow { table, key, reason }) => {
                assert_eq!((table, key.as_str()), ("members", "t/m"));
                assert_eq!(reason, "unknown conflict kind `Email`");
            }
            other => panic!("expected BadRow, got {other:?}"),
        }
    }

    #[test]
    fn conflict_kinds_parse_from_their_stored_names() {
        assert_eq!(ConflictKind::parse("id"), Some(ConflictKind::UserId));
        assert_eq!(ConflictKind::parse("email"), Some(ConflictKind::Email));
        assert_eq!(ConflictKind::parse("phone"), Some(ConflictKind::Phone));
        assert_eq!(ConflictKind::parse("Email"), None);
    }
}
