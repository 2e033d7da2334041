//! Static checks for `restorectl check`: rules that load but cannot do what
//! their author meant. Warnings, not errors: the policy still evaluates.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::compile::{CompiledPolicy, Cond};
use crate::model::{Condition, Delta, Operand, Segment, Template};
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

/// Every lint code, for `allow:` lists.
pub const CODES: &[&str] = &[
    "blocker_never_fires",
    "blocker_always_fires",
    "redundant_tier_override",
    "unreachable_tier_override",
    "resource_without_outcome",
    "shadowed_exception",
    "exception_without_effect",
    "exception_never_applies",
    "allow_without_effect",
    "warning_never_fires",
    "warning_always_fires",
];

/// The findings of the static checks, and how many a rule's `allow:` took
/// out (so that nothing is hidden silently).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LintReport {
    pub warnings: Vec<Warning>,
    pub allowed: usize,
}

/// Runs every static check on one policy version; findings a rule allows
/// on purpose are left out (see [`lint_report`]).
pub fn lint(policy: &CompiledPolicy) -> Vec<Warning> {
    lint_report(policy).warnings
}

/// [`lint`], with the count of allowed findings; an `allow:` entry that
/// takes out nothing is itself a finding (`allow_without_effect`).
pub fn lint_report(policy: &CompiledPolicy) -> LintReport {
    let source = policy.source();
    let mut report = LintReport::default();
    let mut used: HashSet<(u8, usize, &str)> = HashSet::new();
    for warning in all_findings(policy) {
        // The rule a finding is about: `blockers[i]` or `warnings[i]`.
        let rule = [
            ("blockers[", &source.blockers, 0),
            ("warnings[", &source.warnings, 1),
        ]
        .into_iter()
        .find_map(|(prefix, rules, list)| {
            let i = warning
                .path
                .strip_prefix(prefix)?
                .split(']')
                .next()?
                .parse::<usize>()
                .ok()?;
            Some((list, i, rules.get(i)?))
        });
        let allowed = rule.and_then(|(list, i, rule)| {
            let code = rule.allow.iter().find(|a| &***a == warning.code)?;
            Some((list, i, &**code))
        });
        match allowed {
            Some(key) => {
                used.insert(key);
                report.allowed += 1;
            }
            None => report.warnings.push(warning),
        }
    }
    for (list, key, rules) in [
        (0, "blockers", &source.blockers),
        (1, "warnings", &source.warnings),
    ] {
        for (i, rule) in rules.iter().enumerate() {
            for code in &rule.allow {
                if !used.contains(&(list, i, &**code)) {
                    report.warnings.push(Warning {
                        code: "allow_without_effect",
                        file: source.file.clone(),
                        span: rule.span,
                        path: format!("{key}[{i}].allow"),
                        message: format!(
                            "rule `{}` allows `{code}`, but that finding does not occur",
                            rule.id
                        ),
                    });
                }
            }
        }
    }
    report
}

fn all_findings(policy: &CompiledPolicy) -> Vec<Warning> {
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
            for (tier, cond) in policy.tier_names().iter().zip(&folded) {
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

    // Warning rules whose condition folds to a constant.
    for (i, rule) in source.warnings.iter().enumerate() {
        let folded: Vec<&Cond> = policy
            .tiers
            .iter()
            .filter_map(|t| t.warnings.get(i).map(|w| &w.when))
            .collect();
        let path = format!("warnings[{i}]");
        if folded.iter().all(|c| matches!(c, Cond::Const(false))) {
            out.push(warn(
                "warning_never_fires",
                rule.span,
                path,
                format!("warning `{}` can never fire on any tier", rule.id),
            ));
        } else {
            for (tier, cond) in policy.tier_names().iter().zip(&folded) {
                if matches!(cond, Cond::Const(true)) {
                    out.push(warn(
                        "warning_always_fires",
                        rule.span,
                        path.clone(),
                        format!(
                            "warning `{}` always fires on tier `{tier}`: it tells nothing there",
                            rule.id
                        ),
                    ));
                }
            }
        }
    }

    // Tier overrides that change nothing, or that no rule reads.
    let used = settings_read(policy);
    for tier in &source.tiers {
        let plan = &tier.name;
        let overrides = &tier.overrides;
        for (setting, value, span) in overrides.iter() {
            let Some(decl) = source.setting(setting) else {
                continue;
            };
            let path = format!("tiers.{plan}.{}", decl.name);
            if decl.default.as_ref() == Some(value) {
                out.push(warn(
                    "redundant_tier_override",
                    span,
                    path,
                    format!(
                        "tier `{plan}` sets `{}` to its default `{value}`: the override has no effect",
                        decl.name
                    ),
                ));
            } else if !used.contains(&setting.index()) {
                out.push(warn(
                    "unreachable_tier_override",
                    span,
                    path,
                    format!(
                        "tier `{plan}` overrides `{}`, but no rule reads that setting",
                        decl.name
                    ),
                ));
            }
        }
    }

    // Resources the policy's catalogue names but no rule gives an outcome
    // (format v1: the decision contract's 19).
    let listed: HashSet<&str> = source.resources.iter().map(|r| &*r.resource).collect();
    for name in source.catalogue.iter().flatten() {
        if !listed.contains(&**name) {
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

/// Settings some rule reads, by index: directly, or through a computed
/// fact a rule reads or the decision reports (`restorable_until`).
fn settings_read(policy: &CompiledPolicy) -> HashSet<usize> {
    let source = policy.source();
    let mut used = HashSet::new();
    let mut computed = HashSet::new();
    if let Some(i) = source.restorable_until {
        computed.insert(i);
    }
    for blocker in source.blockers.iter().chain(&source.warnings) {
        condition_reads(&blocker.when, &mut used, &mut computed);
        template_reads(&blocker.message, &mut used, &mut computed);
        template_reads(&blocker.remedy, &mut used, &mut computed);
    }
    for resource in &source.resources {
        for exception in &resource.exceptions {
            condition_reads(&exception.when, &mut used, &mut computed);
        }
    }
    for i in computed {
        if let Some(Delta::Setting(id)) = source.computed.get(usize::from(i)).map(|c| c.delta) {
            used.insert(id.index());
        }
    }
    used
}

fn condition_reads(c: &Condition, settings: &mut HashSet<usize>, computed: &mut HashSet<u16>) {
    match c {
        Condition::All(items) | Condition::Any(items) => {
            for item in items {
                condition_reads(item, settings, computed);
            }
        }
        Condition::Not(inner) => condition_reads(inner, settings, computed),
        Condition::Compare { subject, value, .. } => {
            for operand in [subject, value] {
                match operand {
                    Operand::Setting(s) => {
                        settings.insert(s.index());
                    }
                    Operand::Computed(i) => {
                        computed.insert(*i);
                    }
                    Operand::Fact(_) | Operand::Literal(_) | Operand::Attr(_) => {}
                }
            }
        }
    }
}

fn template_reads(t: &Template, settings: &mut HashSet<usize>, computed: &mut HashSet<u16>) {
    for segment in &t.0 {
        match segment {
            Segment::Setting(s) => {
                settings.insert(s.index());
            }
            Segment::Computed(i) => {
                computed.insert(*i);
            }
            Segment::Fact(_) | Segment::Text(_) | Segment::Attr(_) => {}
        }
    }
}
