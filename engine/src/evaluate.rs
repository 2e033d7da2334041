//! Evaluation: compiled policy + facts + request + time → [`Decision`].
//! Pure: no clock, no I/O.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::compile::{CompiledBlocker, CompiledPolicy, CompiledTier, Computed, Cond, Piece, Term};
use crate::decision::{BlockerHit, Decision, Outcome, ResourceDecision, WarningHit};
use crate::declarations::{bind, stored};
use crate::error::EvaluationError;
use crate::facts::ResourceItem;
use crate::facts::{Facts, Request};
use crate::model::Op;
use crate::vocabulary::{write_duration, write_until, Fact, Value, NEVER};

/// A borrowed view of a value, so that reading a fact never allocates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum View<'a> {
    Bool(bool),
    Int(i64),
    Duration(TimeDelta),
    Timestamp(DateTime<Utc>),
    Str(&'a str),
    Strings(&'a [String]),
    Shared(&'a [Arc<str>]),
}

impl Value {
    pub(crate) fn as_view(&self) -> View<'_> {
        match self {
            Value::Bool(b) => View::Bool(*b),
            Value::Int(i) => View::Int(*i),
            Value::Duration(d) => View::Duration(*d),
            Value::Timestamp(t) => View::Timestamp(*t),
            Value::Str(s) => View::Str(s),
            Value::List(l) => View::Shared(l),
        }
    }
}

impl<'a> View<'a> {
    fn list(&self) -> Option<ListIter<'a>> {
        match *self {
            View::Strings(s) => Some(ListIter::Strings(s.iter())),
            View::Shared(s) => Some(ListIter::Shared(s.iter())),
            _ => None,
        }
    }

    pub(crate) fn write(&self, out: &mut String) {
        match *self {
            View::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            View::Int(i) => {
                let _ = write!(out, "{i}");
            }
            View::Duration(d) => write_duration(out, d),
            View::Timestamp(t) => write_until(out, t),
            View::Str(s) => out.push_str(s),
            View::Strings(_) | View::Shared(_) => {
                if let Some(items) = self.list() {
                    for (i, item) in items.enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        out.push_str(item);
                    }
                }
            }
        }
    }
}

enum ListIter<'a> {
    Strings(std::slice::Iter<'a, String>),
    Shared(std::slice::Iter<'a, Arc<str>>),
}

impl<'a> Iterator for ListIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        match self {
            ListIter::Strings(i) => i.next().map(String::as_str),
            ListIter::Shared(i) => i.next().map(|s| &**s),
        }
    }
}

