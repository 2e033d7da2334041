//! Hostile input, faults and clocks (issue 13): the binary is run against
//! each class with bounded time (killed after [`TIMEOUT`]) and bounded memory
//! (`ulimit -v`), and must refuse with exit 2, a short reason on stderr,
//! nothing on stdout, and nothing changed.
//!
//! Classes: a write choosing its clock; unbounded reads (devices, FIFOs, link
//! loops, size limits); content leaking into errors; output failures (full
//! disk, closed pipe); strict data (unknown resources, control characters,
//! byte-order marks, timestamps, counts); terminal escapes in text output.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// How long one run may take before it counts as a hang.
const TIMEOUT: Duration = Duration::from_secs(30);
/// For the runs that parse a 50 MB line (a debug build on a shared machine).
const SLOW_TIMEOUT: Duration = Duration::from_secs(180);
/// Address-space limit for every run, in KiB (1 GiB): `/dev/zero` read whole
/// grew to 8 GB before the fix.
const MEMORY_KIB: u64 = 1 << 20;
/// The longest stderr a refusal may print.
const SHORT: usize = 2_000;

/// Where the child's stdout goes.
enum Out {
    Captured,
    DevFull,
}

struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

struct Restorectl<'a> {
    args: Vec<String>,
    env: Vec<(&'a str, String)>,
    out: Out,
    timeout: Duration,
}

fn restorectl<S: AsRef<str>>(args: &[S]) -> Restorectl<'static> {
    Restorectl {
        args: args.iter().map(|a| a.as_ref().to_owned()).collect(),
        env: Vec::new(),
        out: Out::Captured,
        timeout: TIMEOUT,
    }
}

impl<'a> Restorectl<'a> {
    fn env(mut self, key: &'a str, value: impl Into<String>) -> Self {
        self.env.push((key, value.into()));
        self
    }

    fn stdout_to(mut self, out: Out) -> Self {
        self.out = out;
        self
    }

    fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The binary under `ulimit -v`, through `sh` (no `unsafe` pre_exec).
    fn command(&self) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -v {MEMORY_KIB} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_restorectl"))
            .args(&self.args)
            .stdin(Stdio::null());
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    fn run(self) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let out_path = dir.path().join("stdout");
        let err_path = dir.path().join("stderr");
        let stdout = match self.out {
            Out::Captured => File::create(&out_path).unwrap(),
            Out::DevFull => std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        };
        let mut cmd = self.command();
        cmd.stdout(stdout).stderr(File::create(&err_path).unwrap());
        let child = cmd.spawn().expect("sh runs");
        let code = wait_bounded(child, self.timeout, &self.args);
        Run {
            code,
            stdout: std::fs::read(&out_path).unwrap_or_default(),
            stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned(),
        }
    }
}

