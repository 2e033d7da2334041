//! Several versions of one policy side by side, through the binary: the one
//! in force at `--at` is used unless `--policy-version` pins one. Selection,
//! tiers and version conflicts in the engine: engine/tests/versions.rs.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use std::path::Path;

use support::{restorectl, two_versions};

fn eval(rules: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let rules = rules.display().to_string();
    let mut args = vec![
        "eval",
        "--rules",
        &rules,
        "--directory",
        "memory:tests/fixtures/directory.yaml",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = restorectl(&args);
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    (code, serde_json::from_str(&stdout).expect("JSON decision"))
}

#[test]
fn the_version_in_force_at_the_time_is_picked() {
    let dir = tempfile::tempdir().unwrap();
    two_versions(dir.path());
    let member = ["--tenant", "acme", "--member", "u_day30s1"];
    // Before 2.0.0 takes effect: 30 days, so 30 days and 1 second is too late.
    let (code, d) = eval(
        dir.path(),
        &[&member[..], &["--at", "2026-11-24T10:00:00Z"]].concat(),
    );
    assert_eq!((code, d["policy"]["version"].as_str()), (1, Some("1.0.0")));
    // Under 2.0.0 (60 days) the same member is restorable.
    let (code, d) = eval(
        dir.path(),
        &[&member[..], &["--at", "2026-12-02T10:00:00Z"]].concat(),
    );
    assert_eq!((code, d["policy"]["version"].as_str()), (0, Some("2.0.0")));
    // Pinning replays the old version at the later time.
    let (code, d) = eval(
        dir.path(),
        &[
            &member[..],
            &["--at", "2026-12-02T10:00:00Z", "--policy-version", "1.0.0"],
        ]
        .concat(),
    );
    assert_eq!((code, d["policy"]["version"].as_str()), (1, Some("1.0.0")));
    assert_ne!(d["policy"]["digest"], serde_json::Value::Null);
}

#[test]
fn an_unknown_version_is_exit_2_with_the_known_ones() {
    // The selection errors themselves: engine/tests/versions.rs.
    let dir = tempfile::tempdir().unwrap();
    two_versions(dir.path());
    let rules = dir.path().display().to_string();
    let (code, stdout, stderr) = restorectl(&[
        "eval",
        "--rules",
        &rules,
        "--directory",
        "memory:tests/fixtures/directory.yaml",
        "--tenant",
        "acme",
        "--member",
        "u_bob",
        "--policy-version",
        "9.9",
    ]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("has no version `9.9`; known: 1.0.0, 2.0.0"),
        "{stderr}"
    );
}
