//! `restorectl snapshot` on the SQL backends: a large generated SQLite
//! directory recorded and checked with flat memory, and PostgreSQL.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod snapshot_support;
mod support;

use std::path::Path;

use snapshot_support::*;
use support::restorectl;

/// Peak resident memory (VmHWM, KiB) of a child process, sampled until it exits.
fn run_measuring_peak(dir: &Path, args: &[&str]) -> (i32, u64) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_restorectl"))
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A generated directory of `n` deleted members in one tenant (every tenth
/// with listed documents), imported into SQLite.
fn generated_sqlite(dir: &Path, name: &str, n: usize) -> String {
    use std::fmt::Write as _;
    let mut yaml = String::from(
        "format: restore-directory/v1\ntenants:\n  - id: big\n    plan: pro\n    seats: { total: 100000, used: 10 }\n    members: [ { id: admin, roles: [primary_admin] } ]\n    deleted_members:\n",
    );
    for i in 0..n {
        let day = 1 + i % 28;
        let _ = write!(
            yaml,
            "      - {{ id: m{i:06}, deleted_at: 2026-11-{day:02}T00:00:00Z, reason: removed_by_admin, deletion: completed"
        );
        if i % 10 == 0 {
            yaml.push_str(
                ", resources: { documents: [ { id: d1 }, { id: d2, transferred_to: admin } ] }",
            );
        }
        yaml.push_str(" }\n");
    }
    let source = dir.join(format!("{name}.yaml"));
    std::fs::write(&source, yaml).unwrap();
    let url = format!("sqlite:{}", dir.join(format!("{name}.db")).display());
    let (code, _, stderr) = restorectl(&[
        "import",
        "--from",
        &source.display().to_string(),
        "--to",
        &url,
    ]);
    assert_eq!(code, 0, "{stderr}");
    url
}

#[test]
fn recording_and_checking_a_large_directory_streams() {
    let dir = tempfile::tempdir().unwrap();
    let small = generated_sqlite(dir.path(), "small", 2_000);
    let large = generated_sqlite(dir.path(), "large", 20_000);
    let rules = rules();
    let mut peaks = Vec::new();
    for (url, out) in [
        (&small, "small-decisions.yaml"),
        (&large, "large-decisions.yaml"),
    ] {
        let (code, peak) = run_measuring_peak(
            dir.path(),
            &[
                "snapshot",
                "record",
                "--rules",
                &rules,
                "--directory",
                url,
                "--at",
                AT,
                "--out",
                out,
            ],
        );
        assert_eq!(code, 0);
        peaks.push(peak);
    }
    let text = std::fs::read_to_string(dir.path().join("large-decisions.yaml")).unwrap();
    assert_eq!(text.matches("\n- tenant: big\n").count(), 20_000);
    // The large file is ~10x the small one; the recording process's peak
    // memory must not grow with it (one decision in memory at a time).
    let small_size = std::fs::metadata(dir.path().join("small-decisions.yaml"))
        .unwrap()
        .len();
    let grown_kib = peaks[1].saturating_sub(peaks[0]);
    eprintln!(
        "peak RSS: {peaks:?} KiB; files {small_size} and {} bytes",
        text.len()
    );
    assert!(
        grown_kib * 1024 < text.len() as u64 - small_size,
        "peak memory grew by {grown_kib} KiB from 2,000 to 20,000 members (files: {} and {} bytes)",
        small_size,
        text.len()
    );

    std::fs::rename(
        dir.path().join("large-decisions.yaml"),
        dir.path().join("decisions.yaml"),
    )
    .unwrap();
    let (code, peak) = run_measuring_peak(
        dir.path(),
        &[
            "snapshot",
            "check",
            "--rules",
            &rules,
            "--directory",
            &large,
            "decisions.yaml",
        ],
    );
    assert_eq!(code, 0);
    let grown_kib = peak.saturating_sub(peaks[0]);
    assert!(
        grown_kib * 1024 < text.len() as u64,
        "check's peak memory is {peak} KiB, {grown_kib} KiB over recording 2,000 members"
    );
}

/// A PostgreSQL database of its own (created with `psql`), dropped at the end.
struct PgDatabase {
    admin: String,
    name: String,
    /// With a password, which trust authentication ignores: it must not
    /// reach the snapshot file.
    url: String,
}

fn psql(url: &str, sql: &str) {
    let out = std::process::Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql `{sql}` failed (is PostgreSQL running?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgDatabase {
    fn create() -> PgDatabase {
        let name = format!("restore_snapshot_{}", std::process::id());
        let admin = "postgres://postgres@127.0.0.1:5432/postgres".to_owned();
        psql(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        psql(&admin, &format!("CREATE DATABASE {name}"));
        PgDatabase {
            url: format!("postgres://postgres:s3cret-pw@127.0.0.1:5432/{name}"),
            admin,
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

#[test]
fn a_snapshot_recorded_from_postgres_checks_against_any_backend() {
    let db = PgDatabase::create();
    let (code, _, stderr) = restorectl(&[
        "import",
        "--from",
        "tests/fixtures/directory.yaml",
        "--to",
        &db.url,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), &rules(), &db.url, "decisions.yaml");
    let text = std::fs::read_to_string(dir.path().join("decisions.yaml")).unwrap();
    assert!(text.contains("\ndirectory: postgres\n"), "{text}");
    assert!(
        !text.contains("s3cret") && !text.contains("127.0.0.1"),
        "no URL recorded"
    );
    for url in [db.url.clone(), fixture_url()] {
        let (code, stdout, stderr) = check(dir.path(), &rules(), &url, &[]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains("unchanged:          17\n"), "{stdout}");
    }
    let shorter = shorter_window(dir.path());
    let (code, stdout, _) = check(dir.path(), &shorter, &db.url, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        changed_members(&stdout),
        ["acme/u_bob", "acme/u_day30"].map(String::from).into()
    );
}
