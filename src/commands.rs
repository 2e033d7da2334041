//! One module per subcommand.
pub mod check;
pub mod diff;
pub mod eval;
pub mod eval_all;
pub mod import;
pub mod restore;
pub mod schema;
pub mod serve;
pub mod snapshot;
pub mod test;
