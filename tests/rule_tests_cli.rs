//! `restorectl test`: what coverage counts, and the JUnit report.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use support::{restorectl_in, root, snapshot_settings};

fn write_cases(dir: &std::path::Path, cases: &str) -> String {
    let text = format!(
        "format: restore-tests/v1\ndirectory: {}\nat: 2026-11-24T10:00:00Z\ncases:\n{cases}",
        root().join("tests/fixtures/directory.yaml").display()
    );
    std::fs::write(dir.join("cases.yaml"), text).unwrap();
    "cases.yaml".to_owned()
}

fn run_tests(dir: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let rules = root().join("rules").display().to_string();
    let mut args = vec!["test", "--rules", rules.as_str(), "cases.yaml"];
    args.extend_from_slice(extra);
    restorectl_in(dir, &args)
}

#[test]
fn a_blocker_that_fires_without_being_asserted_is_not_covered() {
    let dir = tempfile::tempdir().unwrap();
    // p_gone is denied by no_available_seat; only the second case says so.
    write_cases(
        dir.path(),
        "  - { name: verdict only, tenant: full-pro, member: p_gone, expect: { allowed: false } }\n",
    );
    let (code, stdout, stderr) = run_tests(dir.path(), &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("  blockers asserted: 0/9; never asserted: "),
        "{stdout}"
    );
    assert!(stdout.contains("no_available_seat"), "{stdout}");

    write_cases(
        dir.path(),
        "  - { name: verdict only, tenant: full-pro, member: p_gone, expect: { allowed: false } }\n\
         \x20 - { name: asserted, tenant: full-pro, member: p_gone, expect: { blockers: [no_available_seat] } }\n",
    );
    let (code, stdout, _) = run_tests(dir.path(), &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("  blockers asserted: 1/9; never asserted: "),
        "{stdout}"
    );
    assert!(!stdout.contains("no_available_seat"), "{stdout}");

    // Asserted but not firing: the case fails, and neither the asserted
    // blocker nor the one that fired unasserted is covered.
    write_cases(
        dir.path(),
        "  - { name: wrong, tenant: full-pro, member: p_gone, expect: { blockers: [window_expired] } }\n",
    );
    let (code, stdout, _) = run_tests(dir.path(), &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("  blockers asserted: 0/9; never asserted: "),
        "{stdout}"
    );
}

#[test]
fn junit_report_has_one_case_per_rule_case_escaped_and_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    write_cases(
        dir.path(),
        "  - { name: \"bob <&> \\\"quoted\\\" \\a\\e bell and escape\", tenant: acme, member: u_bob, expect: { allowed: true } }\n\
         \x20 - { name: wrong expectation, tenant: full-pro, member: p_gone, expect: { allowed: true, blockers: [window_expired] } }\n",
    );
    let (code, stdout, stderr) = run_tests(dir.path(), &["--junit", "report.xml"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let xml = std::fs::read_to_string(dir.path().join("report.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 2);
    assert_eq!(
        cases[0].attribute("name"),
        Some("bob <&> \"quoted\" \\u{7}\\u{1b} bell and escape")
    );
    let failure = cases[1]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure");
    assert_eq!(
        failure.attribute("message"),
        Some("expected allowed: true, got false")
    );
    assert!(failure
        .text()
        .unwrap_or_default()
        .contains("expected blockers [window_expired]"));
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(
        (suite.attribute("tests"), suite.attribute("failures")),
        (Some("2"), Some("1"))
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("rule_tests_junit", xml));
}

#[test]
fn no_junit_report_on_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    write_cases(
        dir.path(),
        "  - { name: x, tenant: acme, member: u_bob, expect: {}, colour: red }\n",
    );
    let (code, stdout, stderr) = run_tests(dir.path(), &["--junit", "report.xml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(!dir.path().join("report.xml").exists());
}
