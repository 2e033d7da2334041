//! Opens a directory adapter from a `--directory` URL.

use anyhow::Context;
use restore_directory::{Directory, DirectoryUrl};
use restore_memory::MemoryDirectory;

/// Opens the adapter a directory URL names.
pub async fn open(url: &str) -> anyhow::Result<Box<dyn Directory>> {
    let parsed = DirectoryUrl::parse(url)?;
    open_parsed(&parsed)
        .await
        .with_context(|| format!("opening directory `{parsed}`"))
}

async fn open_parsed(parsed: &DirectoryUrl) -> anyhow::Result<Box<dyn Directory>> {
    let directory: Box<dyn Directory> = match parsed {
        DirectoryUrl::Memory(path) => Box::new(MemoryDirectory::open(path)?),
        DirectoryUrl::Plugin { library, config } => {
            Box::new(restore_plugin::PluginDirectory::open(library, config).await?)
        }
        DirectoryUrl::Sqlite(path) => Box::new(restore_sqlite::SqliteDirectory::open(path).await?),
        DirectoryUrl::Postgres(url) => {
            Box::new(restore_postgres::PostgresDirectory::connect(url).await?)
        }
    };
    Ok(directory)
}
