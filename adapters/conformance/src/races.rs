//! Two restores against one directory at the same time, with the overlap
//! forced rather than hoped for.
//!
//! The first restore's `decide` runs inside its transaction, after its facts
//! were read. There it holds the transaction open while the second restore
//! is started, and waits for the second to reach its own `decide`:
//!
//! - an adapter that does not serialise restores lets the second read its
//!   facts while the first has not written yet; both decide on the same stale
//!   facts and the outcome checks fail, on every run;
//! - an adapter that does keeps the second out until the first commits; the
//!   first then stops waiting after [`OVERLAP_WAIT`] and commits, and the
//!   second decides on the committed state.
//!
//! [`OVERLAP_WAIT`] only bounds how long the first transaction stays open;
//! no verdict depends on it, and a correct adapter gives the same outcome
//! whatever the scheduling. No sleeps.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use restore_directory::{
    Decide, Directory, DirectoryError, RestoreOutcome, RestoreRequest, Snapshot,
};
use restore_engine::decision::Decision;
use restore_engine::facts::Facts;
use restore_engine::EvaluationError;
use tokio::sync::Notify;

use crate::checks::{audit_len, facts_of, request};
use crate::{decide_at, default_policy, fixture, Subject};

/// How long the first restore's transaction waits for the second restore to
/// reach its decision (a correct adapter never lets it).
pub const OVERLAP_WAIT: Duration = Duration::from_secs(1);

/// Counts `decide` calls; the first waits for the second.
struct Gate {
    entered: Mutex<usize>,
    arrived: Condvar,
    first_inside: Notify,
}

impl Gate {
    fn new() -> Arc<Self> {
        Arc::new(Gate {
            entered: Mutex::new(0),
            arrived: Condvar::new(),
            first_inside: Notify::new(),
        })
    }

    /// Called at the start of every `decide`.
    fn enter(&self) {
        let mut entered = self.entered.lock().unwrap_or_else(|e| e.into_inner());
        *entered += 1;
        self.arrived.notify_all();
        if *entered == 1 {
            // Inside the first transaction: let the test start the second
            // restore, and keep this transaction open until it gets here too.
            self.first_inside.notify_one();
            let _ = self
                .arrived
                .wait_timeout_while(entered, OVERLAP_WAIT, |n| *n < 2);
        }
    }
}

/// Runs restore `a`, and once `a` is inside its transaction, restore `b`.
pub(crate) async fn race(
    directory: Arc<dyn Directory>,
    a: RestoreRequest,
    b: RestoreRequest,
) -> [Result<RestoreOutcome, DirectoryError>; 2] {
    race_between([directory.clone(), directory], a, b).await
}

/// [`race`] through two directories over one store (say, two instances of
/// an adapter on the same files): `a` through the first, started first and
/// holding its transaction open, `b` through the second. Results in that order.
pub async fn race_between(
    directories: [Arc<dyn Directory>; 2],
    a: RestoreRequest,
    b: RestoreRequest,
) -> [Result<RestoreOutcome, DirectoryError>; 2] {
    let gate = Gate::new();
    let policy = default_policy();
    let spawn = |directory: &Arc<dyn Directory>, req: RestoreRequest| {
        let directory = directory.clone();
        let gate = gate.clone();
        let inner = decide_at(policy.clone(), req.at);
        tokio::spawn(async move {
            let decide = move |facts: &Facts| -> Result<Decision, EvaluationError> {
                gate.enter();
                inner(facts)
            };
            let decide: &Decide = &decide;
            directory.apply_restore(&req, decide).await
        })
    };
    let [first_directory, second_directory] = &directories;
    let mut first = spawn(first_directory, a);
    // Start `b` once `a` decides, or at once if `a` ends without deciding
    // (an error the checks then report).
    let early = tokio::select! {
        () = gate.first_inside.notified() => None,
        done = &mut first => Some(done),
    };
    let second = spawn(second_directory, b);
    let ra = match early {
        Some(done) => done,
        None => first.await,
    };
    match (ra, second.await) {
        (Ok(ra), Ok(rb)) => [ra, rb],
        (ra, rb) => panic!("a restore task panicked: {ra:?} / {rb:?}"),
    }
}

fn restored(results: &[Result<RestoreOutcome, DirectoryError>]) -> usize {
    results
        .iter()
        .filter(|r| matches!(r, Ok(RestoreOutcome::Restored(_))))
        .count()
}

fn denied_by(results: &[Result<RestoreOutcome, DirectoryError>], rule: &str) -> usize {
    results
        .iter()
        .filter(|r| matches!(r, Ok(RestoreOutcome::Denied(d)) if d.blocked_by(rule)))
        .count()
}

