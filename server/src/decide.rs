//! The two functions every endpoint decides and encodes through, so that a
//! decision is evaluated and printed the same everywhere (and a faster
//! engine call or encoder is swapped in at one place).

use chrono::{DateTime, Utc};
use restore_engine::declarations::ContextError;
use restore_engine::explain::Explanation;
use restore_engine::facts::{Attributes, Facts, Request};
use restore_engine::{CompiledPolicy, Decision};

use crate::problem::{Code, Problem};

pub use restore_engine::EvaluationError;

impl From<EvaluationError> for Problem {
    fn from(error: EvaluationError) -> Problem {
        // Every variant is a decision the caller's data or question keeps
        // from being made: 422 with a stable code per kind (the message
        // names the value, never its content).
        let code = match &error {
            EvaluationError::DeletedAfterEvaluation { .. } => Code::DeletedAfterEvaluation,
            EvaluationError::UnknownTier { .. } => Code::UnknownTier,
            EvaluationError::MissingValue { .. } => Code::MissingValue,
            EvaluationError::BadValue { .. } => Code::BadValue,
            _ => Code::CannotDecide,
        };
        Problem::new(code, error.to_string())
    }
}

impl From<ContextError> for Problem {
    fn from(error: ContextError) -> Problem {
        Problem::new(Code::UnknownContext, format!("`context`: {error}"))
    }
}

/// The request a JSON body's `context` object makes, checked against the
/// names `policy` declares (the values are typed at evaluation).
pub fn request(policy: &CompiledPolicy, context: &Attributes) -> Result<Request, Problem> {
    policy.check_context(context)?;
    Ok(Request {
        context: context.clone(),
        ..Request::default()
    })
}

/// Evaluates `policy` on `facts` at `at`: the only place the server asks
/// the engine for a decision.
pub fn evaluate(
    policy: &CompiledPolicy,
    facts: &Facts,
    request: &Request,
    at: DateTime<Utc>,
) -> Result<Decision, EvaluationError> {
    policy.try_evaluate(facts, request, at)
}

/// The explanation `eval --explain` adds, for the same inputs.
pub fn explain(
    policy: &CompiledPolicy,
    facts: &Facts,
    request: &Request,
    at: DateTime<Utc>,
) -> Result<Explanation, EvaluationError> {
    policy.explain(facts, request, at)
}

/// Appends `decision` as compact JSON: byte for byte what
/// `serde_json::to_writer(decision)` writes, i.e. `restorectl eval
/// --output json` without the pretty-printing.
pub fn write_decision(out: &mut Vec<u8>, decision: &Decision) {
    // The engine's encoder: the same bytes as serde_json, with each
    // thread's cache of the shared parts (policy ref, requires, tier tables).
    restore_engine::json::write_decision(out, decision);
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
