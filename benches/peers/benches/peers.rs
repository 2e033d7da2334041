//! Our engine against Cedar and regorus (Rego) on the same policy and the
//! same generated corpus, in one run. Before timing, every engine's verdict
//! (allowed + blocker ids) is checked to agree on every request.
//!
//! Groups (one iteration = the whole corpus; criterion's throughput is
//! decisions per second, time per iteration / corpus size = time per decision):
//! - `decide/<corpus>/<engine>/engine_only`: the engine's own work on an input
//!   already in its format (ours: `&Facts`, nothing to convert; Cedar: a built
//!   `Request` + `Entities`; regorus: a built input `Value`).
//! - `decide/<corpus>/<engine>/with_conversion`: building that input from
//!   `Facts` included, as a caller holding `Facts` pays it.
//! - `load_compile/<engine>`: policy text to a ready-to-evaluate policy.
//!
//! Run: `cargo bench -p restore-peer-bench --bench peers`. Results: BENCHMARKS.md.

// A benchmark: it prints its results and stops loudly on a broken setup.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use restore_engine::{Facts, PolicySet};
use restore_peer_bench::cedar::CedarEngine;
use restore_peer_bench::rego::{self, RegoEngine, RegoVm};
use restore_peer_bench::{check_agreement, corpus, Engines, POLICY_DIR, RULES_DIR};

/// The issue asks for at least 10,000 requests.
const LEN: usize = 10_000;

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, len: usize) {
    group.throughput(Throughput::Elements(len as u64));
    // One iteration is a whole corpus (up to ~1 s for the slowest engine):
    // ten samples over a few seconds give stable medians on 2 cores.
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
}

fn decide(c: &mut Criterion, name: &str, corpus: &[Facts], engines: &mut Engines) {
    let at = corpus::at();
    let disagreements = check_agreement(engines, corpus).expect("every engine evaluates");
    for d in disagreements.iter().take(5) {
        eprintln!("{d}");
    }
    assert!(
        disagreements.is_empty(),
        "{name}: {} of {} requests disagree; not benchmarking",
        disagreements.len(),
        corpus.len()
    );
    let blockers: usize = corpus
        .iter()
        .map(|f| engines.ours.decide(f).blockers.len())
        .sum();
    eprintln!(
        "{name}: {} requests, all engines agree; {:.2} blockers per request on average",
        corpus.len(),
        blockers as f64 / corpus.len() as f64
    );

    let cedar_inputs: Vec<_> = corpus
        .iter()
        .map(|f| engines.cedar.prepare(f, at).expect("cedar request"))
        .collect();
    let rego_inputs: Vec<_> = corpus.iter().map(|f| rego::input(f, at)).collect();

    let mut group = c.benchmark_group(format!("decide/{name}"));
    configure(&mut group, corpus.len());
    let Engines {
        ours,
        cedar,
        rego,
        rego_vm,
    } = engines;

    group.bench_function("ours/engine_only", |b| {
        b.iter(|| {
            for facts in corpus {
                black_box(ours.decide(black_box(facts)));
            }
        })
    });
    group.bench_function("cedar/engine_only", |b| {
        b.iter(|| {
            for prepared in &cedar_inputs {
                black_box(cedar.decide(black_box(prepared)));
            }
        })
    });
    group.bench_function("cedar/with_conversion", |b| {
        b.iter(|| {
            for facts in corpus {
                let prepared = cedar.prepare(black_box(facts), at).expect("cedar request");
                black_box(cedar.decide(&prepared));
            }
        })
    });
    // A regorus Value is reference-counted: the clone handed to set_input is
    // a pointer copy, not a deep copy.
    group.bench_function("regorus_interpreter/engine_only", |b| {
        b.iter(|| {
            for input in &rego_inputs {
                black_box(rego.decide(black_box(input.clone())).expect("rego"));
            }
        })
    });
    group.bench_function("regorus_interpreter/with_conversion", |b| {
        b.iter(|| {
            for facts in corpus {
                black_box(
                    rego.decide(rego::input(black_box(facts), at))
                        .expect("rego"),
                );
            }
        })
    });
    group.bench_function("regorus_vm/engine_only", |b| {
        b.iter(|| {
            for input in &rego_inputs {
                black_box(rego_vm.decide(black_box(input.clone())).expect("rvm"));
            }
        })
    });
    group.bench_function("regorus_vm/with_conversion", |b| {
        b.iter(|| {
            for facts in corpus {
                black_box(
                    rego_vm
                        .decide(rego::input(black_box(facts), at))
                        .expect("rvm"),
                );
            }
        })
    });
    group.finish();
}

fn load_compile(c: &mut Criterion) {
    let read = |path: String| std::fs::read_to_string(&path).expect(&path);
    let yaml = read(format!("{RULES_DIR}/default-restore.v1.yaml"));
    let cedar = read(format!("{POLICY_DIR}/restore.cedar"));
    let rego_text = read(format!("{POLICY_DIR}/restore.rego"));
    let mut group = c.benchmark_group("load_compile");
    group.bench_function("ours", |b| {
        b.iter(|| {
            PolicySet::from_sources([("default-restore.v1.yaml", black_box(yaml.as_str()))])
                .expect("yaml")
        })
    });
    group.bench_function("cedar", |b| {
        b.iter(|| CedarEngine::from_source(black_box(&cedar)).expect("cedar"))
    });
    group.bench_function("regorus_interpreter", |b| {
        b.iter(|| RegoEngine::from_source(black_box(&rego_text)).expect("rego"))
    });
    group.bench_function("regorus_vm", |b| {
        b.iter(|| RegoVm::from_source(black_box(&rego_text)).expect("rvm"))
    });
    group.finish();
}

fn peers(c: &mut Criterion) {
    let mut engines = Engines::load().expect("policies load");
    let mixed = corpus::generate(LEN, corpus::SEED);
    decide(c, "mixed", &mixed, &mut engines);
    let allowed = corpus::generate_allowed(LEN, corpus::SEED);
    decide(c, "allowed", &allowed, &mut engines);
    load_compile(c);
}

criterion_group!(benches, peers);
criterion_main!(benches);
