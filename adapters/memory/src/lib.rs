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
use restore_directory::{
    seats_after_restore, Decide, Directory, DirectoryError, Receipt, RestoreOutcome,
    RestoreRequest, Snapshot,
};
use restore_engine::facts::{ActiveMember, Actor, Conflicts, DeletedMember, Facts, TenantFacts};

/// One tenant's data.
#[derive(Debug, Clone)]
struct Tenant {
    /// Shared by every member's facts.
    plan: Arc<str>,
    seats_total: i64,
    seats_used: i64,
    active: Vec<ActiveMember>,
    departments: HashMap<String, String>,
    /// Keyed by member id so that streaming is in id order.
    deleted: BTreeMap<String, DeletedMember>,
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
    fn facts(&self, tenant: &str, member: &DeletedMember, actor: Option<Actor>) -> Facts {
        Facts {
            tenant: TenantFacts {
                id: tenant.into(),
                plan: self.plan.clone(),
                seats_total: self.seats_total,
                seats_used: self.seats_used,
                attributes: Default::default(),
            },
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
                    attributes: Default::default(),
                })
            })
            .ok_or_else(|| DirectoryError::UnknownActor {
                tenant: tenant.to_owned(),
                actor: actor.to_owned(),
            })
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
        if request.department.trim().is_empty() {
            return Err(DirectoryError::MissingDepartment);
        }
        let tenant_id = request.tenant.as_str();
        self.with_tenant(tenant_id, |t| {
            let actor = t.actor(tenant_id, Some(&request.actor))?;
            let member =
                t.deleted
                    .get(&request.member)
                    .ok_or_else(|| DirectoryError::UnknownMember {
                        tenant: tenant_id.to_owned(),
                        member: request.member.clone(),
                    })?;
            let decision = decide(&t.facts(tenant_id, member, actor))?;
            if !decision.allowed {
                return Ok(RestoreOutcome::Denied(decision));
            }
            // Checked before anything changes.
            let seats_used = seats_after_restore(tenant_id, t.seats_used)?;
            let Some(member) = t.deleted.remove(&request.member) else {
                // Looked up above under the same lock; kept total anyway.
                return Err(DirectoryError::UnknownMember {
                    tenant: tenant_id.to_owned(),
                    member: request.member.clone(),
                });
            };
            // Admin permissions, approval roles and user groups are reset (F17):
            // the member comes back with no roles.
            t.active.push(ActiveMember {
                id: member.id.clone(),
                email: member.email,
                phone: member.phone,
                roles: Vec::new(),
                attributes: Default::default(),
            });
            t.departments
                .insert(member.id.clone(), request.department.clone());
            t.seats_used = seats_used;
            // An audit log cannot outgrow memory, let alone i64.
            let id = i64::try_from(t.audit.len()).map_or(i64::MAX, |n| n.saturating_add(1));
            t.audit.push(AuditEntry {
                id,
                member: member.id,
                actor: request.actor.clone(),
                policy_version: decision.policy.version.to_string(),
                digest: decision.policy.digest.to_string(),
            });
            Ok(RestoreOutcome::Restored(Receipt {
                decision,
                department: request.department.clone(),
                audit_id: id,
                seats_used: t.seats_used,
            }))
        })
    }
}
