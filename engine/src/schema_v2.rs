//! The JSON Schema of `restore-rules/v2` rule files
//! (`rules/restore-rules.v2.schema.json`; a test keeps the two in sync).
//!
//! A v2 file declares its own tiers, settings, computed facts, attributes
//! and context, so the schema can describe only the *shapes* of names
//! (identifiers, `member.attributes.NAME`, ...), not the file's own
//! declarations: the loader stays the authority.

use serde_json::{json, Value};

use crate::decision::Outcome;
use crate::lint::CODES;
use crate::model::{Op, RULES_FORMAT_V2};

/// An identifier: tiers, settings, attributes, catalogue entries, ids.
const IDENTIFIER: &str = "^[a-z][a-z0-9_]{0,63}$";

/// A fact: a built-in name, a computed fact, an attribute or a context value.
const FACT: &str = "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$";

/// The schema as pretty JSON, ending in a newline.
pub fn rules_schema_v2_json() -> String {
    let value = super::schema::sorted(schema());
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push('\n');
    out
}

fn schema() -> Value {
    let duration = json!({
        "type": "string",
        "description": "a duration with units: w, d, h, m, s (e.g. 30d, 48h, 1d12h), or `unlimited`",
        "pattern": "^((\\d+[wdhms])+|unlimited)$"
    });
    let timestamp = json!({
        "type": "string",
        "description": "RFC 3339 timestamp with a zone, e.g. 2026-11-01T00:00:00Z",
        "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$"
    });
    let identifier = json!({ "type": "string", "pattern": IDENTIFIER });
    let literal = json!({ "anyOf": [
        { "type": ["string", "number", "boolean"] },
        { "type": "array", "items": { "type": "string" } }
    ] });
    let source = json!({
        "type": "string",
        "minLength": 1,
        "maxLength": 512,
        "description": "where the rule comes from: `F2`, a URL, `vendor:section`"
    });
    let code = json!({
        "description": "the code decisions report (a vendor's error number or text)",
        "anyOf": [ { "type": "integer" }, { "type": "string", "minLength": 1, "maxLength": 128 } ]
    });
    let types = json!({ "enum": ["bool", "integer", "duration", "timestamp", "string", "list"] });
    let setting = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["type"],
        "properties": { "type": types, "default": literal, "doc": { "type": "string" } }
    });
    let declaration = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["type"],
        "properties": {
            "type": types,
            "one_of": { "type": "array", "items": { "type": "string" } },
            "default": literal,
            "required": { "const": true },
            "doc": { "type": "string" }
        }
    });
    let declarations = json!({
        "type": "object",
        "propertyNames": { "pattern": IDENTIFIER },
        "additionalProperties": declaration
    });
    let reference = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "fact": { "type": "string", "pattern": FACT },
            "setting": identifier
        },
        "minProperties": 1,
        "maxProperties": 1
    });
    let mut comparison_properties = serde_json::Map::new();
    comparison_properties.insert("fact".into(), json!({ "type": "string", "pattern": FACT }));
    comparison_properties.insert("setting".into(), identifier.clone());
    for op in Op::ALL {
        comparison_properties.insert(
            op.name().into(),
            json!({ "anyOf": [
                { "type": ["string", "number", "boolean"] },
                { "type": "array", "items": { "type": "string" } },
                reference.clone()
            ] }),
        );
    }
    let ops: Vec<Value> = Op::ALL
        .iter()
        .map(|op| json!({ "required": [op.name()] }))
        .collect();
    let comparison = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": comparison_properties,
        "oneOf": [ { "required": ["fact"] }, { "required": ["setting"] } ],
        "minProperties": 2,
        "maxProperties": 2,
        "anyOf": ops
    });
    let condition = json!({ "anyOf": [
        { "type": "object", "additionalProperties": false, "required": ["all"],
          "properties": { "all": { "type": "array", "items": { "$ref": "#/$defs/Condition" } } } },
        { "type": "object", "additionalProperties": false, "required": ["any"],
          "properties": { "any": { "type": "array", "items": { "$ref": "#/$defs/Condition" } } } },
        { "type": "object", "additionalProperties": false, "required": ["not"],
          "properties": { "not": { "$ref": "#/$defs/Condition" } } },
        comparison
    ] });
    let one_source = json!([ { "required": ["source"] }, { "required": ["fact"] } ]);
    let blocker = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "when", "message", "remedy"],
        "oneOf": one_source,
        "properties": {
            "id": identifier,
            "source": source,
            "fact": source,
            "code": code,
            "allow": { "type": "array", "items": { "enum": CODES } },
            "when": { "$ref": "#/$defs/Condition" },
            "message": { "type": "string", "minLength": 1 },
            "remedy": { "type": "string", "minLength": 1 }
        }
    });
    let mut warning = blocker.clone();
    if let Some(required) = warning.get_mut("required") {
        *required = json!(["id", "when", "message"]);
    }
    let outcomes: Vec<&str> = [
        Outcome::Restored,
        Outcome::Reset,
        Outcome::NotRestored,
        Outcome::Automatic,
        Outcome::TransferDependent,
    ]
    .iter()
    .map(|o| o.as_str())
    .collect();
    let resource = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["resource", "outcome"],
        "oneOf": one_source,
        "properties": {
            "resource": { "type": "string", "minLength": 1 },
            "source": source,
            "fact": source,
            "outcome": { "enum": outcomes },
            "exceptions": { "type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["when", "outcome", "reason"],
                "properties": {
                    "when": { "$ref": "#/$defs/Condition" },
                    "outcome": { "enum": outcomes },
                    "reason": { "type": "string", "minLength": 1 }
                }
            } }
        }
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "restore-rules/v2 rule file",
        "description": "A restore-policy rule file (one version of one policy) that declares its own tiers, settings, computed facts, attributes, context and resource catalogue.",
        "type": "object",
        "additionalProperties": false,
        "required": ["format", "policy", "version", "effective_from", "tiers"],
        "$defs": { "Condition": condition },
        "properties": {
            "format": { "const": RULES_FORMAT_V2 },
            "policy": { "type": "string", "minLength": 1 },
            "version": { "type": "string", "minLength": 1 },
            "effective_from": timestamp,
            "description": { "type": "string" },
            "tiers": {
                "description": "The keys declare the tiers; values override settings.",
                "type": "object",
                "minProperties": 1,
                "propertyNames": { "pattern": IDENTIFIER },
                "additionalProperties": { "anyOf": [
                    { "type": "null" },
                    { "type": "object", "propertyNames": { "pattern": IDENTIFIER },
                      "additionalProperties": literal }
                ] }
            },
            "default_tier": identifier,
            "settings": {
                "type": "object",
                "propertyNames": { "pattern": IDENTIFIER },
                "additionalProperties": setting
            },
            "computed": {
                "type": "object",
                "propertyNames": { "pattern": "^(member|tenant|request)\\.[a-z][a-z0-9_]{0,63}$" },
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["fact"],
                    "oneOf": [ { "required": ["plus"] }, { "required": ["minus"] } ],
                    "properties": {
                        "fact": { "enum": ["member.deleted_at", "evaluation.at"] },
                        "plus": { "anyOf": [ duration, reference ] },
                        "minus": { "anyOf": [ duration, reference ] }
                    }
                }
            },
            "restorable_until": { "type": "string", "pattern": FACT },
            "attributes": {
                "type": "object",
                "additionalProperties": false,
                "properties": { "tenant": declarations, "member": declarations, "actor": declarations }
            },
            "context": declarations,
            "catalogue": { "type": "array", "items": { "anyOf": [
                identifier,
                { "type": "object", "additionalProperties": false, "required": ["resource"],
                  "properties": { "resource": identifier, "doc": { "type": "string" } } }
            ] } },
            "requires": { "type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["id"],
                "oneOf": one_source,
                "properties": {
                    "id": { "type": "string", "minLength": 1 },
                    "source": source,
                    "fact": source,
                    "default": { "type": "string", "minLength": 1 }
                }
            } },
            "blockers": { "type": "array", "items": blocker },
            "warnings": {
                "description": "Rules shaped like blockers that never deny: reported in the decision's `warnings`.",
                "type": "array",
                "items": warning
            },
            "resources": { "type": "array", "items": resource }
        }
    })
}
