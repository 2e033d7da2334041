//! OpenID AuthZEN Authorization API 1.0 (openid/authzen,
//! `api/authorization-api-1_0.md`), so that gateways and identity products
//! can ask for restore decisions without glue.
//!
//! Implemented, by section of the spec:
//! - §6 Access Evaluation: `POST /access/v1/evaluation`, the request's
//!   `subject`, `action`, `resource` required, `context` optional (§6.1);
//!   the answer is a Decision `{"decision": bool, "context": {...}}` (§5.5).
//! - §7 Access Evaluations: `POST /access/v1/evaluations`. Top-level
//!   `subject`/`action`/`resource`/`context` are defaults that an
//!   evaluation's own member replaces whole (§7.1.1; certification §3.2.7:
//!   no merging of sub-fields). No or an empty `evaluations` array answers as
//!   the single endpoint (§7.1). `options.evaluations_semantic` (§7.1.2.1):
//!   `execute_all` (default; every result in request order),
//!   `deny_on_first_deny` (stops after the first `false`, an error included,
//!   whose context gets `"code":"200","reason":"deny_on_first_deny"` as in the
//!   spec's example) and `permit_on_first_permit` (stops after the first
//!   `true`). The response carries `evaluations` only: the top-level
//!   `decision` is omitted, as §7.2 recommends.
//! - §7.2.1 errors: a payload-level problem is an HTTP error; a problem of one
//!   evaluation is `"decision": false` with `context.error` `{status, code,
//!   message}` in its place (the certification scenario's §3.4.1 reading).
//! - §9 metadata: `GET /.well-known/authzen-configuration` with
//!   `policy_decision_point`, `access_evaluation_endpoint` and
//!   `access_evaluations_endpoint`; search endpoints are omitted (§9.1.1:
//!   their absence says the PDP does not offer them).
//! - §12.1 HTTPS binding: `Content-Type: application/json` required (else
//!   400, certification §2.4.3), the top-level body an object, unknown
//!   members ignored, a missing or ill-typed required member 400 (§12.1.1).
//!   401/403 as §12.1.2 lists them. `X-Request-ID` is echoed (§12.1.3; the
//!   router's request-id layer does it for every route).
//!
//! The mapping (service contract): subject `{type:"user", id: actor}`,
//! action `{name:"restore"}`, resource `{type:"deleted_member", id: member,
//! properties:{tenant}}`, context `{time?, policy_version?, policy?}`.
//!
//! Choices where the spec leaves room:
//! - Another subject type, action or resource type is answered
//!   `"decision": false` with `context.reason` and `context.code`
//!   (`unsupported_action`, ...): the request is well-formed, this PDP just
//!   never permits it.
//! - A restore question with a bad value (no `resource.properties.tenant`,
//!   `context.time` without a zone), an unknown tenant, member, actor or
//!   policy version: `"decision": false` with `context.error`, in both
//!   endpoints (decisions default to closed, §7.2.1). Only what the spec
//!   calls malformed is a 400.
//! - `context.time` is RFC 3339 with a zone; the spec's own examples leave
//!   out the seconds (`1985-10-26T01:22-07:00`), which is accepted too.
//! - A token not granted the resource's tenant: 403 on the single endpoint
//!   (§12.1.2 lists 403), `context.error` with status 403 for one evaluation
//!   of a batch. Neither says whether the tenant exists.
//! - The directory failing or timing out is the PDP failing: 503/504 on the
//!   single endpoint, `context.error` in a batch.
//! - Error bodies are the service's RFC 9457 problems (`detail` is the
//!   "error message string" of §12.1.2); 400s have code `bad_request`.
//! - `policy_decision_point` is `http(s)://` plus the `Host` the client used
//!   (`X-Forwarded-Proto: https` and `X-Forwarded-Host` from a proxy are
//!   honoured), since it must equal the URL the PEP fetched (§9.2.3).
//! - More evaluations than `--max-batch-items`: 413 `too_many_items`.

mod request;

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use restore_engine::decision::{BlockerHit, PolicyRef};
use restore_engine::vocabulary::format_timestamp;
use serde::Serialize;
use utoipa::ToSchema;

