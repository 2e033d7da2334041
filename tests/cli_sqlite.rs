//! End to end: `restorectl import`, `eval`, `eval-all` and `restore` on a
//! SQLite directory agree with `memory:` for the same snapshot.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;

const AT: &str = "2026-11-24T10:00:00Z";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> PathBuf {
    root().join("adapters/conformance/fixtures/directory.yaml")
}

fn restorectl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restorectl"))
        .args(args)
        .output()
        .expect("run restorectl")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn import(db: &Path) -> String {
    import_from(&fixture(), db)
}

fn import_from(source: &Path, db: &Path) -> String {
    let url = format!("sqlite:{}", db.display());
    let out = restorectl(&["import", "--from", source.to_str().unwrap(), "--to", &url]);
    assert_eq!(
        code(&out),
        0,
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("11 deleted members"),
        "{}",
        stdout(&out)
    );
    url
}

fn eval_all(url: &str, tenant: &str) -> Output {
    eval_all_at(url, tenant, AT)
}

fn eval_all_at(url: &str, tenant: &str, at: &str) -> Output {
    let rules = root().join("rules");
    restorectl(&[
        "eval-all",
        "--rules",
        rules.to_str().unwrap(),
        "--directory",
        url,
        "--tenant",
        tenant,
        "--actor",
        "u_anna",
        "--at",
        at,
    ])
}

#[test]
fn import_then_eval_gives_the_memory_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let url = import(&dir.path().join("d.db"));
    let memory = format!("memory:{}", fixture().display());
    let rules = root().join("rules");
    for member in [
        "u_bob", "u_cleo", "u_erin", "u_fay", "u_hal", "u_ivy", "U_bob",
    ] {
        let run = |directory: &str| {
            restorectl(&[
                "eval",
                "--rules",
                rules.to_str().unwrap(),
                "--directory",
                directory,
                "--tenant",
                "acme",
                "--member",
                member,
                "--actor",
                "u_anna",
                "--at",
                AT,
            ])
        };
        let (sql, mem) = (run(&url), run(&memory));
        assert_eq!(code(&sql), code(&mem), "{member}: exit codes differ");
        assert_eq!(stdout(&sql), stdout(&mem), "{member}: decisions differ");
        assert!(!stdout(&sql).is_empty(), "{member}: no decision printed");
    }
    let (sql, mem) = (eval_all(&url, "acme"), eval_all(&memory, "acme"));
    assert_eq!(code(&sql), 0, "{}", String::from_utf8_lossy(&sql.stderr));
    assert_eq!(stdout(&sql), stdout(&mem), "eval-all differs from memory:");
    assert_eq!(
        stdout(&sql).lines().count(),
        8,
        "one line per deleted member"
    );
    for line in stdout(&sql).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert_eq!(v["tenant"], "acme");
    }
}

