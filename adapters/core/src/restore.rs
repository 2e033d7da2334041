//! The restore: one algorithm over a small storage trait ([`RestoreStore`]),
//! in two halves so that a plugin can run the policy between them.
//!
//! Every backend keeps its own transaction or lock (SQLite's `BEGIN
//! IMMEDIATE`, PostgreSQL's tenant row lock, the memory adapter's mutex,
//! jsondir's lock file) and implements the storage steps on it; what a
//! restore reads, checks and writes, and in which order, is written here
//! once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use restore_engine::decision::{Decision, Outcome};
use restore_engine::facts::{Actor, DeletedMember, Facts, ResourceItem, TenantFacts};
use restore_engine::EvaluationError;
use serde::{Deserialize, Serialize};

use crate::DirectoryError;

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

impl RestoreRequest {
    /// What can be checked before anything is read: a department (F8).
    /// Backends call it before they open a transaction or take a lock;
    /// [`begin_restore`] calls it again.
    pub fn check(&self) -> Result<(), DirectoryError> {
        if self.department.trim().is_empty() {
            return Err(DirectoryError::MissingDepartment);
        }
        Ok(())
    }
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
    /// Resource items marked restored (F21): the sum of the decision's
    /// `restored` counts.
    pub restored_items: u32,
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

/// The member's active record after a restore.
#[derive(Debug, Clone, Copy)]
pub struct Reactivation<'a> {
    pub tenant: &'a str,
    /// The deleted member as read at the start of the restore.
    pub member: &'a DeletedMember,
    /// F8, F15: the department chosen at restore. The member comes back
    /// with no roles (F17: admin permissions, approval roles and user groups
    /// are reset).
    pub department: &'a str,
    /// When the restore happened (`restored_at`).
    pub at: DateTime<Utc>,
}

/// Which resource items come back, computed once from the decision (F21,
/// F19, F25): every item of a resource whose outcome is `restored`, and the
/// items of a `transfer_dependent` resource that were not transferred.
#[derive(Debug, Clone)]
pub struct ItemPlan<'a> {
    pub tenant: &'a str,
    /// The member as read at the start of the restore, with its items.
    pub member: &'a DeletedMember,
    /// Resources whose items all come back, in decision order.
    pub restored: Vec<&'a str>,
    /// Resources whose items come back unless transferred, in decision order.
    pub transfer_dependent: Vec<&'a str>,
}

impl<'a> ItemPlan<'a> {
    pub fn new(tenant: &'a str, member: &'a DeletedMember, decision: &'a Decision) -> Self {
        let names = |outcome: Outcome| -> Vec<&'a str> {
            decision
                .resources
                .iter()
                .filter(|r| r.outcome == outcome)
                .map(|r| &*r.resource)
                .collect()
        };
        ItemPlan {
            tenant,
            member,
            restored: names(Outcome::Restored),
            transfer_dependent: names(Outcome::TransferDependent),
        }
    }

    /// Whether `item` of `resource` comes back.
    pub fn comes_back(&self, resource: &str, item: &ResourceItem) -> bool {
        self.restored.contains(&resource)
            || (self.transfer_dependent.contains(&resource) && item.transferred_to.is_none())
    }

    /// The member's items that come back, by resource name then stored order.
    pub fn items(&self) -> impl Iterator<Item = (&'a str, &'a ResourceItem)> + '_ {
        self.member
            .resources
            .iter()
            .flat_map(|(resource, items)| items.iter().map(move |item| (resource.as_str(), item)))
            .filter(|(resource, item)| self.comes_back(resource, item))
    }

    /// How many items come back: what a backend must report having marked.
    pub fn count(&self) -> Result<u32, DirectoryError> {
        u32::try_from(self.items().count()).map_err(|_| DirectoryError::Overflow {
            tenant: self.tenant.to_owned(),
            what: format!("the count of restored items of `{}`", self.member.id),
        })
    }
}

