//! The checks. Each builds its own subjects, so they can run in any order.

use std::future::Future;

use futures::StreamExt;
use restore_directory::{Directory, DirectoryError, RestoreOutcome, RestoreRequest, Snapshot};
use restore_engine::facts::Facts;

use crate::{attributes_fixture, decide_at, default_policy, fixture, memory_subject, now, Subject};

/// Facts with empty resource lists dropped: a resource listed with no items
/// and one not listed mean the same ("a resource not listed has no items"),
/// and SQL adapters store items, not empty lists.
fn normalized(mut facts: Facts) -> Facts {
    facts.member.resources.retain(|_, items| !items.is_empty());
    facts
}

/// Ok facts compare normalized; errors compare by kind and ids.
fn same(what: &str, got: Result<Facts, DirectoryError>, want: Result<Facts, DirectoryError>) {
    match (got, want) {
        (Ok(g), Ok(w)) => assert_eq!(
            normalized(g),
            normalized(w),
            "{what}: facts differ from the memory adapter"
        ),
        (Err(g), Err(w)) => assert_eq!(
            g.to_string(),
            w.to_string(),
            "{what}: error differs from the memory adapter"
        ),
        (Ok(g), Err(w)) => panic!("{what}: got facts {g:?}, memory adapter says error `{w}`"),
        (Err(g), Ok(_)) => panic!("{what}: got error `{g}`, memory adapter has facts"),
    }
}

/// Actors to ask with, per tenant: none, then every active member.
fn actors(snapshot: &Snapshot, tenant: &str) -> Vec<Option<String>> {
    let mut out = vec![None];
    if let Some(t) = snapshot.tenants.iter().find(|t| t.id == tenant) {
        out.extend(t.members.iter().map(|m| Some(m.id.clone())));
    }
    out
}

pub(crate) async fn facts_of(
    subject: &Subject,
    tenant: &str,
    member: &str,
    actor: Option<&str>,
) -> Facts {
    match subject.directory.facts(tenant, member, actor).await {
        Ok(f) => f,
        Err(e) => panic!("facts `{tenant}/{member}` (actor {actor:?}): unexpected error `{e}`"),
    }
}

async fn collect(
    directory: &dyn Directory,
    tenant: &str,
    actor: Option<&str>,
) -> Vec<Result<Facts, DirectoryError>> {
    directory.deleted_members(tenant, actor).collect().await
}

pub(crate) fn request(tenant: &str, member: &str, actor: &str, department: &str) -> RestoreRequest {
    RestoreRequest {
        tenant: tenant.into(),
        member: member.into(),
        actor: actor.into(),
        department: department.into(),
        at: now(),
    }
}

async fn restore(
    subject: &Subject,
    request: &RestoreRequest,
) -> Result<RestoreOutcome, DirectoryError> {
    let decide = decide_at(default_policy(), request.at);
    subject.directory.apply_restore(request, &decide).await
}

pub(crate) async fn audit_len(subject: &Subject, tenant: &str) -> usize {
    match subject.probe.audit(tenant).await {
        Ok(rows) => rows.len(),
        Err(e) => panic!("audit of `{tenant}`: {e}"),
    }
}

