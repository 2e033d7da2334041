//! `--context NAME=VALUE` and decisions that cannot be made, end to end:
//! `eval` (error, exit 2), `eval-all` (an error line per member, goes on,
//! exit 2), `snapshot record`/`check` (`error:` entries, a verdict↔error
//! flip), `restore` (nothing written, exit 2) and `diff`.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;

const AT: &str = "2026-11-24T10:00:00Z";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn memory() -> String {
    format!(
        "memory:{}",
        root().join("tests/fixtures/directory.yaml").display()
    )
}

fn restorectl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restorectl"))
        .args(args)
        .output()
        .expect("run restorectl")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A policy reading two context values: a `ticket` (required, or with
/// `ticket_default`) and a `channel` with declared values.
fn policy(ticket: &str) -> String {
    format!(
        r#"format: restore-rules/v1
policy: ctx
version: "1.0.0"
effective_from: 2020-01-01T00:00:00Z
settings:
  restore_window: 30d
  deletion_max_duration: 48h
  restore_roles: [primary_admin]
  block_without_seat: false
  batch_restore: false
context:
  ticket: {ticket}
  channel: {{ type: string, one_of: [console, open_api], default: console }}
  limit: {{ type: integer, default: 5 }}
blockers:
  - id: no_ticket
    fact: F1
    when: {{ fact: request.context.ticket, is: "" }}
    message: "restores need a ticket"
    remedy: "pass --context ticket=…"
  - id: api_closed
    fact: F1
    when: {{ fact: request.context.channel, is: open_api }}
    message: "not over the open API (ticket {{request.context.ticket}})"
    remedy: "use the console"
resources:
  - {{ resource: member_account, fact: F14, outcome: restored }}
"#
    )
}

const REQUIRED: &str = "{ type: string, required: true }";
const DEFAULTED: &str = "{ type: string, default: \"\" }";

/// A rules folder holding `text`.
fn rules(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("ctx.yaml"), text).unwrap();
    path
}

fn eval(rules: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["eval", "--rules", rules.to_str().unwrap(), "--directory"];
    let directory = memory();
    args.push(&directory);
    args.extend([
        "--tenant", "acme", "--member", "u_bob", "--actor", "u_anna", "--at", AT,
    ]);
    args.extend(extra);
    restorectl(&args)
}

