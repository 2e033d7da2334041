//! [`PolicyFile`] → [`CompiledPolicy`]: settings resolved per tier and folded
//! into the conditions, so evaluation only reads facts.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::decision::{Code, Outcome, PolicyRef, ResourceDecision};
use crate::declarations::{Binding, Declarations};
use crate::error::EvaluationError;
use crate::evaluate::resource_decision;
use crate::facts::Facts;
use crate::model::{
    setting_value, BlockerRule, Condition, Delta, Op, Operand, PolicyFile, Segment, SettingDecl,
    SettingValues, Template, TierDecl,
};
use crate::vocabulary::{Fact, SettingId, Value, UNLIMITED};

/// One policy version, ready to evaluate. Immutable, `Send + Sync`: compile
/// once and share it between threads.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub(crate) source: Arc<PolicyFile>,
    /// One per declared tier, in declaration order.
    pub(crate) tiers: Box<[CompiledTier]>,
    /// The declared tiers' names, in declaration order.
    pub(crate) tier_names: Box<[Arc<str>]>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledTier {
    pub(crate) policy: Arc<PolicyRef>,
    /// Resolved settings, one per declared setting (by `SettingId`).
    pub(crate) settings: Vec<Value>,
    /// The declared settings' names (shared by every tier), for tools.
    pub(crate) setting_names: Arc<[Arc<str>]>,
    /// The computed facts with their duration folded for this tier.
    pub(crate) computed: Box<[Computed]>,
    /// Position in `computed` of the decision's `restorable_until`.
    pub(crate) restorable_until: Option<u16>,
    pub(crate) requires: Arc<[Arc<str>]>,
    pub(crate) blockers: Vec<CompiledBlocker>,
    /// Warning rules, compiled as blockers are (an empty `remedy`: none).
    pub(crate) warnings: Vec<CompiledBlocker>,
    pub(crate) resources: Vec<CompiledResource>,
    /// Resource names sorted, with their position in `resources`: the
    /// evaluator matches a member's listed items against it.
    pub(crate) resource_index: Vec<(Arc<str>, usize)>,
    /// Every rule's plain outcome, for a member with no listed items and no
    /// exception that holds (see `Decision::resources`).
    pub(crate) plain_resources: Arc<[ResourceDecision]>,
    /// The attribute and context values this tier's rules read, sorted by
    /// scope, then name; `Term::Slot(i)` reads the `i`th. Bound before any
    /// condition runs; empty for a policy without attributes (no cost).
    pub(crate) bindings: Box<[Binding]>,
}

/// A computed fact on one tier: `base` plus `delta` (negative for `minus`).
#[derive(Debug, Clone)]
pub(crate) struct Computed {
    pub(crate) name: Arc<str>,
    pub(crate) base: Fact,
    pub(crate) delta: TimeDelta,
    /// `delta` is unlimited: the time is `NEVER` (or the earliest, minus).
    pub(crate) unlimited: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledBlocker {
    pub(crate) id: Arc<str>,
    pub(crate) fact: Arc<str>,
    pub(crate) code: Option<Code>,
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
    /// A computed fact, by position in `CompiledTier::computed`.
    Computed(u16),
    Const(Value),
    /// A bound attribute or context value: an index into the binding
    /// array of the evaluation ([`CompiledTier::bindings`]).
    Slot(u16),
}

/// A piece of a message: text (settings already rendered) or a fact.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Text(String),
    Fact(Fact),
    Computed(u16),
    /// A bound attribute or context value, as [`Term::Slot`].
    Slot(u16),
}

impl CompiledPolicy {
    /// Compiles a loaded policy file.
    pub fn compile(source: PolicyFile) -> CompiledPolicy {
        let source = Arc::new(source);
        let tiers: Box<[CompiledTier]> = source
            .tiers
            .iter()
            .map(|tier| compile_tier(&source, tier))
            .collect();
        let tier_names = source.tiers.iter().map(|t| t.name.clone()).collect();
        CompiledPolicy {
            source,
            tiers,
            tier_names,
        }
    }

    /// The `default` of the requirement `id` (e.g. the root department a
    /// restore uses when the caller names none), if the policy gives one.
    pub fn requirement_default(&self, id: &str) -> Option<&str> {
        self.source
            .requires
            .iter()
            .find(|r| &*r.id == id)?
            .default
            .as_deref()
    }

    /// The tiers this policy declares, in declaration order.
    pub fn tier_names(&self) -> &[Arc<str>] {
        &self.tier_names
    }

