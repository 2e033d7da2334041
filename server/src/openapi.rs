//! `GET /openapi.json`: the OpenAPI 3.1 document, generated at compile time
//! by utoipa from the handlers' request and response types.
//!
//! - Decisions are the engine's own [`Decision`] (restore-engine's `utoipa`
//!   feature derives its schema), so the document cannot drift from what
//!   the handlers serialise.
//! - The AuthZEN handlers carry their `#[utoipa::path]` themselves
//!   (`authzen.rs`); the `/v1` and operations routes are described here, on
//!   the request types the handlers parse.
//! - Types with no Rust struct behind them on the wire (a problem, the
//!   restore receipt of restore-directory, readiness) have a schema type
//!   here whose fields the tests compare with real responses.
//! - No Swagger UI: `utoipa-swagger-ui` downloads its assets at build time;
//!   any OpenAPI viewer can read `/openapi.json`.
//!
//! A test checks that every route of `router()` is in the document and
//! every path of the document is a route.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use restore_engine::decision::{
    BlockerHit, Code, Outcome, PolicyRef, ResourceDecision, WarningHit,
};
use restore_engine::Decision;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::reload::{PolicySummary, ReloadFailure, RuleError};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "restorectl decision service",
        description = "May a deleted member of an organisation's directory be restored, and what comes back? \
Decisions are the JSON `restorectl eval --output json` prints. Errors are RFC 9457 problems \
(`application/problem+json`) with a stable `code`.",
        license(name = "Apache-2.0")
    ),
    paths(
        eligibility,
        eligibility_batch,
        deleted_members,
        restore,
        policies,
        reload,
        healthz,
        readyz,
        metrics,
        openapi_json,
        crate::authzen::evaluation,
        crate::authzen::evaluations,
        crate::authzen::configuration,
    ),
    components(schemas(
        Decision, PolicyRef, BlockerHit, WarningHit, Code, ResourceDecision, Outcome,
        ProblemDoc, ReceiptDoc, PolicySummary, RuleError, ReloadFailure,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "decisions", description = "Read-only decisions and restores"),
        (name = "admin", description = "Policies and reload (scope `admin`)"),
        (name = "operations", description = "Probes, metrics and this document (no token)"),
        (name = "authzen", description = "OpenID AuthZEN Authorization API 1.0"),
    )
)]
pub struct ApiDoc;

/// `Authorization: Bearer <token>` (only with `--tokens`).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as compact JSON, built once.
pub fn document() -> &'static [u8] {
    static DOCUMENT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default().into_bytes())
}

/// `GET /openapi.json`.
pub(crate) async fn serve() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document(),
    )
        .into_response()
}

/// An RFC 9457 problem (`application/problem+json`).
#[derive(Serialize, ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
pub struct ProblemDoc {
    /// `urn:restorectl:problem:<code>`.
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: Option<String>,
    /// Stable code, e.g. `unknown_member`, `invalid_request`.
    code: String,
    /// `reload_failed` only: every error with its place.
    errors: Option<Vec<RuleError>>,
}

/// What a successful restore did (restore-directory's `Receipt`).
#[derive(Serialize, ToSchema)]
#[schema(as = Receipt)]
#[allow(dead_code)]
pub struct ReceiptDoc {
    decision: Decision,
    department: String,
    /// Id of the audit row that records the decision.
    audit_id: i64,
    /// Seats in use after the restore.
    seats_used: i64,
    /// Resource items marked restored (F21).
    restored_items: u32,
}

