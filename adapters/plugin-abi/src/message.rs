//! The JSON messages exchanged through [`crate::PluginVTable::call`].
//!
//! A request is `{"v": 1, "request": {"op": "facts", ...}}`; a reply is
//! `{"v": 1, "result": {"ok": {"type": "facts", ...}}}` or
//! `{"v": 1, "result": {"err": {"kind": "unknown_tenant", "message": "..."}}}`.
//!
//! Restores are two-phase because the host's policy cannot cross the C
//! boundary: `restore_begin` locks what the restore depends on and returns the
//! facts it read with a token; the host decides, then sends `restore_commit`
//! (allowed) or `restore_abort` (denied, or the host gave up). The plugin keeps
//! its lock or transaction between the two.

use restore_directory::{DirectoryError, RestoreRequest};
use restore_engine::decision::Decision;
use restore_engine::facts::Facts;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Version of the messages in this module; the `v` field of every message.
pub const MESSAGE_VERSION: u32 = 1;

/// A request with its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestMessage {
    pub v: u32,
    pub request: Request,
}

/// What the host asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Facts about one deleted member; replied with [`Response::Facts`].
    Facts {
        tenant: String,
        member: String,
        #[serde(default)]
        actor: Option<String>,
    },
    /// One page of deleted members in member-id order, ids strictly after
    /// `after`, at most `limit`; replied with [`Response::Page`]. A page
    /// shorter than `limit` is the last.
    DeletedMembers {
        tenant: String,
        #[serde(default)]
        actor: Option<String>,
        #[serde(default)]
        after: Option<String>,
        limit: u32,
    },
    /// Ids of every tenant, sorted; replied with [`Response::Tenants`].
    /// Added after the first plugins: one that predates it answers
    /// `bad_request`, which the host reports as "cannot list its tenants".
    Tenants,
    /// Lock, read facts, keep the lock; replied with [`Response::Begun`].
    RestoreBegin { request: RestoreRequest },
    /// Write the restore the host allowed and release; replied with
    /// [`Response::Committed`].
    RestoreCommit { token: u64, decision: Decision },
    /// Release without writing; replied with [`Response::Aborted`].
    RestoreAbort { token: u64 },
}

/// A reply with its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseMessage {
    pub v: u32,
    pub result: Reply,
}

/// Success or a typed failure.
// One value per call, never stored in bulk: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Ok(Response),
    Err(WireError),
}

/// A successful answer; its `type` matches the request's `op`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    Facts {
        facts: Facts,
    },
    Page {
        members: Vec<Facts>,
    },
    Tenants {
        tenants: Vec<String>,
    },
    Begun {
        token: u64,
        facts: Facts,
    },
    /// No count of restored items: a plugin built against a newer crate
    /// would otherwise be refused by an older host after it committed. The
    /// host counts them from the facts read under the plugin's lock.
    Committed {
        audit_id: i64,
        seats_used: i64,
    },
    Aborted,
}

/// A failure the plugin reports; the host turns it into a `DirectoryError`,
/// taking tenant, member and actor from its own request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
#[error("{message}")]
pub struct WireError {
    pub kind: ErrorKind,
    /// Human-readable, lowercase, user input in backticks.
    pub message: String,
}

/// Which `DirectoryError` a [`WireError`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    UnknownTenant,
    UnknownMember,
    UnknownActor,
    MissingDepartment,
    /// Stored data breaks an invariant.
    BadData,
    /// Someone else changed what the restore depended on.
    Conflict,
    Unsupported,
    /// The host's request could not be understood (version, shape).
    BadRequest,
    /// I/O or another failure of the plugin's store.
    Backend,
    /// A kind from a newer plugin; treated as a backend failure.
    #[serde(other)]
    Other,
}

impl WireError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        WireError {
            kind,
            message: message.into(),
        }
    }

    pub fn unknown_tenant(tenant: &str) -> Self {
        Self::new(
            ErrorKind::UnknownTenant,
            format!("unknown tenant `{tenant}`"),
        )
    }

    pub fn unknown_member(tenant: &str, member: &str) -> Self {
        Self::new(
            ErrorKind::UnknownMember,
            format!("no deleted member `{member}` in tenant `{tenant}`"),
        )
    }

    pub fn unknown_actor(tenant: &str, actor: &str) -> Self {
        Self::new(
            ErrorKind::UnknownActor,
            format!("actor `{actor}` is not an active member of tenant `{tenant}`"),
        )
    }

    pub fn missing_department() -> Self {
        Self::new(
            ErrorKind::MissingDepartment,
            "a department is required to restore a member (F8)",
        )
    }

    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Backend, message)
    }
}

