//! Helpers shared by the `restorectl snapshot` tests.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::{restorectl_in, root};

pub const AT: &str = "2026-11-24T10:00:00Z";

pub fn fixture_url() -> String {
    format!(
        "memory:{}",
        root().join("tests/fixtures/directory.yaml").display()
    )
}

pub fn rules() -> String {
    root().join("rules").display().to_string()
}

/// A rules folder whose restore window is 20 days instead of 30.
pub fn shorter_window(dir: &Path) -> String {
    let v1 =
        std::fs::read_to_string(root().join("tests/fixtures/rules-v1/default-restore.v1.yaml"))
            .unwrap();
    let shorter = v1.replace("restore_window: 30d ", "restore_window: 20d ");
    assert_ne!(v1, shorter, "replacement applied");
    let rules = dir.join("rules-20d");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("default-restore.v1.yaml"), shorter).unwrap();
    rules.display().to_string()
}

pub fn record(dir: &Path, rules: &str, directory: &str, out: &str) {
    let (code, stdout, stderr) = restorectl_in(
        dir,
        &[
            "snapshot",
            "record",
            "--rules",
            rules,
            "--directory",
            directory,
            "--at",
            AT,
            "--out",
            out,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("recorded "), "{stdout}");
}

pub fn check(dir: &Path, rules: &str, directory: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "snapshot",
        "check",
        "--rules",
        rules,
        "--directory",
        directory,
        "decisions.yaml",
    ];
    args.extend_from_slice(extra);
    restorectl_in(dir, &args)
}

/// `tenant/member` of every member block in a check report.
pub fn changed_members(report: &str) -> BTreeSet<String> {
    report
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("resource "))
        .filter_map(|l| l.split_once(": ").map(|(who, _)| who))
        .filter(|who| who.contains('/') && !who.contains(' '))
        .map(str::to_owned)
        .collect()
}
