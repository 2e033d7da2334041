//! The decision log (`--decision-log FILE|-`): one NDJSON line per decision
//! and per restore, written off the request path.
//!
//! A request hands its [`DecisionRecord`] to a bounded channel with
//! `try_send` and goes on; a dedicated writer thread serialises and writes
//! the lines, flushing whenever the channel runs empty. When the channel is
//! full the record is dropped and counted (`restore_decision_log_dropped_total`)
//! rather than making the request wait: like OPA's decision-log plugin, the
//! log is an audit aid, never a brake on decisions. [`DecisionLog::close`]
//! drains what is queued and flushes, so graceful shutdown loses nothing.
//!
//! The file is opened for appending (created if absent), so a restart adds
//! to the same log; `-` writes to stdout, after the `listening on` line.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use restore_engine::vocabulary::format_timestamp;
use restore_engine::Decision;
use serde::{Serialize, Serializer};
use tokio::sync::{mpsc, oneshot};

use crate::shadow::ShadowVerdict;

/// Records queued before new ones are dropped. At ~300 bytes a line this
/// bounds the queue to a few MiB.
pub const DEFAULT_QUEUE: usize = 16_384;

/// Where the log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogTarget {
    Stdout,
    File(PathBuf),
}

impl LogTarget {
    /// `-` is stdout, anything else a file path.
    pub fn parse(text: &str) -> LogTarget {
        if text == "-" {
            LogTarget::Stdout
        } else {
            LogTarget::File(PathBuf::from(text))
        }
    }
}

/// Why the decision log could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionLogError {
    #[error("cannot open decision log `{file}`: {source}")]
    Open {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the decision-log writer: {0}")]
    Spawn(#[source] io::Error),
}

/// A decision or a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Decision,
    Restore,
}

/// The policy version that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedPolicy {
    pub name: Arc<str>,
    pub version: Arc<str>,
    pub digest: Arc<str>,
}

/// One line of the decision log (field order is the line's key order).
#[derive(Debug, Clone, Serialize)]
pub struct DecisionRecord {
    /// Also the `X-Decision-Id` response header.
    pub decision_id: String,
    #[serde(serialize_with = "rfc3339")]
    pub time: DateTime<Utc>,
    pub kind: RecordKind,
    /// The route template, e.g. `/v1/eligibility`.
    pub endpoint: &'static str,
    /// Name of the bearer token (`anonymous` without `--tokens`).
    pub token: Arc<str>,
    pub tenant: Arc<str>,
    pub member: String,
    pub actor: Option<String>,
    pub policy: LoggedPolicy,
    pub allowed: bool,
    /// Ids of the blockers that held.
    pub blockers: Vec<Arc<str>>,
    /// From the request's start to the decision (restores: to the commit).
    pub latency_us: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowVerdict>,
}

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(*t))
}

impl DecisionRecord {
    /// The record of `decision`; `time` is when the request arrived.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        decision_id: String,
        time: DateTime<Utc>,
        kind: RecordKind,
        endpoint: &'static str,
        token: Arc<str>,
        actor: Option<String>,
        decision: &Decision,
        latency_us: u64,
        shadow: Option<ShadowVerdict>,
    ) -> Self {
        DecisionRecord {
            decision_id,
            time,
            kind,
            endpoint,
            token,
            tenant: decision.tenant.clone(),
            member: decision.member.clone(),
            actor,
            policy: LoggedPolicy {
                name: decision.policy.name.clone(),
                version: decision.policy.version.clone(),
                digest: decision.policy.digest.clone(),
            },
            allowed: decision.allowed,
            blockers: decision.blockers.iter().map(|b| b.rule.clone()).collect(),
            latency_us,
            shadow,
        }
    }
}

enum Message {
    Record(Box<DecisionRecord>),
    /// Drain, flush and stop; answer when done.
    Close(oneshot::Sender<()>),
}

/// Counters shown on `/metrics`.
#[derive(Debug, Default)]
pub struct DecisionLogStats {
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub write_errors: AtomicU64,
}

