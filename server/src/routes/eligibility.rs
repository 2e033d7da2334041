//! `POST /v1/eligibility` and `POST /v1/eligibility/batch`: read-only
//! decisions, at the caller's `at` or now.

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::StreamExt;
use serde::Deserialize;

use crate::auth::{Caller, Scope};
use crate::body::{parse_json, JsonBytes};
use restore_engine::facts::Attributes;

use crate::decide::{evaluate, explain, write_decision, write_explained};
use crate::problem::{Code, Problem};
use crate::routes::{directory_call, json_response, parse_at, ELIGIBILITY, ELIGIBILITY_BATCH};
use crate::state::{random_id, AppState, DecisionContext, DecisionKind};

/// Batch items fetched from the directory at once (answers keep request order).
const BATCH_PARALLELISM: usize = 16;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EligibilityRequest {
    tenant: String,
    member: String,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    policy_version: Option<String>,
    #[serde(default)]
    explain: bool,
    /// Request context values the policy declares (`request.context.NAME`).
    #[serde(default)]
    context: Attributes,
}

pub(super) async fn single(
    State(state): State<AppState>,
    caller: Caller,
    JsonBytes(body): JsonBytes,
) -> Result<Response, Problem> {
    let started = Instant::now();
    caller.require(Scope::Decide)?;
    let request: EligibilityRequest = parse_json(&body)?;
    caller.require_tenant(&request.tenant)?;
    let at = parse_at(request.at.as_deref())?;
    let policies = state.policies.load_full();
    let policy = policies.select(
        state.config.policy_name(request.policy.as_deref()),
        request.policy_version.as_deref(),
        at,
    )?;
    let context = crate::decide::request(policy, &request.context)?;
    let facts = directory_call(
        &state,
        state
            .directory
            .facts(&request.tenant, &request.member, request.actor.as_deref()),
    )
    .await?;
    let decision = evaluate(policy, &facts, &context, at)?;
    let decision_id = random_id();
    state.observe_decision(
        &DecisionContext {
            endpoint: ELIGIBILITY,
            kind: DecisionKind::Decision,
            caller: &caller,
            actor: request.actor.as_deref(),
            facts: Some(&facts),
            request: &context,
            decision_id: Some(&decision_id),
            started,
        },
        &policies,
        &decision,
    );
    let mut out = Vec::with_capacity(2048);
    if request.explain {
        write_explained(&mut out, &decision, &explain(policy, &facts, &context, at)?);
    } else {
        write_decision(&mut out, &decision);
    }
    Ok(json_response(StatusCode::OK, out, Some(&decision_id)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    policy_version: Option<String>,
    /// Request context for every item (`request.context.NAME`).
    #[serde(default)]
    context: Attributes,
    items: Vec<BatchItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchItem {
    tenant: String,
    member: String,
    #[serde(default)]
    actor: Option<String>,
}

/// Many decisions at one `at` and on one policy version, answered in
/// request order. An item the directory cannot answer (unknown tenant,
/// member or actor, a tenant the token is not granted, a timeout) gets an
/// `error` problem in its place; the others are decided. A body that does
/// not parse, or an item with a missing or ill-typed field, fails the
/// whole request (422 naming `items[i].field`), as a schema check would.
pub(super) async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    JsonBytes(body): JsonBytes,
) -> Result<Response, Problem> {
    let started = Instant::now();
    caller.require(Scope::Decide)?;
    let request: BatchRequest = parse_json(&body)?;
    let max = state.config.max_batch_items;
    if request.items.len() > max {
        return Err(Problem::new(
            Code::TooManyItems,
            format!(
                "{} items in one batch; this server takes at most {max}",
                request.items.len()
            ),
        ));
    }
    if request.items.is_empty() {
        return Err(Problem::new(Code::InvalidRequest, "`items` is empty"));
    }
    let at = parse_at(request.at.as_deref())?;
    let policies = state.policies.load_full();
    let policy = policies.select(
        state.config.policy_name(request.policy.as_deref()),
        request.policy_version.as_deref(),
        at,
    )?;
    let context = crate::decide::request(policy, &request.context)?;
    let state_ref = &state;
    let caller_ref = &caller;
    let item_count = request.items.len();
    // Owned items: a closure over `&BatchItem` would not be `Send` for every lifetime.
    let answers = futures::stream::iter(request.items)
        .map(|item| async move {
            let facts = match caller_ref.require_tenant(&item.tenant) {
                Ok(()) => {
                    directory_call(
                        state_ref,
                        state_ref.directory.facts(
                            &item.tenant,
                            &item.member,
                            item.actor.as_deref(),
                        ),
                    )
                    .await
                }
                Err(problem) => Err(problem),
            };
            (item.actor, facts)
        })
        .buffered(BATCH_PARALLELISM);
    futures::pin_mut!(answers);
    let mut out = Vec::with_capacity(64 + item_count * 1200);
    out.extend_from_slice(b"{\"results\":[");
    let mut first = true;
    while let Some((actor, facts)) = answers.next().await {
        if !first {
            out.push(b',');
        }
        first = false;
        let decided = facts.and_then(|facts| {
            let decision = evaluate(policy, &facts, &context, at)?;
            Ok((facts, decision))
        });
        match decided {
            Ok((facts, decision)) => {
                let decision_id = random_id();
                state.observe_decision(
                    &DecisionContext {
                        endpoint: ELIGIBILITY_BATCH,
                        kind: DecisionKind::Decision,
                        caller: &caller,
                        actor: actor.as_deref(),
                        facts: Some(&facts),
                        request: &context,
                        decision_id: Some(&decision_id),
                        started,
                    },
                    &policies,
                    &decision,
                );
                out.extend_from_slice(b"{\"decision_id\":\"");
                out.extend_from_slice(decision_id.as_bytes());
                out.extend_from_slice(b"\",\"decision\":");
                write_decision(&mut out, &decision);
                out.push(b'}');
            }
            Err(problem) => {
                out.extend_from_slice(b"{\"error\":");
                out.extend_from_slice(&problem.to_json());
                out.push(b'}');
            }
        }
    }
    out.extend_from_slice(b"]}");
    Ok(json_response(StatusCode::OK, out, None))
}
