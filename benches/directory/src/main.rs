//! `directory-bench`: throughput and memory of the SQLite and PostgreSQL
//! directory adapters (issue 3, performance part).
//!
//! For each backend it generates a one-tenant directory of `--members`
//! deleted members, imports it with the adapter's `import`, and then times,
//! each pass in a fresh child process so that its peak RSS is its own:
//!
//! * `plain`: a plain streaming SELECT of the deleted-member columns (baseline);
//! * `adapter-sql`: the adapter's own statement, decoded into a tuple;
//! * `facts`: `Directory::deleted_members`, rows mapped to `Facts`;
//! * `eval`: `deleted_members` + `CompiledPolicy::evaluate` per row
//!   (`restorectl eval-all` minus the JSON output);
//! * `eval-encode`: `eval` + each decision encoded as a JSON line into a
//!   reused chunk written to a sink (`restorectl eval-all` minus stdout);
//! * `eval-serde`: the same with `serde_json::to_writer` as the encoder;
//!
//! then `restorectl eval-all` end to end (JSON lines to /dev/null), and last
//! `--restores` restores by `--clients` concurrent tasks sharing one adapter.
//! Results: BENCHMARKS.md, "Directory adapters (issue 3)".

// A benchmark: it prints its results and stops loudly on a broken setup.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod generate;
mod measure;
mod restores;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use restore_directory::Directory;
use restore_postgres::PostgresDirectory;
use restore_sqlite::SqliteDirectory;
use serde::Serialize;
use sqlx::{Connection, Executor};

use measure::{Pass, PassReport};

#[derive(Debug, Parser)]
#[command(about = "Benchmark the SQLite and PostgreSQL directory adapters")]
struct Cli {
    /// Deleted members in the generated tenant.
    #[arg(long, default_value_t = 1_000_000)]
    members: usize,
    #[arg(long, value_enum, default_value = "both")]
    backend: BackendArg,
    /// Server to benchmark on; a database `restore_bench_<pid>` is created
    /// there and dropped at the end.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    /// Restores in the concurrent restore test (0 skips it).
    #[arg(long, default_value_t = 5_000)]
    restores: usize,
    /// Concurrent restore clients (tasks sharing one adapter and its pool).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Rules directory (the default policy).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules"))]
    rules: PathBuf,
    /// Where the SQLite file goes (a temporary directory inside it).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// `restorectl` binary for the end-to-end run; default: next to this one.
    #[arg(long)]
    restorectl: Option<PathBuf>,
    /// Runs of each pass (fresh processes); the fastest is reported, being
    /// the least disturbed by other load on the machine.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Keep the PostgreSQL database / SQLite file (and print where) for inspection.
    #[arg(long)]
    keep_db: bool,
    /// Passes to run (comma-separated), in this order; `restorectl
    /// eval-all` runs after them whatever this says.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "plain,adapter-sql,facts,eval,eval-encode,eval-serde"
    )]
    passes: Vec<Pass>,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(subcommand)]
    internal: Option<Internal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, Subcommand)]
enum Internal {
    /// One measured pass; run by the bench itself in a child process.
    #[command(hide = true)]
    Measure {
        #[arg(long, value_enum)]
        pass: Pass,
        #[arg(long)]
        url: String,
        #[arg(long)]
        rules: PathBuf,
        #[arg(long)]
        at: String,
        /// `adapter-sql` pass: time this statement (a file) instead of the
        /// adapter's, to try a rewrite before changing the adapter.
        #[arg(long)]
        sql: Option<PathBuf>,
    },
}

