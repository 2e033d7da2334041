//! `restorectl import`: load a snapshot file into a SQL directory, in one
//! transaction.

use std::path::PathBuf;

use anyhow::Context;
use restore_directory::{DirectoryUrl, Snapshot};
use restore_postgres::PostgresDirectory;
use restore_sqlite::SqliteDirectory;

use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshot file (YAML, or JSON by extension).
    #[arg(long, value_name = "SNAPSHOT")]
    pub from: PathBuf,
    /// Target directory: sqlite:PATH (created if missing) or postgres://….
    #[arg(long, value_name = "URL")]
    pub to: String,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    // Parse and validate everything before touching the target, so a bad
    // snapshot or URL writes nothing (not even an empty database file).
    let snapshot = Snapshot::load(&args.from)?;
    let target = DirectoryUrl::parse(&args.to)?;
    let summary = crate::runtime()?.block_on(async {
        let summary = match &target {
            DirectoryUrl::Sqlite(_) => {
                let directory = SqliteDirectory::connect(&args.to).await?;
                let summary = directory.import(&snapshot).await;
                directory.close().await;
                let s = summary?;
                (s.tenants, s.members, s.deleted_members, s.resource_items)
            }
            DirectoryUrl::Postgres(url) => {
                let directory = PostgresDirectory::connect(url).await?;
                let s = directory.import(&snapshot).await?;
                (s.tenants, s.members, s.deleted_members, s.resource_items)
            }
            other => anyhow::bail!(
                "cannot import into `{other}`: the target must be sqlite:PATH or postgres://…"
            ),
        };
        anyhow::Ok(summary)
    });
    let (tenants, members, deleted, items) =
        summary.with_context(|| format!("importing `{}` into `{target}`", args.from.display()))?;
    crate::output::emit(&format!(
        "imported {tenants} tenants, {members} active members, {deleted} deleted members, \
         {items} resource items into {target}\n"
    ))
    .context("the import was committed, but its summary could not be written")?;
    Ok(Exit::Ok)
}
