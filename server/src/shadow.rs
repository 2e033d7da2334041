//! Shadow evaluation (`--shadow-version V`): every decision is evaluated a
//! second time under version V of the same policy, on the same facts, the
//! same policy set and the same time. The answer the caller gets never
//! changes; a disagreement (verdict or set of blocker ids) is counted in
//! `restore_shadow_disagreements_total`, logged as a warning and attached to
//! the decision-log line, so an admin sees what a rule change would do to
//! live traffic before it takes effect.
//!
//! Choices where the issue is silent:
//! - "Same policy" is the decision's policy name; a policy set without
//!   version V of that name (e.g. after a reload removed it) skips the shadow
//!   and counts `restore_shadow_skipped_total` instead of failing the request.
//! - Blockers are compared as sets of rule ids: messages may differ between
//!   versions without it being a disagreement.
//! - A decision made under V itself is compared too (it always agrees).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use restore_engine::facts::{Facts, Request};
use restore_engine::{Decision, PolicySet};
use serde::Serialize;

/// What version V said about one decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShadowVerdict {
    pub version: Arc<str>,
    pub allowed: bool,
    pub blockers: Vec<Arc<str>>,
    /// Whether V agrees with the live decision (not part of the log line:
    /// a line carries `shadow` only when it disagrees).
    #[serde(skip)]
    pub agrees: bool,
}

/// The shadow evaluator, shared by every request.
#[derive(Debug)]
pub struct Shadow {
    version: Arc<str>,
    evaluated: AtomicU64,
    disagreements: AtomicU64,
    skipped: AtomicU64,
}