/// `facts` equals the memory adapter's, field by field, for every deleted
/// member of every tenant, with no actor and with each active member as actor.
pub async fn facts_parity<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let snapshot = fixture();
    let subject = make(snapshot.clone()).await;
    let memory = memory_subject(&snapshot);
    let mut compared = 0;
    for tenant in &snapshot.tenants {
        for member in &tenant.deleted_members {
            for actor in actors(&snapshot, &tenant.id) {
                let what = format!("facts_parity `{}/{}` actor {actor:?}", tenant.id, member.id);
                same(
                    &what,
                    subject
                        .directory
                        .facts(&tenant.id, &member.id, actor.as_deref())
                        .await,
                    memory
                        .directory
                        .facts(&tenant.id, &member.id, actor.as_deref())
                        .await,
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 20, "facts_parity compared only {compared} cases");
}

/// `deleted_members` streams every deleted member once, in member-id order,
/// with the same facts as the memory adapter.
pub async fn stream_parity<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let snapshot = fixture();
    let subject = make(snapshot.clone()).await;
    let memory = memory_subject(&snapshot);
    for tenant in &snapshot.tenants {
        for actor in actors(&snapshot, &tenant.id) {
            let what = format!("stream_parity `{}` actor {actor:?}", tenant.id);
            let got = collect(&*subject.directory, &tenant.id, actor.as_deref()).await;
            let want = collect(&*memory.directory, &tenant.id, actor.as_deref()).await;
            assert_eq!(
                got.len(),
                tenant.deleted_members.len(),
                "{what}: streamed {} items for {} deleted members",
                got.len(),
                tenant.deleted_members.len()
            );
            let ids: Vec<String> = got
                .iter()
                .map(|r| match r {
                    Ok(f) => f.member.id.clone(),
                    Err(e) => panic!("{what}: stream item is an error `{e}`"),
                })
                .collect();
            let mut sorted = ids.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(
                ids, sorted,
                "{what}: not in strictly ascending member-id order"
            );
            for (g, w) in got.into_iter().zip(want) {
                same(&what, g, w);
            }
        }
    }
}

/// Conflicts the fixture is built to have (F11, F12), independently of the
/// memory adapter: user id exact, email case-insensitive, phone as stored.
pub async fn expected_conflicts<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let subject = make(fixture()).await;
    let s = &subject;
    let cleo = facts_of(s, "acme", "u_cleo", None).await.conflicts;
    assert_eq!(
        cleo.email,
        ["u_carl"],
        "email conflict must ignore case: {cleo:?}"
    );
    assert!(
        cleo.user_id.is_empty() && cleo.phone.is_empty(),
        "u_cleo: {cleo:?}"
    );

    let erin = facts_of(s, "acme", "u_erin", None).await.conflicts;
    assert_eq!(erin.user_id, ["u_erin"], "duplicate user id: {erin:?}");
    assert!(
        erin.email.is_empty(),
        "different emails must not conflict: {erin:?}"
    );

    let fay = facts_of(s, "acme", "u_fay", None).await;
    assert_eq!(
        fay.conflicts.phone,
        ["u_anna", "u_fred"],
        "phone conflicts, in active-member order: {:?}",
        fay.conflicts
    );
    let surveys = &fay.member.resources["surveys"];
    assert_eq!(surveys[0].transferred_to.as_deref(), Some("u_carl"));

    let bob = facts_of(s, "acme", "u_bob", Some("u_anna")).await;
    assert_eq!(
        bob.conflicts,
        Default::default(),
        "beta's look-alikes of u_bob must not conflict in acme"
    );
    let docs: Vec<(&str, Option<&str>)> = bob.member.resources["documents"]
        .iter()
        .map(|i| (i.id.as_str(), i.transferred_to.as_deref()))
        .collect();
    assert_eq!(
        docs,
        [("d1", None), ("d2", Some("u_anna")), ("d0", None)],
        "items keep their stored order and transfers"
    );
    assert_eq!(
        bob.actor.map(|a| a.roles),
        Some(vec!["primary_admin".to_owned()]),
        "actor roles"
    );

    let upper = facts_of(s, "acme", "U_bob", None).await.conflicts;
    assert!(
        upper.user_id.is_empty(),
        "user ids are case-sensitive: {upper:?}"
    );

    let yan = facts_of(s, "beta", "u_yan", None).await.conflicts;
    assert_eq!(
        yan,
        Default::default(),
        "acme's u_anna must not conflict in beta"
    );
    let beta_erin = facts_of(s, "beta", "u_erin", None).await.conflicts;
    assert!(beta_erin.user_id.is_empty(), "acme's u_erin is not in beta");
}

