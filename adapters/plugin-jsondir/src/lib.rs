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
//! Reads keep the last tenant file parsed, with its deleted members in id
//! order, and reuse it while the file is unchanged (same inode, length and
//! modification time), so paging through `deleted_members` reads the file
//! once, not once per page. A restore always reads the file afresh, under
//! its lock.
//!
//! Config: `root=DIR` (required), `max_file_size=BYTES` (default
//! [`DEFAULT_MAX_FILE_SIZE`]): a larger tenant file, or anything that is
//! not a regular file, is refused with an error naming it; `lock_timeout`
//! (default 5s, `ms`/`s`/`min`, bare number: milliseconds): how long a
//! restore waits for another restore of its tenant before giving up.
//! Opening a folder removes temporary files left by writers that were
//! killed mid-write.

pub mod lock;
mod store;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use restore_directory::snapshot::{SnapshotDeletedMember, SnapshotMember, SnapshotTenant};
use restore_directory::{seats_after_restore, RestoreRequest};
use restore_engine::decision::Decision;
use restore_engine::facts::{ActiveMember, Actor, Conflicts, Facts, TenantFacts};
use restore_plugin_abi::{
    export_plugin, Committed, ErrorKind, PluginDirectory, Restoring, WireError,
};

pub use lock::TenantLock;
use store::Stamp;
pub use store::{
    read_tenant, remove_stale_temp_files, tenant_path, write_snapshot, write_tenant, AuditEntry,
    TenantFile, DEFAULT_MAX_FILE_SIZE, TENANT_FILE_FORMAT,
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
    max_file_size: u64,
    lock_timeout: std::time::Duration,
    next_token: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    /// The last tenant file read, while unchanged on disk.
    cache: Mutex<Option<Arc<Loaded>>>,
}

/// A parsed tenant file with what every read of it needs precomputed.
struct Loaded {
    stamp: Stamp,
    file: TenantFile,
    /// Indexes into `file.tenant.deleted_members`, in member-id order.
    by_id: Vec<usize>,
    active: Vec<ActiveMember>,
}

impl Loaded {
    fn new(file: TenantFile, stamp: Stamp) -> Loaded {
        let deleted = &file.tenant.deleted_members;
        let mut order: Vec<(usize, &_)> = deleted.iter().map(|m| &m.id).enumerate().collect();
        order.sort_unstable_by(|a, b| a.1.cmp(b.1));
        let by_id = order.into_iter().map(|(i, _)| i).collect();
        let active = file
            .tenant
            .members
            .iter()
            .map(SnapshotMember::to_active)
            .collect();
        Loaded {
            stamp,
            file,
            by_id,
            active,
        }
    }

    fn tenant(&self) -> &SnapshotTenant {
        &self.file.tenant
    }

    fn facts(&self, member: &SnapshotDeletedMember, actor: Option<Actor>) -> Facts {
        facts(self.tenant(), member, &self.active, actor)
    }
}

/// Settings from the config string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Config {
    root: PathBuf,
    max_file_size: u64,
    lock_timeout: std::time::Duration,
}

/// How long a restore waits for its tenant's lock unless configured.
pub const DEFAULT_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl JsonDir {
    /// Opens the folder at `root`, which must exist, with the default size
    /// limit, and removes stale temporary files from it.
    pub fn open(root: &Path) -> Result<JsonDir, String> {
        JsonDir::open_config(Config {
            root: root.to_owned(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        })
    }

    fn open_config(config: Config) -> Result<JsonDir, String> {
        let root = config.root;
        if !root.is_dir() {
            return Err(format!(
                "jsondir root `{}` is not a directory",
                root.display()
            ));
        }
        remove_stale_temp_files(&root)
            .map_err(|e| format!("cannot clean temporary files in `{}`: {e}", root.display()))?;
        Ok(JsonDir {
            root,
            max_file_size: config.max_file_size,
            lock_timeout: config.lock_timeout,
            next_token: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            cache: Mutex::new(None),
        })
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<u64, Pending>> {
        // Entries are inserted and removed whole; a panic cannot leave one
        // half-written.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tenant's file as it is on disk now, read afresh.
    fn tenant(&self, tenant: &str) -> Result<TenantFile, WireError> {
        store::read_tenant_within(&self.root, tenant, self.max_file_size)?
            .map(|(file, _)| file)
            .ok_or_else(|| WireError::unknown_tenant(tenant))
    }

    /// The tenant's file, from the cache while the file is unchanged.
    fn loaded(&self, tenant: &str) -> Result<Arc<Loaded>, WireError> {
        let now = store::stamp(&self.root, tenant)?;
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(loaded) = cache.as_ref() {
                if loaded.file.tenant.id == tenant && Some(loaded.stamp) == now {
                    return Ok(loaded.clone());
                }
            }
        }
        let (file, stamp) = store::read_tenant_within(&self.root, tenant, self.max_file_size)?
            .ok_or_else(|| WireError::unknown_tenant(tenant))?;
        let loaded = Arc::new(Loaded::new(file, stamp));
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(loaded.clone());
        Ok(loaded)
    }
}

/// Parses `root=DIR&max_file_size=BYTES` (pairs separated by `&`).
fn parse_config(config: &str) -> Result<Config, String> {
    let mut root = None;
    let mut max_file_size = DEFAULT_MAX_FILE_SIZE;
    let mut lock_timeout = DEFAULT_LOCK_TIMEOUT;
    for pair in config.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("root", value)) if !value.is_empty() => root = Some(PathBuf::from(value)),
            Some(("max_file_size", value)) => {
                max_file_size = value.parse().map_err(|_| {
                    format!(
                        "jsondir `max_file_size` must be a number of bytes, not `{}`",
                        value.escape_default()
                    )
                })?;
            }
            Some(("lock_timeout", value)) => {
                lock_timeout = restore_directory::params::parse_timeout(
                    "lock_timeout",
                    value,
                    restore_directory::params::BareUnit::Milliseconds,
                )
                .map_err(|e| format!("jsondir config: {e}"))?;
            }
            Some((key, _)) if key != "root" => {
                return Err(format!(
                    "unknown jsondir config key `{}`, expected `root`, `max_file_size` or `lock_timeout`",
                    key.escape_default()
                ))
            }
            _ => {
                return Err(format!(
                    "bad jsondir config `{}`, expected `root=DIR`",
                    pair.escape_default()
                ))
            }
        }
    }
    let root = root.ok_or_else(|| "jsondir config needs `root=DIR`".to_owned())?;
    Ok(Config {
        root,
        max_file_size,
        lock_timeout,
    })
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
                attributes: Default::default(),
            })
        })
        .ok_or_else(|| WireError::unknown_actor(&t.id, actor))
}

