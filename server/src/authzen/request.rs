//! Parsing AuthZEN request bodies into evaluations (spec §5, §6, §7, §12.1.1)
//! and mapping one evaluation onto a restore question.
//!
//! Bodies are read as `serde_json::Value` and checked by hand so that every
//! 400 names the member at fault (`evaluations[1].resource.id`) and unknown
//! members are ignored, as §12.1.1 requires.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// A request the spec calls malformed: the whole payload is answered with
/// 400 Bad Request (§12.1.1, "If a required attribute ... is omitted").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Where, e.g. `subject.id`; empty for the whole body.
    pub path: String,
    pub message: String,
}

impl Malformed {
    fn new(path: &str, message: impl Into<String>) -> Malformed {
        Malformed {
            path: path.to_owned(),
            message: message.into(),
        }
    }

    /// `` `subject.id` is required`` style text.
    pub fn detail(&self) -> String {
        if self.path.is_empty() {
            self.message.clone()
        } else {
            format!("`{}` {}", self.path, self.message)
        }
    }
}

/// A Subject or a Resource (§5.1, §5.2): `type` and `id` required strings,
/// `properties` an optional object.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub kind: String,
    pub id: String,
    pub properties: Map<String, Value>,
}

/// An Action (§5.3): `name` a required string, `properties` an optional object.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub name: String,
    pub properties: Map<String, Value>,
}

/// One complete access evaluation request (§6.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub subject: Entity,
    pub action: Action,
    pub resource: Entity,
    pub context: Map<String, Value>,
}

/// `options.evaluations_semantic` (§7.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Semantic {
    #[default]
    ExecuteAll,
    DenyOnFirstDeny,
    PermitOnFirstPermit,
}

impl Semantic {
    pub fn as_str(self) -> &'static str {
        match self {
            Semantic::ExecuteAll => "execute_all",
            Semantic::DenyOnFirstDeny => "deny_on_first_deny",
            Semantic::PermitOnFirstPermit => "permit_on_first_permit",
        }
    }
}

/// A parsed `POST /access/v1/evaluations` body.
#[derive(Debug, Clone, PartialEq)]
pub enum EvaluationsRequest {
    /// No or an empty `evaluations` array: behaves as the single
    /// evaluation endpoint, and is answered as one (§7.1).
    Single(Box<Evaluation>),
    /// One entry per element of `evaluations`, defaults applied; an element
    /// that is incomplete after defaults fails alone (certification §3.4.1).
    Batch {
        items: Vec<Result<Evaluation, Malformed>>,
        semantic: Semantic,
    },
}

/// Parses a JSON body: not JSON, or not an object, is malformed (§12.1.1:
/// "The top-level element of all request and response bodies MUST be a JSON object").
pub fn parse_body(bytes: &[u8]) -> Result<Map<String, Value>, Malformed> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Malformed::new("", "the request body is empty"));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Malformed::new("", "the request body must be a JSON object")),
        Err(e) => Err(Malformed::new(
            "",
            format!("the request body is not valid JSON: {e}"),
        )),
    }
}

/// A `POST /access/v1/evaluation` body.
pub fn parse_evaluation(body: &Map<String, Value>) -> Result<Evaluation, Malformed> {
    Ok(Evaluation {
        subject: required(body, "", "subject", entity)?,
        action: required(body, "", "action", action)?,
        resource: required(body, "", "resource", entity)?,
        context: optional_object(body, "", "context")?.unwrap_or_default(),
    })
}

