//! One streaming pass over the deleted members, run in a child process of
//! its own so that its peak RSS (VmHWM) is the pass's alone, not the
//! generator's or the import's.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, TryStreamExt};
use restore_directory::{Directory, DirectoryError};
use restore_engine::facts::{Facts, Request};
use restore_engine::json::DecisionEncoder;
use restore_engine::PolicySet;
use restore_postgres::PostgresDirectory;
use restore_sqlite::SqliteDirectory;
use serde::{Deserialize, Serialize};
use sqlx::SqlSafeStr;

use crate::generate::TENANT;

/// What a pass reads and does per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pass {
    /// Baseline: the deleted-member columns of `deleted_members`, in id
    /// order, decoded into a tuple. No conflicts, no items, no engine.
    Plain,
    /// The adapter's own statement (conflicts and items included),
    /// decoded into a tuple; no validation, no `Facts`, no engine.
    AdapterSql,
    /// `Directory::deleted_members`: rows validated and mapped to `Facts`.
    Facts,
    /// `Directory::deleted_members` + `CompiledPolicy::evaluate` per row:
    /// `restorectl eval-all` without the JSON output.
    Eval,
    /// `Eval` + each decision encoded as a JSON line
    /// (`restore_engine::json::DecisionEncoder`) into a reused 256 KiB
    /// chunk written to a sink: `restorectl eval-all` without stdout.
    EvalEncode,
    /// As `EvalEncode`, with `serde_json::to_writer` as the encoder: the
    /// comparison (what `restorectl eval-all` did before issue 12).
    EvalSerde,
}

/// The child's report, one JSON line on stdout.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct PassReport {
    pub rows: u64,
    /// Allowed decisions (eval pass only), to check the data's mix.
    pub allowed: u64,
    pub secs: f64,
    /// Peak resident set of the child process, KiB.
    pub peak_rss_kib: u64,
}

impl PassReport {
    pub fn per_sec(&self) -> f64 {
        self.rows as f64 / self.secs
    }
}

/// `VmHWM` (peak resident set, KiB) of a process, from `/proc/PID/status`.
pub fn vm_hwm(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The base-table columns the adapter reads, as in its `DELETED_MEMBERS`.
const PLAIN_SQLITE: &str = "SELECT id, email, phone, deleted_at, reason, deletion, \
    removed_from_list FROM deleted_members \
    WHERE tenant_id = ?1 AND restored_at IS NULL ORDER BY id";
const PLAIN_POSTGRES: &str = "SELECT id, email, phone, deleted_at, reason, deletion, \
    removed_from_list FROM deleted_members \
    WHERE tenant_id = $1 AND restored_at IS NULL ORDER BY id";

/// Runs one pass over `url` and returns its report.
pub async fn run(
    pass: Pass,
    url: &str,
    rules: &Path,
    at: DateTime<Utc>,
    sql: Option<String>,
) -> anyhow::Result<PassReport> {
    // A candidate statement is the caller's own file, not untrusted input.
    let sqlite_sql = sql
        .clone()
        .map_or(restore_sqlite::DELETED_MEMBERS_SQL.into_sql_str(), |s| {
            sqlx::AssertSqlSafe(s).into_sql_str()
        });
    let postgres_sql = sql.map_or(restore_postgres::DELETED_MEMBERS_SQL.into_sql_str(), |s| {
        sqlx::AssertSqlSafe(s).into_sql_str()
    });
    let start;
    let (rows, allowed) = if let Some(path) = url.strip_prefix("sqlite:") {
        let dir = SqliteDirectory::open(Path::new(path)).await?;
        start = Instant::now();
        let counted = match pass {
            Pass::Plain => {
                count(
                    sqlx::query_as::<
                        _,
                        (
                            String,
                            Option<String>,
                            Option<String>,
                            String,
                            String,
                            String,
                            bool,
                        ),
                    >(PLAIN_SQLITE)
                    .bind(TENANT)
                    .fetch(dir.pool()),
                )
                .await?
            }
            Pass::AdapterSql => {
                count(
                    sqlx::query_as::<_, SqliteAdapterRow>(sqlite_sql)
                        .bind(TENANT)
                        .fetch(dir.pool()),
                )
                .await?
            }
            Pass::Facts | Pass::Eval | Pass::EvalEncode | Pass::EvalSerde => {
                facts_pass(&dir, pass, rules, at).await?
            }
        };
        dir.close().await;
        counted
    } else {
        let dir = PostgresDirectory::connect(url).await?;
        start = Instant::now();
        let counted = match pass {
            Pass::Plain => {
                count(
                    sqlx::query_as::<
                        _,
                        (
                            String,
                            Option<String>,
                            Option<String>,
                            DateTime<Utc>,
                            String,
                            String,
                            bool,
                        ),
                    >(PLAIN_POSTGRES)
                    .bind(TENANT)
                    .fetch(dir.pool()),
                )
                .await?
            }
            Pass::AdapterSql => {
                count(
                    sqlx::query_as::<_, PostgresAdapterRow>(postgres_sql)
                        .bind(TENANT)
                        .fetch(dir.pool()),
                )
                .await?
            }
            Pass::Facts | Pass::Eval | Pass::EvalEncode | Pass::EvalSerde => {
                facts_pass(&dir, pass, rules, at).await?
            }
        };
        dir.close().await;
        counted
    };
    let secs = start.elapsed().as_secs_f64();
    Ok(PassReport {
        rows,
        allowed,
        secs,
        peak_rss_kib: vm_hwm("self").unwrap_or(0),
    })
}

/// Columns of the SQLite adapter's statement: the member, its conflicts and
/// items as JSON (`restore_sqlite`'s `rows::col`).
type SqliteAdapterRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    bool,
    Option<String>,
    Option<String>,
);

