//! `eval --explain`: every condition evaluated, with the fact and setting
//! values it saw, so "why was this denied?" has a precise answer.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::compile::CompiledPolicy;
use crate::declarations::{stored, AttrRef, Declarations};
use crate::error::EvaluationError;
use crate::evaluate::{compare, with_bound, Context, View};
use crate::facts::{Facts, Request};
use crate::model::{setting_value, Condition, Operand};
use crate::vocabulary::Value;

/// How each rule of the policy came out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub blockers: Vec<RuleTrace>,
    /// Warning rules, traced like blockers; absent from JSON when the
    /// policy has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RuleTrace>,
    pub resource_exceptions: Vec<ExceptionTrace>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleTrace {
    pub rule: String,
    pub fact: String,
    pub holds: bool,
    pub condition: Trace,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExceptionTrace {
    pub resource: String,
    pub outcome: String,
    pub holds: bool,
    pub condition: Trace,
}

/// One evaluated condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trace {
    All {
        holds: bool,
        of: Vec<Trace>,
    },
    Any {
        holds: bool,
        of: Vec<Trace>,
    },
    Not {
        holds: bool,
        of: Box<Trace>,
    },
    Compare {
        holds: bool,
        /// E.g. `member.deleted_for (23d1h)`.
        subject: String,
        op: &'static str,
        /// E.g. `setting restore_window (30d)` or a literal.
        value: String,
    },
}

impl Trace {
    pub fn holds(&self) -> bool {
        match self {
            Trace::All { holds, .. }
            | Trace::Any { holds, .. }
            | Trace::Not { holds, .. }
            | Trace::Compare { holds, .. } => *holds,
        }
    }

    /// Indented lines, one per condition.
    pub fn write_text(&self, indent: usize, out: &mut String) {
        let pad = "  ".repeat(indent);
        let mark = if self.holds() { "true " } else { "false" };
        match self {
            Trace::All { of, .. } | Trace::Any { of, .. } => {
                let name = if matches!(self, Trace::All { .. }) {
                    "all"
                } else {
                    "any"
                };
                out.push_str(&format!("{pad}[{mark}] {name}:\n"));
                for t in of {
                    t.write_text(indent + 1, out);
                }
            }
            Trace::Not { of, .. } => {
                out.push_str(&format!("{pad}[{mark}] not:\n"));
                of.write_text(indent + 1, out);
            }
            Trace::Compare {
                subject, op, value, ..
            } => out.push_str(&format!("{pad}[{mark}] {subject} {op} {value}\n")),
        }
    }
}

impl CompiledPolicy {
    /// Evaluates every blocker and resource exception of the source rules,
    /// recording the values seen. Gives the same verdicts as [`Self::evaluate`].
    /// Fails as [`Self::evaluate`] does when no decision can be made.
    pub fn explain(
        &self,
        facts: &Facts,
        request: &Request,
        at: DateTime<Utc>,
    ) -> Result<Explanation, EvaluationError> {
        let tier = self.tier(facts)?;
        let decls = &self.source.attributes;
        with_bound(tier, facts, request, |bound| {
            let cx = Context::new(facts, request, at, tier, bound);
            let rule_trace = |b: &crate::model::BlockerRule| {
                let condition = trace(&cx, decls, &b.when);
                RuleTrace {
                    rule: b.id.to_string(),
                    fact: b.fact.to_string(),
                    holds: condition.holds(),
                    condition,
                }
            };
            let blockers = self.source.blockers.iter().map(rule_trace).collect();
            let warnings = self.source.warnings.iter().map(rule_trace).collect();
            let resource_exceptions = self
                .source
                .resources
                .iter()
                .flat_map(|r| {
                    r.exceptions.iter().map(|e| {
                        let condition = trace(&cx, decls, &e.when);
                        ExceptionTrace {
                            resource: r.resource.to_string(),
                            outcome: e.outcome.as_str().to_owned(),
                            holds: condition.holds(),
                            condition,
                        }
                    })
                })
                .collect();
            Explanation {
                blockers,
                warnings,
                resource_exceptions,
            }
        })
    }
}

fn operand<'a>(cx: &Context<'a>, decls: &Declarations, operand: &'a Operand) -> (View<'a>, String) {
    let (view, label) = match operand {
        Operand::Fact(f) => (cx.fact(*f), f.name().to_owned()),
        Operand::Attr(reference) => return attribute(cx, decls, *reference),
        Operand::Computed(i) => {
            let name = cx
                .tier
                .computed
                .get(usize::from(*i))
                .map_or("", |c| &*c.name);
            (cx.computed(*i), name.to_owned())
        }
        Operand::Setting(s) => {
            let value: &'a Value = setting_value(&cx.tier.settings, *s);
            let name = cx.source_setting_name(*s);
            (value.as_view(), format!("setting {name}"))
        }
        Operand::Literal(v) => return (v.as_view(), render(&v.as_view())),
    };
    let text = format!("{label} ({})", render(&view));
    (view, text)
}

/// An attribute or context value as the evaluation bound it:
/// `member.attributes.legal_hold (true)`, or for a value that was absent,
/// `member.attributes.legal_hold = false (absent: default)`.
fn attribute<'a>(cx: &Context<'a>, decls: &Declarations, reference: AttrRef) -> (View<'a>, String) {
    let tier = cx.tier;
    let Some((slot, binding)) = tier
        .bindings
        .iter()
        .enumerate()
        .find(|(_, b)| b.reference == reference)
    else {
        // Folded away in this tier (the condition around it is constant):
        // the evaluation never read it.
        let name = decls.name(reference);
        return (View::Bool(false), format!("{name} (not read in this tier)"));
    };
    let view = cx.slot(u16::try_from(slot).unwrap_or(u16::MAX));
    let text = if stored(cx.facts, cx.request, binding).is_none() {
        format!(
            "{} = {} (absent: default)",
            binding.full_name,
            render(&view)
        )
    } else {
        format!("{} ({})", binding.full_name, render(&view))
    };
    (view, text)
}

fn render(view: &View<'_>) -> String {
    let mut out = String::new();
    let is_list = matches!(view, View::Strings(_) | View::Shared(_));
    view.write(&mut out);
    if is_list {
        format!("[{out}]")
    } else {
        out
    }
}

fn trace(cx: &Context<'_>, decls: &Declarations, condition: &Condition) -> Trace {
    match condition {
        Condition::All(items) => {
            let of: Vec<Trace> = items.iter().map(|c| trace(cx, decls, c)).collect();
            Trace::All {
                holds: of.iter().all(Trace::holds),
                of,
            }
        }
        Condition::Any(items) => {
            let of: Vec<Trace> = items.iter().map(|c| trace(cx, decls, c)).collect();
            Trace::Any {
                holds: of.iter().any(Trace::holds),
                of,
            }
        }
        Condition::Not(inner) => {
            let of = trace(cx, decls, inner);
            Trace::Not {
                holds: !of.holds(),
                of: Box::new(of),
            }
        }
        Condition::Compare {
            subject, op, value, ..
        } => {
            let (left, subject) = operand(cx, decls, subject);
            let (right, value) = operand(cx, decls, value);
            Trace::Compare {
                holds: compare(*op, &left, &right),
                subject,
                op: op.name(),
                value,
            }
        }
    }
}