fn order(a: &View<'_>, b: &View<'_>) -> Option<Ordering> {
    match (a, b) {
        (View::Int(a), View::Int(b)) => Some(a.cmp(b)),
        (View::Duration(a), View::Duration(b)) => Some(a.cmp(b)),
        (View::Timestamp(a), View::Timestamp(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn equal(a: &View<'_>, b: &View<'_>) -> bool {
    match (a, b) {
        (View::Bool(a), View::Bool(b)) => a == b,
        (View::Str(a), View::Str(b)) => a == b,
        _ => match (a.list(), b.list()) {
            (Some(a), Some(b)) => a.eq(b),
            _ => order(a, b) == Some(Ordering::Equal),
        },
    }
}

/// Applies an operator. Types were checked at load time; a mismatch here
/// can only come from a bug, and is `false` rather than a panic.
pub(crate) fn compare(op: Op, a: &View<'_>, b: &View<'_>) -> bool {
    match op {
        Op::Is => equal(a, b),
        Op::IsNot => !equal(a, b),
        Op::Lt => order(a, b) == Some(Ordering::Less),
        Op::Lte => matches!(order(a, b), Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => order(a, b) == Some(Ordering::Greater),
        Op::Gte => matches!(order(a, b), Some(Ordering::Greater | Ordering::Equal)),
        Op::In => match (a, b.list()) {
            (View::Str(s), Some(mut items)) => items.any(|i| i == *s),
            _ => false,
        },
        Op::Contains => match (a.list(), b) {
            (Some(mut items), View::Str(s)) => items.any(|i| i == *s),
            _ => false,
        },
        Op::Intersects => match (a.list(), b.list()) {
            (Some(mut left), Some(_)) => {
                left.any(|l| b.list().is_some_and(|mut r| r.any(|x| x == l)))
            }
            _ => false,
        },
        Op::Empty => match (a.list(), b) {
            (Some(mut items), View::Bool(want)) => items.next().is_none() == *want,
            _ => false,
        },
    }
}

/// `t + d`, clamped to the latest representable time: a stored timestamp
/// near the end of chrono's range must not make evaluation panic.
fn saturating_add(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What one evaluation sees.
pub(crate) struct Context<'a> {
    pub(crate) facts: &'a Facts,
    pub(crate) request: &'a Request,
    pub(crate) at: DateTime<Utc>,
    pub(crate) tier: &'a CompiledTier,
    /// `at - deleted_at` and the computed fact the decision reports as
    /// `restorable_until` (format v1: `deleted_at + restore_window`),
    /// computed once: conditions, messages and the decision itself all read
    /// them, and chrono's date arithmetic is a visible part of an evaluation.
    pub(crate) deleted_for: TimeDelta,
    pub(crate) restorable_until: DateTime<Utc>,
    /// `restorable_until` for the decision: none when the policy binds no
    /// computed fact to it or the duration is unlimited.
    pub(crate) restorable_until_reported: Option<DateTime<Utc>>,
    /// The tier's attribute and context values, bound before any condition
    /// runs (`Term::Slot` indexes it); empty when the tier reads none.
    pub(crate) bound: &'a [View<'a>],
}

/// Bound values kept on the stack; a tier reading more goes to the heap.
const INLINE_SLOTS: usize = 16;

/// Binds every attribute and context value `tier` reads (eagerly, so that
/// whether a decision fails never depends on which conditions ran), then
/// calls `f` with them. Fails with the first value that is missing without
/// default, or does not fit its declaration.
pub(crate) fn with_bound<'a, R>(
    tier: &'a CompiledTier,
    facts: &'a Facts,
    request: &'a Request,
    f: impl FnOnce(&[View<'a>]) -> R,
) -> Result<R, EvaluationError> {
    let n = tier.bindings.len();
    let mut inline = [View::Bool(false); INLINE_SLOTS];
    let mut heap: Vec<View<'a>>;
    let slots: &mut [View<'a>] = match inline.get_mut(..n) {
        Some(inline) => inline,
        None => {
            heap = vec![View::Bool(false); n];
            &mut heap
        }
    };
    for (slot, binding) in slots.iter_mut().zip(tier.bindings.iter()) {
        *slot = bind(binding, stored(facts, request, binding), &tier.policy.name)?;
    }
    Ok(f(slots))
}

impl<'a> Context<'a> {
    pub(crate) fn new(
        facts: &'a Facts,
        request: &'a Request,
        at: DateTime<Utc>,
        tier: &'a CompiledTier,
        bound: &'a [View<'a>],
    ) -> Self {
        let mut cx = Context {
            facts,
            request,
            at,
            tier,
            bound,
            deleted_for: at - facts.member.deleted_at,
            restorable_until: NEVER,
            restorable_until_reported: None,
        };
        let reported = tier
            .restorable_until
            .and_then(|i| tier.computed.get(usize::from(i)));
        if let Some(c) = reported {
            cx.restorable_until = cx.computed_value(c);
            cx.restorable_until_reported = (!c.unlimited).then_some(cx.restorable_until);
        }
        cx
    }

    /// A setting's declared name, for explanations.
    pub(crate) fn source_setting_name(&self, id: crate::vocabulary::SettingId) -> &'a str {
        self.tier.setting_names.get(id.index()).map_or("", |n| &**n)
    }

    /// A computed fact's time: its base plus its duration, saturating;
    /// [`NEVER`] (or the earliest time, for `minus`) when unlimited.
    #[inline]
    fn computed_value(&self, c: &Computed) -> DateTime<Utc> {
        // The loader admits only the built-in timestamp facts as a base; read
        // directly rather than through `fact`, which reaches back here.
        let base = match c.base {
            Fact::EvaluationAt => self.at,
            _ => self.facts.member.deleted_at,
        };
        if c.unlimited {
            return if c.delta > TimeDelta::zero() {
                NEVER
            } else {
                DateTime::<Utc>::MIN_UTC
            };
        }
        saturating_add(base, c.delta)
    }

    /// The computed fact at `index` of the tier.
    #[inline]
    pub(crate) fn computed(&self, index: u16) -> View<'a> {
        if self.tier.restorable_until == Some(index) {
            return View::Timestamp(self.restorable_until);
        }
        match self.tier.computed.get(usize::from(index)) {
            Some(c) => View::Timestamp(self.computed_value(c)),
            None => View::Timestamp(NEVER),
        }
    }

    /// The computed fact named `name`, for the built-in names of the v1
    /// prelude's computed facts when a `PolicyFile` built in code uses them
    /// as plain facts (the loader resolves them to computed facts).
    #[cold]
    #[inline(never)]
    fn computed_named(&self, name: &str) -> View<'a> {
        let found = self.tier.computed.iter().position(|c| &*c.name == name);
        match found.and_then(|i| u16::try_from(i).ok()) {
            Some(i) => self.computed(i),
            None => View::Timestamp(NEVER),
        }
    }

    pub(crate) fn fact(&self, fact: Fact) -> View<'a> {
        let f = self.facts;
        match fact {
            Fact::ActorPresent => View::Bool(f.actor.is_some()),
            Fact::ActorId => View::Str(f.actor.as_ref().map_or("", |a| a.id.as_str())),
            Fact::ActorRoles => View::Strings(f.actor.as_ref().map_or(&[], |a| &a.roles[..])),
            Fact::MemberId => View::Str(&f.member.id),
            Fact::MemberReason => View::Str(f.member.reason.as_str()),
            Fact::MemberDeletion => View::Str(f.member.deletion.as_str()),
            Fact::MemberRemovedFromList => View::Bool(f.member.removed_from_list),
            Fact::MemberDeletedAt => View::Timestamp(f.member.deleted_at),
            Fact::MemberDeletedFor => View::Duration(self.deleted_for),
            Fact::MemberRestorableUntil | Fact::MemberDeletionEndsBy => {
                self.computed_named(fact.name())
            }
            Fact::TenantId => View::Str(&f.tenant.id),
            Fact::TenantPlan => View::Str(&f.tenant.plan),
            Fact::SeatsTotal => View::Int(f.tenant.seats_total),
            Fact::SeatsUsed => View::Int(f.tenant.seats_used),
            Fact::SeatsAvailable => View::Int(f.tenant.seats_available()),
            Fact::ConflictsUserId => View::Strings(&f.conflicts.user_id),
            Fact::ConflictsEmail => View::Strings(&f.conflicts.email),
            Fact::ConflictsPhone => View::Strings(&f.conflicts.phone),
            Fact::RequestBatchSize => View::Int(i64::from(self.request.batch_size)),
            Fact::EvaluationAt => View::Timestamp(self.at),
        }
    }

    #[inline(always)]
    pub(crate) fn term<'t>(&self, term: &'t Term) -> View<'t>
    where
        'a: 't,
    {
        match term {
            Term::Fact(f) => self.fact(*f),
            Term::Computed(i) => self.computed(*i),
            Term::Const(v) => v.as_view(),
            // Every slot is bound (compile numbers them densely); were one
            // not, the comparison would see a mismatched type and be false.
            Term::Slot(i) => self.slot(*i),
        }
    }

    pub(crate) fn slot(&self, i: u16) -> View<'a> {
        self.bound
            .get(usize::from(i))
            .copied()
            .unwrap_or(View::Bool(false))
    }

    pub(crate) fn holds(&self, cond: &Cond) -> bool {
        match cond {
            Cond::Const(b) => *b,
            Cond::All(items) => items.iter().all(|c| self.holds(c)),
            Cond::Any(items) => items.iter().any(|c| self.holds(c)),
            Cond::Not(inner) => !self.holds(inner),
            Cond::Compare(a, op, b) => compare(*op, &self.term(a), &self.term(b)),
        }
    }

    /// Renders a message; `capacity` is the compiler's estimate of its
    /// length, so that the string is allocated once rather than grown.
    fn render(&self, pieces: &[Piece], capacity: usize) -> String {
        let mut out = String::with_capacity(capacity);
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Fact(f) => self.fact(*f).write(&mut out),
                Piece::Slot(i) => self.slot(*i).write(&mut out),
                Piece::Computed(i) => self.computed(*i).write(&mut out),
            }
        }
        out
    }
}

