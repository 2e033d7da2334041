//! Attributes and request context (docs/rule-language-next.md §3.6, §3.8):
//! declarations, references type-checked at load, binding at evaluation
//! (defaults, required values, values that do not fit), fact-to-fact
//! comparisons, templates, explain, and `parse_context`.

use std::sync::Arc;

use restore_engine::declarations::ContextError;
use restore_engine::facts::{AttrValue, Attributes, Facts};
use restore_engine::load::load_policy_file;
use restore_engine::{EvaluationError, PolicySet, Request, RuleErrorKind};

use crate::support::{at, plain_facts, policy_from};

const DECLS: &str = r#"
attributes:
  tenant:
    region: { type: string, one_of: [eu, us], required: true }
  member:
    legal_hold: { type: bool, default: false, doc: "under legal hold" }
    hold_until: { type: timestamp, default: "2000-01-01T00:00:00Z" }
    former_roles: { type: list, default: [] }
    strikes: { type: integer, default: 0 }
    grace: { type: duration, default: 1d }
  actor:
    mfa: { type: bool, default: false }
context:
  channel: { type: string, one_of: [console, open_api], default: console }
  ticket: { type: string, required: true }
  tickets: { type: list, default: [] }
  until: { type: timestamp, default: "2000-01-01T00:00:00Z" }
  limit: { type: integer, default: 3 }
  wait: { type: duration, default: 0s }
"#;

/// A policy with the declarations above and the given blockers (YAML list
/// items, indented by two spaces).
fn policy_text(blockers: &str) -> String {
    format!(
        r#"format: restore-rules/v1
policy: attrs
version: "1"
effective_from: 2020-01-01T00:00:00Z
settings:
  restore_window: 30d
  deletion_max_duration: 48h
  restore_roles: [primary_admin]
  block_without_seat: false
  batch_restore: false
{DECLS}
blockers:
{blockers}
resources: []
"#
    )
}

fn blocker(id: &str, when: &str) -> String {
    format!("  - {{ id: {id}, fact: F1, when: {when}, message: \"m\", remedy: \"r\" }}\n")
}

fn errors(text: &str) -> Vec<(RuleErrorKind, String, usize)> {
    match load_policy_file("t.yaml", text) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .diagnostics
            .into_iter()
            .map(|d| (d.kind, d.path, d.span.line))
            .collect(),
    }
}

fn refused(text: &str, path: &str, matches: impl Fn(&RuleErrorKind) -> bool) {
    let got = errors(text);
    assert!(
        got.len() == 1 && got[0].1 == path && matches(&got[0].0),
        "expected one error at `{path}`, got {got:?}\n{text}"
    );
}

fn attrs(pairs: &[(&str, AttrValue)]) -> Attributes {
    Attributes::new(pairs.iter().map(|(k, v)| (Arc::from(*k), v.clone()))).unwrap()
}

fn text(s: &str) -> AttrValue {
    AttrValue::Str(Arc::from(s))
}

fn list(items: &[&str]) -> AttrValue {
    AttrValue::List(items.iter().map(|s| Arc::from(*s)).collect())
}

/// The plain test member (`t`/`m`, actor `admin`), in region `eu`.
fn facts() -> Facts {
    let mut facts = plain_facts();
    facts.tenant.attributes = attrs(&[("region", text("eu"))]);
    facts
}

fn request(pairs: &[(&str, AttrValue)]) -> Request {
    Request {
        context: attrs(pairs),
        ..Request::default()
    }
}

fn ticket() -> Request {
    request(&[("ticket", text("T-1"))])
}

fn fires(set: &PolicySet, facts: &Facts, request: &Request, id: &str) -> bool {
    let policy = &set.policies()[0];
    let decision = policy.evaluate(facts, request, at()).unwrap();
    decision.blocked_by(id)
}

#[test]
fn every_type_declares_and_loads() {
    let text = policy_text(&blocker(
        "b",
        "{ fact: member.attributes.legal_hold, is: true }",
    ));
    let set = policy_from(&text);
    let decls = set.policies()[0].declarations();
    use restore_engine::declarations::Scope;
    let names = |s| {
        decls
            .scope(s)
            .iter()
            .map(|d| d.name.to_string())
            .collect::<Vec<_>>()
    };
    // Sorted by name within each scope.
    assert_eq!(names(Scope::Tenant), ["region"]);
    assert_eq!(
        names(Scope::Member),
        [
            "former_roles",
            "grace",
            "hold_until",
            "legal_hold",
            "strikes"
        ]
    );
    assert_eq!(names(Scope::Actor), ["mfa"]);
    assert_eq!(
        names(Scope::Context),
        ["channel", "limit", "ticket", "tickets", "until", "wait"]
    );
}

