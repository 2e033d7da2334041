//! Restore-policy engine: load → compile → evaluate.
//!
//! ```text
//! rules/*.yaml --load+validate--> PolicyFile --compile--> CompiledPolicy (Send + Sync)
//! CompiledPolicy::try_evaluate(&Facts, &Request, at) --> Result<Decision, EvaluationError>
//! ```
//!
//! The engine never reads the clock, files or a database on the evaluation
//! path: facts and time come in, a decision goes out.

pub mod attributes;
mod compile;
pub mod decision;
pub mod declarations;
pub mod error;
mod evaluate;
pub mod excerpt;
pub mod explain;
pub mod facts;
pub mod json;
pub mod lint;
pub mod load;
pub mod model;
mod policy_set;
pub mod prelude;
pub mod schema;
pub mod schema_v2;
pub mod source;
pub mod timestamp;
pub mod vocabulary;
pub mod yaml;

pub use compile::CompiledPolicy;
pub use decision::Decision;
pub use error::{EvaluationError, LoadError, RuleDiagnostic, RuleErrorKind, SourceDiagnostic};
pub use facts::{AttrValue, Attributes, Facts, Request};
pub use policy_set::{PolicySet, SelectError};

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn compiled_policy_is_shareable() {
        assert_send_sync::<CompiledPolicy>();
        assert_send_sync::<PolicySet>();
    }
}
