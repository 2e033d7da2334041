//! Stored rows → engine facts, with the checks every backend needs (enum
//! text, seat counts, JSON columns). Backends decode their own column types
//! into these plain structs; the validation lives here once.
//!
//! A backend's deleted-member query returns [`MemberPart`]s, ordered by
//! member: the member's own columns, its conflicts, its resource items,
//! either as one row per part (PostgreSQL: the database merges ordered
//! scans, no per-member subquery or aggregate) or as one row carrying the
//! whole member (SQLite: fewer rows to hand over). [`assemble`] groups them
//! back into members while streaming, holding one member at a time.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, Stream, StreamExt};
use restore_engine::facts::{
    Actor, Conflicts, DeletedMember, Facts, Plan, ResourceItem, TenantFacts,
};

use crate::DirectoryError;

/// A `tenants` row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTenant {
    pub id: String,
    pub plan: String,
    pub seats_total: i64,
    pub seats_used: i64,
}

impl StoredTenant {
    /// Checked facts: a known plan and non-negative seat counts.
    pub fn into_facts(self) -> Result<TenantFacts, DirectoryError> {
        let bad = |reason: String| DirectoryError::BadRow {
            table: "tenants",
            key: self.id.clone(),
            reason,
        };
        let plan: Plan = self.plan.parse().map_err(|e| bad(format!("{e}")))?;
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
            id: self.id,
            plan,
            seats_total: self.seats_total,
            seats_used: self.seats_used,
        })
    }
}

/// A deleted member with its conflicts and resource items, as a backend's
/// query computes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeletedMember {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub deleted_at: DateTime<Utc>,
    pub reason: String,
    pub deletion: String,
    pub removed_from_list: bool,
    /// Active members this one conflicts with, in any order;
    /// [`Self::into_facts`] orders them by insertion.
    pub conflicts: Vec<StoredConflict>,
    /// Resource items, in any order; [`Self::into_facts`] orders them by
    /// resource, then position.
    pub items: Vec<StoredItem>,
}

/// An active member that shares a deleted member's user id, email or phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConflict {
    pub kind: ConflictKind,
    /// Insertion order of the active member.
    pub seq: i64,
    /// The active member's id.
    pub id: String,
}

/// What a conflict shares (F11, F12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConflictKind {
    UserId,
    Email,
    Phone,
}

