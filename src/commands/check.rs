//! `restorectl check --rules DIR`: validate rule files, then run the static
//! checks (never-firing blockers, shadowed or unread tier overrides,
//! resources without an outcome, ...).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use restore_engine::excerpt::{escape_control, Escaped};
use restore_engine::lint::lint_report;
use restore_engine::source::{read_text_file, Limit};
use restore_engine::vocabulary::format_timestamp;
use restore_engine::{LoadError, PolicySet, SourceDiagnostic};

use crate::output::{note, stdout, write_error};
use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of rule files (*.yaml).
    #[arg(long, value_name = "DIR")]
    pub rules: PathBuf,
    /// Treat static-check warnings as errors (exit 2).
    #[arg(long)]
    pub deny_warnings: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let set = match PolicySet::load_dir(&args.rules) {
        Ok(set) => set,
        Err(err) => {
            note(&report(&err));
            anyhow::bail!("{}", err.summary());
        }
    };
    let mut warnings = 0;
    let mut out = stdout();
    for policy in set.policies() {
        writeln!(
            out,
            "ok: {} {} effective {} ({}, {})",
            Escaped(policy.name()),
            Escaped(policy.version()),
            format_timestamp(policy.effective_from()),
            Escaped(policy.file()),
            policy.digest()
        )
        .map_err(write_error)?;
        let report = lint_report(policy);
        for warning in &report.warnings {
            warnings += 1;
            note(&escape_control(&warning.to_string()));
        }
        if report.allowed > 0 {
            // Allowed on purpose (`allow:` on a rule), counted, not hidden.
            note(&format!(
                "{}: {} static-check finding(s) allowed by the rules' `allow:`",
                Escaped(policy.file()),
                report.allowed
            ));
        }
    }
    out.flush().map_err(write_error)?;
    if warnings > 0 && args.deny_warnings {
        // Exit 1, as a failed rule test or a changed decision: the files
        // are readable, a check found something. Exit 2 stays "broken file".
        crate::output::note(&format!(
            "restorectl: {warnings} static-check warning(s) and --deny-warnings"
        ));
        return Ok(Exit::Denied);
    }
    Ok(Exit::Ok)
}

/// The text of a rule file for its snippets, read as the loader read it
/// (bounded, byte-order mark dropped); empty if it cannot be read again.
fn read_rule_file(file: &str) -> String {
    Limit::rule_file()
        .and_then(|limit| read_text_file(Path::new(file), limit))
        .unwrap_or_default()
}

/// Every diagnostic: a one-line headline (file:line:column: path: message),
/// then the offending lines with the place underlined.
fn report(err: &LoadError) -> String {
    let mut sources: HashMap<&str, String> = HashMap::new();
    let mut out = String::new();
    for diagnostic in err.diagnostics.iter().take(MAX_REPORTED) {
        out.push_str(&format!("{diagnostic}\n"));
        let source = sources
            .entry(&diagnostic.file)
            .or_insert_with(|| read_rule_file(&diagnostic.file));
        if diagnostic.span.line > 0 && !source.is_empty() {
            let rendered = SourceDiagnostic::new(diagnostic.clone(), source).render();
            out.push_str(&rendered);
            out.push('\n');
        }
    }
    if err.diagnostics.len() > MAX_REPORTED {
        out.push_str(&format!(
            "… and {} more\n",
            err.diagnostics.len() - MAX_REPORTED
        ));
    }
    out
}

/// The most diagnostics shown with snippets (all are counted in the summary).
const MAX_REPORTED: usize = 50;
