//! `restorectl`: may a deleted directory member be restored, and what comes back?
//!
//! Exit codes: 0 allowed (or success), 1 denied, 2 bad input or usage.

mod changes;
mod commands;
mod context_args;
mod directory;
mod junit;
mod output;
mod policy_args;
mod progress;
mod sweep;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "restorectl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate rule files; exit 0, or 2 with diagnostics.
    Check(commands::check::Args),
    /// Decide on one deleted member.
    Eval(commands::eval::Args),
    /// Decide on every deleted member of a tenant, one decision per line.
    EvalAll(commands::eval_all::Args),
    /// Load a snapshot file into a sqlite: or postgres:// directory.
    Import(commands::import::Args),
    /// Restore one deleted member (exit 1 and nothing changed when denied).
    Restore(commands::restore::Args),
    /// Print the JSON Schema of rule files (for editors).
    Schema(commands::schema::Args),
    /// Run rule test files; report failures and rule coverage.
    Test(commands::test::Args),
    /// Impact of a rule change: who changes between two versions or tiers.
    Diff(commands::diff::Args),
    /// Decision snapshots: record, check against the rules, accept changes.
    Snapshot(commands::snapshot::Args),
    /// Run the decision service (HTTP) until SIGTERM/SIGINT.
    Serve(commands::serve::Args),
}

/// What a command asks `main` to exit with.
pub enum Exit {
    /// 0: allowed, or the command succeeded.
    Ok,
    /// 1: the decision was a denial (it has been printed).
    Denied,
    /// 2: the command went on past errors it has reported (e.g. `eval-all`
    /// with members whose decision could not be made).
    Failed,
}

/// A runtime for the adapters' async calls; the engine itself is synchronous.
/// Current-thread: every command awaits one call or one stream at a time, so
/// worker threads would only add start-up time; the plugin adapter's
/// blocking calls still go to tokio's blocking pool (`spawn_blocking`).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Most lines, and characters per line, of an error report.
const REPORT_LINES: usize = 20;
const REPORT_LINE_CHARS: usize = 400;

/// Prints an error on stderr, kept short and inert whatever it quotes:
/// at most [`REPORT_LINES`] lines of [`REPORT_LINE_CHARS`] characters, control
/// characters escaped. (Messages quote only excerpts already; this is the
/// net for sources we do not control, e.g. a database driver's message.)
fn report_error(message: &str) {
    let mut lines = message.lines();
    let mut out = String::from("restorectl: ");
    for (i, line) in lines.by_ref().take(REPORT_LINES).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&restore_engine::excerpt::clip(line, REPORT_LINE_CHARS));
    }
    if lines.next().is_some() {
        out.push_str("\n…");
    }
    out.push('\n');
    // Nothing more can be done if stderr itself fails.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), out.as_bytes());
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // Usage errors: one line on stderr, as for any bad input.
            let message = e.to_string();
            let reason = message.lines().next().unwrap_or("usage error");
            let reason = reason.trim_start_matches("error: ");
            report_error(&format!("{reason} (see --help)"));
            return ExitCode::from(2);
        }
    };
    // `serve` sets up its own logging (`--log-format`, default level info).
    if !matches!(cli.command, Command::Serve(_)) {
        if let Err(reason) = restore_server::init_tracing(restore_server::LogFormat::Text, "off") {
            report_error(&reason);
            return ExitCode::from(2);
        }
    }
    let result = match cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::EvalAll(args) => commands::eval_all::run(args),
        Command::Import(args) => commands::import::run(args),
        Command::Restore(args) => commands::restore::run(args),
        Command::Schema(args) => commands::schema::run(args),
        Command::Test(args) => commands::test::run(args),
        Command::Diff(args) => commands::diff::run(args),
        Command::Snapshot(args) => commands::snapshot::run(args),
        Command::Serve(args) => commands::serve::run(args),
    };
    match result {
        Ok(Exit::Ok) => ExitCode::SUCCESS,
        Ok(Exit::Denied) => ExitCode::from(1),
        Ok(Exit::Failed) => ExitCode::from(2),
        Err(e) => {
            report_error(&format!("{e:#}"));
            ExitCode::from(2)
        }
    }
}
