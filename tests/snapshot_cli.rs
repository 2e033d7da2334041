//! `restorectl snapshot record | check | accept`: decision snapshots for
//! policy repositories, end to end through the binary.

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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use restore_directory::Directory;
use restore_engine::{PolicySet, Request};
use snapshot_support::*;
use support::{restorectl, restorectl_in, root, snapshot_settings};

#[test]
fn record_then_check_passes_and_the_file_is_one_yaml_document() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), &rules(), &fixture_url(), "decisions.yaml");
    let text = std::fs::read_to_string(dir.path().join("decisions.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("one YAML document");
    assert_eq!(doc["format"], "restorectl-snapshot/v1");
    assert_eq!(doc["directory"], "memory", "the URL's kind, not the URL");
    assert!(!text.contains("tests/fixtures"), "no URL or path recorded");
    assert_eq!(doc["at"], AT);
    assert_eq!(doc["tenants"].as_sequence().unwrap().len(), 6);
    let entries = doc["entries"].as_sequence().unwrap();
    assert_eq!(entries.len(), 17);
    let keys: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["tenant"].as_str().unwrap().to_owned(),
                e["member"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "stable (tenant, member) order");
    let bob = &entries[0];
    assert_eq!(
        (bob["member"].as_str(), bob["allowed"].as_bool()),
        (Some("u_bob"), Some(true))
    );
    assert_eq!(bob["resources"]["documents"]["restored"], 1);
    assert_eq!(bob["resources"]["member_account"], "restored");

    let (code, stdout, stderr) = check(dir.path(), &rules(), &fixture_url(), &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("unchanged:          17\n"), "{stdout}");
    assert!(!dir.path().join("decisions.yaml.new").exists());
    // Recording again gives the same bytes.
    record(dir.path(), &rules(), &fixture_url(), "again.yaml");
    assert_eq!(
        text,
        std::fs::read_to_string(dir.path().join("again.yaml")).unwrap()
    );
}

/// Members whose verdict, blockers or resources differ between two rule
/// folders, computed with the engine directly (not through the CLI).
fn members_that_differ(a: &str, b: &str) -> BTreeSet<String> {
    let (a, b) = (
        PolicySet::load_dir(Path::new(a)).unwrap(),
        PolicySet::load_dir(Path::new(b)).unwrap(),
    );
    let at = support::at();
    let (a, b) = (
        a.select(None, None, at).unwrap(),
        b.select(None, None, at).unwrap(),
    );
    let directory = support::fixture_directory();
    let mut out = BTreeSet::new();
    for tenant in support::block_on(directory.tenants()).unwrap() {
        let members: Vec<_> = support::block_on(futures::StreamExt::collect::<Vec<_>>(
            directory.deleted_members(&tenant, None),
        ));
        for facts in members {
            let facts = facts.unwrap();
            let (x, y) = (
                a.evaluate(&facts, &Request::default(), at).unwrap(),
                b.evaluate(&facts, &Request::default(), at).unwrap(),
            );
            let ids = |d: &restore_engine::Decision| -> Vec<String> {
                d.blockers.iter().map(|b| b.rule.to_string()).collect()
            };
            if x.allowed != y.allowed || ids(&x) != ids(&y) || x.resources != y.resources {
                out.insert(format!("{tenant}/{}", facts.member.id));
            }
        }
    }
    out
}

#[test]
fn a_shorter_window_fails_the_check_naming_exactly_the_changed_members_until_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("decisions.yaml");
    record(dir.path(), &rules(), &fixture_url(), "decisions.yaml");
    let recorded = std::fs::read(&file).unwrap();
    let shorter = shorter_window(dir.path());
    let junit = dir.path().join("report.xml");
    let junit_arg = junit.display().to_string();

    let (code, stdout, stderr) = check(
        dir.path(),
        &shorter,
        &fixture_url(),
        &["--junit", &junit_arg],
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    let expected: BTreeSet<String> = ["acme/u_bob", "acme/u_day30"].map(String::from).into();
    assert_eq!(changed_members(&stdout), expected, "{stdout}");
    assert_eq!(members_that_differ(&rules(), &shorter), expected);
    assert!(stdout.contains("allowed -> denied:  2\n"), "{stdout}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        recorded,
        "the snapshot is left as it was"
    );
    assert!(dir.path().join("decisions.yaml.new").exists());
    snapshot_settings().bind(|| insta::assert_snapshot!("check_shorter_window", stdout));

    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 17);
    let failed: BTreeSet<String> = cases
        .iter()
        .filter(|c| c.children().any(|f| f.has_tag_name("failure")))
        .map(|c| {
            format!(
                "{}/{}",
                c.attribute("classname").unwrap(),
                c.attribute("name").unwrap()
            )
        })
        .collect();
    assert_eq!(failed, expected);
    snapshot_settings().bind(|| insta::assert_snapshot!("check_shorter_window_junit", xml));

    // Accept: the new file replaces the old, and the check passes.
    let (code, stdout, stderr) =
        restorectl_in(dir.path(), &["snapshot", "accept", "decisions.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(17 decisions)"), "{stdout}");
    assert!(!dir.path().join("decisions.yaml.new").exists());
    let (code, stdout, _) = check(dir.path(), &shorter, &fixture_url(), &[]);
    assert_eq!(code, 0, "{stdout}");
    // Back to 30 days, accepted in the same run: exit 0, file replaced.
    let (code, stdout, _) = check(dir.path(), &rules(), &fixture_url(), &["--accept"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("denied -> allowed:  2\n"), "{stdout}");
    assert!(stdout.contains("accepted: `decisions.yaml`"), "{stdout}");
    assert_eq!(std::fs::read(&file).unwrap(), recorded);
}

#[test]
fn accept_without_a_pending_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) =
        restorectl_in(dir.path(), &["snapshot", "accept", "decisions.yaml"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("no `decisions.yaml.new` to accept"),
        "{stderr}"
    );
}