#[test]
fn an_undeclared_reference_is_refused_with_a_suggestion() {
    let text = policy_text(&blocker(
        "b",
        "{ fact: member.attributes.legal_hld, is: true }",
    ));
    refused(&text, "blockers[0].when.fact", |k| {
        matches!(k, RuleErrorKind::UnknownAttribute { name, declared_at: "attributes.member", suggestion: Some(s) }
            if name == "member.attributes.legal_hld" && s == "member.attributes.legal_hold")
    });
    let message = load_policy_file("t.yaml", &text).unwrap_err().to_string();
    assert!(message.contains("t.yaml:"), "{message}");
    assert!(
        message.contains("did you mean `member.attributes.legal_hold`"),
        "{message}"
    );
    // Another scope's name is not found in this one.
    let text = policy_text(&blocker(
        "b",
        "{ fact: tenant.attributes.legal_hold, is: true }",
    ));
    refused(&text, "blockers[0].when.fact", |k| {
        matches!(
            k,
            RuleErrorKind::UnknownAttribute {
                declared_at: "attributes.tenant",
                ..
            }
        )
    });
    // On the right-hand side and in templates, too.
    let text = policy_text(&blocker(
        "b",
        "{ fact: actor.roles, intersects: { fact: member.attributes.formr_roles } }",
    ));
    refused(
        &text,
        "blockers[0].when.intersects.fact",
        |k| matches!(k, RuleErrorKind::UnknownAttribute { suggestion: Some(s), .. } if s == "member.attributes.former_roles"),
    );
    let text = policy_text(
        "  - { id: b, fact: F1, when: { fact: member.id, is: x }, message: \"{request.context.tiket}\", remedy: r }\n",
    );
    refused(
        &text,
        "blockers[0].message",
        |k| matches!(k, RuleErrorKind::UnknownAttribute { suggestion: Some(s), .. } if s == "request.context.ticket"),
    );
}

#[test]
fn references_are_type_checked() {
    // A bool compared with an integer literal.
    let text = policy_text(&blocker(
        "b",
        "{ fact: member.attributes.legal_hold, is: 3 }",
    ));
    refused(&text, "blockers[0].when.is", |k| {
        matches!(k, RuleErrorKind::TypeMismatch { .. })
    });
    // `lt` does not apply to a bool.
    let text = policy_text(&blocker(
        "b",
        "{ fact: member.attributes.legal_hold, lt: true }",
    ));
    refused(
        &text,
        "blockers[0].when.lt",
        |k| matches!(k, RuleErrorKind::OperatorType { name, .. } if name == "member.attributes.legal_hold"),
    );
    // A timestamp attribute against a duration fact.
    let text = policy_text(&blocker(
        "b",
        "{ fact: member.attributes.hold_until, gt: { fact: member.deleted_for } }",
    ));
    refused(&text, "blockers[0].when.gt", |k| {
        matches!(k, RuleErrorKind::OperandTypes { .. })
    });
    // A literal outside `one_of`, with `is` and with `in`.
    let text = policy_text(&blocker("b", "{ fact: tenant.attributes.region, is: eu2 }"));
    refused(
        &text,
        "blockers[0].when.is",
        |k| matches!(k, RuleErrorKind::NotOneOf { value, .. } if value == "eu2"),
    );
    let text = policy_text(&blocker(
        "b",
        "{ fact: request.context.channel, in: [console, api] }",
    ));
    refused(
        &text,
        "blockers[0].when.in",
        |k| matches!(k, RuleErrorKind::NotOneOf { value, .. } if value == "api"),
    );
    // Fact to fact, both ways round.
    for when in [
        "{ fact: actor.roles, intersects: { fact: member.attributes.former_roles } }",
        "{ fact: member.attributes.former_roles, intersects: { fact: actor.roles } }",
        "{ fact: member.attributes.hold_until, gt: { fact: member.deleted_at } }",
        "{ fact: request.context.until, lte: { fact: member.attributes.hold_until } }",
        "{ fact: member.attributes.grace, lt: { fact: member.deleted_for } }",
        "{ fact: member.attributes.strikes, gte: { fact: request.context.limit } }",
        "{ fact: request.context.tickets, contains: T-1 }",
        "{ fact: member.attributes.former_roles, empty: false }",
    ] {
        let text = policy_text(&blocker("b", when));
        assert!(errors(&text).is_empty(), "{when}: {:?}", errors(&text));
    }
}

