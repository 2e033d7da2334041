//! `GET /v1/tenants/{tenant}/deleted-members`: every deleted member's
//! decision as NDJSON (the `eval-all --output jsonl` lines), streamed.
//!
//! A task reads the directory's stream, evaluates and encodes into chunks
//! that go to the response body through a small bounded channel: memory
//! stays flat whatever the tenant's size, and a client that stops reading
//! stops the task at the next chunk.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use crate::auth::{Caller, Scope};
use crate::decide::{evaluate, write_decision};
use crate::problem::{Code, Problem};
use crate::routes::{directory_timeout, parse_at, path_problem, DELETED_MEMBERS};
use crate::state::{AppState, DecisionContext, DecisionKind, ServedPolicies};

/// Bytes gathered before a chunk goes to the client.
const CHUNK_BYTES: usize = 32 * 1024;
/// Chunks buffered between the task and the connection.
const CHUNKS_IN_FLIGHT: usize = 4;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StreamQuery {
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    policy_version: Option<String>,
}

/// An empty query parameter (`?actor=`) counts as absent.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

pub(super) async fn deleted_members(
    State(state): State<AppState>,
    caller: Caller,
    tenant: Result<Path<String>, PathRejection>,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let started = Instant::now();
    caller.require(Scope::Decide)?;
    let Path(tenant) = tenant.map_err(path_problem)?;
    caller.require_tenant(&tenant)?;
    let Query(query) = query.map_err(query_problem)?;
    let at = parse_at(given(query.at).as_deref())?;
    let policies = state.policies.load_full();
    let policy = policies.select_index(
        state.config.policy_name(given(query.policy).as_deref()),
        given(query.policy_version).as_deref(),
        at,
    )?;
    let (chunks, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let (first, first_answer) = oneshot::channel();
    let job = StreamJob {
        state,
        caller,
        tenant,
        actor: given(query.actor),
        policies,
        policy,
        at,
        started,
    };
    let on_panic = chunks.clone();
    tokio::spawn(async move {
        // A panic (an engine or adapter bug) must still end the body with
        // an error line, not cut it off; before the first line, the
        // dropped `first` sender makes the answer a 500 problem.
        if AssertUnwindSafe(job.run(first, chunks))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!("deleted-members stream panicked");
            let mut line = b"{\"error\":".to_vec();
            line.extend_from_slice(&Problem::internal().to_json());
            line.extend_from_slice(b"}\n");
            let _ = on_panic.send(Bytes::from(line)).await;
        }
    });
    match first_answer.await {
        Ok(Ok(())) => {
            let body = futures::stream::unfold(receiver, |mut receiver| async move {
                let chunk = receiver.recv().await?;
                Some((Ok::<Bytes, Infallible>(chunk), receiver))
            });
            let mut response = Body::from_stream(body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            );
            Ok(response)
        }
        Ok(Err(problem)) => Err(problem),
        // The task ended without a word: it panicked (and was logged).
        Err(_) => Err(Problem::internal()),
    }
}

/// 422 naming the parameter, without axum's capitalised prefix.
fn query_problem(rejection: QueryRejection) -> Problem {
    let text = rejection.body_text();
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text);
    Problem::new(Code::InvalidRequest, format!("query: {detail}"))
}

struct StreamJob {
    state: AppState,
    caller: Caller,
    tenant: String,
    actor: Option<String>,
    policies: Arc<ServedPolicies>,
    policy: usize,
    at: DateTime<Utc>,
    started: Instant,
}

impl StreamJob {
    /// Reads, decides and encodes until the directory's stream ends. The
    /// outcome of the first item (or of an empty stream) goes to `first`:
    /// an error there becomes the problem response, while an error after
    /// that ends the body with one `{"error":{problem}}` line.
    async fn run(self, first: oneshot::Sender<Result<(), Problem>>, chunks: mpsc::Sender<Bytes>) {
        let StreamJob {
            state,
            caller,
            tenant,
            actor,
            policies,
            policy,
            at,
            started,
        } = self;
        let policy_ref = policies.policy(policy);
        let request = restore_engine::Request::default();
        let mut first = Some(first);
        let mut buffer = Vec::with_capacity(CHUNK_BYTES + 4096);
        let mut members = state.directory.deleted_members(&tenant, actor.as_deref());
        loop {
            // Most items are ready at once (buffered rows): the timer is
            // only armed when the directory actually makes us wait.
            let next = match members.next().now_or_never() {
                Some(item) => Ok(item),
                None => tokio::time::timeout(state.config.directory_timeout, members.next()).await,
            };
            let facts = match next {
                Ok(None) => break,
                Ok(Some(Ok(facts))) => Ok(facts),
                Ok(Some(Err(error))) => Err(Problem::from(error)),
                Err(_) => Err(directory_timeout(&state)),
            };
            let decided = facts.and_then(|facts| {
                let decision = evaluate(policy_ref, &facts, &request, at)?;
                Ok((facts, decision))
            });
            match decided {
                Ok((facts, decision)) => {
                    let context = DecisionContext {
                        endpoint: DELETED_MEMBERS,
                        kind: DecisionKind::Decision,
                        caller: &caller,
                        actor: actor.as_deref(),
                        facts: Some(&facts),
                        request: &request,
                        decision_id: None,
                        started,
                    };
                    state.observe_decision(&context, &policies, &decision);
                    write_decision(&mut buffer, &decision);
                    buffer.push(b'\n');
                    if let Some(first) = first.take() {
                        if first.send(Ok(())).is_err() {
                            return;
                        }
                    }
                }
                Err(problem) => {
                    if let Some(first) = first.take() {
                        let _ = first.send(Err(problem));
                        return;
                    }
                    tracing::warn!(%problem, "deleted-members stream ended early");
                    buffer.extend_from_slice(b"{\"error\":");
                    buffer.extend_from_slice(&problem.to_json());
                    buffer.extend_from_slice(b"}\n");
                    break;
                }
            }
            if buffer.len() >= CHUNK_BYTES {
                let full = std::mem::replace(&mut buffer, Vec::with_capacity(CHUNK_BYTES + 4096));
                if chunks.send(Bytes::from(full)).await.is_err() {
                    // The client went away.
                    return;
                }
            }
        }
        if let Some(first) = first.take() {
            if first.send(Ok(())).is_err() {
                return;
            }
        }
        if !buffer.is_empty() {
            let _ = chunks.send(Bytes::from(buffer)).await;
        }
    }
}