    /// The tier a plan no tier names falls to, if the policy declares one.
    pub fn default_tier(&self) -> Option<&str> {
        let i = usize::from(self.source.default_tier?);
        self.tier_names.get(i).map(|n| &**n)
    }

    /// Position of the tier for a tenant's plan: the tier named exactly so
    /// (case and all), else the default tier, else none.
    pub fn tier_id(&self, plan: &str) -> Option<usize> {
        // Few tiers: a linear scan, length first, then bytes.
        self.tier_names
            .iter()
            .position(|name| name.len() == plan.len() && **name == *plan)
            .or_else(|| self.source.default_tier.map(usize::from))
    }

    /// The compiled tier for a tenant's plan (see [`Self::tier_id`]).
    pub(crate) fn tier(&self, facts: &Facts) -> Result<&CompiledTier, EvaluationError> {
        let plan = &*facts.tenant.plan;
        self.tier_id(plan)
            .and_then(|i| self.tiers.get(i))
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

    /// The value of the setting named `name` in force on the tier named
    /// `tier`; none for a tier or setting the policy does not declare.
    pub fn setting(&self, tier: &str, name: &str) -> Option<&Value> {
        let i = self.tier_names.iter().position(|n| &**n == tier)?;
        let tier = self.tiers.get(i)?;
        let id = self.source.setting_id(name)?;
        tier.settings.get(id.index())
    }
}

/// Tier override, else the declared default (the loader guarantees that a
/// setting without default is set by every tier).
fn resolve(decl: &SettingDecl, tier: &SettingValues, id: SettingId) -> Value {
    tier.get(id)
        .or(decl.default.as_ref())
        .cloned()
        .unwrap_or(Value::Bool(false))
}

fn compile_tier(source: &PolicyFile, tier: &TierDecl) -> CompiledTier {
    let overrides = &tier.overrides;
    let settings: Vec<Value> = source
        .settings
        .iter()
        .enumerate()
        .map(|(i, decl)| resolve(decl, overrides, SettingId(u16::try_from(i).unwrap_or(0))))
        .collect();
    let computed = source
        .computed
        .iter()
        .map(|c| {
            let delta = match c.delta {
                Delta::Literal(d) => d,
                Delta::Setting(id) => match setting_value(&settings, id) {
                    Value::Duration(d) => *d,
                    _ => TimeDelta::zero(),
                },
            };
            Computed {
                name: c.name.clone(),
                base: c.base,
                unlimited: delta == UNLIMITED,
                delta: if c.minus { -delta } else { delta },
            }
        })
        .collect();
    let decls = &source.attributes;
    let cond = |c: &Condition| fold(c, &settings, decls);
    let text = |t: &Template| render_settings(t, &settings, decls);
    let rule = |b: &BlockerRule| {
        let message = text(&b.message);
        let remedy = text(&b.remedy);
        CompiledBlocker {
            id: b.id.clone(),
            fact: b.fact.clone(),
            code: b.code.clone(),
            when: cond(&b.when),
            message_capacity: capacity_hint(&message),
            remedy_capacity: capacity_hint(&remedy),
            message,
            remedy,
        }
    };
    let mut tier = CompiledTier {
        policy: Arc::new(PolicyRef {
            name: Arc::from(source.name.as_str()),
            version: Arc::from(source.version.as_str()),
            tier: tier.name.clone(),
            digest: source.digest.clone(),
        }),
        computed,
        setting_names: source.settings.iter().map(|s| s.name.clone()).collect(),
        restorable_until: source.restorable_until,
        requires: source.requires.iter().map(|r| r.id.clone()).collect(),
        blockers: source.blockers.iter().map(&rule).collect(),
        warnings: source.warnings.iter().map(&rule).collect(),
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
        bindings: Box::default(),
    };
    bind_slots(&mut tier, decls);
    tier
}

/// Numbers the attribute and context values the tier's compiled rules
/// still read (folding may have dropped some) and fills
/// [`CompiledTier::bindings`]: slots from [`fold`] hold dense declaration
/// numbers, and become positions in the binding list.
fn bind_slots(tier: &mut CompiledTier, decls: &Declarations) {
    if decls.is_empty() {
        return;
    }
    let mut used: Vec<u16> = Vec::new();
    let mut note = |slot: &mut u16| used.push(*slot);
    for b in tier.blockers.iter_mut().chain(tier.warnings.iter_mut()) {
        visit_cond(&mut b.when, &mut note);
        visit_pieces(&mut b.message, &mut note);
        visit_pieces(&mut b.remedy, &mut note);
    }
    for r in &mut tier.resources {
        for (when, _, _) in &mut r.exceptions {
            visit_cond(when, &mut note);
        }
    }
    used.sort_unstable();
    used.dedup();
    let mut renumber = |slot: &mut u16| {
        // Every slot was noted above.
        if let Ok(position) = used.binary_search(slot) {
            *slot = u16::try_from(position).unwrap_or(u16::MAX);
        }
    };
    for b in tier.blockers.iter_mut().chain(tier.warnings.iter_mut()) {
        visit_cond(&mut b.when, &mut renumber);
        visit_pieces(&mut b.message, &mut renumber);
        visit_pieces(&mut b.remedy, &mut renumber);
    }
    for r in &mut tier.resources {
        for (when, _, _) in &mut r.exceptions {
            visit_cond(when, &mut renumber);
        }
    }
    tier.bindings = used
        .iter()
        .filter_map(|global| {
            let reference = decls.by_global(usize::from(*global))?;
            Some(Binding {
                reference,
                full_name: Arc::from(decls.name(reference)),
                decl: decls.get(reference)?.clone(),
            })
        })
        .collect();
}

fn visit_cond(cond: &mut Cond, f: &mut impl FnMut(&mut u16)) {
    match cond {
        Cond::Const(_) => {}
        Cond::All(items) | Cond::Any(items) => {
            for item in items.iter_mut() {
                visit_cond(item, f);
            }
        }
        Cond::Not(inner) => visit_cond(inner, f),
        Cond::Compare(a, _, b) => {
            for term in [a, b] {
                if let Term::Slot(slot) = term {
                    f(slot);
                }
            }
        }
    }
}

fn visit_pieces(pieces: &mut [Piece], f: &mut impl FnMut(&mut u16)) {
    for piece in pieces {
        if let Piece::Slot(slot) = piece {
            f(slot);
        }
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
            Piece::Fact(_) | Piece::Computed(_) | Piece::Slot(_) => 24,
        })
        .sum()
}