#[test]
fn members_added_to_and_removed_from_the_directory_are_shown() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::fs::read_to_string(root().join("tests/fixtures/directory.yaml")).unwrap();
    let directory = dir.path().join("directory.yaml");
    std::fs::write(&directory, &fixture).unwrap();
    let url = format!("memory:{}", directory.display());
    record(dir.path(), &rules(), &url, "decisions.yaml");

    // s_gone leaves the Deleted Members list (restored elsewhere); n_new is deleted.
    let changed = fixture.replace(
        "      - { id: s_gone, deleted_at: 2026-11-20T00:00:00Z, reason: removed_by_admin, deletion: completed }\n",
        "      - { id: n_new, deleted_at: 2026-11-21T00:00:00Z, reason: removed_by_admin, deletion: completed }\n",
    );
    assert_ne!(changed, fixture, "replacement applied");
    std::fs::write(&directory, changed).unwrap();
    let (code, stdout, stderr) = check(dir.path(), &rules(), &url, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("members added:      1\n"), "{stdout}");
    assert!(stdout.contains("members removed:    1\n"), "{stdout}");
    assert!(
        stdout.contains("\nadded   full-starter/n_new: allowed\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nremoved full-starter/s_gone: was allowed\n"),
        "{stdout}"
    );
    assert!(stdout.contains("unchanged:          16\n"), "{stdout}");
    snapshot_settings().bind(|| insta::assert_snapshot!("check_added_removed", stdout));
    let (code, _, stderr) = restorectl_in(dir.path(), &["snapshot", "accept", "decisions.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = check(dir.path(), &rules(), &url, &[]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn an_item_transfer_changes_counts_and_a_named_tenant_snapshot_ignores_others() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::fs::read_to_string(root().join("tests/fixtures/directory.yaml")).unwrap();
    let directory = dir.path().join("directory.yaml");
    std::fs::write(&directory, &fixture).unwrap();
    let url = format!("memory:{}", directory.display());
    let (code, _, stderr) = restorectl_in(
        dir.path(),
        &[
            "snapshot",
            "record",
            "--rules",
            &rules(),
            "--directory",
            &url,
            "--at",
            AT,
            "--tenant",
            "acme",
            "--tenant",
            "acme",
            "--out",
            "decisions.yaml",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let changed = fixture
        .replace("documents: [ { id: d1 }, {", "documents: [ { id: d1, transferred_to: u_adam }, {")
        .replace("  - id: globex\n", "  - id: globex-new\n    plan: pro\n    seats: { total: 1, used: 0 }\n    deleted_members: [ { id: x, deleted_at: 2026-11-20T00:00:00Z, reason: removed_by_admin, deletion: completed } ]\n  - id: globex\n");
    std::fs::write(&directory, changed).unwrap();
    let (code, stdout, stderr) = check(dir.path(), &rules(), &url, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "acme/u_bob: allowed\n  resource documents: transfer_dependent (restored 1, not restored 1) \
             -> transfer_dependent (restored 0, not restored 2)\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("resource documents: transfer_dependent item counts: 1\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("globex"),
        "only the recorded tenant: {stdout}"
    );
}

#[test]
fn strict_digest_reports_a_reformatted_rule_file_that_is_otherwise_ignored() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), &rules(), &fixture_url(), "decisions.yaml");
    let reformatted = dir.path().join("rules-reformatted");
    std::fs::create_dir(&reformatted).unwrap();
    let v1 =
        std::fs::read_to_string(root().join("tests/fixtures/rules-v1/default-restore.v1.yaml"))
            .unwrap();
    std::fs::write(
        reformatted.join("default-restore.v1.yaml"),
        format!("# a comment\n{v1}"),
    )
    .unwrap();
    let reformatted = reformatted.display().to_string();
    let (code, stdout, _) = check(dir.path(), &reformatted, &fixture_url(), &[]);
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout, _) = check(
        dir.path(),
        &reformatted,
        &fixture_url(),
        &["--strict-digest"],
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("rules digest:       sha256:"), "{stdout}");
    assert!(stdout.contains("unchanged:          17\n"), "{stdout}");
}

