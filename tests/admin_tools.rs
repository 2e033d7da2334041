//! Tools for admins tuning rules: the JSON Schema, `--explain`, static checks
//! in `check`, and source snippets in diagnostics.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use restore_directory::Directory;
use restore_engine::lint::lint;
use restore_engine::{PolicySet, Request};
use support::{at, restorectl, root, snapshot_settings};

fn schema_validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("rules/restore-rules.v1.schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn yaml_as_json(text: &str) -> serde_json::Value {
    serde_yaml::from_str(text).expect("YAML")
}

#[test]
fn committed_schema_matches_the_rust_types() {
    let generated = restore_engine::schema::rules_schema_json();
    let committed =
        std::fs::read_to_string(root().join("rules/restore-rules.v1.schema.json")).unwrap();
    assert!(
        generated == committed,
        "rules/restore-rules.v1.schema.json is stale: run `restorectl schema > rules/restore-rules.v1.schema.json`"
    );
    let (code, stdout, _) = restorectl(&["schema", "--format", "v1"]);
    assert_eq!((code, stdout), (0, generated));
}

#[test]
fn committed_v2_schema_matches_and_is_the_default() {
    let generated = restore_engine::schema_v2::rules_schema_v2_json();
    let committed =
        std::fs::read_to_string(root().join("rules/restore-rules.v2.schema.json")).unwrap();
    assert!(
        generated == committed,
        "rules/restore-rules.v2.schema.json is stale: run `restorectl schema > rules/restore-rules.v2.schema.json`"
    );
    let (code, stdout, _) = restorectl(&["schema"]);
    assert_eq!((code, stdout), (0, generated.clone()));
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let policy = r#"format: restore-rules/v2
policy: p
version: "1"
effective_from: 2020-01-01T00:00:00Z
tiers: { trial: {}, pro: { restore_window: unlimited } }
default_tier: trial
settings:
  restore_window: { type: duration, default: 30d }
computed:
  member.restorable_until: { fact: member.deleted_at, plus: { setting: restore_window } }
restorable_until: member.restorable_until
catalogue: [member_account]
requires: [{ id: department, source: "https://example.test/a", default: root }]
blockers:
  - id: window_expired
    source: "vendor:window"
    code: 44028
    allow: [blocker_never_fires]
    when: { fact: member.deleted_for, gt: { setting: restore_window } }
    message: "expired"
    remedy: "none"
resources:
  - { resource: member_account, fact: F14, outcome: restored }
"#;
    let errors: Vec<String> = validator
        .iter_errors(&yaml_as_json(policy))
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(PolicySet::from_sources([("p.yaml", policy)]).is_ok());
    for broken in [
        policy.replace("tiers: { trial", "tiers: { Trial"),
        policy.replace("    code: 44028\n", "    code: [1]\n"),
        policy.replace("    source: \"vendor:window\"\n", ""),
        policy.replace("allow: [blocker_never_fires]", "allow: [never]"),
        policy.replace("catalogue:", "catalog:"),
    ] {
        assert!(
            validator
                .iter_errors(&yaml_as_json(&broken))
                .next()
                .is_some(),
            "the v2 schema accepts a broken file:\n{broken}"
        );
    }
}

#[test]
fn schema_accepts_the_default_rules_and_rejects_broken_ones() {
    let validator = schema_validator();
    let default =
        std::fs::read_to_string(root().join("tests/fixtures/rules-v1/default-restore.v1.yaml"))
            .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&yaml_as_json(&default))
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The default policy itself is format v2 now: the v2 schema accepts it.
    let v2: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("rules/restore-rules.v2.schema.json")).unwrap(),
    )
    .unwrap();
    let v2 = jsonschema::validator_for(&v2).expect("a valid JSON Schema");
    let rewritten = std::fs::read_to_string(root().join("rules/default-restore.v1.yaml")).unwrap();
    let errors: Vec<String> = v2
        .iter_errors(&yaml_as_json(&rewritten))
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    for (broken, what) in [
        (
            default.replace("restore_window: 30d", "restore_window: 30"),
            "duration without unit",
        ),
        (
            default.replace("fact: F14", "fact: X14"),
            "bad fact reference",
        ),
        (
            default.replace("outcome: automatic", "outcome: sometimes"),
            "unknown outcome",
        ),
        (
            default.replace("fact: member.deletion,", "fact: member.deletionn,"),
            "unknown fact",
        ),
        (
            default.replace("block_without_seat: true     # F10", "block_seats: true"),
            "unknown tier key",
        ),
    ] {
        assert_ne!(broken, default, "{what}: replacement applied");
        assert!(
            !validator.is_valid(&yaml_as_json(&broken)),
            "{what} passed the schema"
        );
    }
}