impl From<&DirectoryError> for WireError {
    fn from(e: &DirectoryError) -> Self {
        let kind = match e {
            DirectoryError::UnknownTenant { .. } => ErrorKind::UnknownTenant,
            DirectoryError::UnknownMember { .. } => ErrorKind::UnknownMember,
            DirectoryError::UnknownActor { .. } => ErrorKind::UnknownActor,
            DirectoryError::MissingDepartment => ErrorKind::MissingDepartment,
            DirectoryError::BadRow { .. }
            | DirectoryError::Snapshot(_)
            | DirectoryError::Overflow { .. } => ErrorKind::BadData,
            DirectoryError::Conflict(_) => ErrorKind::Conflict,
            DirectoryError::Unsupported(_) => ErrorKind::Unsupported,
            _ => ErrorKind::Backend,
        };
        WireError::new(kind, e.to_string())
    }
}

/// Why bytes are not a message this build understands.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MessageError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("message version `{found}` is not supported, expected `{expected}`")]
    Version { found: u64, expected: u32 },
    #[error("unexpected message shape: {0}")]
    Shape(String),
    #[error("cannot encode message: {0}")]
    Encode(String),
}

/// Only the version, so that a message of another version is reported as
/// such rather than as a shape error.
#[derive(Deserialize)]
struct Probe {
    v: Option<u64>,
}

/// Longest parser message kept: serde quotes offending values whole
/// ("invalid type: string \"…\""), and a message must not carry megabytes
/// of a peer's data into an error.
const MAX_ERROR_CHARS: usize = 240;

/// A parser error, cut to [`MAX_ERROR_CHARS`] with control characters escaped.
fn short(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let mut out: String = text
        .chars()
        .take(MAX_ERROR_CHARS)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    if text.chars().nth(MAX_ERROR_CHARS).is_some() {
        out.push('…');
    }
    out
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MessageError> {
    // Structs also deserialize from arrays; a message is an object only.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<IgnoredAny>(bytes) {
            Ok(_) => MessageError::Shape("a message must be a JSON object".into()),
            Err(e) => MessageError::Json(short(&e)),
        });
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            MessageError::Json(short(&e))
        } else {
            MessageError::Shape(short(&e))
        }
    })?;
    match probe.v {
        None => return Err(MessageError::Shape("missing field `v`".into())),
        Some(v) if v != u64::from(MESSAGE_VERSION) => {
            return Err(MessageError::Version {
                found: v,
                expected: MESSAGE_VERSION,
            })
        }
        Some(_) => {}
    }
    serde_json::from_slice(bytes).map_err(|e| MessageError::Shape(short(&e)))
}

fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, MessageError> {
    serde_json::to_vec(message).map_err(|e| MessageError::Encode(e.to_string()))
}

/// Serializes a request at [`MESSAGE_VERSION`].
pub fn encode_request(request: &Request) -> Result<Vec<u8>, MessageError> {
    encode(&RequestMessage {
        v: MESSAGE_VERSION,
        request: request.clone(),
    })
}

/// Parses a request, checking its version first.
pub fn decode_request(bytes: &[u8]) -> Result<Request, MessageError> {
    decode::<RequestMessage>(bytes).map(|m| m.request)
}

/// Serializes a reply at [`MESSAGE_VERSION`].
pub fn encode_reply(reply: &Reply) -> Result<Vec<u8>, MessageError> {
    encode(&ResponseMessage {
        v: MESSAGE_VERSION,
        result: reply.clone(),
    })
}

