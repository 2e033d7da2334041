//! The loader's checks one by one, on the smallest file that shows each:
//! what loads, what is refused, and with which error at which path. (The
//! many-errors fixture, all at once: rule_errors.rs.)

use restore_engine::load::{digest, load_policy_file};
use restore_engine::{PolicySet, RuleErrorKind};

use crate::support::{at, plain_facts, ts};

/// A valid policy; `when` is the only blocker's condition, `extra` is added
/// at the top level, `fact` is the blocker's source fact.
fn file(when: &str, fact: &str, extra: &str) -> String {
    format!(
        r#"format: restore-rules/v1
policy: small
version: "1"
effective_from: 2020-01-01T00:00:00Z
settings:
  restore_window: 30d
  deletion_max_duration: 48h
  restore_roles: [primary_admin]
  block_without_seat: false
  batch_restore: false
blockers:
  - id: probe
    fact: {fact}
    when: {when}
    message: "m"
    remedy: "r"
resources: []
{extra}"#
    )
}

const OK_WHEN: &str = "{ fact: member.id, is: m }";

/// The errors of loading `text`, as (kind, path).
fn errors(text: &str) -> Vec<(RuleErrorKind, String)> {
    match load_policy_file("t.yaml", text) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .diagnostics
            .into_iter()
            .map(|d| (d.kind, d.path))
            .collect(),
    }
}

/// Exactly one error, at `path`, of the kind `matches` accepts.
fn refused(text: &str, path: &str, matches: impl Fn(&RuleErrorKind) -> bool) {
    let got = errors(text);
    assert!(
        got.len() == 1 && got[0].1 == path && matches(&got[0].0),
        "expected one error at `{path}`, got {got:?}\n{text}"
    );
}

fn loads(text: &str) {
    let got = errors(text);
    assert!(got.is_empty(), "{got:?}\n{text}");
}

#[test]
fn the_probe_file_loads() {
    loads(&file(OK_WHEN, "F1", ""));
    loads(&file(OK_WHEN, "F10", "description: a small policy\n"));
}

#[test]
fn an_error_anywhere_refuses_the_whole_file() {
    // The rest of the file is fine: the unknown key alone refuses it.
    refused(
        &file(OK_WHEN, "F1", "colour: red\n"),
        "colour",
        |k| matches!(k, RuleErrorKind::UnknownKey { key, .. } if key == "colour"),
    );
    refused(
        &file(OK_WHEN, "F1", "policy: again\n"),
        "policy",
        |k| matches!(k, RuleErrorKind::DuplicateKey { key } if key == "policy"),
    );
}

#[test]
fn texts_are_neither_null_nor_blank() {
    let base = file(OK_WHEN, "F1", "");
    let null = base.replace("policy: small", "policy: ~");
    refused(&null, "policy", |k| {
        matches!(k, RuleErrorKind::WrongShape { .. })
    });
    let null = base.replace("policy: small", "policy: null");
    refused(&null, "policy", |k| {
        matches!(k, RuleErrorKind::WrongShape { .. })
    });
    // Quoted, `null` is a text like any other.
    loads(&base.replace("policy: small", "policy: \"null\""));
    let blank = base.replace("version: \"1\"", "version: \"  \"");
    refused(&blank, "version", |k| {
        matches!(k, RuleErrorKind::EmptyText { name: "version" })
    });
    let set = PolicySet::from_sources([("t.yaml", base.as_str())]).unwrap();
    let policy = &set.policies()[0];
    assert_eq!((policy.name(), policy.version()), ("small", "1"));
}

#[test]
fn timestamps_need_a_zone() {
    let base = file(OK_WHEN, "F1", "");
    for naive in [
        "2020-01-01T00:00:00",
        "2020-01-01 00:00:00",
        "2020-01-01T00:00:00.5",
    ] {
        let text = base.replace("2020-01-01T00:00:00Z", naive);
        refused(
            &text,
            "effective_from",
            |k| matches!(k, RuleErrorKind::TimestampWithoutZone { text } if text == naive),
        );
    }
    for bad in ["2020-13-01T00:00:00Z", "yesterday", "2020-01-01"] {
        let text = base.replace("2020-01-01T00:00:00Z", bad);
        refused(
            &text,
            "effective_from",
            |k| matches!(k, RuleErrorKind::BadTimestamp { text } if text == bad),
        );
    }
    let zoned = base.replace("2020-01-01T00:00:00Z", "2020-01-01T08:00:00+08:00");
    let policy = load_policy_file("t.yaml", &zoned).unwrap();
    assert_eq!(policy.effective_from, ts("2020-01-01T00:00:00Z"));
}

#[test]
fn fact_references_are_f_and_a_number() {
    for good in ["F1", "F25", "F100"] {
        loads(&file(OK_WHEN, good, ""));
    }
    for bad in ["F", "f1", "X1", "F1a", "1", "FF1", "\"\""] {
        refused(&file(OK_WHEN, bad, ""), "blockers[0].fact", |k| {
            matches!(k, RuleErrorKind::BadFactRef { .. })
        });
    }
}

