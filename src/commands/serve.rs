//! `restorectl serve`: the decision service (crate `restore-server`).
//!
//! Prints exactly one line on stdout once the socket is bound,
//! `listening on http://ADDR`; logs go to stderr. Exit 0 after a graceful
//! shutdown (SIGTERM/SIGINT), 2 on bad flags, rules, tokens or directory.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use restore_server::decision_log::{self, DecisionLog, LogTarget};
use restore_server::reload::{self, Reloader};
use restore_server::serverops::ServerOps;
use restore_server::shadow::Shadow;
use restore_server::{AppState, LogFormat, ServerConfig, Tokens};

use crate::Exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of rule files (*.yaml).
    #[arg(long, value_name = "DIR")]
    pub rules: PathBuf,
    /// Directory URL: memory:FILE, sqlite:PATH, postgres://…, plugin:LIB?CONFIG.
    #[arg(long, value_name = "URL")]
    pub directory: String,
    /// Address to listen on; port 0 picks a free port (printed on start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8181")]
    pub listen: String,
    /// Tokens file (YAML: name, sha256, scopes, tenants). Without it every
    /// request is allowed and only a loopback address may be used.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// Policy used when a request names none; needed only when the rules
    /// directory holds several policies.
    #[arg(long, value_name = "NAME")]
    pub policy: Option<String>,
    /// Also evaluate every decision under this version (never changes the answer).
    #[arg(long, value_name = "V")]
    pub shadow_version: Option<String>,
    /// Write one NDJSON line per decision and restore to FILE, or `-` for stdout.
    #[arg(long, value_name = "FILE|-")]
    pub decision_log: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormatArg,
    /// Largest request body accepted (413 above).
    #[arg(long, value_name = "N", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Longest a request may take (408 `request_timeout` after).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub request_timeout: Duration,
    /// Longest a directory call may take (504 `directory_timeout` after).
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub directory_timeout: Duration,
    /// Requests handled at once; more are refused with 503 `overloaded`.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_concurrency: u32,
    /// Most items in one batch request (413 `too_many_items` above).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_batch_items: u32,
    /// Do not watch the rules folder for changes.
    #[arg(long)]
    pub no_watch: bool,
}

/// Seconds, fractions allowed, more than zero and at most a day.
fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "`{text}` must be more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `HOST:PORT` or `IP:PORT` (`localhost:8181`, `[::1]:0`); every address a
/// name resolves to is checked, the first is bound.
fn resolve_listen(text: &str) -> anyhow::Result<Vec<SocketAddr>> {
    use std::net::ToSocketAddrs;
    let usage =
        || anyhow::anyhow!("--listen `{text}` is not an address with a port, e.g. 127.0.0.1:8181");
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(vec![address]);
    }
    if !text.contains(':') {
        return Err(usage());
    }
    let addresses: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("--listen `{text}`: cannot resolve the host: {e}"))?
        .collect();
    if addresses.is_empty() {
        return Err(usage());
    }
    Ok(addresses)
}

/// How long in-flight requests get to finish after SIGTERM/SIGINT before
/// the process exits anyway (a client holding a stream open forever must
/// not keep the server alive).
const SHUTDOWN_GRACE_EXTRA: Duration = Duration::from_secs(5);

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let listen = resolve_listen(&args.listen)?;
    if args.tokens.is_none() && !listen.iter().all(|a| a.ip().is_loopback()) {
        anyhow::bail!(
            "refusing to listen on non-loopback `{}` without --tokens: anyone could ask and restore",
            args.listen
        );
    }
    let Some(&listen) = listen.first() else {
        anyhow::bail!("--listen `{}` resolves to no address", args.listen);
    };
    let tokens = args.tokens.as_deref().map(Tokens::load).transpose()?;
    // Bounded reads, hidden entries (a ConfigMap's `..data`) skipped: the
    // same loader as every reload.
    let set = restore_server::reload::load_rules(&args.rules)
        .with_context(|| format!("rules `{}`", args.rules.display()))?;
    if let Some(name) = &args.policy {
        if !set.policies().iter().any(|p| p.name() == name) {
            let mut known: Vec<&str> = set.policies().iter().map(|p| p.name()).collect();
            known.dedup();
            anyhow::bail!(
                "--policy `{name}`: no such policy in `{}`; known: {}",
                args.rules.display(),
                known.join(", ")
            );
        }
    }
    let shadow = args.shadow_version.as_deref().map(Shadow::new);
    if let Some(shadow) = &shadow {
        shadow.check_available(&set).map_err(anyhow::Error::msg)?;
    }
    let decision_log = args
        .decision_log
        .as_deref()
        .map(|target| DecisionLog::open(&LogTarget::parse(target), decision_log::DEFAULT_QUEUE))
        .transpose()?;
    let ops = ServerOps {
        reloader: Some(Reloader::new(args.rules.clone(), args.policy.clone())),
        shadow,
        decision_log,
    };
    restore_server::init_tracing(
        match args.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        },
        "info",
    )
    .map_err(anyhow::Error::msg)?;
    let config = ServerConfig {
        default_policy: args.policy.clone(),
        max_body_bytes: args.max_body_bytes,
        request_timeout: args.request_timeout,
        directory_timeout: args.directory_timeout,
        max_concurrency: args.max_concurrency as usize,
        max_batch_items: args.max_batch_items as usize,
    };
    let grace = config.request_timeout + SHUTDOWN_GRACE_EXTRA;
    // Multi-thread for serving only: the other commands await one call at a time.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("restorectl-serve")
        .build()?;
    runtime.block_on(async move {
        let directory: Arc<dyn restore_directory::Directory> =
            Arc::from(crate::directory::open(&args.directory).await?);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on `{listen}`"))?;
        let bound = listener.local_addr()?;
        let authenticated = tokens.is_some();
        let token_count = tokens.as_ref().map_or(0, Tokens::len);
        let state = AppState::with_ops(set, directory, tokens, config, ops);
        // Reload triggers: SIGHUP always, the folder watch unless --no-watch.
        let _sighup = reload::spawn_sighup(state.clone()).context("cannot listen for SIGHUP")?;
        let _watch = if args.no_watch {
            None
        } else {
            match reload::spawn_watch(state.clone(), reload::DEFAULT_DEBOUNCE) {
                Ok(guard) => Some(guard),
                Err(error) => {
                    tracing::warn!(%error, "rules folder not watched; reload with SIGHUP or POST /v1/admin/reload");
                    None
                }
            }
        };
        let after = state.clone();
        // Before the `listening on` line: from then on SIGTERM/SIGINT shut down gracefully.
        let signals =
            restore_server::shutdown_signal().context("cannot listen for SIGTERM/SIGINT")?;
        {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "listening on http://{bound}")?;
            stdout.flush()?;
        }
        if authenticated {
            tracing::info!(%bound, tokens = token_count, "serving with bearer-token authentication");
        } else {
            tracing::warn!(
                %bound,
                "no --tokens: every request is allowed without authentication; only loopback addresses may be used"
            );
        }
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            signals.await;
            let _ = stopping_tx.send(());
        };
        let server = restore_server::serve(listener, state, shutdown);
        let deadline = async move {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            result = server => result.context("serving")?,
            _ = deadline => tracing::warn!(
                grace_secs = grace.as_secs_f64(),
                "requests still running after the shutdown grace period; exiting anyway"
            ),
        }
        if let Some(log) = &after.ops.decision_log {
            log.close().await;
        }
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(Exit::Ok)
}
