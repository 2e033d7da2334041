//! A JSON Schema for rule files, generated from Rust types, so editors can
//! validate and complete rule files. `rules/restore-rules.v1.schema.json` is
//! its output; a test keeps the two in sync.
//!
//! These types mirror the loader's keys and the vocabulary; fact, setting and
//! operator names come from the catalogues themselves, so they cannot drift.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;

use crate::decision::Outcome;
use crate::model::{Op, RULES_FORMAT};
use crate::vocabulary::{Fact, Setting};

/// The schema as pretty JSON, ending in a newline.
pub fn rules_schema_json() -> String {
    let schema = schemars::schema_for!(RuleFile);
    let value = sorted(serde_json::Value::from(schema));
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push('\n');
    out
}

/// Keys in sorted order at every level, so the output does not depend on
/// whether some other crate turned on serde_json's `preserve_order`.
pub(crate) fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted).collect())
        }
        other => other,
    }
}

/// A restore-policy rule file (one version of one policy).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "restore-rules/v1 rule file")]
#[allow(dead_code)]
struct RuleFile {
    /// Rule-language format; must be `restore-rules/v1`.
    #[schemars(schema_with = "format_tag")]
    format: String,
    /// Policy name; several versions of one policy share it.
    policy: String,
    /// This version's name, e.g. `1.0.0`.
    version: String,
    /// When this version takes effect (RFC 3339 with a zone).
    #[schemars(schema_with = "timestamp")]
    effective_from: String,
    description: Option<String>,
    /// Defaults for every tier; all settings are required.
    settings: Settings,
    /// Per-tier overrides of the settings.
    tiers: Option<Tiers>,
    /// What a restore needs from the admin (e.g. department, seat).
    requires: Option<Vec<Requirement>>,
    /// Rules that block a restore when their condition holds.
    blockers: Vec<Blocker>,
    /// What comes back, per resource.
    resources: Vec<Resource>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Settings {
    /// How long after deletion a member can be restored, e.g. `30d`.
    #[schemars(schema_with = "duration")]
    restore_window: String,
    /// Longest the deletion process can take, e.g. `48h`.
    #[schemars(schema_with = "duration")]
    deletion_max_duration: String,
    /// Roles allowed to restore a member.
    restore_roles: Vec<String>,
    /// Deny the restore when no seat is available.
    block_without_seat: bool,
    /// Whether several members may be restored in one request.
    batch_restore: bool,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TierSettings {
    // `default`: a custom schema hides the `Option`, so say "not required".
    #[serde(default)]
    #[schemars(schema_with = "duration")]
    restore_window: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "duration")]
    deletion_max_duration: Option<String>,
    restore_roles: Option<Vec<String>>,
    block_without_seat: Option<bool>,
    batch_restore: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Tiers {
    starter: Option<TierSettings>,
    basic: Option<TierSettings>,
    pro: Option<TierSettings>,
    enterprise: Option<TierSettings>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Requirement {
    id: String,
    #[schemars(schema_with = "fact_ref")]
    fact: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Blocker {
    /// Unique id, reported in decisions (e.g. `window_expired`).
    id: String,
    /// The source fact, e.g. `F2`.
    #[schemars(schema_with = "fact_ref")]
    fact: String,
    when: Condition,
    /// Text with `{fact.name}` / `{setting.NAME}` placeholders.
    message: String,
    remedy: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Resource {
    resource: String,
    #[schemars(schema_with = "fact_ref")]
    fact: String,
    outcome: Outcome,
    /// The first exception whose condition holds replaces the outcome.
    exceptions: Option<Vec<Exception>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Exception {
    when: Condition,
    outcome: Outcome,
    reason: String,
}

/// `all`, `any`, `not`, or a comparison of a fact or setting.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Condition {
    All { all: Vec<Condition> },
    Any { any: Vec<Condition> },
    Not { not: Box<Condition> },
    Compare(#[schemars(schema_with = "comparison")] serde_json::Value),
}

fn format_tag(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "const": RULES_FORMAT })
}

fn timestamp(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "RFC 3339 timestamp with a zone, e.g. 2026-11-01T00:00:00Z",
        "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$"
    })
}

fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "a duration with units: w, d, h, m, s (e.g. 30d, 48h, 1d12h)",
        "pattern": "^(\\d+[wdhms])+$"
    })
}

fn fact_ref(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": "^F\\d+$" })
}

/// `{ fact|setting: NAME, OP: VALUE }` with exactly one operator.
fn comparison(_: &mut SchemaGenerator) -> Schema {
    let facts: Vec<&str> = Fact::ALL.iter().map(|f| f.name()).collect();
    let settings: Vec<&str> = Setting::ALL.iter().map(|s| s.name()).collect();
    let reference = json_schema!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "fact": { "enum": facts },
            "setting": { "enum": settings }
        },
        "minProperties": 1,
        "maxProperties": 1
    });
    let mut properties = serde_json::Map::new();
    properties.insert("fact".into(), serde_json::json!({ "enum": facts }));
    properties.insert("setting".into(), serde_json::json!({ "enum": settings }));
    for op in Op::ALL {
        properties.insert(
            op.name().into(),
            serde_json::json!({ "anyOf": [
                { "type": ["string", "number", "boolean"] },
                { "type": "array", "items": { "type": "string" } },
                reference.clone()
            ] }),
        );
    }
    let ops: Vec<serde_json::Value> = Op::ALL
        .iter()
        .map(|op| serde_json::json!({ "required": [op.name()] }))
        .collect();
    json_schema!({
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
        "oneOf": [ { "required": ["fact"] }, { "required": ["setting"] } ],
        "minProperties": 2,
        "maxProperties": 2,
        "anyOf": ops
    })
}
