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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use restore_directory::restore::{begin_restore, block_on, finish_restore};
use restore_directory::snapshot::{SnapshotDeletedMember, SnapshotMember, SnapshotTenant};
use restore_directory::{
    seats_after_restore, AuditRow, DirectoryError, ItemPlan, Reactivation, RestoreRequest,
    RestoreStore,
};
use restore_engine::decision::Decision;
use restore_engine::facts::{ActiveMember, Actor, Conflicts, Facts, TenantFacts};
use restore_plugin_abi::{
    export_plugin, Committed, ErrorKind, PluginDirectory, Restoring, WireError,
};

pub use lock::TenantLock;
use store::Stamp;
pub use store::{
    read_tenant, remove_stale_temp_files, tenant_file_format, tenant_path, write_snapshot,
    write_tenant, AuditEntry, TenantFile, DEFAULT_MAX_FILE_SIZE, TENANT_FILE_FORMAT,
    TENANT_FILE_FORMAT_V2,
};

export_plugin!(JsonDir);

/// A restore between begin and commit/abort.
struct Pending {
    request: RestoreRequest,
    file: TenantFile,
    /// What `restore_begin` read; the commit writes its decision about them.
    facts: Facts,
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
                attributes: m.attributes.clone(),
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
        tenant: tenant_facts(t),
        conflicts: Conflicts::find(&member, active),
        member,
        actor,
    }
}

fn tenant_facts(t: &SnapshotTenant) -> TenantFacts {
    TenantFacts {
        id: t.id.as_str().into(),
        plan: t.plan.as_str().into(),
        seats_total: t.seats.total,
        seats_used: t.seats.used,
        attributes: t.attributes.clone(),
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

/// The storage steps of a restore over a tenant file read under the
/// tenant's lock: they change the file in memory only.
struct FileStore<'f> {
    file: &'f mut TenantFile,
    /// What `restore_items` marked, kept for the audit entry.
    items: BTreeMap<String, Vec<String>>,
}

impl<'f> FileStore<'f> {
    fn new(file: &'f mut TenantFile) -> Self {
        FileStore {
            file,
            items: BTreeMap::new(),
        }
    }
}

#[async_trait]
impl RestoreStore for FileStore<'_> {
    async fn tenant(&mut self, tenant: &str) -> Result<TenantFacts, DirectoryError> {
        let t = &self.file.tenant;
        if t.id != tenant {
            return Err(DirectoryError::UnknownTenant {
                tenant: tenant.to_owned(),
            });
        }
        Ok(tenant_facts(t))
    }

    async fn actor(&mut self, tenant: &TenantFacts, actor: &str) -> Result<Actor, DirectoryError> {
        self.file
            .tenant
            .members
            .iter()
            .find(|m| m.id == actor)
            .map(|m| Actor {
                id: m.id.clone(),
                roles: m.roles.clone(),
                attributes: m.attributes.clone(),
            })
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
        let t = &self.file.tenant;
        let deleted = t
            .deleted_members
            .iter()
            .find(|m| m.id == member)
            .ok_or_else(|| DirectoryError::UnknownMember {
                tenant: tenant.id.to_string(),
                member: member.to_owned(),
            })?;
        let active: Vec<ActiveMember> = t.members.iter().map(SnapshotMember::to_active).collect();
        Ok(facts(t, deleted, &active, actor))
    }

    async fn reactivate(&mut self, r: &Reactivation<'_>) -> Result<(), DirectoryError> {
        let t = &mut self.file.tenant;
        let id = &r.member.id;
        if t.members.iter().any(|m| m.id == *id) {
            return Err(DirectoryError::Conflict(format!(
                "an active member `{id}` already exists in tenant `{}`",
                r.tenant
            )));
        }
        let at = t
            .deleted_members
            .iter()
            .position(|m| m.id == *id)
            .ok_or_else(|| DirectoryError::UnknownMember {
                tenant: r.tenant.to_owned(),
                member: id.clone(),
            })?;
        let member = t.deleted_members.remove(at);
        t.members.push(SnapshotMember {
            id: member.id,
            email: member.email,
            phone: member.phone,
            roles: Vec::new(),
            department: Some(r.department.to_owned()),
            // Its attributes come back with it: an actor's afterwards.
            attributes: member.attributes,
        });
        Ok(())
    }

    async fn take_seat(&mut self, tenant: &str) -> Result<i64, DirectoryError> {
        let seats = &mut self.file.tenant.seats;
        seats.used = seats_after_restore(tenant, seats.used)?;
        Ok(seats.used)
    }

    async fn restore_items(&mut self, plan: &ItemPlan<'_>) -> Result<u32, DirectoryError> {
        let mut count = 0_u32;
        for (resource, item) in plan.items() {
            self.items
                .entry(resource.to_owned())
                .or_default()
                .push(item.id.clone());
            count = count.saturating_add(1);
        }
        Ok(count)
    }

    async fn audit(&mut self, row: &AuditRow<'_>) -> Result<i64, DirectoryError> {
        let audit = &mut self.file.audit;
        let id = i64::try_from(audit.len())
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| DirectoryError::Overflow {
                tenant: row.tenant.to_owned(),
                what: "the audit log".into(),
            })?;
        audit.push(AuditEntry {
            id,
            member: row.member.to_owned(),
            actor: row.actor.to_owned(),
            department: row.department.to_owned(),
            policy_version: row.decision.policy.version.to_string(),
            digest: row.decision.policy.digest.to_string(),
            restored_items: std::mem::take(&mut self.items),
        });
        Ok(id)
    }
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
        request.check().map_err(|e| WireError::from(&e))?;
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
        let mut file = self.tenant(tenant)?;
        let facts = block_on(begin_restore(&mut FileStore::new(&mut file), request))
            .map_err(|e| WireError::from(&e))?;
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        self.pending().insert(
            token,
            Pending {
                request: request.clone(),
                file,
                facts: facts.clone(),
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
            facts,
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
        // The steps change the file in memory; it is written only when they
        // all succeeded.
        let receipt = block_on(finish_restore(
            &mut FileStore::new(&mut file),
            &request,
            &facts,
            decision.clone(),
        ))
        .map_err(|e| WireError::from(&e))?;
        write_tenant(&self.root, &file).map_err(|e| {
            WireError::backend(format!("cannot write tenant `{}`: {e}", request.tenant))
        })?;
        Ok(Committed {
            audit_id: receipt.audit_id,
            seats_used: receipt.seats_used,
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
