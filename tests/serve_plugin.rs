//! `restorectl serve` over a plugin directory (the jsondir example plugin):
//! the same decisions and the same NDJSON stream as `restorectl` over the
//! in-memory adapter on the same data.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

#[path = "../adapters/plugin/tests/support/locate.rs"]
mod locate;
mod support;

use restore_directory::Snapshot;
use serde_json::{json, Value};
use support::setup::Setup;

const AT: &str = "2026-11-24T10:00:00Z";

#[test]
fn the_service_over_a_plugin_decides_as_the_cli_over_memory() {
    let setup = Setup::without_sqlite();
    let snapshot = Snapshot::load(&support::fixture("directory.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    restore_plugin_jsondir::write_snapshot(dir.path(), &snapshot).unwrap();
    let plugin = format!(
        "plugin:{}?root={}",
        locate::plugin_library("restore-plugin-jsondir").display(),
        dir.path().display()
    );
    let memory = format!("memory:{}", support::fixture("directory.yaml").display());
    let server = setup.serve(&plugin, &[]);

    let mut compared = 0;
    for tenant in &snapshot.tenants {
        let actor = tenant.members.first().map(|m| m.id.as_str());
        for member in &tenant.deleted_members {
            let mut body = json!({"tenant": tenant.id, "member": member.id, "at": AT});
            let mut args = vec![
                "eval", "--tenant", &tenant.id, "--member", &member.id, "--at", AT,
            ];
            if let Some(actor) = actor {
                body["actor"] = json!(actor);
                args.extend_from_slice(&["--actor", actor]);
            }
            let served = server.post("/v1/eligibility", &body).ok();
            let (code, out, err) = setup.cli(&memory, &args);
            assert!(code == 0 || code == 1, "{err}");
            let want: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(served, want, "{}/{}", tenant.id, member.id);
            compared += 1;
        }
    }
    assert!(compared >= 15, "{compared} members compared");

    let stream = server.get(&format!(
        "/v1/tenants/acme/deleted-members?actor=u_anna&at={AT}"
    ));
    assert_eq!(stream.status, 200, "{stream:?}");
    let (code, cli, err) = setup.cli(
        &memory,
        &[
            "eval-all", "--tenant", "acme", "--actor", "u_anna", "--at", AT, "--output", "jsonl",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let parse = |text: &str| {
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(parse(&stream.body), parse(&cli));
    assert_eq!(server.get("/readyz").ok()["status"], "ready");
}
