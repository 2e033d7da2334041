//! `restorectl check --rules DIR`: validate rule files.

use std::path::PathBuf;

use restore_engine::vocabulary::format_timestamp;
use restore_engine::PolicySet;

use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of rule files (*.yaml).
    #[arg(long, value_name = "DIR")]
    pub rules: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let set = PolicySet::load_dir(&args.rules)?;
    for policy in set.policies() {
        println!(
            "ok: {} {} effective {} ({}, {})",
            policy.name(),
            policy.version(),
            format_timestamp(policy.effective_from()),
            policy.file(),
            policy.digest()
        );
    }
    Ok(Exit::Ok)
}
