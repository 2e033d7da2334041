//! What changed between two decisions on one member, shared by `diff` (two
//! rule versions or tiers) and `snapshot check` (a recorded decision and
//! today's): the comparison, the tallies and their text.
//!
//! A decision is compared by its verdict, its blocker ids and its resource
//! outcomes with item counts; `restorable_until` and message texts are left
//! out, so that a shorter window changes exactly the members it flips.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use restore_engine::decision::Outcome;
use restore_engine::excerpt::needs_escape;
use restore_engine::Decision;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The parts of a decision a comparison looks at; also one entry of a
/// decision snapshot file (`restorectl snapshot`).
///
/// A member whose decision could not be made has `error` set (the
/// evaluation error's message) and no verdict: its entry is written as
/// `tenant`, `member`, `policy`, `version`, `error` only, and `tier`,
/// `allowed`, `blockers` and `resources` are empty placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionSummary {
    pub tenant: String,
    pub member: String,
    pub policy: String,
    pub version: String,
    /// The tier used, as the policy names it.
    pub tier: String,
    pub allowed: bool,
    /// Ids of the blockers that hold, in rule order.
    pub blockers: Vec<String>,
    /// Ids of the warning rules that fire, in rule order; written only when
    /// some fire, so files of policies without warning rules are unchanged.
    pub warnings: Vec<String>,
    /// Outcome (and item counts, when the decision has them) per resource.
    pub resources: BTreeMap<String, ResourceState>,
    /// Why no decision could be made, if so.
    pub error: Option<String>,
}

/// A snapshot entry as written: every field optional, checked on reading.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    tenant: String,
    member: String,
    policy: String,
    version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blockers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resources: Option<BTreeMap<String, ResourceState>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Serialize for DecisionSummary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let decided = self.error.is_none();
        Entry {
            tenant: self.tenant.clone(),
            member: self.member.clone(),
            policy: self.policy.clone(),
            version: self.version.clone(),
            tier: decided.then(|| self.tier.clone()),
            allowed: decided.then_some(self.allowed),
            blockers: decided.then(|| self.blockers.clone()),
            warnings: self.warnings.clone(),
            resources: decided.then(|| self.resources.clone()),
            error: self.error.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for DecisionSummary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let e = Entry::deserialize(d)?;
        if e.error.is_some() && !e.warnings.is_empty() {
            return Err(de::Error::custom("an entry with `error` has no `warnings`"));
        }
        let (tier, allowed, blockers, resources) =
            match (e.tier, e.allowed, e.blockers, e.resources, &e.error) {
                (Some(tier), Some(allowed), Some(blockers), Some(resources), None) => {
                    (tier, allowed, blockers, resources)
                }
                (None, None, None, None, Some(_)) => Default::default(),
                (_, _, _, _, Some(_)) => {
                    return Err(de::Error::custom(
                        "an entry with `error` has no `tier`, `allowed`, `blockers` or `resources`",
                    ))
                }
                (tier, allowed, blockers, resources, None) => {
                    let missing = [
                        ("tier", tier.is_none()),
                        ("allowed", allowed.is_none()),
                        ("blockers", blockers.is_none()),
                        ("resources", resources.is_none()),
                    ]
                    .into_iter()
                    .find(|(_, missing)| *missing)
                    .map_or("tier", |(name, _)| name);
                    return Err(de::Error::missing_field(missing));
                }
            };
        Ok(DecisionSummary {
            tenant: e.tenant,
            member: e.member,
            policy: e.policy,
            version: e.version,
            tier,
            allowed,
            blockers,
            warnings: e.warnings,
            resources,
            error: e.error,
        })
    }
}

