//! `restorectl test CASES…`: rule test files for admins tuning the rules.
//!
//! A case names a member of a snapshot directory (or gives the facts inline),
//! a request and the expected decision: allowed, the exact set of blockers,
//! and selected resource outcomes. The report ends with rule coverage:
//! blockers no case asserts (a blocker counts as covered only when a case
//! lists it in `expect.blockers` and it fires there; firing in a case that
//! does not assert it proves nothing), resources no case checked, and
//! exceptions no case saw apply. `--junit FILE` also writes a JUnit XML
//! report, one test case per rule case.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use restore_directory::snapshot::{zoned_timestamp, Snapshot};
use restore_directory::Directory;
use restore_engine::decision::Outcome;
use restore_engine::excerpt::quote_safe;
use restore_engine::facts::Attributes;
use restore_engine::source::{read_text_file, Limit};
use restore_engine::{Decision, Facts, PolicySet, Request};
use restore_memory::MemoryDirectory;
use serde::Deserialize;

use crate::junit::JunitReport;
use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of rule files (*.yaml).
    #[arg(long, value_name = "DIR")]
    pub rules: PathBuf,
    /// Test files (YAML), or directories of them.
    #[arg(required = true, value_name = "CASES")]
    pub cases: Vec<PathBuf>,
    /// Also write a JUnit XML report to this file: one test case per rule case.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// `println!` into a String.
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// The only test-file format this build reads.
const TESTS_FORMAT: &str = "restore-tests/v1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    format: String,
    /// Snapshot directory the cases' members come from, relative to the file.
    #[serde(default)]
    directory: Option<PathBuf>,
    /// Default evaluation time for the cases.
    #[serde(deserialize_with = "zoned_timestamp")]
    at: DateTime<Utc>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    member: Option<String>,
    #[serde(default)]
    actor: Option<String>,
    /// Facts given inline instead of `tenant` + `member` from the directory.
    #[serde(default)]
    facts: Option<Box<Facts>>,
    #[serde(default, deserialize_with = "optional_timestamp")]
    at: Option<DateTime<Utc>>,
    #[serde(default)]
    policy_version: Option<String>,
    #[serde(default = "one")]
    batch_size: u32,
    /// Request context values (`request.context.NAME`), typed by the
    /// policy's `context:` declarations.
    #[serde(default)]
    context: Attributes,
    expect: Expect,
}

fn one() -> u32 {
    1
}

