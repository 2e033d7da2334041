//! Driver for profiling our evaluator (perf, callgrind): evaluates the mixed
//! and allowed corpora `ROUNDS` times (first argument, default 50).

use std::hint::black_box;

use restore_peer_bench::{corpus, ours::Ours, RULES_DIR};

/// The measured part, a function of its own so that callgrind can collect
/// it alone (`--toggle-collect=*run*`) without the corpus generation.
#[inline(never)]
fn run(ours: &Ours, corpus: &[restore_engine::Facts], rounds: usize) {
    for _ in 0..rounds {
        for facts in corpus {
            black_box(ours.decide(black_box(facts)));
        }
    }
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(50);
    let ours = Ours::load(RULES_DIR.as_ref())?;
    let mut corpus = corpus::generate(10_000, corpus::SEED);
    corpus.extend(corpus::generate_allowed(10_000, corpus::SEED));
    let start = std::time::Instant::now();
    run(&ours, &corpus, rounds);
    let per = start.elapsed() / (rounds * corpus.len()) as u32;
    eprintln!("{per:?} per decision");
    Ok(())
}