impl DecisionSummary {
    pub fn of(d: &Decision) -> DecisionSummary {
        DecisionSummary {
            tenant: d.tenant.to_string(),
            member: d.member.clone(),
            policy: d.policy.name.to_string(),
            version: d.policy.version.to_string(),
            tier: d.policy.tier.to_string(),
            allowed: d.allowed,
            blockers: d.blockers.iter().map(|b| b.rule.to_string()).collect(),
            warnings: d.warnings.iter().map(|w| w.rule.to_string()).collect(),
            resources: d
                .resources
                .iter()
                .map(|r| {
                    let state = ResourceState {
                        outcome: r.outcome,
                        restored: r.restored,
                        not_restored: r.not_restored,
                    };
                    (r.resource.to_string(), state)
                })
                .collect(),
            error: None,
        }
    }

    /// The entry of a member whose decision `policy` could not make.
    pub fn failed(
        tenant: &str,
        member: &str,
        policy: &restore_engine::CompiledPolicy,
        error: &restore_engine::EvaluationError,
    ) -> DecisionSummary {
        DecisionSummary {
            tenant: tenant.to_owned(),
            member: member.to_owned(),
            policy: policy.name().to_owned(),
            version: policy.version().to_owned(),
            tier: String::new(),
            allowed: false,
            blockers: Vec::new(),
            warnings: Vec::new(),
            resources: BTreeMap::new(),
            error: Some(error.to_string()),
        }
    }

    /// `policy version (tier)`.
    fn policy_text(&self) -> String {
        format!("{} {} ({})", self.policy, self.version, self.tier)
    }
}

/// A resource's outcome and item counts. Written as the bare outcome when it
/// has no counts (`member_account: restored`), else as a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceState {
    pub outcome: Outcome,
    pub restored: Option<u32>,
    pub not_restored: Option<u32>,
}

impl ResourceState {
    fn counts(&self) -> (Option<u32>, Option<u32>) {
        (self.restored, self.not_restored)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountedResource {
    outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restored: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_restored: Option<u32>,
}

impl Serialize for ResourceState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.restored.is_none() && self.not_restored.is_none() {
            return self.outcome.serialize(s);
        }
        CountedResource {
            outcome: self.outcome,
            restored: self.restored,
            not_restored: self.not_restored,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ResourceState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StateVisitor;
        impl<'de> Visitor<'de> for StateVisitor {
            type Value = ResourceState;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an outcome, or a mapping with `outcome`, `restored`, `not_restored`")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<ResourceState, E> {
                let outcome = Outcome::parse(text).ok_or_else(|| {
                    E::custom(format!(
                        "unknown outcome `{}`; expected restored, reset, not_restored, \
                         automatic or transfer_dependent",
                        excerpt(text)
                    ))
                })?;
                Ok(ResourceState {
                    outcome,
                    restored: None,
                    not_restored: None,
                })
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<ResourceState, M::Error> {
                let c = CountedResource::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ResourceState {
                    outcome: c.outcome,
                    restored: c.restored,
                    not_restored: c.not_restored,
                })
            }
        }
        d.deserialize_any(StateVisitor)
    }
}

/// How one member's decision changed.
#[derive(Debug, Serialize)]
pub struct MemberChange {
    pub tenant: String,
    pub member: String,
    pub allowed_before: bool,
    pub allowed_after: bool,
    pub blockers_added: Vec<String>,
    pub blockers_removed: Vec<String>,
    /// Warning rules that fire after and not before, and the other way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings_added: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings_removed: Vec<String>,
    pub resources: Vec<ResourceChange>,
    /// `policy version (tier)` before and after, when compared and different.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<(String, String)>,
    /// The evaluation error on either side, when a side has one (a
    /// decision that became an error, or the other way round).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_after: Option<String>,
}

impl MemberChange {
    /// The verdict changed: allowed/denied flipped, or a decision became
    /// an error or an error a decision.
    pub fn verdict_flipped(&self) -> bool {
        self.error_flipped() || self.allowed_before != self.allowed_after
    }

    /// A side decided and the other could not.
    pub fn error_flipped(&self) -> bool {
        self.error_before.is_some() != self.error_after.is_some()
    }
}

