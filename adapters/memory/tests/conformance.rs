//! The reference adapter passes its own conformance suite (the checks that
//! do not compare with it also hold facts the fixture is built to have).

use restore_conformance as suite;

async fn make(snapshot: restore_directory::Snapshot) -> suite::Subject {
    suite::memory_subject(&snapshot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_adapter_conforms() {
    suite::run_all(make).await;
}