impl ConflictKind {
    /// The name stored in query rows.
    pub fn parse(text: &str) -> Option<Self> {
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

impl StoredDeletedMember {
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
        let mut stored_conflicts = self.conflicts;
        stored_conflicts.sort_unstable_by_key(|c| (c.kind, c.seq));
        let mut conflicts = Conflicts::default();
        for conflict in stored_conflicts {
            match conflict.kind {
                ConflictKind::UserId => conflicts.user_id.push(conflict.id),
                ConflictKind::Email => conflicts.email.push(conflict.id),
                ConflictKind::Phone => conflicts.phone.push(conflict.id),
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

/// What one row of a deleted-member query carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberPart {
    /// The member's own columns (no conflicts or items yet); its first row.
    Member(StoredDeletedMember),
    Conflict(StoredConflict),
    Item(StoredItem),
}

/// A row of a backend's deleted-member query: one [`MemberPart`] of a
/// member. Rows come ordered by member only (sorting parts within a member
/// would cost the database a sort per member); parts of a member without
/// its own row, one restored meanwhile, are dropped.
pub trait DeletedMemberRow {
    /// The member this row belongs to.
    fn member_id(&self, tenant: &str) -> Result<&str, DirectoryError>;
    /// What the row carries, decoded and checked.
    fn part(&self, tenant: &str) -> Result<MemberPart, DirectoryError>;
}

/// The rows of one member seen so far.
#[derive(Debug)]
struct Group {
    id: String,
    member: Option<StoredDeletedMember>,
    conflicts: Vec<StoredConflict>,
    items: Vec<StoredItem>,
    /// The first row of the member that did not decode.
    error: Option<DirectoryError>,
}

impl Group {
    fn new(id: &str) -> Self {
        Group {
            id: id.to_owned(),
            member: None,
            conflicts: Vec::new(),
            items: Vec::new(),
            error: None,
        }
    }

    /// The member, its error, or nothing for parts without a member row.
    fn finish(self) -> Option<Result<StoredDeletedMember, DirectoryError>> {
        if let Some(error) = self.error {
            return Some(Err(error));
        }
        let mut member = self.member?;
        member.conflicts.extend(self.conflicts);
        member.items.extend(self.items);
        Some(Ok(member))
    }
}

/// Groups the rows of one member into a [`StoredDeletedMember`]. A member
/// with a row that does not decode comes out as that row's error, and the
/// stream goes on with the next member.
#[derive(Debug, Default)]
pub struct MemberAssembler {
    current: Option<Group>,
}

impl MemberAssembler {
    /// Adds a row; returns the previous member once a row of another member
    /// shows that it is complete, or this row's error if its member id does
    /// not decode.
    pub fn push(
        &mut self,
        tenant: &str,
        row: &impl DeletedMemberRow,
    ) -> Option<Result<StoredDeletedMember, DirectoryError>> {
        let id = match row.member_id(tenant) {
            Ok(id) => id,
            Err(e) => return Some(Err(e)),
        };
        let mut done = None;
        if self.current.as_ref().is_none_or(|group| group.id != id) {
            done = self.current.replace(Group::new(id)).and_then(Group::finish);
        }
        let Some(group) = self.current.as_mut() else {
            return done;
        };
        match row.part(tenant) {
            Ok(MemberPart::Member(member)) => group.member = Some(member),
            Ok(MemberPart::Conflict(conflict)) => group.conflicts.push(conflict),
            Ok(MemberPart::Item(item)) => group.items.push(item),
            Err(e) => {
                group.error.get_or_insert(e);
            }
        }
        done
    }

    /// The last member, once the rows have ended.
    pub fn finish(self) -> Option<Result<StoredDeletedMember, DirectoryError>> {
        self.current.and_then(Group::finish)
    }
}

/// The one member that `rows` (all of one member's rows) describe; `None`
/// when there are no rows.
pub fn assemble_one<R: DeletedMemberRow>(
    tenant: &str,
    rows: &[R],
) -> Result<Option<StoredDeletedMember>, DirectoryError> {
    let mut assembler = MemberAssembler::default();
    for row in rows {
        if let Some(earlier) = assembler.push(tenant, row) {
            let earlier = earlier?;
            return Err(DirectoryError::BadRow {
                table: "deleted_members",
                key: member_key(tenant, &earlier.id),
                reason: "the query for one member returned several".to_owned(),
            });
        }
    }
    assembler.finish().transpose()
}

/// The members of `rows` (ordered by member), each read into facts with the
/// tenant and actor read for the same stream. A member that does not decode
/// or validate is an error item; the members after it still come.
pub fn assemble<'a, R, S>(
    rows: S,
    tenant: TenantFacts,
    actor: Option<Actor>,
) -> BoxStream<'a, Result<Facts, DirectoryError>>
where
    R: DeletedMemberRow + Send + 'a,
    S: Stream<Item = Result<R, DirectoryError>> + Send + 'a,
{
    let tenant_id = tenant.id.clone();
    let members = stream::unfold(
        (rows.boxed(), Some(MemberAssembler::default()), tenant_id),
        |(mut rows, mut assembler, tenant_id)| async move {
            let current = assembler.as_mut()?;
            while let Some(row) = rows.next().await {
                let done = match row {
                    Ok(row) => current.push(&tenant_id, &row),
                    Err(e) => Some(Err(e)),
                };
                if let Some(done) = done {
                    return Some((done, (rows, assembler, tenant_id)));
                }
            }
            let last = assembler.take().and_then(MemberAssembler::finish)?;
            Some((last, (rows, None, tenant_id)))
        },
    );
    members
        .map(move |member| member?.into_facts(&tenant, actor.clone()))
        .boxed()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use futures::executor::block_on;
    use restore_engine::facts::Plan;

    use super::*;

    /// A row as a backend would decode it: a member id, or an undecodable
    /// one, and a part, or an error.
    struct Row(Result<&'static str, ()>, Result<MemberPart, &'static str>);

    impl DeletedMemberRow for Row {
        fn member_id(&self, tenant: &str) -> Result<&str, DirectoryError> {
            self.0.map_err(|()| bad(tenant, "?", "id does not decode"))
        }
        fn part(&self, tenant: &str) -> Result<MemberPart, DirectoryError> {
            self.1
                .clone()
                .map_err(|reason| bad(tenant, self.0.unwrap_or("?"), reason))
        }
    }

    fn bad(tenant: &str, member: &str, reason: &str) -> DirectoryError {
        DirectoryError::BadRow {
            table: "deleted_members",
            key: member_key(tenant, member),
            reason: reason.to_owned(),
        }
    }

    fn member(id: &'static str) -> Row {
        Row(
            Ok(id),
            Ok(MemberPart::Member(StoredDeletedMember {
                id: id.to_owned(),
                email: None,
                phone: None,
                deleted_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
                reason: "removed_by_admin".to_owned(),
                deletion: "completed".to_owned(),
                removed_from_list: false,
                conflicts: Vec::new(),
                items: Vec::new(),
            })),
        )
    }

    fn conflict(member: &'static str, kind: ConflictKind, seq: i64, id: &str) -> Row {
        Row(
            Ok(member),
            Ok(MemberPart::Conflict(StoredConflict {
                kind,
                seq,
                id: id.to_owned(),
            })),
        )
    }

    fn item(member: &'static str, resource: &str, position: i64, id: &str) -> Row {
        Row(
            Ok(member),
            Ok(MemberPart::Item(StoredItem {
                resource: resource.to_owned(),
                position,
                id: id.to_owned(),
                transferred_to: None,
            })),
        )
    }

    fn tenant() -> TenantFacts {
        TenantFacts {
            id: "t".to_owned(),
            plan: Plan::Pro,
            seats_total: 10,
            seats_used: 1,
        }
    }

    fn run(rows: Vec<Row>) -> Vec<Result<Facts, DirectoryError>> {
        let rows = stream::iter(rows.into_iter().map(Ok));
        block_on(assemble(rows, tenant(), None).collect())
    }

    #[test]
    fn parts_in_any_order_make_one_member_with_sorted_lists() {
        let got = run(vec![
            item("a", "events", 0, "e0"),
            conflict("a", ConflictKind::Phone, 7, "p7"),
            item("a", "documents", 1, "d1"),
            member("a"),
            conflict("a", ConflictKind::Email, 9, "e9"),
            conflict("a", ConflictKind::Email, 3, "e3"),
            item("a", "documents", 0, "d0"),
            member("b"),
        ]);
        assert_eq!(got.len(), 2);
        let a = got[0].as_ref().expect("member a");
        assert_eq!(a.member.id, "a");
        assert_eq!(a.conflicts.email, ["e3", "e9"]);
        assert_eq!(a.conflicts.phone, ["p7"]);
        assert!(a.conflicts.user_id.is_empty());
        let docs: Vec<&str> = a.member.resources["documents"]
            .iter()
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(docs, ["d0", "d1"]);
        assert_eq!(a.member.resources["events"][0].id, "e0");
        let b = got[1].as_ref().expect("member b");
        assert_eq!(b.member.id, "b");
        assert!(b.member.resources.is_empty() && b.conflicts == Conflicts::default());
    }

    #[test]
    fn parts_without_their_member_are_dropped() {
        // `gone` was restored between the member scan and the item scan.
        let got = run(vec![
            member("a"),
            item("gone", "documents", 0, "d0"),
            conflict("gone", ConflictKind::UserId, 1, "gone"),
            member("z"),
        ]);
        let ids: Vec<&str> = got
            .iter()
            .map(|f| f.as_ref().expect("no error").member.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "z"]);
    }

    #[test]
    fn a_bad_row_fails_its_member_only() {
        let mut fired = member("c");
        if let Ok(MemberPart::Member(m)) = &mut fired.1 {
            m.reason = "fired".to_owned();
        }
        let got = run(vec![
            member("a"),
            Row(Ok("b"), Err("position is not a number")),
            member("b"),
            fired,
            Row(Err(()), Err("unused")),
            member("d"),
        ]);
        let summary: Vec<String> = got
            .iter()
            .map(|r| match r {
                Ok(f) => f.member.id.clone(),
                Err(DirectoryError::BadRow { key, reason, .. }) => format!("{key}: {reason}"),
                Err(e) => format!("other: {e}"),
            })
            .collect();
        assert_eq!(summary.len(), 5, "{summary:?}");
        assert_eq!(summary[0], "a");
        assert_eq!(summary[1], "t/b: position is not a number");
        // A row without a readable member id is reported as it comes, before
        // the member still being assembled.
        assert_eq!(summary[2], "t/?: id does not decode");
        assert!(
            summary[3].starts_with("t/c: ") && summary[3].contains("fired"),
            "{summary:?}"
        );
        assert_eq!(summary[4], "d");
    }

    #[test]
    fn assemble_one_refuses_rows_of_two_members() {
        assert!(assemble_one("t", &[] as &[Row]).expect("no rows").is_none());
        let one = assemble_one("t", &[member("a"), item("a", "documents", 0, "d0")])
            .expect("one member")
            .expect("found");
        assert_eq!(one.items.len(), 1);
        match assemble_one("t", &[member("a"), member("b")]) {
            Err(DirectoryError::BadRow { key, .. }) => assert_eq!(key, "t/a"),
            other => panic!("expected BadRow, got {other:?}"),
        }
    }
}