impl CompiledPolicy {
    /// Decides on one deleted member at time `at`, refusing a time before the
    /// member's deletion ([`EvaluationError::DeletedAfterEvaluation`]): the
    /// time since deletion would be negative and every window check would
    /// pass. Callers that decide for a user (the CLI, a restore) use this.
    pub fn try_evaluate(
        &self,
        facts: &Facts,
        request: &Request,
        at: DateTime<Utc>,
    ) -> Result<Decision, EvaluationError> {
        if facts.member.deleted_at > at {
            return Err(EvaluationError::DeletedAfterEvaluation {
                member: facts.member.id.clone(),
                deleted_at: facts.member.deleted_at,
                at,
            });
        }
        self.evaluate(facts, request, at)
    }

    /// Decides on one deleted member at time `at`. Every blocker that holds
    /// is reported, and every resource rule gives its outcome.
    ///
    /// Does not check that `at` is at or after the deletion (a deletion
    /// later than `at` gives a negative `member.deleted_for`); use
    /// [`CompiledPolicy::try_evaluate`] for decisions a user acts on.
    ///
    /// Fails when no decision can be made: the tenant's plan is no tier of
    /// the policy ([`EvaluationError::UnknownTier`]).
    pub fn evaluate(
        &self,
        facts: &Facts,
        request: &Request,
        at: DateTime<Utc>,
    ) -> Result<Decision, EvaluationError> {
        let tier = self.tier(facts)?;
        // One branch for a policy without attributes or context.
        if tier.bindings.is_empty() {
            return Ok(decide(&Context::new(facts, request, at, tier, &[])));
        }
        with_bound(tier, facts, request, |bound| {
            decide(&Context::new(facts, request, at, tier, bound))
        })
    }
}

