//! The directory snapshot file: the in-memory adapter's input and the import
//! format. YAML or JSON; see docs/design.md, "Directory snapshot file".

mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};
use restore_engine::excerpt::quote_safe;
use restore_engine::facts::{
    ActiveMember, Attributes, DeletedMember, DeletionReason, DeletionState, ResourceItem,
};
use restore_engine::source::{read_text_file, Limit, ReadError};
use restore_engine::timestamp::parse_timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

pub use validate::{MAX_ID_BYTES, MAX_SEATS, MAX_TEXT_BYTES};

/// The snapshot format of files without attributes: what this build writes
/// when there are none, so that such files stay byte-identical.
pub const SNAPSHOT_FORMAT: &str = "restore-directory/v1";

/// The snapshot format of files with attributes (on a tenant, an active or
/// a deleted member). A build that predates attributes refuses it
/// ("unknown format") rather than dropping them.
pub const SNAPSHOT_FORMAT_V2: &str = "restore-directory/v2";

/// A snapshot file that could not be read; says where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error("cannot read snapshot `{file}`: {reason}")]
    Read { file: String, reason: String },
    /// Syntax or type error, with the position the parser reported.
    #[error("{file}{at}: {message}")]
    Parse {
        file: String,
        at: Position,
        message: String,
    },
    /// The file parsed but breaks a rule (duplicate id, unknown format, ...).
    #[error("{file}: {path}: {message}")]
    Invalid {
        file: String,
        path: String,
        message: String,
    },
}

/// `:line:column` when known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// Which syntax a snapshot is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotSyntax {
    Yaml,
    Json,
}

impl SnapshotSyntax {
    /// `.json` files are JSON; anything else is read as YAML.
    pub fn from_path(path: &Path) -> SnapshotSyntax {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => SnapshotSyntax::Json,
            _ => SnapshotSyntax::Yaml,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub format: String,
    #[serde(default)]
    pub tenants: Vec<SnapshotTenant>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotTenant {
    pub id: String,
    /// Any identifier: which plans exist is the policy's business.
    #[serde(deserialize_with = "plan_name")]
    pub plan: String,
    pub seats: Seats,
    /// Active members.
    #[serde(default)]
    pub members: Vec<SnapshotMember>,
    #[serde(default)]
    pub deleted_members: Vec<SnapshotDeletedMember>,
    /// Format v2 only.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seats {
    #[serde(deserialize_with = "non_negative")]
    pub total: i64,
    #[serde(deserialize_with = "non_negative")]
    pub used: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotMember {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Format v2 only; an actor's attributes when the member acts.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotDeletedMember {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(deserialize_with = "zoned_timestamp")]
    pub deleted_at: DateTime<Utc>,
    pub reason: DeletionReason,
    pub deletion: DeletionState,
    #[serde(default)]
    pub removed_from_list: bool,
    #[serde(default)]
    pub resources: BTreeMap<String, Vec<ResourceItem>>,
    /// Format v2 only; carried to the active record on restore.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

/// Any identifier; checked inside the visitor so that the error carries the
/// value's own line and column.
fn plan_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct PlanName;
    impl serde::de::Visitor<'_> for PlanName {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a plan name (an identifier)")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<String, E> {
            restore_engine::facts::plan_name(text).map_err(E::custom)?;
            Ok(text.to_owned())
        }
    }
    d.deserialize_str(PlanName)
}

fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = i64::deserialize(d)?;
    if n < 0 {
        return Err(serde::de::Error::custom(format!(
            "seat count `{n}` is negative"
        )));
    }
    Ok(n)
}

/// RFC 3339 with an explicit zone; a local time is ambiguous and refused.
pub fn zoned_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(d)?;
    parse_zoned_timestamp(&text).map_err(serde::de::Error::custom)
}

/// Parses an RFC 3339 timestamp that names its zone (`Z` or `±HH:MM`).
/// Years 0000–9999 only (see [`restore_engine::timestamp`]).
pub fn parse_zoned_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    parse_timestamp(text).map_err(|e| e.to_string())
}

impl Snapshot {
    /// A snapshot of `tenants` in the format they need: v2 when any of them
    /// carries attributes, v1 otherwise.
    pub fn new(tenants: Vec<SnapshotTenant>) -> Snapshot {
        let mut snapshot = Snapshot {
            format: SNAPSHOT_FORMAT.to_owned(),
            tenants,
        };
        snapshot.format = snapshot.needed_format().to_owned();
        snapshot
    }