/// Waits at most `timeout`, then kills the child and fails the test.
fn wait_bounded(mut child: Child, timeout: Duration, args: &[String]) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("restorectl {args:?} still running after {timeout:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Exit 2, nothing on stdout, a short reason containing `needle`, no panic.
#[track_caller]
fn assert_refused(run: &Run, needle: &str) {
    assert_eq!(
        run.code,
        Some(2),
        "exit code; stderr: {}",
        clip(&run.stderr)
    );
    assert!(
        run.stdout.is_empty(),
        "stdout must be empty, got {} bytes: {}",
        run.stdout.len(),
        clip(&run.stdout())
    );
    assert_short_reason(run, needle);
}

#[track_caller]
fn assert_short_reason(run: &Run, needle: &str) {
    assert!(
        run.stderr.len() < SHORT,
        "stderr is {} bytes: {}",
        run.stderr.len(),
        clip(&run.stderr)
    );
    assert!(
        run.stderr.contains(needle),
        "stderr lacks {needle:?}: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        !run.stderr.contains('\u{1b}'),
        "raw escape: {:?}",
        run.stderr
    );
}

fn clip(text: &str) -> String {
    text.chars().take(600).collect()
}

fn root() -> PathBuf {
    support::root()
}

fn rules() -> String {
    root().join("rules").display().to_string()
}

fn fixture() -> PathBuf {
    support::fixture("directory.yaml")
}

fn memory(path: &Path) -> String {
    format!("memory:{}", path.display())
}

const AT: &str = "2026-11-24T10:00:00Z";

fn eval_args(directory: &str, member: &str) -> Vec<String> {
    [
        "eval",
        "--rules",
        &rules(),
        "--directory",
        directory,
        "--tenant",
        "acme",
        "--member",
        member,
        "--at",
        AT,
    ]
    .map(String::from)
    .to_vec()
}

fn import_args(from: &Path, to: &str) -> Vec<String> {
    vec![
        "import".into(),
        "--from".into(),
        from.display().to_string(),
        "--to".into(),
        to.into(),
    ]
}

/// Imports `snapshot` into a new SQLite file in `dir`; returns its URL.
fn sqlite_from(snapshot: &Path, dir: &Path) -> (PathBuf, String) {
    let db = dir.join("directory.db");
    let url = format!("sqlite:{}", db.display());
    let run = restorectl(&import_args(snapshot, &url)).run();
    assert_eq!(run.code, Some(0), "import: {}", run.stderr);
    (db, url)
}

fn restore_args(url: &str, member: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "restore",
        "--rules",
        &rules(),
        "--directory",
        url,
        "--tenant",
        "acme",
        "--member",
        member,
        "--actor",
        "u_anna",
        "--department",
        "ops",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn audit_rows(db: &Path) -> Vec<restore_sqlite::AuditRow> {
    support::block_on(async {
        let directory = restore_sqlite::SqliteDirectory::open(db).await.unwrap();
        let rows = directory.audit("acme").await.unwrap();
        directory.close().await;
        rows
    })
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// A copy of the default rules in `dir/rules`.
fn rules_copy(dir: &Path) -> PathBuf {
    let copy = dir.join("rules");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(root().join("rules")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    copy
}

fn default_rule_text() -> String {
    std::fs::read_to_string(root().join("rules/default-restore.v1.yaml")).unwrap()
}

// 1. A write must not choose its own clock.

#[test]
fn a_backdated_restore_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, url) = sqlite_from(&fixture(), dir.path());
    let before = std::fs::read(&db).unwrap();
    // u_day30s1's 30-day window ended on 2026-11-24; on 2026-10-26 it was open.
    let backdated = restore_args(&url, "u_day30s1", &["--at", "2026-10-26T00:00:00Z"]);
    let run = restorectl(&backdated).run();
    assert_refused(
        &run,
        "--at 2026-10-26T00:00:00Z is only allowed with --dry-run",
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "the database changed");
    assert!(audit_rows(&db).is_empty(), "an audit row was written");

    // With --dry-run the same question is answered, and nothing is written.
    let mut dry = backdated.clone();
    dry.push("--dry-run".into());
    let run = restorectl(&dry).run();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let decision: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(decision["allowed"], true);
    assert_eq!(decision["evaluated_at"], "2026-10-26T00:00:00Z");
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert!(audit_rows(&db).is_empty(), "a dry run wrote an audit row");

    // The department is written: control characters are refused.
    let mut forged = restore_args(&url, "u_day30", &[]);
    let department = forged.iter().position(|a| a == "ops").unwrap();
    forged[department] = "ops\u{1b}[2J".into();
    assert_refused(
        &restorectl(&forged).run(),
        "--department `ops\\u{1b}[2J` contains the control character",
    );
    assert!(audit_rows(&db).is_empty(), "an audit row was written");

    // Without --at the restore decides now: the window has expired.
    let run = restorectl(&restore_args(&url, "u_day30s1", &[])).run();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stdout().contains("window_expired"), "{}", run.stdout());
    assert!(
        audit_rows(&db).is_empty(),
        "a denied restore wrote an audit row"
    );
}

#[test]
fn a_restore_decides_and_records_at_the_real_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (snapshot, _) = support::shifted_snapshot(&fixture(), AT.parse().unwrap(), dir.path());
    let (db, url) = sqlite_from(&snapshot, dir.path());
    let start = Utc::now();
    let run = restorectl(&restore_args(&url, "u_bob", &[])).run();
    let end = Utc::now();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let receipt: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let decided: DateTime<Utc> = receipt["decision"]["evaluated_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(start <= decided && decided <= end, "decided at {decided}");
    let rows = audit_rows(&db);
    assert_eq!(rows.len(), 1);
    let recorded: DateTime<Utc> = rows[0].at.parse().unwrap();
    assert!(
        start <= recorded && recorded <= end,
        "audit row at {recorded}, run between {start} and {end}"
    );
}

#[test]
fn a_deletion_after_the_evaluation_time_is_an_error() {
    // u_day30s1 was deleted on 2026-10-25.
    let mut args = eval_args(&memory(&fixture()), "u_day30s1");
    let at = args.iter().position(|a| a == AT).unwrap();
    args[at] = "2026-01-01T00:00:00Z".into();
    let run = restorectl(&args).run();
    assert_refused(
        &run,
        "was deleted at 2026-10-25T09:59:59Z, after the evaluation time 2026-01-01T00:00:00Z",
    );

    let dir = tempfile::tempdir().unwrap();
    let (_, url) = sqlite_from(&fixture(), dir.path());
    let dry = restore_args(
        &url,
        "u_day30s1",
        &["--dry-run", "--at", "2026-01-01T00:00:00Z"],
    );
    assert_refused(&restorectl(&dry).run(), "after the evaluation time");
}

// 2. Every read is bounded.

#[test]
fn devices_fifos_and_directories_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let zero = Path::new("/dev/zero");
    assert_refused(
        &restorectl(&eval_args(&memory(zero), "u_bob")).run(),
        "`/dev/zero`: it is a character device, not a regular file",
    );
    let target = dir.path().join("never.db");
    let url = format!("sqlite:{}", target.display());
    assert_refused(
        &restorectl(&import_args(zero, &url)).run(),
        "it is a character device",
    );
    assert_refused(
        &restorectl(&import_args(dir.path(), &url)).run(),
        "it is a directory",
    );
    let fifo = dir.path().join("snapshot.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    assert_refused(
        &restorectl(&eval_args(&memory(&fifo), "u_bob")).run(),
        "it is a FIFO",
    );
    assert_refused(&restorectl(&import_args(&fifo, &url)).run(), "it is a FIFO");
    assert!(!target.exists(), "a refused import created the target");

    // A rule test file.
    let run = restorectl(&["test", "--rules", &rules(), "/dev/zero"]).run();
    assert_refused(
        &run,
        "`/dev/zero` is a character device, not a regular file",
    );

    // A rule file linked to /dev/zero, and one that is a FIFO.
    let rules = rules_copy(dir.path());
    std::os::unix::fs::symlink(zero, rules.join("zero.yaml")).unwrap();
    let run = restorectl(&["check", "--rules", &rules.display().to_string()]).run();
    assert_refused(&run, "zero.yaml` is a character device, not a regular file");
    std::fs::remove_file(rules.join("zero.yaml")).unwrap();
    let made = Command::new("mkfifo")
        .arg(rules.join("pipe.yaml"))
        .status()
        .unwrap();
    assert!(made.success());
    let run = restorectl(&["check", "--rules", &rules.display().to_string()]).run();
    assert_refused(&run, "pipe.yaml` is a FIFO");
}