/// Parses a reply, checking its version first.
pub fn decode_reply(bytes: &[u8]) -> Result<Reply, MessageError> {
    decode::<ResponseMessage>(bytes).map(|m| m.result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_with_version() {
        let request = Request::DeletedMembers {
            tenant: "acme".into(),
            actor: None,
            after: Some("u_b".into()),
            limit: 10,
        };
        let bytes = encode_request(&request).unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(
            text.starts_with(r#"{"v":1,"request":{"op":"deleted_members""#),
            "{text}"
        );
        assert_eq!(decode_request(&bytes).unwrap(), request);
    }

    #[test]
    fn tenants_request_and_reply_have_fixed_wire_forms() {
        let bytes = encode_request(&Request::Tenants).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"v":1,"request":{"op":"tenants"}}"#
        );
        assert_eq!(decode_request(&bytes).unwrap(), Request::Tenants);
        let reply =
            decode_reply(br#"{"v":1,"result":{"ok":{"type":"tenants","tenants":["a","b"]}}}"#)
                .unwrap();
        assert_eq!(
            reply,
            Reply::Ok(Response::Tenants {
                tenants: vec!["a".into(), "b".into()]
            })
        );
    }

    #[test]
    fn reply_round_trips() {
        let reply = Reply::Err(WireError::unknown_tenant("x"));
        let bytes = encode_reply(&reply).unwrap();
        assert_eq!(decode_reply(&bytes).unwrap(), reply);
        let ok = Reply::Ok(Response::Committed {
            audit_id: 3,
            seats_used: 7,
        });
        assert_eq!(decode_reply(&encode_reply(&ok).unwrap()).unwrap(), ok);
    }

    #[test]
    fn tells_bad_json_from_bad_version_from_bad_shape() {
        assert!(matches!(
            decode_reply(b"{not json"),
            Err(MessageError::Json(_))
        ));
        assert!(matches!(decode_reply(b""), Err(MessageError::Json(_))));
        assert_eq!(
            decode_reply(br#"{"v":2,"result":{"whatever":1}}"#),
            Err(MessageError::Version {
                found: 2,
                expected: 1
            })
        );
        assert!(matches!(
            decode_reply(br#"{"result":{"ok":{"type":"aborted"}}}"#),
            Err(MessageError::Shape(m)) if m.contains("`v`")
        ));
        assert!(matches!(
            decode_reply(br#"{"v":1,"result":{"ok":{"type":"nonsense"}}}"#),
            Err(MessageError::Shape(_))
        ));
        assert!(matches!(
            decode_reply(b"[1,2]"),
            Err(MessageError::Shape(_))
        ));
    }

    #[test]
    fn facts_carry_attributes_only_when_there_are_some() {
        let facts = |attributes: &str| {
            format!(
                r#"{{"v":1,"result":{{"ok":{{"type":"facts","facts":{{"tenant":{{"id":"t","plan":"pro","seats_total":1,"seats_used":0{attributes}}},"member":{{"id":"m","deleted_at":"2026-11-01T00:00:00Z","reason":"removed_by_admin","deletion":"completed"}}}}}}}}}}"#
            )
        };
        // What a plugin built before attributes sends: read as none.
        let Reply::Ok(Response::Facts { facts: old }) = decode_reply(facts("").as_bytes()).unwrap()
        else {
            panic!("facts")
        };
        assert!(old.tenant.attributes.is_empty());
        // Encoded again: still no `attributes` key anywhere.
        let again = encode_reply(&Reply::Ok(Response::Facts { facts: old })).unwrap();
        assert!(!String::from_utf8(again).unwrap().contains("attributes"));
        let with = facts(r#","attributes":{"region":"eu"}"#);
        let Reply::Ok(Response::Facts { facts: new }) = decode_reply(with.as_bytes()).unwrap()
        else {
            panic!("facts")
        };
        assert_eq!(new.tenant.attributes.to_json(), r#"{"region":"eu"}"#);
        // A value no attribute may hold is a malformed message.
        let bad = facts(r#","attributes":{"rate":1.5}"#);
        assert!(
            matches!(decode_reply(bad.as_bytes()), Err(MessageError::Shape(m)) if m.contains("`rate`")),
            "{:?}",
            decode_reply(bad.as_bytes())
        );
    }

    #[test]
    fn unknown_error_kinds_are_kept_as_other() {
        let reply = decode_reply(
            br#"{"v":1,"result":{"err":{"kind":"quota_exceeded","message":"too many"}}}"#,
        )
        .unwrap();
        assert_eq!(
            reply,
            Reply::Err(WireError::new(ErrorKind::Other, "too many"))
        );
    }
}