fn facts(
    t: &SnapshotTenant,
    member: &SnapshotDeletedMember,
    active: &[ActiveMember],
    actor: Option<Actor>,
) -> Facts {
    let member = member.to_deleted();
    Facts {
        tenant: TenantFacts {
            id: t.id.as_str().into(),
            plan: t.plan.as_str().into(),
            seats_total: t.seats.total,
            seats_used: t.seats.used,
            attributes: Default::default(),
        },
        conflicts: Conflicts::find(&member, active),
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
        JsonDir::open_config(parse_config(config)?)
    }

    fn facts(&self, tenant: &str, member: &str, actor: Option<&str>) -> Result<Facts, WireError> {
        let loaded = self.loaded(tenant)?;
        let t = loaded.tenant();
        let actor = self::actor(t, actor)?;
        Ok(loaded.facts(deleted(t, member)?, actor))
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
        let loaded = self.loaded(tenant)?;
        let t = loaded.tenant();
        let actor = self::actor(t, actor)?;
        let deleted = &t.deleted_members;
        // Members in id order; the page starts after the cursor (found by
        // binary search, so a whole pass costs O(n log n), not O(n²)).
        let start = after.map_or(0, |after| {
            loaded
                .by_id
                .partition_point(|&i| deleted.get(i).is_some_and(|m| m.id.as_str() <= after))
        });
        Ok(loaded
            .by_id
            .get(start..)
            .unwrap_or_default()
            .iter()
            .filter_map(|&i| deleted.get(i))
            .take(limit)
            .map(|member| loaded.facts(member, actor.clone()))
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
        let lock = TenantLock::acquire_within(&self.root, tenant, self.lock_timeout)
            .map_err(|e| WireError::backend(format!("cannot lock tenant `{tenant}`: {e}")))?
            .ok_or_else(|| {
                WireError::new(
                    ErrorKind::Conflict,
                    format!(
                        "tenant `{tenant}` is locked by another restore; gave up after {} (`lock_timeout` in the plugin config)",
                        restore_directory::params::millis(self.lock_timeout)
                    ),
                )
            })?;
        // Read under the lock: these facts stay true until commit or abort.
        let file = self.tenant(tenant)?;
        let t = &file.tenant;
        let actor = actor(t, Some(&request.actor))?;
        let active: Vec<ActiveMember> = t.members.iter().map(SnapshotMember::to_active).collect();
        let facts = facts(t, deleted(t, &request.member)?, &active, actor);
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
        // Checked before anything changes: a wrapped count would leave the
        // tenant file unreadable (negative seats).
        let seats_used = seats_after_restore(&t.id, t.seats.used)
            .map_err(|e| WireError::new(ErrorKind::BadData, e.to_string()))?;
        let audit_id = i64::try_from(file.audit.len())
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| {
                WireError::new(
                    ErrorKind::BadData,
                    "the audit log is full; nothing was changed",
                )
            })?;
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
        t.seats.used = seats_used;
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
        assert_eq!(parse_config("root=/x").unwrap().root, PathBuf::from("/x"));
        let config = parse_config("root=/x&max_file_size=1000").unwrap();
        assert_eq!(config.max_file_size, 1000);
        let e = parse_config("root=/x&max_file_size=lots").unwrap_err();
        assert!(e.contains("`lots`"), "{e}");
        assert!(parse_config("").unwrap_err().contains("`root=DIR`"));
        assert!(parse_config("rot=/x").unwrap_err().contains("`rot`"));
        assert!(parse_config("root").unwrap_err().contains("`root`"));
        let err = JsonDir::create("root=/definitely/not/here").err().unwrap();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
