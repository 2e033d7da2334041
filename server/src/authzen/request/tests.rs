//! Payloads are copied from the Authorization API 1.0 text and from its
//! certification scenario (openid/authzen, `certification/
//! authorization-api-1_0-scenario.md`), section numbers as given there.

use super::*;
use serde_json::json;

fn body(v: Value) -> Map<String, Value> {
    parse_body(v.to_string().as_bytes()).unwrap()
}

fn single(v: Value) -> Result<Evaluation, Malformed> {
    parse_evaluation(&body(v))
}

fn batch(v: Value) -> (Vec<Result<Evaluation, Malformed>>, Semantic) {
    match parse_evaluations(&body(v), 1000).unwrap() {
        EvaluationsRequest::Batch { items, semantic } => (items, semantic),
        other => panic!("expected a batch, got {other:?}"),
    }
}

/// Spec §6.1 example request.
#[test]
fn spec_single_request_example_parses() {
    let e = single(json!({
      "subject": {"type": "user", "id": "alice@example.com"},
      "resource": {"type": "account", "id": "123"},
      "action": {"name": "can_read", "properties": {"method": "GET"}},
      "context": {"time": "1985-10-26T01:22-07:00"}
    }))
    .unwrap();
    assert_eq!(e.subject.kind, "user");
    assert_eq!(e.subject.id, "alice@example.com");
    assert_eq!(e.resource.id, "123");
    assert_eq!(e.action.name, "can_read");
    assert_eq!(e.action.properties["method"], "GET");
    assert_eq!(e.context["time"], "1985-10-26T01:22-07:00");
}

/// Certification §2.2.8 (extra properties) and §2.2.9 (unknown fields).
#[test]
fn extra_properties_and_unknown_fields_are_ignored() {
    let e = single(json!({
      "subject": {"type": "user", "id": "alice", "properties": {"department": "Sales", "role": "manager"}},
      "action": {"name": "read", "properties": {"method": "GET"}},
      "resource": {"type": "record", "id": "record-1", "properties": {"status": "active", "owner": "bob"}},
      "foo": "bar",
      "futureField": {"nested": true}
    }))
    .unwrap();
    assert_eq!(e.resource.properties["owner"], "bob");
}

/// Certification §2.4.1, §2.4.2, §2.4.6: missing or ill-typed required
/// members are 400, naming the member.
#[test]
fn missing_and_ill_typed_members_are_malformed() {
    let cases = [
        (
            json!({"action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}),
            "subject",
            "is required",
        ),
        (
            json!({"subject": {"type": "user", "id": "alice"}, "resource": {"type": "record", "id": "record-1"}}),
            "action",
            "is required",
        ),
        (
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}}),
            "resource",
            "is required",
        ),
        (
            json!({"subject": {"id": "alice"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}),
            "subject.type",
            "is required",
        ),
        (
            json!({"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}),
            "subject.id",
            "is required",
        ),
        (
            json!({"subject": {"type": "user", "id": "alice"}, "action": {}, "resource": {"type": "record", "id": "record-1"}}),
            "action.name",
            "is required",
        ),
        (
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "resource": {"id": "record-1"}}),
            "resource.type",
            "is required",
        ),
        (
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "resource": {"type": "record"}}),
            "resource.id",
            "is required",
        ),
        (
            json!({"subject": "alice", "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}),
            "subject",
            "must be an object",
        ),
        (
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": 123}, "resource": {"type": "record", "id": "record-1"}}),
            "action.name",
            "must be a string",
        ),
        (
            json!({"subject": {"type": "user", "id": "alice", "properties": []}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}}),
            "subject.properties",
            "must be an object",
        ),
        (
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}, "context": "now"}),
            "context",
            "must be an object",
        ),
    ];
    for (payload, path, message) in cases {
        let err = single(payload.clone()).unwrap_err();
        assert_eq!(
            (err.path.as_str(), err.message.as_str()),
            (path, message),
            "{payload}"
        );
        assert!(err.detail().starts_with(&format!("`{path}`")));
    }
}

