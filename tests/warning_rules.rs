//! Warning rules and codes end to end (format v2): `restorectl check
//! --deny-warnings`, `eval` text and JSON, and rule tests with
//! `expect.warnings`.

// Test code: asserts by panicking (unwrap, expect, indexing).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use std::path::Path;

use support::restorectl_in;

const RULES: &str = r#"format: restore-rules/v2
policy: seats
version: "1.0.0"
effective_from: 2020-01-01T00:00:00Z
tiers:
  standard: {}
  strict: { block_without_seat: true }
default_tier: standard
settings:
  restore_window: { type: duration, default: 30d }
  block_without_seat: { type: bool, default: false }
computed:
  member.restorable_until: { fact: member.deleted_at, plus: { setting: restore_window } }
restorable_until: member.restorable_until
catalogue: [member_account]
blockers:
  - id: window_expired
    source: "https://example.test/help#window"
    code: 44028
    when: { fact: member.deleted_for, gt: { setting: restore_window } }
    message: "deleted {member.deleted_for} ago"
    remedy: "none"
  - id: no_seat
    source: F10
    code: "no seat"
    when:
      all:
        - { setting: block_without_seat, is: true }
        - { fact: tenant.seats.available, lte: 0 }
    message: "no seat left"
    remedy: "buy one"
warnings:
  - id: over_seat_count
    source: F9
    when: { fact: tenant.seats.available, lte: 0 }
    message: "a seat will be allocated beyond the plan's {tenant.seats.total} seats"
resources:
  - { resource: member_account, source: F14, outcome: restored }
"#;

const DIRECTORY: &str = r#"format: restore-directory/v1
tenants:
  - id: full
    plan: trial
    seats: { total: 2, used: 2 }
    deleted_members:
      - { id: m1, deleted_at: 2026-11-20T00:00:00Z, reason: removed_by_admin, deletion: completed }
      - { id: m2, deleted_at: 2026-09-01T00:00:00Z, reason: removed_by_admin, deletion: completed }
  - id: strict
    plan: strict
    seats: { total: 2, used: 2 }
    deleted_members:
      - { id: m1, deleted_at: 2026-11-20T00:00:00Z, reason: removed_by_admin, deletion: completed }
"#;

const CASES: &str = r#"format: restore-tests/v1
directory: directory.yaml
at: 2026-11-24T10:00:00Z
cases:
  - name: no free seat on the default tier is allowed, with a warning
    tenant: full
    member: m1
    expect: { allowed: true, blockers: [], warnings: [over_seat_count] }
  - name: the strict tier blocks and warns
    tenant: strict
    member: m1
    expect: { allowed: false, blockers: [no_seat], warnings: [over_seat_count] }
"#;

fn setup(dir: &Path) {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/seats.yaml"), RULES).unwrap();
    std::fs::write(dir.join("directory.yaml"), DIRECTORY).unwrap();
    std::fs::write(dir.join("cases.yaml"), CASES).unwrap();
}

#[test]
fn a_v2_policy_with_warnings_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let (code, stdout, stderr) = restorectl_in(
        dir.path(),
        &["check", "--rules", "rules", "--deny-warnings"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("ok: seats 1.0.0"), "{stdout}");
}

#[test]
fn warnings_and_codes_in_eval_output() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let eval = |member: &str, output: &str| {
        restorectl_in(
            dir.path(),
            &[
                "eval",
                "--rules",
                "rules",
                "--directory",
                "memory:directory.yaml",
                "--at",
                "2026-11-24T10:00:00Z",
                "--tenant",
                "full",
                "--member",
                member,
                "--output",
                output,
            ],
        )
    };
    // Allowed (exit 0) although a warning holds.
    let (code, stdout, stderr) = eval("m1", "text");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "warning over_seat_count: a seat will be allocated beyond the plan's 2 seats\n"
        ),
        "{stdout}"
    );
    let (code, stdout, _) = eval("m1", "json");
    assert_eq!(code, 0);
    let d: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(d["policy"]["tier"], "standard");
    assert_eq!(d["warnings"][0]["rule"], "over_seat_count");
    assert_eq!(d["warnings"][0]["fact"], "F9");
    assert!(d["warnings"][0].get("remedy").is_none());
    // Denied, with the blocker's code in text and JSON.
    let (code, stdout, _) = eval("m2", "text");
    assert_eq!(code, 1);
    assert!(
        stdout.contains(
            "  - window_expired [44028] (https://example.test/help#window): deleted 84d10h ago\n"
        ),
        "{stdout}"
    );
    let (_, stdout, _) = eval("m2", "json");
    let d: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(d["blockers"][0]["code"], 44028);
}

#[test]
fn rule_tests_assert_the_exact_set_of_warnings() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let (code, stdout, stderr) =
        restorectl_in(dir.path(), &["test", "--rules", "rules", "cases.yaml"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("  warnings asserted: 1/1\n"), "{stdout}");
    // A case that expects no warning fails and says which fired.
    std::fs::write(
        dir.path().join("cases.yaml"),
        CASES.replace(
            "warnings: [over_seat_count] }\n  - name: the strict",
            "warnings: [] }\n  - name: the strict",
        ),
    )
    .unwrap();
    let (code, stdout, _) = restorectl_in(dir.path(), &["test", "--rules", "rules", "cases.yaml"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("expected warnings [], got [over_seat_count]"),
        "{stdout}"
    );
}