    /// Whether any tenant, active member or deleted member has attributes.
    pub fn has_attributes(&self) -> bool {
        self.tenants.iter().any(SnapshotTenant::has_attributes)
    }

    /// The format a file of this snapshot is written in: v2 with
    /// attributes, v1 without (byte-identical to files written before v2).
    pub fn needed_format(&self) -> &'static str {
        if self.has_attributes() {
            SNAPSHOT_FORMAT_V2
        } else {
            SNAPSHOT_FORMAT
        }
    }

    /// Reads and validates a snapshot file; `.json` is JSON, anything else
    /// YAML. Only a regular file is read, of at most [`Limit::snapshot`]
    /// bytes (`RESTORECTL_MAX_SNAPSHOT_BYTES`, default 256 MiB).
    pub fn load(path: &Path) -> Result<Snapshot, SnapshotError> {
        let limit = Limit::snapshot().map_err(|e| SnapshotError::Read {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Snapshot::load_with_limit(path, limit)
    }

    /// [`Snapshot::load`] with an explicit size limit.
    pub fn load_with_limit(path: &Path, limit: Limit) -> Result<Snapshot, SnapshotError> {
        let file = path.display().to_string();
        let text = read_text_file(path, limit).map_err(|e| SnapshotError::Read {
            file: file.clone(),
            reason: read_reason(&e),
        })?;
        Snapshot::parse(&text, &file, SnapshotSyntax::from_path(path))
    }

    /// Parses and validates snapshot text; `file` names it in errors.
    pub fn parse(
        text: &str,
        file: &str,
        syntax: SnapshotSyntax,
    ) -> Result<Snapshot, SnapshotError> {
        // A byte-order mark is legal at the start of a YAML or JSON file.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let snapshot: Snapshot = match syntax {
            SnapshotSyntax::Json => {
                serde_json::from_str(text).map_err(|e| SnapshotError::Parse {
                    file: file.to_owned(),
                    at: Position {
                        line: Some(e.line()),
                        column: Some(e.column()),
                    },
                    message: parse_message(&e.to_string()),
                })?
            }
            SnapshotSyntax::Yaml => {
                refuse_aliases(text, file)?;
                serde_yaml::from_str(text).map_err(|e| {
                    // The reader gives no position for a second document;
                    // find where it starts.
                    let at = e
                        .location()
                        .map(|l| (l.line(), l.column()))
                        .or_else(|| restore_engine::yaml::second_document(text))
                        .map_or(Position::default(), |(line, column)| Position {
                            line: Some(line),
                            column: Some(column),
                        });
                    SnapshotError::Parse {
                        file: file.to_owned(),
                        at,
                        message: parse_message(&e.to_string()),
                    }
                })?
            }
        };
        snapshot.validate(file)?;
        Ok(snapshot)
    }
}

/// Refuses YAML aliases: nested aliases in a few kilobytes expand to
/// gigabytes while deserialising (the parser's own repetition limit counts
/// jumps, not the items each jump copies).
fn refuse_aliases(text: &str, file: &str) -> Result<(), SnapshotError> {
    let parse_error = |line: usize, column: usize, message: String| SnapshotError::Parse {
        file: file.to_owned(),
        at: Position {
            line: Some(line),
            column: Some(column),
        },
        message,
    };
    match restore_engine::yaml::first_alias(text) {
        Ok(None) => Ok(()),
        Ok(Some((line, column))) => Err(parse_error(
            line,
            column,
            "YAML aliases (`*name`) are not supported in snapshot files; write the value out"
                .into(),
        )),
        Err(e) => Err(parse_error(
            e.span.line,
            e.span.column,
            quote_safe(&e.message),
        )),
    }
}

