//! Times loading, compiling and linting a policy with many blockers, to
//! show that each step stays linear in the rule file's size
//! (BENCHMARKS.md, "Rule files with many blockers").
//!
//! `cargo run --release -p restore-engine --example load_many_blockers -- 5000 20000`

// An example run by hand: fails loudly on bad arguments and prints its timings.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::time::Instant;

use restore_engine::lint::lint;
use restore_engine::load::load_policy_file;
use restore_engine::CompiledPolicy;

const DEFAULT_RULES: &str = include_str!("../../rules/default-restore.v1.yaml");

/// The default rules with `count` extra blockers, each with its own id.
fn rules_with_blockers(count: usize) -> String {
    let (head, rest) = DEFAULT_RULES
        .split_once("blockers:\n")
        .unwrap_or((DEFAULT_RULES, ""));
    let mut out = String::from(head);
    out.push_str("blockers:\n");
    for k in 0..count {
        out.push_str(&format!(
            "  - id: extra_{k}\n    fact: F2\n    when: {{ fact: member.deleted_for, gt: {{ setting: restore_window }} }}\n    message: \"deleted {{member.deleted_for}} ago\"\n    remedy: \"none\"\n"
        ));
    }
    out.push_str(rest);
    out
}

fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let counts = if counts.is_empty() {
        vec![1_000, 5_000, 20_000]
    } else {
        counts
    };
    for count in counts {
        let source = rules_with_blockers(count);
        let start = Instant::now();
        let file = match load_policy_file("many.yaml", &source) {
            Ok(file) => file,
            Err(e) => {
                eprintln!("{count} blockers: load failed: {e}");
                std::process::exit(1);
            }
        };
        let loaded = start.elapsed();
        let policy = CompiledPolicy::compile(file);
        let compiled = start.elapsed();
        let warnings = lint(&policy).len();
        let linted = start.elapsed();
        println!(
            "{count} blockers ({} KiB): load {:.3} s, +compile {:.3} s, +lint {:.3} s ({warnings} warnings)",
            source.len() / 1024,
            loaded.as_secs_f64(),
            (compiled - loaded).as_secs_f64(),
            (linted - compiled).as_secs_f64(),
        );
    }
}
