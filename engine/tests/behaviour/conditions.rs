//! Every operator and combinator of the rule language, evaluated: each
//! condition is the `when` of a one-blocker policy, checked on facts built
//! in code, on both sides of its boundary. Settings are folded into
//! constants at compile time, so comparisons with settings exercise the
//! folding as well.

use crate::support::{at, plain_facts, policy_from, ts};
use restore_engine::facts::{DeletionState, Facts};
use restore_engine::Request;

/// A policy whose only blocker `probe` fires when `when` holds.
fn probe_policy(when: &str) -> String {
    format!(
        r#"format: restore-rules/v1
policy: probe
version: "1"
effective_from: 2020-01-01T00:00:00Z
settings:
  restore_window: 30d
  deletion_max_duration: 48h
  restore_roles: [primary_admin, owner]
  block_without_seat: true
  batch_restore: false
tiers:
  starter: {{ restore_roles: [owner] }}
blockers:
  - id: probe
    fact: F1
    when: {when}
    message: "m"
    remedy: "r"
resources: []
"#
    )
}

fn holds_with(when: &str, facts: &Facts, request: &Request) -> bool {
    let set = policy_from(&probe_policy(when));
    let policy = set.select(None, None, at()).unwrap();
    let d = policy.evaluate(facts, request, at()).unwrap();
    assert_eq!(d.allowed, !d.blocked_by("probe"));
    d.blocked_by("probe")
}

fn holds(when: &str, facts: &Facts) -> bool {
    holds_with(when, facts, &Request::default())
}

/// Asserts `when` holds on `yes` and not on `no`.
fn splits(when: &str, yes: &Facts, no: &Facts) {
    assert!(holds(when, yes), "`{when}` must hold on {yes:#?}");
    assert!(!holds(when, no), "`{when}` must not hold on {no:#?}");
}

fn with(edit: impl FnOnce(&mut Facts)) -> Facts {
    let mut f = plain_facts();
    edit(&mut f);
    f
}

#[test]
fn is_and_is_not_on_every_type() {
    let f = plain_facts();
    let other = with(|f| f.member.id = "n".into());
    splits("{ fact: member.id, is: m }", &f, &other);
    splits("{ fact: member.id, is_not: n }", &f, &other);
    // Enums, booleans, integers, timestamps, durations, lists.
    let progress = with(|f| f.member.deletion = DeletionState::InProgress);
    splits("{ fact: member.deletion, is: completed }", &f, &progress);
    splits(
        "{ fact: member.deletion, is_not: in_progress }",
        &f,
        &progress,
    );
    let removed = with(|f| f.member.removed_from_list = true);
    splits(
        "{ fact: member.removed_from_list, is: false }",
        &f,
        &removed,
    );
    splits(
        "{ fact: member.removed_from_list, is_not: true }",
        &f,
        &removed,
    );
    let six = with(|f| f.tenant.seats_used = 6);
    splits("{ fact: tenant.seats.used, is: 5 }", &f, &six);
    splits("{ fact: tenant.seats.used, is_not: 6 }", &f, &six);
    let later = with(|f| f.member.deleted_at = ts("2026-11-23T10:00:01Z"));
    splits(
        "{ fact: member.deleted_at, is: 2026-11-23T10:00:00Z }",
        &f,
        &later,
    );
    splits(
        "{ fact: member.deleted_at, is: 2026-11-23T18:00:00+08:00 }",
        &f,
        &later,
    );
    splits("{ fact: member.deleted_for, is: 1d }", &f, &later);
    splits("{ fact: member.deleted_for, is_not: 86399s }", &f, &later);
    let two_roles = with(|f| f.actor.as_mut().unwrap().roles.push("x".into()));
    splits("{ fact: actor.roles, is: [primary_admin] }", &f, &two_roles);
    splits(
        "{ fact: actor.roles, is_not: [primary_admin, x] }",
        &f,
        &two_roles,
    );
    // Lists compare in order.
    let reversed = with(|f| {
        f.actor.as_mut().unwrap().roles = vec!["x".into(), "primary_admin".into()];
    });
    assert!(!holds(
        "{ fact: actor.roles, is: [primary_admin, x] }",
        &reversed
    ));
    // A fact against another fact.
    let same = with(|f| f.actor.as_mut().unwrap().id = "m".into());
    splits("{ fact: actor.id, is: { fact: member.id } }", &same, &f);
}