/// The audit row of an allowed restore.
#[derive(Debug, Clone, Copy)]
pub struct AuditRow<'a> {
    pub tenant: &'a str,
    pub member: &'a str,
    pub actor: &'a str,
    pub at: DateTime<Utc>,
    pub department: &'a str,
    pub decision: &'a Decision,
}

/// Storage steps of a restore, run inside the backend's own transaction or
/// lock (the backend begins it, and commits or rolls it back). The steps
/// only read and write; [`begin_restore`] and [`finish_restore`] decide
/// what to read and write, and check it.
#[async_trait]
pub trait RestoreStore: Send {
    /// The tenant; [`DirectoryError::UnknownTenant`] when there is none.
    async fn tenant(&mut self, tenant: &str) -> Result<TenantFacts, DirectoryError>;
    /// An active member of `tenant` as the actor;
    /// [`DirectoryError::UnknownActor`] when there is none.
    async fn actor(&mut self, tenant: &TenantFacts, actor: &str) -> Result<Actor, DirectoryError>;
    /// Facts of a deleted member, conflicts included;
    /// [`DirectoryError::UnknownMember`] when there is none.
    async fn member(
        &mut self,
        tenant: &TenantFacts,
        member: &str,
        actor: Option<Actor>,
    ) -> Result<Facts, DirectoryError>;
    /// Marks the deleted member restored and inserts its active record: no
    /// roles (F17), the given department. An active member with the same id
    /// is [`DirectoryError::Conflict`].
    async fn reactivate(&mut self, member: &Reactivation<'_>) -> Result<(), DirectoryError>;
    /// Takes a seat; returns seats used afterwards.
    async fn take_seat(&mut self, tenant: &str) -> Result<i64, DirectoryError>;
    /// Marks the items of the plan restored; returns how many it marked.
    async fn restore_items(&mut self, plan: &ItemPlan<'_>) -> Result<u32, DirectoryError>;
    /// Writes the audit row; returns its id.
    async fn audit(&mut self, row: &AuditRow<'_>) -> Result<i64, DirectoryError>;
}

/// Facts of one deleted member, with the actor when one is named: tenant,
/// actor, member, in that order (so an unknown tenant is reported before
/// an unknown actor, and that before an unknown member).
pub async fn read_facts<S: RestoreStore + ?Sized>(
    store: &mut S,
    tenant: &str,
    member: &str,
    actor: Option<&str>,
) -> Result<Facts, DirectoryError> {
    let tenant = store.tenant(tenant).await?;
    let actor = match actor {
        Some(actor) => Some(store.actor(&tenant, actor).await?),
        None => None,
    };
    store.member(&tenant, member, actor).await
}

/// Phase 1: checks the request and reads everything the decision depends on.
pub async fn begin_restore<S: RestoreStore + ?Sized>(
    store: &mut S,
    request: &RestoreRequest,
) -> Result<Facts, DirectoryError> {
    request.check()?;
    read_facts(
        store,
        &request.tenant,
        &request.member,
        Some(&request.actor),
    )
    .await
}

/// Phase 2: writes an allowed decision about the facts [`begin_restore`]
/// read. A denied decision, or one about another member, is refused
/// before anything is written.
pub async fn finish_restore<S: RestoreStore + ?Sized>(
    store: &mut S,
    request: &RestoreRequest,
    facts: &Facts,
    decision: Decision,
) -> Result<Receipt, DirectoryError> {
    let tenant = &*facts.tenant.id;
    let member = &facts.member;
    if !decision.allowed || *decision.tenant != *tenant || decision.member != member.id {
        return Err(DirectoryError::Unsupported(format!(
            "the restore of `{}` in `{tenant}` needs an allowed decision about that member; nothing was changed",
            member.id
        )));
    }
    // Checked before any write: the count would wrap (SQLite turns the sum
    // into a float) or fail raw (PostgreSQL: bigint out of range).
    seats_after_restore(tenant, facts.tenant.seats_used)?;
    let plan = ItemPlan::new(tenant, member, &decision);
    let planned = plan.count()?;
    store
        .reactivate(&Reactivation {
            tenant,
            member,
            department: &request.department,
            at: request.at,
        })
        .await?;
    let seats_used = store.take_seat(tenant).await?;
    let restored_items = store.restore_items(&plan).await?;
    if restored_items != planned {
        // The items changed under the restore's lock: a backend bug, not
        // something to write down as done.
        return Err(DirectoryError::Conflict(format!(
            "marked {restored_items} items of `{}` restored where the decision brings back {planned}; nothing was changed",
            member.id
        )));
    }
    let audit_id = store
        .audit(&AuditRow {
            tenant,
            member: &member.id,
            actor: &request.actor,
            at: request.at,
            department: &request.department,
            decision: &decision,
        })
        .await?;
    Ok(Receipt {
        decision,
        department: request.department.clone(),
        audit_id,
        seats_used,
        restored_items,
    })
}

/// Both phases with the policy in between. The caller commits on
/// [`RestoreOutcome::Restored`] and rolls back otherwise (a denial wrote
/// nothing).
pub async fn restore_with<S: RestoreStore + ?Sized>(
    store: &mut S,
    request: &RestoreRequest,
    decide: &Decide,
) -> Result<RestoreOutcome, DirectoryError> {
    let facts = begin_restore(store, request).await?;
    let decision = decide(&facts)?;
    if !decision.allowed {
        return Ok(RestoreOutcome::Denied(decision));
    }
    finish_restore(store, request, &facts, decision)
        .await
        .map(RestoreOutcome::Restored)
}

/// Drives a restore over a synchronous store (memory, files): its futures
/// are ready at once, so this never waits on I/O and cannot deadlock.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use restore_engine::facts::{Conflicts, DeletionReason, DeletionState, Request};
    use restore_engine::PolicySet;

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

    fn item(id: &str, transferred_to: Option<&str>) -> ResourceItem {
        ResourceItem {
            id: id.into(),
            transferred_to: transferred_to.map(Into::into),
        }
    }

    /// A member deleted a day before `at`, with kept, transferred and
    /// never-restored items.
    fn facts(at: DateTime<Utc>) -> Facts {
        let mut resources = BTreeMap::new();
        resources.insert("group_chats".into(), vec![item("g1", None)]);
        resources.insert(
            "documents".into(),
            vec![item("d0", None), item("d1", Some("a"))],
        );
        resources.insert("approval_tasks_in_progress".into(), vec![item("t0", None)]);
        Facts {
            tenant: TenantFacts {
                id: "t".into(),
                plan: "pro".into(),
                seats_total: 10,
                seats_used: 3,
                attributes: Default::default(),
            },
            member: DeletedMember {
                id: "m".into(),
                email: None,
                phone: None,
                deleted_at: at - chrono::Duration::days(1),
                reason: DeletionReason::RemovedByAdmin,
                deletion: DeletionState::Completed,
                removed_from_list: false,
                resources,
                attributes: Default::default(),
            },
            conflicts: Conflicts::default(),
            actor: Some(Actor {
                id: "a".into(),
                roles: vec!["primary_admin".into()],
                attributes: Default::default(),
            }),
        }
    }

    fn decide(facts: &Facts, at: DateTime<Utc>) -> Decision {
        let set = PolicySet::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules"))
            .unwrap();
        let policy = set.select(None, None, at).unwrap();
        policy.try_evaluate(facts, &Request::default(), at).unwrap()
    }

    /// Records the steps; marks what the plan says, or a wrong count.
    struct Recorder {
        facts: Facts,
        steps: Vec<String>,
        miscount: bool,
    }

    #[async_trait]
    impl RestoreStore for Recorder {
        async fn tenant(&mut self, _: &str) -> Result<TenantFacts, DirectoryError> {
            self.steps.push("tenant".into());
            Ok(self.facts.tenant.clone())
        }
        async fn actor(&mut self, _: &TenantFacts, _: &str) -> Result<Actor, DirectoryError> {
            self.steps.push("actor".into());
            self.facts
                .actor
                .clone()
                .ok_or(DirectoryError::MissingDepartment)
        }
        async fn member(
            &mut self,
            _: &TenantFacts,
            _: &str,
            actor: Option<Actor>,
        ) -> Result<Facts, DirectoryError> {
            self.steps.push("member".into());
            Ok(Facts {
                actor,
                ..self.facts.clone()
            })
        }
        async fn reactivate(&mut self, r: &Reactivation<'_>) -> Result<(), DirectoryError> {
            self.steps
                .push(format!("reactivate {} in {}", r.member.id, r.department));
            Ok(())
        }
        async fn take_seat(&mut self, _: &str) -> Result<i64, DirectoryError> {
            self.steps.push("seat".into());
            Ok(4)
        }
        async fn restore_items(&mut self, plan: &ItemPlan<'_>) -> Result<u32, DirectoryError> {
            let ids: Vec<&str> = plan.items().map(|(_, i)| i.id.as_str()).collect();
            self.steps.push(format!("items {}", ids.join(" ")));
            let n = u32::try_from(ids.len()).unwrap();
            Ok(if self.miscount { n + 1 } else { n })
        }
        async fn audit(&mut self, row: &AuditRow<'_>) -> Result<i64, DirectoryError> {
            self.steps
                .push(format!("audit {} by {}", row.member, row.actor));
            Ok(7)
        }
    }

    fn request(at: DateTime<Utc>, department: &str) -> RestoreRequest {
        RestoreRequest {
            tenant: "t".into(),
            member: "m".into(),
            actor: "a".into(),
            department: department.into(),
            at,
        }
    }

    #[test]
    fn one_restore_reads_then_writes_in_order() {
        let at = Utc::now();
        let facts = facts(at);
        let mut store = Recorder {
            facts: facts.clone(),
            steps: Vec::new(),
            miscount: false,
        };
        let decide_at = move |f: &Facts| Ok(decide(f, at));
        let outcome = block_on(restore_with(&mut store, &request(at, "ops"), &decide_at)).unwrap();
        let RestoreOutcome::Restored(receipt) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            store.steps,
            [
                "tenant",
                "actor",
                "member",
                "reactivate m in ops",
                "seat",
                "items d0 g1",
                "audit m by a"
            ]
        );
        assert_eq!(
            (receipt.audit_id, receipt.seats_used, receipt.restored_items),
            (7, 4, 2)
        );
        let counted: u32 = receipt
            .decision
            .resources
            .iter()
            .filter_map(|r| r.restored)
            .sum();
        assert_eq!(counted, 2, "the decision's `restored` counts agree");
    }

    #[test]
    fn nothing_is_read_without_a_department_nor_written_for_a_denial() {
        let at = Utc::now();
        let mut store = Recorder {
            facts: facts(at),
            steps: Vec::new(),
            miscount: false,
        };
        let decide_at = move |f: &Facts| Ok(decide(f, at));
        let e = block_on(restore_with(&mut store, &request(at, " "), &decide_at)).unwrap_err();
        assert!(matches!(e, DirectoryError::MissingDepartment), "{e}");
        assert!(store.steps.is_empty(), "{:?}", store.steps);

        let facts = store.facts.clone();
        let mut denied = decide(&facts, at);
        denied.allowed = false;
        let e = block_on(finish_restore(
            &mut store,
            &request(at, "ops"),
            &facts,
            denied,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("needs an allowed decision"), "{e}");
        assert!(store.steps.is_empty(), "{:?}", store.steps);
    }

    #[test]
    fn a_count_that_disagrees_with_the_plan_fails_the_restore() {
        let at = Utc::now();
        let mut store = Recorder {
            facts: facts(at),
            steps: Vec::new(),
            miscount: true,
        };
        let decide_at = move |f: &Facts| Ok(decide(f, at));
        let e = block_on(restore_with(&mut store, &request(at, "ops"), &decide_at)).unwrap_err();
        assert!(matches!(e, DirectoryError::Conflict(_)), "{e}");
        assert!(
            !store.steps.iter().any(|s| s.starts_with("audit")),
            "no audit row after a wrong count: {:?}",
            store.steps
        );
    }
}
