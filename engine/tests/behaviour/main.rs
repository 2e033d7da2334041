//! The engine's behaviour tests, in one test binary so that
//! `cargo test -p restore-engine` builds and links once: the default policy
//! fact by fact, every operator, exceptions and tiers, versions, rule-file
//! errors and the digest. Facts are built in memory (no adapter); snapshots
//! are in the top-level `snapshots/`, named `<module>__<name>.snap`.

// Test code: asserts by panicking (unwrap, expect, indexing).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod allocation;
mod attributes;
mod conditions;
mod default_policy;
mod digest;
mod equivalence;
mod format_v2;
mod loader;
mod resources_and_tiers;
mod rule_errors;
mod support;
mod versions;