#[test]
fn restore_allowed_denied_and_missing_department() {
    let dir = tempfile::tempdir().unwrap();
    // A restore decides at the real clock: the fixture's deletions are moved
    // so that now plays the role of `AT`.
    let (snapshot, at) = support::shifted_snapshot(&fixture(), AT.parse().unwrap(), dir.path());
    let at = at.to_rfc3339();
    let url = import_from(&snapshot, &dir.path().join("d.db"));
    let eval_all = |url: &str, tenant: &str| eval_all_at(url, tenant, &at);
    let rules = root().join("rules");
    let restore = |member: &str, department: &str| {
        restorectl(&[
            "restore",
            "--rules",
            rules.to_str().unwrap(),
            "--directory",
            &url,
            "--tenant",
            "acme",
            "--member",
            member,
            "--actor",
            "u_anna",
            "--department",
            department,
        ])
    };
    let before = stdout(&eval_all(&url, "acme"));

    let blank = restore("u_bob", "  ");
    assert_eq!(code(&blank), 2, "blank department");
    assert!(stdout(&blank).is_empty(), "nothing on stdout for bad input");
    assert!(String::from_utf8_lossy(&blank.stderr).contains("department"));
    let missing = restorectl(&[
        "restore",
        "--rules",
        rules.to_str().unwrap(),
        "--directory",
        &url,
        "--tenant",
        "acme",
        "--member",
        "u_bob",
        "--actor",
        "u_anna",
    ]);
    assert_eq!(code(&missing), 2, "--department is required");
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("gives no default department"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );

    let denied = restore("u_cleo", "ops");
    assert_eq!(code(&denied), 1, "duplicate email denies");
    let decision: serde_json::Value = serde_json::from_str(&stdout(&denied)).unwrap();
    assert_eq!(decision["allowed"], false);
    assert_eq!(decision["blockers"][0]["rule"], "duplicate_email");
    assert_eq!(
        stdout(&eval_all(&url, "acme")),
        before,
        "denied restore changed data"
    );

    let allowed = restore("u_bob", "engineering");
    assert_eq!(
        code(&allowed),
        0,
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let receipt: serde_json::Value = serde_json::from_str(&stdout(&allowed)).unwrap();
    assert_eq!(receipt["department"], "engineering");
    assert_eq!(receipt["seats_used"], 50);
    assert_eq!(receipt["decision"]["allowed"], true);
    let after = stdout(&eval_all(&url, "acme"));
    assert_eq!(after.lines().count(), 7, "u_bob is no longer deleted");

    // The last seat is gone: the next Pro restore is denied (F10).
    let no_seat = restore("u_gus", "ops");
    assert_eq!(code(&no_seat), 1);
    assert!(stdout(&no_seat).contains("no_available_seat"));
}

#[test]
fn memory_directories_refuse_restores() {
    let rules = root().join("rules");
    let memory = format!("memory:{}", fixture().display());
    let out = restorectl(&[
        "restore",
        "--rules",
        rules.to_str().unwrap(),
        "--directory",
        &memory,
        "--tenant",
        "acme",
        "--member",
        "u_bob",
        "--actor",
        "u_anna",
        "--department",
        "ops",
    ]);
    assert_eq!(code(&out), 2);
    assert!(stdout(&out).is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));
}

#[test]
fn bad_snapshot_import_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "format: restore-directory/v1\ntenants:\n  - id: t\n    plan: Gold\n    seats: { total: 1, used: 0 }\n",
    )
    .unwrap();
    let db = dir.path().join("new.db");
    let url = format!("sqlite:{}", db.display());
    let out = restorectl(&["import", "--from", bad.to_str().unwrap(), "--to", &url]);
    assert_eq!(code(&out), 2, "bad snapshot");
    assert!(stdout(&out).is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains("Gold"),
        "names file and value: {err}"
    );
    assert!(!db.exists(), "no database file may be created");

    // Importing a tenant that exists is refused and leaves the data as it was.
    let url = import(&dir.path().join("d.db"));
    let before = stdout(&eval_all(&url, "acme"));
    let again = restorectl(&[
        "import",
        "--from",
        fixture().to_str().unwrap(),
        "--to",
        &url,
    ]);
    assert_eq!(code(&again), 2);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(stdout(&eval_all(&url, "acme")), before);
}

#[test]
fn eval_all_unknown_tenant_is_bad_input() {
    let memory = format!("memory:{}", fixture().display());
    let out = eval_all(&memory, "nope");
    assert_eq!(code(&out), 2);
    assert!(stdout(&out).is_empty(), "nothing on stdout");
    assert!(String::from_utf8_lossy(&out.stderr).contains("`nope`"));
}