/// The reason of a read error without the file name (the snapshot error
/// names it already).
fn read_reason(error: &ReadError) -> String {
    match error {
        ReadError::NotRegular { kind, .. } => format!("it is {kind}, not a regular file"),
        ReadError::TooLarge {
            limit, variable, ..
        } => format!("larger than the limit of {limit} bytes (set {variable} to raise it)"),
        ReadError::NotUtf8 { line, offset, .. } => {
            format!("not UTF-8 text (invalid byte at line {line}, byte offset {offset})")
        }
        ReadError::Io { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// A parser's message, safe to print: without the position (reported
/// apart), quoting only excerpts; a file that is not a snapshot at all (a
/// `.env` file passed by mistake) is said to be so, without quoting it.
fn parse_message(message: &str) -> String {
    let message = strip_position(message);
    if message.starts_with("invalid type") && message.ends_with("expected struct Snapshot") {
        return "this is not a directory snapshot: expected a mapping with `format` and `tenants`"
            .into();
    }
    quote_safe(&message)
}

/// Parsers append " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

impl SnapshotTenant {
    /// Whether the tenant, or any of its members, has attributes.
    pub fn has_attributes(&self) -> bool {
        !self.attributes.is_empty()
            || self.members.iter().any(|m| !m.attributes.is_empty())
            || self
                .deleted_members
                .iter()
                .any(|m| !m.attributes.is_empty())
    }
}

impl SnapshotMember {
    pub fn to_active(&self) -> ActiveMember {
        ActiveMember {
            id: self.id.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            roles: self.roles.clone(),
            attributes: self.attributes.clone(),
        }
    }
}

impl SnapshotDeletedMember {
    pub fn to_deleted(&self) -> DeletedMember {
        DeletedMember {
            id: self.id.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            deleted_at: self.deleted_at,
            reason: self.reason,
            deletion: self.deletion,
            removed_from_list: self.removed_from_list,
            resources: self.resources.clone(),
            attributes: self.attributes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = r#"format: restore-directory/v2
tenants:
  - id: t
    plan: trial
    seats: { total: 3, used: 1 }
    attributes: { region: eu, legal_hold: false }
    members:
      - { id: a, roles: [primary_admin], attributes: { was_admin: true } }
      - { id: b }
    deleted_members:
      - id: m
        deleted_at: 2026-11-01T00:00:00Z
        reason: removed_by_admin
        deletion: completed
        attributes: { hold_until: "2026-12-01T00:00:00Z", groups: [x, y], rank: 3, gone: null }
"#;

    fn parse(text: &str) -> Result<Snapshot, SnapshotError> {
        Snapshot::parse(text, "s.yaml", SnapshotSyntax::Yaml)
    }

    #[test]
    fn v2_carries_attributes_at_every_scope() {
        let s = parse(V2).unwrap();
        let t = &s.tenants[0];
        assert_eq!(
            t.attributes.to_json(),
            r#"{"legal_hold":false,"region":"eu"}"#
        );
        assert_eq!(
            t.members[0].to_active().attributes.to_json(),
            r#"{"was_admin":true}"#
        );
        assert!(t.members[1].attributes.is_empty());
        let m = t.deleted_members[0].to_deleted();
        assert_eq!(
            m.attributes.to_json(),
            r#"{"groups":["x","y"],"hold_until":"2026-12-01T00:00:00Z","rank":3}"#,
            "null is absent"
        );
        assert_eq!(s.needed_format(), SNAPSHOT_FORMAT_V2);
        // Written and read back: the same snapshot.
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            Snapshot::parse(&json, "s.json", SnapshotSyntax::Json).unwrap(),
            s
        );
    }

    #[test]
    fn attributes_need_v2_and_v1_files_stay_as_they_were() {
        let v1 = V2.replacen("/v2", "/v1", 1);
        let e = parse(&v1).unwrap_err().to_string();
        assert_eq!(
            e,
            "s.yaml: tenants[0].attributes: attributes need `format: restore-directory/v2`"
        );
        let plain = "format: restore-directory/v1\ntenants:\n  - id: t\n    plan: pro\n    seats: { total: 1, used: 0 }\n    members: [ { id: a } ]\n";
        let s = parse(plain).unwrap();
        assert!(!s.has_attributes());
        assert_eq!(s.needed_format(), SNAPSHOT_FORMAT);
        assert_eq!(Snapshot::new(s.tenants.clone()), s);
        let written = serde_json::to_string(&s).unwrap();
        assert!(!written.contains("attributes"), "{written}");
        let e = parse(&plain.replace("/v1", "/v3")).unwrap_err().to_string();
        assert!(
            e.contains("expected `restore-directory/v1` or `restore-directory/v2`"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_attribute_names_its_place() {
        for (bad, said) in [
            ("{ rate: 1.5 }", "`rate`"),
            ("{ nested: { a: 1 } }", "`nested`"),
            ("{ Bad: 1 }", "`Bad`"),
            ("{ mixed: [a, 1] }", "`mixed`"),
        ] {
            let text = V2.replace("{ was_admin: true }", bad);
            let e = parse(&text).unwrap_err().to_string();
            assert!(
                e.starts_with("s.yaml:8:") && e.contains("tenants[0].members[0]: attribute "),
                "{bad}: {e}"
            );
            assert!(e.contains(said), "{bad}: {e}");
        }
    }
}
