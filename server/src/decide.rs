//! The two functions every endpoint decides and encodes through, so that a
//! decision is evaluated and printed the same everywhere (and a faster
//! engine call or encoder is swapped in at one place).

use chrono::{DateTime, Utc};
use restore_engine::explain::Explanation;
use restore_engine::facts::{Facts, Request};
use restore_engine::{CompiledPolicy, Decision};

use crate::problem::Problem;

/// Why an evaluation produced no decision. Empty today: the engine's
/// evaluation cannot fail yet. When it can (a member deleted after the
/// evaluation time), its error maps here to 422 `deleted_after_evaluation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvaluationError {}

impl From<EvaluationError> for Problem {
    fn from(error: EvaluationError) -> Problem {
        match error {}
    }
}

/// Evaluates `policy` on `facts` at `at`: the only place the server asks
/// the engine for a decision.
pub fn evaluate(
    policy: &CompiledPolicy,
    facts: &Facts,
    at: DateTime<Utc>,
) -> Result<Decision, EvaluationError> {
    Ok(policy.evaluate(facts, &Request::default(), at))
}

/// The explanation `eval --explain` adds, for the same inputs.
pub fn explain(policy: &CompiledPolicy, facts: &Facts, at: DateTime<Utc>) -> Explanation {
    policy.explain(facts, &Request::default(), at)
}

/// Appends `decision` as compact JSON: byte for byte what
/// `serde_json::to_writer(decision)` writes, i.e. `restorectl eval
/// --output json` without the pretty-printing.
pub fn write_decision(out: &mut Vec<u8>, decision: &Decision) {
    // Writing plain data into a Vec cannot fail.
    let _ = serde_json::to_writer(out, decision);
}

/// Appends the decision with `"explanation"` as its last member, as
/// `eval --explain --output json` prints it (compact).
pub fn write_explained(out: &mut Vec<u8>, decision: &Decision, explanation: &Explanation) {
    write_decision(out, decision);
    // The decision is a JSON object: reopen it before its closing brace.
    if out.last() == Some(&b'}') {
        out.pop();
        out.extend_from_slice(b",\"explanation\":");
        let _ = serde_json::to_writer(&mut *out, explanation);
        out.push(b'}');
    }
}
