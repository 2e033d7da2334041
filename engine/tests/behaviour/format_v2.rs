//! Format `restore-rules/v2`: declared tiers (and a default tier), typed
//! settings with `unlimited`, computed facts, `restorable_until`, free
//! sources, codes, a catalogue, requirement defaults and `allow:`; every
//! new load error with its place; lints against the policy's catalogue.

use restore_engine::decision::Code;
use restore_engine::lint::lint_report;
use restore_engine::vocabulary::{Value, UNLIMITED};
use restore_engine::{PolicySet, RuleErrorKind};

use crate::support::{at, plain_facts, ts, ONE};

const POLICY: &str = r#"format: restore-rules/v2
policy: example
version: "2.0.0"
effective_from: 2020-01-01T00:00:00Z
tiers:
  trial: { api: false }
  standard: { block_without_seat: true, api: true }
  education: { restore_window: unlimited, api: true }
default_tier: standard
settings:
  restore_window: { type: duration, default: 30d, doc: "how long a member stays restorable" }
  restore_roles: { type: list, default: [primary_admin] }
  block_without_seat: { type: bool, default: false }
  api: { type: bool }
computed:
  member.restorable_until: { fact: member.deleted_at, plus: { setting: restore_window } }
  member.purge_at: { fact: member.deleted_at, plus: 60d }
restorable_until: member.restorable_until
catalogue: [member_account, { resource: documents, doc: "files" }]
requires:
  - { id: department, source: F8, default: root }
blockers:
  - id: api_off
    source: "https://example.test/policy#api"
    code: HOLD
    allow: [blocker_always_fires]
    when: { setting: api, is: false }
    message: "no API on {tenant.plan}"
    remedy: "upgrade"
  - id: window_expired
    fact: F2
    code: 44028
    when: { fact: member.deleted_for, gt: { setting: restore_window } }
    message: "deleted {member.deleted_for} ago; restorable until {member.restorable_until}, purged at {member.purge_at}"
    remedy: "none after {setting.restore_window}"
  - id: no_seat
    source: "vendor:seats"
    when:
      all:
        - { setting: block_without_seat, is: true }
        - { fact: tenant.seats.available, lte: 0 }
    message: "no seat"
    remedy: "buy one"
resources:
  - { resource: member_account, source: M8, outcome: restored }
"#;

