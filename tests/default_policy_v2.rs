//! The default policy, rewritten in format v2, against its format v1 text
//! (tests/fixtures/rules-v1): the rule cases give the same report with
//! either, and `eval` the same decision but for the digest. (The engine's
//! equivalence test compares decisions field by field over the test
//! directory and a generated corpus.)

// Test code: asserts by panicking (unwrap, expect, indexing).
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
fn rule_cases_report_alike_with_both_formats() {
    let run = |rules: &str| restorectl(&["test", "--rules", rules, "tests/rule-cases"]);
    let (code_v2, v2, err_v2) = run("rules");
    let (code_v1, v1, err_v1) = run("tests/fixtures/rules-v1");
    assert_eq!((code_v2, code_v1), (0, 0), "{err_v2}{err_v1}");
    assert!(v2.contains("PASS"), "{v2}");
    assert_eq!(v1, v2);
}

#[test]
fn eval_decides_alike_but_for_the_digest() {
    let run = |rules: &str| {
        let mut out = String::new();
        for tenant in [
            "acme",
            "full-starter",
            "full-basic",
            "full-pro",
            "full-enterprise",
            "globex",
        ] {
            let (code, stdout, err) = restorectl(&[
                "eval-all",
                "--rules",
                rules,
                "--directory",
                "memory:tests/fixtures/directory.yaml",
                "--at",
                "2026-11-24T10:00:00Z",
                "--tenant",
                tenant,
            ]);
            assert_eq!(code, 0, "{tenant}: {err}");
            out.push_str(&stdout);
        }
        out
    };
    let v2 = run("rules");
    let v1 = run("tests/fixtures/rules-v1");
    let digest = |line: &str| -> String {
        let d: serde_json::Value = serde_json::from_str(line).unwrap();
        d["policy"]["digest"].as_str().unwrap().to_owned()
    };
    let (d1, d2) = (
        digest(v1.lines().next().unwrap()),
        digest(v2.lines().next().unwrap()),
    );
    assert_ne!(d1, d2);
    assert!(v2.lines().count() > 10);
    assert_eq!(v1.replace(&d1, &d2), v2);
}
