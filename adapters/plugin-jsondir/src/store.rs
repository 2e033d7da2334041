//! The folder layout: one `tenant-<id>.json` file per tenant.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use restore_directory::snapshot::SnapshotTenant;
use restore_directory::Snapshot;
use restore_plugin_abi::{ErrorKind, WireError};
use serde::{Deserialize, Serialize};

/// The format of a tenant file; checked on every read.
pub const TENANT_FILE_FORMAT: &str = "restore-jsondir/v1";

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
    let mut i = 0;
    while i < escaped.len() {
        if escaped[i] == b'%' {
            let hex = std::str::from_utf8(escaped.get(i + 1..i + 3)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            bytes.push(escaped[i]);
            i += 1;
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

/// Reads and checks a tenant file; `Ok(None)` when the tenant has none.
pub fn read_tenant(root: &Path, tenant: &str) -> Result<Option<TenantFile>, WireError> {
    let path = tenant_path(root, tenant);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(WireError::backend(format!(
                "cannot read `{}`: {e}",
                path.display()
            )))
        }
    };
    let bad = |reason: String| {
        WireError::new(
            ErrorKind::BadData,
            format!("bad tenant file `{}`: {reason}", path.display()),
        )
    };
    let file: TenantFile = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if file.format != TENANT_FILE_FORMAT {
        return Err(bad(format!(
            "unknown format `{}`, expected `{TENANT_FILE_FORMAT}`",
            file.format
        )));
    }
    // The file name is derived from the id; a mismatch would show one
    // tenant's members under another tenant's name.
    if file.tenant.id != tenant {
        return Err(bad(format!(
            "holds tenant `{}`, expected `{tenant}`",
            file.tenant.id
        )));
    }
    let mut ids = HashSet::new();
    if let Some(m) = file.tenant.members.iter().find(|m| !ids.insert(&m.id)) {
        return Err(bad(format!("duplicate member id `{}`", m.id)));
    }
    let mut ids = HashSet::new();
    if let Some(m) = file
        .tenant
        .deleted_members
        .iter()
        .find(|m| !ids.insert(&m.id))
    {
        return Err(bad(format!("duplicate deleted member id `{}`", m.id)));
    }
    Ok(Some(file))
}

/// Replaces the tenant's file in one step: write a temporary file beside
/// it, flush it to disk, rename it over. Readers see the old or the new
/// file, never half of one.
pub fn write_tenant(root: &Path, file: &TenantFile) -> io::Result<()> {
    let path = tenant_path(root, &file.tenant.id);
    let tmp = root.join(format!(
        ".{}.json.tmp-{}",
        file_stem(&file.tenant.id),
        std::process::id()
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

/// Writes every tenant of `snapshot` into `root` (created if missing), with
/// empty audit logs: how a folder for this plugin is set up.
pub fn write_snapshot(root: &Path, snapshot: &Snapshot) -> io::Result<()> {
    fs::create_dir_all(root)?;
    for tenant in &snapshot.tenants {
        write_tenant(
            root,
            &TenantFile {
                format: TENANT_FILE_FORMAT.to_owned(),
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