/// Runs a check of a broken `decisions.yaml` and asserts exit 2, a reason
/// naming `reason`, and that nothing was written.
fn assert_rejected(dir: &Path, text: &[u8], reason: &str, extra: &[&str]) -> String {
    let file = dir.join("decisions.yaml");
    std::fs::write(&file, text).unwrap();
    let junit = dir.join("report.xml");
    let junit_arg = junit.display().to_string();
    let mut args = vec!["--junit", junit_arg.as_str()];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = check(dir, &rules(), &fixture_url(), &args);
    assert_eq!(code, 2, "{reason}: {stdout}{stderr}");
    assert!(stdout.is_empty(), "{reason}: {stdout}");
    assert!(stderr.contains(reason), "expected `{reason}` in: {stderr}");
    assert!(stderr.len() < 600, "a short reason: {stderr}");
    assert!(
        !dir.join("decisions.yaml.new").exists(),
        "{reason}: no FILE.new"
    );
    assert!(!junit.exists(), "{reason}: no JUnit report");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        text,
        "{reason}: file unchanged"
    );
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().unwrap() != "decisions.yaml" && p.file_name().unwrap() != "good.yaml"
        })
        .collect();
    assert!(leftovers.is_empty(), "{reason}: {leftovers:?}");
    stderr
}

/// The 1-based number of the line holding `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle present")
        + 1
}