#[test]
fn rules_folders_with_link_loops_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_copy(dir.path());
    // `ln -s . a; ln -s . b`: an endless tree of a/b/a/b/...
    std::os::unix::fs::symlink(".", rules.join("a")).unwrap();
    std::os::unix::fs::symlink(".", rules.join("b")).unwrap();
    let run = restorectl(&["check", "--rules", &rules.display().to_string()]).run();
    assert_refused(&run, "this folder was already read");
    let args = eval_args(&memory(&fixture()), "u_bob");
    let mut args = args.clone();
    args[2] = rules.display().to_string();
    assert_refused(&restorectl(&args).run(), "this folder was already read");

    // A link to a parent folder further up loops too.
    let nested = dir.path().join("nested");
    std::fs::create_dir_all(nested.join("x/y")).unwrap();
    std::fs::copy(
        root().join("rules/default-restore.v1.yaml"),
        nested.join("x/rules.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../..", nested.join("x/y/up")).unwrap();
    let run = restorectl(&["check", "--rules", &nested.display().to_string()]).run();
    assert_refused(&run, "this folder was already read");

    // Deep nesting is bounded.
    let deep = dir.path().join("deep");
    let mut path = deep.clone();
    for _ in 0..40 {
        path = path.join("d");
    }
    std::fs::create_dir_all(&path).unwrap();
    let run = restorectl(&["check", "--rules", &deep.display().to_string()]).run();
    assert_refused(&run, "rules folders nest deeper than 32 levels");
}

