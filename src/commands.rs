//! One module per subcommand.
pub mod check;
pub mod eval;
pub mod eval_all;
pub mod import;
pub mod restore;
