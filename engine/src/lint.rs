//! Static checks for `restorectl check`: rules that load but cannot do what
//! their author meant. Warnings, not errors: the policy still evaluates.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::compile::{CompiledPolicy, Cond};
use crate::model::{setting_index, Condition, Operand, Segment, Template};
use crate::vocabulary::Plan;
use crate::vocabulary::{Fact, Setting, KNOWN_RESOURCES};
use crate::yaml::Span;

/// One finding of the static checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Stable id, e.g. `blocker_never_fires`.
    pub code: &'static str,
    pub file: Arc<str>,
    pub span: Span,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: warning[{}] at `{}`: {}",
            self.file, self.span.line, self.span.column, self.code, self.path, self.message
        )
    }
}

/// Runs every static check on one policy version.
pub fn lint(policy: &CompiledPolicy) -> Vec<Warning> {
    let mut out = Vec::new();
    let source = policy.source();
    let warn = |code, span, path: String, message: String| Warning {
        code,
        file: source.file.clone(),
        span,
        path,
        message,
    };

    // Blockers whose condition folds to a constant in every tier.
    for (i, blocker) in source.blockers.iter().enumerate() {
        // Compiled tiers keep the source's blockers, in order.
        let folded: Vec<&Cond> = policy
            .tiers
            .iter()
            .filter_map(|t| t.blockers.get(i).map(|b| &b.when))
            .collect();
        let path = format!("blockers[{i}]");
        if folded.iter().all(|c| matches!(c, Cond::Const(false))) {
            out.push(warn(
                "blocker_never_fires",
                blocker.span,
                path,
                format!("blocker `{}` can never fire on any tier", blocker.id),
            ));
        } else {
            for (tier, cond) in Plan::ALL.iter().zip(&folded) {
                if matches!(cond, Cond::Const(true)) {
                    out.push(warn(
                        "blocker_always_fires",
                        blocker.span,
                        path.clone(),
                        format!(
                            "blocker `{}` always fires on tier `{tier}`: no member can ever be restored there",
                            blocker.id
                        ),
                    ));
                }
            }
        }
    }

    // Tier overrides that change nothing, or that no rule reads.
    let used = settings_read(policy);
    for plan in Plan::ALL {
        let overrides = plan.pick(&source.tiers);
        for setting in Setting::ALL {
            let (Some(value), Some(span)) = (overrides.get(*setting), overrides.span(*setting))
            else {
                continue;
            };
            let path = format!("tiers.{plan}.{}", setting.name());
            if source.defaults.get(*setting) == Some(value) {
                out.push(warn(
                    "redundant_tier_override",
                    span,
                    path,
                    format!(
                        "tier `{plan}` sets `{}` to its default `{value}`: the override has no effect",
                        setting.name()
                    ),
                ));
            } else if !used.contains(&setting_index(*setting)) {
                out.push(warn(
                    "unreachable_tier_override",
                    span,
                    path,
                    format!(
                        "tier `{plan}` overrides `{}`, but no rule reads that setting",
                        setting.name()
                    ),
                ));
            }
        }
    }

    // Resources the decision contract names but the policy gives no outcome.
    let listed: HashSet<&str> = source.resources.iter().map(|r| &*r.resource).collect();
    for name in KNOWN_RESOURCES {
        if !listed.contains(name) {
            out.push(warn(
                "resource_without_outcome",
                source.span,
                "resources".into(),
                format!("resource `{name}` has no outcome"),
            ));
        }
    }

    // Exceptions that cannot change anything.
    for (i, resource) in source.resources.iter().enumerate() {
        let mut shadowed_by: Option<usize> = None;
        for (j, exception) in resource.exceptions.iter().enumerate() {
            let path = format!("resources[{i}].exceptions[{j}]");
            let folded: Vec<&Cond> = policy
                .tiers
                .iter()
                .filter_map(|t| t.resources.get(i)?.exceptions.get(j).map(|e| &e.0))
                .collect();
            if let Some(k) = shadowed_by {
                out.push(warn(
                    "shadowed_exception",
                    resource.span,
                    path,
                    format!("exception is shadowed by exceptions[{k}], which always applies"),
                ));
            } else if exception.outcome == resource.outcome {
                out.push(warn(
                    "exception_without_effect",
                    resource.span,
                    path,
                    format!(
                        "exception gives the resource's own outcome `{}`",
                        resource.outcome.as_str()
                    ),
                ));
            } else if folded.iter().all(|c| matches!(c, Cond::Const(false))) {
                out.push(warn(
                    "exception_never_applies",
                    resource.span,
                    path,
                    "exception can never apply on any tier".into(),
                ));
            }
            if shadowed_by.is_none() && folded.iter().all(|c| matches!(c, Cond::Const(true))) {
                shadowed_by = Some(j);
            }
        }
    }
    out
}

/// Settings some rule reads, by index.
fn settings_read(policy: &CompiledPolicy) -> HashSet<usize> {
    let source = policy.source();
    let mut used = HashSet::new();
    // The decision itself reports `restorable_until` from the window.
    used.insert(setting_index(Setting::RestoreWindow));
    let mut facts = HashSet::new();
    for blocker in &source.blockers {
        condition_reads(&blocker.when, &mut used, &mut facts);
        template_reads(&blocker.message, &mut used, &mut facts);
        template_reads(&blocker.remedy, &mut used, &mut facts);
    }
    for resource in &source.resources {
        for exception in &resource.exceptions {
            condition_reads(&exception.when, &mut used, &mut facts);
        }
    }
    if facts.contains(&Fact::MemberDeletionEndsBy) {
        used.insert(setting_index(Setting::DeletionMaxDuration));
    }
    used
}

fn condition_reads(c: &Condition, settings: &mut HashSet<usize>, facts: &mut HashSet<Fact>) {
    match c {
        Condition::All(items) | Condition::Any(items) => {
            for item in items {
                condition_reads(item, settings, facts);
            }
        }
        Condition::Not(inner) => condition_reads(inner, settings, facts),
        Condition::Compare { subject, value, .. } => {
            for operand in [subject, value] {
                match operand {
                    Operand::Setting(s) => {
                        settings.insert(setting_index(*s));
                    }
                    Operand::Fact(f) => {
                        facts.insert(*f);
                    }
                    Operand::Literal(_) => {}
                }
            }
        }
    }
}

fn template_reads(t: &Template, settings: &mut HashSet<usize>, facts: &mut HashSet<Fact>) {
    for segment in &t.0 {
        match segment {
            Segment::Setting(s) => {
                settings.insert(setting_index(*s));
            }
            Segment::Fact(f) => {
                facts.insert(*f);
            }
            Segment::Text(_) => {}
        }
    }
}