#[test]
fn size_limits_are_enforced_and_named() {
    let run = restorectl(&eval_args(&memory(&fixture()), "u_bob"))
        .env("RESTORECTL_MAX_SNAPSHOT_BYTES", "1K")
        .run();
    assert_refused(
        &run,
        "larger than the limit of 1024 bytes (set RESTORECTL_MAX_SNAPSHOT_BYTES to raise it)",
    );
    let run = restorectl(&["check", "--rules", &rules()])
        .env("RESTORECTL_MAX_RULE_FILE_BYTES", "2k")
        .run();
    assert_refused(
        &run,
        "is larger than the limit of 2048 bytes (set RESTORECTL_MAX_RULE_FILE_BYTES to raise it)",
    );
    let run = restorectl(&["check", "--rules", &rules()])
        .env("RESTORECTL_MAX_RULE_FILE_BYTES", "lots")
        .run();
    assert_refused(&run, "RESTORECTL_MAX_RULE_FILE_BYTES: `lots` is not a size");
    // Raised, the same files load.
    let run = restorectl(&["check", "--rules", &rules()])
        .env("RESTORECTL_MAX_RULE_FILE_BYTES", "64M")
        .run();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn an_alias_bomb_in_a_snapshot_is_refused_before_it_expands() {
    // 27 KB that would expand to 10^9 resource items.
    let dir = tempfile::tempdir().unwrap();
    let items = vec!["{ id: d }"; 1000].join(", ");
    let mut text = format!(
        "format: restore-directory/v1
tenants:
  - &t
    id: t
    plan: pro
    seats: {{ total: 1, used: 0 }}
    deleted_members:
      - &m
        id: m
        deleted_at: 2026-11-01T00:00:00Z
        reason: removed_by_admin
        deletion: completed
        resources:
          documents: [{items}]
"
    );
    text.push_str(&"      - *m\n".repeat(1000));
    text.push_str(&"  - *t\n".repeat(1000));
    let bomb = write(dir.path(), "bomb.yaml", text);
    let expected = "bomb.yaml:15:9: YAML aliases (`*name`) are not supported in snapshot files";
    assert_refused(&restorectl(&eval_args(&memory(&bomb), "m")).run(), expected);
    let target = dir.path().join("never.db");
    let run = restorectl(&import_args(&bomb, &format!("sqlite:{}", target.display()))).run();
    assert_refused(&run, expected);
    assert!(!target.exists());
}

// 3. Errors never leak content.

#[test]
fn a_secret_file_given_as_a_snapshot_is_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "hunter2-0123456789abcdef";
    let env_file = write(
        dir.path(),
        ".env",
        format!("DATABASE_PASSWORD={secret}\nAPI_KEY=sk-{secret}\n"),
    );
    let yaml_secrets = write(
        dir.path(),
        "secrets.yaml",
        format!("password: {secret}\ntoken: {secret}\n"),
    );
    let json_secrets = write(
        dir.path(),
        "secrets.json",
        format!("{{\"password\": \"{secret}\"}}"),
    );
    let url = format!("sqlite:{}", dir.path().join("never.db").display());
    for file in [&env_file, &yaml_secrets, &json_secrets] {
        for run in [
            restorectl(&eval_args(&memory(file), "u_bob")).run(),
            restorectl(&import_args(file, &url)).run(),
        ] {
            assert_refused(&run, &file.display().to_string());
            assert!(!run.stderr.contains("hunter2"), "leaked: {}", run.stderr);
            assert!(
                !run.stderr.contains("DATABASE_PASSWORD"),
                "leaked: {}",
                run.stderr
            );
        }
    }
}