/// Unknown tenant, member and actor are reported as such by every call.
pub async fn unknown_ids<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let s = make(fixture()).await;
    let d = &*s.directory;
    assert!(
        matches!(d.facts("nope", "u_bob", None).await, Err(DirectoryError::UnknownTenant { tenant }) if tenant == "nope"),
        "facts: unknown tenant"
    );
    assert!(
        matches!(d.facts("acme", "nobody", None).await, Err(DirectoryError::UnknownMember { member, .. }) if member == "nobody"),
        "facts: unknown member"
    );
    assert!(
        matches!(d.facts("acme", "u_bob", Some("ghost")).await, Err(DirectoryError::UnknownActor { actor, .. }) if actor == "ghost"),
        "facts: unknown actor"
    );
    // A deleted member is not an active member, so not an actor.
    assert!(
        matches!(
            d.facts("acme", "u_bob", Some("u_gus")).await,
            Err(DirectoryError::UnknownActor { .. })
        ),
        "facts: a deleted member is not an actor"
    );
    // An active member is not a deleted member.
    assert!(
        matches!(
            d.facts("acme", "u_anna", None).await,
            Err(DirectoryError::UnknownMember { .. })
        ),
        "facts: an active member is not a deleted member"
    );
    let items = collect(d, "nope", None).await;
    assert!(
        items.len() == 1 && matches!(items[0], Err(DirectoryError::UnknownTenant { .. })),
        "stream: unknown tenant must be the only item, got {} items",
        items.len()
    );
    let items = collect(d, "acme", Some("ghost")).await;
    assert!(
        items.len() == 1 && matches!(items[0], Err(DirectoryError::UnknownActor { .. })),
        "stream: unknown actor must be the only item, got {} items",
        items.len()
    );
    for (req, what) in [
        (request("nope", "u_bob", "u_anna", "ops"), "tenant"),
        (request("acme", "nobody", "u_anna", "ops"), "member"),
        (request("acme", "u_bob", "ghost", "ops"), "actor"),
    ] {
        let got = restore(&s, &req).await;
        let ok = match what {
            "tenant" => matches!(got, Err(DirectoryError::UnknownTenant { .. })),
            "member" => matches!(got, Err(DirectoryError::UnknownMember { .. })),
            _ => matches!(got, Err(DirectoryError::UnknownActor { .. })),
        };
        assert!(ok, "apply_restore: unknown {what} gave {got:?}");
    }
    assert_eq!(
        audit_len(&s, "acme").await,
        0,
        "failed restores wrote audit rows"
    );
}

/// `tenants` lists every tenant of the snapshot, sorted, once each (what
/// commands covering every tenant iterate over).
pub async fn tenants_listed<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let snapshot = fixture();
    let s = make(snapshot.clone()).await;
    let mut want: Vec<String> = snapshot.tenants.iter().map(|t| t.id.clone()).collect();
    want.sort();
    match s.directory.tenants().await {
        Ok(got) => assert_eq!(got, want, "tenants_listed"),
        Err(e) => panic!("tenants_listed: {e}"),
    }
}