#[test]
fn ordering_operators_at_their_boundaries() {
    let five = plain_facts(); // seats used 5
    let four = with(|f| f.tenant.seats_used = 4);
    let six = with(|f| f.tenant.seats_used = 6);
    for (op, on4, on5, on6) in [
        ("lt", true, false, false),
        ("lte", true, true, false),
        ("gt", false, false, true),
        ("gte", false, true, true),
    ] {
        let when = format!("{{ fact: tenant.seats.used, {op}: 5 }}");
        assert_eq!(holds(&when, &four), on4, "4 {op} 5");
        assert_eq!(holds(&when, &five), on5, "5 {op} 5");
        assert_eq!(holds(&when, &six), on6, "6 {op} 5");
    }
    // Durations: deleted exactly one day ago.
    let day = plain_facts();
    for (op, want) in [("lt", false), ("lte", true), ("gt", false), ("gte", true)] {
        let when = format!("{{ fact: member.deleted_for, {op}: 24h }}");
        assert_eq!(holds(&when, &day), want, "1d {op} 24h");
        let when = format!("{{ fact: member.deleted_for, {op}: 86401s }}");
        assert_eq!(holds(&when, &day), op.starts_with('l'), "1d {op} 86401s");
    }
    // Timestamps, with a zone offset on the literal.
    for (op, want) in [("lt", false), ("lte", true), ("gt", false), ("gte", true)] {
        let when = format!("{{ fact: member.deleted_at, {op}: 2026-11-23T11:00:00+01:00 }}");
        assert_eq!(holds(&when, &day), want, "deleted_at {op} the same instant");
    }
    // Negative integers (available seats may be below zero).
    let over = with(|f| f.tenant.seats_used = 12);
    splits("{ fact: tenant.seats.available, lt: 0 }", &over, &five);
    splits(
        "{ fact: tenant.seats.available, gte: -2 }",
        &over,
        &with(|f| f.tenant.seats_used = 13),
    );
    // Fact against fact: deleted before the evaluation time.
    splits(
        "{ fact: member.deleted_at, lt: { fact: evaluation.at } }",
        &day,
        &with(|f| f.member.deleted_at = at()),
    );
}

#[test]
fn in_matches_a_text_or_enum_against_a_list() {
    let f = plain_facts(); // plan pro, member m
    let basic = with(|f| f.tenant.plan = "basic".into());
    splits("{ fact: tenant.plan, in: [pro, enterprise] }", &f, &basic);
    splits(
        "{ fact: member.id, in: [a, m, z] }",
        &f,
        &with(|f| f.member.id = "mm".into()),
    );
    // An empty list holds nothing.
    assert!(!holds("{ fact: member.id, in: [] }", &f));
    // Against a setting's list.
    let owner = with(|f| f.actor.as_mut().unwrap().id = "owner".into());
    splits(
        "{ fact: actor.id, in: { setting: restore_roles } }",
        &owner,
        &f,
    );
}

#[test]
fn contains_looks_for_a_text_in_a_list() {
    let f = plain_facts(); // actor roles [primary_admin]
    let admin = with(|f| f.actor.as_mut().unwrap().roles = vec!["admin".into()]);
    splits("{ fact: actor.roles, contains: primary_admin }", &f, &admin);
    // Whole entries only, case-sensitive.
    assert!(!holds("{ fact: actor.roles, contains: primary }", &f));
    assert!(!holds("{ fact: actor.roles, contains: Primary_Admin }", &f));
    // A text fact as the value.
    let named = with(|f| {
        f.actor.as_mut().unwrap().roles = vec!["a".into(), "m".into()];
    });
    splits(
        "{ fact: actor.roles, contains: { fact: member.id } }",
        &named,
        &f,
    );
}