#[test]
fn a_50_mb_line_near_an_error_gives_a_short_report() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "x".repeat(50 << 20);
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let text = default_rule_text().replacen(
        "version: \"1.0.0\"",
        &format!("version: \"1.0.0\"\n# {huge}\nbogus_key: {huge}"),
        1,
    );
    write(&rules, "big.yaml", text);
    let run = restorectl(&["check", "--rules", &rules.display().to_string()])
        .env("RESTORECTL_MAX_RULE_FILE_BYTES", "200M")
        .timeout(SLOW_TIMEOUT)
        .run();
    assert_refused(&run, "unknown key `bogus_key`");
    assert!(run.stderr.contains('…'), "the line is cut: {}", run.stderr);

    // The same in a snapshot: a 50 MB id.
    let snapshot = write(
        dir.path(),
        "big.yaml",
        format!(
            "format: restore-directory/v1\ntenants:\n  - id: t{huge}\n    plan: pro\n    seats: {{ total: 1, used: 0 }}\n"
        ),
    );
    let run = restorectl(&eval_args(&memory(&snapshot), "u_bob"))
        .timeout(SLOW_TIMEOUT)
        .run();
    assert_refused(&run, "is longer than 256 bytes");
}

// 4. Output failures are errors, not panics.

#[test]
fn a_full_disk_is_exit_2_with_a_reason_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules();
    let cases = root().join("tests/rule-cases").display().to_string();
    let directory = memory(&fixture());
    let commands: Vec<Vec<String>> = vec![
        vec!["check".into(), "--rules".into(), rules.clone()],
        vec!["schema".into()],
        eval_args(&directory, "u_bob"),
        [
            "eval-all",
            "--rules",
            &rules,
            "--directory",
            &directory,
            "--tenant",
            "acme",
            "--at",
            AT,
        ]
        .map(String::from)
        .to_vec(),
        ["test", "--rules", &rules, &cases]
            .map(String::from)
            .to_vec(),
        [
            "diff",
            "--rules",
            &rules,
            "--directory",
            &directory,
            "--at",
            AT,
        ]
        .map(String::from)
        .to_vec(),
    ];
    for args in &commands {
        let run = restorectl(args).stdout_to(Out::DevFull).run();
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert_short_reason(
            &run,
            "cannot write to standard output: No space left on device",
        );
    }

    // import and restore commit first, and say so.
    let url = format!("sqlite:{}", dir.path().join("d.db").display());
    let run = restorectl(&import_args(&fixture(), &url))
        .stdout_to(Out::DevFull)
        .run();
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_short_reason(
        &run,
        "the import was committed, but its summary could not be written",
    );
    let shifted = tempfile::tempdir().unwrap();
    let (snapshot, _) = support::shifted_snapshot(&fixture(), AT.parse().unwrap(), shifted.path());
    let (db, url) = sqlite_from(&snapshot, shifted.path());
    let run = restorectl(&restore_args(&url, "u_bob", &[]))
        .stdout_to(Out::DevFull)
        .run();
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_short_reason(&run, "but its receipt could not be written");
    assert_eq!(audit_rows(&db).len(), 1);
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_usual_exit_code() {
    let rules = rules();
    let directory = memory(&fixture());
    let cases: Vec<(Vec<String>, i32)> = vec![
        (vec!["schema".into()], 0),
        (vec!["check".into(), "--rules".into(), rules.clone()], 0),
        (eval_args(&directory, "u_bob"), 0),
        (eval_args(&directory, "u_deleting"), 1),
        (
            [
                "eval-all",
                "--rules",
                &rules,
                "--directory",
                &directory,
                "--tenant",
                "acme",
                "--at",
                AT,
            ]
            .map(String::from)
            .to_vec(),
            0,
        ),
    ];
    for (args, expected) in cases {
        // The reader is gone before the first write.
        let mut child = restorectl(&args)
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let stderr = child.stderr.take().unwrap();
        let code = wait_bounded(child, TIMEOUT, &args);
        let stderr = std::io::read_to_string(stderr).unwrap();
        assert_eq!(code, Some(expected), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: stderr {stderr:?}");

        // `| head -1`: one line read, then the reader goes.
        let mut child = restorectl(&args)
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty(), "{args:?}: no first line");
        let stderr = child.stderr.take().unwrap();
        let code = wait_bounded(child, TIMEOUT, &args);
        let stderr = std::io::read_to_string(stderr).unwrap();
        assert_eq!(code, Some(expected), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: stderr {stderr:?}");
    }
}

// 5. Strict, consistent data.

fn snapshot_text(tenant_id: &str, member_id: &str, resources: &str, deleted_at: &str) -> String {
    format!(
        "format: restore-directory/v1
tenants:
  - id: {tenant_id}
    plan: pro
    seats: {{ total: 10, used: 1 }}
    members:
      - id: u_anna
        roles: [primary_admin]
    deleted_members:
      - id: {member_id}
        deleted_at: {deleted_at}
        reason: removed_by_admin
        deletion: completed
        resources: {resources}
"
    )
}

#[test]
fn bad_snapshot_data_is_refused_by_memory_and_import_alike() {
    let dir = tempfile::tempdir().unwrap();
    let ok_at = "2026-11-20T00:00:00Z";
    let cases = [
        (
            snapshot_text("acme", "u_bob", "{ documnets: [{ id: d1 }] }", ok_at),
            "unknown resource `documnets`; did you mean `documents`?",
        ),
        (
            snapshot_text("acme", "u_bob", "{ gadgets: [{ id: d1 }] }", ok_at),
            "unknown resource `gadgets`",
        ),
        (
            snapshot_text("\"ac\\0me\"", "u_bob", "{}", ok_at),
            "tenant id `ac\\u{0}me` contains the control character \\u{0}",
        ),
        (
            snapshot_text("acme", "\"u_bob\\e[2J\"", "{}", ok_at),
            "member id `u_bob\\u{1b}[2J` contains the control character",
        ),
        (
            snapshot_text("acme", "\"u_bob\\nDENIED\"", "{}", ok_at),
            "contains the control character \\u{a}",
        ),
        (
            snapshot_text("acme", "u_bob", "{ documents: [{ id: \"d\\0\" }] }", ok_at),
            "item id `d\\u{0}` contains the control character",
        ),
        (
            snapshot_text("acme", "u_bob", "{}", "+10000-01-01T00:00:00Z"),
            "is not an RFC 3339 timestamp",
        ),
        (
            snapshot_text("acme", "u_bob", "{}", "9999-12-31T23:00:00-05:00"),
            "is outside the years 0000-9999",
        ),
        (
            snapshot_text("acme", "u_bob", "{}", ok_at)
                .replace("total: 10", "total: 9223372036854775807"),
            "seat count `9223372036854775807` is larger than 1000000000",
        ),
        (
            snapshot_text("acme", "u_bob", "{}", ok_at).replace("used: 1", "used: -1"),
            "seat count `-1` is negative",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        for name in [format!("s{i}.yaml"), format!("s{i}.json")] {
            let path = if name.ends_with(".json") {
                // The same document as JSON (serde_yaml reads it, serde_json writes it).
                let value: Result<serde_yaml::Value, _> = serde_yaml::from_str(text);
                let Ok(value) = value else { continue };
                write(dir.path(), &name, serde_json::to_string(&value).unwrap())
            } else {
                write(dir.path(), &name, text)
            };
            let run = restorectl(&eval_args(&memory(&path), "u_bob")).run();
            assert_refused(&run, expected);
            let target = dir.path().join(format!("{name}.db"));
            let run =
                restorectl(&import_args(&path, &format!("sqlite:{}", target.display()))).run();
            assert_refused(&run, expected);
            assert!(
                !target.exists(),
                "{name}: a refused import created the target"
            );
        }
    }
}

#[test]
fn a_byte_order_mark_starts_rule_and_snapshot_files() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    write(
        &rules,
        "bom.yaml",
        format!("\u{feff}{}", default_rule_text()),
    );
    let run = restorectl(&["check", "--rules", &rules.display().to_string()]).run();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout().starts_with("ok: default-restore 1.0.0"),
        "{}",
        run.stdout()
    );

    let text = std::fs::read_to_string(fixture()).unwrap();
    let yaml = write(dir.path(), "bom.yaml", format!("\u{feff}{text}"));
    let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let json = write(
        dir.path(),
        "bom.json",
        format!("\u{feff}{}", serde_json::to_string(&value).unwrap()),
    );
    let plain = restorectl(&eval_args(&memory(&fixture()), "u_bob")).run();
    assert_eq!(plain.code, Some(0), "{}", plain.stderr);
    for file in [&yaml, &json] {
        let run = restorectl(&eval_args(&memory(file), "u_bob")).run();
        assert_eq!(run.code, Some(0), "{}: {}", file.display(), run.stderr);
        assert_eq!(run.stdout, plain.stdout, "{}", file.display());
        let url = format!("sqlite:{}.db", file.display());
        let run = restorectl(&import_args(file, &url)).run();
        assert_eq!(run.code, Some(0), "{}: {}", file.display(), run.stderr);
    }
}

