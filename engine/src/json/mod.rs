//! Compact JSON for decisions, fast: the bytes `serde_json::to_writer` gives
//! for a [`Decision`], written without going through serde.
//!
//! Bulk output (`restorectl eval-all`, the service's NDJSON stream) encodes
//! hundreds of thousands of decisions that share most of their JSON: every
//! decision of one policy tier holds the same `Arc`s for its policy
//! reference, its requirements and (for a member with no listed items and no
//! exception) its resource table. [`DecisionEncoder`] renders each such part
//! once and copies the bytes afterwards; everything else is written directly,
//! escaped as `serde_json` escapes (only `"`, `\` and U+0000..U+001F; DEL and
//! non-ASCII text pass through unchanged) and with timestamps as chrono's
//! `Serialize` writes them (RFC 3339, `Z`, 0/3/6/9 fraction digits).
//!
//! The output is tested byte for byte against `serde_json` (unit tests here
//! and `engine/tests/json.rs`), so either may be used for the same contract.

mod escape;
mod shared;
mod time;

use std::cell::RefCell;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::decision::{BlockerHit, Code, Decision, PolicyRef, ResourceDecision, WarningHit};
use escape::{write_str, write_u32};
use shared::{ResourceTables, SharedParts};
use time::write_timestamp;

/// Appends `decision` to `out` as compact JSON, byte for byte what
/// `serde_json::to_writer(out, decision)` appends.
///
/// Uses a [`DecisionEncoder`] kept per thread, so repeated calls on one
/// thread reuse the rendered shared parts. A caller with a loop of its own
/// may as well hold a [`DecisionEncoder`] itself.
pub fn write_decision(out: &mut Vec<u8>, decision: &Decision) {
    thread_local! {
        static ENCODER: RefCell<DecisionEncoder> = const { RefCell::new(DecisionEncoder::new()) };
    }
    let encoded = ENCODER
        .try_with(|encoder| match encoder.try_borrow_mut() {
            Ok(mut encoder) => {
                encoder.encode(out, decision);
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false);
    if !encoded {
        // Only while the thread is being torn down: no cache, same bytes.
        DecisionEncoder::new().encode(out, decision);
    }
}

/// Longest quoted timestamp kept inline: chrono's widest is 37 bytes
/// (`"+262142-12-31T23:59:59.999999999Z"`).
const TIMESTAMP_CAP: usize = 40;

/// Encodes decisions as compact JSON (see [`write_decision`]), remembering
/// the rendered JSON of the parts decisions share.
///
/// A part is cached only when its `Arc` is shared (strong count ≥ 2: the
/// compiled policy holds one), never a member's own resource table. Parts
/// are recognised by address; each entry holds a [`std::sync::Weak`] to its
/// part, so the allocation, and with it the address, cannot be reused for
/// other content while the entry exists (an `Arc`'s content cannot change
/// while a `Weak` to it exists either). The encoder keeps no policy alive,
/// only the memory block of a dropped part until its entry goes. Up to 8
/// entries per kind; a dropped part's entry or else the oldest gives way,
/// so after a policy reload the old entries go as the new parts come in.
///
/// A member's own resource table (it lists items, or an exception applied)
/// mostly equals its tier's shared table: its entries that are equal to the
/// same entry of the shared table last written are copied from that
/// table's JSON.
#[derive(Debug)]
pub struct DecisionEncoder {
    policies: SharedParts<PolicyRef>,
    requires: SharedParts<[Arc<str>]>,
    resources: ResourceTables,
    /// The last `evaluated_at` rendered (a bulk run evaluates at one
    /// time), held inline so that a new time costs no allocation.
    evaluated_at: Option<(DateTime<Utc>, [u8; TIMESTAMP_CAP], usize)>,
}

impl Default for DecisionEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DecisionEncoder {
    pub const fn new() -> Self {
        DecisionEncoder {
            policies: SharedParts::new(),
            requires: SharedParts::new(),
            resources: ResourceTables::new(),
            evaluated_at: None,
        }
    }

    /// Appends `decision` to `out` as compact JSON.
    pub fn encode(&mut self, out: &mut Vec<u8>, decision: &Decision) {
        // Destructured so that a new field fails to compile here rather
        // than silently going missing from the output.
        let Decision {
            tenant,
            member,
            allowed,
            policy,
            evaluated_at,
            restorable_until,
            blockers,
            warnings,
            requires,
            resources,
        } = decision;
        out.extend_from_slice(b"{\"tenant\":");
        write_str(out, tenant);
        out.extend_from_slice(b",\"member\":");
        write_str(out, member);
        out.extend_from_slice(if *allowed {
            b",\"allowed\":true,\"policy\":"
        } else {
            b",\"allowed\":false,\"policy\":"
        });
        self.policies.write(out, policy, write_policy);
        out.extend_from_slice(b",\"evaluated_at\":");
        let cached = self
            .evaluated_at
            .as_ref()
            .filter(|(at, ..)| at == evaluated_at)
            .and_then(|(_, json, len)| json.get(..*len));
        if let Some(json) = cached {
            out.extend_from_slice(json);
        } else {
            let start = out.len();
            write_timestamp(out, evaluated_at);
            // Kept only if it fits (chrono's widest does).
            self.evaluated_at = out.get(start..).and_then(|json| {
                let mut copy = [0; TIMESTAMP_CAP];
                copy.get_mut(..json.len())?.copy_from_slice(json);
                Some((*evaluated_at, copy, json.len()))
            });
        }
        out.extend_from_slice(b",\"restorable_until\":");
        match restorable_until {
            Some(t) => write_timestamp(out, t),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"blockers\":");
        write_blockers(out, blockers);
        // Left out when empty, as the serde attribute says.
        if !warnings.is_empty() {
            out.extend_from_slice(b",\"warnings\":");
            write_warnings(out, warnings);
        }
        out.extend_from_slice(b",\"requires\":");
        self.requires.write(out, requires, write_requires);
        out.extend_from_slice(b",\"resources\":");
        self.resources.write(out, resources);
        out.push(b'}');
    }
}

fn write_policy(out: &mut Vec<u8>, policy: &PolicyRef) {
    let PolicyRef {
        name,
        version,
        tier,
        digest,
    } = policy;
    out.extend_from_slice(b"{\"name\":");
    write_str(out, name);
    out.extend_from_slice(b",\"version\":");
    write_str(out, version);
    out.extend_from_slice(b",\"tier\":");
    write_str(out, tier);
    out.extend_from_slice(b",\"digest\":");
    write_str(out, digest);
    out.push(b'}');
}

fn write_requires(out: &mut Vec<u8>, requires: &[Arc<str>]) {
    write_list(out, requires, |out, s| write_str(out, s));
}

pub(super) fn write_list<T>(
    out: &mut Vec<u8>,
    items: &[T],
    mut each: impl FnMut(&mut Vec<u8>, &T),
) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, item);
    }
    out.push(b']');
}

