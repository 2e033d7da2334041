//! `restorectl import`: load a snapshot file into a SQL directory, in one
//! transaction.

use std::path::PathBuf;

use anyhow::Context;
use restore_directory::{DirectoryUrl, ImportSummary, Snapshot};
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
        let summary: ImportSummary = match &target {
            DirectoryUrl::Sqlite(_) => {
                let directory = SqliteDirectory::connect(&args.to).await?;
                let summary = directory.import(&snapshot).await;
                directory.close().await;
                summary?
            }
            DirectoryUrl::Postgres(url) => {
                let directory = PostgresDirectory::connect(url).await?;
                directory.import(&snapshot).await?
            }
            other => anyhow::bail!(
                "cannot import into `{other}`: the target must be sqlite:PATH or postgres://…"
            ),
        };
        anyhow::Ok(summary)
    });
    let s =
        summary.with_context(|| format!("importing `{}` into `{target}`", args.from.display()))?;
    // Attributes are named only when there are some: the line for a
    // snapshot without them stays as it was.
    let attributes = match s.with_attributes {
        0 => String::new(),
        n => format!(" ({n} with attributes)"),
    };
    crate::output::emit(&format!(
        "imported {} tenants, {} active members, {} deleted members, {} resource items{attributes} \
         into {target}\n",
        s.tenants, s.members, s.deleted_members, s.resource_items
    ))
    .context("the import was committed, but its summary could not be written")?;
    Ok(Exit::Ok)
}
