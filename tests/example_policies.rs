//! `examples/policies/`: three other vendors' restore behaviour written as
//! data only. Each folder passes `check --deny-warnings`, its rule tests
//! (covering every blocker, warning rule, resource and exception) and its
//! decision snapshot through the built `restorectl`; a mutated copy fails
//! each of the three, so these tests can fail. And no line of engine,
//! adapter, CLI or server code names one of the vendors.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use std::path::{Path, PathBuf};

use support::{restorectl_in, root};

/// The example policy folders, each with `rules/`, `directory.yaml`,
/// `cases.yaml`, `snapshots/decisions.yaml` and `README.md`.
const POLICIES: [&str; 3] = ["directory-open-api", "google-workspace", "entra-id"];

/// The decision time of every folder's cases and snapshot.
const AT: &str = "2026-11-24T10:00:00Z";

fn policy_dir(name: &str) -> PathBuf {
    root().join("examples/policies").join(name)
}

/// A copy of a policy folder in a temporary directory, so that a failing
/// `snapshot check` writes its `.new` file there, never into the repository.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&policy_dir(name), dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The one rule file of a policy folder.
fn rule_file(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    assert_eq!(files.len(), 1, "one rule file in {}", dir.display());
    files.pop().unwrap()
}

fn check(dir: &Path) -> (i32, String, String) {
    restorectl_in(dir, &["check", "--rules", "rules", "--deny-warnings"])
}

fn rule_tests(dir: &Path) -> (i32, String, String) {
    restorectl_in(dir, &["test", "--rules", "rules", "cases.yaml"])
}

fn snapshot_check(dir: &Path) -> (i32, String, String) {
    restorectl_in(
        dir,
        &[
            "snapshot",
            "check",
            "--rules",
            "rules",
            "--directory",
            "memory:directory.yaml",
            "snapshots/decisions.yaml",
        ],
    )
}

/// Every `N/M` count in the rule tests' coverage report is complete, and
/// nothing is listed as never asserted, checked or applied.
fn assert_full_coverage(name: &str, report: &str) {
    let coverage: Vec<&str> = report
        .lines()
        .skip_while(|l| !l.starts_with("coverage of "))
        .collect();
    assert!(
        coverage.len() > 1,
        "{name}: no coverage report in:\n{report}"
    );
    for line in &coverage[1..] {
        let Some((_, counts)) = line.trim().split_once(": ") else {
            continue;
        };
        let counts = counts.split(';').next().unwrap();
        if let Some((done, total)) = counts.split_once('/') {
            assert_eq!(
                done.trim(),
                total.trim(),
                "{name}: incomplete coverage `{}`",
                line.trim()
            );
        }
        assert!(!line.contains("never"), "{name}: {}", line.trim());
    }
}

#[test]
fn each_example_policy_passes_its_checks_tests_and_snapshot() {
    for name in POLICIES {
        let dir = copy_of(name);
        let dir = dir.path();

        let (code, stdout, stderr) = check(dir);
        assert_eq!(code, 0, "{name}: check --deny-warnings\n{stdout}{stderr}");

        let (code, stdout, stderr) = rule_tests(dir);
        assert_eq!(code, 0, "{name}: test\n{stdout}{stderr}");
        assert!(stdout.contains(" 0 failed"), "{name}: {stdout}");
        assert!(!stdout.contains("FAIL"), "{name}: {stdout}");
        assert_full_coverage(name, &stdout);

        let (code, stdout, stderr) = snapshot_check(dir);
        assert_eq!(code, 0, "{name}: snapshot check\n{stdout}{stderr}");
        assert!(
            !dir.join("snapshots/decisions.yaml.new").exists(),
            "{name}: an unchanged check writes no new snapshot"
        );
    }
}