impl Shadow {
    pub fn new(version: impl Into<Arc<str>>) -> Shadow {
        Shadow {
            version: version.into(),
            evaluated: AtomicU64::new(0),
            disagreements: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Start-up check: some policy of `set` has version V (else `serve`
    /// exits 2 rather than shadowing nothing).
    pub fn check_available(&self, set: &PolicySet) -> Result<(), String> {
        if set.policies().iter().any(|p| p.version() == &*self.version) {
            Ok(())
        } else {
            let mut known: Vec<&str> = set.policies().iter().map(|p| p.version()).collect();
            known.dedup();
            Err(format!(
                "--shadow-version `{}` is not a loaded policy version; known: {}",
                self.version,
                known.join(", ")
            ))
        }
    }

    /// Evaluates `facts` under V and compares with `live`; counts and logs a
    /// disagreement. `None` when `set` has no version V of `live`'s policy.
    /// Give it the same `set`, `request` and `at` the live decision used.
    pub fn evaluate(
        &self,
        set: &PolicySet,
        live: &Decision,
        facts: &Facts,
        request: &Request,
        at: DateTime<Utc>,
        decision_id: &str,
    ) -> Option<ShadowVerdict> {
        // A plain scan, not `PolicySet::select`: no allocation per decision.
        let found = set
            .policies()
            .iter()
            .find(|p| p.name() == &*live.policy.name && p.version() == &*self.version);
        let Some(policy) = found else {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                policy = %live.policy.name,
                shadow_version = %self.version,
                "shadow version not loaded for this policy; skipped"
            );
            return None;
        };
        let shadow = match policy.evaluate(facts, request, at) {
            Ok(shadow) => shadow,
            Err(error) => {
                // E.g. the tenant's plan is no tier of the shadow version.
                self.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    decision_id,
                    shadow_version = %self.version,
                    %error,
                    "shadow version cannot decide; skipped"
                );
                return None;
            }
        };
        self.evaluated.fetch_add(1, Ordering::Relaxed);
        let verdict = compare(&self.version, live, &shadow);
        if !verdict.agrees {
            self.disagreements.fetch_add(1, Ordering::Relaxed);
            let live_blockers: Vec<&str> = live.blockers.iter().map(|b| &*b.rule).collect();
            let shadow_blockers: Vec<&str> = verdict.blockers.iter().map(|b| &**b).collect();
            tracing::warn!(
                decision_id,
                tenant = %live.tenant,
                member = %live.member,
                live_version = %live.policy.version,
                live_allowed = live.allowed,
                live_blockers = ?live_blockers,
                shadow_version = %self.version,
                shadow_allowed = verdict.allowed,
                shadow_blockers = ?shadow_blockers,
                "shadow disagreement"
            );
        }
        Some(verdict)
    }

    pub fn evaluated(&self) -> u64 {
        self.evaluated.load(Ordering::Relaxed)
    }

    pub fn disagreements(&self) -> u64 {
        self.disagreements.load(Ordering::Relaxed)
    }

    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

/// The shadow verdict of `shadow` against `live`.
pub fn compare(version: &Arc<str>, live: &Decision, shadow: &Decision) -> ShadowVerdict {
    let mut live_ids: Vec<&str> = live.blockers.iter().map(|b| &*b.rule).collect();
    let mut shadow_ids: Vec<Arc<str>> = shadow.blockers.iter().map(|b| b.rule.clone()).collect();
    live_ids.sort_unstable();
    live_ids.dedup();
    shadow_ids.sort_unstable();
    shadow_ids.dedup();
    let same_blockers = live_ids.len() == shadow_ids.len()
        && live_ids.iter().zip(&shadow_ids).all(|(a, b)| *a == &**b);
    ShadowVerdict {
        version: version.clone(),
        allowed: shadow.allowed,
        agrees: live.allowed == shadow.allowed && same_blockers,
        blockers: shadow_ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{facts, fixture_time, rules_dir};

    /// The default rules plus a v2 that shortens the restore window to one
    /// hour (F3's 20 days in v1), so members deleted days ago flip to denied.
    fn two_versions() -> PolicySet {
        let v1 = std::fs::read_to_string(
            rules_dir().join("../tests/fixtures/rules-v1/default-restore.v1.yaml"),
        )
        .unwrap();
        let v2 = crate::test_support::v2_rules(&v1);
        PolicySet::from_sources([("v1.yaml", v1.as_str()), ("v2.yaml", v2.as_str())]).unwrap()
    }

    #[test]
    fn a_changed_verdict_is_a_disagreement_and_the_live_answer_stands() {
        let set = two_versions();
        let at = fixture_time();
        let live_policy = set.select(None, Some("1.0.0"), at).unwrap();
        let f = facts("acme", "u_bob", Some("u_anna"));
        let live = live_policy.evaluate(&f, &Request::default(), at).unwrap();
        assert!(live.allowed);
        let shadow = Shadow::new("2.0.0");
        let verdict = shadow
            .evaluate(&set, &live, &f, &Request::default(), at, "d1")
            .expect("v2 is loaded");
        assert!(!verdict.agrees);
        assert!(!verdict.allowed);
        assert!(verdict.blockers.iter().any(|b| &**b == "window_expired"));
        assert_eq!(shadow.disagreements(), 1);
        assert_eq!(shadow.evaluated(), 1);
        assert!(live.allowed, "the live decision is untouched");
        let line = serde_json::to_value(&verdict).unwrap();
        assert_eq!(line["version"], "2.0.0");
        assert_eq!(line["allowed"], false);
        assert!(line.get("agrees").is_none());
    }

    #[test]
    fn the_same_verdict_and_blockers_agree() {
        let set = two_versions();
        let at = fixture_time();
        let f = facts("full-pro", "p_gone", Some("p_admin"));
        let live = set
            .select(None, Some("1.0.0"), at)
            .unwrap()
            .evaluate(&f, &Request::default(), at)
            .unwrap();
        let shadow = Shadow::new("1.0.0");
        let verdict = shadow
            .evaluate(&set, &live, &f, &Request::default(), at, "d2")
            .unwrap();
        assert!(verdict.agrees);
        assert_eq!(shadow.disagreements(), 0);
    }

    #[test]
    fn different_blockers_with_the_same_verdict_disagree() {
        let live = crate::test_support::sample_decision();
        let mut other = live.clone();
        other.blockers.truncate(0);
        other.blockers.push(restore_engine::decision::BlockerHit {
            rule: Arc::from("some_other_rule"),
            fact: Arc::from("F1"),
            message: String::new(),
            remedy: String::new(),
            code: None,
        });
        let verdict = compare(&Arc::from("x"), &live, &other);
        assert!(!verdict.agrees);
        assert_eq!(verdict.allowed, live.allowed);
    }

    #[test]
    fn a_missing_version_skips_and_is_reported_at_start() {
        let set = crate::test_support::policy_set();
        let live = crate::test_support::sample_decision();
        let shadow = Shadow::new("9.9.9");
        let f = facts("full-pro", "p_gone", Some("p_admin"));
        assert!(shadow
            .evaluate(&set, &live, &f, &Request::default(), fixture_time(), "d3")
            .is_none());
        assert_eq!(shadow.skipped(), 1);
        let err = shadow.check_available(&set).unwrap_err();
        assert!(err.contains("9.9.9") && err.contains("1.0.0"), "{err}");
        assert!(Shadow::new("1.0.0").check_available(&set).is_ok());
    }
}