/// A tenant never sees another tenant's members, as members, actors or
/// conflicts, and a restore in one tenant leaves the others alone.
pub async fn tenant_isolation<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let s = make(fixture()).await;
    let d = &*s.directory;
    assert!(
        matches!(
            d.facts("acme", "u_yan", None).await,
            Err(DirectoryError::UnknownMember { .. })
        ),
        "beta's deleted u_yan must not be found via acme"
    );
    assert!(
        matches!(
            d.facts("beta", "u_bob", None).await,
            Err(DirectoryError::UnknownMember { .. })
        ),
        "acme's deleted u_bob must not be found via beta"
    );
    assert!(
        matches!(
            d.facts("acme", "u_bob", Some("u_zed")).await,
            Err(DirectoryError::UnknownActor { .. })
        ),
        "beta's admin must not act in acme"
    );
    let got = restore(&s, &request("acme", "u_yan", "u_anna", "ops")).await;
    assert!(
        matches!(got, Err(DirectoryError::UnknownMember { .. })),
        "restoring beta's member via acme: {got:?}"
    );
    let got = restore(&s, &request("beta", "u_yan", "u_anna", "ops")).await;
    assert!(
        matches!(got, Err(DirectoryError::UnknownActor { .. })),
        "acme's admin restoring in beta: {got:?}"
    );
    let acme_ids: Vec<String> = collect(d, "acme", None)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .map(|f| f.member.id)
        .collect();
    assert!(
        !acme_ids.contains(&"u_yan".to_owned()),
        "acme stream has beta's u_yan"
    );

    let beta_before = facts_of(&s, "beta", "u_yan", None).await;
    let got = restore(&s, &request("acme", "u_gus", "u_anna", "ops")).await;
    assert!(
        matches!(got, Ok(RestoreOutcome::Restored(_))),
        "restore acme/u_gus: {got:?}"
    );
    assert_eq!(
        facts_of(&s, "beta", "u_yan", None).await,
        beta_before,
        "a restore in acme changed beta"
    );
    assert_eq!(
        audit_len(&s, "beta").await,
        0,
        "acme's restore audited in beta"
    );
    assert_eq!(
        s.probe.department("beta", "u_gus").await.ok().flatten(),
        None,
        "acme's restore touched beta's u_gus"
    );
}

/// An allowed restore: member active again in the new department with no
/// roles (F17), one more seat used, gone from the deleted members, one audit
/// row; the receipt agrees with the memory adapter's.
pub async fn restore_effects<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let snapshot = fixture();
    let s = make(snapshot.clone()).await;
    let memory = memory_subject(&snapshot);
    let req = request("acme", "u_bob", "u_anna", "engineering");
    let receipt = match restore(&s, &req).await {
        Ok(RestoreOutcome::Restored(r)) => r,
        other => panic!("restore acme/u_bob must succeed, got {other:?}"),
    };
    let reference = match restore(&memory, &req).await {
        Ok(RestoreOutcome::Restored(r)) => r,
        other => panic!("memory adapter: restore acme/u_bob gave {other:?}"),
    };
    assert_eq!(
        receipt.decision, reference.decision,
        "decision differs from memory adapter"
    );
    assert_eq!(receipt.seats_used, 50, "seats used after the restore");
    assert_eq!(receipt.department, "engineering");
    assert!(
        receipt.audit_id > 0,
        "audit id must be positive: {}",
        receipt.audit_id
    );

    assert!(
        matches!(
            s.directory.facts("acme", "u_bob", None).await,
            Err(DirectoryError::UnknownMember { .. })
        ),
        "a restored member is no longer a deleted member"
    );
    let ids: Vec<String> = collect(&*s.directory, "acme", None)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .map(|f| f.member.id)
        .collect();
    assert!(
        !ids.contains(&"u_bob".to_owned()),
        "stream still lists u_bob: {ids:?}"
    );
    assert_eq!(ids.len(), 7, "other deleted members stay: {ids:?}");
    // After the same restore the stream still matches the memory adapter's:
    // u_bob's rows (items, its own conflicts) do not leak into its
    // neighbours, and u_bob now counts as an active member.
    let got = collect(&*s.directory, "acme", None).await;
    let want = collect(&*memory.directory, "acme", None).await;
    assert_eq!(got.len(), want.len(), "stream after the restore: lengths");
    for (g, w) in got.into_iter().zip(want) {
        same("stream after the restore", g, w);
    }

    let gus = facts_of(&s, "acme", "u_gus", Some("u_bob")).await;
    assert_eq!(gus.tenant.seats_used, 50, "seat count read back");
    assert_eq!(
        gus.actor.map(|a| a.roles),
        Some(Vec::new()),
        "restored member comes back with no roles (F17)"
    );
    assert_eq!(
        s.probe
            .department("acme", "u_bob")
            .await
            .ok()
            .flatten()
            .as_deref(),
        Some("engineering"),
        "department chosen at restore (F8, F15)"
    );
    let audit = match s.probe.audit("acme").await {
        Ok(a) => a,
        Err(e) => panic!("audit: {e}"),
    };
    assert_eq!(audit.len(), 1, "exactly one audit row: {audit:?}");
    assert_eq!(audit[0].id, receipt.audit_id, "receipt names its audit row");
    assert_eq!(audit[0].member, "u_bob");
    assert_eq!(audit[0].actor, "u_anna");
    assert_eq!(audit[0].policy_version, &*receipt.decision.policy.version);
    assert_eq!(audit[0].digest, &*receipt.decision.policy.digest);

    // Items that come back (F21, F19, F25), where the adapter keeps them.
    for (resource, want) in [
        ("documents", &["d1", "d0"][..]),
        ("group_chats", &["g1", "g2"][..]),
        ("minutes", &["m1"][..]),
        ("approval_tasks_in_progress", &[][..]),
    ] {
        match s.probe.restored_items("acme", "u_bob", resource).await {
            Ok(Some(got)) => assert_eq!(
                got, want,
                "restored `{resource}` of u_bob: the transferred and the not restored stay away"
            ),
            Ok(None) => {}
            Err(e) => panic!("restored items of `{resource}`: {e}"),
        }
    }

    // Ids are case-sensitive: the active u_bob does not clash with U_bob.
    // The last seat is gone, so the next restore is blocked (F10).
    let upper = facts_of(&s, "acme", "U_bob", None).await;
    assert!(upper.conflicts.user_id.is_empty(), "ids are case-sensitive");
    let again = restore(&s, &request("acme", "u_gus", "u_anna", "ops")).await;
    match again {
        Ok(RestoreOutcome::Denied(d)) => assert!(
            d.blocked_by("no_available_seat"),
            "second restore must be blocked by the seat: {:?}",
            d.blockers
        ),
        other => panic!("second restore without a seat: {other:?}"),
    }
}

