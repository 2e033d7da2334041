//! `restorectl diff` over a SQLite directory, every tenant, matches `memory:`.

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
fn diff_covers_every_tenant_of_a_sqlite_directory() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let url = format!("sqlite:{}", db.display());
    let (code, _, stderr) = restorectl(&[
        "import",
        "--from",
        "tests/fixtures/directory.yaml",
        "--to",
        &url,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let diff = |directory: &str| {
        let (code, stdout, stderr) = restorectl(&[
            "diff",
            "--rules",
            "rules",
            "--directory",
            directory,
            "--to-tier",
            "pro",
            "--at",
            "2026-11-24T10:00:00Z",
            "--output",
            "json",
        ]);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
    };
    let from_sqlite = diff(&url);
    assert_eq!(from_sqlite, diff("memory:tests/fixtures/directory.yaml"));
    assert_eq!(from_sqlite["counts"]["evaluated"], 17);
    // Starter and basic tenants without seats are blocked once they are pro.
    assert_eq!(from_sqlite["counts"]["allowed_to_denied"], 2);
}