fn optional_timestamp<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    zoned_timestamp(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// The decision cannot be made: the error's message contains this text
    /// (e.g. `request.context.ticket` for a missing required value).
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    allowed: Option<bool>,
    /// The exact set of blocker ids that hold (order does not matter).
    #[serde(default)]
    blockers: Option<BTreeSet<String>>,
    /// The exact set of warning-rule ids that hold (order does not matter).
    #[serde(default)]
    warnings: Option<BTreeSet<String>>,
    #[serde(default)]
    resources: BTreeMap<String, ExpectResource>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ExpectResource {
    Outcome(Outcome),
    Detailed(DetailedResource),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DetailedResource {
    outcome: Outcome,
    #[serde(default)]
    restored: Option<u32>,
    #[serde(default)]
    not_restored: Option<u32>,
    #[serde(default)]
    not_restored_items: Option<Vec<String>>,
}

/// What the cases have exercised, per policy version.
#[derive(Default)]
struct Coverage {
    /// Blockers a case asserted (in `expect.blockers`) and saw fire.
    blockers_asserted: BTreeSet<String>,
    /// Warning rules a case asserted (in `expect.warnings`) and saw fire.
    warnings_asserted: BTreeSet<String>,
    resources_checked: BTreeSet<String>,
    exceptions_applied: BTreeSet<(String, usize)>,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let set = PolicySet::load_dir(&args.rules)?;
    let mut files = Vec::new();
    for path in &args.cases {
        collect(path, &mut files)?;
    }
    if files.is_empty() {
        bail!("no test files (*.yaml) found in the given paths");
    }
    let runtime = crate::runtime()?;
    // Printed only at the end: bad input in any file exits 2 with nothing on stdout.
    let mut report = String::new();
    let (mut passed, mut failed) = (0, 0);
    let mut coverage: BTreeMap<(String, String), Coverage> = BTreeMap::new();
    let mut junit = match &args.junit {
        Some(_) => Some(JunitReport::new("restorectl test")?),
        None => None,
    };
    for file in &files {
        let tests = read_test_file(file)?;
        let directory = match &tests.directory {
            Some(dir) => {
                let path = file.parent().unwrap_or(Path::new(".")).join(dir);
                Some(MemoryDirectory::from_snapshot(&Snapshot::load(&path)?))
            }
            None => None,
        };
        for (i, case) in tests.cases.iter().enumerate() {
            let at = case.at.unwrap_or(tests.at);
            let facts = case_facts(&runtime, directory.as_ref(), case)
                .with_context(|| format!("{}: cases[{i}] `{}`", file.display(), case.name))?;
            let policy = set
                .select(None, case.policy_version.as_deref(), at)
                .with_context(|| format!("{}: cases[{i}] `{}`", file.display(), case.name))?;
            let request = Request {
                batch_size: case.batch_size,
                context: case.context.clone(),
            };
            // A context name the policy does not declare is bad input.
            policy
                .check_context(&request.context)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("{}: cases[{i}] `{}`", file.display(), case.name))?;
            let problems = match (policy.evaluate(&facts, &request, at), &case.expect.error) {
                (Err(error), Some(wanted)) => {
                    let error = error.to_string();
                    if error.contains(wanted.as_str()) {
                        Vec::new()
                    } else {
                        vec![format!(
                            "expected an error containing `{wanted}`, got: {error}"
                        )]
                    }
                }
                (Err(error), None) => vec![format!("no decision could be made: {error}")],
                (Ok(decision), Some(wanted)) => vec![format!(
                    "expected an error containing `{wanted}`, got a decision (allowed: {})",
                    decision.allowed
                )],
                (Ok(decision), None) => {
                    let seen = coverage
                        .entry((policy.name().to_owned(), policy.version().to_owned()))
                        .or_default();
                    record_coverage(seen, case, &decision);
                    // The same bindings as the decision: it cannot fail now.
                    if let Ok(explanation) = policy.explain(&facts, &request, at) {
                        let mut index_in_resource: BTreeMap<&str, usize> = BTreeMap::new();
                        for exception in &explanation.resource_exceptions {
                            let n = index_in_resource.entry(&exception.resource).or_default();
                            if exception.holds {
                                seen.exceptions_applied
                                    .insert((exception.resource.clone(), *n));
                            }
                            *n += 1;
                        }
                    }
                    check(&case.expect, &decision)
                }
            };
            let classname = file.display().to_string();
            if problems.is_empty() {
                passed += 1;
                outln!(report, "PASS  {}: {}", file.display(), case.name);
                if let Some(junit) = &mut junit {
                    junit.pass(&classname, &case.name)?;
                }
            } else {
                failed += 1;
                outln!(report, "FAIL  {}: {}", file.display(), case.name);
                for p in &problems {
                    outln!(report, "      {p}");
                }
                if let Some(junit) = &mut junit {
                    let message = problems.first().map(String::as_str).unwrap_or_default();
                    junit.fail(&classname, &case.name, message, &problems.join("\n"))?;
                }
            }
        }
    }
    for ((name, version), seen) in &coverage {
        let Ok(policy) = set.select(Some(name), Some(version), Utc::now()) else {
            continue;
        };
        let source = policy.source();
        let blockers: Vec<&str> = source.blockers.iter().map(|b| &*b.id).collect();
        let unasserted: Vec<&str> = blockers
            .iter()
            .copied()
            .filter(|b| !seen.blockers_asserted.contains(*b))
            .collect();
        let unchecked: Vec<&str> = source
            .resources
            .iter()
            .map(|r| &*r.resource)
            .filter(|r| !seen.resources_checked.contains(*r))
            .collect();
        let mut exceptions = Vec::new();
        for r in &source.resources {
            for i in 0..r.exceptions.len() {
                if !seen
                    .exceptions_applied
                    .contains(&(r.resource.to_string(), i))
                {
                    exceptions.push(format!("{}.exceptions[{i}]", r.resource));
                }
            }
        }
        outln!(report, "coverage of {name} {version}:");
        outln!(
            report,
            "  blockers asserted: {}/{}{}",
            blockers.len() - unasserted.len(),
            blockers.len(),
            list(" never asserted: ", &unasserted)
        );
        // Only for policies with warning rules: v1 reports stay as they were.
        if !source.warnings.is_empty() {
            let warnings: Vec<&str> = source.warnings.iter().map(|w| &*w.id).collect();
            let unasserted: Vec<&str> = warnings
                .iter()
                .copied()
                .filter(|w| !seen.warnings_asserted.contains(*w))
                .collect();
            outln!(
                report,
                "  warnings asserted: {}/{}{}",
                warnings.len() - unasserted.len(),
                warnings.len(),
                list(" never asserted: ", &unasserted)
            );
        }
        outln!(
            report,
            "  resources checked: {}/{}{}",
            source.resources.len() - unchecked.len(),
            source.resources.len(),
            list(" never checked: ", &unchecked)
        );
        let total: usize = source.resources.iter().map(|r| r.exceptions.len()).sum();
        let refs: Vec<&str> = exceptions.iter().map(String::as_str).collect();
        outln!(
            report,
            "  exceptions applied: {}/{total}{}",
            total - exceptions.len(),
            list(" never applied: ", &refs)
        );
    }
    outln!(report, "{passed} passed, {failed} failed");
    if let (Some(junit), Some(path)) = (junit, &args.junit) {
        junit.write_to(path)?;
    }
    crate::output::emit(&report)?;
    Ok(if failed == 0 { Exit::Ok } else { Exit::Denied })
}

fn list(prefix: &str, items: &[&str]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!(";{prefix}{}", items.join(", "))
    }
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    // A link back to a parent folder would recurse for ever.
    if path.components().count() > 64 {
        bail!(
            "test folders nest too deep at `{}` (a link loop?)",
            path.display()
        );
    }
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading `{}`", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir()
                || matches!(
                    entry.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml")
                )
            {
                collect(&entry, out)?;
            }
        }
    } else if path.exists() {
        out.push(path.to_owned());
    } else {
        bail!("test file `{}` does not exist", path.display());
    }
    Ok(())
}

