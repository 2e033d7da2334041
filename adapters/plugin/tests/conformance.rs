//! The jsondir example plugin, loaded through the host adapter, against the
//! conformance suite every built-in adapter passes.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

#[path = "support/locate.rs"]
mod locate;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use restore_conformance::{self as suite, AuditRecord, Probe, Subject};
use restore_directory::{DirectoryError, Snapshot};
use restore_plugin::PluginDirectory;
use restore_plugin_jsondir::{read_tenant, TenantFile};

/// Reads the tenant files the plugin writes.
struct JsonDirProbe(PathBuf);

impl JsonDirProbe {
    fn tenant(&self, tenant: &str) -> Result<TenantFile, DirectoryError> {
        read_tenant(&self.0, tenant)
            .map_err(|e| DirectoryError::backend("reading tenant file", e))?
            .ok_or_else(|| DirectoryError::UnknownTenant {
                tenant: tenant.to_owned(),
            })
    }
}

#[async_trait]
impl Probe for JsonDirProbe {
    async fn audit(&self, tenant: &str) -> Result<Vec<AuditRecord>, DirectoryError> {
        Ok(self
            .tenant(tenant)?
            .audit
            .into_iter()
            .map(|e| AuditRecord {
                id: e.id,
                member: e.member,
                actor: e.actor,
                policy_version: e.policy_version,
                digest: e.digest,
            })
            .collect())
    }

    async fn department(
        &self,
        tenant: &str,
        member: &str,
    ) -> Result<Option<String>, DirectoryError> {
        Ok(self
            .tenant(tenant)?
            .tenant
            .members
            .into_iter()
            .find(|m| m.id == member)
            .and_then(|m| m.department))
    }

    async fn restored_items(
        &self,
        tenant: &str,
        member: &str,
        resource: &str,
    ) -> Result<Option<Vec<String>>, DirectoryError> {
        // The file records them in the restore's audit entry.
        Ok(Some(
            self.tenant(tenant)?
                .audit
                .into_iter()
                .filter(|e| e.member == member)
                .flat_map(|mut e| e.restored_items.remove(resource).unwrap_or_default())
                .collect(),
        ))
    }
}

/// A fresh folder with `snapshot` written into it, opened through the plugin.
async fn make(snapshot: Snapshot) -> Subject {
    let dir = tempfile::tempdir().expect("temporary folder");
    restore_plugin_jsondir::write_snapshot(dir.path(), &snapshot).expect("write snapshot");
    let library = locate::plugin_library("restore-plugin-jsondir");
    let config = format!("root={}", dir.path().display());
    let directory = PluginDirectory::open(&library, &config)
        .await
        .unwrap_or_else(|e| panic!("open jsondir plugin: {e}"));
    Subject {
        directory: Arc::new(directory),
        probe: Box::new(JsonDirProbe(dir.path().to_owned())),
        guard: Some(Box::new(dir)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsondir_plugin_conforms() {
    suite::run_all(make).await;
}