pub use request::{
    parse_body, parse_evaluation, parse_evaluations, question, Evaluation, EvaluationsError,
    EvaluationsRequest, Malformed, Question, Refusal, Semantic,
};

use crate::auth::{Caller, Scope};
use crate::body::bytes_rejection;
use crate::decide::evaluate;
use crate::problem::{Code, Problem};
use crate::routes::{directory_call, json_response, AUTHZEN_EVALUATION, AUTHZEN_EVALUATIONS};
use crate::state::{random_id, AppState, DecisionContext, DecisionKind, ServedPolicies};

/// Evaluations of one batch fetched from the directory at once (answers keep
/// request order).
const PARALLELISM: usize = 16;

/// An AuthZEN Decision (§5.5).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthzenDecision {
    /// `true`: the restore may go forward; `false`: it MUST NOT.
    pub decision: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<DecisionContextBody>,
}

/// The `context` of a decision. A decided restore carries `decision_id`,
/// `policy`, `blockers` and `restorable_until`; an evaluation this PDP does
/// not decide carries `reason` and `code`; a failed one carries `error`.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct DecisionContextBody {
    /// Also the `X-Decision-Id` header (single endpoint) and the decision log's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PolicyRef>)]
    pub policy: Option<std::sync::Arc<PolicyRef>>,
    /// Every blocker that holds, with its message and remedy; empty when allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blockers: Option<Vec<BlockerHit>>,
    /// RFC 3339: the end of the restore window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restorable_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<EvaluationError>,
}

/// Why one evaluation failed (`context.error`, as in the spec's §7.2.1 example).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvaluationError {
    /// The HTTP status the error would have on its own.
    pub status: u16,
    /// The service's problem code, e.g. `unknown_member`.
    pub code: String,
    pub message: String,
}

/// The response of `POST /access/v1/evaluations` with an `evaluations` array (§7.2).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthzenEvaluations {
    pub evaluations: Vec<AuthzenDecision>,
}

/// PDP metadata (§9.1).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthzenConfiguration {
    pub policy_decision_point: String,
    pub access_evaluation_endpoint: String,
    pub access_evaluations_endpoint: String,
}

impl AuthzenDecision {
    fn refused(refusal: Refusal) -> AuthzenDecision {
        let context = match refusal {
            Refusal::NotDecided { code, reason } => DecisionContextBody {
                reason: Some(reason),
                code: Some(code.to_owned()),
                ..Default::default()
            },
            Refusal::Invalid { message } => DecisionContextBody {
                error: Some(EvaluationError {
                    status: 400,
                    code: Code::InvalidRequest.as_str().to_owned(),
                    message,
                }),
                ..Default::default()
            },
        };
        AuthzenDecision {
            decision: false,
            context: Some(context),
        }
    }

    fn failed(problem: &Problem) -> AuthzenDecision {
        AuthzenDecision {
            decision: false,
            context: Some(DecisionContextBody {
                error: Some(EvaluationError {
                    status: problem.status().as_u16(),
                    code: problem.code.as_str().to_owned(),
                    message: problem
                        .detail
                        .clone()
                        .unwrap_or_else(|| problem.code.title().to_owned()),
                }),
                ..Default::default()
            }),
        }
    }

    fn malformed(m: &Malformed) -> AuthzenDecision {
        AuthzenDecision::failed(&Problem::new(Code::BadRequest, m.detail()))
    }

    fn decided(decision: &restore_engine::Decision, decision_id: String) -> AuthzenDecision {
        AuthzenDecision {
            decision: decision.allowed,
            context: Some(DecisionContextBody {
                decision_id: Some(decision_id),
                policy: Some(decision.policy.clone()),
                blockers: Some(decision.blockers.clone()),
                restorable_until: decision.restorable_until.map(format_timestamp),
                ..Default::default()
            }),
        }
    }

    /// Marks the evaluation that ended a `deny_on_first_deny` batch, as
    /// the spec's example does, unless it already says why it is false.
    fn short_circuited(mut self) -> AuthzenDecision {
        let context = self.context.get_or_insert_with(Default::default);
        if context.reason.is_none() && context.error.is_none() {
            context.code = Some("200".into());
            context.reason = Some(Semantic::DenyOnFirstDeny.as_str().into());
        }
        self
    }
}

