//! Typed facts the engine evaluates: what a directory knows about one deleted
//! member, its tenant, the acting administrator and any conflicts.
//!
//! Adapters fill these in; the engine never fetches them itself.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::attributes::{AttrValue, AttributeError, Attributes};

/// The text was not one of the names in a closed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`, expected one of: {expected}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// A tenant's plan is not an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plan `{}` is not an identifier (a lowercase letter, then up to 63 of a-z, 0-9, `_`)", crate::excerpt::Excerpt(.0))]
pub struct BadPlanName(pub String);

/// Checks a tenant's plan as stored: any identifier (which plans exist is
/// the policy's business, see [`crate::EvaluationError::UnknownTier`]).
pub fn plan_name(text: &str) -> Result<Arc<str>, BadPlanName> {
    if crate::attributes::is_identifier(text) {
        Ok(Arc::from(text))
    } else {
        Err(BadPlanName(text.to_owned()))
    }
}

/// Why the member was deleted (F5: both are restorable alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionReason {
    RemovedByAdmin,
    SelfDeactivated,
}

impl DeletionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionReason::RemovedByAdmin => "removed_by_admin",
            DeletionReason::SelfDeactivated => "self_deactivated",
        }
    }
}

impl FromStr for DeletionReason {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "removed_by_admin" => Ok(DeletionReason::RemovedByAdmin),
            "self_deactivated" => Ok(DeletionReason::SelfDeactivated),
            _ => Err(UnknownName {
                kind: "deletion reason",
                value: s.to_owned(),
                expected: "removed_by_admin, self_deactivated",
            }),
        }
    }
}

/// State of the deletion process (F3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionState {
    InProgress,
    Completed,
}

impl DeletionState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionState::InProgress => "in_progress",
            DeletionState::Completed => "completed",
        }
    }
}

impl FromStr for DeletionState {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "in_progress" => Ok(DeletionState::InProgress),
            "completed" => Ok(DeletionState::Completed),
            _ => Err(UnknownName {
                kind: "deletion state",
                value: s.to_owned(),
                expected: "in_progress, completed",
            }),
        }
    }
}

/// The tenant (organisation) the member belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantFacts {
    /// Shared: every member's facts and decision of a streamed tenant name it.
    pub id: Arc<str>,
    /// The plan's name, matched against the tiers the policy declares
    /// (which plans exist is the policy's business). Shared per tenant.
    pub plan: Arc<str>,
    pub seats_total: i64,
    pub seats_used: i64,
    /// Open data the policy may declare and read (`tenant.attributes.NAME`).
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

impl TenantFacts {
    /// Free seats; negative when the tenant is over-allocated. Saturating:
    /// counts read from a directory row are not trusted to be in range.
    pub fn seats_available(&self) -> i64 {
        self.seats_total.saturating_sub(self.seats_used)
    }
}

/// One item of a member's resource (a document, an event, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceItem {
    pub id: String,
    /// Set when the item was handed to another member at deletion (F21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferred_to: Option<String>,
}

/// The deleted member a restore is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedMember {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    pub deleted_at: DateTime<Utc>,
    pub reason: DeletionReason,
    pub deletion: DeletionState,
    /// Removed from the Deleted Members list: permanently deleted (F4).
    #[serde(default)]
    pub removed_from_list: bool,
    /// Items per resource name; a resource not listed has no items.
    #[serde(default)]
    pub resources: BTreeMap<String, Vec<ResourceItem>>,
    /// Open data the policy may declare and read (`member.attributes.NAME`).
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

/// An active member of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveMember {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub roles: Vec<String>,
    /// The same object a deleted member has; carried over on restore.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

/// The administrator asking for the restore. Must be an active member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub roles: Vec<String>,
    /// The actor's active-member attributes (`actor.attributes.NAME`).
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

/// Active members that clash with the deleted member (F11, F12): their ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflicts {
    pub user_id: Vec<String>,
    pub email: Vec<String>,
    pub phone: Vec<String>,
}

/// Email comparison key (F12: case-insensitive). ASCII folding only, so that
/// every backend (SQLite's `lower()` included) computes the same key.
pub fn email_key(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// Phone comparison key (F12: compared as stored).
pub fn phone_key(phone: &str) -> &str {
    phone
}

impl Conflicts {
    /// Conflicts of `member` against the tenant's active members.
    pub fn find<'a>(
        member: &DeletedMember,
        active: impl IntoIterator<Item = &'a ActiveMember>,
    ) -> Conflicts {
        let email = member.email.as_deref().map(email_key);
        let phone = member.phone.as_deref().map(phone_key);
        let mut found = Conflicts::default();
        for other in active {
            if other.id == member.id {
                found.user_id.push(other.id.clone());
            }
            if let (Some(mine), Some(theirs)) = (&email, &other.email) {
                if *mine == email_key(theirs) {
                    found.email.push(other.id.clone());
                }
            }
            if let (Some(mine), Some(theirs)) = (phone, &other.phone) {
                if mine == phone_key(theirs) {
                    found.phone.push(other.id.clone());
                }
            }
        }
        found
    }
}

/// Everything the engine needs to decide on one deleted member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub tenant: TenantFacts,
    pub member: DeletedMember,
    #[serde(default)]
    pub conflicts: Conflicts,
    /// `None`: a read-only eligibility question; the actor rule (F1) is skipped.
    #[serde(default)]
    pub actor: Option<Actor>,
}

/// What is being asked, beyond the facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Members restored together in this request (F6: batch restore).
    pub batch_size: u32,
    /// Values the caller gives per request (`request.context.NAME`).
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub context: Attributes,
}

impl Default for Request {
    fn default() -> Self {
        Request::ONE
    }
}

impl Request {
    /// One member, no context: [`Request::default`], usable in `const` items.
    pub const ONE: Request = Request {
        batch_size: 1,
        context: Attributes::EMPTY,
    };

    /// A request restoring `batch_size` members together, without context.
    pub fn batch(batch_size: u32) -> Self {
        Request {
            batch_size,
            ..Request::default()
        }
    }
}