/// Everything measured for one backend.
#[derive(Debug, Serialize)]
struct BackendReport {
    backend: &'static str,
    shape: generate::Shape,
    generate_secs: f64,
    import_secs: f64,
    /// PostgreSQL only: `VACUUM ANALYZE` after the import.
    analyze_secs: Option<f64>,
    passes: Vec<(Pass, PassReport)>,
    restorectl: Option<PassReport>,
    restores: Option<restores::RestoreReport>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Internal::Measure {
        pass,
        url,
        rules,
        at,
        sql,
    }) = &cli.internal
    {
        let at: DateTime<Utc> = at.parse().context("--at")?;
        let sql = match sql {
            Some(path) => Some(std::fs::read_to_string(path)?),
            None => None,
        };
        let report = measure::run(*pass, url, rules, at, sql).await?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    // Whole seconds: the time goes through RFC 3339 text to the children.
    let at = Utc::now().trunc_subsecs(0);
    let mut reports = Vec::new();
    if matches!(cli.backend, BackendArg::Sqlite | BackendArg::Both) {
        reports.push(run_sqlite(&cli, at).await?);
    }
    if matches!(cli.backend, BackendArg::Postgres | BackendArg::Both) {
        reports.push(run_postgres(&cli, at).await?);
    }
    print_summary(&reports);
    if let Some(path) = &cli.json {
        std::fs::write(path, serde_json::to_string_pretty(&reports)?)
            .with_context(|| format!("writing `{}`", path.display()))?;
    }
    Ok(())
}

async fn run_sqlite(cli: &Cli, at: DateTime<Utc>) -> anyhow::Result<BackendReport> {
    let work = match &cli.work_dir {
        Some(dir) => tempfile::Builder::new()
            .prefix("restore-bench")
            .tempdir_in(dir)?,
        None => tempfile::Builder::new().prefix("restore-bench").tempdir()?,
    };
    let path = work.path().join("directory.db");
    let url = format!("sqlite:{}", path.display());
    let dir = SqliteDirectory::connect(&url).await?;
    let (shape, generate_secs, import_secs) = generate_and_import(cli, at, "sqlite", |s| {
        let dir = dir.clone();
        async move { dir.import(&s).await.map(|_| ()) }
    })
    .await?;
    let mut report = BackendReport {
        backend: "sqlite",
        shape,
        generate_secs,
        import_secs,
        analyze_secs: None,
        passes: Vec::new(),
        restorectl: None,
        restores: None,
    };
    // Close so that the children see a checkpointed file, as a user would.
    dir.close().await;
    run_passes(cli, &url, at, &mut report)?;
    let dir = SqliteDirectory::open(&path).await?;
    report.restores = restores_if_asked(cli, &dir, at, "sqlite").await?;
    dir.close().await;
    if cli.keep_db {
        eprintln!("[sqlite] kept `{}`", work.keep().display());
    }
    Ok(report)
}

async fn run_postgres(cli: &Cli, at: DateTime<Utc>) -> anyhow::Result<BackendReport> {
    let db = format!("restore_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&cli.pg_url)
        .await
        .with_context(|| format!("connecting to `{}`", cli.pg_url))?;
    admin
        // The name is ours (a pid), not input; identifiers cannot be bound.
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .await
        .with_context(|| format!("creating database `{db}`"))?;
    let url = with_database(&cli.pg_url, &db);
    let result = postgres_in(cli, at, &url).await;
    if cli.keep_db {
        eprintln!("[postgres] kept database `{db}`; drop it with `DROP DATABASE {db}`");
        return result;
    }
    // Dropped whatever happened, so that a failed run leaves nothing behind.
    let dropped = admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
        )))
        .await;
    let report = result?;
    dropped.with_context(|| format!("dropping database `{db}`"))?;
    Ok(report)
}

async fn postgres_in(cli: &Cli, at: DateTime<Utc>, url: &str) -> anyhow::Result<BackendReport> {
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    // At least one connection per restore client, so none waits for the pool.
    let dir = PostgresDirectory::connect_with(options, cli.clients.max(8) as u32).await?;
    let (shape, generate_secs, import_secs) = generate_and_import(cli, at, "postgres", |s| {
        let dir = dir.clone();
        async move { dir.import(&s).await.map(|_| ()) }
    })
    .await?;
    // Fresh tables have no statistics yet and an unset visibility map; a
    // live directory has both (autovacuum), so measure it in that state.
    let start = Instant::now();
    sqlx::query("VACUUM ANALYZE")
        .execute(dir.pool())
        .await
        .context("VACUUM ANALYZE")?;
    let analyze_secs = Some(start.elapsed().as_secs_f64());
    let mut report = BackendReport {
        backend: "postgres",
        shape,
        generate_secs,
        import_secs,
        analyze_secs,
        passes: Vec::new(),
        restorectl: None,
        restores: None,
    };
    run_passes(cli, url, at, &mut report)?;
    report.restores = restores_if_asked(cli, &dir, at, "postgres").await?;
    dir.close().await;
    Ok(report)
}

