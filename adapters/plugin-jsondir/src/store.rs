//! The folder layout: one `tenant-<id>.json` file per tenant.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use restore_directory::snapshot::SnapshotTenant;
use restore_directory::Snapshot;
use restore_plugin_abi::{ErrorKind, WireError};
use serde::{Deserialize, Serialize};

use crate::lock::TenantLock;

/// The format of a tenant file without attributes; checked on every read.
pub const TENANT_FILE_FORMAT: &str = "restore-jsondir/v1";

/// The format of a tenant file with attributes (on the tenant, an active or
/// a deleted member): a plugin built before them refuses the file rather
/// than dropping them.
pub const TENANT_FILE_FORMAT_V2: &str = "restore-jsondir/v2";

/// The format a file holding `tenant` is written in.
pub fn tenant_file_format(tenant: &SnapshotTenant) -> &'static str {
    if tenant.has_attributes() {
        TENANT_FILE_FORMAT_V2
    } else {
        TENANT_FILE_FORMAT
    }
}

/// One tenant file: the tenant as in a directory snapshot, plus the audit
/// rows of the restores applied to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    pub format: String,
    pub tenant: SnapshotTenant,
    #[serde(default)]
    pub audit: Vec<AuditEntry>,
}

/// A recorded restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub id: i64,
    pub member: String,
    pub actor: String,
    pub department: String,
    pub policy_version: String,
    pub digest: String,
    /// Ids of the items the restore brought back, per resource, in stored
    /// order (F21); absent when none came back.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub restored_items: BTreeMap<String, Vec<String>>,
}

/// `tenant-<id>` with every byte outside `[A-Za-z0-9_-]` written `%XX`, so
/// that no tenant id can name a path outside the folder or clash with another.
pub(crate) fn file_stem(tenant: &str) -> String {
    let mut stem = String::from("tenant-");
    for b in tenant.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            stem.push(b as char);
        } else {
            stem.push_str(&format!("%{b:02X}"));
        }
    }
    stem
}

/// The tenant id a [`file_stem`] was made from; `None` for any other name
/// (including escapes that `file_stem` would not have written).
pub(crate) fn tenant_of_stem(stem: &str) -> Option<String> {
    let escaped = stem.strip_prefix("tenant-")?.as_bytes();
    let mut bytes = Vec::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = tail.get(2..)?;
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    let tenant = String::from_utf8(bytes).ok()?;
    (file_stem(&tenant) == stem).then_some(tenant)
}

/// Ids of the tenants with a file under `root`, sorted. Other files (locks,
/// temporary files, anything else) are not tenants and are skipped.
pub fn list_tenants(root: &Path) -> Result<Vec<String>, WireError> {
    let unreadable =
        |e: io::Error| WireError::backend(format!("cannot list `{}`: {e}", root.display()));
    let mut tenants = Vec::new();
    for entry in fs::read_dir(root).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        if let Some(tenant) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(tenant_of_stem)
        {
            tenants.push(tenant);
        }
    }
    tenants.sort_unstable();
    Ok(tenants)
}

/// The data file of `tenant` under `root`.
pub fn tenant_path(root: &Path, tenant: &str) -> PathBuf {
    root.join(format!("{}.json", file_stem(tenant)))
}

/// Largest tenant file read unless the config's `max_file_size` says otherwise.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;