/// F21 on every adapter: a restore marks the items the decision brings
/// back, and says how many. u_bob has items kept whole (group chats),
/// transfer-dependent ones with and without a transfer (documents,
/// minutes) and ones that stay away (an approval task). The receipt's count
/// is the sum of the decision's `restored` counts, written out by hand too;
/// where the adapter keeps a record, the stored items agree; a second
/// restore of the same member is refused and marks nothing more.
pub async fn restored_items<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let s = make(fixture()).await;
    let req = request("acme", "u_bob", "u_anna", "engineering");
    let receipt = match restore(&s, &req).await {
        Ok(RestoreOutcome::Restored(r)) => r,
        other => panic!("restored_items: restore acme/u_bob must succeed, got {other:?}"),
    };
    let counted: u32 = receipt
        .decision
        .resources
        .iter()
        .filter_map(|r| r.restored)
        .sum();
    assert_eq!(
        receipt.restored_items, counted,
        "restored_items: the receipt's count is the sum of the decision's `restored` counts"
    );
    // group_chats g1 g2, documents d1 d0 (not d2, transferred), minutes m1.
    assert_eq!(receipt.restored_items, 5, "restored_items: u_bob's count");
    let mut stored = Vec::new();
    let mut looked = false;
    for r in receipt.decision.resources.iter() {
        match s.probe.restored_items("acme", "u_bob", &r.resource).await {
            Ok(Some(ids)) => {
                looked = true;
                assert_eq!(
                    u32::try_from(ids.len()).unwrap(),
                    r.restored.unwrap_or(0),
                    "restored_items: stored items of `{}` against the decision",
                    r.resource
                );
                stored.extend(ids);
            }
            Ok(None) => {}
            Err(e) => panic!("restored_items: stored items of `{}`: {e}", r.resource),
        }
    }
    if looked {
        stored.sort();
        assert_eq!(
            stored,
            ["d0", "d1", "g1", "g2", "m1"],
            "restored_items: what the adapter stored"
        );
    }

    let again = restore(&s, &req).await;
    assert!(
        matches!(again, Err(DirectoryError::UnknownMember { .. })),
        "restored_items: a second restore of u_bob must be refused, got {again:?}"
    );
    assert_eq!(
        audit_len(&s, "acme").await,
        1,
        "restored_items: the refused restore wrote an audit row"
    );
    if looked {
        let docs = s
            .probe
            .restored_items("acme", "u_bob", "documents")
            .await
            .unwrap();
        assert_eq!(
            docs.map(|d| d.len()),
            Some(2),
            "restored_items: the refused restore marked more items"
        );
    }
}

