//! What every request shares: the policies (swapped whole on reload), the
//! directory, the tokens, the configuration and the metrics.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use chrono::{DateTime, Utc};
use restore_directory::Directory;
use restore_engine::{CompiledPolicy, Decision, Facts, PolicySet};
use tokio::sync::Semaphore;

use crate::auth::{Caller, Tokens};
use crate::metrics::Metrics;
use crate::problem::Problem;

/// Limits and choices fixed at start-up (`restorectl serve` flags).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The policy to use when a request names none (`--policy`); needed
    /// only when the rules hold several.
    pub default_policy: Option<String>,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub directory_timeout: Duration,
    /// Requests handled at once; more are shed with 503 `overloaded`.
    pub max_concurrency: usize,
    pub max_batch_items: usize,
}

impl ServerConfig {
    /// The policy a request asks for, or `--policy` when it names none.
    pub fn policy_name<'a>(&'a self, asked: Option<&'a str>) -> Option<&'a str> {
        asked.or(self.default_policy.as_deref())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            default_policy: None,
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            directory_timeout: Duration::from_secs(5),
            max_concurrency: 1024,
            max_batch_items: 1000,
        }
    }
}

/// A loaded policy set with what the request path needs precomputed: the
/// versions of each policy in effective-date order, and a blocker counter
/// per rule id. Built once per load or reload, never per request.
pub struct ServedPolicies {
    set: PolicySet,
    /// `(name, indices into set.policies() by effective date)`.
    by_name: Vec<(Box<str>, Vec<usize>)>,
    blocker_counters: HashMap<Arc<str>, metrics::Counter>,
    /// When this set was loaded.
    pub loaded_at: DateTime<Utc>,
}

impl ServedPolicies {
    pub fn new(set: PolicySet, metrics: &Metrics) -> ServedPolicies {
        let mut by_name: Vec<(Box<str>, Vec<usize>)> = Vec::new();
        let mut blocker_counters = HashMap::new();
        // `PolicySet::policies` is sorted by name, then effective date.
        for (index, policy) in set.policies().iter().enumerate() {
            match by_name.last_mut() {
                Some((name, versions)) if **name == *policy.name() => versions.push(index),
                _ => by_name.push((policy.name().into(), vec![index])),
            }
            for blocker in &policy.source().blockers {
                blocker_counters
                    .entry(blocker.id.clone())
                    .or_insert_with(|| metrics.blocker_counter(&blocker.id));
            }
        }
        ServedPolicies {
            set,
            by_name,
            blocker_counters,
            loaded_at: Utc::now(),
        }
    }

    pub fn set(&self) -> &PolicySet {
        &self.set
    }

    /// The version to evaluate with, as [`PolicySet::select`] picks it, but
    /// without allocating on success. Errors come from `PolicySet::select`,
    /// so they read the same as the CLI's.
    pub fn select(
        &self,
        name: Option<&str>,
        version: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<&CompiledPolicy, Problem> {
        self.select_index(name, version, at).map(|i| self.policy(i))
    }

    /// [`ServedPolicies::select`] as an index, for work that outlives a borrow
    /// (a streamed body, a restore's `Decide`).
    pub fn select_index(
        &self,
        name: Option<&str>,
        version: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<usize, Problem> {
        let policies = self.set.policies();
        let versions = match name {
            Some(name) => self.by_name.iter().find(|(n, _)| **n == *name),
            None if self.by_name.len() == 1 => self.by_name.first(),
            None => None,
        };
        let found = versions.and_then(|(_, versions)| match version {
            Some(version) => versions
                .iter()
                .copied()
                .find(|i| policies.get(*i).is_some_and(|p| p.version() == version)),
            None => versions
                .iter()
                .rev()
                .copied()
                .find(|i| policies.get(*i).is_some_and(|p| p.effective_from() <= at)),
        });
        match found {
            Some(index) => Ok(index),
            None => Err(self
                .set
                .select(name, version, at)
                .err()
                .map(Problem::from)
                .unwrap_or_else(Problem::internal)),
        }
    }

    /// The policy at `index` of the set (from [`ServedPolicies::select_index`]).
    #[expect(
        clippy::indexing_slicing,
        reason = "indexes come from `select_index` on this same set, which never changes"
    )]
    pub fn policy(&self, index: usize) -> &CompiledPolicy {
        &self.set.policies()[index]
    }

    /// The version of each policy in force at `at` (for `GET /v1/policies`).
    pub fn in_force(&self, at: DateTime<Utc>) -> impl Iterator<Item = &CompiledPolicy> {
        self.by_name.iter().filter_map(move |(_, versions)| {
            versions
                .iter()
                .rev()
                .filter_map(|i| self.set.policies().get(*i))
                .find(|p| p.effective_from() <= at)
        })
    }

    fn count_blockers(&self, decision: &Decision, metrics: &Metrics) {
        for blocker in &decision.blockers {
            match self.blocker_counters.get(&blocker.rule) {
                Some(counter) => counter.increment(1),
                None => metrics.blocker_counter(&blocker.rule).increment(1),
            }
        }
    }
}