/// The recorded snapshots were recorded at the folders' `at`, from their own
/// directory, so re-recording gives the committed file back (but for the
/// tool version, which moves with the crate).
#[test]
fn the_recorded_snapshots_are_what_record_writes_today() {
    for name in POLICIES {
        let dir = copy_of(name);
        let dir = dir.path();
        let (code, stdout, stderr) = restorectl_in(
            dir,
            &[
                "snapshot",
                "record",
                "--rules",
                "rules",
                "--directory",
                "memory:directory.yaml",
                "--at",
                AT,
                "--out",
                "again.yaml",
            ],
        );
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        let committed = std::fs::read_to_string(dir.join("snapshots/decisions.yaml")).unwrap();
        let again = std::fs::read_to_string(dir.join("again.yaml")).unwrap();
        let without_tool = |s: &str| -> String {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("tool:"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            without_tool(&committed),
            without_tool(&again),
            "{name}: re-record with `restorectl snapshot record --rules rules \
             --directory memory:directory.yaml --at {AT} --out snapshots/decisions.yaml`"
        );
    }
}

/// A one-line change to a policy makes each check fail: the tests are not
/// vacuous. The window mutation flips the "exactly N days" member.
#[test]
fn a_mutated_policy_fails_each_check() {
    // (folder, the window as written, a shorter one, the member it flips)
    let windows = [
        (
            "directory-open-api",
            "default: 30d",
            "default: 29d",
            "acme-pro/m_day30",
        ),
        (
            "google-workspace",
            "default: 20d",
            "default: 19d",
            "example-com/g_day20",
        ),
        (
            "entra-id",
            "default: 30d",
            "default: 29d",
            "contoso/e_day30",
        ),
    ];
    for (name, from, to, flipped) in windows {
        // A shorter window: the rule tests and the snapshot see it.
        let dir = copy_of(name);
        let dir = dir.path();
        let file = rule_file(dir);
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.matches(from).count(), 1, "{name}: `{from}` once");
        std::fs::write(&file, text.replace(from, to)).unwrap();

        let (code, stdout, stderr) = check(dir);
        assert_eq!(
            code, 0,
            "{name}: the shorter window is a valid policy\n{stdout}{stderr}"
        );

        let (code, stdout, stderr) = rule_tests(dir);
        assert_eq!(code, 1, "{name}: rule tests fail\n{stdout}{stderr}");
        assert!(stdout.contains("FAIL"), "{name}: {stdout}");
        assert!(
            stdout.contains("expected allowed: true, got false"),
            "{name}: {stdout}"
        );

        let (code, stdout, stderr) = snapshot_check(dir);
        assert_eq!(code, 1, "{name}: snapshot check fails\n{stdout}{stderr}");
        assert!(
            stdout.contains(&format!("{flipped}: allowed -> denied")),
            "{name}: {stdout}"
        );
        assert!(dir.join("snapshots/decisions.yaml.new").exists());

        // A resource of the catalogue without its rule: a static check.
        let dir = copy_of(name);
        let dir = dir.path();
        let file = rule_file(dir);
        let text = std::fs::read_to_string(&file).unwrap();
        let last = text.trim_end().lines().last().unwrap().to_owned();
        assert!(last.contains("resource:"), "{name}: last line `{last}`");
        let resource = last
            .split("resource:")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .trim()
            .to_owned();
        let cut = text.trim_end().strip_suffix(last.as_str()).unwrap();
        std::fs::write(&file, cut).unwrap();
        let (code, stdout, stderr) = check(dir);
        assert_eq!(
            code, 1,
            "{name}: check --deny-warnings fails with exit 1\n{stdout}{stderr}"
        );
        let out = format!("{stdout}{stderr}");
        assert!(
            out.contains("resource_without_outcome") && out.contains(&format!("`{resource}`")),
            "{name}: {out}"
        );
    }
}

/// What the decision does not carry but the policy states: the department
/// (organisational unit) a restore uses when the request names none.
#[test]
fn the_requirement_defaults_are_the_vendors_roots() {
    let at = AT.parse().unwrap();
    for (name, department) in [
        ("directory-open-api", Some("0")),
        ("google-workspace", Some("/")),
        ("entra-id", None),
    ] {
        let set = restore_engine::PolicySet::load_dir(&policy_dir(name).join("rules")).unwrap();
        let policy = set.select(None, None, at).unwrap();
        assert_eq!(
            policy.requirement_default("department"),
            department,
            "{name}"
        );
    }
}