#[test]
fn declarations_are_checked() {
    let with = |decls: &str| {
        format!(
            r#"format: restore-rules/v1
policy: attrs
version: "1"
effective_from: 2020-01-01T00:00:00Z
settings:
  restore_window: 30d
  deletion_max_duration: 48h
  restore_roles: [primary_admin]
  block_without_seat: false
  batch_restore: false
{decls}
blockers: []
resources: []
"#
        )
    };
    refused(
        &with("attributes:\n  member:\n    a: { type: bool }\n"),
        "attributes.member.a",
        |k| matches!(k, RuleErrorKind::DefaultOrRequired),
    );
    refused(
        &with("attributes:\n  member:\n    a: { type: bool, default: true, required: true }\n"),
        "attributes.member.a",
        |k| matches!(k, RuleErrorKind::DefaultOrRequired),
    );
    refused(
        &with("attributes:\n  actor:\n    a: { type: bool, required: true }\n"),
        "attributes.actor.a",
        |k| matches!(k, RuleErrorKind::ActorAttributeRequired),
    );
    refused(
        &with("context:\n  a: { type: integer, one_of: [x], default: 1 }\n"),
        "context.a.one_of",
        |k| matches!(k, RuleErrorKind::OneOfNeedsString),
    );
    refused(
        &with("context:\n  a: { type: string, one_of: [x, y], default: z }\n"),
        "context.a.default",
        |k| matches!(k, RuleErrorKind::NotOneOf { value, allowed } if value == "z" && allowed == "x | y"),
    );
    refused(
        &with("context:\n  a: { type: float, default: 1 }\n"),
        "context.a.type",
        |k| matches!(k, RuleErrorKind::UnknownType { name } if name == "float"),
    );
    refused(
        &with("context:\n  Bad-Name: { type: bool, default: true }\n"),
        "context.Bad-Name",
        |k| matches!(k, RuleErrorKind::BadName { .. }),
    );
    refused(
        &with("context:\n  a: { type: duration, default: 30 }\n"),
        "context.a.default",
        |k| matches!(k, RuleErrorKind::DurationWithoutUnit { .. }),
    );
    refused(
        &with("context:\n  a: { type: bool, default: true }\n  a: { type: bool, default: true }\n"),
        "context.a",
        |k| matches!(k, RuleErrorKind::DuplicateId { .. }),
    );
    refused(
        &with("attributes:\n  group:\n    a: { type: bool, default: true }\n"),
        "attributes.group",
        |k| matches!(k, RuleErrorKind::UnknownKey { .. }),
    );
    // The line of the declaration is reported.
    let text = with("context:\n  a: { type: bool }\n");
    let got = errors(&text);
    assert_eq!(got[0].2, 12, "{got:?}");
}

#[test]
fn absent_values_take_their_defaults_and_stored_ones_are_typed() {
    let set = policy_from(&policy_text(&format!(
        "{}{}{}{}",
        blocker("hold", "{ fact: member.attributes.legal_hold, is: true }"),
        blocker(
            "held_past_deletion",
            "{ fact: member.attributes.hold_until, gt: { fact: member.deleted_at } }"
        ),
        blocker(
            "former_admin",
            "{ fact: member.attributes.former_roles, intersects: { fact: actor.roles } }"
        ),
        blocker("api", "{ fact: request.context.channel, is: open_api }"),
    )));
    let mut facts = facts();
    // Absent: every default.
    for id in ["hold", "held_past_deletion", "former_admin", "api"] {
        assert!(!fires(&set, &facts, &ticket(), id), "{id}");
    }
    facts.member.attributes = attrs(&[
        ("legal_hold", AttrValue::Bool(true)),
        ("hold_until", text("2099-01-01T00:00:00+08:00")),
        ("former_roles", list(&["auditor", "primary_admin"])),
    ]);
    let request = request(&[("ticket", text("T-1")), ("channel", text("open_api"))]);
    for id in ["hold", "held_past_deletion", "former_admin", "api"] {
        assert!(fires(&set, &facts, &request, id), "{id}");
    }
}

