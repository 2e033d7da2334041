//! One `restorectl eval`-like decision with Cedar, for whole-process timing:
//! parse flags, load the snapshot file, parse `restore.cedar`, build the
//! request, authorize, print JSON. Exit 0 allowed, 1 denied, 2 error.

// A benchmark: it prints its results and stops loudly on a broken setup.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::process::ExitCode;

use restore_peer_bench::cedar::CedarEngine;
use restore_peer_bench::oneshot::{finish, Args};

fn run() -> anyhow::Result<ExitCode> {
    let args = Args::from_env()?;
    let facts = args.facts()?;
    let cedar = CedarEngine::load_dir(args.policies.as_ref())?;
    Ok(finish(&cedar.verdict(&facts, args.at)?))
}

fn main() -> ExitCode {
    run().unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })
}