#[test]
fn reading_commands_leave_a_database_file_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let rules = root().join("rules");
    let rules = rules.to_str().unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let db = dir.path().join("d.db");
    let url = import(&db);
    let before = std::fs::read(&db).unwrap();
    let empty_url = format!("sqlite:{}", empty.display());
    for (target, refused) in [(&empty_url, true), (&url, false)] {
        let runs = [
            vec![
                "eval",
                "--rules",
                rules,
                "--directory",
                target,
                "--tenant",
                "acme",
                "--member",
                "u_bob",
                "--at",
                AT,
            ],
            vec![
                "eval-all",
                "--rules",
                rules,
                "--directory",
                target,
                "--tenant",
                "acme",
                "--at",
                AT,
            ],
            vec![
                "diff",
                "--rules",
                rules,
                "--directory",
                target,
                "--tenant",
                "acme",
                "--from-tier",
                "starter",
                "--to-tier",
                "pro",
                "--at",
                AT,
            ],
        ];
        for args in runs {
            let out = restorectl(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if refused {
                assert_eq!(code(&out), 2, "{args:?}: {stderr}");
                assert!(
                    stderr.contains("not a restore directory database"),
                    "{stderr}"
                );
                assert!(out.stdout.is_empty());
            } else {
                assert!(code(&out) < 2, "{args:?}: {stderr}");
            }
        }
    }
    assert_eq!(
        std::fs::read(&empty).unwrap(),
        b"",
        "the empty file was written"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "a read changed the database file"
    );
}

#[test]
fn import_and_restore_carry_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let source = root().join("adapters/conformance/fixtures/attributes.yaml");
    let (snapshot, _) = support::shifted_snapshot(&source, AT.parse().unwrap(), dir.path());
    let db = dir.path().join("d.db");
    let url = format!("sqlite:{}", db.display());
    let out = restorectl(&["import", "--from", snapshot.to_str().unwrap(), "--to", &url]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout(&out).starts_with(
            "imported 2 tenants, 3 active members, 3 deleted members, 2 resource items \
             (5 with attributes) into sqlite:"
        ),
        "{}",
        stdout(&out)
    );
    let rules = root().join("rules");
    let restore = restorectl(&[
        "restore",
        "--rules",
        rules.to_str().unwrap(),
        "--directory",
        &url,
        "--tenant",
        "acme",
        "--member",
        "u_held",
        "--actor",
        "u_anna",
        "--department",
        "legal",
        "--output",
        "json",
    ]);
    assert_eq!(
        code(&restore),
        0,
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    let receipt: serde_json::Value = serde_json::from_str(&stdout(&restore)).unwrap();
    assert_eq!(receipt["restored_items"], 1, "d0; d1 was transferred");
    // Read back from the file: the member's attributes on its active record.
    let stored = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let row: (Option<String>,) = sqlx::query_as(
                "SELECT attributes FROM members WHERE tenant_id = 'acme' AND id = 'u_held'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            pool.close().await;
            row.0
        });
    assert_eq!(
        stored.as_deref(),
        Some(
            r#"{"former_roles":["admin","approver"],"hold_until":"2026-12-01T00:00:00Z","note":"","rank":-9223372036854775808,"suspended":true}"#
        )
    );
}

#[test]
fn a_policy_default_department_is_used_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (snapshot, _) = support::shifted_snapshot(&fixture(), AT.parse().unwrap(), dir.path());
    let url = import_from(&snapshot, &dir.path().join("d.db"));
    // The default policy with a default for its department requirement.
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let text = std::fs::read_to_string(root().join("rules/default-restore.v1.yaml")).unwrap();
    let needle =
        "  - id: department               # F8: the old department is not restored\n    fact: F8\n";
    assert!(
        text.contains(needle),
        "the default policy's department requirement moved"
    );
    let text = text.replace(needle, &format!("{needle}    default: root\n"));
    std::fs::write(rules.join("default-restore.v1.yaml"), text).unwrap();
    let out = restorectl(&[
        "restore",
        "--rules",
        rules.to_str().unwrap(),
        "--directory",
        &url,
        "--tenant",
        "acme",
        "--member",
        "u_bob",
        "--actor",
        "u_anna",
        "--output",
        "text",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(
        text.contains("department:       root\n"),
        "the policy's default: {text}"
    );
    assert!(text.contains("items restored:   5\n"), "F21 counts: {text}");
}
