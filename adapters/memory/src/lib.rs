//! In-memory [`Directory`] over a directory snapshot file.
//!
//! Restores are applied to the in-memory state under one lock, so the
//! adapter honours the same transactional contract as the SQL ones; nothing
//! is written back to the snapshot file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use restore_directory::restore::{self, restore_with, AuditRow, ItemPlan, Reactivation};
use restore_directory::{
    seats_after_restore, Decide, Directory, DirectoryError, RestoreOutcome, RestoreRequest,
    RestoreStore, Snapshot,
};
use restore_engine::facts::{
    ActiveMember, Actor, Attributes, Conflicts, DeletedMember, Facts, TenantFacts,
};

/// One tenant's data.
#[derive(Debug, Clone)]
struct Tenant {
    /// Shared by every member's facts.
    plan: Arc<str>,
    attributes: Attributes,
    seats_total: i64,
    seats_used: i64,
    active: Vec<ActiveMember>,
    departments: HashMap<String, String>,
    /// Keyed by member id so that streaming is in id order.
    deleted: BTreeMap<String, DeletedMember>,
    /// Ids of the items restores brought back, per member and resource, in
    /// stored order (F21).
    restored: HashMap<String, BTreeMap<String, Vec<String>>>,
    audit: Vec<AuditEntry>,
}

/// A recorded restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub member: String,
    pub actor: String,
    pub policy_version: String,
    pub digest: String,
}

impl Tenant {
    fn tenant_facts(&self, tenant: &str) -> TenantFacts {
        TenantFacts {
            id: tenant.into(),
            plan: self.plan.clone(),
            seats_total: self.seats_total,
            seats_used: self.seats_used,
            attributes: self.attributes.clone(),
        }
    }

    fn facts(&self, tenant: &str, member: &DeletedMember, actor: Option<Actor>) -> Facts {
        Facts {
            tenant: self.tenant_facts(tenant),
            member: member.clone(),
            conflicts: Conflicts::find(member, &self.active),
            actor,
        }
    }

    fn actor(&self, tenant: &str, actor: Option<&str>) -> Result<Option<Actor>, DirectoryError> {
        let Some(actor) = actor else { return Ok(None) };
        self.active
            .iter()
            .find(|m| m.id == actor)
            .map(|m| {
                Some(Actor {
                    id: m.id.clone(),
                    roles: m.roles.clone(),
                    attributes: m.attributes.clone(),
                })
            })
            .ok_or_else(|| DirectoryError::UnknownActor {
                tenant: tenant.to_owned(),
                actor: actor.to_owned(),
            })
    }
}

/// The storage steps of a restore over one tenant: reads from the tenant
/// as it is, writes staged until the whole restore succeeded.
struct Store<'t> {
    tenant: &'t Tenant,
    staged: Staged,
}

/// The writes of a restore, applied by [`Staged::apply`].
#[derive(Default)]
struct Staged {
    /// The member leaving the deleted members, its active record, its department.
    reactivated: Option<(ActiveMember, String)>,
    seats_used: Option<i64>,
    items: BTreeMap<String, Vec<String>>,
    audit: Option<AuditEntry>,
}

impl Staged {
    fn apply(self, t: &mut Tenant) {
        if let Some((member, department)) = self.reactivated {
            t.deleted.remove(&member.id);
            t.departments.insert(member.id.clone(), department);
            if !self.items.is_empty() {
                t.restored.insert(member.id.clone(), self.items);
            }
            t.active.push(member);
        }
        if let Some(seats_used) = self.seats_used {
            t.seats_used = seats_used;
        }
        if let Some(entry) = self.audit {
            t.audit.push(entry);
        }
    }
}

