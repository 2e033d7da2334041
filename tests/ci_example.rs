//! `examples/ci/`: the CI script for a policy repository runs, passes, and
//! fails on a rule change; the GitHub Actions workflow runs it.

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
use support::root;

/// A policy repository as `examples/ci/README.md` lays it out, from this
/// repository's rules, rule tests and fixture directory.
fn policy_repository(dir: &Path) {
    let copy = |from: &str, to: &str| {
        let to = dir.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root().join(from), to).unwrap();
    };
    copy(
        "rules/default-restore.v1.yaml",
        "rules/default-restore.v1.yaml",
    );
    copy("tests/fixtures/directory.yaml", "directory.yaml");
    copy("examples/ci/restore-rules-ci.sh", "ci/restore-rules-ci.sh");
    let cases =
        std::fs::read_to_string(root().join("tests/rule-cases/default-restore.yaml")).unwrap();
    let cases = cases.replace(
        "directory: ../fixtures/directory.yaml",
        "directory: ../directory.yaml",
    );
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(dir.join("tests/default-restore.yaml"), cases).unwrap();
    std::fs::create_dir_all(dir.join("snapshots")).unwrap();
    record(
        dir,
        "rules",
        "memory:directory.yaml",
        "snapshots/decisions.yaml",
    );
}

fn run_ci_script(dir: &Path) -> (i32, String) {
    let out = std::process::Command::new("sh")
        .arg("ci/restore-rules-ci.sh")
        .current_dir(dir)
        .env("RESTORECTL", env!("CARGO_BIN_EXE_restorectl"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_ci_example_passes_then_fails_on_a_rule_change_with_junit_reports() {
    let dir = tempfile::tempdir().unwrap();
    policy_repository(dir.path());
    let (code, output) = run_ci_script(dir.path());
    assert_eq!(code, 0, "{output}");
    for report in ["reports/rule-tests.xml", "reports/decisions.xml"] {
        let xml = std::fs::read_to_string(dir.path().join(report)).unwrap();
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        assert!(
            !doc.descendants().any(|n| n.has_tag_name("failure")),
            "{report}"
        );
    }

    let rule = dir.path().join("rules/default-restore.v1.yaml");
    let text = std::fs::read_to_string(&rule).unwrap();
    std::fs::write(
        &rule,
        text.replace(
            "{ type: duration, default: 30d,",
            "{ type: duration, default: 20d,",
        ),
    )
    .unwrap();
    let (code, output) = run_ci_script(dir.path());
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("acme/u_day30: allowed -> denied"),
        "{output}"
    );
    assert!(
        output.contains("snapshot accept snapshots/decisions.yaml"),
        "{output}"
    );
    assert!(dir.path().join("snapshots/decisions.yaml.new").exists());
    let xml = std::fs::read_to_string(dir.path().join("reports/decisions.xml")).unwrap();
    assert!(xml.contains("failures=\"2\""), "{xml}");

    // A broken rule file is exit 2, whatever else failed.
    std::fs::write(&rule, "format: restore-rules/v1\npolicy: [\n").unwrap();
    let (code, output) = run_ci_script(dir.path());
    assert_eq!(code, 2, "{output}");
}

#[test]
fn the_github_workflow_runs_the_ci_script_and_publishes_the_reports() {
    let text = std::fs::read_to_string(root().join("examples/ci/github-workflow.yml")).unwrap();
    let workflow: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
    let steps = workflow["jobs"]["rules"]["steps"]
        .as_sequence()
        .expect("steps");
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        runs.iter().any(|r| r.trim() == "sh ci/restore-rules-ci.sh"),
        "{runs:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s["with"]["report_paths"].as_str() == Some("reports/*.xml")),
        "JUnit reports published"
    );
}
