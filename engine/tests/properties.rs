//! Property tests of the rule loader (issue 13): on any input, arbitrary or
//! a mutation of the default rules, loading never panics, and every error
//! names its file and a place in it; its rendered report stays short.

// Test code: asserts by panicking (unwrap, expect, indexing).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use restore_engine::{EvaluationError, Facts, PolicySet, Request, RuleErrorKind, SourceDiagnostic};

const FILE: &str = "rules/p.yaml";

fn default_rules() -> &'static str {
    include_str!("../../rules/default-restore.v1.yaml")
}

/// One edit of a text; positions are taken modulo its length.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
}

/// Fragments that YAML parsers and rule decoders find interesting.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}",
        "\\PC{0,6}",
        prop::sample::select(vec![
            "\u{0}",
            "\u{feff}",
            "\u{1b}[2J",
            "\r\n",
            "\t",
            ": ",
            "\n  - ",
            "\n- ",
            "{",
            "}",
            "[",
            "]",
            "*a",
            "&a ",
            "!!binary ",
            "? ",
            "---\n",
            "...\n",
            "'",
            "\"",
            "#",
            "~",
            "null",
            "é",
            "𝄞",
            "+10000-01-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59-05:00",
            "2026-11-24T10:00:00",
            "9223372036854775807",
            "-9223372036854775808",
            "99999999999999999999d",
            "1e400",
            "-1",
            "0d",
            "30",
            "{member.deleted_at}",
            "{setting.nope}",
            "{",
            "F",
            "F99999999999999999999",
            "all: []",
            "any: [{}]",
            "not: {not: {not: {}}}",
            "fact: member.id",
            "setting: restore_window",
            "is: ",
            "in: [a, b]",
            "empty: true",
        ])
        .prop_map(str::to_owned),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..80usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), fragment()).prop_map(|(at, s)| Mutation::Insert(at, s)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn boundary(text: &str, at: usize) -> usize {
    let mut at = if text.is_empty() {
        0
    } else {
        at % (text.len() + 1)
    };
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut text = text.to_owned();
    for m in mutations {
        match m {
            Mutation::Delete(at, n) => {
                let start = boundary(&text, *at);
                let end = boundary(&text, (start + n).min(text.len()));
                if end > start {
                    text.replace_range(start..end, "");
                }
            }
            Mutation::Insert(at, s) => {
                let at = boundary(&text, *at);
                text.insert_str(at, s);
            }
            Mutation::DuplicateLine(i) => {
                let mut lines: Vec<&str> = text.split('\n').collect();
                let i = i % lines.len();
                lines.insert(i, lines[i]);
                text = lines.join("\n");
            }
            Mutation::SwapLines(a, b) => {
                let mut lines: Vec<&str> = text.split('\n').collect();
                let n = lines.len();
                lines.swap(a % n, b % n);
                text = lines.join("\n");
            }
            Mutation::Truncate(at) => {
                let at = boundary(&text, *at);
                text.truncate(at);
            }
        }
    }
    text
}

/// Loads `text`; on error, checks that each diagnostic says where and that
/// its report is short and inert.
fn check_load(text: &str) -> Result<(), TestCaseError> {
    let Err(err) = PolicySet::from_sources([(FILE, text)]) else {
        return Ok(());
    };
    prop_assert!(!err.diagnostics.is_empty(), "an error without diagnostics");
    let summary = err.to_string();
    prop_assert!(
        summary.len() < 10 * 1024,
        "summary is {} bytes",
        summary.len()
    );
    for d in err.diagnostics.iter().take(20) {
        prop_assert_eq!(&d.file, &Arc::<str>::from(FILE));
        let without_place = matches!(d.kind, RuleErrorKind::Empty);
        prop_assert!(without_place || d.span.line > 0, "no line for {:?}", d);
        prop_assert!(d.span.offset <= text.len(), "offset past the end: {:?}", d);
        let shown = d.to_string();
        prop_assert!(shown.starts_with(FILE), "{}", shown);
        prop_assert!(shown.len() < 1_000, "diagnostic is {} bytes", shown.len());
        prop_assert!(
            !shown.contains('\u{1b}') && !shown.contains('\0'),
            "{:?}",
            shown
        );
        let report = SourceDiagnostic::new(d.clone(), text).render();
        prop_assert!(report.len() < 4 * 1024, "report is {} bytes", report.len());
        prop_assert!(!report.contains('\u{1b}'), "{:?}", report);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check_load(&text)?;
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check_load(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn mutated_default_rules_never_panic(mutations in prop::collection::vec(mutation(), 1..6)) {
        check_load(&apply(default_rules(), &mutations))?;
    }
}

fn facts(deleted_at: DateTime<Utc>, seats_total: i64, seats_used: i64, plan: &str) -> Facts {
    serde_json::from_value(serde_json::json!({
        "tenant": { "id": "t", "plan": plan, "seats_total": seats_total, "seats_used": seats_used },
        "member": {
            "id": "m", "deleted_at": deleted_at,
            "reason": "removed_by_admin", "deletion": "completed"
        },
        "actor": { "id": "a", "roles": ["primary_admin"] }
    }))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A deletion after the evaluation time is refused, and only that; any
    /// seat counts (a row written by another tool) evaluate without panic.
    #[test]
    fn try_evaluate_refuses_exactly_deletions_after_the_evaluation_time(
        offset in prop_oneof![-100_000_000i64..100_000_000, -2i64..=2],
        seats_total in any::<i64>(),
        seats_used in any::<i64>(),
        plan in prop::sample::select(vec!["starter", "basic", "pro", "enterprise"]),
    ) {
        let set = PolicySet::from_sources([(FILE, default_rules())]).unwrap();
        let at: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
        let policy = set.select(None, None, at).unwrap();
        let deleted_at = at + TimeDelta::seconds(offset);
        let facts = facts(deleted_at, seats_total, seats_used, plan);
        match policy.try_evaluate(&facts, &Request::default(), at) {
            Ok(decision) => {
                prop_assert!(offset <= 0, "decided on a deletion {offset}s after `at`");
                prop_assert_eq!(decision.evaluated_at, at);
            }
            Err(EvaluationError::DeletedAfterEvaluation { member, deleted_at: d, at: a }) => {
                prop_assert!(offset > 0, "refused a deletion {offset}s before `at`");
                prop_assert_eq!(member, "m");
                prop_assert_eq!(d, deleted_at);
                prop_assert_eq!(a, at);
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}

#[test]
fn the_deleted_after_evaluation_error_names_member_and_times() {
    let set = PolicySet::from_sources([(FILE, default_rules())]).unwrap();
    let at: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let deleted_at: DateTime<Utc> = "2026-10-25T09:59:59Z".parse().unwrap();
    let err = set
        .select(None, None, at)
        .unwrap()
        .try_evaluate(&facts(deleted_at, 10, 1, "pro"), &Request::default(), at)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "member `m` was deleted at 2026-10-25T09:59:59Z, after the evaluation time \
         2026-01-01T00:00:00Z; decide at or after the deletion"
    );
}

#[test]
fn the_unmutated_default_rules_load() {
    // The base of the mutations is itself valid (else they test nothing).
    assert!(PolicySet::from_sources([(FILE, default_rules())]).is_ok());
}
