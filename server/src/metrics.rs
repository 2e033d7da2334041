//! Prometheus metrics (the contract's `restore_*` names), with handles
//! registered up front so that the request path only touches atomics: no
//! registry lookup, no lock, no allocation.
//!
//! The recorder is the server's own, not a process-global one, so two
//! servers in one process (tests) keep separate counts.

use std::collections::HashMap;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

pub const DECISIONS_TOTAL: &str = "restore_decisions_total";
pub const BLOCKERS_TOTAL: &str = "restore_blockers_total";
pub const RESTORES_TOTAL: &str = "restore_restores_total";
pub const HTTP_REQUESTS_TOTAL: &str = "restore_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "restore_http_request_duration_seconds";
pub const HTTP_REQUESTS_IN_FLIGHT: &str = "restore_http_requests_in_flight";
pub const POLICY_RELOADS_TOTAL: &str = "restore_policy_reloads_total";
pub const POLICY_RELOAD_FAILURES_TOTAL: &str = "restore_policy_reload_failures_total";
pub const SHADOW_DISAGREEMENTS_TOTAL: &str = "restore_shadow_disagreements_total";
pub const REQUESTS_SHED_TOTAL: &str = "restore_requests_shed_total";

/// The `endpoint` label of requests that matched no route.
pub const UNMATCHED_ENDPOINT: &str = "unmatched";

/// Statuses whose request counters exist before the first request.
const COMMON_STATUSES: [u16; 15] = [
    200, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 500, 501, 503, 504,
];

const DURATION_BUCKETS: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

const METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// Outcome of a restore, for `restore_restores_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreResult {
    Restored,
    Denied,
    Error,
}

/// The per-route HTTP handles.
#[derive(Clone)]
pub struct RouteMetrics {
    endpoint: &'static str,
    pub duration: Histogram,
    statuses: Vec<(u16, Counter)>,
}

/// Every metric of the server.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    pub in_flight: Gauge,
    pub requests_shed: Counter,
    pub policy_reloads: Counter,
    pub policy_reload_failures: Counter,
    pub shadow_disagreements: Counter,
    restores: [Counter; 3],
    routes: HashMap<&'static str, RouteMetrics>,
    unmatched: RouteMetrics,
    /// `[denied, allowed]` per endpoint; a handful, scanned in order.
    decisions: Vec<(&'static str, [Counter; 2])>,
}

