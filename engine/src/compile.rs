//! [`PolicyFile`] → [`CompiledPolicy`]: settings resolved per tier and folded
//! into the conditions, so evaluation only reads facts.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::decision::{Outcome, PolicyRef, ResourceDecision};
use crate::error::EvaluationError;
use crate::evaluate::resource_decision;
use crate::facts::Facts;
use crate::model::{
    setting_value, Condition, Op, Operand, PolicyFile, Segment, SettingValues, Template,
};
use crate::vocabulary::Plan;
use crate::vocabulary::{Fact, Setting, Value};

/// One policy version, ready to evaluate. Immutable, `Send + Sync`: compile
/// once and share it between threads.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub(crate) source: Arc<PolicyFile>,
    pub(crate) tiers: [CompiledTier; 4],
    /// The declared tiers' names, in declaration order.
    pub(crate) tier_names: Box<[Arc<str>]>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledTier {
    pub(crate) policy: Arc<PolicyRef>,
    /// Resolved settings, indexed like [`Setting::ALL`].
    pub(crate) settings: Vec<Value>,
    pub(crate) restore_window: TimeDelta,
    pub(crate) deletion_max_duration: TimeDelta,
    pub(crate) requires: Arc<[Arc<str>]>,
    pub(crate) blockers: Vec<CompiledBlocker>,
    pub(crate) resources: Vec<CompiledResource>,
    /// Resource names sorted, with their position in `resources`: the
    /// evaluator matches a member's listed items against it.
    pub(crate) resource_index: Vec<(Arc<str>, usize)>,
    /// Every rule's plain outcome, for a member with no listed items and no
    /// exception that holds (see `Decision::resources`).
    pub(crate) plain_resources: Arc<[ResourceDecision]>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledBlocker {
    pub(crate) id: Arc<str>,
    pub(crate) fact: Arc<str>,
    pub(crate) when: Cond,
    pub(crate) message: Vec<Piece>,
    pub(crate) remedy: Vec<Piece>,
    /// Expected rendered lengths ([`capacity_hint`]), to allocate once.
    pub(crate) message_capacity: usize,
    pub(crate) remedy_capacity: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledResource {
    pub(crate) name: Arc<str>,
    pub(crate) outcome: Outcome,
    pub(crate) exceptions: Vec<(Cond, Outcome, Arc<str>)>,
}

/// A condition with settings folded in.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Const(bool),
    All(Box<[Cond]>),
    Any(Box<[Cond]>),
    Not(Box<Cond>),
    Compare(Term, Op, Term),
}

#[derive(Debug, Clone)]
pub(crate) enum Term {
    Fact(Fact),
    Const(Value),
}

/// A piece of a message: text (settings already rendered) or a fact.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Text(String),
    Fact(Fact),
}

impl CompiledPolicy {
    /// Compiles a loaded policy file.
    pub fn compile(source: PolicyFile) -> CompiledPolicy {
        let source = Arc::new(source);
        let tiers = Plan::ALL.map(|plan| compile_tier(&source, plan));
        let tier_names = tiers.iter().map(|t| t.policy.tier.clone()).collect();
        CompiledPolicy {
            source,
            tiers,
            tier_names,
        }
    }

    /// The tiers this policy declares, in declaration order.
    pub fn tier_names(&self) -> &[Arc<str>] {
        &self.tier_names
    }

    /// The compiled tier for a tenant's plan: the tier named exactly so.
    pub(crate) fn tier(&self, facts: &Facts) -> Result<&CompiledTier, EvaluationError> {
        let plan = &*facts.tenant.plan;
        // Few tiers: a linear scan, length first, then bytes.
        self.tiers
            .iter()
            .find(|t| {
                let name: &str = &t.policy.tier;
                name.len() == plan.len() && name == plan
            })
            .ok_or_else(|| EvaluationError::UnknownTier {
                tenant: facts.tenant.id.clone(),
                plan: facts.tenant.plan.clone(),
                policy: Arc::from(self.source.name.as_str()),
                version: Arc::from(self.source.version.as_str()),
                tiers: self.tier_names.join(", "),
            })
    }

    pub fn name(&self) -> &str {
        &self.source.name
    }

    pub fn version(&self) -> &str {
        &self.source.version
    }

    pub fn digest(&self) -> &str {
        &self.source.digest
    }

    pub fn effective_from(&self) -> DateTime<Utc> {
        self.source.effective_from
    }

    /// The rule file this version was loaded from.
    pub fn file(&self) -> &str {
        &self.source.file
    }

    /// The loaded rules, for tooling (coverage, static checks).
    pub fn source(&self) -> &PolicyFile {
        &self.source
    }

    /// The value of `setting` in force for `plan`.
    pub fn setting(&self, plan: Plan, setting: Setting) -> &Value {
        setting_value(&plan.pick(&self.tiers).settings, setting)
    }
}

/// Tier override, else the default (the loader guarantees defaults are complete).
fn resolve(defaults: &SettingValues, tier: &SettingValues, setting: Setting) -> Value {
    tier.get(setting)
        .or_else(|| defaults.get(setting))
        .cloned()
        .unwrap_or(Value::Bool(false))
}

