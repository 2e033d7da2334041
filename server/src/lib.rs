//! The restore-eligibility decision service behind `restorectl serve`.
//!
//! A long-running decision point, like OPA's server or Cerbos' PDP: it loads
//! the compiled policies once, keeps one directory adapter open, and answers
//! over HTTP with the same decision JSON that `restorectl eval --output json`
//! prints (compact).
//!
//! ```text
//! request -> request id -> span -> metrics -> concurrency limit + timeout
//!         -> catch-panic -> handler: Caller (bearer token) -> body
//!         -> policies.load_full() -> Directory::facts (directory timeout)
//!         -> decide::evaluate -> observe_decision -> decide::write_decision
//! ```
//!
//! - [`AppState`] is what handlers share: the policy set behind an
//!   `ArcSwap` (a request loads it once and runs on it to the end; a reload
//!   swaps it whole), the `Arc<dyn Directory>`, the tokens, the limits, the
//!   metrics. [`router`] builds every route and layer in one function.
//! - Errors are RFC 9457 `application/problem+json` with a stable `code`
//!   ([`problem::Code`]); no panic message, stack trace or file content
//!   ever reaches a body (a panicking handler answers 500 `internal`).
//! - Tokens ([`auth`]): a YAML file of sha256 digests with scopes
//!   (`decide`, `restore` ⊇ `decide`, `admin`) and tenant bindings;
//!   comparison in constant time. A tenant-bound token gets the same 403
//!   for every other tenant, existing or not, before any directory lookup.
//! - Limits: body size (413), per-request timeout (408 `request_timeout`),
//!   directory-call timeout (504), a concurrency limit that sheds load at
//!   once with 503 `overloaded` + `Retry-After: 1` instead of queueing
//!   (`/healthz`, `/readyz`, `/metrics` are exempt), graceful shutdown.
//!   A streamed NDJSON body holds its permit until its last chunk.
//! - Logs: `tracing` to stderr, `RUST_LOG` (default `info`), text or JSON;
//!   one span per request carrying its `X-Request-Id` (the caller's, else 32
//!   random hex digits; echoed on every answer). No line per failed response
//!   (that would storm under overload): causes are logged where they arise.
//! - Writes decide at the server's clock: a restore body with `at` is 422,
//!   and the restore's `Decide` reads the clock when the directory has read
//!   the facts under its transaction's locks.
//!   On a `memory:` directory a restore changes only the server's copy in
//!   memory (handy for trying the API; nothing is written to the file).
//! - The decisions of a batch are independent: an item the directory cannot
//!   answer gets an `error` in its place. A body that does not parse, or an
//!   item with a missing or ill-typed field, fails the whole batch (422).

pub mod auth;
pub mod authzen;
pub mod body;
pub mod decide;
pub mod decision_log;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod reload;
mod routes;
pub mod serverops;
pub mod shadow;
pub mod state;
#[cfg(test)]
mod test_support;

use std::future::Future;

pub use auth::{Caller, Scope, Tokens, TokensError};
pub use problem::{Code, Problem};
pub use routes::{router, ROUTES, X_DECISION_ID};
pub use state::{AppState, DecisionContext, DecisionKind, ServedPolicies, ServerConfig};

/// Serves `state` on `listener` until `shutdown` completes, then stops
/// accepting and waits for the requests in flight (restores included).
///
/// HTTP/1.1 with keep-alive. A client must send its request head within
/// the request timeout, or its connection is closed (axum's own `serve`
/// sets no such limit, so a slow client could hold a connection forever).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let upkeep_state = state.clone();
    let upkeep = tokio::spawn(async move {
        let mut interval = tokio::time::interval(metrics::UPKEEP_INTERVAL);
        loop {
            interval.tick().await;
            upkeep_state.metrics.run_upkeep();
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.config.request_timeout);
    let service = TowerToHyperService::new(router(state));
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers on kept-alive connections: without TCP_NODELAY,
        // Nagle's algorithm and delayed ACKs would add tens of milliseconds.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let connection = http.serve_connection(TokioIo::new(stream), service.clone());
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    // Stop accepting, then let every connection finish its request.
    drop(listener);
    connections.shutdown().await;
    upkeep.abort();
    Ok(())
}

/// A failed `accept`: a client that gave up is nothing; anything else
/// (out of file descriptors) is logged and retried after a pause, so the
/// loop neither spins nor stops serving.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %error, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}

/// Registers the SIGTERM and SIGINT handlers now and returns a future that
/// completes on the first of them. Call it before announcing readiness: a
/// signal that arrives before the handlers exist takes the default action
/// (the process dies) instead of a graceful shutdown.
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
        }
    })
}

/// Log output format (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr, filtered by `RUST_LOG` (default `default_filter`: the
/// service logs at `info`; one-shot commands default to `off`, so their
/// stderr stays the one-line reason, and `RUST_LOG=debug` shows the spans).
pub fn init_tracing(format: LogFormat, default_filter: &str) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => {
            EnvFilter::try_new(&text).map_err(|e| format!("RUST_LOG `{text}`: {e}"))?
        }
        _ => EnvFilter::new(default_filter),
    };
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| format!("cannot set up logging: {e}"))
}