#[async_trait]
impl RestoreStore for Store<'_> {
    async fn tenant(&mut self, tenant: &str) -> Result<TenantFacts, DirectoryError> {
        Ok(self.tenant.tenant_facts(tenant))
    }

    async fn actor(&mut self, tenant: &TenantFacts, actor: &str) -> Result<Actor, DirectoryError> {
        self.tenant
            .actor(&tenant.id, Some(actor))?
            .ok_or_else(|| DirectoryError::UnknownActor {
                tenant: tenant.id.to_string(),
                actor: actor.to_owned(),
            })
    }

    async fn member(
        &mut self,
        tenant: &TenantFacts,
        member: &str,
        actor: Option<Actor>,
    ) -> Result<Facts, DirectoryError> {
        let deleted =
            self.tenant
                .deleted
                .get(member)
                .ok_or_else(|| DirectoryError::UnknownMember {
                    tenant: tenant.id.to_string(),
                    member: member.to_owned(),
                })?;
        Ok(self.tenant.facts(&tenant.id, deleted, actor))
    }

    async fn reactivate(&mut self, r: &Reactivation<'_>) -> Result<(), DirectoryError> {
        let id = &r.member.id;
        if !self.tenant.deleted.contains_key(id) {
            return Err(DirectoryError::UnknownMember {
                tenant: r.tenant.to_owned(),
                member: id.clone(),
            });
        }
        if self.tenant.active.iter().any(|m| m.id == *id) {
            return Err(DirectoryError::Conflict(format!(
                "an active member `{id}` already exists in tenant `{}`",
                r.tenant
            )));
        }
        self.staged.reactivated = Some((
            ActiveMember {
                id: id.clone(),
                email: r.member.email.clone(),
                phone: r.member.phone.clone(),
                roles: Vec::new(),
                // Its attributes come back with it: an actor's afterwards.
                attributes: r.member.attributes.clone(),
            },
            r.department.to_owned(),
        ));
        Ok(())
    }

    async fn take_seat(&mut self, tenant: &str) -> Result<i64, DirectoryError> {
        let seats_used = seats_after_restore(tenant, self.tenant.seats_used)?;
        self.staged.seats_used = Some(seats_used);
        Ok(seats_used)
    }

    async fn restore_items(&mut self, plan: &ItemPlan<'_>) -> Result<u32, DirectoryError> {
        let mut count = 0_u32;
        for (resource, item) in plan.items() {
            self.staged
                .items
                .entry(resource.to_owned())
                .or_default()
                .push(item.id.clone());
            count = count.saturating_add(1);
        }
        Ok(count)
    }

    async fn audit(&mut self, row: &AuditRow<'_>) -> Result<i64, DirectoryError> {
        // An audit log cannot outgrow memory, let alone i64.
        let id = i64::try_from(self.tenant.audit.len()).map_or(i64::MAX, |n| n.saturating_add(1));
        self.staged.audit = Some(AuditEntry {
            id,
            member: row.member.to_owned(),
            actor: row.actor.to_owned(),
            policy_version: row.decision.policy.version.to_string(),
            digest: row.decision.policy.digest.to_string(),
        });
        Ok(id)
    }
}

/// A directory held in memory, loaded from a snapshot.
#[derive(Debug)]
pub struct MemoryDirectory {
    tenants: Mutex<HashMap<String, Tenant>>,
}

impl MemoryDirectory {
    /// Loads and validates a snapshot file (YAML, or JSON by extension).
    pub fn open(path: &Path) -> Result<Self, DirectoryError> {
        Ok(Self::from_snapshot(&Snapshot::load(path)?))
    }

    pub fn from_snapshot(snapshot: &Snapshot) -> Self {
        let tenants = snapshot
            .tenants
            .iter()
            .map(|t| {
                let tenant = Tenant {
                    plan: t.plan.as_str().into(),
                    attributes: t.attributes.clone(),
                    seats_total: t.seats.total,
                    seats_used: t.seats.used,
                    active: t.members.iter().map(|m| m.to_active()).collect(),
                    departments: t
                        .members
                        .iter()
                        .filter_map(|m| Some((m.id.clone(), m.department.clone()?)))
                        .collect(),
                    deleted: t
                        .deleted_members
                        .iter()
                        .map(|m| (m.id.clone(), m.to_deleted()))
                        .collect(),
                    restored: HashMap::new(),
                    audit: Vec::new(),
                };
                (t.id.clone(), tenant)
            })
            .collect();
        MemoryDirectory {
            tenants: Mutex::new(tenants),
        }
    }

    fn with_tenant<R>(
        &self,
        tenant: &str,
        f: impl FnOnce(&mut Tenant) -> Result<R, DirectoryError>,
    ) -> Result<R, DirectoryError> {
        // A poisoned lock only means another thread panicked mid-read; the
        // data is updated all at once at the end of a restore, so it is whole.
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let data = tenants
            .get_mut(tenant)
            .ok_or_else(|| DirectoryError::UnknownTenant {
                tenant: tenant.to_owned(),
            })?;
        f(data)
    }

    /// Audit rows of a tenant (tests and tooling).
    pub fn audit(&self, tenant: &str) -> Result<Vec<AuditEntry>, DirectoryError> {
        self.with_tenant(tenant, |t| Ok(t.audit.clone()))
    }

    /// Seats in use (tests and tooling).
    pub fn seats_used(&self, tenant: &str) -> Result<i64, DirectoryError> {
        self.with_tenant(tenant, |t| Ok(t.seats_used))
    }

    /// Ids of the items of `resource` a restore of `member` brought back,
    /// in stored order; empty when none did.
    pub fn restored_items(
        &self,
        tenant: &str,
        member: &str,
        resource: &str,
    ) -> Result<Vec<String>, DirectoryError> {
        self.with_tenant(tenant, |t| {
            Ok(t.restored
                .get(member)
                .and_then(|r| r.get(resource))
                .cloned()
                .unwrap_or_default())
        })
    }

    /// Department of an active member, if any.
    pub fn department(&self, tenant: &str, member: &str) -> Result<Option<String>, DirectoryError> {
        self.with_tenant(tenant, |t| Ok(t.departments.get(member).cloned()))
    }
}