#[test]
fn literals_have_their_subject_type() {
    let when = |w: &str| file(w, "F1", "");
    let path = |op: &str| format!("blockers[0].when.{op}");
    // A quoted number is text, a quoted boolean too.
    refused(
        &when("{ fact: tenant.seats.used, gt: \"5\" }"),
        &path("gt"),
        |k| matches!(k, RuleErrorKind::TypeMismatch { found, .. } if found == "5"),
    );
    refused(
        &when("{ fact: actor.present, is: \"true\" }"),
        &path("is"),
        |k| matches!(k, RuleErrorKind::TypeMismatch { .. }),
    );
    refused(
        &when("{ fact: actor.present, is: yes }"),
        &path("is"),
        |k| matches!(k, RuleErrorKind::TypeMismatch { .. }),
    );
    loads(&when("{ fact: actor.present, is: false }"));
    loads(&when("{ fact: tenant.seats.used, gt: -5 }"));
    // Enums: only their names, also inside `in`.
    refused(
        &when("{ fact: tenant.plan, is: gold }"),
        &path("is"),
        |k| matches!(k, RuleErrorKind::TypeMismatch { found, .. } if found == "gold"),
    );
    refused(
        &when("{ fact: tenant.plan, in: [pro, gold] }"),
        &path("in"),
        |k| matches!(k, RuleErrorKind::TypeMismatch { found, .. } if found == "gold"),
    );
    loads(&when("{ fact: tenant.plan, in: [pro, enterprise] }"));
    // Any text is fine in `in` on a plain string fact.
    loads(&when("{ fact: member.id, in: [gold, \"\"] }"));
}

#[test]
fn operators_fit_their_subject() {
    let when = |w: &str| file(w, "F1", "");
    loads(&when("{ fact: actor.roles, contains: admin }"));
    loads(&when("{ fact: actor.roles, intersects: [a] }"));
    loads(&when("{ fact: actor.roles, empty: true }"));
    loads(&when("{ fact: member.reason, in: [self_deactivated] }"));
    for (w, op) in [
        ("{ fact: member.id, contains: a }", "contains"),
        ("{ fact: member.id, intersects: [a] }", "intersects"),
        ("{ fact: member.id, empty: true }", "empty"),
        ("{ fact: actor.roles, in: [a] }", "in"),
        ("{ fact: actor.present, lt: true }", "lt"),
        ("{ fact: member.id, gte: a }", "gte"),
    ] {
        refused(&when(w), &format!("blockers[0].when.{op}"), |k| {
            matches!(k, RuleErrorKind::OperatorType { .. })
        });
    }
}

#[test]
fn operands_that_are_facts_or_settings_have_compatible_types() {
    let when = |w: &str| file(w, "F1", "");
    // Text and enums compare with each other.
    loads(&when("{ fact: tenant.plan, is: { fact: actor.id } }"));
    loads(&when("{ fact: actor.id, is: { fact: tenant.plan } }"));
    loads(&when("{ fact: actor.id, in: { setting: restore_roles } }"));
    loads(&when(
        "{ fact: actor.roles, contains: { fact: member.reason } }",
    ));
    loads(&when(
        "{ fact: member.deleted_for, lte: { setting: restore_window } }",
    ));
    for (w, op) in [
        ("{ fact: member.id, is: { fact: tenant.seats.used } }", "is"),
        ("{ fact: tenant.seats.used, is: { fact: member.id } }", "is"),
        (
            "{ fact: actor.roles, intersects: { fact: tenant.plan } }",
            "intersects",
        ),
        (
            "{ fact: actor.roles, contains: { setting: restore_roles } }",
            "contains",
        ),
        (
            "{ fact: member.deleted_for, gt: { fact: member.deleted_at } }",
            "gt",
        ),
    ] {
        refused(&when(w), &format!("blockers[0].when.{op}"), |k| {
            matches!(k, RuleErrorKind::OperandTypes { .. })
        });
    }
    refused(
        &when("{ fact: member.id, is: { fact: actor.id, setting: restore_roles } }"),
        "blockers[0].when.is",
        |k| matches!(k, RuleErrorKind::BadCondition),
    );
    refused(
        &when("{ fact: member.id, is: {} }"),
        "blockers[0].when.is",
        |k| matches!(k, RuleErrorKind::BadCondition),
    );
}