/// Handle to the decision log; cheap to share.
pub struct DecisionLog {
    tx: mpsc::Sender<Message>,
    stats: Arc<DecisionLogStats>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for DecisionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionLog")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl DecisionLog {
    /// Opens `target` and starts the writer thread.
    pub fn open(target: &LogTarget, queue: usize) -> Result<DecisionLog, DecisionLogError> {
        let sink: Box<dyn Write + Send> = match target {
            LogTarget::Stdout => Box::new(io::stdout()),
            LogTarget::File(path) => Box::new(open_append(path)?),
        };
        DecisionLog::with_sink(sink, queue)
    }

    /// Starts the writer thread on any sink (tests write to a buffer).
    pub fn with_sink(
        sink: Box<dyn Write + Send>,
        queue: usize,
    ) -> Result<DecisionLog, DecisionLogError> {
        DecisionLog::start(sink, queue, 64 * 1024)
    }

    fn start(
        sink: Box<dyn Write + Send>,
        queue: usize,
        buffer_bytes: usize,
    ) -> Result<DecisionLog, DecisionLogError> {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let stats = Arc::new(DecisionLogStats::default());
        let writer_stats = stats.clone();
        let writer = std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || {
                write_loop(
                    rx,
                    BufWriter::with_capacity(buffer_bytes, sink),
                    &writer_stats,
                )
            })
            .map_err(DecisionLogError::Spawn)?;
        Ok(DecisionLog {
            tx,
            stats,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues a record without waiting; a full queue drops it and counts.
    pub fn record(&self, record: DecisionRecord) {
        if self.tx.try_send(Message::Record(Box::new(record))).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn stats(&self) -> &DecisionLogStats {
        &self.stats
    }

    /// Writes everything queued so far, flushes and stops the writer.
    /// Records sent afterwards are counted as dropped. Idempotent.
    pub async fn close(&self) {
        let (done_tx, done_rx) = oneshot::channel();
        // Waits for room in a full queue: at shutdown nothing is dropped.
        if self.tx.send(Message::Close(done_tx)).await.is_ok() {
            let _ = done_rx.await;
        }
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(writer) = writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
    }
}

fn open_append(path: &Path) -> Result<std::fs::File, DecisionLogError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| DecisionLogError::Open {
            file: path.display().to_string(),
            source,
        })
}

fn write_loop(
    mut rx: mpsc::Receiver<Message>,
    mut out: BufWriter<Box<dyn Write + Send>>,
    stats: &DecisionLogStats,
) {
    let mut line = Vec::with_capacity(512);
    let mut close = None;
    while let Some(message) = rx.blocking_recv() {
        let mut next = Some(message);
        // Write whatever is queued, then flush once: one syscall per burst.
        while let Some(message) = next.take() {
            match message {
                Message::Record(record) => write_record(&mut out, &mut line, &record, stats),
                Message::Close(done) => {
                    close = Some(done);
                    rx.close();
                }
            }
            next = rx.try_recv().ok();
        }
        if out.flush().is_err() {
            stats.write_errors.fetch_add(1, Ordering::Relaxed);
        }
        if close.is_some() {
            break;
        }
    }
    // Records queued behind the close message still get written.
    while let Ok(Message::Record(record)) = rx.try_recv() {
        write_record(&mut out, &mut line, &record, stats);
    }
    if out.flush().is_err() {
        stats.write_errors.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(done) = close {
        let _ = done.send(());
    }
}

fn write_record(
    out: &mut impl Write,
    line: &mut Vec<u8>,
    record: &DecisionRecord,
    stats: &DecisionLogStats,
) {
    line.clear();
    if serde_json::to_writer(&mut *line, record).is_err() {
        stats.write_errors.fetch_add(1, Ordering::Relaxed);
        return;
    }
    line.push(b'\n');
    match out.write_all(line) {
        Ok(()) => {
            stats.written.fetch_add(1, Ordering::Relaxed);
        }
        Err(error) => {
            stats.write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%error, "cannot write to the decision log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{sample_decision, SharedBuf};

    fn record(id: &str) -> DecisionRecord {
        let decision = sample_decision();
        DecisionRecord::new(
            id.to_owned(),
            decision.evaluated_at,
            RecordKind::Decision,
            "/v1/eligibility",
            Arc::from("billing"),
            Some("u_anna".into()),
            &decision,
            42,
            None,
        )
    }

    #[tokio::test]
    async fn writes_one_json_line_per_record_with_the_contract_fields() {
        let buf = SharedBuf::default();
        let log = DecisionLog::with_sink(Box::new(buf.clone()), 8).unwrap();
        log.record(record("a1"));
        log.record(record("b2"));
        log.close().await;
        let text = buf.text();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first = &lines[0];
        assert_eq!(first["decision_id"], "a1");
        assert_eq!(lines[1]["decision_id"], "b2");
        assert_eq!(first["kind"], "decision");
        assert_eq!(first["endpoint"], "/v1/eligibility");
        assert_eq!(first["token"], "billing");
        assert_eq!(first["tenant"], "full-pro");
        assert_eq!(first["member"], "p_gone");
        assert_eq!(first["actor"], "u_anna");
        assert_eq!(first["policy"]["name"], "default-restore");
        assert!(first["policy"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        assert_eq!(first["allowed"], false);
        let sample = sample_decision();
        let blockers: Vec<&str> = sample.blockers.iter().map(|b| &*b.rule).collect();
        assert!(!blockers.is_empty());
        assert_eq!(first["blockers"], serde_json::json!(blockers));
        assert_eq!(first["latency_us"], 42);
        assert!(first.get("shadow").is_none());
        assert!(first["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(log.stats().written.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_blocking() {
        // A sink that blocks until released keeps the writer busy.
        let gate = Arc::new(std::sync::Barrier::new(2));
        struct Gated(Arc<std::sync::Barrier>, SharedBuf, bool);
        impl Write for Gated {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if !self.2 {
                    self.2 = true;
                    self.0.wait();
                }
                self.1.write(b)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.1.flush()
            }
        }
        let buf = SharedBuf::default();
        // No buffering: the writer blocks in its first `write` while the
        // queue of 2 fills up behind it.
        let sink = Box::new(Gated(gate.clone(), buf.clone(), false));
        let log = DecisionLog::start(sink, 2, 0).unwrap();
        for i in 0..50 {
            log.record(record(&format!("r{i}")));
        }
        let dropped = log.stats().dropped.load(Ordering::Relaxed);
        assert!(dropped >= 40, "dropped {dropped} of 50 with a queue of 2");
        gate.wait();
        log.close().await;
        let written = buf.text().lines().count() as u64;
        assert_eq!(written + dropped, 50);
    }

    #[tokio::test]
    async fn close_flushes_and_later_records_count_as_dropped() {
        let buf = SharedBuf::default();
        let log = DecisionLog::with_sink(Box::new(buf.clone()), 64).unwrap();
        for i in 0..10 {
            log.record(record(&format!("r{i}")));
        }
        log.close().await;
        assert_eq!(buf.text().lines().count(), 10);
        log.record(record("late"));
        assert_eq!(log.stats().dropped.load(Ordering::Relaxed), 1);
        log.close().await; // a second close is harmless
    }

    #[tokio::test]
    async fn a_file_is_appended_to_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let target = LogTarget::parse(dir.path().join("decisions.ndjson").to_str().unwrap());
        for id in ["first", "second"] {
            let log = DecisionLog::open(&target, 4).unwrap();
            log.record(record(id));
            log.close().await;
        }
        let LogTarget::File(path) = &target else {
            panic!("a path is a file target")
        };
        let text = std::fs::read_to_string(path).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["decision_id"].to_string()
            })
            .collect();
        assert_eq!(ids, ["\"first\"", "\"second\""]);
    }

    #[test]
    fn an_unopenable_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("log.ndjson");
        let err = DecisionLog::open(&LogTarget::File(path), 4).unwrap_err();
        assert!(err.to_string().contains("missing-dir"), "{err}");
        assert_eq!(LogTarget::parse("-"), LogTarget::Stdout);
    }
}