fn read_test_file(path: &Path) -> anyhow::Result<TestFile> {
    // Bounded like a snapshot; aliases refused (they expand without bound).
    let text = read_text_file(path, Limit::snapshot()?)?;
    if let Some((line, column)) = restore_engine::yaml::first_alias(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}:{}: {e}", path.display(), e.span.line, e.span.column))?
    {
        bail!(
            "{}:{line}:{column}: YAML aliases are not supported in test files",
            path.display()
        );
    }
    let tests: TestFile = serde_yaml::from_str(&text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        anyhow::anyhow!("{}{at}: {}", path.display(), quote_safe(&e.to_string()))
    })?;
    if tests.format != TESTS_FORMAT {
        bail!(
            "{}: unknown test-file format `{}`, expected `{TESTS_FORMAT}`",
            path.display(),
            tests.format
        );
    }
    Ok(tests)
}

fn case_facts(
    runtime: &tokio::runtime::Runtime,
    directory: Option<&MemoryDirectory>,
    case: &Case,
) -> anyhow::Result<Facts> {
    match (&case.facts, &case.tenant, &case.member) {
        (Some(facts), None, None) => Ok((**facts).clone()),
        (None, Some(tenant), Some(member)) => {
            let Some(directory) = directory else {
                bail!("the case names a member but the file has no `directory`");
            };
            Ok(runtime.block_on(directory.facts(tenant, member, case.actor.as_deref()))?)
        }
        _ => bail!("a case needs either `facts`, or `tenant` and `member`"),
    }
}

/// What a decided case proves: the blockers it asserted and saw fire,
/// the resources it checked.
fn record_coverage(seen: &mut Coverage, case: &Case, decision: &Decision) {
    if let Some(expected) = &case.expect.blockers {
        seen.blockers_asserted.extend(
            decision
                .blockers
                .iter()
                .map(|b| b.rule.to_string())
                .filter(|b| expected.contains(b)),
        );
    }
    if let Some(expected) = &case.expect.warnings {
        seen.warnings_asserted.extend(
            decision
                .warnings
                .iter()
                .map(|w| w.rule.to_string())
                .filter(|w| expected.contains(w)),
        );
    }
    seen.resources_checked
        .extend(case.expect.resources.keys().cloned());
}

/// Differences between the expectation and the decision; empty when it passes.
fn check(expect: &Expect, d: &Decision) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(allowed) = expect.allowed {
        if allowed != d.allowed {
            problems.push(format!("expected allowed: {allowed}, got {}", d.allowed));
        }
    }
    let got: BTreeSet<String> = d.blockers.iter().map(|b| b.rule.to_string()).collect();
    if let Some(blockers) = &expect.blockers {
        if *blockers != got {
            problems.push(format!(
                "expected blockers [{}], got [{}]",
                join(blockers),
                join(&got)
            ));
        }
    }
    if let Some(warnings) = &expect.warnings {
        let got: BTreeSet<String> = d.warnings.iter().map(|w| w.rule.to_string()).collect();
        if *warnings != got {
            problems.push(format!(
                "expected warnings [{}], got [{}]",
                join(warnings),
                join(&got)
            ));
        }
    }
    for (name, want) in &expect.resources {
        let Some(r) = d.resource(name) else {
            problems.push(format!("resource `{name}` is not in the decision"));
            continue;
        };
        let (outcome, restored, not_restored, items) = match want {
            ExpectResource::Outcome(o) => (*o, None, None, None),
            ExpectResource::Detailed(w) => (
                w.outcome,
                w.restored,
                w.not_restored,
                w.not_restored_items.as_ref(),
            ),
        };
        if r.outcome != outcome {
            problems.push(format!(
                "resource `{name}`: expected {}, got {}",
                outcome.as_str(),
                r.outcome.as_str()
            ));
        }
        if restored.is_some() && restored != r.restored {
            problems.push(format!(
                "resource `{name}`: expected restored {restored:?}, got {:?}",
                r.restored
            ));
        }
        if not_restored.is_some() && not_restored != r.not_restored {
            problems.push(format!(
                "resource `{name}`: expected not_restored {not_restored:?}, got {:?}",
                r.not_restored
            ));
        }
        if let Some(items) = items {
            if *items != r.not_restored_items {
                problems.push(format!(
                    "resource `{name}`: expected not_restored_items {items:?}, got {:?}",
                    r.not_restored_items
                ));
            }
        }
    }
    problems
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}