#[test]
fn a_condition_is_one_group_or_one_comparison() {
    let when = |w: &str| file(w, "F1", "");
    for bad in [
        "{}",
        "{ fact: member.id, setting: batch_restore, is: m }",
        "{ all: [], is: m }",
        "{ all: [], any: [] }",
        "{ not: { fact: member.id, is: m }, fact: member.id }",
        "{ any: [], setting: batch_restore }",
    ] {
        refused(&when(bad), "blockers[0].when", |k| {
            matches!(k, RuleErrorKind::BadCondition)
        });
    }
    refused(&when("{ fact: member.id }"), "blockers[0].when", |k| {
        matches!(k, RuleErrorKind::OperatorCount { found: 0 })
    });
    // Errors inside groups carry the path down to the item.
    refused(
        &when("{ all: [ { fact: member.id, is: m }, { not: { fact: nope, is: m } } ] }"),
        "blockers[0].when.all[1].not.fact",
        |k| matches!(k, RuleErrorKind::UnknownFact { .. }),
    );
    refused(
        &when("{ any: [ { fact: member.id, lt: m } ] }"),
        "blockers[0].when.any[0].lt",
        |k| matches!(k, RuleErrorKind::OperatorType { .. }),
    );
}

#[test]
fn templates_keep_text_around_placeholders() {
    let text = file(OK_WHEN, "F1", "").replace(
        "message: \"m\"",
        "message: \"{member.id}: deleted for {member.deleted_for} (window {setting.restore_window}), bye\"",
    );
    let set = PolicySet::from_sources([("t.yaml", text.as_str())]).unwrap();
    let d = set.policies()[0]
        .evaluate(&plain_facts(), &Default::default(), at())
        .unwrap();
    assert_eq!(d.blockers[0].message, "m: deleted for 1d (window 30d), bye");
    assert_eq!(d.blockers[0].remedy, "r");
    let braces = file(OK_WHEN, "F1", "").replace("message: \"m\"", "message: \"a {member.id\"");
    refused(&braces, "blockers[0].message", |k| {
        matches!(k, RuleErrorKind::UnclosedPlaceholder)
    });
    let unknown =
        file(OK_WHEN, "F1", "").replace("message: \"m\"", "message: \"{nope} {setting.nope}\"");
    let got = errors(&unknown);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(
        |(k, p)| matches!(k, RuleErrorKind::UnknownPlaceholder { .. })
            && p == "blockers[0].message"
    ));
}

/// The loaded model keeps a template as its pieces, with no empty text
/// between placeholders.
#[test]
fn templates_load_into_their_pieces() {
    use restore_engine::model::{Segment, Template};
    use restore_engine::vocabulary::{Fact, Setting};
    let text = file(OK_WHEN, "F1", "").replace(
        "message: \"m\"",
        "message: \"{member.id}{ actor.id } and {setting.restore_window}.\"",
    );
    let policy = load_policy_file("t.yaml", &text).unwrap();
    assert_eq!(
        policy.blockers[0].message,
        Template(vec![
            Segment::Fact(Fact::MemberId),
            Segment::Fact(Fact::ActorId),
            Segment::Text(" and ".into()),
            Segment::Setting(Setting::RestoreWindow.id()),
            Segment::Text(".".into()),
        ])
    );
    assert_eq!(
        policy.blockers[0].remedy,
        Template(vec![Segment::Text("r".into())])
    );
}

/// What a compiled policy tells about itself.
#[test]
fn a_compiled_policy_names_its_source() {
    let text = file(OK_WHEN, "F1", "");
    let set = PolicySet::from_sources([("dir/t.yaml", text.as_str())]).unwrap();
    let p = &set.policies()[0];
    assert_eq!(p.name(), "small");
    assert_eq!(p.version(), "1");
    assert_eq!(p.file(), "dir/t.yaml");
    assert_eq!(p.digest(), &*digest(text.as_bytes()));
    assert_eq!(p.effective_from(), ts("2020-01-01T00:00:00Z"));
    assert_eq!(p.source().blockers.len(), 1);
    assert_eq!(&*p.source().blockers[0].id, "probe");
    assert_eq!(p.source().span.line, 1);
}

/// More resource rules than the evaluator keeps on its stack: items of the
/// last rule are still counted.
#[test]
fn many_resource_rules() {
    let mut text = file(OK_WHEN, "F1", "").replace("resources: []\n", "resources:\n");
    for i in 0..40 {
        text.push_str(&format!(
            "  - {{ resource: r{i:02}, fact: F21, outcome: transfer_dependent }}\n"
        ));
    }
    let set = PolicySet::from_sources([("t.yaml", text.as_str())]).unwrap();
    let mut facts = plain_facts();
    for name in ["r00", "r39"] {
        facts.member.resources.insert(
            name.into(),
            vec![restore_engine::facts::ResourceItem {
                id: format!("{name}-1"),
                transferred_to: Some("x".into()),
            }],
        );
    }
    let d = set.policies()[0]
        .evaluate(&facts, &Default::default(), at())
        .unwrap();
    assert_eq!(d.resources.len(), 40);
    for r in d.resources.iter() {
        let listed = ["r00", "r39"].contains(&&*r.resource);
        assert_eq!(
            (r.restored, r.not_restored),
            (Some(0), Some(u32::from(listed))),
            "{}",
            r.resource
        );
    }
    assert_eq!(d.resource("r39").unwrap().not_restored_items, ["r39-1"]);
}