/// The folders fit the layout of `examples/ci/`: its script passes on each
/// of them, as `examples/ci/example-policies.sh` runs it.
#[test]
fn the_ci_script_passes_on_every_example_policy() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &root().join("examples/policies"),
        &dir.path().join("examples/policies"),
    );
    copy_tree(&root().join("examples/ci"), &dir.path().join("examples/ci"));
    let out = std::process::Command::new("sh")
        .arg("examples/ci/example-policies.sh")
        .current_dir(dir.path())
        .env("RESTORECTL", env!("CARGO_BIN_EXE_restorectl"))
        .output()
        .unwrap();
    let output =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{output}");
    for name in POLICIES {
        assert!(output.contains(&format!("== {name}")), "{output}");
        for report in ["rule-tests.xml", "decisions.xml"] {
            let path = dir.path().join("reports").join(name).join(report);
            let xml = std::fs::read_to_string(&path).unwrap();
            assert!(xml.contains("<testsuite"), "{}", path.display());
            assert!(!xml.contains("<failure"), "{}", path.display());
        }
    }

    // One broken folder fails the run, and the others still run.
    let file = rule_file(&dir.path().join("examples/policies/entra-id"));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("default: 30d", "default: 29d")).unwrap();
    let out = std::process::Command::new("sh")
        .arg("examples/ci/example-policies.sh")
        .current_dir(dir.path())
        .env("RESTORECTL", env!("CARGO_BIN_EXE_restorectl"))
        .output()
        .unwrap();
    let output =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{output}");
    assert!(
        output.contains("contoso/e_day30: allowed -> denied"),
        "{output}"
    );
    assert!(output.contains("== google-workspace"), "{output}");
}