/// A denied restore writes nothing: facts, seats, audit and departments stay.
pub async fn denied_restore_changes_nothing<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let s = make(fixture()).await;
    let cases = [
        (
            request("gamma", "u_kim", "u_root", "ops"),
            "no_available_seat",
        ),
        (
            request("acme", "u_bob", "u_carl", "ops"),
            "actor_not_permitted",
        ),
        (
            request("acme", "u_cleo", "u_anna", "ops"),
            "duplicate_email",
        ),
        (
            request("acme", "u_hal", "u_anna", "ops"),
            "deletion_in_progress",
        ),
        (
            request("acme", "u_ivy", "u_anna", "ops"),
            "removed_from_list",
        ),
    ];
    for (req, rule) in cases {
        let before = facts_of(&s, &req.tenant, &req.member, None).await;
        match restore(&s, &req).await {
            Ok(RestoreOutcome::Denied(d)) => {
                assert!(!d.allowed, "denied decision must not be allowed");
                assert!(
                    d.blocked_by(rule),
                    "`{}` must be blocked by `{rule}`: {:?}",
                    req.member,
                    d.blockers
                );
            }
            other => panic!(
                "restore `{}/{}` must be denied, got {other:?}",
                req.tenant, req.member
            ),
        }
        assert_eq!(
            facts_of(&s, &req.tenant, &req.member, None).await,
            before,
            "denied restore of `{}` changed the facts",
            req.member
        );
        assert_eq!(
            audit_len(&s, &req.tenant).await,
            0,
            "denied restore wrote an audit row"
        );
        assert_eq!(
            s.probe
                .department(&req.tenant, &req.member)
                .await
                .ok()
                .flatten(),
            None,
            "denied restore activated `{}`",
            req.member
        );
    }
}

/// A missing or blank department is refused before anything is read or written.
pub async fn missing_department<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let s = make(fixture()).await;
    let before = facts_of(&s, "acme", "u_bob", None).await;
    for dept in ["", "   "] {
        let got = restore(&s, &request("acme", "u_bob", "u_anna", dept)).await;
        assert!(
            matches!(got, Err(DirectoryError::MissingDepartment)),
            "department {dept:?}: {got:?}"
        );
        // Checked before the tenant is even looked up.
        let got = restore(&s, &request("nope", "u_bob", "u_anna", dept)).await;
        assert!(
            matches!(got, Err(DirectoryError::MissingDepartment)),
            "department {dept:?} in an unknown tenant: {got:?}"
        );
    }
    assert_eq!(
        facts_of(&s, "acme", "u_bob", None).await,
        before,
        "facts changed"
    );
    assert_eq!(audit_len(&s, "acme").await, 0, "audit row written");
}

