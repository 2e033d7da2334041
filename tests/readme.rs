//! The README's rule-file reference names every fact, setting and operator
//! the engine knows, its test command is the one `.ci/run` runs, and every
//! example in it runs, with the same output on any date.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use restore_engine::vocabulary::{Fact, Setting};

fn readme() -> String {
    std::fs::read_to_string(support::root().join("README.md")).unwrap()
}

#[test]
fn readme_documents_the_whole_vocabulary() {
    let readme = readme();
    for fact in Fact::ALL {
        assert!(
            readme.contains(&format!("`{}`", fact.name())),
            "README misses fact `{}`",
            fact.name()
        );
    }
    for setting in Setting::ALL {
        assert!(
            readme.contains(&format!("`{}`", setting.name())),
            "README misses setting `{}`",
            setting.name()
        );
    }
    for op in restore_engine::model::Op::ALL {
        assert!(
            readme.contains(&format!("`{}`", op.name())),
            "README misses operator `{}`",
            op.name()
        );
    }
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = readme();
    let ci = std::fs::read_to_string(support::root().join(".ci/run")).unwrap();
    assert!(
        readme.contains("cargo test --workspace "),
        "README test command"
    );
    assert!(ci.contains("\ncargo test --workspace"), ".ci/run runs it");
}

/// The `sh` examples of the README, continuation lines joined and trailing
/// comments dropped.
fn sh_examples(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        }
        .trim();
        match code.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head.trim());
                pending.push(' ');
            }
            None => {
                pending.push_str(code);
                if !pending.trim().is_empty() {
                    out.push(pending.trim().to_owned());
                }
                pending.clear();
            }
        }
    }
    out
}

/// Read-only commands that answer "as of" a time default to now; the README
/// names the time so that its examples answer the same on any date.
const TIME_DEPENDENT: &[&str] = &["eval", "eval-all", "diff"];

#[test]
fn readme_examples_are_deterministic_and_their_output_is_snapshotted() {
    let examples = sh_examples(&readme());
    let digest = restore_engine::load::digest(
        &std::fs::read(support::root().join("rules/default-restore.v1.yaml")).unwrap(),
    );
    let mut ran = 0;
    for example in &examples {
        if example == "bash examples/demo.sh" || example.starts_with("cargo test --workspace") {
            continue; // the demo: below; the tests: this run.
        }
        let args: Vec<&str> = match example.strip_prefix("restorectl ") {
            Some(rest) => rest.split_whitespace().collect(),
            None => panic!("README example the test does not know how to run: `{example}`"),
        };
        assert!(
            !example.contains(['"', '\'', '$', '|', '>']),
            "README examples are plain argument lists: `{example}`"
        );
        if TIME_DEPENDENT.contains(&args[0]) {
            assert!(
                args.contains(&"--at"),
                "README example without `--at` changes its answer over time: `{example}`"
            );
        }
        let (code, stdout, stderr) = support::restorectl(&args);
        assert!(
            code == 0 || code == 1,
            "`{example}`: exit {code}, stderr: {stderr}"
        );
        assert!(stderr.is_empty(), "`{example}`: {stderr}");
        ran += 1;
        let shown = format!(
            "$ {example}\n[exit {code}]\n{}",
            redact_digests(&stdout.replace(&*digest, "sha256:[digest]"))
        );
        support::snapshot_settings().bind(|| {
            insta::assert_snapshot!(format!("example_{ran}"), shown);
        });
    }
    assert_eq!(ran, 6, "every restorectl example ran: {examples:#?}");
}

/// Every `sha256:` digest of 64 hex digits as `sha256:[digest]`: the
/// examples' rule files other than the default policy (the guide's) change
/// their digest with every edit of a comment.
fn redact_digests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("sha256:") {
        let (head, tail) = rest.split_at(i + "sha256:".len());
        out.push_str(head);
        let hex = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex == 64 {
            out.push_str("[digest]");
            rest = &tail[64..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// `examples/demo.sh` restores, and a restore decides at the real clock: the
/// demo shifts its snapshot's deletion times to now, so it gives the same
/// verdicts on any date.
#[test]
fn the_demo_runs_on_any_date() {
    assert!(sh_examples(&readme()).contains(&"bash examples/demo.sh".to_owned()));
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .arg(support::root().join("examples/demo.sh"))
        .env("RESTORECTL", env!("CARGO_BIN_EXE_restorectl"))
        .env("DEMO_DIR", dir.path())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stdout}\n{stderr}");
    let verdicts: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with("u_"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        verdicts,
        [
            "u_bob allowed",
            "u_carol denied window_expired",
            "u_dan denied deletion_in_progress",
            "u_eve_old denied duplicate_email",
        ],
        "{stdout}"
    );
    assert!(stdout.contains("ALLOWED: restore `u_bob`"), "{stdout}");
    assert!(stdout.contains("department:       sales"), "{stdout}");
    assert!(stdout.trim_end().ends_with("(exit 2)"), "{stdout}");
    assert!(
        stderr.contains("no deleted member `u_bob` in tenant `acme`"),
        "{stderr}"
    );
}

/// What a newcomer reads is in the repository: every relative link of the
/// README and of docs/ names a file that exists, and none leads outside.
#[test]
fn docs_links_stay_inside_the_repository() {
    let root = support::root();
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    for page in ["design.md", "restore-facts.md", "testing.md", "plugins.md"] {
        assert!(
            pages.contains(&root.join("docs").join(page)),
            "docs/{page} missing"
        );
    }
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let name = page.strip_prefix(&root).unwrap().display().to_string();
        assert!(
            !text.contains("../shared") && !text.contains("DESIGN.md"),
            "{name} points outside the repository"
        );
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = rest.split(')').next().unwrap_or_default();
            let target = target.split('#').next().unwrap_or_default();
            if target.is_empty() || target.contains("://") {
                continue;
            }
            let resolved = page.parent().unwrap().join(target);
            assert!(resolved.exists(), "{name}: link `{target}` names no file");
            let resolved = resolved.canonicalize().unwrap();
            assert!(
                resolved.starts_with(root.canonicalize().unwrap()),
                "{name}: link `{target}` leads outside the repository"
            );
        }
    }
}