/// Generates the snapshot, imports it with `import` and drops it, so that
/// the passes run against the database alone.
async fn generate_and_import<F, Fut>(
    cli: &Cli,
    at: DateTime<Utc>,
    backend: &str,
    import: F,
) -> anyhow::Result<(generate::Shape, f64, f64)>
where
    F: FnOnce(std::sync::Arc<restore_directory::Snapshot>) -> Fut,
    Fut: std::future::Future<Output = Result<(), restore_directory::DirectoryError>>,
{
    let start = Instant::now();
    let (snapshot, shape) = generate::generate(cli.members, at);
    let generate_secs = start.elapsed().as_secs_f64();
    eprintln!(
        "[{backend}] generated {} deleted, {} active members in {generate_secs:.1}s; importing…",
        shape.deleted_members, shape.active_members
    );
    let snapshot = std::sync::Arc::new(snapshot);
    let start = Instant::now();
    import(snapshot).await?;
    let import_secs = start.elapsed().as_secs_f64();
    eprintln!("[{backend}] imported in {import_secs:.1}s");
    Ok((shape, generate_secs, import_secs))
}

/// Runs every pass, then `restorectl eval-all`, each in its own process.
fn run_passes(
    cli: &Cli,
    url: &str,
    at: DateTime<Utc>,
    report: &mut BackendReport,
) -> anyhow::Result<()> {
    let at_text = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let exe = std::env::current_exe()?;
    for pass in cli.passes.iter().copied() {
        let name = pass
            .to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default();
        let mut best: Option<PassReport> = None;
        for _ in 0..cli.repeat.max(1) {
            let output = Command::new(&exe)
                .args(["measure", "--pass", &name, "--url", url, "--at", &at_text])
                .arg("--rules")
                .arg(&cli.rules)
                .stderr(Stdio::inherit())
                .output()?;
            if !output.status.success() {
                bail!("pass `{name}` failed ({})", output.status);
            }
            let run: PassReport = serde_json::from_slice(&output.stdout)
                .with_context(|| format!("pass `{name}` output"))?;
            eprintln!(
                "[{}] {name}: {} rows in {:.2}s = {:.0}/s, peak RSS {} MiB",
                report.backend,
                run.rows,
                run.secs,
                run.per_sec(),
                run.peak_rss_kib / 1024
            );
            best = Some(match best {
                // Fastest time, but the highest peak RSS seen.
                Some(b) if b.secs <= run.secs => PassReport {
                    peak_rss_kib: b.peak_rss_kib.max(run.peak_rss_kib),
                    ..b
                },
                Some(b) => PassReport {
                    peak_rss_kib: b.peak_rss_kib.max(run.peak_rss_kib),
                    ..run
                },
                None => run,
            });
        }
        let Some(pass_report) = best else { continue };
        report.passes.push((pass, pass_report));
    }
    let restorectl = match &cli.restorectl {
        Some(path) => path.clone(),
        None => exe.with_file_name("restorectl"),
    };
    if restorectl.exists() {
        let rows = report.shape.deleted_members as u64;
        let r = time_restorectl(&restorectl, &cli.rules, url, &at_text, rows)?;
        eprintln!(
            "[{}] restorectl eval-all: {:.2}s = {:.0}/s, peak RSS {} MiB",
            report.backend,
            r.secs,
            r.per_sec(),
            r.peak_rss_kib / 1024
        );
        report.restorectl = Some(r);
    } else {
        eprintln!(
            "[{}] `{}` not found: build it with `cargo build --release --bin restorectl`",
            report.backend,
            restorectl.display()
        );
    }
    Ok(())
}