fn bad_request(detail: String) -> Problem {
    Problem::new(Code::BadRequest, detail)
}

/// The body of an AuthZEN request: JSON content type (else 400, not 415:
/// certification §2.4.3), within the body limit (else 413).
fn json_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Bytes, Problem> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(bad_request(
            "expected a body with `Content-Type: application/json`".into(),
        ));
    }
    body.map_err(bytes_rejection)
}

/// One evaluation, decided on `policies` (one set for the whole request).
/// `Err` is a failure of the PDP itself (directory down or slow, 5xx) or a
/// tenant the token may not see; every other problem is a `false` answer.
async fn decide_one(
    state: &AppState,
    caller: &Caller,
    policies: &ServedPolicies,
    evaluation: &Evaluation,
    endpoint: &'static str,
    started: Instant,
) -> Result<(AuthzenDecision, Option<String>), Problem> {
    let q = match question(evaluation) {
        Ok(q) => q,
        Err(refusal) => return Ok((AuthzenDecision::refused(refusal), None)),
    };
    caller.require_tenant(&q.tenant)?;
    let at = q.at.unwrap_or_else(chrono::Utc::now);
    let policy = match policies.select(
        state.config.policy_name(q.policy.as_deref()),
        q.policy_version.as_deref(),
        at,
    ) {
        Ok(policy) => policy,
        Err(problem) => return Ok((AuthzenDecision::failed(&problem), None)),
    };
    let facts = match directory_call(
        state,
        state.directory.facts(&q.tenant, &q.member, Some(&q.actor)),
    )
    .await
    {
        Ok(facts) => facts,
        Err(problem) if problem.status().is_server_error() => return Err(problem),
        Err(problem) => return Ok((AuthzenDecision::failed(&problem), None)),
    };
    let request = match context_request(policy, &q.context) {
        Ok(request) => request,
        Err(problem) => return Ok((AuthzenDecision::failed(&problem), None)),
    };
    let decision = match evaluate(policy, &facts, &request, at) {
        Ok(decision) => decision,
        Err(error) => return Ok((AuthzenDecision::failed(&Problem::from(error)), None)),
    };
    let decision_id = random_id();
    state.observe_decision(
        &DecisionContext {
            endpoint,
            kind: DecisionKind::Decision,
            caller,
            decision_id: Some(&decision_id),
            started,
            facts: Some(&facts),
            request: &request,
            actor: Some(&q.actor),
        },
        policies,
        &decision,
    );
    Ok((
        AuthzenDecision::decided(&decision, decision_id.clone()),
        Some(decision_id),
    ))
}

/// The request context of an evaluation: the `context` members the policy
/// declares, typed at evaluation like stored attributes; the others are
/// the PEP's own and ignored.
fn context_request(
    policy: &restore_engine::CompiledPolicy,
    context: &serde_json::Map<String, serde_json::Value>,
) -> Result<restore_engine::Request, Problem> {
    let declared: serde_json::Map<String, serde_json::Value> = context
        .iter()
        .filter(|(k, _)| policy.declares_context(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if declared.is_empty() {
        return Ok(restore_engine::Request::default());
    }
    let text = serde_json::Value::Object(declared).to_string();
    let context = restore_engine::facts::Attributes::from_json(&text)
        .map_err(|e| Problem::new(Code::InvalidRequest, format!("`context`: {e}")))?;
    Ok(restore_engine::Request {
        context,
        ..restore_engine::Request::default()
    })
}

/// One element of a batch: its decision, or `false` with the error.
async fn answer(
    state: &AppState,
    caller: &Caller,
    policies: &ServedPolicies,
    item: &Result<Evaluation, Malformed>,
    started: Instant,
) -> AuthzenDecision {
    match item {
        Err(m) => AuthzenDecision::malformed(m),
        Ok(e) => match decide_one(state, caller, policies, e, AUTHZEN_EVALUATIONS, started).await {
            Ok((answer, _)) => answer,
            Err(problem) => AuthzenDecision::failed(&problem),
        },
    }
}

fn respond<T: Serialize>(value: &T, decision_id: Option<&str>) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_response(StatusCode::OK, body, decision_id),
        Err(_) => Problem::internal().into_response(),
    }
}

