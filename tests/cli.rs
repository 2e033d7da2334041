//! `restorectl check` and `restorectl eval` as docs/design.md describes them:
//! outputs, exit codes 0 / 1 / 2, nothing on stdout for bad input.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use support::{restorectl, snapshot_settings};

const DIR: &str = "memory:tests/fixtures/directory.yaml";
const AT: &str = "2026-11-24T10:00:00Z";

fn eval(extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["eval", "--rules", "rules", "--directory", DIR, "--at", AT];
    args.extend_from_slice(extra);
    restorectl(&args)
}

#[test]
fn allowed_exits_0_denied_exits_1_and_both_print_the_decision() {
    let (code, stdout, _) = eval(&["--tenant", "acme", "--member", "u_bob", "--actor", "u_anna"]);
    assert_eq!(code, 0);
    let d: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(d["allowed"], true);
    let (code, stdout, _) = eval(&["--tenant", "full-pro", "--member", "p_gone"]);
    assert_eq!(code, 1);
    let d: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(d["allowed"], false);
    assert_eq!(d["blockers"][0]["rule"], "no_available_seat");
}

#[test]
fn json_yaml_and_text_render_the_same_decision() {
    let args = ["--tenant", "acme", "--member", "u_bob", "--actor", "u_anna"];
    let (_, json, _) = eval(&[&args[..], &["--output", "json"]].concat());
    let (_, yaml, _) = eval(&[&args[..], &["--output", "yaml"]].concat());
    let (code, text, _) = eval(&[&args[..], &["--output", "text"]].concat());
    assert_eq!(code, 0);
    let from_json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let from_yaml: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(from_json, from_yaml);
    assert!(
        text.starts_with("ALLOWED: restore `u_bob` in tenant `acme`"),
        "{text}"
    );
    assert!(text.contains("documents"));
    assert!(text.contains("not restored 1: d2"));
    let digest = from_json["policy"]["digest"].as_str().unwrap().to_owned();
    let text = text.replace(&digest, "[digest]");
    snapshot_settings().bind(|| insta::assert_snapshot!("eval_text_u_bob", text));
}

#[test]
fn f13_console_and_api_give_the_same_decision() {
    // The CLI stands for the console, the library call for the open API.
    let (_, stdout, _) = eval(&["--tenant", "acme", "--member", "u_eve", "--actor", "u_anna"]);
    let from_cli: restore_engine::Decision = serde_json::from_str(&stdout).unwrap();
    let from_api = support::decide("acme", "u_eve", Some("u_anna"), &Default::default());
    assert_eq!(from_cli, from_api);
}