fn write_blockers(out: &mut Vec<u8>, blockers: &[BlockerHit]) {
    write_list(out, blockers, |out, b| {
        write_hit(
            out,
            &b.rule,
            &b.fact,
            b.code.as_ref(),
            &b.message,
            Some(&b.remedy),
        );
    });
}

fn write_warnings(out: &mut Vec<u8>, warnings: &[WarningHit]) {
    write_list(out, warnings, |out, w| {
        write_hit(
            out,
            &w.rule,
            &w.fact,
            w.code.as_ref(),
            &w.message,
            w.remedy.as_deref(),
        );
    });
}

/// One blocker or warning hit, fields in declaration order; a warning
/// without a remedy has no `remedy` member.
fn write_hit(
    out: &mut Vec<u8>,
    rule: &str,
    fact: &str,
    code: Option<&Code>,
    message: &str,
    remedy: Option<&str>,
) {
    out.extend_from_slice(b"{\"rule\":");
    write_str(out, rule);
    out.extend_from_slice(b",\"fact\":");
    write_str(out, fact);
    write_code(out, code);
    out.extend_from_slice(b",\"message\":");
    write_str(out, message);
    if let Some(remedy) = remedy {
        out.extend_from_slice(b",\"remedy\":");
        write_str(out, remedy);
    }
    out.push(b'}');
}

/// `,"code":…` when there is one: a JSON number or string, as written.
fn write_code(out: &mut Vec<u8>, code: Option<&Code>) {
    match code {
        None => {}
        Some(Code::Int(n)) => {
            use std::io::Write as _;
            out.extend_from_slice(b",\"code\":");
            // Writing to a `Vec` cannot fail.
            let _ = write!(out, "{n}");
        }
        Some(Code::Text(text)) => {
            out.extend_from_slice(b",\"code\":");
            write_str(out, text);
        }
    }
}

pub(super) fn write_resource(out: &mut Vec<u8>, resource: &ResourceDecision) {
    // Optional fields are left out when empty, as the serde attributes say.
    let ResourceDecision {
        resource,
        outcome,
        restored,
        not_restored,
        not_restored_items,
        reason,
    } = resource;
    out.extend_from_slice(b"{\"resource\":");
    write_str(out, resource);
    out.extend_from_slice(b",\"outcome\":\"");
    out.extend_from_slice(outcome.as_str().as_bytes());
    out.push(b'"');
    if let Some(n) = restored {
        out.extend_from_slice(b",\"restored\":");
        write_u32(out, *n);
    }
    if let Some(n) = not_restored {
        out.extend_from_slice(b",\"not_restored\":");
        write_u32(out, *n);
    }
    if !not_restored_items.is_empty() {
        out.extend_from_slice(b",\"not_restored_items\":");
        write_list(out, not_restored_items, |out, s| write_str(out, s));
    }
    if let Some(reason) = reason {
        out.extend_from_slice(b",\"reason\":");
        write_str(out, reason);
    }
    out.push(b'}');
}
