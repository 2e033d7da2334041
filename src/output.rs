//! Rendering decisions as JSON, YAML or text. All three carry the same fields.

use std::fmt::Write as _;

use restore_engine::decision::Decision;
use restore_engine::explain::Explanation;
use restore_engine::vocabulary::format_timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Json,
    Yaml,
    Text,
}

/// Renders any serialisable value as JSON or YAML; `text` falls back to YAML
/// for values that have no text form of their own.
pub fn render_value<T: serde::Serialize>(
    value: &T,
    format: OutputFormat,
) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Json => {
            let mut out = serde_json::to_string_pretty(value)?;
            out.push('\n');
            out
        }
        OutputFormat::Yaml | OutputFormat::Text => serde_yaml::to_string(value)?,
    })
}

pub fn render_decision(decision: &Decision, format: OutputFormat) -> anyhow::Result<String> {
    match format {
        OutputFormat::Text => Ok(decision_text(decision)),
        other => render_value(decision, other),
    }
}

/// A human-readable decision.
pub fn decision_text(d: &Decision) -> String {
    let mut out = String::new();
    let verdict = if d.allowed { "ALLOWED" } else { "DENIED" };
    let _ = writeln!(
        out,
        "{verdict}: restore `{}` in tenant `{}`",
        d.member, d.tenant
    );
    let _ = writeln!(
        out,
        "policy:           {} {} (tier {}, {})",
        d.policy.name, d.policy.version, d.policy.tier, d.policy.digest
    );
    let _ = writeln!(
        out,
        "evaluated at:     {}",
        format_timestamp(d.evaluated_at)
    );
    let _ = writeln!(
        out,
        "restorable until: {}",
        format_timestamp(d.restorable_until)
    );
    if d.blockers.is_empty() {
        let _ = writeln!(out, "blockers:         none");
    } else {
        let _ = writeln!(out, "blockers:");
        for b in &d.blockers {
            let _ = writeln!(out, "  - {} ({}): {}", b.rule, b.fact, b.message);
            let _ = writeln!(out, "    remedy: {}", b.remedy);
        }
    }
    let requires: Vec<&str> = d.requires.iter().map(|r| &**r).collect();
    let _ = writeln!(out, "requires:         {}", requires.join(", "));
    let _ = writeln!(out, "resources:");
    let width = d
        .resources
        .iter()
        .map(|r| r.resource.len())
        .max()
        .unwrap_or(0);
    for r in d.resources.iter() {
        let _ = write!(out, "  {:width$}  {}", r.resource, r.outcome.as_str());
        if let (Some(restored), Some(not_restored)) = (r.restored, r.not_restored) {
            let _ = write!(out, " (restored {restored}, not restored {not_restored}");
            if !r.not_restored_items.is_empty() {
                let _ = write!(out, ": {}", r.not_restored_items.join(", "));
            }
            out.push(')');
        }
        if let Some(reason) = &r.reason {
            let _ = write!(out, " - {reason}");
        }
        out.push('\n');
    }
    out
}

/// Every blocker and exception condition with the values it saw.
pub fn explanation_text(e: &Explanation) -> String {
    let mut out = String::from("explanation:\n");
    for rule in &e.blockers {
        let verdict = if rule.holds { "HOLDS" } else { "does not hold" };
        let _ = writeln!(out, "  blocker {} ({}): {verdict}", rule.rule, rule.fact);
        rule.condition.write_text(2, &mut out);
    }
    for exception in &e.resource_exceptions {
        let verdict = if exception.holds {
            "APPLIES"
        } else {
            "does not apply"
        };
        let _ = writeln!(
            out,
            "  exception {} -> {}: {verdict}",
            exception.resource, exception.outcome
        );
        exception.condition.write_text(2, &mut out);
    }
    out
}
