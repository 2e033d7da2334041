use chrono::{DateTime, Utc};
use restore_engine::decision::Decision;
use restore_engine::facts::Facts;
use restore_engine::EvaluationError;
use serde::{Deserialize, Serialize};

/// Evaluates the policy on facts read inside the restore's transaction.
///
/// An error (e.g. a deletion later than the evaluation time) aborts the
/// restore with [`crate::DirectoryError::Evaluation`]; nothing is written.
pub type Decide = dyn Fn(&Facts) -> Result<Decision, EvaluationError> + Send + Sync;

/// A request to restore one member (F6: one member per restore).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRequest {
    pub tenant: String,
    pub member: String,
    pub actor: String,
    /// F8: the old department is not restored; the admin picks one.
    pub department: String,
    pub at: DateTime<Utc>,
}

/// What a successful restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub decision: Decision,
    pub department: String,
    /// Id of the audit row that records the decision.
    pub audit_id: i64,
    /// Seats in use after the restore.
    pub seats_used: i64,
}

/// The result of [`crate::Directory::apply_restore`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RestoreOutcome {
    Restored(Receipt),
    /// The policy said no; nothing was changed.
    Denied(Decision),
}

/// Seats in use once a restore takes one more: refused, before anything is
/// written, when the count cannot grow (`seats.used` at `i64::MAX`).
pub fn seats_after_restore(tenant: &str, seats_used: i64) -> Result<i64, crate::DirectoryError> {
    seats_used
        .checked_add(1)
        .ok_or_else(|| crate::DirectoryError::Overflow {
            tenant: tenant.to_owned(),
            what: format!("seats.used `{seats_used}` plus the restored member"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_seat_count_is_refused() {
        assert_eq!(seats_after_restore("acme", 41).unwrap(), 42);
        let e = seats_after_restore("acme", i64::MAX).unwrap_err();
        assert!(
            matches!(e, crate::DirectoryError::Overflow { .. }) && e.is_bad_input(),
            "{e}"
        );
        assert!(e.to_string().contains("would overflow"), "{e}");
    }
}
