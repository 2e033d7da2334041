//! Rego with `policies/restore.rego`, on both of regorus' evaluators: the
//! tree-walking interpreter ([`RegoEngine`], `Engine::eval_rule`) and the
//! bytecode VM ([`RegoVm`], RVM).
//!
//! Building the input [`Value`] from [`Facts`] is [`input`]; the benchmarks
//! time it separately from the evaluation.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::{Engine, Rc, Value};
use restore_engine::Facts;

use crate::Verdict;

/// The rule every evaluation asks for: `{"allow": bool, "deny": set}`.
pub const DECISION_RULE: &str = "data.restore.decision";

fn read_policy(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("restore.rego");
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

fn engine_with(text: &str) -> anyhow::Result<Engine> {
    let mut engine = Engine::new();
    engine.add_policy("restore.rego".to_owned(), text.to_owned())?;
    Ok(engine)
}

/// regorus' interpreter with the Rego policy loaded.
#[derive(Clone)]
pub struct RegoEngine {
    engine: Engine,
}

impl RegoEngine {
    /// Loads `restore.rego` from `dir`.
    pub fn load_dir(dir: &Path) -> anyhow::Result<RegoEngine> {
        RegoEngine::from_source(&read_policy(dir)?)
    }

    /// Parses the policy. regorus analyses it lazily, on the first
    /// evaluation, so this also evaluates once on an empty input to make
    /// later evaluations (and the load benchmark) include that work once.
    pub fn from_source(text: &str) -> anyhow::Result<RegoEngine> {
        let mut engine = engine_with(text)?;
        engine.set_input(Value::new_object());
        engine.eval_rule(DECISION_RULE.to_owned())?;
        Ok(RegoEngine { engine })
    }

    /// Evaluates the decision rule on `input`.
    pub fn decide(&mut self, input: Value) -> anyhow::Result<Value> {
        self.engine.set_input(input);
        self.engine.eval_rule(DECISION_RULE.to_owned())
    }

    /// Input, evaluation and reduction: one request end to end.
    pub fn verdict(&mut self, facts: &Facts, at: DateTime<Utc>) -> anyhow::Result<Verdict> {
        verdict_of(&self.decide(input(facts, at))?)
    }
}

/// regorus' bytecode VM with the Rego policy compiled to a program.
pub struct RegoVm {
    vm: RegoVM,
}

impl RegoVm {
    /// Loads `restore.rego` from `dir`.
    pub fn load_dir(dir: &Path) -> anyhow::Result<RegoVm> {
        RegoVm::from_source(&read_policy(dir)?)
    }

    /// Parses the policy and compiles the decision rule to RVM bytecode.
    pub fn from_source(text: &str) -> anyhow::Result<RegoVm> {
        let program = compile_program(text)?;
        let mut vm = RegoVM::new();
        vm.load_program(program);
        Ok(RegoVm { vm })
    }

    /// Runs the program on `input`.
    pub fn decide(&mut self, input: Value) -> anyhow::Result<Value> {
        self.vm.set_input(input);
        Ok(self.vm.execute()?)
    }

    /// Input, evaluation and reduction: one request end to end.
    pub fn verdict(&mut self, facts: &Facts, at: DateTime<Utc>) -> anyhow::Result<Verdict> {
        verdict_of(&self.decide(input(facts, at))?)
    }
}

/// Parses the Rego and compiles [`DECISION_RULE`] to an RVM program.
pub fn compile_program(text: &str) -> anyhow::Result<Arc<Program>> {
    let mut engine = engine_with(text)?;
    let entry: Rc<str> = Rc::from(DECISION_RULE);
    let compiled = engine.compile_with_entrypoint(&entry)?;
    Ok(Compiler::compile_from_policy(&compiled, &[DECISION_RULE])?)
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::from(
        fields
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn strings(items: &[String]) -> Value {
    Value::from(
        items
            .iter()
            .map(|s| Value::from(s.as_str()))
            .collect::<Vec<_>>(),
    )
}

/// The Rego input document for `facts` at time `at` (shape: the comment at
/// the top of `restore.rego`).
pub fn input(facts: &Facts, at: DateTime<Utc>) -> Value {
    let roles = facts.actor.as_ref().map_or(&[][..], |a| &a.roles[..]);
    object([
        (
            "actor",
            object([
                ("present", Value::from(facts.actor.is_some())),
                ("roles", strings(roles)),
            ]),
        ),
        (
            "member",
            object([
                ("deletion", Value::from(facts.member.deletion.as_str())),
                (
                    "removed_from_list",
                    Value::from(facts.member.removed_from_list),
                ),
                (
                    "deleted_for_seconds",
                    Value::from((at - facts.member.deleted_at).num_seconds()),
                ),
            ]),
        ),
        (
            "tenant",
            object([
                ("plan", Value::from(&*facts.tenant.plan)),
                ("seats_total", Value::from(facts.tenant.seats_total)),
                ("seats_used", Value::from(facts.tenant.seats_used)),
            ]),
        ),
        (
            "conflicts",
            object([
                ("user_id", strings(&facts.conflicts.user_id)),
                ("phone", strings(&facts.conflicts.phone)),
                ("email", strings(&facts.conflicts.email)),
            ]),
        ),
    ])
}

/// The decision value reduced to allowed + blocker ids.
pub fn verdict_of(decision: &Value) -> anyhow::Result<Verdict> {
    let allowed = decision["allow"]
        .as_bool()
        .with_context(|| format!("`allow` is not a boolean in {decision}"))?;
    let blockers = decision["deny"]
        .as_set()
        .with_context(|| format!("`deny` is not a set in {decision}"))?
        .iter()
        .map(|id| {
            id.as_string()
                .map(|s| s.to_string())
                .with_context(|| format!("blocker id {id} is not a string"))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Verdict::new(*allowed, blockers))
}
