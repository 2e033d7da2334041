//! The decision contract (docs/design.md, "Decision"): what an evaluation returns.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which rules made a decision: enough to replay it later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct PolicyRef {
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub name: Arc<str>,
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub version: Arc<str>,
    /// The tier used: the policy's name for it (the default tier's name
    /// when the tenant's plan fell to it).
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub tier: Arc<str>,
    /// `sha256:<hex>` of the rule file's bytes.
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub digest: Arc<str>,
}

/// A blocker that holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct BlockerHit {
    /// The blocker's id in the rules, e.g. `window_expired`.
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub rule: Arc<str>,
    /// The fact it implements, e.g. `F2`.
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub fact: Arc<str>,
    /// The code a service answers with (e.g. a vendor's error number), when
    /// the rule gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    pub message: String,
    pub remedy: String,
}

/// A rule's `code`: a number or a text, as the rule file writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Code {
    Int(i64),
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    Text(Arc<str>),
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Code::Int(i) => write!(f, "{i}"),
            Code::Text(t) => f.write_str(t),
        }
    }
}

/// A warning rule that holds: the restore is allowed (or denied) as the
/// blockers say, with this to tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct WarningHit {
    /// The warning's id in the rules.
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub rule: Arc<str>,
    /// Its source reference, e.g. `F9`.
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub fact: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

/// What happens to a resource when the member is restored.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Comes back as it was.
    Restored,
    /// Comes back empty and must be set again.
    Reset,
    /// Does not come back.
    NotRestored,
    /// Re-derived by other rules (e.g. dynamic group mapping).
    Automatic,
    /// Each item comes back unless it was transferred to someone else.
    TransferDependent,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Restored => "restored",
            Outcome::Reset => "reset",
            Outcome::NotRestored => "not_restored",
            Outcome::Automatic => "automatic",
            Outcome::TransferDependent => "transfer_dependent",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "restored" => Outcome::Restored,
            "reset" => Outcome::Reset,
            "not_restored" => Outcome::NotRestored,
            "automatic" => Outcome::Automatic,
            "transfer_dependent" => Outcome::TransferDependent,
            _ => return None,
        })
    }
}

/// The outcome for one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ResourceDecision {
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub resource: Arc<str>,
    pub outcome: Outcome,
    /// Items that come back; present when the directory lists items for the
    /// resource or the outcome depends on them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_restored: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_restored_items: Vec<String>,
    /// Why an exception applied, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<String>))]
    pub reason: Option<Arc<str>>,
}

impl ResourceDecision {
    /// `outcome` for `resource`, with no items and no exception.
    pub(crate) fn plain(resource: Arc<str>, outcome: Outcome) -> Self {
        ResourceDecision {
            resource,
            outcome,
            restored: None,
            not_restored: None,
            not_restored_items: Vec::new(),
            reason: None,
        }
    }
}

/// The answer to "may this member be restored now, and what comes back?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Decision {
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub tenant: Arc<str>,
    pub member: String,
    pub allowed: bool,
    /// Shared with every decision of the same policy tier.
    #[cfg_attr(feature = "utoipa", schema(value_type = PolicyRef))]
    pub policy: Arc<PolicyRef>,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "utoipa", schema(value_type = String, format = DateTime))]
    pub evaluated_at: DateTime<Utc>,
    /// RFC 3339, UTC. `null` only when the policy's window is unlimited
    /// or binds no `restorable_until`.
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub restorable_until: Option<DateTime<Utc>>,
    /// Every blocker that holds; empty when allowed.
    pub blockers: Vec<BlockerHit>,
    /// Every warning rule that holds; absent from JSON when none does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<WarningHit>,
    /// What the restore needs (e.g. `department`, `seat`). Shared with
    /// every decision of the same policy tier.
    #[cfg_attr(feature = "utoipa", schema(value_type = Vec<String>))]
    pub requires: Arc<[Arc<str>]>,
    /// One per resource rule, in rule order. A member with no listed items
    /// and no exception that applies gets its tier's precomputed table,
    /// shared rather than rebuilt: most members of a directory are such.
    #[cfg_attr(feature = "utoipa", schema(value_type = Vec<ResourceDecision>))]
    pub resources: Arc<[ResourceDecision]>,
}

impl Decision {
    /// The outcome for `resource`, if the policy lists it.
    pub fn resource(&self, resource: &str) -> Option<&ResourceDecision> {
        self.resources.iter().find(|r| &*r.resource == resource)
    }

    /// Whether the blocker with id `rule` holds.
    pub fn blocked_by(&self, rule: &str) -> bool {
        self.blockers.iter().any(|b| &*b.rule == rule)
    }
}