/// Columns of the PostgreSQL adapter's statement: the member, its conflicts
/// and items as parallel arrays (`restore_postgres`'s `rows::col`).
type PostgresAdapterRow = (
    String,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    String,
    String,
    bool,
    Option<Vec<String>>,
    Option<Vec<i64>>,
    Option<Vec<String>>,
    Option<Vec<String>>,
    Option<Vec<i32>>,
    Option<Vec<String>>,
    Option<Vec<Option<String>>>,
);

/// Drains a row stream; `black_box` keeps every decoded row alive long
/// enough to count as work.
async fn count<T>(rows: impl Stream<Item = Result<T, sqlx::Error>>) -> anyhow::Result<(u64, u64)> {
    let mut n = 0;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.try_next().await? {
        black_box(row);
        n += 1;
    }
    Ok((n, 0))
}

/// The adapter's stream, with or without evaluating (and encoding) each row.
async fn facts_pass(
    dir: &dyn Directory,
    pass: Pass,
    rules: &Path,
    at: DateTime<Utc>,
) -> anyhow::Result<(u64, u64)> {
    /// As `restorectl eval-all`: one write per chunk of this size.
    const CHUNK: usize = 256 * 1024;
    let set = PolicySet::load_dir(rules).with_context(|| format!("rules `{}`", rules.display()))?;
    let policy = set.select(None, None, at)?;
    let request = Request::default();
    let mut stream = dir.deleted_members(TENANT, None);
    let (mut n, mut allowed) = (0, 0);
    let mut encoder = DecisionEncoder::new();
    let mut lines: Vec<u8> = Vec::with_capacity(CHUNK + 16 * 1024);
    let mut sink = std::io::sink();
    while let Some(facts) = stream.next().await {
        let facts: Facts = facts.map_err(|e: DirectoryError| anyhow::anyhow!(e))?;
        match pass {
            Pass::Eval => {
                let decision = policy.evaluate(&facts, &request, at).unwrap();
                allowed += u64::from(decision.allowed);
                black_box(decision);
            }
            Pass::EvalEncode | Pass::EvalSerde => {
                let decision = policy.evaluate(&facts, &request, at).unwrap();
                allowed += u64::from(decision.allowed);
                if pass == Pass::EvalEncode {
                    encoder.encode(&mut lines, &decision);
                } else {
                    serde_json::to_writer(&mut lines, &decision)?;
                }
                lines.push(b'\n');
                if lines.len() >= CHUNK {
                    sink.write_all(black_box(&lines))?;
                    lines.clear();
                }
            }
            _ => {
                black_box(facts);
            }
        }
        n += 1;
    }
    sink.write_all(black_box(&lines))?;
    Ok((n, allowed))
}