/// `POST /access/v1/evaluation` (§6).
#[utoipa::path(
    post,
    path = "/access/v1/evaluation",
    tag = "authzen",
    request_body(content = AccessEvaluationRequestDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision; a denial is `decision: false`", body = AuthzenDecision,
         headers(("X-Decision-Id" = String, description = "The decision id (only when a decision was made)"))),
        (status = 400, description = "Malformed request (code `bad_request`)", body = crate::openapi::ProblemDoc),
        (status = 401, description = "Missing or bad token", body = crate::openapi::ProblemDoc),
        (status = 403, description = "Scope or tenant not granted", body = crate::openapi::ProblemDoc),
        (status = 503, description = "Overloaded or directory unavailable", body = crate::openapi::ProblemDoc),
        (status = 504, description = "Directory timeout", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn evaluation(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let started = Instant::now();
    caller.require(Scope::Decide)?;
    let body = json_body(&headers, body)?;
    let parsed = parse_body(&body)
        .and_then(|map| parse_evaluation(&map))
        .map_err(|m| bad_request(m.detail()))?;
    single(&state, &caller, &parsed, AUTHZEN_EVALUATION, started).await
}

async fn single(
    state: &AppState,
    caller: &Caller,
    evaluation: &Evaluation,
    endpoint: &'static str,
    started: Instant,
) -> Result<Response, Problem> {
    let policies = state.policies.load_full();
    let (answer, decision_id) =
        decide_one(state, caller, &policies, evaluation, endpoint, started).await?;
    Ok(respond(&answer, decision_id.as_deref()))
}

/// `POST /access/v1/evaluations` (§7).
#[utoipa::path(
    post,
    path = "/access/v1/evaluations",
    tag = "authzen",
    request_body(content = AccessEvaluationsRequestDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "`{\"evaluations\": [...]}` in request order (or, without `evaluations`, one decision as from `/access/v1/evaluation`)", body = AuthzenEvaluations),
        (status = 400, description = "Malformed request (code `bad_request`)", body = crate::openapi::ProblemDoc),
        (status = 401, description = "Missing or bad token", body = crate::openapi::ProblemDoc),
        (status = 403, description = "Scope not granted", body = crate::openapi::ProblemDoc),
        (status = 413, description = "More evaluations than the server takes (code `too_many_items`)", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn evaluations(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let started = Instant::now();
    caller.require(Scope::Decide)?;
    let body = json_body(&headers, body)?;
    let map = parse_body(&body).map_err(|m| bad_request(m.detail()))?;
    let (items, semantic) = match parse_evaluations(&map, state.config.max_batch_items) {
        Ok(EvaluationsRequest::Single(evaluation)) => {
            return single(&state, &caller, &evaluation, AUTHZEN_EVALUATIONS, started).await
        }
        Ok(EvaluationsRequest::Batch { items, semantic }) => (items, semantic),
        Err(EvaluationsError::Malformed(m)) => return Err(bad_request(m.detail())),
        Err(EvaluationsError::TooMany { count, max }) => {
            return Err(Problem::new(
                Code::TooManyItems,
                format!("{count} evaluations in one request; this server takes at most {max}"),
            ))
        }
    };
    let policies = state.policies.load_full();
    let (state, caller, policies) = (&state, &caller, &*policies);
    let one = |item| answer(state, caller, policies, item, started);
    let mut answers = Vec::with_capacity(items.len());
    match semantic {
        Semantic::ExecuteAll => {
            // Owned items: a closure over `&Result<..>` would not be `Send`
            // for every lifetime.
            let stream = futures::stream::iter(items)
                .map(|item| async move { answer(state, caller, policies, &item, started).await })
                .buffered(PARALLELISM);
            futures::pin_mut!(stream);
            while let Some(answer) = stream.next().await {
                answers.push(answer);
            }
        }
        // In order, one at a time: the point is not to evaluate past the stop.
        Semantic::DenyOnFirstDeny => {
            for item in &items {
                let answer = one(item).await;
                if !answer.decision {
                    answers.push(answer.short_circuited());
                    break;
                }
                answers.push(answer);
            }
        }
        Semantic::PermitOnFirstPermit => {
            for item in &items {
                let answer = one(item).await;
                let stop = answer.decision;
                answers.push(answer);
                if stop {
                    break;
                }
            }
        }
    }
    Ok(respond(
        &AuthzenEvaluations {
            evaluations: answers,
        },
        None,
    ))
}

/// `GET /.well-known/authzen-configuration` (§9).
#[utoipa::path(
    get,
    path = "/.well-known/authzen-configuration",
    tag = "authzen",
    responses((status = 200, description = "PDP metadata", body = AuthzenConfiguration))
)]
pub(crate) async fn configuration(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let metadata = AuthzenConfiguration {
        access_evaluation_endpoint: format!("{base}{AUTHZEN_EVALUATION}"),
        access_evaluations_endpoint: format!("{base}{AUTHZEN_EVALUATIONS}"),
        policy_decision_point: base,
    };
    let mut response = respond(&metadata, None);
    // §13.9: let PEPs cache it; it depends on the Host asked for.
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Host, X-Forwarded-Host, X-Forwarded-Proto"),
    );
    response
}

