//! The router: every route and every layer, in one place.

mod eligibility;
mod ops;
mod restore;
mod stream;

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::problem::{Code, Problem};
use crate::state::{random_id, AppState};

pub const ELIGIBILITY: &str = "/v1/eligibility";
pub const ELIGIBILITY_BATCH: &str = "/v1/eligibility/batch";
pub const DELETED_MEMBERS: &str = "/v1/tenants/{tenant}/deleted-members";
pub const RESTORE: &str = "/v1/tenants/{tenant}/members/{member}/restore";
pub const POLICIES: &str = "/v1/policies";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS: &str = "/metrics";
pub const RELOAD: &str = "/v1/admin/reload";
pub const OPENAPI: &str = "/openapi.json";
pub const AUTHZEN_EVALUATION: &str = "/access/v1/evaluation";
pub const AUTHZEN_EVALUATIONS: &str = "/access/v1/evaluations";
pub const AUTHZEN_CONFIGURATION: &str = "/.well-known/authzen-configuration";

/// Every route template (the `endpoint` label of the HTTP metrics).
pub const ROUTES: &[&str] = &[
    ELIGIBILITY,
    ELIGIBILITY_BATCH,
    DELETED_MEMBERS,
    RESTORE,
    POLICIES,
    HEALTHZ,
    READYZ,
    METRICS,
    RELOAD,
    OPENAPI,
    AUTHZEN_EVALUATION,
    AUTHZEN_EVALUATIONS,
    AUTHZEN_CONFIGURATION,
];

/// The routes that make decisions (the `endpoint` label of `restore_decisions_total`).
pub const DECISION_ENDPOINTS: &[&str] = &[
    ELIGIBILITY,
    ELIGIBILITY_BATCH,
    DELETED_MEMBERS,
    RESTORE,
    AUTHZEN_EVALUATION,
    AUTHZEN_EVALUATIONS,
];

/// Routes that stay answerable when the server is saturated (probes and
/// scrapes are not shed, and not timed out as requests).
const UNLIMITED: &[&str] = &[HEALTHZ, READYZ, METRICS, OPENAPI, AUTHZEN_CONFIGURATION];

/// Routes whose body is streamed: their permit is held until the body ends.
const STREAMING: &[&str] = &[DELETED_MEMBERS];

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_DECISION_ID: HeaderName = HeaderName::from_static("x-decision-id");

/// Builds the service: every route, then the layers (innermost first).
///
/// Routes must be added above the layers: `Router::layer` wraps only the
/// routes that exist when it is called.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(ELIGIBILITY, post(eligibility::single))
        .route(ELIGIBILITY_BATCH, post(eligibility::batch))
        .route(DELETED_MEMBERS, get(stream::deleted_members))
        .route(RESTORE, post(restore::restore))
        .route(POLICIES, get(ops::policies))
        .route(HEALTHZ, get(ops::healthz))
        .route(READYZ, get(ops::readyz))
        .route(METRICS, get(ops::metrics))
        .route(RELOAD, post(crate::serverops::reload_handler))
        .route(OPENAPI, get(crate::openapi::serve))
        .route(AUTHZEN_EVALUATION, post(crate::authzen::evaluation))
        .route(AUTHZEN_EVALUATIONS, post(crate::authzen::evaluations))
        .route(AUTHZEN_CONFIGURATION, get(crate::authzen::configuration))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies over the limit fail the body extractor, which answers 413.
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(state.clone(), limits))
        .layer(middleware::from_fn_with_state(state.clone(), http_metrics))
        // No log line per failed response: under overload every shed
        // request would log. Causes are logged where they arise (panics,
        // directory failures and timeouts); counts are in the metrics.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, RandomRequestId))
        .with_state(state)
}

async fn not_found() -> Problem {
    Problem::new(Code::NotFound, "no such route")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        Code::MethodNotAllowed,
        "this route does not accept this method; see `Allow`",
    )
}

/// A handler panicked: 500 `internal`, no message or trace in the body.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "handler panicked");
    Problem::internal().into_response()
}