/// One resource whose outcome, or whose item counts, changed.
#[derive(Debug, Serialize)]
pub struct ResourceChange {
    pub resource: String,
    /// `None`: the policy on that side has no such resource.
    pub before: Option<Outcome>,
    pub after: Option<Outcome>,
    /// Item counts `(restored, not_restored)` on both sides; set only when
    /// the outcome stayed and the counts did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<[(Option<u32>, Option<u32>); 2]>,
}

/// Whether a comparison also reports a change of policy version or tier
/// (`snapshot check`), or compares decisions only (`diff`, whose two sides
/// differ in policy by construction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyComparison {
    Include,
    Ignore,
}

/// The change from `a` to `b` (the same member), or `None` when equal.
pub fn compare(
    a: &DecisionSummary,
    b: &DecisionSummary,
    policy: PolicyComparison,
) -> Option<MemberChange> {
    if a.error.is_some() || b.error.is_some() {
        if a.error == b.error {
            return None;
        }
        return Some(MemberChange {
            tenant: a.tenant.clone(),
            member: a.member.clone(),
            allowed_before: a.allowed,
            allowed_after: b.allowed,
            blockers_added: Vec::new(),
            blockers_removed: Vec::new(),
            warnings_added: Vec::new(),
            warnings_removed: Vec::new(),
            resources: Vec::new(),
            policy: None,
            error_before: a.error.clone(),
            error_after: b.error.clone(),
        });
    }
    let blockers_added: Vec<String> = b
        .blockers
        .iter()
        .filter(|r| !a.blockers.contains(r))
        .cloned()
        .collect();
    let blockers_removed: Vec<String> = a
        .blockers
        .iter()
        .filter(|r| !b.blockers.contains(r))
        .cloned()
        .collect();
    let warnings_added = not_in(&b.warnings, &a.warnings);
    let warnings_removed = not_in(&a.warnings, &b.warnings);
    let mut resources = Vec::new();
    for (name, before) in &a.resources {
        match b.resources.get(name) {
            Some(after) if after.outcome != before.outcome => resources.push(ResourceChange {
                resource: name.clone(),
                before: Some(before.outcome),
                after: Some(after.outcome),
                counts: None,
            }),
            Some(after) if after.counts() != before.counts() => resources.push(ResourceChange {
                resource: name.clone(),
                before: Some(before.outcome),
                after: Some(after.outcome),
                counts: Some([before.counts(), after.counts()]),
            }),
            Some(_) => {}
            None => resources.push(ResourceChange {
                resource: name.clone(),
                before: Some(before.outcome),
                after: None,
                counts: None,
            }),
        }
    }
    for (name, after) in &b.resources {
        if !a.resources.contains_key(name) {
            resources.push(ResourceChange {
                resource: name.clone(),
                before: None,
                after: Some(after.outcome),
                counts: None,
            });
        }
    }
    let policy = match policy {
        PolicyComparison::Include => {
            let (before, after) = (a.policy_text(), b.policy_text());
            (before != after).then_some((before, after))
        }
        PolicyComparison::Ignore => None,
    };
    if a.allowed == b.allowed
        && blockers_added.is_empty()
        && blockers_removed.is_empty()
        && warnings_added.is_empty()
        && warnings_removed.is_empty()
        && resources.is_empty()
        && policy.is_none()
    {
        return None;
    }
    Some(MemberChange {
        tenant: a.tenant.clone(),
        member: a.member.clone(),
        allowed_before: a.allowed,
        allowed_after: b.allowed,
        blockers_added,
        blockers_removed,
        warnings_added,
        warnings_removed,
        resources,
        policy,
        error_before: None,
        error_after: None,
    })
}

