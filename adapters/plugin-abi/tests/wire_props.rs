//! Property tests of the wire messages: whatever bytes arrive, decoding and
//! dispatching return a value or an error, never panic, and an error is
//! short whatever the input's size.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use restore_directory::RestoreRequest;
use restore_engine::decision::Decision;
use restore_engine::facts::Facts;
use restore_plugin_abi::message::{
    decode_reply, decode_request, encode_reply, encode_request, ErrorKind, Reply, Request,
    Response, WireError,
};
use restore_plugin_abi::{dispatch, Committed, PluginDirectory, Restoring};
use serde_json::{json, Map, Value};

/// Longest error text any input may produce (the cut, the wrapper text).
const MAX_ERROR_LEN: usize = 600;

/// Words the decoder looks for, so that generated JSON reaches deep
/// into the shapes instead of failing on the first key.
const KEYS: &[&str] = &[
    "v",
    "request",
    "result",
    "op",
    "type",
    "ok",
    "err",
    "kind",
    "message",
    "tenant",
    "member",
    "actor",
    "after",
    "limit",
    "token",
    "facts",
    "members",
    "tenants",
    "decision",
    "audit_id",
    "seats_used",
    "department",
    "at",
    "id",
    "plan",
    "seats_total",
];
const WORDS: &[&str] = &[
    "facts",
    "deleted_members",
    "tenants",
    "restore_begin",
    "restore_commit",
    "restore_abort",
    "page",
    "begun",
    "committed",
    "aborted",
    "unknown_tenant",
    "bad_data",
    "pro",
    "acme",
    "2026-11-24T10:00:00Z",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(WORDS).prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// A message envelope around arbitrary JSON, usually at the right version.
fn envelope() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(json!(1)), json_value()],
        prop::sample::select(&["request", "result", "other"][..]),
        json_value(),
    )
        .prop_map(|(v, key, body)| {
            let mut object = Map::new();
            object.insert("v".into(), v);
            object.insert(key.into(), body);
            serde_json::to_vec(&Value::Object(object)).unwrap_or_default()
        })
}

fn valid_request() -> impl Strategy<Value = Request> {
    let text = || ".{0,20}";
    prop_oneof![
        (text(), text(), prop::option::of(text())).prop_map(|(tenant, member, actor)| {
            Request::Facts {
                tenant,
                member,
                actor,
            }
        }),
        (
            text(),
            prop::option::of(text()),
            prop::option::of(text()),
            any::<u32>()
        )
            .prop_map(|(tenant, actor, after, limit)| Request::DeletedMembers {
                tenant,
                actor,
                after,
                limit,
            }),
        Just(Request::Tenants),
        any::<u64>().prop_map(|token| Request::RestoreAbort { token }),
        (text(), text(), text(), text(), 0i64..4_000_000_000).prop_map(
            |(tenant, member, actor, department, secs)| Request::RestoreBegin {
                request: RestoreRequest {
                    tenant,
                    member,
                    actor,
                    department,
                    at: Utc.timestamp_opt(secs, 0).single().unwrap_or_default(),
                },
            }
        ),
    ]
}

fn error_text_is_short<T>(result: &Result<T, impl std::fmt::Display>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        let text = e.to_string();
        prop_assert!(
            text.len() <= MAX_ERROR_LEN,
            "{} bytes: {text:.200}",
            text.len()
        );
    }
    Ok(())
}

/// A plugin that answers every well-formed request with an error: dispatch
/// is under test, not a store.
struct Refuses;

impl PluginDirectory for Refuses {
    fn create(_: &str) -> Result<Self, String> {
        Ok(Refuses)
    }
    fn facts(&self, tenant: &str, _: &str, _: Option<&str>) -> Result<Facts, WireError> {
        Err(WireError::unknown_tenant(tenant))
    }
    fn deleted_members(
        &self,
        tenant: &str,
        _: Option<&str>,
        _: Option<&str>,
        _: usize,
    ) -> Result<Vec<Facts>, WireError> {
        Err(WireError::unknown_tenant(tenant))
    }
    fn restore_begin(&self, request: &RestoreRequest) -> Result<Restoring, WireError> {
        Err(WireError::unknown_tenant(&request.tenant))
    }
    fn restore_commit(&self, _: u64, _: &Decision) -> Result<Committed, WireError> {
        Err(WireError::new(ErrorKind::BadRequest, "no such token"))
    }
    fn restore_abort(&self, _: u64) -> Result<(), WireError> {
        Err(WireError::new(ErrorKind::BadRequest, "no such token"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_errors_stay_short(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        error_text_is_short(&decode_request(&bytes))?;
        error_text_is_short(&decode_reply(&bytes))?;
    }

    #[test]
    fn arbitrary_json_envelopes_never_panic(bytes in envelope()) {
        error_text_is_short(&decode_request(&bytes))?;
        error_text_is_short(&decode_reply(&bytes))?;
    }

    #[test]
    fn a_huge_value_is_not_echoed_in_the_error(
        size in 10_000usize..200_000,
        // Each needs a field that a string `limit` or `token` cannot be.
        op in prop::sample::select(&["facts", "deleted_members", "restore_begin", "restore_commit", "restore_abort"][..]),
    ) {
        let junk = "x".repeat(size);
        let bytes = serde_json::to_vec(&json!({"v": 1, "request": {"op": op, "tenant": junk, "limit": junk, "token": junk}}))
            .unwrap_or_default();
        let result = decode_request(&bytes);
        prop_assert!(result.is_err());
        error_text_is_short(&result)?;
    }

    #[test]
    fn requests_round_trip(request in valid_request()) {
        let bytes = encode_request(&request).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decode_request(&bytes).ok(), Some(request));
    }

    #[test]
    fn damaged_requests_never_panic(
        request in valid_request(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut bytes = encode_request(&request).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        error_text_is_short(&decode_request(&bytes))?;
    }

    #[test]
    fn dispatch_answers_every_input_with_a_reply(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        envelope(),
        valid_request().prop_map(|r| encode_request(&r).unwrap_or_default()),
    ]) {
        let reply = dispatch(&Refuses, &bytes);
        let reply = decode_reply(&reply).map_err(|e| TestCaseError::fail(e.to_string()))?;
        match reply {
            // Refuses never succeeds.
            Reply::Ok(response) => prop_assert!(false, "{response:?}"),
            Reply::Err(e) => {
                prop_assert!(e.message.len() <= MAX_ERROR_LEN, "{} bytes", e.message.len());
                if decode_request(&bytes).is_err() {
                    prop_assert_eq!(e.kind, ErrorKind::BadRequest);
                }
            }
        }
    }
}

#[test]
fn an_error_reply_round_trips() {
    let reply = Reply::Err(WireError::new(ErrorKind::Conflict, "taken"));
    let bytes = encode_reply(&reply).unwrap();
    assert_eq!(decode_reply(&bytes).unwrap(), reply);
    let ok = Reply::Ok(Response::Aborted);
    assert_eq!(decode_reply(&encode_reply(&ok).unwrap()).unwrap(), ok);
}
