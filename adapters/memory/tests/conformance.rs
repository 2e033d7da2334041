//! The reference adapter passes its own conformance suite (the checks that
//! do not compare with it also hold facts the fixture is built to have).

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use restore_conformance as suite;

async fn make(snapshot: restore_directory::Snapshot) -> suite::Subject {
    suite::memory_subject(&snapshot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_adapter_conforms() {
    suite::run_all(make).await;
}