/// The ids of `these` missing from `those`, in `these`' order.
fn not_in(these: &[String], those: &[String]) -> Vec<String> {
    these
        .iter()
        .filter(|id| !those.contains(id))
        .cloned()
        .collect()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Tallies over every member compared.
#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub evaluated: u64,
    pub unchanged: u64,
    pub allowed_to_denied: u64,
    pub denied_to_allowed: u64,
    /// Members whose verdict stayed but whose blockers, resources (or, in a
    /// snapshot check, policy version or tier) changed.
    pub other_changes: u64,
    /// Members with a decision on one side and an evaluation error on the
    /// other (`snapshot check`).
    #[serde(skip_serializing_if = "is_zero")]
    pub decision_to_error: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub error_to_decision: u64,
    /// `resource: from -> to` and how many members it affects.
    pub resource_changes: BTreeMap<String, u64>,
    /// Members in today's directory but not in the snapshot (`snapshot check`).
    #[serde(skip_serializing_if = "is_zero")]
    pub added: u64,
    /// Members in the snapshot but no longer deleted members of the directory.
    #[serde(skip_serializing_if = "is_zero")]
    pub removed: u64,
}

impl Counts {
    /// Counts one evaluated member and its change, if any.
    pub fn tally(&mut self, change: Option<&MemberChange>) {
        self.evaluated += 1;
        let Some(change) = change else {
            self.unchanged += 1;
            return;
        };
        match (&change.error_before, &change.error_after) {
            (None, Some(_)) => self.decision_to_error += 1,
            (Some(_), None) => self.error_to_decision += 1,
            (Some(_), Some(_)) => self.other_changes += 1,
            (None, None) => {}
        }
        if change.error_before.is_some() || change.error_after.is_some() {
            return;
        }
        match (change.allowed_before, change.allowed_after) {
            (true, false) => self.allowed_to_denied += 1,
            (false, true) => self.denied_to_allowed += 1,
            _ => self.other_changes += 1,
        }
        for r in &change.resources {
            *self.resource_changes.entry(resource_key(r)).or_default() += 1;
        }
    }

    /// Whether anything changed at all.
    pub fn any_change(&self) -> bool {
        self.evaluated != self.unchanged || self.added != 0 || self.removed != 0
    }

    /// The tallies, one per line (members added and removed when there are any).
    pub fn write_text(&self, out: &mut String) {
        let mut line = |label: &str, n: u64| {
            out.push_str(&format!("{:<20}{n}\n", format!("{label}:")));
        };
        line("members evaluated", self.evaluated);
        line("unchanged", self.unchanged);
        line("allowed -> denied", self.allowed_to_denied);
        line("denied -> allowed", self.denied_to_allowed);
        line("other changes", self.other_changes);
        if self.decision_to_error != 0 {
            line("decision -> error", self.decision_to_error);
        }
        if self.error_to_decision != 0 {
            line("error -> decision", self.error_to_decision);
        }
        if self.added != 0 {
            line("members added", self.added);
        }
        if self.removed != 0 {
            line("members removed", self.removed);
        }
        for (change, n) in &self.resource_changes {
            out.push_str(&format!("resource {change}: {n}\n"));
        }
    }
}

pub fn verdict(allowed: bool) -> &'static str {
    if allowed {
        "allowed"
    } else {
        "denied"
    }
}

/// `allowed -> denied`, or the verdict alone when it stayed; `error` for
/// a side that could not decide.
pub fn verdict_text(c: &MemberChange) -> String {
    if c.error_before.is_some() || c.error_after.is_some() {
        let side = |error: &Option<String>, allowed| {
            if error.is_some() {
                "error"
            } else {
                verdict(allowed)
            }
        };
        let before = side(&c.error_before, c.allowed_before);
        let after = side(&c.error_after, c.allowed_after);
        return if before == after {
            before.to_owned()
        } else {
            format!("{before} -> {after}")
        };
    }
    if c.verdict_flipped() {
        format!(
            "{} -> {}",
            verdict(c.allowed_before),
            verdict(c.allowed_after)
        )
    } else {
        verdict(c.allowed_after).to_owned()
    }
}

/// `+added -removed` blocker ids.
pub fn blockers_text(c: &MemberChange) -> String {
    added_removed_text(&c.blockers_added, &c.blockers_removed)
}

/// `+added -removed` warning rule ids.
pub fn warnings_text(c: &MemberChange) -> String {
    added_removed_text(&c.warnings_added, &c.warnings_removed)
}

