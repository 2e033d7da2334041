//! Operations endpoints: `/healthz`, `/readyz`, `/metrics`, `/v1/policies`.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use restore_directory::DirectoryError;
use restore_engine::vocabulary::format_timestamp;
use serde::Serialize;

use crate::auth::{Caller, Scope};
use crate::problem::{error_chain, Problem};
use crate::routes::json_response;
use crate::state::AppState;

/// The tenant the readiness probe asks for: answered "unknown tenant" by a
/// reachable directory with one indexed lookup, whatever its size.
const PROBE_TENANT: &str = "restorectl-readyz-probe";

/// Alive: the process answers HTTP.
pub(super) async fn healthz() -> Response {
    json_response(StatusCode::OK, br#"{"status":"ok"}"#.to_vec(), None)
}

/// Ready: rules loaded and the directory reachable within the directory
/// timeout; 503 with the reason otherwise.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    let probe = tokio::time::timeout(
        state.config.directory_timeout,
        state.directory.facts(PROBE_TENANT, PROBE_TENANT, None),
    )
    .await;
    let reason = match probe {
        Ok(Ok(_))
        | Ok(Err(
            DirectoryError::UnknownTenant { .. }
            | DirectoryError::UnknownMember { .. }
            | DirectoryError::UnknownActor { .. },
        )) => None,
        Ok(Err(error)) => {
            // The cause may name hosts or users: the log gets it, the
            // unauthenticated probe only the gist.
            tracing::warn!(error = %error_chain(&error), "readiness probe: directory failed");
            Some("the directory is unreachable".to_owned())
        }
        Err(_) => Some(format!(
            "the directory did not answer within {} s",
            state.config.directory_timeout.as_secs_f64()
        )),
    };
    let last_reload_error = state.last_reload_error.load_full();
    let body = Readiness {
        status: if reason.is_none() {
            "ready"
        } else {
            "not_ready"
        },
        reason: reason.as_deref(),
        policies: state.policies.load().set().policies().len(),
        last_reload_error: last_reload_error.as_deref(),
    };
    let status = if reason.is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = json_response(status, body, None);
    if status != StatusCode::OK {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

#[derive(Serialize)]
struct Readiness<'a> {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    policies: usize,
    last_reload_error: Option<&'a serde_json::Value>,
}

#[derive(Serialize)]
struct PolicyListing<'a> {
    name: &'a str,
    version: &'a str,
    effective_from: String,
    digest: &'a str,
    file: &'a str,
    in_force: bool,
}

/// Prometheus text exposition.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render() + &crate::serverops::metrics_text(&state),
    )
        .into_response()
}

/// Every loaded policy version, and which one is in force now (scope admin).
pub(super) async fn policies(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, Problem> {
    caller.require(Scope::Admin)?;
    let served = state.policies.load_full();
    let now = Utc::now();
    let list: Vec<_> = served
        .set()
        .policies()
        .iter()
        .map(|p| PolicyListing {
            name: p.name(),
            version: p.version(),
            effective_from: format_timestamp(p.effective_from()),
            digest: p.digest(),
            file: p.file(),
            in_force: served.in_force(now).any(|f| std::ptr::eq(f, p)),
        })
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "policies": list })).unwrap_or_default();
    Ok(json_response(StatusCode::OK, body, None))
}
