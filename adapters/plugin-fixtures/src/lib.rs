//! Test fixture: a directory plugin that misbehaves as its config says,
//! so the host's error paths can be exercised. Config `mode=MODE`:
//!
//! - `panic`: every call panics.
//! - `panic-create`: `create` panics.
//! - `refuse`: `create` returns an error.
//! - `garbage`: replies are not JSON.
//! - `wrong-version`: replies carry message version 99.
//! - `wrong-shape`: replies are valid version-1 messages of the wrong type.
//! - `other-tenant`: `facts` answers about tenant `intruder`.
//! - `out-of-order`: `deleted_members` pages are not in id order.
//! - `unknown-tenant`: every request fails with `unknown_tenant`.
//! - `before-tenants`: answers like a plugin built before the `tenants`
//!   request existed (`bad_request`, as its decoder would); other requests
//!   fail with `unsupported`.

// A test fixture: it misbehaves (panics) on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use chrono::{TimeZone, Utc};
use restore_directory::RestoreRequest;
use restore_engine::decision::Decision;
use restore_engine::facts::{
    Conflicts, DeletedMember, DeletionReason, DeletionState, Facts, TenantFacts,
};
use restore_plugin_abi::message::{self, Reply, Request, Response};
use restore_plugin_abi::{export_plugin, Committed, PluginDirectory, Restoring, WireError};

export_plugin!(Fixture);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Panic,
    Garbage,
    WrongVersion,
    WrongShape,
    OtherTenant,
    OutOfOrder,
    UnknownTenant,
    BeforeTenants,
}

/// The misbehaving plugin.
pub struct Fixture {
    mode: Mode,
}

fn facts(tenant: &str, member: &str) -> Facts {
    Facts {
        tenant: TenantFacts {
            id: tenant.into(),
            plan: "pro".into(),
            seats_total: 10,
            seats_used: 1,
            attributes: Default::default(),
        },
        member: DeletedMember {
            id: member.to_owned(),
            email: None,
            phone: None,
            deleted_at: Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap(),
            reason: DeletionReason::RemovedByAdmin,
            deletion: DeletionState::Completed,
            removed_from_list: false,
            resources: Default::default(),
            attributes: Default::default(),
        },
        conflicts: Conflicts::default(),
        actor: None,
    }
}

fn unsupported() -> WireError {
    WireError::new(
        restore_plugin_abi::ErrorKind::Unsupported,
        "the fixture answers through `call_raw` only",
    )
}

impl PluginDirectory for Fixture {
    fn create(config: &str) -> Result<Self, String> {
        let mode = match config.strip_prefix("mode=") {
            Some("panic") => Mode::Panic,
            Some("panic-create") => panic!("fixture panics in create"),
            Some("refuse") => return Err("fixture refuses every config".into()),
            Some("garbage") => Mode::Garbage,
            Some("wrong-version") => Mode::WrongVersion,
            Some("wrong-shape") => Mode::WrongShape,
            Some("other-tenant") => Mode::OtherTenant,
            Some("out-of-order") => Mode::OutOfOrder,
            Some("unknown-tenant") => Mode::UnknownTenant,
            Some("before-tenants") => Mode::BeforeTenants,
            _ => return Err(format!("unknown fixture config `{config}`")),
        };
        Ok(Fixture { mode })
    }

    fn facts(&self, _: &str, _: &str, _: Option<&str>) -> Result<Facts, WireError> {
        Err(unsupported())
    }

    fn deleted_members(
        &self,
        _: &str,
        _: Option<&str>,
        _: Option<&str>,
        _: usize,
    ) -> Result<Vec<Facts>, WireError> {
        Err(unsupported())
    }

    fn restore_begin(&self, _: &RestoreRequest) -> Result<Restoring, WireError> {
        Err(unsupported())
    }

    fn restore_commit(&self, _: u64, _: &Decision) -> Result<Committed, WireError> {
        Err(unsupported())
    }

    fn restore_abort(&self, _: u64) -> Result<(), WireError> {
        Err(unsupported())
    }

    fn call_raw(&self, request: &[u8]) -> Vec<u8> {
        let reply = match self.mode {
            Mode::Panic => panic!("fixture panics on purpose"),
            Mode::Garbage => return b"this is not json {".to_vec(),
            Mode::WrongVersion => {
                return br#"{"v":99,"result":{"ok":{"type":"aborted"}}}"#.to_vec()
            }
            Mode::WrongShape => Reply::Ok(Response::Aborted),
            Mode::UnknownTenant => Reply::Err(WireError::unknown_tenant("whatever")),
            Mode::BeforeTenants => match message::decode_request(request) {
                Ok(Request::Tenants) => Reply::Err(WireError::new(
                    restore_plugin_abi::ErrorKind::BadRequest,
                    "plugin cannot read the request: unknown variant `tenants`",
                )),
                _ => Reply::Err(unsupported()),
            },
            Mode::OtherTenant | Mode::OutOfOrder => match message::decode_request(request) {
                Ok(Request::Facts { member, .. }) => Reply::Ok(Response::Facts {
                    facts: facts("intruder", &member),
                }),
                Ok(Request::DeletedMembers { tenant, .. }) => Reply::Ok(Response::Page {
                    members: vec![facts(&tenant, "u_b"), facts(&tenant, "u_a")],
                }),
                _ => Reply::Err(unsupported()),
            },
        };
        message::encode_reply(&reply).unwrap_or_default()
    }
}