/// The concurrency limit (shedding with 503 `overloaded` when every permit
/// is taken, rather than queueing) and the per-request timeout.
async fn limits(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    if template.is_some_and(|t| UNLIMITED.contains(&t)) {
        return next.run(request).await;
    }
    let streaming = template.is_some_and(|t| STREAMING.contains(&t));
    let Ok(permit) = Arc::clone(&state.permits).try_acquire_owned() else {
        state.metrics.requests_shed.increment(1);
        return Problem::new(
            Code::Overloaded,
            "the server is handling as many requests as it allows; retry shortly",
        )
        .into_response();
    };
    let response = match tokio::time::timeout(state.config.request_timeout, next.run(request)).await
    {
        Ok(response) => response,
        Err(_) => {
            return Problem::new(
                Code::RequestTimeout,
                format!(
                    "the request took longer than {} s",
                    state.config.request_timeout.as_secs_f64()
                ),
            )
            .into_response()
        }
    };
    if !streaming || !response.status().is_success() {
        return response;
    }
    // A streamed body is work in flight until its last chunk: the permit
    // goes with the body and is released when the body is done or dropped.
    let (parts, body) = response.into_parts();
    let chunks = body.into_data_stream().map(move |chunk| {
        let _held = &permit;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(chunks))
}

/// Requests by route template and status, their duration, and how many are in flight.
async fn http_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let metrics = &state.metrics;
    let route = metrics.route(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let started = Instant::now();
    metrics.in_flight.increment(1.0);
    // Decremented on drop too: a client that goes away still leaves.
    let _in_flight = InFlight(&metrics.in_flight);
    let response = next.run(request).await;
    route.duration.record(started.elapsed().as_secs_f64());
    metrics.count_status(route, response.status().as_u16());
    response
}

struct InFlight<'a>(&'a metrics::Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        id,
        method = %request.method(),
        path = request.uri().path(),
    )
}

/// Request ids for requests that bring none: 32 random hex digits.
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&random_id()).ok().map(RequestId::new)
    }
}

/// A JSON response (`application/json`), with its decision id when it carries one.
pub(crate) fn json_response(
    status: StatusCode,
    body: Vec<u8>,
    decision_id: Option<&str>,
) -> Response {
    let mut response = (status, Bytes::from(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(id) = decision_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        headers.insert(X_DECISION_ID, id);
    }
    response
}

/// `at` of a read-only question: RFC 3339 with a zone, or now.
pub(crate) fn parse_at(at: Option<&str>) -> Result<DateTime<Utc>, Problem> {
    match at {
        None => Ok(Utc::now()),
        Some(text) => restore_directory::snapshot::parse_zoned_timestamp(text)
            .map_err(|e| Problem::new(Code::InvalidRequest, format!("`at`: {e}"))),
    }
}

/// A path segment that does not decode (e.g. percent-encoded bytes that are
/// not UTF-8): 422 `invalid_request`, as a problem like every other error.
pub(crate) fn path_problem(rejection: axum::extract::rejection::PathRejection) -> Problem {
    Problem::new(
        Code::InvalidRequest,
        format!("path: {}", rejection.body_text()),
    )
}

/// Runs a directory call under the directory timeout (504 `directory_timeout`).
pub(crate) async fn directory_call<T>(
    state: &AppState,
    call: impl std::future::Future<Output = Result<T, restore_directory::DirectoryError>>,
) -> Result<T, Problem> {
    match tokio::time::timeout(state.config.directory_timeout, call).await {
        Ok(result) => result.map_err(Problem::from),
        Err(_) => Err(directory_timeout(state)),
    }
}

pub(crate) fn directory_timeout(state: &AppState) -> Problem {
    tracing::warn!(
        timeout_secs = state.config.directory_timeout.as_secs_f64(),
        "the directory did not answer in time"
    );
    Problem::new(
        Code::DirectoryTimeout,
        format!(
            "the directory did not answer within {} s",
            state.config.directory_timeout.as_secs_f64()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_answers_500_internal_without_its_message() {
        let response = panic_response(Box::new(String::from("secret state at src/x.rs:1")));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("\"code\":\"internal\""), "{text}");
        assert!(!text.contains("secret") && !text.contains("src/"), "{text}");
    }

    #[test]
    fn at_needs_a_zone() {
        assert!(parse_at(Some("2026-11-24T10:00:00Z")).is_ok());
        let problem = parse_at(Some("2026-11-24T10:00:00")).unwrap_err();
        assert_eq!(problem.code, Code::InvalidRequest);
        assert!(problem.detail.unwrap().starts_with("`at`: "));
    }
}
