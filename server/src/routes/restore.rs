//! `POST /v1/tenants/{tenant}/members/{member}/restore`: restore one member
//! in the directory's single transaction, deciding at the server's clock.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use restore_directory::{Receipt, RestoreOutcome, RestoreRequest};
use restore_engine::facts::Facts;
use restore_engine::Decision;
use serde::Deserialize;

use crate::auth::{Caller, Scope};
use crate::body::{parse_json, JsonBytes};
use crate::decide::{evaluate, write_decision, EvaluationError};
use crate::metrics::RestoreResult;
use crate::problem::{Code, Problem};
use crate::routes::{directory_call, json_response, path_problem, RESTORE};
use crate::state::{random_id, AppState, DecisionContext, DecisionKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreBody {
    actor: String,
    /// Absent: the policy's default for its `department` requirement.
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    policy_version: Option<String>,
    /// Refused when present: a write decides at the server's clock.
    #[serde(default)]
    at: Option<serde::de::IgnoredAny>,
    /// Request context values the policy declares (`request.context.NAME`).
    #[serde(default)]
    context: restore_engine::facts::Attributes,
}

pub(super) async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, Problem> {
    let started = Instant::now();
    caller.require(Scope::Restore)?;
    let Path((tenant, member)) = path.map_err(path_problem)?;
    caller.require_tenant(&tenant)?;
    let body: RestoreBody = parse_json(&body)?;
    if body.at.is_some() {
        return Err(Problem::new(
            Code::InvalidRequest,
            "`at`: a restore decides at the server's clock; remove `at` (ask /v1/eligibility for other times)",
        ));
    }
    if body
        .department
        .as_deref()
        .is_some_and(|d| d.trim().is_empty())
    {
        return Err(Problem::new(
            Code::DepartmentRequired,
            "`department` is blank: a restore needs a department (F8)",
        ));
    }
    let now = Utc::now();
    let policies = state.policies.load_full();
    let index = policies.select_index(
        state.config.policy_name(body.policy.as_deref()),
        body.policy_version.as_deref(),
        now,
    )?;
    let department = match body.department.as_deref() {
        Some(given) => given.trim().to_owned(),
        None => policies
            .policy(index)
            .requirement_default("department")
            .map(str::to_owned)
            .ok_or_else(|| {
                Problem::new(
                    Code::DepartmentRequired,
                    "`department` is required: the policy gives no default department",
                )
            })?,
    };
    // Names checked against the version in force now; the values are
    // typed when the transaction decides.
    let context = crate::decide::request(policies.policy(index), &body.context)?;
    let request_context = context.clone();
    // `Decide` is a 'static trait object, so the closure owns the set. It
    // reads the clock itself: the decision is made when the facts have been
    // read under the transaction's locks, however long those took to get,
    // with the version in force at that moment (a window that closed while
    // waiting for a lock closes the restore too).
    let served = Arc::clone(&policies);
    let policy_name = state
        .config
        .policy_name(body.policy.as_deref())
        .map(str::to_owned);
    let policy_version = body.policy_version.clone();
    // The facts the transaction decided on, kept for shadow evaluation.
    let seen: Arc<std::sync::Mutex<Option<Facts>>> = Arc::default();
    let keep = state.ops.shadow.is_some().then(|| Arc::clone(&seen));
    let decide = move |facts: &Facts| -> Result<Decision, EvaluationError> {
        if let Some(Ok(mut slot)) = keep.as_ref().map(|k| k.lock()) {
            *slot = Some(facts.clone());
        }
        let at = Utc::now();
        let index = served
            .select_index(policy_name.as_deref(), policy_version.as_deref(), at)
            // Time only moves on, so a version in force a moment ago still
            // has one in force now; kept as the fallback all the same.
            .unwrap_or(index);
        evaluate(served.policy(index), facts, &context, at)
    };
    let request = RestoreRequest {
        tenant,
        member,
        actor: body.actor,
        department,
        // The request time, for the adapter's records; the decision has its own.
        at: now,
    };
    let outcome = directory_call(&state, state.directory.apply_restore(&request, &decide)).await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(problem) => {
            state.metrics.count_restore(RestoreResult::Error);
            tracing::warn!(
                tenant = request.tenant,
                member = request.member,
                actor = request.actor,
                token = &*caller.name,
                %problem,
                "restore failed"
            );
            return Err(problem);
        }
    };
    let decision_id = random_id();
    let (decision, result) = match &outcome {
        RestoreOutcome::Restored(receipt) => (&receipt.decision, RestoreResult::Restored),
        RestoreOutcome::Denied(decision) => (decision, RestoreResult::Denied),
    };
    state.metrics.count_restore(result);
    tracing::info!(
        tenant = request.tenant,
        member = request.member,
        actor = request.actor,
        token = &*caller.name,
        restored = result == RestoreResult::Restored,
        blockers = decision.blockers.len(),
        "restore"
    );
    let facts = seen.lock().ok().and_then(|mut slot| slot.take());
    state.observe_decision(
        &DecisionContext {
            endpoint: RESTORE,
            kind: DecisionKind::Restore,
            caller: &caller,
            actor: Some(&request.actor),
            facts: facts.as_ref(),
            request: &request_context,
            decision_id: Some(&decision_id),
            started,
        },
        &policies,
        decision,
    );
    let mut out = Vec::with_capacity(2048);
    let status = match &outcome {
        RestoreOutcome::Restored(receipt) => {
            write_receipt(&mut out, receipt);
            StatusCode::OK
        }
        RestoreOutcome::Denied(decision) => {
            write_decision(&mut out, decision);
            StatusCode::CONFLICT
        }
    };
    Ok(json_response(status, out, Some(&decision_id)))
}

/// The receipt as `restore --output json` prints it (compact), with the
/// decision written by the one decision encoder.
fn write_receipt(out: &mut Vec<u8>, receipt: &Receipt) {
    out.extend_from_slice(b"{\"decision\":");
    write_decision(out, &receipt.decision);
    out.extend_from_slice(b",\"department\":");
    let _ = serde_json::to_writer(&mut *out, &receipt.department);
    out.extend_from_slice(
        format!(
            ",\"audit_id\":{},\"seats_used\":{},\"restored_items\":{}}}",
            receipt.audit_id, receipt.seats_used, receipt.restored_items
        )
        .as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn receipt_encoding_matches_serde() {
        use restore_directory::Directory;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let set = restore_engine::PolicySet::load_dir(&root.join("rules")).unwrap();
        let directory =
            restore_memory::MemoryDirectory::open(&root.join("tests/fixtures/directory.yaml"))
                .unwrap();
        let facts = directory
            .facts("acme", "u_bob", Some("u_anna"))
            .await
            .unwrap();
        let at = "2026-11-24T10:00:00Z".parse().unwrap();
        let decision = evaluate(
            &set.policies()[0],
            &facts,
            &restore_engine::Request::default(),
            at,
        )
        .unwrap();
        let receipt = Receipt {
            decision,
            department: "Sales \"EMEA\" \u{e9}".into(),
            audit_id: 42,
            seats_used: -1,
            restored_items: 5,
        };
        let mut out = Vec::new();
        write_receipt(&mut out, &receipt);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&receipt).unwrap()
        );
    }
}