/// Every rule of every example policy cites its source: a URL and a section.
#[test]
fn every_rule_cites_a_vendor_page() {
    for name in POLICIES {
        let text = std::fs::read_to_string(rule_file(&policy_dir(name))).unwrap();
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let mut rules = 0;
        for list in ["requires", "blockers", "warnings", "resources"] {
            let Some(items) = doc[list].as_sequence() else {
                continue;
            };
            for item in items {
                let id = item["id"]
                    .as_str()
                    .or_else(|| item["resource"].as_str())
                    .unwrap();
                let source = item["source"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: {list} `{id}` has no source"));
                assert!(
                    source.starts_with("https://") && source.contains(" — "),
                    "{name}: {list} `{id}`: source `{source}` is not `URL — section`"
                );
                rules += 1;
            }
        }
        assert!(rules >= 10, "{name}: {rules} rules");
        let readme = std::fs::read_to_string(policy_dir(name).join("README.md")).unwrap();
        for item in doc["blockers"]
            .as_sequence()
            .unwrap()
            .iter()
            .chain(doc["warnings"].as_sequence().unwrap())
        {
            let id = item["id"].as_str().unwrap();
            assert!(
                readme.contains(&format!("`{id}`")),
                "{name}: README.md does not list `{id}`"
            );
        }
        assert!(
            readme.contains("## Could not be confirmed"),
            "{name}: README.md lists what could not be confirmed"
        );
    }
}

/// The README's "Write your own policy" shows the guide's files as they are
/// (its commands run in tests/readme.rs), and the guide passes its checks.
#[test]
fn the_readme_guide_shows_the_guide_files() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Write your own policy\n")
        .nth(1)
        .expect("README has the section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        match (&mut current, line) {
            (None, "```yaml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), line) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert_eq!(blocks.len(), 2, "{blocks:#?}");
    for block in &blocks {
        let (first, body) = block.split_once('\n').unwrap();
        let path = first.strip_prefix("# ").expect("the block names its file");
        let file = std::fs::read_to_string(root().join(path)).unwrap();
        assert_eq!(
            body, file,
            "README block for `{path}` differs from the file"
        );
    }

    let guide = root().join("examples/guide");
    let (code, stdout, stderr) = check(&guide);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = restorectl_in(&guide, &["test", "--rules", "rules", "cases.yaml"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("3 passed, 0 failed"), "{stdout}");
    assert_full_coverage("guide", &stdout);
}

/// Vendor names belong to `examples/policies/` and `docs/`: no file of the
/// engine, the adapters, the CLI or the server names one. "workspace" is
/// also Cargo's word: Cargo manifests may use it, and other files may say
/// "workspace root" or "workspace lints"; any other mention counts.
#[test]
fn no_code_names_a_vendor() {
    let mut hits = Vec::new();
    let mut files = 0;
    for top in ["engine", "adapters", "src", "server"] {
        scan(&root().join(top), &mut |path, text| {
            files += 1;
            let manifest = path.file_name().is_some_and(|n| n == "Cargo.toml");
            for (n, line) in text.lines().enumerate() {
                for word in vendor_words(line, manifest) {
                    hits.push(format!(
                        "{}:{}: `{word}`",
                        path.strip_prefix(root()).unwrap().display(),
                        n + 1
                    ));
                }
            }
        });
    }
    assert!(files > 50, "scanned {files} files");
    assert!(
        hits.is_empty(),
        "vendor names in code:\n{}",
        hits.join("\n")
    );

    // The guard sees the names however they are written.
    assert_eq!(
        vendor_words(
            "policy: Entra-restore-user # Google Workspace, LARK_API",
            false
        ),
        ["entra", "google", "workspace", "lark"]
    );
    assert_eq!(
        vendor_words("let feishu = microsoftAzure; // azure", false),
        ["feishu", "azure"],
        "whole words only: `microsoftazure` is one word"
    );
    assert!(vendor_words("version.workspace = true", true).is_empty());
    assert!(vendor_words("/// The workspace root", false).is_empty());
    assert_eq!(vendor_words("workspace = true # google", true), ["google"]);
}

/// The vendor names in a line, as whole words (letters and digits; `_`, `-`
/// and the like separate words), case-insensitive.
fn vendor_words(line: &str, manifest: bool) -> Vec<String> {
    const VENDORS: [&str; 7] = [
        "lark",
        "feishu",
        "google",
        "workspace",
        "microsoft",
        "entra",
        "azure",
    ];
    const CARGO_PHRASES: [&str; 3] = ["workspace root", "workspace lints", "[workspace"];
    let mut lower = line.to_lowercase();
    for phrase in CARGO_PHRASES {
        lower = lower.replace(phrase, "");
    }
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| VENDORS.contains(w) && !(manifest && *w == "workspace"))
        .map(str::to_owned)
        .collect()
}

/// Text files under `dir`, build output excluded.
fn scan(dir: &Path, visit: &mut dyn FnMut(&Path, &str)) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            scan(&path, visit);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            visit(&path, &text);
        }
    }
}

#[test]
fn request_context_turns_a_blocker_into_a_warning_from_the_command_line() {
    let dir = policy_dir("entra-id");
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--rules",
            "rules",
            "--directory",
            "memory:directory.yaml",
            "--tenant",
            "contoso",
            "--member",
            "e_alex",
            "--at",
            "2026-11-24T10:00:00Z",
            "--output",
            "text",
        ];
        args.extend_from_slice(extra);
        restorectl_in(&dir, &args)
    };
    let (code, stdout, stderr) = eval(&[]);
    assert_eq!(code, 1, "a proxy conflict denies: {stdout}{stderr}");
    assert!(stdout.contains("  - proxy_conflict ("), "{stdout}");
    // A policy without requirements says so rather than printing nothing.
    assert!(stdout.contains("requires:         none\n"), "{stdout}");
    let (code, stdout, stderr) = eval(&["--context", "auto_reconcile_proxy_conflict=true"]);
    assert_eq!(code, 0, "reconciling allows: {stdout}{stderr}");
    assert!(
        stdout.contains("warning proxy_addresses_dropped: "),
        "{stdout}"
    );
    let (code, _, stderr) = eval(&["--context", "auto_reconcile=maybe"]);
    assert_eq!(code, 2, "an undeclared context name is bad input");
    assert!(stderr.contains("not declared"), "{stderr}");
}