/// `restorectl eval-all` end to end, JSON lines to /dev/null. Its peak RSS
/// is sampled from /proc while it runs (VmHWM only grows, so the last
/// sample is within one interval of the true peak).
fn time_restorectl(
    restorectl: &Path,
    rules: &Path,
    url: &str,
    at: &str,
    rows: u64,
) -> anyhow::Result<PassReport> {
    let start = Instant::now();
    let mut child = Command::new(restorectl)
        .args(["eval-all", "--directory", url, "--tenant", generate::TENANT])
        .args(["--at", at, "--output", "jsonl", "--rules"])
        .arg(rules)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("running `{}`", restorectl.display()))?;
    let pid = child.id().to_string();
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        peak = measure::vm_hwm(&pid).unwrap_or(peak).max(peak);
        std::thread::sleep(Duration::from_millis(10));
    };
    let secs = start.elapsed().as_secs_f64();
    if !status.success() {
        bail!("restorectl eval-all failed ({status})");
    }
    Ok(PassReport {
        // eval-all prints one line per deleted member; none is restored yet.
        rows,
        allowed: 0,
        secs,
        peak_rss_kib: peak,
    })
}

async fn restores_if_asked(
    cli: &Cli,
    dir: &(impl Directory + Clone + 'static),
    at: DateTime<Utc>,
    backend: &str,
) -> anyhow::Result<Option<restores::RestoreReport>> {
    if cli.restores == 0 {
        return Ok(None);
    }
    let r = restores::run(dir.clone(), cli, at).await?;
    eprintln!(
        "[{backend}] {} restores by {} clients in {:.2}s = {:.0}/s (p50 {:.1} ms, p99 {:.1} ms)",
        r.restored, r.clients, r.secs, r.per_sec, r.p50_ms, r.p99_ms
    );
    Ok(Some(r))
}

/// `url` with its database replaced by `db` (query parameters kept).
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[host_start..].find('/') {
        Some(i) => &base[..host_start + i],
        None => base,
    };
    format!("{base}/{db}{query}")
}

fn print_summary(reports: &[BackendReport]) {
    println!("\nbackend   members    import   pass          rows/s     peak RSS");
    for r in reports {
        for (pass, p) in &r.passes {
            println!(
                "{:<9} {:<10} {:>6.1}s  {:<12} {:>9.0} {:>8} MiB",
                r.backend,
                r.shape.deleted_members,
                r.import_secs,
                format!("{pass:?}"),
                p.per_sec(),
                p.peak_rss_kib / 1024
            );
        }
        if let Some(p) = &r.restorectl {
            println!(
                "{:<9} {:<10} {:>6.1}s  {:<12} {:>9.0} {:>8} MiB",
                r.backend,
                r.shape.deleted_members,
                r.import_secs,
                "restorectl",
                p.per_sec(),
                p.peak_rss_kib / 1024
            );
        }
        let rate = |pass: Pass| {
            r.passes
                .iter()
                .find(|(p, _)| *p == pass)
                .map(|(_, p)| p.per_sec())
        };
        if let (Some(eval), Some(plain)) = (rate(Pass::Eval), rate(Pass::Plain)) {
            println!("{:<9} eval/plain ratio: {:.2}", r.backend, eval / plain);
        }
        if let (Some(encode), Some(eval)) = (rate(Pass::EvalEncode), rate(Pass::Eval)) {
            println!(
                "{:<9} eval-encode/eval ratio: {:.2}",
                r.backend,
                encode / eval
            );
        }
        if let (Some(p), Some(eval)) = (&r.restorectl, rate(Pass::Eval)) {
            println!(
                "{:<9} restorectl/eval ratio: {:.2}",
                r.backend,
                p.per_sec() / eval
            );
        }
        if let Some(x) = &r.restores {
            println!(
                "{:<9} restores: {} by {} clients, {:.0}/s",
                r.backend, x.restored, x.clients, x.per_sec
            );
        }
    }
}