#[test]
fn intersects_needs_one_shared_entry() {
    let f = plain_facts();
    let none = with(|f| f.actor.as_mut().unwrap().roles = vec!["a".into(), "b".into()]);
    splits(
        "{ fact: actor.roles, intersects: [x, primary_admin] }",
        &f,
        &none,
    );
    splits(
        "{ fact: actor.roles, intersects: { setting: restore_roles } }",
        &f,
        &none,
    );
    let last = with(|f| f.actor.as_mut().unwrap().roles = vec!["a".into(), "owner".into()]);
    assert!(holds(
        "{ fact: actor.roles, intersects: { setting: restore_roles } }",
        &last
    ));
    assert!(!holds("{ fact: actor.roles, intersects: [] }", &f));
    // Tier override of the list: on Starter only `owner` may.
    let starter = with(|f| f.tenant.plan = "starter".into());
    assert!(!holds(
        "{ fact: actor.roles, intersects: { setting: restore_roles } }",
        &starter
    ));
}

#[test]
fn empty_true_and_false() {
    let none = plain_facts();
    let one = with(|f| f.conflicts.email = vec!["x".into()]);
    splits("{ fact: conflicts.email, empty: true }", &none, &one);
    splits("{ fact: conflicts.email, empty: false }", &one, &none);
    // No actor: its roles are an empty list.
    let no_actor = with(|f| f.actor = None);
    splits("{ fact: actor.roles, empty: true }", &no_actor, &none);
    splits("{ fact: actor.present, is: false }", &no_actor, &none);
}

#[test]
fn all_any_not_combine() {
    let f = plain_facts();
    let yes = "{ fact: member.id, is: m }";
    let no = "{ fact: member.id, is: n }";
    let case = |when: String, want: bool| assert_eq!(holds(&when, &f), want, "{when}");
    case(format!("{{ all: [{yes}, {yes}] }}"), true);
    case(format!("{{ all: [{yes}, {no}] }}"), false);
    case(format!("{{ all: [{no}, {yes}] }}"), false);
    case("{ all: [] }".into(), true);
    case(format!("{{ any: [{no}, {yes}] }}"), true);
    case(format!("{{ any: [{yes}, {no}] }}"), true);
    case(format!("{{ any: [{no}, {no}] }}"), false);
    case("{ any: [] }".into(), false);
    case(format!("{{ not: {yes} }}"), false);
    case(format!("{{ not: {no} }}"), true);
    case(format!("{{ not: {{ not: {yes} }} }}"), true);
    case(
        format!("{{ any: [{{ all: [{yes}, {no}] }}, {{ not: {no} }}] }}"),
        true,
    );
    case(
        format!("{{ all: [{{ any: [{no}, {yes}] }}, {{ not: {yes} }}] }}"),
        false,
    );
    // Settings fold to constants on each tier; a fact keeps the rest live.
    let seats = "{ setting: block_without_seat, is: true }";
    let full = with(|f| f.tenant.seats_used = 10);
    let when = format!("{{ all: [{seats}, {{ fact: tenant.seats.available, lte: 0 }}] }}");
    splits(&when, &full, &f);
    let when =
        format!("{{ any: [{{ not: {seats} }}, {{ fact: tenant.seats.available, lte: 0 }}] }}");
    splits(&when, &full, &f);
    let when = format!("{{ any: [{seats}, {no}] }}");
    assert!(holds(&when, &f));
    let when = "{ setting: batch_restore, is: true }";
    assert!(!holds(when, &f));
    let when = "{ not: { setting: batch_restore, is: true } }";
    assert!(holds(when, &f));
}

#[test]
fn request_and_evaluation_facts() {
    let f = plain_facts();
    assert!(holds_with(
        "{ fact: request.batch_size, gt: 1 }",
        &f,
        &Request::batch(2)
    ));
    assert!(!holds_with(
        "{ fact: request.batch_size, gt: 1 }",
        &f,
        &Request::batch(1)
    ));
    let set = policy_from(&probe_policy(
        "{ fact: evaluation.at, gte: 2026-11-24T10:00:00Z }",
    ));
    let policy = set.select(None, None, at()).unwrap();
    let one_second = chrono::TimeDelta::seconds(1);
    assert!(policy
        .evaluate(&f, &Request::default(), at())
        .unwrap()
        .blocked_by("probe"));
    assert!(!policy
        .evaluate(&f, &Request::default(), at() - one_second)
        .unwrap()
        .blocked_by("probe"));
}
