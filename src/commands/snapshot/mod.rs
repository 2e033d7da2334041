//! `restorectl snapshot record | check | accept`: decision snapshots for
//! policy repositories, the insta workflow for admins without a Rust
//! toolchain.
//!
//! `record` evaluates every deleted member of the chosen tenants at `--at`
//! and writes one entry per decision (verdict, blocker ids, resource outcomes
//! with item counts, policy name, version and tier), or `error: <message>`
//! for a member whose decision cannot be made (an unknown tier, a missing
//! or ill-typed attribute), so that a flip between a verdict and an error
//! shows in `check`. `--context NAME=VALUE` values are recorded in the
//! header and used again by `check`. `check` re-evaluates at
//! the recorded time and compares, streaming both sides as a merge in
//! (tenant, member) order: exit 0 unchanged, 1 changed (report on stdout,
//! `FILE.new` beside the file), 2 bad input (nothing written).

mod check;
mod file;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use restore_directory::snapshot::parse_zoned_timestamp;
use restore_directory::DirectoryUrl;
use restore_engine::{CompiledPolicy, PolicySet, Request};

use crate::context_args::ContextArgs;

use crate::changes::DecisionSummary;
use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Evaluate every deleted member and write the decisions to a snapshot file.
    Record(RecordArgs),
    /// Re-evaluate at the recorded time and compare: exit 0 unchanged, 1 changed.
    Check(check::CheckArgs),
    /// Replace FILE with the FILE.new a failed check wrote.
    Accept(check::AcceptArgs),
}

#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Directory of rule files (*.yaml).
    #[arg(long, value_name = "DIR")]
    pub rules: PathBuf,
    /// Policy name; needed only when the rules directory holds several.
    #[arg(long, value_name = "NAME")]
    pub policy: Option<String>,
    /// Directory URL: memory:FILE, sqlite:PATH, postgres://…, plugin:LIB?CONFIG.
    #[arg(long, value_name = "URL")]
    pub directory: String,
    /// Decide as of this time (RFC 3339 with a zone); `check` decides at it again.
    #[arg(long, value_name = "RFC3339", value_parser = parse_zoned_timestamp)]
    pub at: DateTime<Utc>,
    /// Tenants to cover (repeatable); default: every tenant of the directory.
    #[arg(long, value_name = "T")]
    pub tenant: Vec<String>,
    /// The snapshot file to write (replaced whole when the run succeeds).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub context: ContextArgs,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    match args.command {
        Command::Record(args) => record(args),
        Command::Check(args) => check::check(args),
        Command::Accept(args) => check::accept(args),
    }
}

/// The kind of a directory URL, recorded instead of the URL (which may
/// hold a password).
fn directory_kind(url: &str) -> anyhow::Result<&'static str> {
    Ok(match DirectoryUrl::parse(url)? {
        DirectoryUrl::Memory(_) => "memory",
        DirectoryUrl::Sqlite(_) => "sqlite",
        DirectoryUrl::Postgres(_) => "postgres",
        DirectoryUrl::Plugin { .. } => "plugin",
    })
}

/// The policy version in force at `at`.
fn select<'s>(
    set: &'s PolicySet,
    rules: &std::path::Path,
    policy: Option<&str>,
    at: DateTime<Utc>,
) -> anyhow::Result<&'s CompiledPolicy> {
    set.select(policy, None, at)
        .with_context(|| format!("rules `{}`", rules.display()))
}

/// What a snapshot records of `policy`'s decision on `facts`: the
/// decision, or the error that kept it from being made.
fn decide(
    policy: &CompiledPolicy,
    facts: &restore_engine::Facts,
    request: &Request,
    at: DateTime<Utc>,
) -> DecisionSummary {
    match policy.evaluate(facts, request, at) {
        Ok(decision) => DecisionSummary::of(&decision),
        Err(error) => DecisionSummary::failed(&facts.tenant.id, &facts.member.id, policy, &error),
    }
}

fn record(args: RecordArgs) -> anyhow::Result<Exit> {
    let kind = directory_kind(&args.directory)?;
    let set = PolicySet::load_dir(&args.rules)?;
    let policy = select(&set, &args.rules, args.policy.as_deref(), args.at)?;
    let request = args.context.request(policy)?;
    let at = args.at;
    let (entries, tenants) = crate::runtime()?.block_on(async {
        let directory = crate::directory::open_read_only(&args.directory).await?;
        let tenants = crate::sweep::tenants(directory.as_ref(), &args.tenant).await?;
        let header = file::Header {
            format: file::FORMAT.to_owned(),
            tool: file::tool(),
            directory: kind.to_owned(),
            at,
            all_tenants: args.tenant.is_empty(),
            tenants: tenants.clone(),
            policy: policy.name().to_owned(),
            version: policy.version().to_owned(),
            digest: policy.digest().to_owned(),
            context: args.context.context.clone(),
        };
        let mut writer = file::Writer::create(&args.out, &header)?;
        let progress = crate::progress::member_spinner("recording");
        crate::sweep::each_deleted_member(directory.as_ref(), &tenants, |facts| {
            writer.write(&decide(policy, &facts, &request, at))?;
            progress.inc(1);
            Ok(())
        })
        .await?;
        progress.finish_and_clear();
        let entries = writer.entries();
        writer.finish()?;
        anyhow::Ok((entries, tenants.len()))
    })?;
    writeln!(
        std::io::stdout().lock(),
        "recorded {entries} decisions of {tenants} tenants at {} into `{}`",
        restore_engine::vocabulary::format_timestamp(at),
        args.out.display()
    )?;
    Ok(Exit::Ok)
}