#[test]
fn a_missing_required_value_is_an_error_naming_it() {
    let set = policy_from(&policy_text(&blocker(
        "b",
        "{ fact: request.context.ticket, is: \"\" }",
    )));
    let policy = &set.policies()[0];
    let err = policy
        .evaluate(&facts(), &Request::default(), at())
        .unwrap_err();
    assert!(
        matches!(&err, EvaluationError::MissingValue { name, .. } if name == "request.context.ticket"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("`request.context.ticket`"),
        "{err}"
    );
    // The tenant's required region too.
    let mut facts = facts();
    facts.tenant.attributes = Attributes::default();
    let set = policy_from(&policy_text(&blocker(
        "b",
        "{ fact: tenant.attributes.region, is: us }",
    )));
    let err = set.policies()[0]
        .evaluate(&facts, &ticket(), at())
        .unwrap_err();
    assert!(
        matches!(&err, EvaluationError::MissingValue { name, .. } if name == "tenant.attributes.region"),
        "{err:?}"
    );
}

#[test]
fn binding_is_eager_whatever_short_circuits() {
    // `any` stops at its first true item; the ticket is bound anyway.
    let set = policy_from(&policy_text(&blocker(
        "b",
        "{ any: [ { fact: member.id, is: m }, { fact: request.context.ticket, is: x } ] }",
    )));
    let err = set.policies()[0]
        .evaluate(&facts(), &Request::default(), at())
        .unwrap_err();
    assert!(
        matches!(err, EvaluationError::MissingValue { .. }),
        "{err:?}"
    );
}

#[test]
fn a_reference_folded_away_is_not_bound() {
    // `batch_restore` is false: the `all` folds to false, and the
    // required ticket is never read, so it need not be given.
    let set = policy_from(&policy_text(&blocker(
        "b",
        "{ all: [ { setting: batch_restore, is: true }, { fact: request.context.ticket, is: x } ] }",
    )));
    let decision = set.policies()[0]
        .evaluate(&facts(), &Request::default(), at())
        .unwrap();
    assert!(decision.allowed);
}

#[test]
fn values_that_do_not_fit_are_errors_that_do_not_echo_them() {
    let set = policy_from(&policy_text(&format!(
        "{}{}{}",
        blocker("hold", "{ fact: member.attributes.legal_hold, is: true }"),
        blocker(
            "until",
            "{ fact: member.attributes.hold_until, gt: { fact: member.deleted_at } }"
        ),
        blocker("region", "{ fact: tenant.attributes.region, is: eu }"),
    )));
    let policy = &set.policies()[0];
    let cases: [(&str, AttrValue, &str); 4] = [
        (
            "legal_hold",
            text("SECRET-yes"),
            "member.attributes.legal_hold",
        ),
        (
            "hold_until",
            text("SECRET-tomorrow"),
            "member.attributes.hold_until",
        ),
        (
            "hold_until",
            text("2099-01-01T00:00:00"),
            "member.attributes.hold_until",
        ),
        (
            "legal_hold",
            AttrValue::Int(1),
            "member.attributes.legal_hold",
        ),
    ];
    for (key, value, name) in cases {
        let mut facts = facts();
        facts.member.attributes = attrs(&[(key, value)]);
        let err = policy.evaluate(&facts, &ticket(), at()).unwrap_err();
        assert!(
            matches!(&err, EvaluationError::BadValue { name: n, .. } if n == name),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(!message.contains("SECRET"), "{message}");
        assert!(!message.contains("2099"), "{message}");
    }
    // A string outside `one_of`.
    let mut facts = facts();
    facts.tenant.attributes = attrs(&[("region", text("SECRET-mars"))]);
    let err = policy.evaluate(&facts, &ticket(), at()).unwrap_err();
    assert!(
        matches!(&err, EvaluationError::BadValue { name, expected, .. }
            if name == "tenant.attributes.region" && expected == "one of eu | us"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("SECRET"), "{err}");
}

#[test]
fn actor_attributes_default_without_an_actor() {
    let set = policy_from(&policy_text(&blocker(
        "no_mfa",
        "{ fact: actor.attributes.mfa, is: false }",
    )));
    let mut facts = facts();
    facts.actor = None;
    assert!(fires(&set, &facts, &ticket(), "no_mfa"));
    let mut facts = crate::attributes::facts();
    if let Some(actor) = &mut facts.actor {
        actor.attributes = attrs(&[("mfa", AttrValue::Bool(true))]);
    }
    assert!(!fires(&set, &facts, &ticket(), "no_mfa"));
}

#[test]
fn templates_render_bound_values() {
    let set = policy_from(&policy_text(
        "  - id: b\n    fact: F1\n    when: { fact: member.attributes.legal_hold, is: true }\n    message: \"`{member.id}` held until {member.attributes.hold_until} ({member.attributes.former_roles}); ticket {request.context.ticket}, grace {member.attributes.grace}\"\n    remedy: \"ask in {tenant.attributes.region}\"\n",
    ));
    let mut facts = facts();
    facts.member.attributes = attrs(&[
        ("legal_hold", AttrValue::Bool(true)),
        ("hold_until", text("2027-01-01T00:00:00Z")),
        ("former_roles", list(&["a", "b"])),
    ]);
    let decision = set.policies()[0].evaluate(&facts, &ticket(), at()).unwrap();
    let hit = &decision.blockers[0];
    assert_eq!(
        hit.message,
        "`m` held until 2027-01-01T00:00:00Z (a, b); ticket T-1, grace 1d"
    );
    assert_eq!(hit.remedy, "ask in eu");
}

#[test]
fn explain_shows_absent_values_with_their_defaults() {
    let set = policy_from(&policy_text(&format!(
        "{}{}",
        blocker("hold", "{ fact: member.attributes.legal_hold, is: true }"),
        blocker("region", "{ fact: tenant.attributes.region, is: eu }"),
    )));
    let explanation = set.policies()[0]
        .explain(&facts(), &ticket(), at())
        .unwrap();
    let mut out = String::new();
    for rule in &explanation.blockers {
        rule.condition.write_text(0, &mut out);
    }
    assert!(
        out.contains("member.attributes.legal_hold = false (absent: default) is true"),
        "{out}"
    );
    assert!(out.contains("tenant.attributes.region (eu) is eu"), "{out}");
    // Explain fails as evaluation does: the tenant's region is required.
    let mut facts = facts();
    facts.tenant.attributes = Attributes::default();
    let err = set.policies()[0]
        .explain(&facts, &ticket(), at())
        .unwrap_err();
    assert!(
        matches!(err, EvaluationError::MissingValue { .. }),
        "{err:?}"
    );
}

#[test]
fn context_values_parse_by_their_declared_type() {
    let set = policy_from(&policy_text(&blocker(
        "b",
        "{ fact: request.context.channel, is: open_api }",
    )));
    let policy = &set.policies()[0];
    let ok = |name: &str, raw: &str| policy.parse_context(name, raw).unwrap().1;
    assert_eq!(ok("channel", "open_api"), text("open_api"));
    assert_eq!(ok("limit", "-4"), AttrValue::Int(-4));
    assert_eq!(ok("wait", "1d12h"), text("1d12h"));
    assert_eq!(
        ok("until", "2027-01-01T00:00:00+08:00"),
        text("2027-01-01T00:00:00+08:00")
    );
    assert_eq!(ok("tickets", r#"["a","b"]"#), list(&["a", "b"]));
    assert_eq!(ok("ticket", "any text = fine"), text("any text = fine"));
    for (name, raw) in [
        ("channel", "phone"),
        ("limit", "4.5"),
        ("wait", "30"),
        ("until", "2027-01-01T00:00:00"),
        ("tickets", "a,b"),
        ("tickets", "[1]"),
    ] {
        assert!(
            matches!(
                policy.parse_context(name, raw),
                Err(ContextError::BadValue { .. })
            ),
            "{name}={raw}"
        );
    }
    let err = policy.parse_context("chanel", "x").unwrap_err();
    assert!(
        matches!(&err, ContextError::Undeclared { suggestion: Some(s), .. } if s == "channel"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("declared: channel, limit"),
        "{err}"
    );
    // A JSON request's context: undeclared names are refused.
    assert!(policy
        .check_context(&attrs(&[("ticket", text("x"))]))
        .is_ok());
    assert!(policy
        .check_context(&attrs(&[("tickt", text("x"))]))
        .is_err());
}

#[test]
fn a_policy_without_declarations_ignores_attributes() {
    // The default policy reads no attribute: whatever is stored, or given
    // as context, the decision is the same.
    let set = crate::support::default_rules();
    let policy = crate::support::default_policy(&set);
    let plain = policy
        .evaluate(&facts(), &Request::default(), at())
        .unwrap();
    let mut facts = facts();
    facts.member.attributes = attrs(&[("legal_hold", text("garbage"))]);
    let with = policy
        .evaluate(&facts, &request(&[("x", AttrValue::Int(1))]), at())
        .unwrap();
    assert_eq!(plain, with);
}

#[test]
fn a_v2_policy_declares_and_reads_attributes_and_context() {
    let text = r#"format: restore-rules/v2
policy: v2attrs
version: "1"
effective_from: 2020-01-01T00:00:00Z
tiers:
  pro: {}
settings:
  restore_window: { type: duration, default: 30d }
attributes:
  member:
    hold_until: { type: timestamp, default: "2000-01-01T00:00:00Z" }
    grace: { type: duration, default: unlimited }
context:
  ticket: { type: string, required: true }
blockers:
  - id: held
    source: "https://example.test/holds"
    when: { fact: member.attributes.hold_until, gt: { fact: evaluation.at } }
    message: "held until {member.attributes.hold_until} ({request.context.ticket})"
    remedy: "wait"
  - id: graceless
    source: G1
    when: { fact: member.attributes.grace, lt: { fact: member.deleted_for } }
    message: "m"
    remedy: "r"
resources:
  - { resource: member_account, source: F14, outcome: restored }
"#;
    let set = policy_from(text);
    let policy = &set.policies()[0];
    let mut facts = facts();
    facts.tenant.plan = "pro".into();
    facts.member.attributes = attrs(&[("hold_until", text_value("2099-01-01T00:00:00Z"))]);
    let decision = policy.evaluate(&facts, &ticket(), at()).unwrap();
    assert!(decision.blocked_by("held"), "{decision:?}");
    assert!(!decision.blocked_by("graceless"), "unlimited grace");
    assert_eq!(
        decision.blockers[0].message,
        "held until 2099-01-01T00:00:00Z (T-1)"
    );
    // `unlimited` is a stored duration too.
    facts.member.attributes = attrs(&[("grace", text_value("unlimited"))]);
    assert!(policy.evaluate(&facts, &ticket(), at()).unwrap().allowed);
    facts.member.attributes = attrs(&[("grace", text_value("1h"))]);
    assert!(policy
        .evaluate(&facts, &ticket(), at())
        .unwrap()
        .blocked_by("graceless"));
    assert!(matches!(
        policy.evaluate(&facts, &Request::default(), at()),
        Err(EvaluationError::MissingValue { .. })
    ));
    assert_eq!(
        policy.parse_context("ticket", "x").unwrap().1,
        text_value("x")
    );
}

fn text_value(s: &str) -> AttrValue {
    text(s)
}

#[test]
fn warnings_read_attributes_and_context_too() {
    let text = r#"format: restore-rules/v2
policy: v2warn
version: "1"
effective_from: 2020-01-01T00:00:00Z
tiers:
  pro: {}
attributes:
  member:
    suspended: { type: bool, default: false }
context:
  channel: { type: string, one_of: [console, open_api], default: console }
blockers: []
warnings:
  - id: comes_back_suspended
    source: G6
    when:
      all:
        - { fact: member.attributes.suspended, is: true }
        - { fact: request.context.channel, is: console }
    message: "`{member.id}` comes back suspended (via {request.context.channel})"
resources:
  - { resource: member_account, source: F14, outcome: restored }
"#;
    let set = policy_from(text);
    let policy = &set.policies()[0];
    let mut facts = facts();
    facts.tenant.plan = "pro".into();
    let quiet = policy.evaluate(&facts, &Request::default(), at()).unwrap();
    assert!(quiet.warnings.is_empty(), "{quiet:?}");
    facts.member.attributes = attrs(&[("suspended", AttrValue::Bool(true))]);
    let warned = policy.evaluate(&facts, &Request::default(), at()).unwrap();
    assert!(warned.allowed);
    assert_eq!(warned.warnings.len(), 1, "{warned:?}");
    assert_eq!(
        warned.warnings[0].message,
        "`m` comes back suspended (via console)"
    );
    let explanation = policy.explain(&facts, &Request::default(), at()).unwrap();
    let mut out = String::new();
    explanation.warnings[0].condition.write_text(0, &mut out);
    assert!(
        out.contains("request.context.channel = console (absent: default) is console"),
        "{out}"
    );
    // Not over the open API.
    let api = request(&[("channel", text_value("open_api"))]);
    assert!(policy
        .evaluate(&facts, &api, at())
        .unwrap()
        .warnings
        .is_empty());
}