/// Everything the handlers share. Cloning is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The shared part of [`AppState`] (reached through `Deref`).
pub struct Shared {
    /// The policies; a request loads them once and keeps that set to the end.
    pub policies: ArcSwap<ServedPolicies>,
    pub directory: Arc<dyn Directory>,
    /// `None`: no authentication (the server listens on loopback only).
    pub tokens: Option<Tokens>,
    pub config: ServerConfig,
    pub metrics: Metrics,
    /// The last reload's errors while the set in force is older than the
    /// files (shown by `/readyz`); `None` after a good load.
    pub last_reload_error: ArcSwapOption<serde_json::Value>,
    /// Permits for requests in flight (the concurrency limit).
    pub(crate) permits: Arc<Semaphore>,
    /// Reload, shadow evaluation and the decision log.
    pub ops: crate::serverops::ServerOps,
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Where and for whom a decision was made; what [`AppState::observe_decision`] sees.
pub struct DecisionContext<'a> {
    /// The route template, e.g. `/v1/eligibility`.
    pub endpoint: &'static str,
    pub kind: DecisionKind,
    pub caller: &'a Caller,
    /// The acting member the request named, if any.
    pub actor: Option<&'a str>,
    /// The facts the decision was made on; `None` where not at hand (a
    /// restore decides inside the directory's transaction).
    pub facts: Option<&'a Facts>,
    /// The request (batch size, context) the decision was made for.
    pub request: &'a restore_engine::Request,
    /// The `X-Decision-Id` (or batch item id); `None` for streamed lines.
    pub decision_id: Option<&'a str>,
    /// When the request started deciding (for the latency).
    pub started: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionKind {
    /// A read-only decision.
    Decision,
    /// The decision a restore was made (or refused) on.
    Restore,
}

impl AppState {
    pub fn new(
        policies: PolicySet,
        directory: Arc<dyn Directory>,
        tokens: Option<Tokens>,
        config: ServerConfig,
    ) -> AppState {
        AppState::with_ops(policies, directory, tokens, config, Default::default())
    }

    /// [`AppState::new`] with reload, shadow evaluation and a decision log.
    pub fn with_ops(
        policies: PolicySet,
        directory: Arc<dyn Directory>,
        tokens: Option<Tokens>,
        config: ServerConfig,
        ops: crate::serverops::ServerOps,
    ) -> AppState {
        let metrics = Metrics::new(crate::routes::ROUTES, crate::routes::DECISION_ENDPOINTS);
        let policies = ArcSwap::from_pointee(ServedPolicies::new(policies, &metrics));
        let permits = Arc::new(Semaphore::new(
            config.max_concurrency.clamp(1, Semaphore::MAX_PERMITS),
        ));
        AppState(Arc::new(Shared {
            policies,
            directory,
            tokens,
            config,
            metrics,
            last_reload_error: ArcSwapOption::empty(),
            permits,
            ops,
        }))
    }

    /// Replaces the policy set whole; requests already running keep theirs.
    pub fn swap_policies(&self, set: PolicySet) {
        self.policies
            .store(Arc::new(ServedPolicies::new(set, &self.metrics)));
    }

    /// Called once after every decision, by every handler that decides
    /// (`policies` is the set the request ran on). Records the metrics.
    pub fn observe_decision(
        &self,
        ctx: &DecisionContext<'_>,
        policies: &ServedPolicies,
        decision: &Decision,
    ) {
        self.metrics.count_decision(ctx.endpoint, decision.allowed);
        policies.count_blockers(decision, &self.metrics);
        crate::serverops::observe(self, ctx, policies, decision);
    }
}

/// A random 128-bit id as 32 lowercase hex digits (decision ids, request
/// ids). Not a secret, so a fast per-thread generator is enough.
pub fn random_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = include_str!("../../rules/default-restore.v1.yaml");

    fn set_with_versions() -> PolicySet {
        let v2 = V1
            .replace("version: \"1.0.0\"", "version: \"2.0.0\"")
            .replace(
                "effective_from: 2024-11-21T00:00:00Z",
                "effective_from: 2030-01-01T00:00:00Z",
            );
        assert_ne!(v2, V1, "the fixture edit must apply");
        PolicySet::from_sources([("v1.yaml", V1), ("v2.yaml", v2.as_str())]).unwrap()
    }

    #[test]
    fn select_matches_the_engine_and_errors_read_the_same() {
        let metrics = Metrics::new(&[], &[]);
        let served = ServedPolicies::new(set_with_versions(), &metrics);
        let now: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
        let later: DateTime<Utc> = "2031-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(served.select(None, None, now).unwrap().version(), "1.0.0");
        assert_eq!(served.select(None, None, later).unwrap().version(), "2.0.0");
        assert_eq!(
            served
                .select(Some("default-restore"), Some("2.0.0"), now)
                .unwrap()
                .version(),
            "2.0.0"
        );
        for (name, version, at) in [
            (Some("nope"), None, now),
            (None, Some("9"), now),
            (None, None, "2020-01-01T00:00:00Z".parse().unwrap()),
        ] {
            let problem = served.select(name, version, at).unwrap_err();
            let engine = served.set().select(name, version, at).unwrap_err();
            assert_eq!(problem.code, crate::problem::Code::UnknownPolicy);
            assert_eq!(problem.detail.unwrap(), engine.to_string());
        }
        let in_force: Vec<&str> = served.in_force(now).map(|p| p.version()).collect();
        assert_eq!(in_force, ["1.0.0"]);
    }

    #[test]
    fn random_ids_are_32_lowercase_hex_and_differ() {
        let a = random_id();
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, random_id());
    }
}
