//! What the operations features add to the shared state, and where they
//! hook into the request path: reload (`reload.rs`), shadow evaluation
//! (`shadow.rs`) and the decision log (`decision_log.rs`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use restore_engine::{Decision, PolicySet};

use crate::auth::{Caller, Scope};
use crate::decision_log::{DecisionLog, DecisionRecord, RecordKind};
use crate::problem::{Code, Problem};
use crate::reload::{LiveRules, ReloadFailure, Reloader, Trigger};
use crate::routes::json_response;
use crate::shadow::Shadow;
use crate::state::{random_id, AppState, DecisionContext, DecisionKind, ServedPolicies};

/// Reload, shadow and decision log; each optional (a server built for a
/// test may have none).
#[derive(Debug, Default)]
pub struct ServerOps {
    /// `None`: the rules cannot be reloaded (no folder known).
    pub reloader: Option<Reloader>,
    pub shadow: Option<Shadow>,
    pub decision_log: Option<DecisionLog>,
}

/// Called by `AppState::observe_decision` after every decision: evaluates
/// the shadow version on the same facts, set and time, and queues the
/// decision-log line. Neither changes the answer nor waits.
pub fn observe(
    state: &AppState,
    ctx: &DecisionContext<'_>,
    policies: &ServedPolicies,
    decision: &Decision,
) {
    let ops = &state.ops;
    if ops.shadow.is_none() && ops.decision_log.is_none() {
        return;
    }
    // Streamed lines carry no id of their own; the log still needs one.
    let decision_id = ctx.decision_id.map_or_else(random_id, str::to_owned);
    let shadow = match (&ops.shadow, ctx.facts) {
        (Some(shadow), Some(facts)) => shadow
            .evaluate(
                policies.set(),
                decision,
                facts,
                ctx.request,
                decision.evaluated_at,
                &decision_id,
            )
            .inspect(|verdict| {
                if !verdict.agrees {
                    state.metrics.shadow_disagreements.increment(1);
                }
            }),
        _ => None,
    };
    if let Some(log) = &ops.decision_log {
        let actor = ctx.actor.map(str::to_owned).or_else(|| {
            ctx.facts
                .and_then(|f| f.actor.as_ref())
                .map(|a| a.id.clone())
        });
        log.record(DecisionRecord::new(
            decision_id,
            chrono::Utc::now(),
            match ctx.kind {
                DecisionKind::Decision => RecordKind::Decision,
                DecisionKind::Restore => RecordKind::Restore,
            },
            ctx.endpoint,
            ctx.caller.name.clone(),
            actor,
            decision,
            u64::try_from(ctx.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            shadow.filter(|verdict| !verdict.agrees),
        ));
    }
}

/// The operations' own counters, appended to `/metrics` (Prometheus text):
/// the decision log's written / dropped lines and write errors, shadow
/// evaluations and skips, and whether the last reload succeeded.
pub fn metrics_text(state: &AppState) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
        );
    };
    if let Some(log) = &state.ops.decision_log {
        let stats = log.stats();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        metric(
            "restore_decision_log_written_total",
            "counter",
            "Decision-log lines written.",
            load(&stats.written),
        );
        metric(
            "restore_decision_log_dropped_total",
            "counter",
            "Decision-log lines dropped because the writer's queue was full.",
            load(&stats.dropped),
        );
        metric(
            "restore_decision_log_write_errors_total",
            "counter",
            "Decision-log lines that could not be written.",
            load(&stats.write_errors),
        );
    }
    if let Some(shadow) = &state.ops.shadow {
        metric(
            "restore_shadow_evaluations_total",
            "counter",
            "Decisions also evaluated under the shadow version.",
            shadow.evaluated(),
        );
        metric(
            "restore_shadow_skipped_total",
            "counter",
            "Decisions whose policy has no shadow version loaded.",
            shadow.skipped(),
        );
    }
    if let Some(reloader) = &state.ops.reloader {
        metric(
            "restore_policy_last_reload_successful",
            "gauge",
            "1 if the last rules reload succeeded (or none was tried), else 0.",
            u64::from(reloader.last_successful()),
        );
    }
    out
}

impl LiveRules for AppState {
    fn reloader(&self) -> Option<&Reloader> {
        self.ops.reloader.as_ref()
    }

    fn served_files(&self) -> Vec<(String, String)> {
        self.policies
            .load()
            .set()
            .policies()
            .iter()
            .map(|p| (p.file().to_owned(), p.digest().to_owned()))
            .collect()
    }

    fn replace(&self, set: PolicySet) {
        self.swap_policies(set);
    }

    fn reload_finished(&self, failure: Option<&Arc<ReloadFailure>>) {
        self.metrics.policy_reloads.increment(1);
        match failure {
            Some(failure) => {
                self.metrics.policy_reload_failures.increment(1);
                self.last_reload_error
                    .store(serde_json::to_value(&**failure).ok().map(Arc::new));
            }
            None => self.last_reload_error.store(None),
        }
    }
}

/// `POST /v1/admin/reload` (scope `admin`): 200 with the new versions, or
/// 422 `reload_failed` with every error; the old rules keep serving.
pub(crate) async fn reload_handler(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, Problem> {
    caller.require(Scope::Admin)?;
    if state.ops.reloader.is_none() {
        return Err(Problem::new(
            Code::Unsupported,
            "this server was started without a rules folder to reload",
        ));
    }
    match crate::reload::reload(&state, Trigger::Api).await {
        Ok(policies) => {
            let body = serde_json::json!({ "reloaded": true, "policies": policies });
            Ok(json_response(
                StatusCode::OK,
                body.to_string().into_bytes(),
                None,
            ))
        }
        Err(failure) => {
            let n = failure.errors.len();
            Err(Problem::new(
                Code::ReloadFailed,
                format!(
                    "{n} error{} in the rules; the rules loaded before keep serving",
                    if n == 1 { "" } else { "s" }
                ),
            )
            .with_extension(
                "errors",
                serde_json::to_value(&failure.errors).unwrap_or_default(),
            ))
        }
    }
}

#[cfg(test)]
mod tests;
