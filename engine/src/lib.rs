//! Restore-policy engine: load → compile → evaluate.
pub mod decision;
pub mod facts;