fn added_removed_text(added: &[String], removed: &[String]) -> String {
    let mut ids: Vec<String> = added.iter().map(|b| format!("+{}", escape(b))).collect();
    ids.extend(removed.iter().map(|b| format!("-{}", escape(b))));
    ids.join(" ")
}

fn outcome_text(o: Option<Outcome>) -> &'static str {
    o.map(Outcome::as_str).unwrap_or("none")
}

fn counts_text((restored, not_restored): (Option<u32>, Option<u32>)) -> String {
    let n = |c: Option<u32>| c.map(|c| c.to_string()).unwrap_or_else(|| "-".into());
    format!("restored {}, not restored {}", n(restored), n(not_restored))
}

/// `resource: before -> after`, with item counts when only they changed.
pub fn resource_change_text(r: &ResourceChange) -> String {
    let (before, after) = (outcome_text(r.before), outcome_text(r.after));
    match r.counts {
        Some([a, b]) => format!(
            "{}: {before} ({}) -> {after} ({})",
            escape(&r.resource),
            counts_text(a),
            counts_text(b)
        ),
        None => format!("{}: {before} -> {after}", escape(&r.resource)),
    }
}

/// The key a resource change is tallied under.
fn resource_key(r: &ResourceChange) -> String {
    let (before, after) = (outcome_text(r.before), outcome_text(r.after));
    match r.counts {
        Some(_) => format!("{}: {before} item counts", escape(&r.resource)),
        None => format!("{}: {before} -> {after}", escape(&r.resource)),
    }
}