impl Metrics {
    /// Registers every metric; `routes` are the route templates (the
    /// `endpoint` label), `decision_endpoints` those that decide.
    pub fn new(routes: &[&'static str], decision_endpoints: &[&'static str]) -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(HTTP_REQUEST_DURATION.into()),
                &DURATION_BUCKETS,
            )
            // Errs only on an empty list, and DURATION_BUCKETS is not empty.
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        describe(&recorder);
        let counter = |name: &'static str, labels: Vec<Label>| {
            recorder.register_counter(&Key::from_parts(name, labels), &METADATA)
        };
        let route_metrics = |endpoint: &'static str| RouteMetrics {
            endpoint,
            duration: recorder.register_histogram(
                &Key::from_parts(
                    HTTP_REQUEST_DURATION,
                    vec![Label::new("endpoint", endpoint)],
                ),
                &METADATA,
            ),
            statuses: COMMON_STATUSES
                .iter()
                .map(|status| (*status, http_counter(&recorder, endpoint, *status)))
                .collect(),
        };
        let restores = ["restored", "denied", "error"]
            .map(|outcome| counter(RESTORES_TOTAL, vec![Label::new("outcome", outcome)]));
        let decisions = decision_endpoints
            .iter()
            .map(|endpoint| {
                let pair = ["denied", "allowed"].map(|outcome| {
                    counter(
                        DECISIONS_TOTAL,
                        vec![
                            Label::new("outcome", outcome),
                            Label::new("endpoint", *endpoint),
                        ],
                    )
                });
                (*endpoint, pair)
            })
            .collect();
        Metrics {
            in_flight: recorder
                .register_gauge(&Key::from_static_name(HTTP_REQUESTS_IN_FLIGHT), &METADATA),
            requests_shed: counter(REQUESTS_SHED_TOTAL, vec![]),
            policy_reloads: counter(POLICY_RELOADS_TOTAL, vec![]),
            policy_reload_failures: counter(POLICY_RELOAD_FAILURES_TOTAL, vec![]),
            shadow_disagreements: counter(SHADOW_DISAGREEMENTS_TOTAL, vec![]),
            restores,
            routes: routes.iter().map(|r| (*r, route_metrics(r))).collect(),
            unmatched: route_metrics(UNMATCHED_ENDPOINT),
            decisions,
            recorder,
            handle,
        }
    }

    /// The HTTP handles of a route template; `None` for unmatched requests.
    pub fn route(&self, template: Option<&str>) -> &RouteMetrics {
        template
            .and_then(|t| self.routes.get(t))
            .unwrap_or(&self.unmatched)
    }

    /// Counts a request's final status under its route.
    pub fn count_status(&self, route: &RouteMetrics, status: u16) {
        match route.statuses.iter().find(|(s, _)| *s == status) {
            Some((_, counter)) => counter.increment(1),
            // A rare status: registered on first use (the registry's map).
            None => http_counter(&self.recorder, route.endpoint, status).increment(1),
        }
    }

    /// `restore_decisions_total{outcome,endpoint}`.
    pub fn count_decision(&self, endpoint: &'static str, allowed: bool) {
        // Callers pass the route constants, so the pointer usually matches.
        let found = self
            .decisions
            .iter()
            .find(|(e, _)| std::ptr::eq(*e, endpoint) || *e == endpoint);
        match found {
            Some((_, [denied, allowed_counter])) => {
                if allowed { allowed_counter } else { denied }.increment(1)
            }
            None => self
                .recorder
                .register_counter(
                    &Key::from_parts(
                        DECISIONS_TOTAL,
                        vec![
                            Label::new("outcome", if allowed { "allowed" } else { "denied" }),
                            Label::new("endpoint", endpoint),
                        ],
                    ),
                    &METADATA,
                )
                .increment(1),
        }
    }

    /// The counter of `restore_blockers_total{rule}`; callers keep it (the
    /// policy set registers one per blocker id when it is loaded).
    pub fn blocker_counter(&self, rule: &str) -> Counter {
        self.recorder.register_counter(
            &Key::from_parts(BLOCKERS_TOTAL, vec![Label::new("rule", rule.to_owned())]),
            &METADATA,
        )
    }

    pub fn count_restore(&self, result: RestoreResult) {
        let [restored, denied, error] = &self.restores;
        match result {
            RestoreResult::Restored => restored,
            RestoreResult::Denied => denied,
            RestoreResult::Error => error,
        }
        .increment(1);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains histogram samples into their buckets; run it periodically so
    /// that memory stays flat when nobody scrapes `/metrics`.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// How often [`Metrics::run_upkeep`] should run.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

fn http_counter(recorder: &PrometheusRecorder, endpoint: &'static str, status: u16) -> Counter {
    recorder.register_counter(
        &Key::from_parts(
            HTTP_REQUESTS_TOTAL,
            vec![
                Label::new("endpoint", endpoint),
                Label::new("status", SharedString::from(status.to_string())),
            ],
        ),
        &METADATA,
    )
}

fn describe(recorder: &PrometheusRecorder) {
    let counters = [
        (DECISIONS_TOTAL, "Decisions made, by outcome and endpoint."),
        (
            BLOCKERS_TOTAL,
            "Blockers that held in decisions, by rule id.",
        ),
        (RESTORES_TOTAL, "Restore requests, by outcome."),
        (
            HTTP_REQUESTS_TOTAL,
            "HTTP requests, by route template and status.",
        ),
        (POLICY_RELOADS_TOTAL, "Successful policy reloads."),
        (
            POLICY_RELOAD_FAILURES_TOTAL,
            "Policy reloads refused (the old set kept serving).",
        ),
        (
            SHADOW_DISAGREEMENTS_TOTAL,
            "Decisions the shadow policy version would have made differently.",
        ),
        (
            REQUESTS_SHED_TOTAL,
            "Requests refused with 503 because the server was at its concurrency limit.",
        ),
    ];
    for (name, help) in counters {
        recorder.describe_counter(
            KeyName::from_const_str(name),
            None,
            SharedString::const_str(help),
        );
    }
    recorder.describe_histogram(
        KeyName::from_const_str(HTTP_REQUEST_DURATION),
        Some(metrics::Unit::Seconds),
        SharedString::const_str("Time to the response head, by route template."),
    );
    recorder.describe_gauge(
        KeyName::from_const_str(HTTP_REQUESTS_IN_FLIGHT),
        None,
        SharedString::const_str("Requests being handled now."),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_metric_is_exposed_before_the_first_request() {
        let metrics = Metrics::new(&["/v1/eligibility"], &["/v1/eligibility"]);
        let text = metrics.render();
        for name in [
            DECISIONS_TOTAL,
            RESTORES_TOTAL,
            HTTP_REQUESTS_TOTAL,
            HTTP_REQUESTS_IN_FLIGHT,
            POLICY_RELOADS_TOTAL,
            POLICY_RELOAD_FAILURES_TOTAL,
            SHADOW_DISAGREEMENTS_TOTAL,
            REQUESTS_SHED_TOTAL,
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }

    #[test]
    fn counts_land_under_their_labels() {
        let metrics = Metrics::new(&["/v1/eligibility"], &["/v1/eligibility"]);
        let route = metrics.route(Some("/v1/eligibility"));
        metrics.count_status(route, 200);
        metrics.count_status(route, 418);
        metrics.count_status(metrics.route(Some("/raw/path/u_bob")), 404);
        metrics.count_decision("/v1/eligibility", true);
        metrics.count_decision("/v1/eligibility", false);
        metrics.count_decision("/v1/eligibility", false);
        metrics.blocker_counter("window_expired").increment(2);
        metrics.count_restore(RestoreResult::Denied);
        route.duration.record(0.0002);
        let text = metrics.render();
        for line in [
            "restore_http_requests_total{endpoint=\"/v1/eligibility\",status=\"200\"} 1",
            "restore_http_requests_total{endpoint=\"/v1/eligibility\",status=\"418\"} 1",
            "restore_http_requests_total{endpoint=\"unmatched\",status=\"404\"} 1",
            "restore_decisions_total{outcome=\"allowed\",endpoint=\"/v1/eligibility\"} 1",
            "restore_decisions_total{outcome=\"denied\",endpoint=\"/v1/eligibility\"} 2",
            "restore_blockers_total{rule=\"window_expired\"} 2",
            "restore_restores_total{outcome=\"denied\"} 1",
            "restore_http_request_duration_seconds_bucket{endpoint=\"/v1/eligibility\",le=\"0.00025\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("u_bob"), "raw paths must not become labels");
    }
}
