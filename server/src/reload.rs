//! Policies change while serving: load and validate the whole rules folder,
//! then swap the live [`PolicySet`] atomically.
//!
//! - A reload reads every rule file first (bounded reads, see
//!   [`load_rules`]), compiles them all, and only then stores the new set in
//!   the `ArcSwap`. A request takes one `Arc<PolicySet>` when it starts and
//!   decides on it to the end, so it never sees half of a reload.
//! - A bad file changes nothing: the old set keeps serving, and the errors
//!   (file, line, column, YAML path, message) go to the reload response
//!   (422 `reload_failed`), to `/readyz` (`last_reload_error`), to the
//!   metrics and to the log. A later good reload clears `last_reload_error`:
//!   it describes the rules being served, not history (the log keeps that).
//! - Triggers: `POST /v1/admin/reload`, SIGHUP ([`spawn_sighup`]) and a
//!   debounced watch of the folder ([`spawn_watch`]). Reloads are serialised.
//!   A watch event that leaves every file's digest as it was is not a reload
//!   (editors touch files and write swap files), unless the last attempt
//!   failed (the bad file is gone: the error clears); an explicit reload
//!   always is.
//! - Counters follow Prometheus' own `..._reloads_total` /
//!   `..._reload_failures_total`: the first counts every attempt, the second
//!   the attempts that failed.
//!
//! Files: every `*.yaml` / `*.yml` under the folder, recursively and in path
//! order as `restorectl check` reads them, except entries whose name starts
//! with `.`: a Kubernetes ConfigMap volume keeps its previous and current
//! payloads in hidden `..data` folders beside the visible links, and reading
//! those would load every version twice.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use restore_engine::source::{limit_from_env, read_text_file, RULE_FILE_LIMIT_VAR};
use restore_engine::vocabulary::format_timestamp;
use restore_engine::{LoadError, PolicySet, RuleDiagnostic, RuleErrorKind};
use serde::Serialize;

/// Largest rule file read; a policy file is a few KiB.
pub const MAX_RULE_FILE_BYTES: u64 = 1024 * 1024;
/// Most rule files in one folder.
pub const MAX_RULE_FILES: usize = 1_000;
/// Deepest folder nesting followed (also stops symlink loops).
pub const MAX_DEPTH: usize = 16;
/// Quiet time after the last change before the watch reloads.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(300);

/// What started a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Trigger {
    /// `POST /v1/admin/reload`.
    Api,
    Sighup,
    Watch,
}

/// One error of a failed reload, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleError {
    /// The rule file, as found under the rules folder.
    pub file: String,
    /// 1-based; 0 when the error has no place in the file (unreadable file).
    pub line: usize,
    pub column: usize,
    /// YAML path, e.g. `blockers[2].when`; empty for the whole document.
    pub path: String,
    /// Stable code, e.g. `restore::unknown_fact`.
    pub code: String,
    pub message: String,
}

impl From<&RuleDiagnostic> for RuleError {
    fn from(d: &RuleDiagnostic) -> Self {
        RuleError {
            file: d.file.to_string(),
            line: d.span.line,
            column: d.span.column,
            path: d.path.clone(),
            code: d.kind.code().to_owned(),
            message: d.kind.to_string(),
        }
    }
}

/// A reload that changed nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReloadFailure {
    /// When the reload was attempted (RFC 3339).
    pub time: String,
    #[schema(value_type = String, example = "api")]
    pub trigger: Trigger,
    pub errors: Vec<RuleError>,
}

/// One loaded policy version, as `GET /v1/policies` and the reload response list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PolicySummary {
    pub name: String,
    pub version: String,
    /// RFC 3339.
    pub effective_from: String,
    /// `sha256:<hex>` of the rule file's bytes.
    pub digest: String,
    pub file: String,
    /// Whether this is the version an unpinned request gets now.
    pub in_force: bool,
}

/// Every version of `set`, marking the one in force at `now` per policy.
pub fn summaries(set: &PolicySet, now: DateTime<Utc>) -> Vec<PolicySummary> {
    set.policies()
        .iter()
        .map(|p| PolicySummary {
            name: p.name().to_owned(),
            version: p.version().to_owned(),
            effective_from: format_timestamp(p.effective_from()),
            digest: p.digest().to_owned(),
            file: p.file().to_owned(),
            in_force: set
                .select(Some(p.name()), None, now)
                .is_ok_and(|chosen| std::ptr::eq(chosen, p)),
        })
        .collect()
}

