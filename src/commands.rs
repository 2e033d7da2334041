//! One module per subcommand.
pub mod check;
pub mod diff;
pub mod eval;
pub mod schema;
pub mod test;
