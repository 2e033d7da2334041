//! `restorectl check` on rule files, through the binary. Every diagnostic
//! of the loader: engine/tests/rule_errors.rs.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use support::restorectl;

#[test]
fn check_exits_2_with_every_diagnostic_on_stderr() {
    let (code, stdout, stderr) = restorectl(&["check", "--rules", "tests/fixtures/bad-rules"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("18 errors in rule files"), "{stderr}");
    assert!(
        stderr.contains(
            "many-errors.yaml:6:19: at `settings.restore_window`: duration `30` has no unit"
        ),
        "{stderr}"
    );
}

#[test]
fn check_accepts_the_default_rules() {
    let (code, stdout, stderr) = restorectl(&["check", "--rules", "rules"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("ok: default-restore 1.0.0 effective 2024-11-21T00:00:00Z"),
        "{stdout}"
    );
}