/// Certification §2.4.4, §2.4.5 and §12.1.1 (top level is an object).
#[test]
fn empty_malformed_and_non_object_bodies_are_malformed() {
    for bytes in [
        &b""[..],
        b"  \n",
        b"{",
        b"{\"subject\": }",
        b"[1,2]",
        b"\"x\"",
        b"null",
    ] {
        let err = parse_body(bytes).unwrap_err();
        assert!(err.path.is_empty());
        assert!(!err.message.is_empty(), "{bytes:?}");
    }
}

/// Spec §7.1 example: three requests, no defaults.
#[test]
fn spec_batch_without_defaults() {
    let (items, semantic) = batch(json!({"evaluations": [
      {"subject": {"type": "user", "id": "alice@example.com"}, "action": {"name": "can_read"},
       "resource": {"type": "document", "id": "boxcarring.md"}, "context": {"time": "2024-05-31T15:22-07:00"}},
      {"subject": {"type": "user", "id": "alice@example.com"}, "action": {"name": "can_read"},
       "resource": {"type": "document", "id": "subject-search.md"}, "context": {"time": "2024-05-31T15:22-07:00"}},
      {"subject": {"type": "user", "id": "alice@example.com"}, "action": {"name": "can_read"},
       "resource": {"type": "document", "id": "resource-search.md"}, "context": {"time": "2024-05-31T15:22-07:00"}}
    ]}));
    assert_eq!(semantic, Semantic::ExecuteAll);
    let ids: Vec<String> = items
        .iter()
        .map(|i| i.as_ref().unwrap().resource.id.clone())
        .collect();
    assert_eq!(
        ids,
        ["boxcarring.md", "subject-search.md", "resource-search.md"]
    );
}

/// Spec §7.1.1 second example: defaults with an overriding action.
#[test]
fn spec_batch_defaults_and_override() {
    let (items, _) = batch(json!({
      "subject": {"type": "user", "id": "alice@example.com"},
      "context": {"time": "2024-05-31T15:22-07:00"},
      "action": {"name": "can_read"},
      "evaluations": [
        {"resource": {"type": "document", "id": "boxcarring.md"}},
        {"resource": {"type": "document", "id": "subject-search.md"}},
        {"action": {"name": "can_edit"}, "resource": {"type": "document", "id": "resource-search.md"}}
      ]
    }));
    let items: Vec<Evaluation> = items.into_iter().map(Result::unwrap).collect();
    assert_eq!(items[0].action.name, "can_read");
    assert_eq!(items[2].action.name, "can_edit");
    assert!(items.iter().all(|e| e.subject.id == "alice@example.com"));
    assert!(items
        .iter()
        .all(|e| e.context["time"] == "2024-05-31T15:22-07:00"));
}

