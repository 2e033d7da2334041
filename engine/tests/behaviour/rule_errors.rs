//! Rule-file validation: every error is reported, each with file, line,
//! column and YAML path; nothing loads when anything is wrong. (`check`
//! through the binary: tests/rule_errors.rs at the root.)

use crate::support::{fixture, snapshot_settings};
use restore_engine::{PolicySet, RuleErrorKind};

#[test]
fn all_errors_are_reported_with_their_place() {
    let err = PolicySet::load_dir(&fixture("bad-rules")).unwrap_err();
    let lines: Vec<String> = err
        .diagnostics
        .iter()
        .map(|d| {
            // File names differ between machines; keep the name only.
            d.to_string()
                .replace(&fixture("bad-rules").display().to_string(), "bad-rules")
        })
        .collect();
    let has = |pred: &dyn Fn(&RuleErrorKind) -> bool, path: &str, line: usize| {
        assert!(
            err.diagnostics
                .iter()
                .any(|d| pred(&d.kind) && d.path == path && d.span.line == line),
            "no such diagnostic at `{path}` line {line} in:\n{}",
            lines.join("\n")
        );
    };
    has(
        &|k| matches!(k, RuleErrorKind::TimestampWithoutZone { .. }),
        "effective_from",
        4,
    );
    has(
        &|k| matches!(k, RuleErrorKind::DurationWithoutUnit { .. }),
        "settings.restore_window",
        6,
    );
    has(
        &|k| matches!(k, RuleErrorKind::WrongShape { .. }),
        "settings.restore_roles",
        8,
    );
    has(
        &|k| matches!(k, RuleErrorKind::TypeMismatch { .. }),
        "settings.block_without_seat",
        9,
    );
    has(
        &|k| matches!(k, RuleErrorKind::UnknownKey { .. }),
        "settings.colour",
        11,
    );
    has(
        &|k| matches!(k, RuleErrorKind::UnknownTier { .. }),
        "tiers.gold",
        13,
    );
    has(
        &|k| {
            matches!(
                k,
                RuleErrorKind::UnknownKey {
                    suggestion: Some("restore_window"),
                    ..
                }
            )
        },
        "tiers.pro.restore_windw",
        15,
    );
    has(
        &|k| {
            matches!(
                k,
                RuleErrorKind::UnknownFact {
                    suggestion: Some("member.deleted_for"),
                    ..
                }
            )
        },
        "blockers[0].when.fact",
        19,
    );
    has(
        &|k| matches!(k, RuleErrorKind::DuplicateId { first_line: 17, .. }),
        "blockers[1].id",
        22,
    );
    has(
        &|k| matches!(k, RuleErrorKind::TypeMismatch { .. }),
        "blockers[1].when.lte",
        24,
    );
    has(
        &|k| matches!(k, RuleErrorKind::UnknownPlaceholder { .. }),
        "blockers[1].message",
        25,
    );
    has(
        &|k| matches!(k, RuleErrorKind::BadFactRef { .. }),
        "blockers[2].fact",
        28,
    );
    has(
        &|k| matches!(k, RuleErrorKind::TypeMismatch { .. }),
        "blockers[2].when.is",
        29,
    );
    has(
        &|k| matches!(k, RuleErrorKind::OperatorCount { found: 2 }),
        "blockers[3].when",
        34,
    );
    has(
        &|k| matches!(k, RuleErrorKind::OperatorType { .. }),
        "blockers[4].when.gt",
        39,
    );
    has(
        &|k| matches!(k, RuleErrorKind::UnknownOutcome { .. }),
        "resources[0].outcome",
        43,
    );
    has(
        &|k| matches!(k, RuleErrorKind::DuplicateId { .. }),
        "resources[1].resource",
        44,
    );
    has(
        &|k| matches!(k, RuleErrorKind::UnknownKey { .. }),
        "resources[1].extra",
        44,
    );
    // Columns point at the offending value, 1-based.
    let window = err
        .diagnostics
        .iter()
        .find(|d| d.path == "settings.restore_window")
        .unwrap();
    assert_eq!(window.span.column, 19);
    snapshot_settings()
        .bind(|| insta::assert_snapshot!("rule_errors__many_errors", lines.join("\n")));
}

#[test]
fn syntax_errors_have_a_position() {
    let err =
        PolicySet::from_sources([("broken.yaml", "format: [unclosed\npolicy: x\n")]).unwrap_err();
    assert_eq!(err.diagnostics.len(), 1);
    let d = &err.diagnostics[0];
    assert!(matches!(d.kind, RuleErrorKind::Syntax(_)));
    assert!(d.span.line >= 1);
    assert!(d.to_string().starts_with("broken.yaml:"), "{d}");
}

#[test]
fn unknown_format_and_missing_keys_are_errors() {
    let err =
        PolicySet::from_sources([("a.yaml", "format: restore-rules/v9\npolicy: x\n")]).unwrap_err();
    assert!(matches!(
        err.diagnostics[0].kind,
        RuleErrorKind::UnknownFormat { .. }
    ));
    let err =
        PolicySet::from_sources([("b.yaml", "format: restore-rules/v1\npolicy: x\n")]).unwrap_err();
    let missing: Vec<&str> = err
        .diagnostics
        .iter()
        .filter_map(|d| match &d.kind {
            RuleErrorKind::MissingKey { key } => Some(*key),
            _ => None,
        })
        .collect();
    assert_eq!(
        missing,
        [
            "version",
            "effective_from",
            "settings",
            "blockers",
            "resources"
        ]
    );
    let err = PolicySet::from_sources([("c.yaml", "")]).unwrap_err();
    assert!(matches!(err.diagnostics[0].kind, RuleErrorKind::Empty));
}

#[test]
fn durations_are_bounded_so_evaluation_cannot_overflow() {
    let default = crate::support::v1_rules_text();
    let huge = default.replace("restore_window: 30d ", "restore_window: 100000000d ");
    assert_ne!(huge, default);
    let err = PolicySet::from_sources([("huge.yaml", huge.as_str())]).unwrap_err();
    assert!(
        matches!(&err.diagnostics[0].kind, RuleErrorKind::DurationTooLarge { text } if text == "100000000d"),
        "{err}"
    );
    assert_eq!(err.diagnostics[0].path, "settings.restore_window");
}