/// Which version of a tenant file was read: writes replace the file by a
/// rename, so a new version has a new inode; an edit in place changes the
/// length or the modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        Stamp {
            dev,
            ino,
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// The stamp of the tenant's file now; `None` when it has none.
pub(crate) fn stamp(root: &Path, tenant: &str) -> Result<Option<Stamp>, WireError> {
    let path = tenant_path(root, tenant);
    match fs::metadata(&path) {
        Ok(meta) => Ok(Some(Stamp::of(&meta))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(WireError::backend(format!(
            "cannot read `{}`: {e}",
            path.display()
        ))),
    }
}

/// Reads and checks a tenant file, at most [`DEFAULT_MAX_FILE_SIZE`]
/// bytes; `Ok(None)` when the tenant has none.
pub fn read_tenant(root: &Path, tenant: &str) -> Result<Option<TenantFile>, WireError> {
    Ok(read_tenant_within(root, tenant, DEFAULT_MAX_FILE_SIZE)?.map(|(file, _)| file))
}

/// [`read_tenant`] with a size limit, and the stamp of what was read.
///
/// Only a regular file is read (a link to `/dev/zero` or a FIFO is
/// refused before it is opened), and never more than `max_bytes`.
pub(crate) fn read_tenant_within(
    root: &Path,
    tenant: &str,
    max_bytes: u64,
) -> Result<Option<(TenantFile, Stamp)>, WireError> {
    let path = tenant_path(root, tenant);
    let bad = |reason: String| {
        WireError::new(
            ErrorKind::BadData,
            format!("bad tenant file `{}`: {reason}", path.display()),
        )
    };
    let unreadable =
        |e: io::Error| WireError::backend(format!("cannot read `{}`: {e}", path.display()));
    let check = |meta: &fs::Metadata| {
        if !meta.is_file() {
            return Err(bad("not a regular file".into()));
        }
        if meta.len() > max_bytes {
            return Err(bad(format!(
                "{} bytes, more than the limit of {max_bytes} (`max_file_size` in the plugin config)",
                meta.len()
            )));
        }
        Ok(())
    };
    // Checked before opening: opening a FIFO would block.
    match fs::metadata(&path) {
        Ok(meta) => check(&meta)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    }
    let handle = match File::open(&path) {
        Ok(handle) => handle,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    // Again on what was opened: the name may have been replaced meanwhile.
    let meta = handle.metadata().map_err(unreadable)?;
    check(&meta)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    handle
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > max_bytes {
        return Err(bad(format!(
            "grew past the limit of {max_bytes} bytes while being read"
        )));
    }
    let file = parse_tenant(&bytes, tenant).map_err(bad)?;
    Ok(Some((file, Stamp::of(&meta))))
}

fn parse_tenant(bytes: &[u8], tenant: &str) -> Result<TenantFile, String> {
    let file: TenantFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if file.format != TENANT_FILE_FORMAT && file.format != TENANT_FILE_FORMAT_V2 {
        return Err(format!(
            "unknown format `{}`, expected `{TENANT_FILE_FORMAT}` or `{TENANT_FILE_FORMAT_V2}`",
            file.format.escape_default()
        ));
    }
    if file.format == TENANT_FILE_FORMAT && file.tenant.has_attributes() {
        return Err(format!("attributes need `format: {TENANT_FILE_FORMAT_V2}`"));
    }
    // The file name is derived from the id; a mismatch would show one
    // tenant's members under another tenant's name.
    if file.tenant.id != tenant {
        return Err(format!(
            "holds tenant `{}`, expected `{tenant}`",
            file.tenant.id.escape_default()
        ));
    }
    let mut ids = HashSet::new();
    if let Some(m) = file.tenant.members.iter().find(|m| !ids.insert(&m.id)) {
        return Err(format!("duplicate member id `{}`", m.id.escape_default()));
    }
    let mut ids = HashSet::new();
    if let Some(m) = file
        .tenant
        .deleted_members
        .iter()
        .find(|m| !ids.insert(&m.id))
    {
        return Err(format!(
            "duplicate deleted member id `{}`",
            m.id.escape_default()
        ));
    }
    Ok(file)
}

/// What marks a temporary file of [`write_tenant`]: `.<stem>.json.tmp-…`.
const TEMP_MARK: &str = ".json.tmp-";

/// Replaces the tenant's file in one step: write a temporary file beside
/// it, flush it to disk, rename it over. Readers see the old or the new
/// file, never half of one. The caller holds the tenant's [`TenantLock`]:
/// a temporary file whose tenant is not locked is left over from a writer
/// that died, and [`remove_stale_temp_files`] deletes it.
pub fn write_tenant(root: &Path, file: &TenantFile) -> io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = tenant_path(root, &file.tenant.id);
    let tmp = root.join(format!(
        ".{}{TEMP_MARK}{}-{}",
        file_stem(&file.tenant.id),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let bytes = serde_json::to_vec_pretty(file).map_err(io::Error::other)?;
    let result = (|| {
        let mut out = File::create(&tmp)?;
        out.write_all(&bytes)?;
        out.sync_all()?;
        fs::rename(&tmp, &path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Deletes temporary files left by writers that were killed mid-write:
/// those of tenants nobody holds the lock of. Returns how many it removed;
/// files it cannot parse as ours are left alone.
pub fn remove_stale_temp_files(root: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(tenant) = name
            .to_str()
            .and_then(|n| n.strip_prefix('.'))
            .and_then(|n| n.split_once(TEMP_MARK))
            .and_then(|(stem, _)| tenant_of_stem(stem))
        else {
            continue;
        };
        if !entry.file_type()?.is_file() {
            continue;
        }
        // Held: a writer is busy with this tenant right now.
        if let Some(_lock) = TenantLock::try_acquire(root, &tenant)? {
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// Writes every tenant of `snapshot` into `root` (created if missing), with
/// empty audit logs: how a folder for this plugin is set up.
pub fn write_snapshot(root: &Path, snapshot: &Snapshot) -> io::Result<()> {
    fs::create_dir_all(root)?;
    for tenant in &snapshot.tenants {
        let _lock = TenantLock::acquire(root, &tenant.id)?;
        write_tenant(
            root,
            &TenantFile {
                format: tenant_file_format(tenant).to_owned(),
                tenant: tenant.clone(),
                audit: Vec::new(),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_escape_the_folder() {
        assert_eq!(file_stem("acme"), "tenant-acme");
        assert_eq!(file_stem("../etc"), "tenant-%2E%2E%2Fetc");
        assert_ne!(file_stem("a.b"), file_stem("a_b"));
        let root = Path::new("/data");
        assert_eq!(tenant_path(root, "a/b").parent(), Some(root));
    }

    #[test]
    fn file_names_read_back_as_tenant_ids() {
        for tenant in ["acme", "../etc", "a.b", "a_b", "ünï", "%41"] {
            assert_eq!(
                tenant_of_stem(&file_stem(tenant)).as_deref(),
                Some(tenant),
                "{tenant}"
            );
        }
        // Not written by file_stem: no prefix, lower-case or short escapes,
        // an escaped byte that needs none.
        for stem in [
            "acme",
            "tenant-%2e",
            "tenant-%2",
            "tenant-%41",
            "tenant-a.b",
        ] {
            assert_eq!(tenant_of_stem(stem), None, "{stem}");
        }
    }

    #[test]
    fn only_tenant_files_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "tenant-beta.json",
            "tenant-acme.json",
            "tenant-acme.lock",
            "notes.json",
        ] {
            fs::write(dir.path().join(name), "{}").unwrap();
        }
        assert_eq!(list_tenants(dir.path()).unwrap(), ["acme", "beta"]);
        let missing = dir.path().join("missing");
        let e = list_tenants(&missing).unwrap_err();
        assert!(e.message.contains("cannot list"), "{}", e.message);
    }
}