#[test]
fn bad_input_exits_2_with_a_reason_and_no_stdout() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--tenant", "nope", "--member", "u_bob"],
            "unknown tenant `nope`",
        ),
        (
            &["--tenant", "acme", "--member", "nope"],
            "no deleted member `nope` in tenant `acme`",
        ),
        // A member of another tenant is never found through this one.
        (
            &["--tenant", "acme", "--member", "g_only"],
            "no deleted member `g_only` in tenant `acme`",
        ),
        (
            &[
                "--tenant", "acme", "--member", "u_bob", "--actor", "g_admin",
            ],
            "actor `g_admin` is not an active member of tenant `acme`",
        ),
        (
            &["--tenant", "acme", "--member", "u_bob", "--output", "xml"],
            "invalid value 'xml'",
        ),
    ];
    for (args, reason) in cases {
        let (code, stdout, stderr) = eval(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }
    let (code, stdout, stderr) = restorectl(&[
        "eval",
        "--rules",
        "rules",
        "--directory",
        "ftp://x",
        "--tenant",
        "a",
        "--member",
        "b",
    ]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("unknown directory URL scheme"), "{stderr}");
    let (code, stdout, stderr) = restorectl(&[
        "eval",
        "--rules",
        "rules",
        "--directory",
        DIR,
        "--tenant",
        "acme",
        "--member",
        "u_bob",
        "--at",
        "2026-11-24T10:00:00",
    ]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("has no time zone"), "{stderr}");
    let (code, _, stderr) = restorectl(&["eval", "--rules", "rules"]);
    assert_eq!(code, 2, "missing flags: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one-line reason: {stderr}");
    let (code, _, stderr) = restorectl(&[
        "eval",
        "--rules",
        "no/such/dir",
        "--directory",
        DIR,
        "--tenant",
        "acme",
        "--member",
        "u_bob",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no/such/dir"), "{stderr}");
}

#[test]
fn bad_snapshot_files_exit_2_with_where() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("unknown-plan.yaml", "format: restore-directory/v1\ntenants:\n  - id: a\n    plan: Gold\n    seats: { total: 1, used: 0 }\n", "bad.yaml:4:11: tenants[0].plan: plan `Gold` is not an identifier"),
        ("negative.yaml", "format: restore-directory/v1\ntenants:\n  - id: a\n    plan: pro\n    seats: { total: -1, used: 0 }\n", "seat count `-1` is negative"),
        ("dup.yaml", "format: restore-directory/v1\ntenants:\n  - { id: a, plan: pro, seats: { total: 1, used: 0 } }\n  - { id: a, plan: pro, seats: { total: 1, used: 0 } }\n", "tenants[1].id: duplicate tenant id `a`"),
        ("zone.yaml", "format: restore-directory/v1\ntenants:\n  - id: a\n    plan: pro\n    seats: { total: 1, used: 0 }\n    deleted_members:\n      - { id: m, deleted_at: \"2026-11-01T09:00:00\", reason: removed_by_admin, deletion: completed }\n", "timestamp `2026-11-01T09:00:00` has no time zone"),
        ("format.yaml", "format: restore-directory/v7\ntenants: []\n", "unknown snapshot format `restore-directory/v7`"),
        ("extra.json", "{\"format\": \"restore-directory/v1\", \"tenants\": [], \"colour\": 1}", "unknown field `colour`"),
    ];
    for (name, text, reason) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let url = format!("memory:{}", path.display());
        let (code, stdout, stderr) = restorectl(&[
            "eval",
            "--rules",
            "rules",
            "--directory",
            &url,
            "--tenant",
            "a",
            "--member",
            "m",
        ]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(stdout.is_empty());
        let stderr = stderr.replace(&dir.path().join(name).display().to_string(), "bad.yaml");
        assert!(stderr.contains(reason), "{name}: {stderr}");
    }
}

/// Tracing reaches the adapters: quiet by default (stderr stays the
/// one-line reason), the directory's spans with `RUST_LOG`, and a bad
/// `RUST_LOG` is bad input.
#[test]
fn rust_log_shows_the_adapter_spans_and_is_quiet_by_default() {
    let run = |rust_log: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_restorectl"));
        command.current_dir(support::root()).args([
            "eval",
            "--rules",
            "rules",
            "--directory",
            DIR,
            "--at",
            AT,
            "--tenant",
            "acme",
            "--member",
            "nobody",
        ]);
        command.env_remove("RUST_LOG");
        if let Some(filter) = rust_log {
            command.env("RUST_LOG", filter);
        }
        let out = command.output().expect("restorectl runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, quiet) = run(None);
    assert_eq!(code, Some(2));
    assert_eq!(quiet.lines().count(), 1, "{quiet}");
    let (code, traced) = run(Some("debug"));
    assert_eq!(code, Some(2));
    assert!(traced.contains("directory.facts"), "{traced}");
    assert!(traced.contains("adapter=\"memory\""), "{traced}");
    assert!(traced.contains("tenant=\"acme\""), "{traced}");
    let (code, bad) = run(Some("[[["));
    assert_eq!(code, Some(2));
    assert!(bad.contains("RUST_LOG"), "{bad}");
}