/// Attributes at every scope come back as the snapshot holds them: the
/// tenant's on every member's facts, a deleted member's on its own, an
/// active member's as the actor's, through `facts` and the stream, with
/// and without an actor; absent attributes are empty, never invented. Also
/// equal to the memory adapter's, field by field.
pub async fn attributes_round_trip<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let snapshot = attributes_fixture();
    assert_eq!(snapshot.format, "restore-directory/v2", "fixture format");
    let s = make(snapshot.clone()).await;
    let memory = memory_subject(&snapshot);
    let mut checked = 0;
    for tenant in &snapshot.tenants {
        for member in &tenant.deleted_members {
            for actor in actors(&snapshot, &tenant.id) {
                let what = format!(
                    "attributes_round_trip `{}/{}` actor {actor:?}",
                    tenant.id, member.id
                );
                let facts = match s
                    .directory
                    .facts(&tenant.id, &member.id, actor.as_deref())
                    .await
                {
                    Ok(f) => f,
                    Err(e) => panic!("{what}: {e}"),
                };
                assert_eq!(facts.tenant.attributes, tenant.attributes, "{what}: tenant");
                assert_eq!(facts.member.attributes, member.attributes, "{what}: member");
                let want_actor = actor.as_deref().map(|id| {
                    tenant
                        .members
                        .iter()
                        .find(|m| m.id == id)
                        .map(|m| m.attributes.clone())
                        .unwrap_or_default()
                });
                assert_eq!(
                    facts.actor.map(|a| a.attributes),
                    want_actor,
                    "{what}: actor"
                );
                same(
                    &what,
                    s.directory
                        .facts(&tenant.id, &member.id, actor.as_deref())
                        .await,
                    memory
                        .directory
                        .facts(&tenant.id, &member.id, actor.as_deref())
                        .await,
                );
                checked += 1;
            }
        }
        for actor in actors(&snapshot, &tenant.id) {
            let what = format!(
                "attributes_round_trip stream `{}` actor {actor:?}",
                tenant.id
            );
            let got = collect(&*s.directory, &tenant.id, actor.as_deref()).await;
            let want = collect(&*memory.directory, &tenant.id, actor.as_deref()).await;
            assert_eq!(got.len(), tenant.deleted_members.len(), "{what}: length");
            for (g, w) in got.into_iter().zip(want) {
                same(&what, g, w);
            }
        }
    }
    assert!(
        checked >= 6,
        "attributes_round_trip checked only {checked} cases"
    );
    // Written out by hand too: the values an adapter could mangle (i64
    // extremes, quotes, non-ASCII, empty strings, lists in order).
    let held = facts_of(&s, "acme", "u_held", Some("u_anna")).await;
    assert_eq!(
        held.member.attributes.to_json(),
        r#"{"former_roles":["admin","approver"],"hold_until":"2026-12-01T00:00:00Z","note":"","rank":-9223372036854775808,"suspended":true}"#,
        "attributes_round_trip: u_held"
    );
    assert_eq!(
        held.tenant.attributes.to_json(),
        r#"{"domains":["acme.test","ünï.test"],"legal_hold":false,"max_batch":50,"region":"eu"}"#,
        "attributes_round_trip: acme"
    );
    assert_eq!(
        held.actor.map(|a| a.attributes.to_json()).as_deref(),
        Some(r#"{"clearance":3,"teams":["ops","sec \"red\""],"was_admin":true}"#),
        "attributes_round_trip: u_anna as actor"
    );
    let yan = facts_of(&s, "beta", "u_yan", Some("u_zed")).await;
    assert!(yan.tenant.attributes.is_empty(), "beta has none");
    assert_eq!(
        yan.member.attributes.to_json(),
        r#"{"rank":9223372036854775807,"region":"us"}"#
    );
    let none = facts_of(&s, "acme", "u_none", Some("u_plain")).await;
    assert!(
        none.member.attributes.is_empty() && none.actor.is_some_and(|a| a.attributes.is_empty()),
        "attributes_round_trip: members without attributes have none"
    );
}