/// `POST /v1/eligibility` body.
#[derive(Serialize, ToSchema)]
#[schema(as = EligibilityRequest)]
#[allow(dead_code)]
pub struct EligibilityRequestDoc {
    tenant: String,
    member: String,
    /// Acting member; omitted, the question is read-only and F1 is skipped.
    actor: Option<String>,
    /// RFC 3339 with a zone; default now.
    at: Option<String>,
    policy: Option<String>,
    policy_version: Option<String>,
    /// Adds `explanation` (as `eval --explain`).
    explain: Option<bool>,
    /// Request context: values the policy declares under `context:`
    /// (`request.context.NAME`): booleans, integers, strings, lists of
    /// strings; durations and timestamps as strings. An undeclared name is
    /// 422 `unknown_context`; a value that does not fit its declaration is
    /// 422 `bad_value`.
    context: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v1/eligibility/batch` body.
#[derive(Serialize, ToSchema)]
#[schema(as = BatchRequest)]
#[allow(dead_code)]
pub struct BatchRequestDoc {
    at: Option<String>,
    policy: Option<String>,
    policy_version: Option<String>,
    /// Request context for every item: values the policy declares under `context:`
    /// (`request.context.NAME`): booleans, integers, strings, lists of
    /// strings; durations and timestamps as strings. An undeclared name is
    /// 422 `unknown_context`; a value that does not fit its declaration is
    /// 422 `bad_value`.
    context: Option<serde_json::Map<String, serde_json::Value>>,
    /// At most `--max-batch-items` (default 1000).
    items: Vec<BatchItemDoc>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = BatchItem)]
#[allow(dead_code)]
pub struct BatchItemDoc {
    tenant: String,
    member: String,
    actor: Option<String>,
}

/// `POST /v1/eligibility/batch` response: one result per item, in order.
#[derive(Serialize, ToSchema)]
#[schema(as = BatchResponse)]
#[allow(dead_code)]
pub struct BatchResponseDoc {
    results: Vec<BatchResultDoc>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = BatchResult)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum BatchResultDoc {
    Decided {
        decision_id: String,
        decision: Decision,
    },
    Failed {
        error: ProblemDoc,
    },
}

/// Restore body; `at` is refused (a restore decides at the server's clock).
#[derive(Serialize, ToSchema)]
#[schema(as = RestoreRequest)]
#[allow(dead_code)]
pub struct RestoreRequestDoc {
    actor: String,
    /// F8: the department the member comes back to. Absent: the policy's
    /// default for its `department` requirement (422 `department_required`
    /// when it has none).
    department: Option<String>,
    policy: Option<String>,
    policy_version: Option<String>,
    /// Request context: values the policy declares under `context:`
    /// (`request.context.NAME`): booleans, integers, strings, lists of
    /// strings; durations and timestamps as strings. An undeclared name is
    /// 422 `unknown_context`; a value that does not fit its declaration is
    /// 422 `bad_value`.
    context: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = PolicyList)]
#[allow(dead_code)]
pub struct PoliciesDoc {
    policies: Vec<PolicySummary>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Reloaded)]
#[allow(dead_code)]
pub struct ReloadedDoc {
    reloaded: bool,
    policies: Vec<PolicySummary>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Health)]
#[allow(dead_code)]
pub struct HealthDoc {
    /// `ok`.
    status: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Readiness)]
#[allow(dead_code)]
pub struct ReadyDoc {
    /// `ready` or `not_ready`.
    status: String,
    /// Policy versions loaded (ready only).
    policies: Option<usize>,
    /// Why not ready.
    reason: Option<String>,
    /// The last reload's errors if it failed; `null` otherwise.
    last_reload_error: Option<ReloadFailure>,
}

#[utoipa::path(post, path = "/v1/eligibility", tag = "decisions",
    request_body(content = EligibilityRequestDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision, allowed or denied (with `explain`: plus `explanation`)", body = Decision,
         headers(("X-Decision-Id" = String, description = "32 lowercase hex digits"))),
        (status = 400, description = "Malformed JSON", body = ProblemDoc),
        (status = 404, description = "Unknown tenant or member", body = ProblemDoc),
        (status = 422, description = "Invalid field, unknown actor or policy; a decision that cannot be made: `unknown_tier`, `missing_value`, `bad_value`, `unknown_context`", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn eligibility() {}

#[utoipa::path(post, path = "/v1/eligibility/batch", tag = "decisions",
    request_body(content = BatchRequestDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "One result per item, in request order", body = BatchResponseDoc),
        (status = 413, description = "Too many items", body = ProblemDoc),
        (status = 422, description = "Invalid field or no items", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn eligibility_batch() {}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/deleted-members", tag = "decisions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("actor" = Option<String>, Query, description = "Acting member"),
        ("at" = Option<String>, Query, description = "RFC 3339 with a zone; default now"),
        ("policy_version" = Option<String>, Query, description = "Pinned policy version"),
    ),
    responses(
        (status = 200, description = "One compact decision per line, streamed; an error after the start ends the body with `{\"error\":{problem}}`",
         content_type = "application/x-ndjson", body = Decision),
        (status = 404, description = "Unknown tenant", body = ProblemDoc),
        (status = 422, description = "Unknown actor or invalid `at`", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn deleted_members() {}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/members/{member}/restore", tag = "decisions",
    params(("tenant" = String, Path), ("member" = String, Path)),
    request_body(content = RestoreRequestDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "Restored: the receipt", body = ReceiptDoc,
         headers(("X-Decision-Id" = String))),
        (status = 409, description = "Denied: the decision (or `restore_conflict` problem)", body = Decision),
        (status = 422, description = "Invalid field (e.g. `at`), unknown actor, department required; a decision that cannot be made (`unknown_tier`, `missing_value`, `bad_value`, `unknown_context`): nothing is written", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn restore() {}

#[utoipa::path(get, path = "/v1/policies", tag = "admin",
    responses((status = 200, description = "Every loaded version", body = PoliciesDoc),
              (status = 403, description = "Scope `admin` missing", body = ProblemDoc)),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn policies() {}

#[utoipa::path(post, path = "/v1/admin/reload", tag = "admin",
    responses(
        (status = 200, description = "The new set is serving", body = ReloadedDoc),
        (status = 422, description = "`reload_failed`: nothing changed; `errors` has file, line, column, path, message", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn reload() {}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = HealthDoc)))]
#[allow(dead_code)]
fn healthz() {}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Rules loaded and directory reachable", body = ReadyDoc),
              (status = 503, description = "Not ready, with the reason", body = ReadyDoc)))]
#[allow(dead_code)]
fn readyz() {}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
#[allow(dead_code)]
fn metrics() {}

#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This document", content_type = "application/json", body = Object)))]
#[allow(dead_code)]
fn openapi_json() {}

#[cfg(test)]
mod tests;