/// Loads the whole rules folder with bounded reads: at most
/// [`MAX_RULE_FILES`] files of at most [`MAX_RULE_FILE_BYTES`] each, at most
/// [`MAX_DEPTH`] folders deep. All errors of all files are reported.
pub fn load_rules(dir: &Path) -> Result<PolicySet, LoadError> {
    let mut paths = Vec::new();
    if let Err(e) = collect(dir, 0, &mut paths) {
        return Err(io_error(&e.0, e.1));
    }
    if paths.is_empty() {
        return Err(io_error(dir, "no rule files (*.yaml, *.yml) found".into()));
    }
    // The engine's reader: regular files only (a FIFO would block the
    // open), bounded, UTF-8 checked, never quoting the content. The
    // server's default stays 1 MiB; the variable the error names raises it.
    let limit = limit_from_env(RULE_FILE_LIMIT_VAR, MAX_RULE_FILE_BYTES)
        .map_err(|e| io_error(dir, e.to_string()))?;
    let mut sources = Vec::with_capacity(paths.len());
    let mut errors = Vec::new();
    for path in paths {
        match read_text_file(&path, limit) {
            Ok(text) => sources.push((path.display().to_string(), text)),
            Err(e) => errors.extend(io_error(&path, e.to_string()).diagnostics),
        }
    }
    match PolicySet::from_sources(sources.iter().map(|(f, t)| (f.as_str(), t.as_str()))) {
        Ok(set) if errors.is_empty() => Ok(set),
        Ok(_) => Err(LoadError {
            diagnostics: errors,
        }),
        Err(mut e) => {
            errors.append(&mut e.diagnostics);
            Err(LoadError {
                diagnostics: errors,
            })
        }
    }
}

fn io_error(path: &Path, message: String) -> LoadError {
    LoadError {
        diagnostics: vec![RuleDiagnostic {
            file: Arc::from(path.display().to_string()),
            span: Default::default(),
            path: String::new(),
            kind: RuleErrorKind::Io(message),
        }],
    }
}

fn collect(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), (PathBuf, String)> {
    if depth > MAX_DEPTH {
        return Err((
            dir.to_owned(),
            format!("rules folder nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| (dir.to_owned(), e.to_string()))?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| (dir.to_owned(), e.to_string()))?;
        if !entry.file_name().to_string_lossy().starts_with('.') {
            paths.push(entry.path());
        }
    }
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect(&path, depth + 1, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            if out.len() == MAX_RULE_FILES {
                return Err((
                    dir.to_owned(),
                    format!("more than {MAX_RULE_FILES} rule files"),
                ));
            }
            out.push(path);
        }
    }
    Ok(())
}

/// Where the policies being served live: the server's state (and a plain
/// holder in the tests).
pub trait LiveRules: Send + Sync + 'static {
    /// `None`: started without a rules folder; nothing to reload.
    fn reloader(&self) -> Option<&Reloader>;
    /// `(file, digest)` of every version being served.
    fn served_files(&self) -> Vec<(String, String)>;
    /// Swaps in `set` whole; requests already running keep theirs.
    fn replace(&self, set: PolicySet);
    /// Called once per reload attempt, with its failure if it failed
    /// (metrics, readiness detail).
    fn reload_finished(&self, _failure: Option<&Arc<ReloadFailure>>) {}
}

/// Reload bookkeeping: the folder, the last error and the counters.
#[derive(Debug)]
pub struct Reloader {
    rules_dir: PathBuf,
    /// `--policy NAME`: a reload that drops this policy fails.
    required_policy: Option<String>,
    last_error: Mutex<Option<Arc<ReloadFailure>>>,
    attempts: AtomicU64,
    failures: AtomicU64,
    last_ok: AtomicBool,
    serial: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub fn new(rules_dir: PathBuf, required_policy: Option<String>) -> Reloader {
        Reloader {
            rules_dir,
            required_policy,
            last_error: Mutex::new(None),
            attempts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_ok: AtomicBool::new(true),
            serial: tokio::sync::Mutex::new(()),
        }
    }

    pub fn rules_dir(&self) -> &Path {
        &self.rules_dir
    }

    /// The error of the last reload if it failed (`/readyz` detail).
    pub fn last_error(&self) -> Option<Arc<ReloadFailure>> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Reload attempts (`restore_policy_reloads_total`).
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// Failed attempts (`restore_policy_reload_failures_total`).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Whether the last attempt succeeded (true before any).
    pub fn last_successful(&self) -> bool {
        self.last_ok.load(Ordering::Relaxed)
    }

    fn check_required(&self, set: PolicySet) -> Result<PolicySet, LoadError> {
        match &self.required_policy {
            Some(name) if !set.policies().iter().any(|p| p.name() == name) => Err(io_error(
                &self.rules_dir,
                format!("the rules no longer define policy `{name}`, which the server was started with (--policy)"),
            )),
            _ => Ok(set),
        }
    }
}

/// Loads the folder and, if every file is good, swaps it in. On error the
/// live set is untouched. Returns the new set's versions.
pub async fn reload(
    live: &impl LiveRules,
    trigger: Trigger,
) -> Result<Vec<PolicySummary>, Arc<ReloadFailure>> {
    let Some(reloader) = live.reloader() else {
        return Err(Arc::new(ReloadFailure {
            time: format_timestamp(Utc::now()),
            trigger,
            errors: vec![RuleError {
                file: String::new(),
                line: 0,
                column: 0,
                path: String::new(),
                code: "restore::io".into(),
                message: "the server was started without a rules folder".into(),
            }],
        }));
    };
    let _one_at_a_time = reloader.serial.lock().await;
    let dir = reloader.rules_dir.clone();
    let loaded = tokio::task::spawn_blocking(move || load_rules(&dir))
        .await
        .unwrap_or_else(|e| {
            Err(io_error(
                &reloader.rules_dir,
                format!("reload task failed: {e}"),
            ))
        })
        .and_then(|set| reloader.check_required(set));
    let now = Utc::now();
    match loaded {
        Ok(set) => {
            let listed = summaries(&set, now);
            // Unchanged after a failed attempt is a fix (the bad file went
            // away): it goes through, to clear the error.
            if trigger == Trigger::Watch
                && reloader.last_successful()
                && same_files(&live.served_files(), &set)
            {
                tracing::debug!(rules = %reloader.rules_dir.display(), "rules unchanged; no reload");
                return Ok(listed);
            }
            reloader.attempts.fetch_add(1, Ordering::Relaxed);
            live.replace(set);
            live.reload_finished(None);
            reloader.last_ok.store(true, Ordering::Relaxed);
            if let Ok(mut last) = reloader.last_error.lock() {
                *last = None;
            }
            let versions: Vec<String> = listed
                .iter()
                .map(|p| format!("{} {}", p.name, p.version))
                .collect();
            tracing::info!(?trigger, rules = %reloader.rules_dir.display(), policies = ?versions, "rules reloaded");
            Ok(listed)
        }
        Err(error) => {
            reloader.attempts.fetch_add(1, Ordering::Relaxed);
            reloader.failures.fetch_add(1, Ordering::Relaxed);
            reloader.last_ok.store(false, Ordering::Relaxed);
            let failure = Arc::new(ReloadFailure {
                time: format_timestamp(now),
                trigger,
                errors: error.diagnostics.iter().map(RuleError::from).collect(),
            });
            for e in &failure.errors {
                tracing::error!(
                    ?trigger,
                    file = %e.file,
                    line = e.line,
                    column = e.column,
                    path = %e.path,
                    code = %e.code,
                    "rules reload failed, the old rules keep serving: {}",
                    e.message
                );
            }
            if let Ok(mut last) = reloader.last_error.lock() {
                *last = Some(failure.clone());
            }
            live.reload_finished(Some(&failure));
            Err(failure)
        }
    }
}

/// Same files with the same digests as those being served.
fn same_files(served: &[(String, String)], set: &PolicySet) -> bool {
    let mut new: Vec<(String, String)> = set
        .policies()
        .iter()
        .map(|p| (p.file().to_owned(), p.digest().to_owned()))
        .collect();
    let mut served = served.to_vec();
    new.sort();
    served.sort();
    new == served
}

/// Reloads on every SIGHUP until the process ends.
pub fn spawn_sighup<L: LiveRules + Clone>(live: L) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading rules");
            let _ = reload(&live, Trigger::Sighup).await;
        }
    }))
}