#[test]
fn timestamps_outside_years_0000_to_9999_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let text = default_rule_text();
    assert!(text.contains("effective_from: 2024-11-21T00:00:00Z"));
    write(
        &rules,
        "far.yaml",
        text.replace(
            "effective_from: 2024-11-21T00:00:00Z",
            "effective_from: 9999-12-31T23:59:59-01:00",
        ),
    );
    let run = restorectl(&["check", "--rules", &rules.display().to_string()]).run();
    assert_refused(
        &run,
        "timestamp `9999-12-31T23:59:59-01:00` is outside the years 0000-9999",
    );

    for at in [
        "+10000-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "9999-12-31T23:00:00-05:00",
    ] {
        let mut args = eval_args(&memory(&fixture()), "u_bob");
        let i = args.iter().position(|a| a == AT).unwrap();
        args[i] = at.into();
        let run = restorectl(&args).run();
        assert_eq!(run.code, Some(2), "{at}: {}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(run.stderr.contains("--at"), "{at}: {}", run.stderr);
    }
}

// 6. Terminal output is safe.

#[test]
fn control_characters_in_ids_are_escaped_in_text_and_table_output() {
    let dir = tempfile::tempdir().unwrap();
    let (db, url) = sqlite_from(&fixture(), dir.path());
    // A row written by another tool: validation cannot have refused it.
    let forged = "u_x\nDENIED: restore `u_bob` in tenant `acme`\u{1b}[2K\r";
    support::block_on(async {
        let directory = restore_sqlite::SqliteDirectory::open(&db).await.unwrap();
        sqlx::query(
            "UPDATE deleted_members SET id = ? WHERE tenant_id = 'acme' AND id = 'u_day30'",
        )
        .bind(forged)
        .execute(directory.pool())
        .await
        .unwrap();
        directory.close().await;
    });
    let mut text = eval_args(&url, forged);
    text.extend(["--output".into(), "text".into(), "--explain".into()]);
    let table: Vec<String> = [
        "eval-all",
        "--rules",
        &rules(),
        "--directory",
        &url,
        "--tenant",
        "acme",
        "--at",
        AT,
        "--output",
        "table",
    ]
    .map(String::from)
    .to_vec();
    for args in [text, table] {
        let run = restorectl(&args).run();
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let out = run.stdout();
        assert!(!out.contains('\u{1b}') && !out.contains('\r'), "{out:?}");
        assert!(
            !out.lines().any(|l| l.starts_with("DENIED")),
            "a forged line: {out}"
        );
        assert!(
            out.contains("u_x\\nDENIED: restore `u_bob` in tenant `acme`\\u{1b}[2K\\r"),
            "{out}"
        );
    }
}
