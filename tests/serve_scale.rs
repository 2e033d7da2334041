//! Scale-out (issue 12, "Scale"): two `serve` processes on one PostgreSQL
//! schema, 20 concurrent restores of different members racing for the last
//! free seat, spread over both servers and released together by a barrier.
//! Exactly one restore wins; every other request is a 409 refused for the
//! seat (or a `restore_conflict`), and seats and audit rows agree.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use std::sync::Barrier;

use serde_json::json;
use support::pg::PgSchema;
use support::setup::{import, Setup};

#[test]
fn twenty_restores_for_the_last_seat_over_two_servers() {
    let setup = Setup::without_sqlite();
    let schema = PgSchema::create("race");
    import(&setup.snapshot, &schema.url);
    assert_eq!(
        schema.query("SELECT seats_total - seats_used FROM tenants WHERE id = 'race'"),
        "1"
    );
    let servers = [setup.serve(&schema.url, &[]), setup.serve(&schema.url, &[])];
    // Warm both pools so the race is between transactions, not connects.
    for server in &servers {
        server.get("/readyz").ok();
        server
            .post(
                "/v1/eligibility",
                &json!({"tenant": "race", "member": "r_00", "actor": "r_admin"}),
            )
            .ok();
    }

    let barrier = Barrier::new(20);
    let replies: Vec<(String, support::server::Reply)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let server = &servers[i % 2];
                let barrier = &barrier;
                s.spawn(move || {
                    let member = format!("r_{i:02}");
                    let path = format!("/v1/tenants/race/members/{member}/restore");
                    let body = json!({"actor": "r_admin", "department": "ops"});
                    barrier.wait();
                    (member, server.post(&path, &body))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let winners: Vec<&String> = replies
        .iter()
        .filter(|(_, r)| r.status == 200)
        .map(|(m, _)| m)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one restore: {replies:?}");
    let winner = winners[0];
    for (member, reply) in &replies {
        if member == winner {
            let receipt = reply.json();
            assert_eq!(receipt["seats_used"], 50, "{receipt}");
            continue;
        }
        assert_eq!(reply.status, 409, "{member}: {reply:?}");
        let body = reply.json();
        let seat = body["allowed"] == false
            && body["blockers"]
                .as_array()
                .is_some_and(|b| b.iter().any(|b| b["rule"] == "no_available_seat"));
        let conflict = body["code"] == "restore_conflict";
        assert!(seat || conflict, "{member}: refused for the seat: {body}");
    }

    // The database agrees: one seat taken, one audit row, one member back.
    assert_eq!(
        schema.query("SELECT seats_used FROM tenants WHERE id = 'race'"),
        "50"
    );
    assert_eq!(
        schema.query("SELECT member_id FROM audit WHERE tenant_id = 'race'"),
        winner.as_str()
    );
    assert_eq!(
        schema.query(
            "SELECT id FROM deleted_members WHERE tenant_id = 'race' AND restored_at IS NOT NULL"
        ),
        winner.as_str()
    );
    assert_eq!(
        schema.query("SELECT count(*) FROM members WHERE tenant_id = 'race'"),
        "2",
        "the admin and the restored member"
    );
    // Both servers see the same state afterwards.
    for server in &servers {
        let stream = server.get("/v1/tenants/race/deleted-members?actor=r_admin");
        assert_eq!(stream.status, 200);
        assert_eq!(stream.body.lines().count(), 19);
        assert!(!stream.body.contains(&format!("\"member\":\"{winner}\"")));
    }
}

#[test]
fn concurrent_restores_of_one_member_restore_it_once() {
    let setup = Setup::without_sqlite();
    let schema = PgSchema::create("same");
    import(&setup.snapshot, &schema.url);
    let servers = [setup.serve(&schema.url, &[]), setup.serve(&schema.url, &[])];
    for server in &servers {
        server.get("/readyz").ok();
    }
    let barrier = Barrier::new(10);
    let replies: Vec<support::server::Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let server = &servers[i % 2];
                let barrier = &barrier;
                s.spawn(move || {
                    let body = json!({"actor": "l_admin", "department": "ops"});
                    barrier.wait();
                    server.post("/v1/tenants/live/members/l_c/restore", &body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "one restore: {replies:?}");
    for reply in replies.iter().filter(|r| r.status != 200) {
        // Lost the race inside the transaction, or came after it.
        let code = reply.json()["code"].clone();
        assert!(
            (reply.status == 409 && code == "restore_conflict")
                || (reply.status == 404 && code == "unknown_member"),
            "{reply:?}"
        );
    }
    assert_eq!(
        schema.query("SELECT seats_used FROM tenants WHERE id = 'live'"),
        "9"
    );
    assert_eq!(
        schema.query("SELECT count(*) FROM audit WHERE member_id = 'l_c'"),
        "1"
    );
}
