//! Driver for profiling and instruction counting (perf, callgrind): one
//! engine decides the mixed and the allowed corpus `ROUNDS` times.
//!
//! `profile ENGINE [ROUNDS]`, ENGINE one of `ours`, `cedar`, `regorus`,
//! `regorus-vm`. Peers get inputs already in their format (engine only, as
//! the `engine_only` benchmarks). Under callgrind, collect only the work:
//! `valgrind --tool=callgrind --toggle-collect='profile::run_*' ...`.

// A benchmark: it prints its results and stops loudly on a broken setup.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::hint::black_box;

use restore_engine::Facts;
use restore_peer_bench::cedar::{CedarEngine, Prepared};
use restore_peer_bench::ours::Ours;
use restore_peer_bench::rego::{self, RegoEngine, RegoVm};
use restore_peer_bench::{corpus, Engines};

#[inline(never)]
fn run_ours(ours: &Ours, corpus: &[Facts], rounds: usize) {
    for _ in 0..rounds {
        for facts in corpus {
            black_box(ours.decide(black_box(facts)));
        }
    }
}

#[inline(never)]
fn run_cedar(cedar: &CedarEngine, inputs: &[Prepared], rounds: usize) {
    for _ in 0..rounds {
        for prepared in inputs {
            black_box(cedar.decide(black_box(prepared)));
        }
    }
}

#[inline(never)]
fn run_regorus(rego: &mut RegoEngine, inputs: &[regorus::Value], rounds: usize) {
    for _ in 0..rounds {
        for input in inputs {
            black_box(rego.decide(black_box(input.clone())).expect("rego"));
        }
    }
}

#[inline(never)]
fn run_regorus_vm(vm: &mut RegoVm, inputs: &[regorus::Value], rounds: usize) {
    for _ in 0..rounds {
        for input in inputs {
            black_box(vm.decide(black_box(input.clone())).expect("rvm"));
        }
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let engine = args.next().unwrap_or_else(|| "ours".to_owned());
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(20);
    let mut engines = Engines::load()?;
    let mut corpus = corpus::generate(10_000, corpus::SEED);
    corpus.extend(corpus::generate_allowed(10_000, corpus::SEED));
    let at = corpus::at();
    // Inputs are built before the clock starts: this times the engines only.
    let elapsed = match engine.as_str() {
        "ours" => {
            let start = std::time::Instant::now();
            run_ours(&engines.ours, &corpus, rounds);
            start.elapsed()
        }
        "cedar" => {
            let inputs = corpus
                .iter()
                .map(|f| engines.cedar.prepare(f, at))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let start = std::time::Instant::now();
            run_cedar(&engines.cedar, &inputs, rounds);
            start.elapsed()
        }
        "regorus" | "regorus-vm" => {
            let inputs: Vec<_> = corpus.iter().map(|f| rego::input(f, at)).collect();
            let start = std::time::Instant::now();
            if engine == "regorus" {
                run_regorus(&mut engines.rego, &inputs, rounds);
            } else {
                run_regorus_vm(&mut engines.rego_vm, &inputs, rounds);
            }
            start.elapsed()
        }
        other => anyhow::bail!("unknown engine {other}"),
    };
    let per = elapsed / (rounds * corpus.len()) as u32;
    eprintln!("{engine}: {per:?} per decision");
    Ok(())
}