/// A `POST /access/v1/evaluations` body; more than `max_items` evaluations
/// is an error the caller answers with 413.
pub fn parse_evaluations(
    body: &Map<String, Value>,
    max_items: usize,
) -> Result<EvaluationsRequest, EvaluationsError> {
    let semantic = semantic(body).map_err(EvaluationsError::Malformed)?;
    let items = match body.get("evaluations") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if items.is_empty() => None,
        Some(Value::Array(items)) => Some(items),
        Some(_) => {
            return Err(EvaluationsError::Malformed(Malformed::new(
                "evaluations",
                "must be an array",
            )))
        }
    };
    let Some(items) = items else {
        return parse_evaluation(body)
            .map(|e| EvaluationsRequest::Single(Box::new(e)))
            .map_err(EvaluationsError::Malformed);
    };
    if items.len() > max_items {
        return Err(EvaluationsError::TooMany {
            count: items.len(),
            max: max_items,
        });
    }
    // Top-level defaults must themselves be valid (a request invalid at the
    // top level is a transport error, certification §3.4.1 note).
    let malformed = EvaluationsError::Malformed;
    let subject = optional(body, "", "subject", entity).map_err(malformed)?;
    let action_default = optional(body, "", "action", action).map_err(malformed)?;
    let resource = optional(body, "", "resource", entity).map_err(malformed)?;
    let context = optional_object(body, "", "context").map_err(malformed)?;
    let items = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("evaluations[{i}]");
            let Value::Object(item) = item else {
                return Err(Malformed::new(&at, "must be an object"));
            };
            // Entity-level defaults: an evaluation's member replaces the
            // top-level one whole; there is no merging of sub-fields (§7.1.1).
            Ok(Evaluation {
                subject: or_default(item, &at, "subject", entity, &subject)?,
                action: or_default(item, &at, "action", action, &action_default)?,
                resource: or_default(item, &at, "resource", entity, &resource)?,
                context: match optional_object(item, &at, "context")? {
                    Some(own) => own,
                    None => context.clone().unwrap_or_default(),
                },
            })
        })
        .collect();
    Ok(EvaluationsRequest::Batch { items, semantic })
}

/// Why an evaluations body is refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvaluationsError {
    Malformed(Malformed),
    TooMany { count: usize, max: usize },
}

