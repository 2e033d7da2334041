//! `restorectl diff`: impact analysis of a rule change. Every deleted member
//! is evaluated under both sides (two policy versions, or two tiers) and the
//! members whose decision changes are listed, with counts.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use restore_directory::snapshot::parse_zoned_timestamp;
use restore_engine::excerpt::Escaped;
use restore_engine::vocabulary::format_timestamp;
use restore_engine::{CompiledPolicy, Decision, PolicySet};
use serde::Serialize;

use crate::changes::{self, Counts, DecisionSummary, MemberChange, PolicyComparison};
use crate::context_args::ContextArgs;
use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of rule files (*.yaml) holding both versions.
    #[arg(long, value_name = "DIR")]
    pub rules: PathBuf,
    #[arg(long, value_name = "NAME")]
    pub policy: Option<String>,
    /// Version before the change; default: the one in force at `--at`.
    #[arg(long, value_name = "VERSION")]
    pub from: Option<String>,
    /// Version after the change; default: the one in force at `--at`.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Evaluate the "before" side as if every tenant were on this tier (any
    /// tier the "before" version declares).
    #[arg(long, value_name = "TIER")]
    pub from_tier: Option<String>,
    /// Evaluate the "after" side as if every tenant were on this tier (any
    /// tier the "after" version declares).
    #[arg(long, value_name = "TIER")]
    pub to_tier: Option<String>,
    #[arg(long, value_name = "URL")]
    pub directory: String,
    /// Tenants to cover (repeatable); default: every tenant.
    #[arg(long, value_name = "T")]
    pub tenant: Vec<String>,
    /// Decide as of this time (RFC 3339 with a zone); default: now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_zoned_timestamp)]
    pub at: Option<DateTime<Utc>>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: DiffFormat,
    #[command(flatten)]
    pub context: ContextArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
}

/// `--from-tier`/`--to-tier`: a tier `policy` declares, as its shared name.
fn declared_tier(
    flag: &str,
    policy: &CompiledPolicy,
    tier: Option<&str>,
) -> anyhow::Result<Option<Arc<str>>> {
    let Some(tier) = tier else { return Ok(None) };
    match policy.tier_names().iter().find(|t| &***t == tier) {
        Some(name) => Ok(Some(name.clone())),
        None => anyhow::bail!(
            "{flag}: `{}` is not a tier of policy `{}` {} (tiers: {})",
            Escaped(tier),
            Escaped(policy.name()),
            Escaped(policy.version()),
            policy.tier_names().join(", ")
        ),
    }
}

/// One side of the comparison.
#[derive(Debug, Serialize)]
struct Side {
    policy: String,
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tier: Option<Arc<str>>,
}

#[derive(Debug, Serialize)]
struct Impact {
    at: DateTime<Utc>,
    from: Side,
    to: Side,
    counts: Counts,
    changes: Vec<MemberChange>,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let at = args.at.unwrap_or_else(Utc::now);
    let set = PolicySet::load_dir(&args.rules)?;
    let pick = |version: &Option<String>| {
        set.select(args.policy.as_deref(), version.as_deref(), at)
            .with_context(|| format!("rules `{}`", args.rules.display()))
    };
    let before = pick(&args.from)?;
    let after = pick(&args.to)?;
    // Typed by whichever side declares each name (a new version may add one).
    let request = args.context.request_for(&[before, after])?;
    let from_tier = declared_tier("--from-tier", before, args.from_tier.as_deref())?;
    let to_tier = declared_tier("--to-tier", after, args.to_tier.as_deref())?;
    let runtime = crate::runtime()?;
    let impact = runtime.block_on(async {
        let directory = crate::directory::open_read_only(&args.directory).await?;
        let tenants = crate::sweep::tenants(directory.as_ref(), &args.tenant).await?;
        let mut impact = Impact {
            at,
            from: side(before, from_tier.clone()),
            to: side(after, to_tier.clone()),
            counts: Counts::default(),
            changes: Vec::new(),
        };
        let progress = crate::progress::member_spinner("comparing");
        crate::sweep::each_deleted_member(directory.as_ref(), &tenants, |mut facts| {
            let plan = facts.tenant.plan.clone();
            facts.tenant.plan = from_tier.clone().unwrap_or_else(|| plan.clone());
            let a = before.try_evaluate(&facts, &request, at)?;
            facts.tenant.plan = to_tier.clone().unwrap_or_else(|| plan.clone());
            let b = after.try_evaluate(&facts, &request, at)?;
            record(&mut impact, &a, &b);
            progress.inc(1);
            Ok(())
        })
        .await?;
        progress.finish_and_clear();
        anyhow::Ok(impact)
    })?;
    let out = match args.output {
        DiffFormat::Json => {
            let mut s = serde_json::to_string_pretty(&impact)?;
            s.push('\n');
            s
        }
        DiffFormat::Text => impact_text(&impact),
    };
    crate::output::emit(&out)?;
    Ok(Exit::Ok)
}

fn side(policy: &CompiledPolicy, tier: Option<Arc<str>>) -> Side {
    Side {
        policy: policy.name().to_owned(),
        version: policy.version().to_owned(),
        tier,
    }
}

fn record(impact: &mut Impact, a: &Decision, b: &Decision) {
    let change = changes::compare(
        &DecisionSummary::of(a),
        &DecisionSummary::of(b),
        PolicyComparison::Ignore,
    );
    impact.counts.tally(change.as_ref());
    impact.changes.extend(change);
}

fn side_text(s: &Side) -> String {
    match &s.tier {
        Some(tier) => format!(
            "{} {} as {}",
            Escaped(&s.policy),
            Escaped(&s.version),
            Escaped(tier)
        ),
        None => format!("{} {}", Escaped(&s.policy), Escaped(&s.version)),
    }
}

fn impact_text(i: &Impact) -> String {
    let mut out = format!(
        "impact of {} -> {} at {}\n",
        side_text(&i.from),
        side_text(&i.to),
        format_timestamp(i.at)
    );
    i.counts.write_text(&mut out);
    if i.changes.is_empty() {
        return out;
    }
    let rows: Vec<[String; 5]> = i
        .changes
        .iter()
        .map(|m| {
            let resources: Vec<String> = m
                .resources
                .iter()
                .map(changes::resource_change_text)
                .collect();
            [
                changes::escape(&m.tenant).into_owned(),
                changes::escape(&m.member).into_owned(),
                changes::verdict_text(m),
                changes::blockers_text(m),
                resources.join("; "),
            ]
        })
        .collect();
    let header = ["TENANT", "MEMBER", "DECISION", "BLOCKERS", "RESOURCES"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    out.push('\n');
    for row in std::iter::once(header.map(String::from)).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
