//! The directory snapshot file: the in-memory adapter's input and the import
//! format. YAML or JSON; see docs/design.md, "Directory snapshot file".

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};
use restore_engine::facts::{
    ActiveMember, DeletedMember, DeletionReason, DeletionState, Plan, ResourceItem,
};
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

/// The only snapshot format this build reads.
pub const SNAPSHOT_FORMAT: &str = "restore-directory/v1";

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
    pub plan: Plan,
    pub seats: Seats,
    /// Active members.
    #[serde(default)]
    pub members: Vec<SnapshotMember>,
    #[serde(default)]
    pub deleted_members: Vec<SnapshotDeletedMember>,
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
pub fn parse_zoned_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    match DateTime::parse_from_rfc3339(text.trim()) {
        Ok(t) => Ok(t.with_timezone(&Utc)),
        Err(_)
            if chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S%.f")
                .is_ok() =>
        {
            Err(format!(
                "timestamp `{text}` has no time zone; add `Z` or an offset such as `+08:00`"
            ))
        }
        Err(e) => Err(format!("`{text}` is not an RFC 3339 timestamp: {e}")),
    }
}

impl Snapshot {
    /// Reads and validates a snapshot file; `.json` is JSON, anything else YAML.
    pub fn load(path: &Path) -> Result<Snapshot, SnapshotError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SnapshotError::Read {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        Snapshot::parse(&text, &file, SnapshotSyntax::from_path(path))
    }

    /// Parses and validates snapshot text; `file` names it in errors.
    pub fn parse(
        text: &str,
        file: &str,
        syntax: SnapshotSyntax,
    ) -> Result<Snapshot, SnapshotError> {
        let snapshot: Snapshot = match syntax {
            SnapshotSyntax::Json => {
                serde_json::from_str(text).map_err(|e| SnapshotError::Parse {
                    file: file.to_owned(),
                    at: Position {
                        line: Some(e.line()),
                        column: Some(e.column()),
                    },
                    message: strip_position(&e.to_string()),
                })?
            }
            SnapshotSyntax::Yaml => serde_yaml::from_str(text).map_err(|e| {
                let at = e.location().map_or(Position::default(), |l| Position {
                    line: Some(l.line()),
                    column: Some(l.column()),
                });
                SnapshotError::Parse {
                    file: file.to_owned(),
                    at,
                    message: strip_position(&e.to_string()),
                }
            })?,
        };
        snapshot.validate(file)?;
        Ok(snapshot)
    }

    /// Invariants serde cannot express: format version, unique ids.
    fn validate(&self, file: &str) -> Result<(), SnapshotError> {
        let invalid = |path: String, message: String| SnapshotError::Invalid {
            file: file.to_owned(),
            path,
            message,
        };
        if self.format != SNAPSHOT_FORMAT {
            return Err(invalid(
                "format".into(),
                format!(
                    "unknown snapshot format `{}`, expected `{SNAPSHOT_FORMAT}`",
                    self.format
                ),
            ));
        }
        let mut tenants = HashSet::new();
        for (t, tenant) in self.tenants.iter().enumerate() {
            if tenant.id.trim().is_empty() {
                return Err(invalid(
                    format!("tenants[{t}].id"),
                    "tenant id is empty".into(),
                ));
            }
            if !tenants.insert(tenant.id.as_str()) {
                return Err(invalid(
                    format!("tenants[{t}].id"),
                    format!("duplicate tenant id `{}`", tenant.id),
                ));
            }
            let mut active = HashSet::new();
            for (m, member) in tenant.members.iter().enumerate() {
                if member.id.trim().is_empty() {
                    return Err(invalid(
                        format!("tenants[{t}].members[{m}].id"),
                        "member id is empty".into(),
                    ));
                }
                if !active.insert(member.id.as_str()) {
                    return Err(invalid(
                        format!("tenants[{t}].members[{m}].id"),
                        format!(
                            "duplicate member id `{}` in tenant `{}`",
                            member.id, tenant.id
                        ),
                    ));
                }
            }
            let mut deleted = HashSet::new();
            for (m, member) in tenant.deleted_members.iter().enumerate() {
                let at = format!("tenants[{t}].deleted_members[{m}]");
                if member.id.trim().is_empty() {
                    return Err(invalid(format!("{at}.id"), "member id is empty".into()));
                }
                if !deleted.insert(member.id.as_str()) {
                    return Err(invalid(
                        format!("{at}.id"),
                        format!(
                            "duplicate deleted member id `{}` in tenant `{}`",
                            member.id, tenant.id
                        ),
                    ));
                }
                for (resource, items) in &member.resources {
                    let mut ids = HashSet::new();
                    for (i, item) in items.iter().enumerate() {
                        if !ids.insert(item.id.as_str()) {
                            return Err(invalid(
                                format!("{at}.resources.{resource}[{i}].id"),
                                format!("duplicate item id `{}` in `{resource}`", item.id),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Parsers append " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

impl SnapshotMember {
    pub fn to_active(&self) -> ActiveMember {
        ActiveMember {
            id: self.id.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            roles: self.roles.clone(),
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
        }
    }
}