#[async_trait]
impl Directory for MemoryDirectory {
    #[tracing::instrument(
        name = "directory.facts",
        level = "debug",
        skip(self),
        fields(adapter = "memory"),
        err(Display)
    )]
    async fn facts(
        &self,
        tenant: &str,
        member: &str,
        actor: Option<&str>,
    ) -> Result<Facts, DirectoryError> {
        self.with_tenant(tenant, |t| {
            let actor = t.actor(tenant, actor)?;
            let deleted = t
                .deleted
                .get(member)
                .ok_or_else(|| DirectoryError::UnknownMember {
                    tenant: tenant.to_owned(),
                    member: member.to_owned(),
                })?;
            Ok(t.facts(tenant, deleted, actor))
        })
    }

    #[tracing::instrument(
        name = "directory.tenants",
        level = "debug",
        skip(self),
        fields(adapter = "memory"),
        err(Display)
    )]
    async fn tenants(&self) -> Result<Vec<String>, DirectoryError> {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<String> = tenants.keys().cloned().collect();
        ids.sort();
        Ok(ids)
    }

    fn deleted_members<'a>(
        &'a self,
        tenant: &'a str,
        actor: Option<&'a str>,
    ) -> BoxStream<'a, Result<Facts, DirectoryError>> {
        // Snapshot the ids first, then build facts one at a time, so the lock
        // is never held across a yield.
        let ids = self.with_tenant(tenant, |t| {
            t.actor(tenant, actor)?;
            Ok(t.deleted.keys().cloned().collect::<Vec<_>>())
        });
        match ids {
            Err(e) => stream::once(async move { Err(e) }).boxed(),
            Ok(ids) => stream::iter(ids)
                .filter_map(move |id| async move {
                    match self.facts(tenant, &id, actor).await {
                        // Restored meanwhile: no longer a deleted member.
                        Err(DirectoryError::UnknownMember { .. }) => None,
                        other => Some(other),
                    }
                })
                .boxed(),
        }
    }

    #[tracing::instrument(
        name = "directory.apply_restore",
        level = "debug",
        skip_all,
        fields(adapter = "memory", tenant = %request.tenant, member = %request.member, actor = %request.actor),
        err(Display)
    )]
    async fn apply_restore(
        &self,
        request: &RestoreRequest,
        decide: &Decide,
    ) -> Result<RestoreOutcome, DirectoryError> {
        request.check()?;
        self.with_tenant(&request.tenant, |t| {
            // The store reads the tenant and stages its writes; they are
            // applied all at once, under the same lock, only when the whole
            // restore succeeded.
            let mut store = Store {
                tenant: t,
                staged: Staged::default(),
            };
            let outcome = restore::block_on(restore_with(&mut store, request, decide))?;
            if let RestoreOutcome::Restored(_) = outcome {
                let staged = store.staged;
                staged.apply(t);
            }
            Ok(outcome)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tenant whose member was deleted two days before `now`.
    fn snapshot(now: chrono::DateTime<chrono::Utc>) -> Snapshot {
        let deleted_at = (now - chrono::Duration::days(2)).to_rfc3339();
        let yaml = format!(
            r#"
format: restore-directory/v1
tenants:
  - id: t
    plan: pro
    seats: {{ total: 5, used: 1 }}
    members:
      - {{ id: admin, roles: [primary_admin] }}
    deleted_members:
      - id: m
        deleted_at: "{deleted_at}"
        reason: removed_by_admin
        deletion: completed
        resources:
          documents: [{{ id: d0, transferred_to: admin }}, {{ id: d1 }}]
"#
        );
        Snapshot::parse(
            &yaml,
            "inline.yaml",
            restore_directory::snapshot::SnapshotSyntax::Yaml,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_restore_marks_items_and_applies_its_writes_together() {
        let at = chrono::Utc::now();
        let directory = MemoryDirectory::from_snapshot(&snapshot(at));
        let request = RestoreRequest {
            tenant: "t".into(),
            member: "m".into(),
            actor: "admin".into(),
            department: "ops".into(),
            at,
        };
        let policy = restore_engine::PolicySet::load_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules"),
        )
        .unwrap();
        let decide = move |facts: &Facts| {
            let p = policy.select(None, None, at).unwrap();
            p.try_evaluate(facts, &restore_engine::facts::Request::default(), at)
        };
        let receipt = match directory.apply_restore(&request, &decide).await.unwrap() {
            RestoreOutcome::Restored(receipt) => receipt,
            other => panic!("{other:?}"),
        };
        assert_eq!(receipt.restored_items, 1, "{receipt:?}");
        assert_eq!(receipt.seats_used, 2);
        assert_eq!(
            directory.restored_items("t", "m", "documents").unwrap(),
            ["d1"],
            "d0 was transferred (F21)"
        );
        assert_eq!(directory.seats_used("t").unwrap(), 2);
        assert_eq!(
            directory.department("t", "m").unwrap().as_deref(),
            Some("ops")
        );
        assert_eq!(directory.audit("t").unwrap().len(), 1);
        let again = directory.apply_restore(&request, &decide).await;
        assert!(
            matches!(again, Err(DirectoryError::UnknownMember { .. })),
            "{again:?}"
        );
    }
}
