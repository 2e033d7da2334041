//! Property tests of the snapshot loader and directory URLs (issue 13): on
//! any input, arbitrary or a mutation of a valid snapshot, parsing never
//! panics, and every error says where (a line and column, or a path into
//! the document) in a short message without raw control characters.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use proptest::prelude::*;
use restore_directory::snapshot::SnapshotSyntax;
use restore_directory::{DirectoryUrl, Snapshot, SnapshotError, UrlError};

const FILE: &str = "snapshots/s.yaml";

fn fixture() -> &'static str {
    include_str!("../../conformance/fixtures/directory.yaml")
}

fn fixture_json() -> String {
    let value: serde_json::Value = serde_yaml::from_str(fixture()).unwrap();
    serde_json::to_string_pretty(&value).unwrap()
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
    Truncate(usize),
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}",
        "\\PC{0,6}",
        prop::sample::select(vec![
            "\u{0}",
            "\\0",
            "\\e",
            "\u{feff}",
            "\u{1b}[2J",
            "\r\n",
            "\t",
            ": ",
            "\n  - ",
            "{",
            "}",
            "[",
            "]",
            ",",
            "*a",
            "&a ",
            "!!binary ",
            "---\n",
            "'",
            "\"",
            "#",
            "~",
            "null",
            "é",
            "+10000-01-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:00:00-05:00",
            "2026-11-24T10:00:00",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551616",
            "1e400",
            "-1",
            "documnets",
            "gadgets",
            "transferred_to: ",
            "resources: {}",
            "seats: {total: 1, used: 2}",
            "plan: Gold",
        ])
        .prop_map(str::to_owned),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..80usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), fragment()).prop_map(|(at, s)| Mutation::Insert(at, s)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
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
            Mutation::Truncate(at) => {
                let at = boundary(&text, *at);
                text.truncate(at);
            }
        }
    }
    text
}

/// Parses `text`; an error must say where, briefly and inertly.
fn check_parse(text: &str, syntax: SnapshotSyntax) -> Result<(), TestCaseError> {
    let Err(err) = Snapshot::parse(text, FILE, syntax) else {
        return Ok(());
    };
    match &err {
        SnapshotError::Parse { file, at, .. } => {
            prop_assert_eq!(file, FILE);
            prop_assert!(at.line.is_some(), "no line: {:?}", err);
        }
        SnapshotError::Invalid { file, path, .. } => {
            prop_assert_eq!(file, FILE);
            prop_assert!(!path.is_empty(), "no path: {:?}", err);
        }
        other => prop_assert!(false, "unexpected error {:?}", other),
    }
    let shown = err.to_string();
    prop_assert!(shown.starts_with(FILE), "{}", shown);
    // Characters, not bytes: an excerpt of 4-byte characters is still short.
    let length = shown.chars().count();
    prop_assert!(length < 500, "error is {} characters: {}", length, shown);
    prop_assert!(
        !shown.chars().any(|c| c.is_control()),
        "raw control character in {:?}",
        shown
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_yaml_never_panics(text in "\\PC{0,400}") {
        check_parse(&text, SnapshotSyntax::Yaml)?;
    }

    #[test]
    fn arbitrary_json_never_panics(text in "\\PC{0,400}") {
        check_parse(&text, SnapshotSyntax::Json)?;
    }

    #[test]
    fn mutated_yaml_snapshots_never_panic(mutations in prop::collection::vec(mutation(), 1..6)) {
        check_parse(&apply(fixture(), &mutations), SnapshotSyntax::Yaml)?;
    }

    #[test]
    fn mutated_json_snapshots_never_panic(mutations in prop::collection::vec(mutation(), 1..6)) {
        check_parse(&apply(&fixture_json(), &mutations), SnapshotSyntax::Json)?;
    }

    #[test]
    fn directory_urls_never_panic(url in prop_oneof![
        "\\PC{0,80}",
        ("(memory|sqlite|plugin|postgres|postgresql|mysql|)", "(:|://|:/|)", "\\PC{0,40}")
            .prop_map(|(scheme, sep, rest)| format!("{scheme}{sep}{rest}")),
    ]) {
        match DirectoryUrl::parse(&url) {
            Ok(parsed) => {
                let shown = parsed.to_string();
                if let DirectoryUrl::Postgres(raw) = &parsed {
                    // Credentials are never shown.
                    if let Some((userinfo, _)) = raw.split_once('@') {
                        if let Some((_, password)) = userinfo.rsplit_once(':') {
                            if password.len() > 3 && !password.contains('/') {
                                prop_assert!(!shown.contains(password), "{}", shown);
                            }
                        }
                    }
                }
            }
            Err(err) => {
                let shown = err.to_string();
                prop_assert!(shown.len() < 300, "{}", shown);
                prop_assert!(!shown.chars().any(|c| c.is_control()), "{:?}", shown);
                let known = matches!(
                    err,
                    UrlError::Empty | UrlError::UnknownScheme { .. } | UrlError::MissingPath { .. }
                );
                prop_assert!(known, "unexpected error {:?}", err);
            }
        }
    }

    #[test]
    fn file_urls_round_trip(path in "[a-zA-Z0-9_./-]{1,40}", scheme in "(memory|sqlite)") {
        let url = format!("{scheme}:{path}");
        let parsed = DirectoryUrl::parse(&url).unwrap();
        prop_assert_eq!(DirectoryUrl::parse(&parsed.to_string()).unwrap(), parsed);
    }
}

#[test]
fn the_unmutated_fixtures_parse() {
    Snapshot::parse(fixture(), FILE, SnapshotSyntax::Yaml).unwrap();
    Snapshot::parse(&fixture_json(), FILE, SnapshotSyntax::Json).unwrap();
}

#[test]
fn a_second_yaml_document_is_reported_with_its_line() {
    let text = format!("{}---\nformat: restore-directory/v1\n", fixture());
    let err = Snapshot::parse(&text, FILE, SnapshotSyntax::Yaml).unwrap_err();
    let SnapshotError::Parse { at, .. } = &err else {
        panic!("a parse error, got {err:?}");
    };
    let second = fixture().lines().count() + 1;
    assert_eq!(at.line, Some(second), "{err}");
    assert!(err.to_string().contains("document"), "{err}");
}