/// A restored member's attributes come back with it: afterwards they are
/// its actor attributes (the active record carries them), and nothing else
/// changed the other members' attributes.
pub async fn attributes_follow_restore<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let snapshot = attributes_fixture();
    let s = make(snapshot.clone()).await;
    let held = snapshot.tenants[0]
        .deleted_members
        .iter()
        .find(|m| m.id == "u_held")
        .map(|m| m.attributes.clone())
        .unwrap();
    assert!(!held.is_empty(), "fixture: u_held has attributes");
    let before = facts_of(&s, "acme", "u_none", None).await;
    let receipt = match restore(&s, &request("acme", "u_held", "u_anna", "legal")).await {
        Ok(RestoreOutcome::Restored(r)) => r,
        other => panic!("attributes_follow_restore: restore acme/u_held: {other:?}"),
    };
    assert_eq!(
        receipt.restored_items, 1,
        "d0 comes back, d1 was transferred"
    );
    let after = facts_of(&s, "acme", "u_none", Some("u_held")).await;
    let actor = after.actor.clone().unwrap();
    assert_eq!(actor.id, "u_held");
    assert_eq!(
        actor.attributes, held,
        "attributes_follow_restore: the restored member's attributes are its actor attributes"
    );
    assert!(actor.roles.is_empty(), "F17: no roles come back");
    assert_eq!(
        after.member.attributes, before.member.attributes,
        "attributes_follow_restore: u_none's attributes unchanged"
    );
    assert_eq!(
        after.tenant.attributes, before.tenant.attributes,
        "tenant unchanged"
    );
    let stream = collect(&*s.directory, "acme", Some("u_held")).await;
    for item in stream {
        match item {
            Ok(f) => assert_eq!(
                f.actor.map(|a| a.attributes),
                Some(held.clone()),
                "attributes_follow_restore: stream actor"
            ),
            Err(e) => panic!("attributes_follow_restore: stream: {e}"),
        }
    }
}

/// A stored attribute value the backend's own test broke (SQL and plugin
/// backends: the memory adapter only reads checked snapshots).
#[derive(Debug, Clone, Copy)]
pub struct BadAttribute {
    pub tenant: &'static str,
    pub member: &'static str,
    pub actor: Option<&'static str>,
    /// What the error must name: table, key, and a part of the reason.
    pub table: &'static str,
    pub key: &'static str,
    pub said: &'static str,
}

/// `bad_attribute_rows`: every broken value is a `BadRow` naming table,
/// key and the `attributes` column through `facts`, the stream and a
/// restore (which writes nothing) — never a panic, never a silent default.
pub async fn bad_attribute_rows(s: &Subject, cases: &[BadAttribute]) {
    assert!(!cases.is_empty(), "bad_attribute_rows: no cases");
    for c in cases {
        let what = format!(
            "bad_attribute_rows `{}/{}` actor {:?}",
            c.tenant, c.member, c.actor
        );
        let check = |e: &DirectoryError, via: &str| match e {
            DirectoryError::BadRow { table, key, reason } => {
                assert_eq!(
                    (*table, key.as_str()),
                    (c.table, c.key),
                    "{what} ({via}): {e}"
                );
                assert!(
                    reason.contains("attributes") && reason.contains(c.said),
                    "{what} ({via}): reason `{reason}` must name the column and `{}`",
                    c.said
                );
            }
            other => panic!("{what} ({via}): expected a bad row, got `{other}` ({other:?})"),
        };
        match s.directory.facts(c.tenant, c.member, c.actor).await {
            Err(e) => check(&e, "facts"),
            Ok(f) => panic!(
                "{what}: facts read a broken value: {:?}",
                f.member.attributes
            ),
        }
        let items = collect(&*s.directory, c.tenant, c.actor).await;
        let first_error = items.iter().find_map(|i| i.as_ref().err());
        match first_error {
            Some(e) => check(e, "stream"),
            None => panic!("{what}: the stream read a broken value"),
        }
        let before = audit_len(s, c.tenant).await;
        let req = request(c.tenant, c.member, c.actor.unwrap_or("u_anna"), "ops");
        match restore(s, &req).await {
            Err(e) => check(&e, "restore"),
            Ok(o) => panic!("{what}: restored over a broken value: {o:?}"),
        }
        assert_eq!(
            audit_len(s, c.tenant).await,
            before,
            "{what}: audit row written"
        );
    }
}