#[test]
fn explain_agrees_with_evaluate_for_every_fixture_member() {
    let set = support::default_rules();
    let policy = support::default_policy(&set);
    let directory = support::fixture_directory();
    let tenants = [
        "acme",
        "full-starter",
        "full-basic",
        "full-pro",
        "full-enterprise",
        "globex",
    ];
    let mut checked = 0;
    for tenant in tenants {
        let all: Vec<_> =
            support::block_on(futures_collect(directory.deleted_members(tenant, None)));
        for facts in all {
            let facts = facts.unwrap();
            let decision = policy.evaluate(&facts, &Request::default(), at()).unwrap();
            let explanation = policy.explain(&facts, &Request::default(), at()).unwrap();
            let held: Vec<&str> = explanation
                .blockers
                .iter()
                .filter(|b| b.holds)
                .map(|b| b.rule.as_str())
                .collect();
            let fired: Vec<&str> = decision.blockers.iter().map(|b| &*b.rule).collect();
            assert_eq!(held, fired, "{tenant}/{}", facts.member.id);
            checked += 1;
        }
    }
    assert!(checked >= 17, "checked {checked}");
}

async fn futures_collect<T>(stream: futures::stream::BoxStream<'_, T>) -> Vec<T> {
    use futures::StreamExt;
    stream.collect().await
}