/// Certification §3.2.6 (context override is whole) and §3.2.7 (`{}`
/// inherits every default; a given entity replaces the default whole).
#[test]
fn context_and_entities_are_replaced_whole_not_merged() {
    let (items, _) = batch(json!({
      "subject": {"type": "user", "id": "alice"},
      "action": {"name": "read"},
      "context": {"time": "2025-06-27T18:03-07:00"},
      "evaluations": [
        {"resource": {"type": "record", "id": "record-1"}},
        {"resource": {"type": "record", "id": "record-2"},
         "context": {"time": "2025-06-27T19:00-07:00", "source": "batch-override"}}
      ]
    }));
    let second = items[1].as_ref().unwrap();
    assert_eq!(second.context["source"], "batch-override");
    assert_eq!(second.context["time"], "2025-06-27T19:00-07:00");
    assert_eq!(items[0].as_ref().unwrap().context.len(), 1);

    let (items, _) = batch(json!({
      "subject": {"type": "user", "id": "alice"},
      "action": {"name": "write"},
      "resource": {"type": "record", "id": "record-1", "properties": {"status": "active"}},
      "evaluations": [{}, {"resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}]
    }));
    assert_eq!(
        items[0].as_ref().unwrap().resource.properties["status"],
        "active"
    );
    assert_eq!(
        items[1].as_ref().unwrap().resource.properties["status"],
        "archived"
    );
}

/// Certification §3.4.1: an item missing a required member fails alone.
#[test]
fn an_incomplete_item_fails_alone() {
    let (items, semantic) = batch(json!({
      "subject": {"type": "user", "id": "alice"},
      "action": {"name": "read"},
      "options": {"evaluations_semantic": "execute_all"},
      "evaluations": [{"resource": {"type": "record", "id": "record-1"}}, {}, "x",
                      {"resource": {"type": "record"}}]
    }));
    assert_eq!(semantic, Semantic::ExecuteAll);
    assert!(items[0].is_ok());
    assert_eq!(
        items[1].as_ref().unwrap_err().path,
        "evaluations[1].resource"
    );
    assert_eq!(items[2].as_ref().unwrap_err().path, "evaluations[2]");
    assert_eq!(
        items[3].as_ref().unwrap_err().path,
        "evaluations[3].resource.id"
    );
}

/// Certification §3.4.2 / §3.4.3: no or empty `evaluations` is a single request.
#[test]
fn missing_or_empty_evaluations_is_a_single_request() {
    for extra in [json!({}), json!({"evaluations": []})] {
        let mut v = json!({
          "subject": {"type": "user", "id": "alice"},
          "action": {"name": "read"},
          "resource": {"type": "record", "id": "record-1"}
        });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        assert!(matches!(
            parse_evaluations(&body(v), 10).unwrap(),
            EvaluationsRequest::Single(_)
        ));
    }
    let err = parse_evaluations(&body(json!({"evaluations": []})), 10).unwrap_err();
    assert!(matches!(err, EvaluationsError::Malformed(m) if m.path == "subject"));
}

/// Spec §7.1.2.1: the three semantics; anything else is malformed.
#[test]
fn semantics_are_read_from_options() {
    for (name, expected) in [
        ("execute_all", Semantic::ExecuteAll),
        ("deny_on_first_deny", Semantic::DenyOnFirstDeny),
        ("permit_on_first_permit", Semantic::PermitOnFirstPermit),
    ] {
        let (_, semantic) = batch(json!({
          "subject": {"type": "user", "id": "alice@example.com"},
          "action": {"name": "read"},
          "options": {"evaluations_semantic": name, "another_option": "value"},
          "evaluations": [{"resource": {"type": "document", "id": "1"}}]
        }));
        assert_eq!(semantic, expected);
        assert_eq!(semantic.as_str(), name);
    }
    for options in [
        json!({"evaluations_semantic": "first"}),
        json!({"evaluations_semantic": 1}),
        json!("x"),
    ] {
        let err = parse_evaluations(&body(json!({"options": options, "evaluations": [{}]})), 10)
            .unwrap_err();
        assert!(matches!(err, EvaluationsError::Malformed(m) if m.path.starts_with("options")));
    }
}

#[test]
fn bad_top_level_defaults_and_too_many_items_fail_the_whole_request() {
    let err = parse_evaluations(
        &body(json!({"subject": {"type": "user"}, "evaluations": [{}]})),
        10,
    )
    .unwrap_err();
    assert!(matches!(err, EvaluationsError::Malformed(m) if m.path == "subject.id"));
    let err = parse_evaluations(&body(json!({"evaluations": {"a": 1}})), 10).unwrap_err();
    assert!(matches!(err, EvaluationsError::Malformed(m) if m.path == "evaluations"));
    let err = parse_evaluations(&body(json!({"evaluations": [{}, {}, {}]})), 2).unwrap_err();
    assert_eq!(err, EvaluationsError::TooMany { count: 3, max: 2 });
}

fn restore_evaluation(resource_properties: Value, context: Value) -> Evaluation {
    single(json!({
      "subject": {"type": "user", "id": "u_anna"},
      "action": {"name": "restore"},
      "resource": {"type": "deleted_member", "id": "u_bob", "properties": resource_properties},
      "context": context
    }))
    .unwrap()
}

#[test]
fn the_contract_mapping() {
    let q = question(&restore_evaluation(
        json!({"tenant": "acme"}),
        json!({"time": "2026-11-24T10:00:00Z", "policy_version": "1.0.0", "ip": "10.0.0.1"}),
    ))
    .unwrap();
    assert_eq!(
        q,
        Question {
            tenant: "acme".into(),
            member: "u_bob".into(),
            actor: "u_anna".into(),
            at: Some("2026-11-24T10:00:00Z".parse().unwrap()),
            policy: None,
            policy_version: Some("1.0.0".into()),
            // The other members are kept, for the policy's request context.
            context: [("ip".to_string(), json!("10.0.0.1"))]
                .into_iter()
                .collect(),
        }
    );
}

#[test]
fn other_types_and_actions_are_not_decided_with_a_reason() {
    // Certification §2.2.1's fixture request, sent to this PDP.
    let e = single(json!({
      "subject": {"type": "user", "id": "alice"},
      "action": {"name": "read"},
      "resource": {"type": "record", "id": "record-1"}
    }))
    .unwrap();
    let Err(Refusal::NotDecided { code, reason }) = question(&e) else {
        panic!("expected a refusal")
    };
    assert_eq!(code, "unsupported_action");
    assert!(
        reason.contains("`read`") && reason.contains("`restore`"),
        "{reason}"
    );

    let mut e = restore_evaluation(json!({"tenant": "acme"}), json!({}));
    e.subject.kind = "service".into();
    assert!(matches!(
        question(&e),
        Err(Refusal::NotDecided {
            code: "unsupported_subject_type",
            ..
        })
    ));
    let mut e = restore_evaluation(json!({"tenant": "acme"}), json!({}));
    e.resource.kind = "member".into();
    assert!(matches!(
        question(&e),
        Err(Refusal::NotDecided {
            code: "unsupported_resource_type",
            ..
        })
    ));
}

#[test]
fn bad_restore_values_are_invalid_with_the_member_named() {
    let cases = [
        (
            json!({}),
            json!({}),
            "`resource.properties.tenant` is required",
        ),
        (
            json!({"tenant": 7}),
            json!({}),
            "`resource.properties.tenant` must be",
        ),
        (
            json!({"tenant": "acme"}),
            json!({"time": "2026-11-24T10:00:00"}),
            "has no time zone",
        ),
        (
            json!({"tenant": "acme"}),
            json!({"time": "2026-11-24T10:00"}),
            "has no time zone",
        ),
        (
            json!({"tenant": "acme"}),
            json!({"time": "yesterday"}),
            "not an RFC 3339",
        ),
        (
            json!({"tenant": "acme"}),
            json!({"policy_version": 1}),
            "`context.policy_version` must be a string",
        ),
    ];
    for (props, context, expected) in cases {
        match question(&restore_evaluation(props.clone(), context.clone())) {
            Err(Refusal::Invalid { message }) => {
                assert!(message.contains(expected), "{message} lacks {expected}")
            }
            other => panic!("{props} {context}: {other:?}"),
        }
    }
}

#[test]
fn times_with_and_without_seconds() {
    let t = parse_time("1985-10-26T01:22-07:00").unwrap();
    assert_eq!(t, "1985-10-26T08:22:00Z".parse::<DateTime<Utc>>().unwrap());
    assert_eq!(
        parse_time("2026-11-24T10:00Z").unwrap(),
        parse_time("2026-11-24T10:00:00Z").unwrap()
    );
    assert!(parse_time("2026-11-24T10:00:00.5+01:00").is_ok());
    let long = "x".repeat(500);
    assert!(
        parse_time(&long).unwrap_err().len() < 200,
        "caller text is clipped"
    );
}