/// A hit for every rule whose condition holds, in rule order. Nothing is
/// allocated when none holds; the first hit allocates once, for at most the
/// rules still to check.
fn rules_that_hold<T>(
    cx: &Context<'_>,
    rules: &[CompiledBlocker],
    hit: impl Fn(&CompiledBlocker) -> T,
) -> Vec<T> {
    let mut hits: Vec<T> = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if !cx.holds(&rule.when) {
            continue;
        }
        if hits.capacity() == 0 {
            hits.reserve_exact(rules.len() - i);
        }
        hits.push(hit(rule));
    }
    hits
}

/// The decision, once the tier is known and its values bound.
fn decide(cx: &Context<'_>) -> Decision {
    let (tier, facts) = (cx.tier, cx.facts);
    let blockers = rules_that_hold(cx, &tier.blockers, |b| BlockerHit {
        rule: b.id.clone(),
        fact: b.fact.clone(),
        code: b.code.clone(),
        message: cx.render(&b.message, b.message_capacity),
        remedy: cx.render(&b.remedy, b.remedy_capacity),
    });
    // Warning rules: the same path, after the blockers; they never
    // change `allowed`, and none declared costs an empty loop.
    let warnings = rules_that_hold(cx, &tier.warnings, |w| WarningHit {
        rule: w.id.clone(),
        fact: w.fact.clone(),
        code: w.code.clone(),
        message: cx.render(&w.message, w.message_capacity),
        remedy: (!w.remedy.is_empty()).then(|| cx.render(&w.remedy, w.remedy_capacity)),
    });
    let resources = resource_decisions(cx);
    Decision {
        tenant: facts.tenant.id.clone(),
        member: facts.member.id.clone(),
        allowed: blockers.is_empty(),
        policy: tier.policy.clone(),
        evaluated_at: cx.at,
        restorable_until: cx.restorable_until_reported,
        blockers,
        warnings,
        requires: tier.requires.clone(),
        resources,
    }
}

/// Rules per tier are few (the default policy has 19); above this many the
/// per-resource item table goes to the heap instead of the stack.
const INLINE_RESOURCES: usize = 32;

/// Every resource rule's outcome, in rule order: the tier's shared table
/// when no rule sees items or an exception, else built for this member.
fn resource_decisions(cx: &Context<'_>) -> Arc<[ResourceDecision]> {
    // Most members list no items; checked before the (rarer) exceptions.
    let plain = cx.facts.member.resources.is_empty()
        && !cx
            .tier
            .resources
            .iter()
            .any(|r| r.exceptions.iter().any(|(when, _, _)| cx.holds(when)));
    if plain {
        return cx.tier.plain_resources.clone();
    }
    built_resource_decisions(cx)
}