#[test]
fn eval_explain_shows_the_values_behind_a_denial() {
    let (code, stdout, stderr) = restorectl(&[
        "eval",
        "--rules",
        "rules",
        "--directory",
        "memory:tests/fixtures/directory.yaml",
        "--tenant",
        "full-pro",
        "--member",
        "p_gone",
        "--actor",
        "p_admin",
        "--at",
        "2026-11-24T10:00:00Z",
        "--explain",
        "--output",
        "json",
    ]);
    assert_eq!(code, 1, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["allowed"], false, "decision fields stay at the top level");
    let seat = v["explanation"]["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["rule"] == "no_available_seat")
        .unwrap();
    assert_eq!(seat["holds"], true);
    assert_eq!(
        seat["condition"]["of"][1]["subject"],
        "tenant.seats.available (0)"
    );
    let (code, text, _) = restorectl(&[
        "eval",
        "--rules",
        "rules",
        "--directory",
        "memory:tests/fixtures/directory.yaml",
        "--tenant",
        "acme",
        "--member",
        "u_day30s1",
        "--at",
        "2026-11-24T10:00:00Z",
        "--explain",
        "--output",
        "text",
    ]);
    assert_eq!(code, 1);
    let explanation = &text[text.find("explanation:").expect("explanation section")..];
    assert!(
        explanation.contains("[true ] member.deleted_for (30d1s) gt setting restore_window (30d)"),
        "{explanation}"
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("explain_window_expired", explanation));
}

#[test]
fn default_rules_pass_the_static_checks() {
    let set = support::default_rules();
    for policy in set.policies() {
        assert_eq!(lint(policy), vec![], "{}", policy.version());
    }
}

#[test]
fn static_checks_find_dead_rules() {
    let default =
        std::fs::read_to_string(root().join("tests/fixtures/rules-v1/default-restore.v1.yaml"))
            .unwrap();
    let edited = default
        // A tier override equal to the default.
        .replace("  starter: {}\n", "  starter:\n    restore_window: 30d\n")
        // An override of a setting no rule reads, once its blocker is gone.
        .replace("  basic: {}\n", "  basic:\n    deletion_max_duration: 72h\n")
        .replace("(at the latest {member.deletion_ends_by})", "(soon)")
        // A blocker that can never fire: batch restore is off and on at once.
        .replace(
            "        - { fact: request.batch_size, gt: 1 }\n",
            "        - { fact: request.batch_size, gt: 1 }\n        - { setting: batch_restore, is: true }\n",
        )
        // A resource without an outcome.
        .replace("  - { resource: chats, fact: F20, outcome: restored }\n", "")
        // An exception that can never apply, and one without effect.
        .replace(
            "        reason: \"group chats of members deleted before 2022-11-10 18:00 (UTC+8) cannot be restored\"\n",
            "        reason: \"group chats of members deleted before 2022-11-10 18:00 (UTC+8) cannot be restored\"\n      - when: { setting: batch_restore, is: true }\n        outcome: reset\n        reason: never\n      - when: { fact: member.removed_from_list, is: true }\n        outcome: restored\n        reason: no effect\n",
        );
    let set = PolicySet::from_sources([("edited.yaml", edited.as_str())]).unwrap();
    let warnings = lint(&set.policies()[0]);
    let codes: Vec<&str> = warnings.iter().map(|w| w.code).collect();
    for code in [
        "redundant_tier_override",
        "unreachable_tier_override",
        "blocker_never_fires",
        "resource_without_outcome",
        "exception_never_applies",
        "exception_without_effect",
    ] {
        assert!(codes.contains(&code), "missing {code} in {warnings:#?}");
    }
    let text: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
    snapshot_settings().bind(|| insta::assert_snapshot!("static_checks", text.join("\n")));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("edited.yaml"), &edited).unwrap();
    let rules = dir.path().display().to_string();
    let (code, _, stderr) = restorectl(&["check", "--rules", &rules]);
    assert_eq!(code, 0, "warnings alone do not fail: {stderr}");
    assert!(stderr.contains("warning[blocker_never_fires]"), "{stderr}");
    let (code, _, stderr) = restorectl(&["check", "--rules", &rules, "--deny-warnings"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn check_shows_source_snippets() {
    let (code, _, stderr) = restorectl(&["check", "--rules", "tests/fixtures/bad-rules"]);
    assert_eq!(code, 2);
    assert!(stderr.contains(" 6 │   restore_window: 30\n"), "{stderr}");
    assert!(
        stderr.contains("╰── at `settings.restore_window`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("restore::duration_without_unit"),
        "{stderr}"
    );
    let first = stderr
        .split("\n\n")
        .take(3)
        .collect::<Vec<_>>()
        .join("\n\n");
    snapshot_settings().bind(|| insta::assert_snapshot!("check_snippet", first));
}

#[test]
fn rule_tests_pass_and_cover_every_rule_of_the_default_policy() {
    let (code, stdout, stderr) = restorectl(&["test", "--rules", "rules", "tests/rule-cases"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("blockers asserted: 9/9\n"), "{stdout}");
    assert!(stdout.contains("resources checked: 19/19\n"), "{stdout}");
    assert!(stdout.contains("exceptions applied: 1/1\n"), "{stdout}");
    assert!(stdout.ends_with("12 passed, 0 failed\n"), "{stdout}");
}

#[test]
fn failing_rule_tests_exit_1_with_what_differs_and_the_gaps() {
    let (code, stdout, _) =
        restorectl(&["test", "--rules", "rules", "tests/fixtures/failing-cases"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("expected blockers [window_expired], got [no_available_seat]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("never asserted: actor_not_permitted"),
        "{stdout}"
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("rule_tests_failing", stdout));
}

#[test]
fn bad_rule_test_files_exit_2_and_print_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("format: restore-tests/v9\nat: 2026-11-24T10:00:00Z\ncases: []\n", "unknown test-file format"),
        ("format: restore-tests/v1\nat: 2026-11-24T10:00:00\ncases: []\n", "has no time zone"),
        ("format: restore-tests/v1\nat: 2026-11-24T10:00:00Z\ncases:\n  - { name: x, expect: {}, colour: red }\n", "unknown field `colour`"),
        ("format: restore-tests/v1\nat: 2026-11-24T10:00:00Z\ncases:\n  - { name: x, tenant: a, member: b, expect: {} }\n", "has no `directory`"),
    ];
    for (i, (text, reason)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("case{i}.yaml"));
        std::fs::write(&path, text).unwrap();
        let (code, stdout, stderr) =
            restorectl(&["test", "--rules", "rules", &path.display().to_string()]);
        assert_eq!(code, 2, "{text}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains(reason), "{text}: {stderr}");
    }
}

#[test]
fn diff_lists_who_changes_between_versions() {
    let dir = tempfile::tempdir().unwrap();
    support::two_versions(dir.path());
    let rules = dir.path().display().to_string();
    let base = [
        "diff",
        "--rules",
        &rules,
        "--directory",
        "memory:tests/fixtures/directory.yaml",
        "--from",
        "1.0.0",
        "--to",
        "2.0.0",
        "--at",
        "2026-11-24T10:00:00Z",
    ];
    let (code, stdout, stderr) = restorectl(&[&base[..], &["--output", "json"]].concat());
    assert_eq!(code, 0, "{stderr}");
    let impact: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // 60 days instead of 30: the member deleted 30 days + 1 s ago comes back.
    assert_eq!(impact["counts"]["denied_to_allowed"], 1, "{impact:#}");
    assert_eq!(impact["counts"]["allowed_to_denied"], 0);
    assert_eq!(impact["counts"]["evaluated"], 17);
    let change = &impact["changes"][0];
    assert_eq!(change["member"], "u_day30s1");
    assert_eq!(
        change["blockers_removed"],
        serde_json::json!(["window_expired"])
    );
    let (code, text, _) = restorectl(&[&base[..], &["--tenant", "acme"]].concat());
    assert_eq!(code, 0);
    assert!(text.contains("denied -> allowed:  1"), "{text}");
    snapshot_settings().bind(|| insta::assert_snapshot!("diff_versions_text", text));
}

#[test]
fn diff_compares_two_tiers() {
    let (code, stdout, stderr) = restorectl(&[
        "diff",
        "--rules",
        "rules",
        "--directory",
        "memory:tests/fixtures/directory.yaml",
        "--tenant",
        "full-starter",
        "--tenant",
        "full-basic",
        "--from-tier",
        "starter",
        "--to-tier",
        "pro",
        "--at",
        "2026-11-24T10:00:00Z",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let impact: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        impact["counts"]["allowed_to_denied"], 2,
        "no seat blocks on pro: {impact:#}"
    );
    assert_eq!(
        impact["changes"][0]["blockers_added"],
        serde_json::json!(["no_available_seat"])
    );
    let (code, stdout, stderr) = restorectl(&[
        "diff",
        "--rules",
        "rules",
        "--directory",
        "memory:tests/fixtures/directory.yaml",
        "--to-tier",
        "gold",
    ]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.contains(
            "--to-tier: `gold` is not a tier of policy `default-restore` 1.0.0 \
             (tiers: starter, basic, pro, enterprise)"
        ),
        "{stderr}"
    );
}