/// The dense number of an attribute reference, as a provisional slot
/// ([`bind_slots`] renumbers it).
fn slot(reference: crate::declarations::AttrRef, decls: &Declarations) -> u16 {
    u16::try_from(decls.global(reference)).unwrap_or(u16::MAX)
}

fn term(operand: &Operand, settings: &[Value], decls: &Declarations) -> Term {
    match operand {
        Operand::Fact(f) => Term::Fact(*f),
        Operand::Computed(i) => Term::Computed(*i),
        Operand::Attr(r) => Term::Slot(slot(*r, decls)),
        Operand::Setting(s) => Term::Const(setting_value(settings, *s).clone()),
        Operand::Literal(v) => Term::Const(v.clone()),
    }
}

/// Folds settings into constants, and constant comparisons into `Const`.
fn fold(condition: &Condition, settings: &[Value], decls: &Declarations) -> Cond {
    match condition {
        Condition::All(items) => {
            let items: Vec<Cond> = items.iter().map(|c| fold(c, settings, decls)).collect();
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
            let items: Vec<Cond> = items.iter().map(|c| fold(c, settings, decls)).collect();
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
        Condition::Not(inner) => match fold(inner, settings, decls) {
            Cond::Const(b) => Cond::Const(!b),
            other => Cond::Not(Box::new(other)),
        },
        Condition::Compare {
            subject, op, value, ..
        } => {
            let left = term(subject, settings, decls);
            let right = term(value, settings, decls);
            if let (Term::Const(a), Term::Const(b)) = (&left, &right) {
                return Cond::Const(crate::evaluate::compare(*op, &a.as_view(), &b.as_view()));
            }
            Cond::Compare(left, *op, right)
        }
    }
}

fn render_settings(template: &Template, settings: &[Value], decls: &Declarations) -> Vec<Piece> {
    let mut pieces: Vec<Piece> = Vec::new();
    for segment in &template.0 {
        let text = match segment {
            Segment::Text(t) => t.clone(),
            Segment::Setting(s) => setting_value(settings, *s).to_string(),
            Segment::Fact(f) => {
                pieces.push(Piece::Fact(*f));
                continue;
            }
            Segment::Computed(i) => {
                pieces.push(Piece::Computed(*i));
                continue;
            }
            Segment::Attr(r) => {
                pieces.push(Piece::Slot(slot(*r, decls)));
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