/// [`resource_decisions`] for a member with items or an exception.
fn built_resource_decisions(cx: &Context<'_>) -> Arc<[ResourceDecision]> {
    let rules = &cx.tier.resources;
    // Per rule: the member's items, and the first exception that holds.
    // On the stack for the usual handful of rules.
    let mut inline: [Special<'_>; INLINE_RESOURCES] = [Special::NONE; INLINE_RESOURCES];
    let mut heap: Vec<Special<'_>>;
    let special: &mut [Special<'_>] = match inline.get_mut(..rules.len()) {
        Some(inline) => inline,
        None => {
            heap = vec![Special::NONE; rules.len()];
            &mut heap
        }
    };
    // The member's items per rule, found by walking the member's (usually
    // short) resource map once against the tier's sorted name index,
    // instead of one map lookup per rule.
    let mut special_any = false;
    let index = &cx.tier.resource_index;
    for (name, listed) in &cx.facts.member.resources {
        // Every rule of that name: the loader makes names unique, but a
        // PolicyFile built in code may repeat one, and each rule sees the items.
        let first = index.partition_point(|(rule, _)| **rule < **name);
        // `first <= index.len()`, and every position is a rule's.
        let candidates = index.get(first..).unwrap_or_default();
        for (_, position) in candidates.iter().take_while(|(rule, _)| **rule == **name) {
            if let Some(special) = special.get_mut(*position) {
                special.items = Some(listed);
                special_any = true;
            }
        }
    }
    for (rule, special) in rules.iter().zip(special.iter_mut()) {
        special.exception = rule.exceptions.iter().find(|(when, _, _)| cx.holds(when));
        special_any |= special.exception.is_some();
    }
    // Items only of resources no rule names, and no exception: plain.
    if !special_any {
        return cx.tier.plain_resources.clone();
    }
    rules
        .iter()
        .zip(special.iter())
        .map(|(r, special)| {
            let (outcome, reason) = special
                .exception
                .map_or((r.outcome, None), |(_, o, reason)| {
                    (*o, Some(reason.clone()))
                });
            resource_decision(r.name.clone(), outcome, reason, special.items)
        })
        .collect()
}

/// What sets one rule's outcome apart from its plain one for a member.
#[derive(Clone, Copy)]
struct Special<'a> {
    items: Option<&'a [ResourceItem]>,
    exception: Option<&'a (Cond, Outcome, Arc<str>)>,
}

impl Special<'_> {
    const NONE: Self = Special {
        items: None,
        exception: None,
    };
}

/// Item counts: always for transfer-dependent resources; for `restored` and
/// `not_restored` when the directory lists items; never for `reset` and
/// `automatic`, whose items are re-made rather than brought back.
pub(crate) fn resource_decision(
    resource: Arc<str>,
    outcome: Outcome,
    reason: Option<Arc<str>>,
    items: Option<&[ResourceItem]>,
) -> ResourceDecision {
    let mut decision = ResourceDecision::plain(resource, outcome);
    decision.reason = reason;
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    match outcome {
        Outcome::TransferDependent => {
            let items = items.unwrap_or_default();
            let kept = items.iter().filter(|i| i.transferred_to.is_none()).count();
            // Counted first so that the list is allocated once, exactly.
            let transferred = items.len() - kept;
            if transferred > 0 {
                decision.not_restored_items = Vec::with_capacity(transferred);
                decision.not_restored_items.extend(
                    items
                        .iter()
                        .filter(|i| i.transferred_to.is_some())
                        .map(|i| i.id.clone()),
                );
            }
            decision.restored = Some(count(kept));
            decision.not_restored = Some(count(transferred));
        }
        Outcome::Restored => {
            if let Some(items) = items {
                decision.restored = Some(count(items.len()));
                decision.not_restored = Some(0);
            }
        }
        Outcome::NotRestored => {
            if let Some(items) = items {
                decision.restored = Some(0);
                decision.not_restored = Some(count(items.len()));
                decision.not_restored_items = items.iter().map(|i| i.id.clone()).collect();
            }
        }
        Outcome::Reset | Outcome::Automatic => {}
    }
    decision
}
