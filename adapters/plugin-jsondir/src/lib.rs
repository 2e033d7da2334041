//! Example directory plugin: a directory kept as JSON files in a folder,
//! loaded by `restorectl` as `plugin:librestore_plugin_jsondir.so?root=DIR`.
//!
//! Each tenant is one file `DIR/tenant-<id>.json` ([`TenantFile`]): the
//! tenant exactly as in a directory snapshot, plus the audit rows of the
//! restores applied. [`write_snapshot`] sets a folder up from a snapshot.
//!
//! A restore locks the tenant ([`lock`]) from `restore_begin` to commit or
//! abort, so two restores of one tenant run one after the other, in this
//! process or another; the file is replaced by write-then-rename.
//! It behaves as the in-memory adapter (`restore-memory`) does.
//!
//! Every page of `deleted_members` reads the tenant's file again: simple, and
//! fine for the folder sizes this example is meant for.

pub mod lock;
mod store;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use restore_directory::snapshot::{SnapshotDeletedMember, SnapshotMember, SnapshotTenant};
use restore_directory::RestoreRequest;
use restore_engine::decision::Decision;
use restore_engine::facts::{Actor, Conflicts, Facts, TenantFacts};
use restore_plugin_abi::{
    export_plugin, Committed, ErrorKind, PluginDirectory, Restoring, WireError,
};

pub use lock::TenantLock;
pub use store::{
    read_tenant, tenant_path, write_snapshot, write_tenant, AuditEntry, TenantFile,
    TENANT_FILE_FORMAT,
};

export_plugin!(JsonDir);

/// A restore between begin and commit/abort.
struct Pending {
    request: RestoreRequest,
    file: TenantFile,
    /// Released when the pending restore is dropped (commit, abort, destroy).
    _lock: TenantLock,
}

/// The plugin instance for one folder.
pub struct JsonDir {
    root: PathBuf,
    next_token: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
}

impl JsonDir {
    /// Opens the folder at `root`, which must exist.
    pub fn open(root: &Path) -> Result<JsonDir, String> {
        if !root.is_dir() {
            return Err(format!(
                "jsondir root `{}` is not a directory",
                root.display()
            ));
        }
        Ok(JsonDir {
            root: root.to_owned(),
            next_token: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
        })
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<u64, Pending>> {
        // Entries are inserted and removed whole; a panic cannot leave one
        // half-written.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tenant(&self, tenant: &str) -> Result<TenantFile, WireError> {
        read_tenant(&self.root, tenant)?.ok_or_else(|| WireError::unknown_tenant(tenant))
    }
}

/// Parses `root=DIR` (pairs separated by `&`).
fn parse_config(config: &str) -> Result<PathBuf, String> {
    let mut root = None;
    for pair in config.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("root", value)) if !value.is_empty() => root = Some(PathBuf::from(value)),
            Some((key, _)) if key != "root" => {
                return Err(format!(
                    "unknown jsondir config key `{key}`, expected `root`"
                ))
            }
            _ => return Err(format!("bad jsondir config `{pair}`, expected `root=DIR`")),
        }
    }
    root.ok_or_else(|| "jsondir config needs `root=DIR`".to_owned())
}

fn actor(t: &SnapshotTenant, actor: Option<&str>) -> Result<Option<Actor>, WireError> {
    let Some(actor) = actor else { return Ok(None) };
    t.members
        .iter()
        .find(|m| m.id == actor)
        .map(|m| {
            Some(Actor {
                id: m.id.clone(),
                roles: m.roles.clone(),
            })
        })
        .ok_or_else(|| WireError::unknown_actor(&t.id, actor))
}

fn facts(t: &SnapshotTenant, member: &SnapshotDeletedMember, actor: Option<Actor>) -> Facts {
    let member = member.to_deleted();
    let active: Vec<_> = t.members.iter().map(SnapshotMember::to_active).collect();
    Facts {
        tenant: TenantFacts {
            id: t.id.as_str().into(),
            plan: t.plan,
            seats_total: t.seats.total,
            seats_used: t.seats.used,
        },
        conflicts: Conflicts::find(&member, &active),
        member,
        actor,
    }
}

fn deleted<'a>(
    t: &'a SnapshotTenant,
    member: &str,
) -> Result<&'a SnapshotDeletedMember, WireError> {
    t.deleted_members
        .iter()
        .find(|m| m.id == member)
        .ok_or_else(|| WireError::unknown_member(&t.id, member))
}

impl PluginDirectory for JsonDir {
    fn create(config: &str) -> Result<Self, String> {
        JsonDir::open(&parse_config(config)?)
    }

