//! Stored rows → engine facts, with the checks every backend needs (enum
//! text, seat counts, JSON columns). Backends decode their own column types
//! into these plain structs; the validation lives here once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use restore_engine::facts::{
    Actor, Conflicts, DeletedMember, Facts, Plan, ResourceItem, TenantFacts,
};

use crate::DirectoryError;

/// A `tenants` row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTenant {
    pub id: String,
    pub plan: String,
    pub seats_total: i64,
    pub seats_used: i64,
}

impl StoredTenant {
    /// Checked facts: a known plan and non-negative seat counts.
    pub fn into_facts(self) -> Result<TenantFacts, DirectoryError> {
        let bad = |reason: String| DirectoryError::BadRow {
            table: "tenants",
            key: self.id.clone(),
            reason,
        };
        let plan: Plan = self.plan.parse().map_err(|e| bad(format!("{e}")))?;
        if self.seats_total < 0 {
            return Err(bad(format!(
                "seats_total `{}` is negative",
                self.seats_total
            )));
        }
        if self.seats_used < 0 {
            return Err(bad(format!("seats_used `{}` is negative", self.seats_used)));
        }
        Ok(TenantFacts {
            id: self.id,
            plan,
            seats_total: self.seats_total,
            seats_used: self.seats_used,
        })
    }
}

/// A deleted member with its conflicts and resource items, as a backend's
/// query computes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeletedMember {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub deleted_at: DateTime<Utc>,
    pub reason: String,
    pub deletion: String,
    pub removed_from_list: bool,
    pub conflict_user_id: Option<String>,
    /// Active member ids, in insertion order.
    pub conflict_email: Vec<String>,
    pub conflict_phone: Vec<String>,
    /// JSON array of `[resource, item_id, transferred_to]`, ordered by
    /// resource then position.
    pub items: String,
}

impl StoredDeletedMember {
    /// Facts for this member; `tenant` and `actor` were read in the same
    /// transaction or stream.
    pub fn into_facts(
        self,
        tenant: &TenantFacts,
        actor: Option<Actor>,
    ) -> Result<Facts, DirectoryError> {
        // The key only names a bad row; built on error, not for every row.
        let key = || member_key(&tenant.id, &self.id);
        let bad = |reason: String| DirectoryError::BadRow {
            table: "deleted_members",
            key: key(),
            reason,
        };
        let reason = self.reason.parse().map_err(|e| bad(format!("{e}")))?;
        let deletion = self.deletion.parse().map_err(|e| bad(format!("{e}")))?;
        let items: Vec<(String, String, Option<String>)> =
            parse_json_column(&self.items, "resource_items", key, "items")?;
        let mut resources: BTreeMap<String, Vec<ResourceItem>> = BTreeMap::new();
        for (resource, id, transferred_to) in items {
            resources
                .entry(resource)
                .or_default()
                .push(ResourceItem { id, transferred_to });
        }
        Ok(Facts {
            tenant: tenant.clone(),
            member: DeletedMember {
                id: self.id,
                email: self.email,
                phone: self.phone,
                deleted_at: self.deleted_at,
                reason,
                deletion,
                removed_from_list: self.removed_from_list,
                resources,
            },
            conflicts: Conflicts {
                user_id: self.conflict_user_id.into_iter().collect(),
                email: self.conflict_email,
                phone: self.conflict_phone,
            },
            actor,
        })
    }
}

/// `tenant/member`, the key bad-row errors name.
pub fn member_key(tenant: &str, member: &str) -> String {
    format!("{tenant}/{member}")
}

/// Parses a JSON column; malformed JSON is a bad row of `table`, named by
/// `key` (built only on error: this runs for every streamed row).
pub fn parse_json_column<T: serde::de::DeserializeOwned + Default>(
    text: &str,
    table: &'static str,
    key: impl FnOnce() -> String,
    column: &str,
) -> Result<T, DirectoryError> {
    // Most rows have no conflicts and no items: skip the parser for those.
    if text == "[]" {
        return Ok(T::default());
    }
    serde_json::from_str(text).map_err(|e| DirectoryError::BadRow {
        table,
        key: key(),
        reason: format!("{column}: not the expected JSON: {e}"),
    })
}
