//! The evaluator's allocation promises, which are part of why it is fast
//! (README, "Performance") and which the code states: an allowed decision
//! allocates no blocker list; a denial allocates it once, for at most the
//! blockers still to check; a message is rendered into one string sized by
//! the compiler's estimate (its text plus 24 bytes per fact placeholder).
//! Capacities are exact for `Vec::reserve_exact` and `String::with_capacity`.

use restore_engine::Request;

use crate::support::{at, default_policy, default_rules, plain_facts};

#[test]
fn an_allowed_decision_allocates_no_blocker_list() {
    let set = default_rules();
    let d = default_policy(&set)
        .evaluate(&plain_facts(), &Request::default(), at())
        .unwrap();
    assert!(d.allowed);
    assert_eq!(d.blockers.capacity(), 0);
}

#[test]
fn a_denial_reserves_the_blockers_still_to_check_once() {
    let set = default_rules();
    let policy = default_policy(&set);
    // Only the last of the nine holds: room for one.
    let mut f = plain_facts();
    f.conflicts.email = vec!["x".into()];
    let d = policy.evaluate(&f, &Request::default(), at()).unwrap();
    assert_eq!(d.blockers.len(), 1);
    assert_eq!(d.blockers.capacity(), 1);
    // The first (F1) and the last hold: room for all nine, reserved once.
    f.actor.as_mut().unwrap().roles.clear();
    let d = policy.evaluate(&f, &Request::default(), at()).unwrap();
    assert_eq!(d.blockers.len(), 2);
    assert_eq!(d.blockers.capacity(), 9);
    // The fifth (F6) and the last: room for the five from the fifth on.
    let mut f = plain_facts();
    f.conflicts.email = vec!["x".into()];
    let d = policy.evaluate(&f, &Request::batch(2), at()).unwrap();
    assert_eq!(d.blockers.len(), 2);
    assert_eq!(d.blockers.capacity(), 5);
}

#[test]
fn a_message_is_rendered_into_one_string_of_the_estimated_size() {
    let set = default_rules();
    let mut f = plain_facts();
    f.actor.as_mut().unwrap().roles.clear();
    let d = default_policy(&set)
        .evaluate(&f, &Request::default(), at())
        .unwrap();
    let b = &d.blockers[0];
    assert_eq!(&*b.rule, "actor_not_permitted");
    // "`{actor.id}` may not restore members; allowed roles: primary_admin":
    // the text around one placeholder, plus 24 for it.
    let text = b.message.len() - "admin".len();
    assert_eq!(
        b.message,
        "`admin` may not restore members; allowed roles: primary_admin"
    );
    assert_eq!(b.message.capacity(), text + 24);
    // No placeholder: exactly the text.
    assert_eq!(b.remedy.capacity(), b.remedy.len());
}