    fn facts(&self, tenant: &str, member: &str, actor: Option<&str>) -> Result<Facts, WireError> {
        let file = self.tenant(tenant)?;
        let t = &file.tenant;
        let actor = self::actor(t, actor)?;
        Ok(facts(t, deleted(t, member)?, actor))
    }

    fn tenants(&self) -> Result<Vec<String>, WireError> {
        store::list_tenants(&self.root)
    }

    fn deleted_members(
        &self,
        tenant: &str,
        actor: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Facts>, WireError> {
        let file = self.tenant(tenant)?;
        let t = &file.tenant;
        let actor = self::actor(t, actor)?;
        let mut page: Vec<_> = t
            .deleted_members
            .iter()
            .filter(|m| after.is_none_or(|after| m.id.as_str() > after))
            .collect();
        page.sort_by(|a, b| a.id.cmp(&b.id));
        page.truncate(limit);
        Ok(page
            .into_iter()
            .map(|m| facts(t, m, actor.clone()))
            .collect())
    }

    fn restore_begin(&self, request: &RestoreRequest) -> Result<Restoring, WireError> {
        if request.department.trim().is_empty() {
            return Err(WireError::missing_department());
        }
        let tenant = request.tenant.as_str();
        if !tenant_path(&self.root, tenant).exists() {
            return Err(WireError::unknown_tenant(tenant));
        }
        let lock = TenantLock::acquire(&self.root, tenant)
            .map_err(|e| WireError::backend(format!("cannot lock tenant `{tenant}`: {e}")))?;
        // Read under the lock: these facts stay true until commit or abort.
        let file = self.tenant(tenant)?;
        let t = &file.tenant;
        let actor = actor(t, Some(&request.actor))?;
        let facts = facts(t, deleted(t, &request.member)?, actor);
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        self.pending().insert(
            token,
            Pending {
                request: request.clone(),
                file,
                _lock: lock,
            },
        );
        Ok(Restoring { token, facts })
    }

    fn restore_commit(&self, token: u64, decision: &Decision) -> Result<Committed, WireError> {
        // Removing the entry releases the lock when this function returns,
        // whether the write succeeded or not.
        let Pending {
            request,
            mut file,
            _lock,
        } = self
            .pending()
            .remove(&token)
            .ok_or_else(|| unknown_token(token))?;
        if !decision.allowed
            || *decision.tenant != *request.tenant
            || decision.member != request.member
        {
            return Err(WireError::new(
                ErrorKind::BadRequest,
                format!(
                    "commit of `{}` in `{}` needs an allowed decision about that member",
                    request.member, request.tenant
                ),
            ));
        }
        let t = &mut file.tenant;
        let at = t
            .deleted_members
            .iter()
            .position(|m| m.id == request.member)
            .ok_or_else(|| WireError::unknown_member(&request.tenant, &request.member))?;
        let member = t.deleted_members.remove(at);
        // Admin permissions, approval roles and user groups are reset (F17):
        // the member comes back with no roles.
        t.members.push(SnapshotMember {
            id: member.id.clone(),
            email: member.email,
            phone: member.phone,
            roles: Vec::new(),
            department: Some(request.department.clone()),
        });
        t.seats.used += 1;
        let seats_used = t.seats.used;
        let audit_id = file.audit.len() as i64 + 1;
        file.audit.push(AuditEntry {
            id: audit_id,
            member: member.id,
            actor: request.actor.clone(),
            department: request.department.clone(),
            policy_version: decision.policy.version.to_string(),
            digest: decision.policy.digest.to_string(),
        });
        write_tenant(&self.root, &file).map_err(|e| {
            WireError::backend(format!("cannot write tenant `{}`: {e}", request.tenant))
        })?;
        Ok(Committed {
            audit_id,
            seats_used,
        })
    }

    fn restore_abort(&self, token: u64) -> Result<(), WireError> {
        self.pending()
            .remove(&token)
            .map(drop)
            .ok_or_else(|| unknown_token(token))
    }
}

fn unknown_token(token: u64) -> WireError {
    WireError::new(
        ErrorKind::BadRequest,
        format!("no restore in progress with token `{token}`"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_needs_an_existing_root() {
        assert_eq!(parse_config("root=/x").unwrap(), PathBuf::from("/x"));
        assert!(parse_config("").unwrap_err().contains("`root=DIR`"));
        assert!(parse_config("rot=/x").unwrap_err().contains("`rot`"));
        assert!(parse_config("root").unwrap_err().contains("`root`"));
        let err = JsonDir::create("root=/definitely/not/here").err().unwrap();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