fn compile_tier(source: &PolicyFile, plan: Plan) -> CompiledTier {
    let overrides = plan.pick(&source.tiers);
    let settings: Vec<Value> = Setting::ALL
        .iter()
        .map(|s| resolve(&source.defaults, overrides, *s))
        .collect();
    let duration = |s: Setting| match setting_value(&settings, s) {
        Value::Duration(d) => *d,
        _ => TimeDelta::zero(),
    };
    let restore_window = duration(Setting::RestoreWindow);
    let deletion_max_duration = duration(Setting::DeletionMaxDuration);
    let cond = |c: &Condition| fold(c, &settings);
    let text = |t: &Template| render_settings(t, &settings);
    CompiledTier {
        policy: Arc::new(PolicyRef {
            name: Arc::from(source.name.as_str()),
            version: Arc::from(source.version.as_str()),
            tier: Arc::from(plan.as_str()),
            digest: source.digest.clone(),
        }),
        restore_window,
        deletion_max_duration,
        requires: source.requires.iter().map(|r| r.id.clone()).collect(),
        blockers: source
            .blockers
            .iter()
            .map(|b| {
                let message = text(&b.message);
                let remedy = text(&b.remedy);
                CompiledBlocker {
                    id: b.id.clone(),
                    fact: b.fact.clone(),
                    when: cond(&b.when),
                    message_capacity: capacity_hint(&message),
                    remedy_capacity: capacity_hint(&remedy),
                    message,
                    remedy,
                }
            })
            .collect(),
        resource_index: resource_index(source),
        plain_resources: source
            .resources
            .iter()
            .map(|r| resource_decision(r.resource.clone(), r.outcome, None, None))
            .collect(),
        resources: source
            .resources
            .iter()
            .map(|r| CompiledResource {
                name: r.resource.clone(),
                outcome: r.outcome,
                exceptions: r
                    .exceptions
                    .iter()
                    .map(|e| (cond(&e.when), e.outcome, e.reason.clone()))
                    .collect(),
            })
            .collect(),
        settings,
    }
}

fn resource_index(source: &PolicyFile) -> Vec<(Arc<str>, usize)> {
    let mut index: Vec<(Arc<str>, usize)> = source
        .resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.resource.clone(), i))
        .collect();
    index.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    index
}

/// Rendered length of a message: its text plus a typical width per fact
/// (ids, durations, timestamps are 5 to 25 characters). Only a hint: a longer
/// fact grows the string as usual.
fn capacity_hint(pieces: &[Piece]) -> usize {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.len(),
            Piece::Fact(_) => 24,
        })
        .sum()
}

fn term(operand: &Operand, settings: &[Value]) -> Term {
    match operand {
        Operand::Fact(f) => Term::Fact(*f),
        Operand::Setting(s) => Term::Const(setting_value(settings, *s).clone()),
        Operand::Literal(v) => Term::Const(v.clone()),
    }
}

/// Folds settings into constants, and constant comparisons into `Const`.
fn fold(condition: &Condition, settings: &[Value]) -> Cond {
    match condition {
        Condition::All(items) => {
            let items: Vec<Cond> = items.iter().map(|c| fold(c, settings)).collect();
            if items.iter().any(|c| matches!(c, Cond::Const(false))) {
                return Cond::Const(false);
            }
            let rest: Vec<Cond> = items
                .into_iter()
                .filter(|c| !matches!(c, Cond::Const(true)))
                .collect();
            if rest.is_empty() {
                Cond::Const(true)
            } else {
                Cond::All(rest.into())
            }
        }
        Condition::Any(items) => {
            let items: Vec<Cond> = items.iter().map(|c| fold(c, settings)).collect();
            if items.iter().any(|c| matches!(c, Cond::Const(true))) {
                return Cond::Const(true);
            }
            let rest: Vec<Cond> = items
                .into_iter()
                .filter(|c| !matches!(c, Cond::Const(false)))
                .collect();
            if rest.is_empty() {
                Cond::Const(false)
            } else {
                Cond::Any(rest.into())
            }
        }
        Condition::Not(inner) => match fold(inner, settings) {
            Cond::Const(b) => Cond::Const(!b),
            other => Cond::Not(Box::new(other)),
        },
        Condition::Compare {
            subject, op, value, ..
        } => {
            let left = term(subject, settings);
            let right = term(value, settings);
            if let (Term::Const(a), Term::Const(b)) = (&left, &right) {
                return Cond::Const(crate::evaluate::compare(*op, &a.as_view(), &b.as_view()));
            }
            Cond::Compare(left, *op, right)
        }
    }
}

fn render_settings(template: &Template, settings: &[Value]) -> Vec<Piece> {
    let mut pieces: Vec<Piece> = Vec::new();
    for segment in &template.0 {
        let text = match segment {
            Segment::Text(t) => t.clone(),
            Segment::Setting(s) => setting_value(settings, *s).to_string(),
            Segment::Fact(f) => {
                pieces.push(Piece::Fact(*f));
                continue;
            }
        };
        match pieces.last_mut() {
            Some(Piece::Text(prev)) => prev.push_str(&text),
            _ => pieces.push(Piece::Text(text)),
        }
    }
    pieces
}