#[test]
fn broken_files_and_other_versions_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), &rules(), &fixture_url(), "good.yaml");
    let good = std::fs::read_to_string(dir.path().join("good.yaml")).unwrap();

    // A bad value deep in the file: its line and column.
    let bad = good.replacen("  allowed: false\n", "  allowed: perhaps\n", 1);
    let stderr = assert_rejected(dir.path(), bad.as_bytes(), "invalid type", &[]);
    let line = line_of(&bad, "allowed: perhaps");
    assert!(
        stderr.contains(&format!("decisions.yaml:{line}:12: ")),
        "{stderr}"
    );

    for (text, reason) in [
        (
            good.replacen("  tier: pro\n", "  tier: pro\n  colour: red\n", 1),
            "unknown field `colour`",
        ),
        (
            good.replacen("    chats: restored\n", "    chats: sometimes\n", 1),
            "unknown outcome `sometimes`",
        ),
        (
            good.replacen("      restored: 1\n", "      restored: -1\n", 1),
            "at `resources.documents.restored`: invalid type: integer `-1`, expected u32",
        ),
        (
            good.replacen(
                "      restored: 1\n",
                "      restored: 1\n      extra: 2\n",
                1,
            ),
            "unknown field `extra`",
        ),
        (
            good.replace("restorectl-snapshot/v1", "restorectl-snapshot/v2"),
            "has format `restorectl-snapshot/v2`",
        ),
        (
            good.replace("tool: restorectl 0.1.0", "tool: restorectl 9.0.0"),
            "was recorded by `restorectl 9.0.0`",
        ),
        (
            good.replace("tool: restorectl 0.1.0", "tool: othertool 0.1.0"),
            "was recorded by `othertool 0.1.0`",
        ),
        (
            good.replace("all_tenants: true\n", "all_tenants: true\nlabels: x\n"),
            "unknown field `labels`",
        ),
        (
            good.replace("entries:\n", "entrys:\n"),
            "no `entries:` line",
        ),
        (
            good.replace(
                "\n- tenant: acme\n  member: u_cutoff\n",
                "\n- tenant: zz\n  member: u_cutoff\n",
            ),
            "tenant `zz` is not among the header's `tenants`",
        ),
        (
            good.replacen("  member: u_cutoff\n", "  member: u_bob\n", 1),
            "`acme/u_bob` comes after `acme/u_bob`",
        ),
        (
            good.replacen("- tenant: acme\n", "-  tenant: acme\nbroken\n", 1),
            "expected an indented line",
        ),
        (
            format!("{good}{}", "x".repeat(70_000)),
            "line is longer than 65536 bytes",
        ),
        (String::from("\u{0}\u{1}binary"), "no `entries:` line"),
    ] {
        assert_ne!(text, good, "{reason}: replacement applied");
        assert_rejected(dir.path(), text.as_bytes(), reason, &[]);
    }
    assert_rejected(dir.path(), b"\xff\xfe not utf-8\n", "not UTF-8", &[]);
    assert_rejected(
        dir.path(),
        good.as_bytes(),
        "larger than the limit of 1000 bytes",
        &["--max-snapshot-bytes", "1000"],
    );
    // A byte-order mark is legal.
    std::fs::write(dir.path().join("decisions.yaml"), format!("\u{feff}{good}")).unwrap();
    let (code, stdout, stderr) = check(dir.path(), &rules(), &fixture_url(), &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // Not a regular file.
    let (code, stdout, stderr) = restorectl_in(
        dir.path(),
        &[
            "snapshot",
            "check",
            "--rules",
            &rules(),
            "--directory",
            &fixture_url(),
            "/dev/zero",
        ],
    );
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.contains("`/dev/zero` is not a regular file"),
        "{stderr}"
    );
    let (code, _, stderr) = restorectl_in(
        dir.path(),
        &[
            "snapshot",
            "check",
            "--rules",
            &rules(),
            "--directory",
            &fixture_url(),
            ".",
        ],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a regular file"), "{stderr}");
}

#[test]
fn a_broken_pending_file_is_not_accepted() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), &rules(), &fixture_url(), "decisions.yaml");
    let good = std::fs::read(dir.path().join("decisions.yaml")).unwrap();
    let mut broken = good.clone();
    broken.extend_from_slice(b"- tenant: zzz\n  member: [\n");
    std::fs::write(dir.path().join("decisions.yaml.new"), &broken).unwrap();
    let (code, stdout, stderr) =
        restorectl_in(dir.path(), &["snapshot", "accept", "decisions.yaml"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("decisions.yaml.new:"), "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("decisions.yaml")).unwrap(),
        good
    );
    assert_eq!(
        std::fs::read(dir.path().join("decisions.yaml.new")).unwrap(),
        broken
    );
}

#[test]
fn bad_arguments_exit_2() {
    for (args, reason) in [
        (
            vec![
                "snapshot",
                "record",
                "--rules",
                "rules",
                "--directory",
                "memory:tests/fixtures/directory.yaml",
                "--out",
                "x.yaml",
            ],
            "required arguments",
        ),
        (
            vec![
                "snapshot",
                "record",
                "--rules",
                "rules",
                "--directory",
                "memory:tests/fixtures/directory.yaml",
                "--at",
                "2026-11-24T10:00:00",
                "--out",
                "x.yaml",
            ],
            "no time zone",
        ),
        (
            vec![
                "snapshot",
                "record",
                "--rules",
                "rules",
                "--directory",
                "memory:tests/fixtures/directory.yaml",
                "--at",
                AT,
                "--tenant",
                "nope",
                "--out",
                "x.yaml",
            ],
            "nope",
        ),
    ] {
        let (code, stdout, stderr) = restorectl(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains(reason), "{reason}: {stderr}");
    }
    assert!(!root().join("x.yaml").exists(), "nothing written");
}
