//! Cedar (`cedar-policy`) with `policies/restore.cedar`.
//!
//! A request is an [`Entities`] store (the actor and the deleted member) plus
//! a [`Request`] (principal, action, resource, context). Building both from
//! [`Facts`] is [`CedarEngine::prepare`]; the benchmarks time it separately
//! from [`CedarEngine::decide`], which is Cedar's own work.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use anyhow::Context as _;
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, Response, RestrictedExpression, Schema, ValidationMode, Validator,
};
use chrono::{DateTime, Utc};
use restore_engine::Facts;

use crate::Verdict;

/// The id of the base `permit`; every other policy id is a blocker id.
const BASE: &str = "base";

/// The Cedar policy set, with policy ids taken from each policy's `@id`.
pub struct CedarEngine {
    policies: PolicySet,
    authorizer: Authorizer,
    actor_type: EntityTypeName,
    member_type: EntityTypeName,
    action: EntityUid,
}

/// A request ready for [`CedarEngine::decide`].
pub struct Prepared {
    /// Principal, action, resource and context.
    pub request: Request,
    /// The actor and the deleted member, with their attributes.
    pub entities: Entities,
}

impl CedarEngine {
    /// Loads `restore.cedar` from `dir`.
    pub fn load_dir(dir: &Path) -> anyhow::Result<CedarEngine> {
        let path = dir.join("restore.cedar");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        CedarEngine::from_source(&text)
    }

    /// Parses the policies; each must carry an `@id` annotation, which
    /// becomes its policy id (Cedar numbers them `policy0`... otherwise, and
    /// the ids are what a denial's diagnostics name).
    pub fn from_source(text: &str) -> anyhow::Result<CedarEngine> {
        let parsed = PolicySet::from_str(text).context("parsing restore.cedar")?;
        let mut policies = PolicySet::new();
        for policy in parsed.policies() {
            let id = policy
                .annotation("id")
                .with_context(|| format!("policy {} has no @id", policy.id()))?;
            policies.add(policy.new_id(PolicyId::new(id)))?;
        }
        Ok(CedarEngine {
            policies,
            authorizer: Authorizer::new(),
            actor_type: EntityTypeName::from_str("Actor")?,
            member_type: EntityTypeName::from_str("Member")?,
            action: EntityUid::from_str(r#"Action::"restore""#)?,
        })
    }

    /// Validates the policies against `restore.cedarschema` in `dir`
    /// (strict mode); returns the validator's errors, if any, as text.
    pub fn validate(&self, dir: &Path) -> anyhow::Result<Vec<String>> {
        let path = dir.join("restore.cedarschema");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let (schema, _warnings) =
            Schema::from_cedarschema_str(&text).context("parsing restore.cedarschema")?;
        let result = Validator::new(schema).validate(&self.policies, ValidationMode::Strict);
        Ok(result.validation_errors().map(|e| e.to_string()).collect())
    }

    /// Builds Cedar's request and entities from the facts, at time `at`.
    pub fn prepare(&self, facts: &Facts, at: DateTime<Utc>) -> anyhow::Result<Prepared> {
        let strings = |items: &[String]| {
            RestrictedExpression::new_set(
                items
                    .iter()
                    .map(|s| RestrictedExpression::new_string(s.clone())),
            )
        };
        // No actor: Cedar still needs a principal. It gets an entity with no
        // roles, which no policy reads because `actor_present` is false.
        let (actor_id, roles): (&str, &[String]) = match &facts.actor {
            Some(actor) => (&actor.id, &actor.roles),
            None => ("", &[]),
        };
        let principal =
            EntityUid::from_type_name_and_id(self.actor_type.clone(), EntityId::new(actor_id));
        let resource = EntityUid::from_type_name_and_id(
            self.member_type.clone(),
            EntityId::new(&facts.member.id),
        );
        let actor = Entity::new(
            principal.clone(),
            HashMap::from([("roles".to_owned(), strings(roles))]),
            HashSet::new(),
        )?;
        let member = Entity::new(
            resource.clone(),
            HashMap::from([
                (
                    "deletion".to_owned(),
                    RestrictedExpression::new_string(facts.member.deletion.as_str().to_owned()),
                ),
                (
                    "removed_from_list".to_owned(),
                    RestrictedExpression::new_bool(facts.member.removed_from_list),
                ),
            ]),
            HashSet::new(),
        )?;
        let entities = Entities::from_entities([actor, member], None)?;
        let conflicts = &facts.conflicts;
        let context = Context::from_pairs([
            (
                "actor_present".to_owned(),
                RestrictedExpression::new_bool(facts.actor.is_some()),
            ),
            (
                "deleted_for_seconds".to_owned(),
                RestrictedExpression::new_long((at - facts.member.deleted_at).num_seconds()),
            ),
            (
                "plan".to_owned(),
                RestrictedExpression::new_string(facts.tenant.plan.to_string()),
            ),
            (
                "seats_total".to_owned(),
                RestrictedExpression::new_long(facts.tenant.seats_total),
            ),
            (
                "seats_used".to_owned(),
                RestrictedExpression::new_long(facts.tenant.seats_used),
            ),
            (
                "conflicts".to_owned(),
                RestrictedExpression::new_record([
                    ("user_id".to_owned(), strings(&conflicts.user_id)),
                    ("phone".to_owned(), strings(&conflicts.phone)),
                    ("email".to_owned(), strings(&conflicts.email)),
                ])?,
            ),
        ])?;
        let request = Request::new(principal, self.action.clone(), resource, context, None)?;
        Ok(Prepared { request, entities })
    }

    /// Cedar's authorization of a prepared request.
    pub fn decide(&self, prepared: &Prepared) -> Response {
        self.authorizer
            .is_authorized(&prepared.request, &self.policies, &prepared.entities)
    }

    /// The response reduced to allowed + blocker ids: the determining
    /// policies of a denial are exactly the `forbid`s that hold.
    pub fn verdict_of(response: &Response) -> anyhow::Result<Verdict> {
        if let Some(error) = response.diagnostics().errors().next() {
            // An erroring policy is skipped by Cedar, which could hide a
            // blocker: treat it as a broken benchmark, not as an answer.
            anyhow::bail!("Cedar policy error: {error}");
        }
        let allowed = response.decision() == Decision::Allow;
        let blockers = response
            .diagnostics()
            .reason()
            .map(|id| id.to_string())
            .filter(|id| id != BASE)
            .collect();
        Ok(Verdict::new(allowed, blockers))
    }

    /// Prepare, decide and reduce: one request end to end.
    pub fn verdict(&self, facts: &Facts, at: DateTime<Utc>) -> anyhow::Result<Verdict> {
        CedarEngine::verdict_of(&self.decide(&self.prepare(facts, at)?))
    }
}