/// Keeps the folder watch alive; dropping it stops watching.
pub struct WatchGuard {
    _debouncer: notify_debouncer_full::Debouncer<
        notify::RecommendedWatcher,
        notify_debouncer_full::RecommendedCache,
    >,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why the folder cannot be watched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    #[error("no rules folder to watch")]
    NoFolder,
    #[error("cannot watch rules folder `{dir}`: {source}")]
    Watch {
        dir: String,
        #[source]
        source: notify::Error,
    },
}

/// Watches the rules folder (recursively) and reloads `debounce` after the
/// last change. Bursts of events while a reload runs collapse into one more.
pub fn spawn_watch<L: LiveRules + Clone>(
    live: L,
    debounce: Duration,
) -> Result<WatchGuard, WatchError> {
    use notify::RecursiveMode;
    let Some(reloader) = live.reloader() else {
        return Err(WatchError::NoFolder);
    };
    let dir = reloader.rules_dir().to_owned();
    let watch_error = |source| WatchError::Watch {
        dir: dir.display().to_string(),
        source,
    };
    // Capacity 1 plus try_send: one pending reload at most.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut debouncer = notify_debouncer_full::new_debouncer(
        debounce,
        None,
        move |result: notify_debouncer_full::DebounceEventResult| match result {
            Ok(events) => {
                if events.iter().any(|e| is_change(&e.event.kind)) {
                    let _ = tx.try_send(());
                }
            }
            Err(errors) => {
                for error in errors {
                    tracing::warn!(%error, "rules folder watch error");
                }
            }
        },
    )
    .map_err(watch_error)?;
    debouncer
        .watch(&dir, RecursiveMode::Recursive)
        .map_err(watch_error)?;
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            let _ = reload(&live, Trigger::Watch).await;
        }
    });
    tracing::info!(rules = %dir.display(), "watching the rules folder for changes");
    Ok(WatchGuard {
        _debouncer: debouncer,
        task,
    })
}

/// Events that can change what the folder holds; reads (our own reloads
/// open every file) are not.
fn is_change(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests;