fn policy_set(text: &str) -> PolicySet {
    match PolicySet::from_sources([("v2.yaml", text)]) {
        Ok(set) => set,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_v2_policy_declares_its_vocabulary_and_decides() {
    let set = policy_set(POLICY);
    let policy = set.select(None, None, at()).unwrap();
    assert_eq!(
        policy.tier_names().iter().map(|t| &**t).collect::<Vec<_>>(),
        ["trial", "standard", "education"]
    );
    assert_eq!(policy.default_tier(), Some("standard"));
    assert_eq!(policy.requirement_default("department"), Some("root"));
    assert_eq!(policy.requirement_default("seat"), None);
    assert_eq!(
        policy.setting("education", "restore_window"),
        Some(&Value::Duration(UNLIMITED))
    );
    assert_eq!(policy.setting("trial", "api"), Some(&Value::Bool(false)));

    // A plan no tier names falls to `standard`; the blocker carries its code.
    let mut f = plain_facts();
    f.tenant.plan = "enterprise".into();
    f.member.deleted_at = ts("2026-09-01T00:00:00Z");
    let d = policy.evaluate(&f, &ONE, at()).unwrap();
    assert_eq!(&*d.policy.tier, "standard");
    assert_eq!(d.blockers.len(), 1, "{:?}", d.blockers);
    let hit = &d.blockers[0];
    assert_eq!(&*hit.rule, "window_expired");
    assert_eq!(hit.code, Some(Code::Int(44028)));
    assert_eq!(
        hit.message,
        "deleted 84d10h ago; restorable until 2026-10-01T00:00:00Z, purged at 2026-10-31T00:00:00Z"
    );
    assert_eq!(hit.remedy, "none after 30d");
    let json = serde_json::to_string(&d).unwrap();
    assert!(
        json.contains(r#""fact":"F2","code":44028,"message""#),
        "{json}"
    );

    // The trial tier always blocks, with a text code and a URL source.
    f.tenant.plan = "trial".into();
    let d = policy.evaluate(&f, &ONE, at()).unwrap();
    assert_eq!(d.blockers[0].code, Some(Code::Text("HOLD".into())));
    assert_eq!(&*d.blockers[0].fact, "https://example.test/policy#api");
    assert_eq!(d.blockers[0].message, "no API on trial");

    // Education: unlimited window, no `restorable_until`.
    f.tenant.plan = "education".into();
    let d = policy.evaluate(&f, &ONE, at()).unwrap();
    assert!(d.allowed, "{:?}", d.blockers);
    assert_eq!(d.restorable_until, None);
}

#[test]
fn allow_takes_out_a_finding_and_is_counted() {
    let set = policy_set(POLICY);
    let policy = set.select(None, None, at()).unwrap();
    let report = lint_report(policy);
    // `api_off` always fires on trial (allowed); `documents` is in the
    // catalogue without a rule.
    assert_eq!(report.allowed, 1);
    let codes: Vec<(&str, &str)> = report
        .warnings
        .iter()
        .map(|w| (w.code, w.path.as_str()))
        .collect();
    assert_eq!(codes, [("resource_without_outcome", "resources")]);
    assert!(report.warnings[0].message.contains("`documents`"));

    // An allow that takes out nothing is a finding of its own.
    let text = POLICY.replace(
        "    code: 44028\n",
        "    code: 44028\n    allow: [blocker_never_fires]\n",
    );
    let set = policy_set(&text);
    let report = lint_report(set.select(None, None, at()).unwrap());
    assert!(report
        .warnings
        .iter()
        .any(|w| w.code == "allow_without_effect" && w.path == "blockers[1].allow"));
}

/// Without a catalogue a v2 policy is checked against nothing.
#[test]
fn no_catalogue_no_resource_lint() {
    let text = POLICY.replace(
        "catalogue: [member_account, { resource: documents, doc: \"files\" }]\n",
        "",
    );
    let set = policy_set(&text);
    let report = lint_report(set.select(None, None, at()).unwrap());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

/// Each broken variant of [`POLICY`] gives one error, at its place.
#[test]
fn v2_load_errors_name_their_place() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "default_tier: standard",
            "default_tier: standart",
            "v2.yaml:9:15: at `default_tier`: `standart` is not a declared tier; did you mean `standard`?",
            "restore::undeclared_tier",
        ),
        (
            "  trial: { api: false }",
            "  trial: {}",
            "v2.yaml:6:3: at `tiers.trial`: tier `trial` does not set `api`, which has no default",
            "restore::setting_without_value",
        ),
        (
            "  standard: { block_without_seat: true, api: true }",
            "  standard: { block_without_seats: true, api: true }",
            "v2.yaml:7:15: at `tiers.standard.block_without_seats`: unknown setting `block_without_seats`; did you mean `block_without_seat`?",
            "restore::unknown_setting",
        ),
        (
            "  education: { restore_window: unlimited, api: true }",
            "  Education: { restore_window: unlimited, api: true }",
            "v2.yaml:8:3: at `tiers.Education`: `Education` is not an identifier",
            "restore::bad_identifier",
        ),
        (
            "    fact: F2\n",
            "    fact: F2\n    source: F2\n",
            "at `blockers[1]`: give exactly one of `source` and `fact`",
            "restore::source_and_fact",
        ),
        (
            "    code: HOLD",
            "    code: \"\"",
            "v2.yaml:25:11: at `blockers[0].code`: a code is an integer or a non-empty text",
            "restore::bad_code",
        ),
        (
            "  member.purge_at:",
            "  member.deleted_for:",
            "v2.yaml:17:3: at `computed.member.deleted_for`: computed fact `member.deleted_for` must be named",
            "restore::bad_computed_name",
        ),
        (
            "restorable_until: member.restorable_until",
            "restorable_until: member.restorable",
            "v2.yaml:18:19: at `restorable_until`: unknown fact `member.restorable`",
            "restore::unknown_fact",
        ),
        (
            "  - { resource: member_account, source: M8, outcome: restored }",
            "  - { resource: member_acount, source: M8, outcome: restored }",
            "at `resources[0].resource`: resource `member_acount` is not in the policy's catalogue; did you mean `member_account`?",
            "restore::not_in_catalogue",
        ),
        (
            "    allow: [blocker_always_fires]",
            "    allow: [blocker_always_fire]",
            "v2.yaml:26:13: at `blockers[0].allow[0]`: unknown lint `blocker_always_fire`; did you mean `blocker_always_fires`?",
            "restore::unknown_lint",
        ),
        (
            "  api: { type: bool }",
            "  api: { type: boolean }",
            "v2.yaml:14:16: at `settings.api.type`: unknown type `boolean`",
            "restore::unknown_type",
        ),
        (
            "catalogue:",
            "attributes: { member: { x: { type: bool } } }\ncatalogue:",
            "at `attributes.member.x`: a declaration needs exactly one of `default` and `required: true`",
            "restore::default_or_required",
        ),
    ];
    for (from, to, expected, code) in cases {
        assert!(POLICY.contains(from), "{from}");
        let text = POLICY.replacen(from, to, 1);
        let err = PolicySet::from_sources([("v2.yaml", text.as_str())]).unwrap_err();
        let found: Vec<String> = err.diagnostics.iter().map(|d| d.to_string()).collect();
        assert!(
            found.iter().any(|d| d.contains(expected)),
            "{to}: expected `{expected}` in {found:#?}"
        );
        assert!(
            err.diagnostics.iter().any(|d| d.kind.code() == *code),
            "{to}: {code} in {found:#?}"
        );
    }
    let long = format!("    source: \"{}\"\n    code: HOLD", "x".repeat(513));
    let text = POLICY.replacen(
        "    source: \"https://example.test/policy#api\"\n    code: HOLD",
        &long,
        1,
    );
    let err = PolicySet::from_sources([("v2.yaml", text.as_str())]).unwrap_err();
    assert!(err
        .diagnostics
        .iter()
        .any(|d| matches!(d.kind, RuleErrorKind::BadSource)));
}

const WARNINGS: &str = r#"warnings:
  - id: over_seat_count
    source: F9
    code: 7
    when: { fact: tenant.seats.available, lte: 0 }
    message: "beyond {tenant.seats.total} seats"
    remedy: "buy seats"
  - id: never
    source: F9
    when: { setting: block_without_seat, is: true }
    message: "m"
  - id: always_on_trial
    source: F9
    when: { setting: api, is: false }
    message: "trial"
resources:
"#;

/// Warning rules: after the blockers, never deny, traced by explain, linted.
#[test]
fn warning_rules_report_without_denying() {
    let text = POLICY
        .replace(
            "  standard: { block_without_seat: true, api: true }",
            "  standard: { api: true }",
        )
        .replace("resources:\n", WARNINGS);
    let set = policy_set(&text);
    let policy = set.select(None, None, at()).unwrap();
    let mut f = plain_facts();
    f.tenant.plan = "standard".into();
    f.tenant.seats_used = f.tenant.seats_total;
    let d = policy.evaluate(&f, &ONE, at()).unwrap();
    assert!(d.allowed, "{:?}", d.blockers);
    assert_eq!(d.warnings.len(), 1);
    let w = &d.warnings[0];
    assert_eq!((&*w.rule, &*w.fact), ("over_seat_count", "F9"));
    assert_eq!(w.code, Some(Code::Int(7)));
    assert_eq!(w.message, "beyond 10 seats");
    assert_eq!(w.remedy.as_deref(), Some("buy seats"));
    let json = serde_json::to_string(&d).unwrap();
    let mut fast = Vec::new();
    restore_engine::json::write_decision(&mut fast, &d);
    assert_eq!(String::from_utf8(fast).unwrap(), json);
    assert!(json.contains(r#""warnings":[{"rule":"over_seat_count","fact":"F9","code":7,"message":"beyond 10 seats","remedy":"buy seats"}]"#), "{json}");

    let explanation = policy.explain(&f, &ONE, at()).unwrap();
    let traced: Vec<(&str, bool)> = explanation
        .warnings
        .iter()
        .map(|t| (t.rule.as_str(), t.holds))
        .collect();
    assert_eq!(
        traced,
        [
            ("over_seat_count", true),
            ("never", false),
            ("always_on_trial", false)
        ]
    );

    // Free seats: no warning, and none in the JSON.
    f.tenant.seats_used = 0;
    let d = policy.evaluate(&f, &ONE, at()).unwrap();
    assert!(d.warnings.is_empty());
    assert!(!serde_json::to_string(&d).unwrap().contains("warnings"));

    let report = lint_report(policy);
    let codes: Vec<(&str, &str)> = report
        .warnings
        .iter()
        .map(|w| (w.code, w.path.as_str()))
        .collect();
    assert!(
        codes.contains(&("warning_never_fires", "warnings[1]")),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("warning_always_fires", "warnings[2]")),
        "{codes:?}"
    );
}

/// Rule ids are unique across blockers and warnings together.
#[test]
fn a_warning_may_not_reuse_a_blocker_id() {
    let text = POLICY.replace(
        "resources:\n",
        "warnings:\n  - { id: no_seat, source: F9, when: { fact: tenant.seats.available, lte: 0 }, message: m }\nresources:\n",
    );
    let err = PolicySet::from_sources([("v2.yaml", text.as_str())]).unwrap_err();
    assert!(
        err.to_string().contains("duplicate rule id `no_seat`"),
        "{err}"
    );
}