#[test]
fn eval_types_context_values_and_refuses_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path(), "r", &policy(REQUIRED));

    let ok = eval(&rules, &["--context", "ticket=T-1"]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let decision: serde_json::Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(decision["allowed"], true);

    let api = eval(
        &rules,
        &[
            "--context",
            "ticket=T-7",
            "--context",
            "channel=open_api",
            "--output",
            "text",
        ],
    );
    assert_eq!(code(&api), 1, "{}", stderr(&api));
    assert!(
        stdout(&api).contains("not over the open API (ticket T-7)"),
        "{}",
        stdout(&api)
    );

    // Explain shows the bound values.
    let explained = eval(
        &rules,
        &["--context", "ticket=T-1", "--explain", "--output", "text"],
    );
    assert_eq!(code(&explained), 0, "{}", stderr(&explained));
    let text = stdout(&explained);
    assert!(text.contains("request.context.ticket (T-1) is"), "{text}");
    assert!(
        text.contains("request.context.channel = console (absent: default) is open_api"),
        "{text}"
    );

    // Usage errors name the flag: undeclared, bad value, bad shape, twice.
    for (args, wanted) in [
        (vec!["--context", "tiket=T-1"], "did you mean `ticket`"),
        (
            vec!["--context", "ticket=T", "--context", "channel=phone"],
            "one of console | open_api",
        ),
        (
            vec!["--context", "ticket=T", "--context", "limit=many"],
            "expected an integer",
        ),
        (vec!["--context", "ticket"], "expected NAME=VALUE"),
        (
            vec!["--context", "ticket=a", "--context", "ticket=b"],
            "given twice",
        ),
    ] {
        let out = eval(&rules, &args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}");
        assert!(
            stderr(&out).contains("--context"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(wanted), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn eval_prints_an_evaluation_error_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path(), "r", &policy(REQUIRED));
    let out = eval(&rules, &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out)
            .contains("`request.context.ticket` is missing and policy `ctx` declares no default"),
        "{}",
        stderr(&out)
    );
    // With --explain too.
    let out = eval(&rules, &["--explain"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

fn eval_all(rules: &Path, at: &str, output: &str, extra: &[&str]) -> Output {
    let directory = memory();
    let mut args = vec![
        "eval-all",
        "--rules",
        rules.to_str().unwrap(),
        "--directory",
        &directory,
        "--tenant",
        "acme",
        "--actor",
        "u_anna",
        "--at",
        at,
        "--output",
        output,
    ];
    args.extend(extra);
    restorectl(&args)
}

#[test]
fn eval_all_writes_an_error_line_per_failing_member_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path(), "r", &policy(DEFAULTED));
    // At this time two members are not yet deleted (u_bob 2026-11-01,
    // u_deleting 2026-11-23 and others later): those cannot be decided.
    let at = "2026-11-10T00:00:00Z";
    let out = eval_all(&rules, at, "jsonl", &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not be made"),
        "{}",
        stderr(&out)
    );
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let errors: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l.get("error").is_some()).collect();
    let decided = lines.iter().filter(|l| l.get("allowed").is_some()).count();
    assert!(!errors.is_empty() && decided > 0, "{lines:?}");
    assert_eq!(errors.len() + decided, lines.len());
    for e in &errors {
        assert_eq!(e["tenant"], "acme");
        assert_eq!(e.as_object().unwrap().len(), 3, "{e}");
        assert!(
            e["error"]
                .as_str()
                .unwrap()
                .contains("after the evaluation time"),
            "{e}"
        );
    }
    assert!(
        errors.iter().any(|e| e["member"] == "u_deleting"),
        "{errors:?}"
    );

    let table = eval_all(&rules, at, "table", &[]);
    assert_eq!(code(&table), 2);
    let text = stdout(&table);
    let row = text.lines().find(|l| l.starts_with("u_deleting")).unwrap();
    assert!(row.contains("ERROR"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("denied   no_ticket")),
        "{text}"
    );

    // Every member fails on a missing required value; all lines are written.
    let required = self::rules(dir.path(), "req", &policy(REQUIRED));
    let out = eval_all(&required, AT, "jsonl", &[]);
    assert_eq!(code(&out), 2);
    let count = stdout(&out).lines().count();
    assert!(count > 5, "{}", stdout(&out));
    assert!(stdout(&out).lines().all(|l| l.contains("\"error\"")));
    // Given the context, none does.
    let out = eval_all(&required, AT, "jsonl", &["--context", "ticket=T-1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), count);
    assert!(!stdout(&out).contains("\"error\""));
}

#[test]
fn snapshots_record_errors_and_check_reports_the_flip() {
    let dir = tempfile::tempdir().unwrap();
    let defaulted = rules(dir.path(), "a", &policy(DEFAULTED));
    let required = rules(dir.path(), "b", &policy(REQUIRED));
    let file = dir.path().join("decisions.yaml");
    let directory = memory();
    let record = |rules: &Path, extra: &[&str]| {
        let mut args = vec![
            "snapshot",
            "record",
            "--rules",
            rules.to_str().unwrap(),
            "--directory",
            &directory,
            "--at",
            AT,
            "--out",
            file.to_str().unwrap(),
        ];
        args.extend(extra);
        restorectl(&args)
    };
    let check = |rules: &Path, extra: &[&str]| {
        let mut args = vec![
            "snapshot",
            "check",
            "--rules",
            rules.to_str().unwrap(),
            "--directory",
            &directory,
            file.to_str().unwrap(),
        ];
        args.extend(extra);
        restorectl(&args)
    };
    // Recorded with the ticket default: decisions.
    let out = record(&defaulted, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(!recorded.contains("error:"), "{recorded}");
    // The ticket becomes required: every member flips to an error.
    let out = check(&required, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = stdout(&out);
    assert!(report.contains("decision -> error:"), "{report}");
    assert!(report.contains("acme/u_bob: denied -> error"), "{report}");
    assert!(
        report.contains("error after: `request.context.ticket` is missing"),
        "{report}"
    );
    let pending = std::fs::read_to_string(dir.path().join("decisions.yaml.new")).unwrap();
    assert!(
        pending.contains("  error: '`request.context.ticket` is missing"),
        "{pending}"
    );

    // Recorded with errors, and read back by check: unchanged.
    let out = record(&required, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = check(&required, &[]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    // The check decides with the recorded context unless told otherwise.
    let out = record(&required, &["--context", "ticket=T-1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(recorded.contains("context:\n- ticket=T-1"), "{recorded}");
    assert!(!recorded.contains("error:"), "{recorded}");
    let out = check(&required, &[]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let out = check(
        &required,
        &["--context", "ticket=T-1", "--context", "channel=open_api"],
    );
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("+api_closed"), "{}", stdout(&out));
}

#[test]
fn restore_with_an_undecidable_member_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let required = rules(dir.path(), "r", &policy(REQUIRED));
    let fixture = root().join("adapters/conformance/fixtures/directory.yaml");
    let (snapshot, _) = support::shifted_snapshot(&fixture, AT.parse().unwrap(), dir.path());
    let url = format!("sqlite:{}", dir.path().join("d.db").display());
    let out = restorectl(&["import", "--from", snapshot.to_str().unwrap(), "--to", &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let restore = |extra: &[&str]| {
        let mut args = vec![
            "restore",
            "--rules",
            required.to_str().unwrap(),
            "--directory",
            &url,
            "--tenant",
            "acme",
            "--member",
            "u_bob",
            "--actor",
            "u_anna",
            "--department",
            "ops",
        ];
        args.extend(extra);
        restorectl(&args)
    };
    let failed = restore(&[]);
    assert_eq!(code(&failed), 2, "{}", stderr(&failed));
    assert!(stdout(&failed).is_empty());
    assert!(
        stderr(&failed).contains("request.context.ticket"),
        "{}",
        stderr(&failed)
    );
    // --dry-run decides with the context too.
    let dry = restore(&[
        "--dry-run",
        "--context",
        "ticket=T-1",
        "--context",
        "channel=open_api",
    ]);
    assert_eq!(code(&dry), 1, "{}", stderr(&dry));
    // Nothing was written: the same restore with the ticket succeeds once.
    let done = restore(&["--context", "ticket=T-1"]);
    assert_eq!(code(&done), 0, "{}", stderr(&done));
    let again = restore(&["--context", "ticket=T-1"]);
    assert_ne!(code(&again), 0, "restored twice");
}

#[test]
fn diff_takes_context_for_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path(), "r", &policy(REQUIRED));
    let directory = memory();
    let out = restorectl(&[
        "diff",
        "--rules",
        rules.to_str().unwrap(),
        "--directory",
        &directory,
        "--at",
        AT,
        "--context",
        "ticket=T-1",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("unchanged:"), "{}", stdout(&out));
    let out = restorectl(&[
        "diff",
        "--rules",
        rules.to_str().unwrap(),
        "--directory",
        &directory,
        "--at",
        AT,
        "--context",
        "nope=1",
    ]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--context"), "{}", stderr(&out));
}

#[test]
fn rule_tests_take_context_and_inline_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"format: restore-rules/v1
policy: attrs
version: "1.0.0"
effective_from: 2020-01-01T00:00:00Z
settings:
  restore_window: 30d
  deletion_max_duration: 48h
  restore_roles: [primary_admin]
  block_without_seat: false
  batch_restore: false
attributes:
  tenant:
    region: { type: string, one_of: [eu, us], required: true }
  member:
    former_roles: { type: list, default: [] }
    hold_until: { type: timestamp, default: "2000-01-01T00:00:00Z" }
  actor:
    mfa: { type: bool, default: false }
context:
  ticket: { type: string, required: true }
blockers:
  - id: former_admin_needs_admin
    fact: F1
    when:
      all:
        - { fact: member.attributes.former_roles, contains: admin }
        - not: { fact: actor.roles, intersects: { fact: member.attributes.former_roles } }
    message: "`{member.id}` was an admin"
    remedy: "ask an admin"
  - id: held
    fact: F2
    when: { fact: member.attributes.hold_until, gt: { fact: evaluation.at } }
    message: "held until {member.attributes.hold_until} (ticket {request.context.ticket})"
    remedy: "wait"
  - id: no_mfa_in_eu
    fact: F1
    when:
      all:
        - { fact: tenant.attributes.region, is: eu }
        - { fact: actor.attributes.mfa, is: false }
    message: "MFA needed"
    remedy: "enrol"
resources:
  - { resource: member_account, fact: F14, outcome: restored }
"#;
    let rules = rules(dir.path(), "rules", text);
    let cases = dir.path().join("cases.yaml");
    // One case: context, the three scopes' attributes, the expectation.
    let case = |name: &str,
                context: &str,
                member_attrs: &str,
                actor_attrs: &str,
                region: &str,
                expect: &str| {
        format!(
            "  - name: {name}\n    context: {context}\n    facts:\n      tenant: {{ id: t, plan: pro, seats_total: 10, seats_used: 1, attributes: {{ {region} }} }}\n      member: {{ id: m, deleted_at: 2026-11-20T00:00:00Z, reason: removed_by_admin, deletion: completed, attributes: {{ {member_attrs} }} }}\n      actor: {{ id: a, roles: [primary_admin], attributes: {{ {actor_attrs} }} }}\n    expect: {expect}\n"
        )
    };
    let mut file = String::from("format: restore-tests/v1\nat: 2026-11-24T10:00:00Z\ncases:\n");
    file.push_str(&case(
        "fine",
        "{ ticket: T-1 }",
        "",
        "mfa: true",
        "region: eu",
        "{ allowed: true, blockers: [] }",
    ));
    file.push_str(&case(
        "former admin, held, no mfa",
        "{ ticket: T-1 }",
        "former_roles: [admin], hold_until: \"2027-01-01T00:00:00Z\"",
        "",
        "region: eu",
        "{ allowed: false, blockers: [former_admin_needs_admin, held, no_mfa_in_eu] }",
    ));
    file.push_str(&case(
        "no mfa needed in us",
        "{ ticket: T-1 }",
        "",
        "",
        "region: us",
        "{ allowed: true }",
    ));
    file.push_str(&case(
        "missing ticket",
        "{}",
        "",
        "",
        "region: us",
        "{ error: \"`request.context.ticket` is missing\" }",
    ));
    file.push_str(&case(
        "bad region",
        "{ ticket: T-1 }",
        "",
        "",
        "region: mars",
        "{ error: \"`tenant.attributes.region` is a string outside the declared values\" }",
    ));
    std::fs::write(&cases, file).unwrap();
    let run = || {
        restorectl(&[
            "test",
            "--rules",
            rules.to_str().unwrap(),
            cases.to_str().unwrap(),
        ])
    };
    let out = run();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("5 passed, 0 failed"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("blockers asserted: 3/3"),
        "{}",
        stdout(&out)
    );

    // An expected error that does not come, and an unexpected one, fail.
    let text = std::fs::read_to_string(&cases)
        .unwrap()
        .replace(
            "{ error: \"`request.context.ticket` is missing\" }",
            "{ allowed: true }",
        )
        .replace("{ allowed: true, blockers: [] }", "{ error: \"missing\" }");
    std::fs::write(&cases, text).unwrap();
    let out = run();
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains("no decision could be made: `request.context.ticket` is missing"),
        "{report}"
    );
    assert!(
        report.contains("expected an error containing `missing`, got a decision"),
        "{report}"
    );

    // An undeclared context name is bad input.
    std::fs::write(
        &cases,
        format!(
            "format: restore-tests/v1\nat: 2026-11-24T10:00:00Z\ncases:\n{}",
            case(
                "typo",
                "{ tiket: T-1 }",
                "",
                "",
                "region: us",
                "{ allowed: true }"
            )
        ),
    )
    .unwrap();
    let out = run();
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("did you mean `ticket`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn stored_attributes_decide_and_an_ill_typed_one_is_an_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(
        dir.path(),
        "r",
        r#"format: restore-rules/v2
policy: held
version: "1"
effective_from: 2020-01-01T00:00:00Z
tiers:
  pro: {}
attributes:
  tenant:
    region: { type: string, one_of: [eu, us], required: true }
  member:
    hold_until: { type: timestamp, default: "2000-01-01T00:00:00Z" }
  actor:
    mfa: { type: bool, default: false }
blockers:
  - id: held
    source: "https://example.test/holds"
    when: { fact: member.attributes.hold_until, gt: { fact: evaluation.at } }
    message: "held until {member.attributes.hold_until} in {tenant.attributes.region}"
    remedy: "wait"
  - id: no_mfa
    source: M2
    when: { fact: actor.attributes.mfa, is: false }
    message: "MFA needed"
    remedy: "enrol"
resources:
  - { resource: member_account, source: F14, outcome: restored }
"#,
    );
    let snapshot = dir.path().join("directory.yaml");
    std::fs::write(
        &snapshot,
        r#"format: restore-directory/v2
tenants:
  - id: t
    plan: pro
    seats: { total: 10, used: 1 }
    attributes: { region: eu }
    members:
      - { id: a, roles: [primary_admin], attributes: { mfa: true } }
    deleted_members:
      - { id: m_free, deleted_at: 2026-11-20T00:00:00Z, reason: removed_by_admin, deletion: completed }
      - { id: m_held, deleted_at: 2026-11-20T00:00:00Z, reason: removed_by_admin, deletion: completed,
          attributes: { hold_until: "2027-01-01T00:00:00Z" } }
      - { id: m_bad, deleted_at: 2026-11-20T00:00:00Z, reason: removed_by_admin, deletion: completed,
          attributes: { hold_until: "SECRET-soon" } }
"#,
    )
    .unwrap();
    let memory = format!("memory:{}", snapshot.display());
    let sqlite = format!("sqlite:{}", dir.path().join("d.db").display());
    let out = restorectl(&[
        "import",
        "--from",
        snapshot.to_str().unwrap(),
        "--to",
        &sqlite,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut outputs = Vec::new();
    for directory in [&memory, &sqlite] {
        let out = restorectl(&[
            "eval-all",
            "--rules",
            rules.to_str().unwrap(),
            "--directory",
            directory,
            "--tenant",
            "t",
            "--actor",
            "a",
            "--at",
            AT,
        ]);
        assert_eq!(code(&out), 2, "{directory}: {}", stderr(&out));
        let lines: Vec<serde_json::Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        let by = |id: &str| lines.iter().find(|l| l["member"] == id).unwrap().clone();
        assert_eq!(by("m_free")["allowed"], true, "{lines:?}");
        let held = by("m_held");
        assert_eq!(held["allowed"], false);
        assert_eq!(
            held["blockers"][0]["message"],
            "held until 2027-01-01T00:00:00Z in eu"
        );
        let bad = by("m_bad");
        let error = bad["error"].as_str().unwrap();
        assert!(
            error.contains(
                "`member.attributes.hold_until` is a string that is not an RFC 3339 timestamp"
            ),
            "{error}"
        );
        assert!(!stdout(&out).contains("SECRET"), "{}", stdout(&out));
        outputs.push(stdout(&out));
    }
    assert_eq!(outputs[0], outputs[1], "memory: and sqlite: agree");
    // Without an actor, `actor.attributes.mfa` takes its default.
    let out = restorectl(&[
        "eval",
        "--rules",
        rules.to_str().unwrap(),
        "--directory",
        &memory,
        "--tenant",
        "t",
        "--member",
        "m_free",
        "--at",
        AT,
        "--explain",
        "--output",
        "text",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("actor.attributes.mfa = false (absent: default) is false"),
        "{}",
        stdout(&out)
    );
}