/// `scheme://host[:port]` the client used to reach us.
fn base_url(headers: &HeaderMap) -> String {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim())
            .filter(|v| !v.is_empty())
    };
    let scheme = match value("x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let host = value("x-forwarded-host")
        .filter(|h| is_authority(h))
        .or_else(|| value(header::HOST.as_str()).filter(|h| is_authority(h)))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// `host[:port]` characters only (no path, query, user info or spaces), so
/// a forged header cannot inject anything into the URLs.
fn is_authority(text: &str) -> bool {
    text.len() <= 255
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

/// The Access Evaluation request of §6.1, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(as = AccessEvaluationRequest)]
#[allow(dead_code)]
pub struct AccessEvaluationRequestDoc {
    subject: EntityDoc,
    action: ActionDoc,
    resource: EntityDoc,
    /// `time` (RFC 3339 with a zone) and `policy_version` / `policy` are read.
    context: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The Access Evaluations request of §7.1.
#[derive(ToSchema)]
#[schema(as = AccessEvaluationsRequest)]
#[allow(dead_code)]
pub struct AccessEvaluationsRequestDoc {
    /// Default for every evaluation that has none.
    subject: Option<EntityDoc>,
    action: Option<ActionDoc>,
    resource: Option<EntityDoc>,
    context: Option<serde_json::Map<String, serde_json::Value>>,
    evaluations: Option<Vec<EvaluationItemDoc>>,
    options: Option<OptionsDoc>,
}

/// One element of `evaluations`; missing members come from the top level.
#[derive(ToSchema)]
#[schema(as = EvaluationItem)]
#[allow(dead_code)]
pub struct EvaluationItemDoc {
    subject: Option<EntityDoc>,
    action: Option<ActionDoc>,
    resource: Option<EntityDoc>,
    context: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `options` of an evaluations request.
#[derive(ToSchema)]
#[schema(as = EvaluationsOptions)]
#[allow(dead_code)]
pub struct OptionsDoc {
    /// `execute_all` (default), `deny_on_first_deny` or `permit_on_first_permit`.
    evaluations_semantic: Option<String>,
}

/// A Subject (`type` `user`, `id` the actor) or a Resource (`type`
/// `deleted_member`, `id` the member, `properties.tenant` its tenant).
#[derive(ToSchema)]
#[schema(as = Entity)]
#[allow(dead_code)]
pub struct EntityDoc {
    #[schema(rename = "type")]
    kind: String,
    id: String,
    properties: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An Action (`name` `restore`).
#[derive(ToSchema)]
#[schema(as = Action)]
#[allow(dead_code)]
pub struct ActionDoc {
    name: String,
    properties: Option<serde_json::Map<String, serde_json::Value>>,
}

#[cfg(test)]
mod tests;