fn semantic(body: &Map<String, Value>) -> Result<Semantic, Malformed> {
    let Some(options) = optional_object(body, "", "options")? else {
        return Ok(Semantic::default());
    };
    match options.get("evaluations_semantic") {
        None | Some(Value::Null) => Ok(Semantic::default()),
        Some(Value::String(s)) => match s.as_str() {
            "execute_all" => Ok(Semantic::ExecuteAll),
            "deny_on_first_deny" => Ok(Semantic::DenyOnFirstDeny),
            "permit_on_first_permit" => Ok(Semantic::PermitOnFirstPermit),
            other => Err(Malformed::new(
                "options.evaluations_semantic",
                format!(
                    "must be one of `execute_all`, `deny_on_first_deny`, `permit_on_first_permit`, not `{}`",
                    clip(other)
                ),
            )),
        },
        Some(_) => Err(Malformed::new("options.evaluations_semantic", "must be a string")),
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

type Parse<T> = fn(&Map<String, Value>, &str) -> Result<T, Malformed>;

/// `key` of `map`; absent and `null` are the same (§13.5: null SHOULD be omitted).
fn present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

fn optional<T>(
    map: &Map<String, Value>,
    parent: &str,
    key: &str,
    parse: Parse<T>,
) -> Result<Option<T>, Malformed> {
    let path = join(parent, key);
    match present(map, key) {
        None => Ok(None),
        Some(Value::Object(inner)) => parse(inner, &path).map(Some),
        Some(_) => Err(Malformed::new(&path, "must be an object")),
    }
}

fn required<T>(
    map: &Map<String, Value>,
    parent: &str,
    key: &str,
    parse: Parse<T>,
) -> Result<T, Malformed> {
    optional(map, parent, key, parse)?
        .ok_or_else(|| Malformed::new(&join(parent, key), "is required"))
}

fn or_default<T: Clone>(
    map: &Map<String, Value>,
    parent: &str,
    key: &str,
    parse: Parse<T>,
    default: &Option<T>,
) -> Result<T, Malformed> {
    match optional(map, parent, key, parse)? {
        Some(own) => Ok(own),
        None => default.clone().ok_or_else(|| {
            Malformed::new(
                &join(parent, key),
                format!("is required: neither the evaluation nor the request gives a `{key}`"),
            )
        }),
    }
}

fn optional_object(
    map: &Map<String, Value>,
    parent: &str,
    key: &str,
) -> Result<Option<Map<String, Value>>, Malformed> {
    optional(map, parent, key, |m, _| Ok(m.clone()))
}

fn string(map: &Map<String, Value>, parent: &str, key: &str) -> Result<String, Malformed> {
    let path = join(parent, key);
    match present(map, key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Malformed::new(&path, "must be a string")),
        None => Err(Malformed::new(&path, "is required")),
    }
}

fn entity(map: &Map<String, Value>, path: &str) -> Result<Entity, Malformed> {
    Ok(Entity {
        kind: string(map, path, "type")?,
        id: string(map, path, "id")?,
        properties: optional_object(map, path, "properties")?.unwrap_or_default(),
    })
}

fn action(map: &Map<String, Value>, path: &str) -> Result<Action, Malformed> {
    Ok(Action {
        name: string(map, path, "name")?,
        properties: optional_object(map, path, "properties")?.unwrap_or_default(),
    })
}

/// Caller text quoted in a message, cut to a sane length.
pub fn clip(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The types and action this PDP decides on (the contract's mapping).
pub const SUBJECT_TYPE: &str = "user";
pub const ACTION_NAME: &str = "restore";
pub const RESOURCE_TYPE: &str = "deleted_member";

/// The restore question an evaluation asks: may `actor` restore `member`
/// of `tenant` (at `at`, under `policy`/`policy_version`)?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub tenant: String,
    pub member: String,
    pub actor: String,
    pub at: Option<DateTime<Utc>>,
    pub policy: Option<String>,
    pub policy_version: Option<String>,
    /// The other `context` members: those the policy declares as request
    /// context are its `request.context` values; the rest are ignored.
    pub context: Map<String, Value>,
}

/// Why an evaluation is answered `false` without asking the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a question this PDP decides: another subject type, action or
    /// resource type. A deny with a reason, not an error.
    NotDecided { code: &'static str, reason: String },
    /// A question about restores with a bad value in it (no tenant, a time
    /// without zone): a deny with `context.error`, status 400.
    Invalid { message: String },
}

/// Maps a complete evaluation onto the restore question (contract:
/// subject `{type:"user", id: actor}`, action `{name:"restore"}`, resource
/// `{type:"deleted_member", id: member, properties:{tenant}}`, context
/// `{time?, policy_version?, policy?, ...}`). Other context members are
/// request context where the policy declares them; other properties are
/// ignored.
pub fn question(e: &Evaluation) -> Result<Question, Refusal> {
    if e.subject.kind != SUBJECT_TYPE {
        return Err(not_decided(
            "unsupported_subject_type",
            format!("subjects of type `{}`", clip(&e.subject.kind)),
        ));
    }
    if e.action.name != ACTION_NAME {
        return Err(not_decided(
            "unsupported_action",
            format!("action `{}`", clip(&e.action.name)),
        ));
    }
    if e.resource.kind != RESOURCE_TYPE {
        return Err(not_decided(
            "unsupported_resource_type",
            format!("resources of type `{}`", clip(&e.resource.kind)),
        ));
    }
    let invalid = |message: String| Refusal::Invalid { message };
    let tenant = match present(&e.resource.properties, "tenant") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        Some(_) => {
            return Err(invalid(
                "`resource.properties.tenant` must be a non-empty string".into(),
            ))
        }
        None => return Err(invalid(
            "`resource.properties.tenant` is required: the tenant the deleted member belongs to"
                .into(),
        )),
    };
    let text = |key: &str| -> Result<Option<String>, Refusal> {
        match present(&e.context, key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(format!("`context.{key}` must be a string"))),
        }
    };
    let at = match text("time")? {
        None => None,
        Some(t) => Some(parse_time(&t).map_err(|m| invalid(format!("`context.time`: {m}")))?),
    };
    Ok(Question {
        tenant,
        member: e.resource.id.clone(),
        actor: e.subject.id.clone(),
        at,
        policy: text("policy")?,
        policy_version: text("policy_version")?,
        context: e
            .context
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "time" | "policy" | "policy_version"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

fn not_decided(code: &'static str, what: String) -> Refusal {
    Refusal::NotDecided {
        code,
        reason: format!(
            "this PDP does not decide on {what}; it decides action `{ACTION_NAME}` by subjects of type `{SUBJECT_TYPE}` on resources of type `{RESOURCE_TYPE}`"
        ),
    }
}

/// An RFC 3339 time with a zone. The spec's own examples omit the seconds
/// (`1985-10-26T01:22-07:00`), so `HH:MM` with a zone is accepted too.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    // `YYYY-MM-DDTHH:MM` followed directly by the zone: add `:00`.
    if text.len() > 16 && text.is_char_boundary(16) {
        let (head, zone) = text.split_at(16);
        if zone.starts_with(['Z', 'z', '+', '-']) {
            if let Ok(t) = DateTime::parse_from_rfc3339(&format!("{head}:00{zone}")) {
                return Ok(t.with_timezone(&Utc));
            }
        }
    }
    if chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").is_ok() {
        return Err(format!(
            "timestamp `{text}` has no time zone; add `Z` or an offset such as `+08:00`"
        ));
    }
    restore_directory::snapshot::parse_zoned_timestamp(&clip(text))
}

#[cfg(test)]
mod tests;
