//! `restorectl diff`: impact analysis of a rule change. Every deleted member
//! is evaluated under both sides (two policy versions, or two tiers) and the
//! members whose decision changes are listed, with counts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use restore_directory::snapshot::parse_zoned_timestamp;
use restore_engine::decision::Outcome;
use restore_engine::facts::Plan;
use restore_engine::vocabulary::format_timestamp;
use restore_engine::{CompiledPolicy, Decision, PolicySet, Request};
use serde::Serialize;

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
    /// Evaluate the "before" side as if every tenant were on this tier.
    #[arg(long, value_name = "TIER", value_parser = parse_plan)]
    pub from_tier: Option<Plan>,
    /// Evaluate the "after" side as if every tenant were on this tier.
    #[arg(long, value_name = "TIER", value_parser = parse_plan)]
    pub to_tier: Option<Plan>,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
}

fn parse_plan(text: &str) -> Result<Plan, String> {
    text.parse().map_err(|e| format!("{e}"))
}

/// One side of the comparison.
#[derive(Debug, Serialize)]
struct Side {
    policy: String,
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tier: Option<Plan>,
}

#[derive(Debug, Default, Serialize)]
struct Counts {
    evaluated: u64,
    unchanged: u64,
    allowed_to_denied: u64,
    denied_to_allowed: u64,
    /// Members whose verdict stayed but whose blockers or resources changed.
    other_changes: u64,
    /// `resource: from -> to` and how many members it affects.
    resource_changes: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
struct MemberChange {
    tenant: String,
    member: String,
    allowed_before: bool,
    allowed_after: bool,
    blockers_added: Vec<String>,
    blockers_removed: Vec<String>,
    resources: Vec<ResourceChange>,
}

#[derive(Debug, Serialize)]
struct ResourceChange {
    resource: String,
    before: Outcome,
    after: Outcome,
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
    let runtime = crate::runtime()?;
    let impact = runtime.block_on(async {
        let directory = crate::directory::open_read_only(&args.directory).await?;
        let tenants = if args.tenant.is_empty() {
            directory.tenants().await?
        } else {
            args.tenant.clone()
        };
        let mut impact = Impact {
            at,
            from: side(before, args.from_tier),
            to: side(after, args.to_tier),
            counts: Counts::default(),
            changes: Vec::new(),
        };
        let progress = crate::progress::member_spinner("comparing");
        for tenant in &tenants {
            let mut members = directory.deleted_members(tenant, None);
            while let Some(facts) = members.next().await {
                let mut facts = facts?;
                let plan = facts.tenant.plan;
                facts.tenant.plan = args.from_tier.unwrap_or(plan);
                let a = before.evaluate(&facts, &Request::default(), at);
                facts.tenant.plan = args.to_tier.unwrap_or(plan);
                let b = after.evaluate(&facts, &Request::default(), at);
                record(&mut impact, a, b);
                progress.inc(1);
            }
        }
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
    print!("{out}");
    Ok(Exit::Ok)
}

fn side(policy: &CompiledPolicy, tier: Option<Plan>) -> Side {
    Side {
        policy: policy.name().to_owned(),
        version: policy.version().to_owned(),
        tier,
    }
}

fn record(impact: &mut Impact, a: Decision, b: Decision) {
    let counts = &mut impact.counts;
    counts.evaluated += 1;
    let ids =
        |d: &Decision| -> Vec<String> { d.blockers.iter().map(|x| x.rule.to_string()).collect() };
    let (before, after) = (ids(&a), ids(&b));
    let added: Vec<String> = after
        .iter()
        .filter(|r| !before.contains(r))
        .cloned()
        .collect();
    let removed: Vec<String> = before
        .iter()
        .filter(|r| !after.contains(r))
        .cloned()
        .collect();
    let mut resources = Vec::new();
    for r in a.resources.iter() {
        let other = b.resource(&r.resource).map(|o| o.outcome);
        if let Some(other) = other.filter(|o| *o != r.outcome) {
            resources.push(ResourceChange {
                resource: r.resource.to_string(),
                before: r.outcome,
                after: other,
            });
        }
    }
    for change in &resources {
        *counts
            .resource_changes
            .entry(format!(
                "{}: {} -> {}",
                change.resource,
                change.before.as_str(),
                change.after.as_str()
            ))
            .or_default() += 1;
    }
    match (a.allowed, b.allowed) {
        (true, false) => counts.allowed_to_denied += 1,
        (false, true) => counts.denied_to_allowed += 1,
        _ if added.is_empty() && removed.is_empty() && resources.is_empty() => {
            counts.unchanged += 1;
            return;
        }
        _ => counts.other_changes += 1,
    }
    impact.changes.push(MemberChange {
        tenant: a.tenant.to_string(),
        member: a.member,
        allowed_before: a.allowed,
        allowed_after: b.allowed,
        blockers_added: added,
        blockers_removed: removed,
        resources,
    });
}

fn verdict(allowed: bool) -> &'static str {
    if allowed {
        "allowed"
    } else {
        "denied"
    }
}

fn side_text(s: &Side) -> String {
    match s.tier {
        Some(tier) => format!("{} {} as {tier}", s.policy, s.version),
        None => format!("{} {}", s.policy, s.version),
    }
}

fn impact_text(i: &Impact) -> String {
    let c = &i.counts;
    let mut out = format!(
        "impact of {} -> {} at {}\n",
        side_text(&i.from),
        side_text(&i.to),
        format_timestamp(i.at)
    );
    out.push_str(&format!("members evaluated:  {}\n", c.evaluated));
    out.push_str(&format!("unchanged:          {}\n", c.unchanged));
    out.push_str(&format!("allowed -> denied:  {}\n", c.allowed_to_denied));
    out.push_str(&format!("denied -> allowed:  {}\n", c.denied_to_allowed));
    out.push_str(&format!("other changes:      {}\n", c.other_changes));
    for (change, n) in &c.resource_changes {
        out.push_str(&format!("resource {change}: {n}\n"));
    }
    if i.changes.is_empty() {
        return out;
    }
    let rows: Vec<[String; 5]> = i
        .changes
        .iter()
        .map(|m| {
            let mut blockers: Vec<String> =
                m.blockers_added.iter().map(|b| format!("+{b}")).collect();
            blockers.extend(m.blockers_removed.iter().map(|b| format!("-{b}")));
            let resources: Vec<String> = m
                .resources
                .iter()
                .map(|r| {
                    format!(
                        "{}: {} -> {}",
                        r.resource,
                        r.before.as_str(),
                        r.after.as_str()
                    )
                })
                .collect();
            [
                m.tenant.clone(),
                m.member.clone(),
                format!(
                    "{} -> {}",
                    verdict(m.allowed_before),
                    verdict(m.allowed_after)
                ),
                blockers.join(" "),
                resources.join("; "),
            ]
        })
        .collect();
    let header = ["TENANT", "MEMBER", "DECISION", "BLOCKERS", "RESOURCES"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
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
