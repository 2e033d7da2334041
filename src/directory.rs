//! Opens a directory adapter from a `--directory` URL.
//!
//! Two entry points: [`open`] for commands that write (`restore`) and
//! [`open_read_only`] for those that only read (`eval`, `eval-all`, `diff`,
//! `test`, `snapshot`). A read-only open changes nothing: SQLite is opened
//! read-only, PostgreSQL sessions are read-only, neither migrates, and a
//! file or database that is not a directory is refused as it is. Only
//! `import` creates a directory (it calls the adapters' `connect`).

use anyhow::Context;
use restore_directory::{Access, Directory, DirectoryUrl};
use restore_memory::MemoryDirectory;

/// Opens the adapter a directory URL names, for reading and writing.
pub async fn open(url: &str) -> anyhow::Result<Box<dyn Directory>> {
    open_for(url, Access::ReadWrite).await
}

/// Opens the adapter a directory URL names, for reading only.
pub async fn open_read_only(url: &str) -> anyhow::Result<Box<dyn Directory>> {
    open_for(url, Access::ReadOnly).await
}

async fn open_for(url: &str, access: Access) -> anyhow::Result<Box<dyn Directory>> {
    let parsed = DirectoryUrl::parse(url)?;
    open_parsed(&parsed, access)
        .await
        .with_context(|| format!("opening directory `{parsed}`"))
}

async fn open_parsed(parsed: &DirectoryUrl, access: Access) -> anyhow::Result<Box<dyn Directory>> {
    let directory: Box<dyn Directory> = match parsed {
        // A snapshot file is only ever read.
        DirectoryUrl::Memory(path) => Box::new(MemoryDirectory::open(path)?),
        // A plugin decides for itself; restorectl asks nothing else of it.
        DirectoryUrl::Plugin { library, config } => {
            Box::new(restore_plugin::PluginDirectory::open(library, config).await?)
        }
        DirectoryUrl::Sqlite(path) => {
            Box::new(restore_sqlite::SqliteDirectory::open_with(path, access).await?)
        }
        DirectoryUrl::Postgres(url) => {
            let (options, timeouts) = restore_postgres::parse_url(url)?;
            Box::new(
                restore_postgres::PostgresDirectory::open_with(options, 8, timeouts, access)
                    .await?,
            )
        }
    };
    Ok(directory)
}