/// Two admins restore two members at once for acme's last seat (Pro, F10):
/// exactly one is restored; the other is denied by `no_available_seat`.
/// Both orders are run.
pub async fn last_seat_race<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    for (first, second) in [("u_bob", "u_gus"), ("u_gus", "u_bob")] {
        let s = make(fixture()).await;
        let results = race(
            s.directory.clone(),
            request("acme", first, "u_anna", "ops"),
            request("acme", second, "u_anna", "ops"),
        )
        .await;
        assert!(
            matches!(results[0], Ok(RestoreOutcome::Restored(_)))
                && denied_by(&results[1..], "no_available_seat") == 1,
            "{first} then {second}: the first restore holds the last seat, the \
             second is denied by the seat, got {results:?}"
        );
        let seats = facts_of(&s, "acme", "u_cleo", None).await.tenant.seats_used;
        assert_eq!(
            seats, 50,
            "{first} then {second}: seats used after the race"
        );
        assert_eq!(
            audit_len(&s, "acme").await,
            1,
            "{first} then {second}: audit rows"
        );
    }
}

/// The same member restored twice at once: exactly one restore; the other
/// gets [`DirectoryError::UnknownMember`] (it is no longer a deleted member
/// once the first commits).
pub async fn double_restore_race<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let s = make(fixture()).await;
    let results = race(
        s.directory.clone(),
        request("acme", "u_bob", "u_anna", "ops"),
        request("acme", "u_bob", "u_anna", "sales"),
    )
    .await;
    let unknown = results
        .iter()
        .filter(|r| matches!(r, Err(DirectoryError::UnknownMember { .. })))
        .count();
    assert!(
        restored(&results) == 1 && unknown == 1,
        "double restore must give one restore and one UnknownMember, got {results:?}"
    );
    let seats = facts_of(&s, "acme", "u_cleo", None).await.tenant.seats_used;
    assert_eq!(seats, 50, "one seat taken");
    assert_eq!(audit_len(&s, "acme").await, 1, "audit rows");
    let department = s.probe.department("acme", "u_bob").await.ok().flatten();
    assert_eq!(
        department.as_deref(),
        Some("ops"),
        "the first restore's department stays"
    );
}

/// The fixture with two deleted members of beta (Starter: no seat blocker)
/// whose emails differ only in case; neither clashes with an active member.
fn twins() -> Snapshot {
    let mut snapshot = fixture();
    let Some(beta) = snapshot.tenants.iter_mut().find(|t| t.id == "beta") else {
        panic!("conformance fixture has no tenant `beta`")
    };
    let Some(model) = beta
        .deleted_members
        .iter()
        .find(|m| m.id == "u_erin")
        .cloned()
    else {
        panic!("conformance fixture has no `beta/u_erin`")
    };
    for (id, email) in [("u_twin1", "twin@beta.test"), ("u_twin2", "Twin@Beta.TEST")] {
        let mut twin = model.clone();
        twin.id = id.into();
        twin.email = Some(email.into());
        beta.deleted_members.push(twin);
    }
    snapshot
}

/// Two deleted members with the same email (F12, case-insensitive) restored
/// at once: exactly one wins; the other is denied by `duplicate_email`,
/// naming the winner. Both orders are run.
pub async fn same_email_race<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    for (first, second) in [("u_twin1", "u_twin2"), ("u_twin2", "u_twin1")] {
        let s = make(twins()).await;
        let alone = facts_of(&s, "beta", first, Some("u_zed")).await;
        assert!(
            alone.conflicts.email.is_empty(),
            "deleted members do not clash with each other: {:?}",
            alone.conflicts
        );
        let results = race(
            s.directory.clone(),
            request("beta", first, "u_zed", "ops"),
            request("beta", second, "u_zed", "ops"),
        )
        .await;
        match &results {
            [Ok(RestoreOutcome::Restored(_)), Ok(RestoreOutcome::Denied(d))] => {
                let rules: Vec<&str> = d.blockers.iter().map(|b| &*b.rule).collect();
                assert_eq!(rules, ["duplicate_email"], "{first} then {second}");
                assert!(
                    d.blockers[0].message.contains(first),
                    "{first} then {second}: the denial names the winner: {}",
                    d.blockers[0].message
                );
            }
            other => panic!(
                "{first} then {second}: one restore, then a duplicate_email denial; got {other:?}"
            ),
        }
        let loser = facts_of(&s, "beta", second, None).await;
        assert_eq!(loser.conflicts.email, [first], "{first} then {second}");
        assert_eq!(
            loser.tenant.seats_used, 6,
            "{first} then {second}: one seat taken"
        );
        assert_eq!(
            audit_len(&s, "beta").await,
            1,
            "{first} then {second}: audit rows"
        );
    }
}