/// A value for the terminal: control characters (and the backslash that
/// introduces the escapes) are escaped, so an id cannot forge report lines.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_escape(c) || c == '\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// At most 60 characters of a value, escaped, for an error message.
pub fn excerpt(s: &str) -> String {
    const MAX: usize = 60;
    let cut: String = s.chars().take(MAX).collect();
    let mut out = escape(&cut).into_owned();
    if s.chars().count() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(allowed: bool, blockers: &[&str], docs: ResourceState) -> DecisionSummary {
        DecisionSummary {
            tenant: "t".into(),
            member: "m".into(),
            policy: "p".into(),
            version: "1".into(),
            tier: "pro".into(),
            allowed,
            blockers: blockers.iter().map(|b| b.to_string()).collect(),
            warnings: Vec::new(),
            resources: [("documents".to_string(), docs)].into_iter().collect(),
            error: None,
        }
    }

    #[test]
    fn a_warning_rule_that_starts_or_stops_firing_is_a_change() {
        let docs = state(Outcome::Restored, None);
        let before = summary(true, &[], docs);
        let mut after = summary(true, &[], docs);
        after.warnings = vec!["over_seat_count".into()];
        let change = compare(&before, &after, PolicyComparison::Include).expect("a change");
        assert!(!change.verdict_flipped());
        assert_eq!(change.warnings_added, ["over_seat_count"]);
        assert!(change.warnings_removed.is_empty());
        assert_eq!(warnings_text(&change), "+over_seat_count");
        let back = compare(&after, &before, PolicyComparison::Include).expect("a change");
        assert_eq!(warnings_text(&back), "-over_seat_count");
        assert!(compare(&after, &after.clone(), PolicyComparison::Include).is_none());
    }

    #[test]
    fn warnings_are_written_only_when_some_fire_and_read_back() {
        let docs = state(Outcome::Restored, None);
        let quiet = summary(true, &[], docs);
        let text = serde_yaml::to_string(&quiet).expect("yaml");
        assert!(!text.contains("warnings"), "{text}");
        let mut loud = summary(true, &[], docs);
        loud.warnings = vec!["w1".into(), "w2".into()];
        let text = serde_yaml::to_string(&loud).expect("yaml");
        assert!(text.contains("warnings:"), "{text}");
        let back: DecisionSummary = serde_yaml::from_str(&text).expect("read back");
        assert_eq!(back, loud);
    }

    fn state(outcome: Outcome, restored: Option<u32>) -> ResourceState {
        ResourceState {
            outcome,
            restored,
            not_restored: None,
        }
    }

    #[test]
    fn equal_summaries_are_no_change() {
        let a = summary(true, &[], state(Outcome::Restored, None));
        assert!(compare(&a, &a.clone(), PolicyComparison::Include).is_none());
    }

    #[test]
    fn verdict_blockers_outcomes_counts_and_policy_are_compared() {
        let a = summary(true, &["x"], state(Outcome::Restored, Some(2)));
        let mut b = summary(false, &["y"], state(Outcome::Restored, Some(1)));
        b.version = "2".into();
        let c = compare(&a, &b, PolicyComparison::Include).expect("a change");
        assert!(c.verdict_flipped());
        assert_eq!(
            (c.blockers_added, c.blockers_removed),
            (vec!["y".to_string()], vec!["x".to_string()])
        );
        assert_eq!(
            resource_change_text(&c.resources[0]),
            "documents: restored (restored 2, not restored -) -> restored (restored 1, not restored -)"
        );
        assert_eq!(c.policy, Some(("p 1 (pro)".into(), "p 2 (pro)".into())));
        b.blockers = a.blockers.clone();
        b.allowed = true;
        b.resources = a.resources.clone();
        assert!(compare(&a, &b, PolicyComparison::Ignore).is_none());
    }

    #[test]
    fn a_decision_that_becomes_an_error_is_a_flip() {
        let a = summary(true, &[], state(Outcome::Restored, None));
        let mut b = a.clone();
        b.error = Some("`member.attributes.x` is missing".into());
        let c = compare(&a, &b, PolicyComparison::Include).expect("a change");
        assert!(c.verdict_flipped() && c.error_flipped());
        assert_eq!(verdict_text(&c), "allowed -> error");
        let mut counts = Counts::default();
        counts.tally(Some(&c));
        assert_eq!((counts.decision_to_error, counts.allowed_to_denied), (1, 0));
        let back = compare(&b, &a, PolicyComparison::Include).expect("a change");
        assert_eq!(verdict_text(&back), "error -> allowed");
        assert!(compare(&b, &b.clone(), PolicyComparison::Include).is_none());
    }

    #[test]
    fn error_entries_round_trip_without_a_verdict() {
        let mut a = summary(true, &[], state(Outcome::Restored, None));
        let decided = serde_yaml::to_string(&a).unwrap();
        assert!(decided.contains("allowed: true"), "{decided}");
        assert_eq!(
            serde_yaml::from_str::<DecisionSummary>(&decided).unwrap(),
            a
        );
        a.error = Some("boom".into());
        let failed = serde_yaml::to_string(&a).unwrap();
        assert_eq!(
            failed,
            "tenant: t\nmember: m\npolicy: p\nversion: '1'\nerror: boom\n"
        );
        let back: DecisionSummary = serde_yaml::from_str(&failed).unwrap();
        assert_eq!(back.error.as_deref(), Some("boom"));
        assert!(back.blockers.is_empty());
        let mixed = "tenant: t\nmember: m\npolicy: p\nversion: '1'\nallowed: true\nerror: boom\n";
        assert!(serde_yaml::from_str::<DecisionSummary>(mixed).is_err());
        let partial = "tenant: t\nmember: m\npolicy: p\nversion: '1'\ntier: pro\nallowed: true\n";
        let err = serde_yaml::from_str::<DecisionSummary>(partial).unwrap_err();
        assert!(err.to_string().contains("blockers"), "{err}");
    }

    #[test]
    fn escape_defuses_control_characters() {
        assert_eq!(escape("u_bob"), "u_bob");
        assert_eq!(escape("a\u{1b}[2Jb\nDENIED\\"), "a\\u{1b}[2Jb\\nDENIED\\\\");
        assert_eq!(excerpt(&"x".repeat(100)).chars().count(), 61);
    }
}
