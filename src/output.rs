//! Rendering decisions as JSON, YAML or text (all three carry the same
//! fields), and writing to stdout and stderr without panicking.
//!
//! Every command writes its result through [`emit`] or [`Stdout`]: a write
//! error is an error (exit 2, one line: `cannot write to standard output:
//! No space left on device`), never a panic as with `print!`. A closed pipe
//! (`restorectl eval-all … | head -1`) is not an error: once the reader is
//! gone, output is dropped, long commands stop early ([`stdout_closed`]) and
//! the command exits with the code it would have had (0, or 1 for a denial).

use std::fmt::Write as _;
use std::io::{self, BufWriter, StdoutLock, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use restore_engine::decision::Decision;
use restore_engine::excerpt::{escape_control, Escaped};
use restore_engine::explain::{Explanation, Trace};
use restore_engine::vocabulary::format_timestamp;

/// Set once stdout reported a closed pipe.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// True once the reader of stdout has gone away.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Buffered stdout that turns a closed pipe into the end of output.
pub struct Stdout {
    inner: BufWriter<StdoutLock<'static>>,
}

/// Locks stdout for a run of writes; call `flush` at the end.
pub fn stdout() -> Stdout {
    Stdout {
        inner: BufWriter::new(io::stdout().lock()),
    }
}

/// [`stdout`] with a buffer of `capacity` bytes, for bulk output written
/// in chunks of about that size (one `write` per chunk).
pub fn stdout_with_capacity(capacity: usize) -> Stdout {
    Stdout {
        inner: BufWriter::with_capacity(capacity, io::stdout().lock()),
    }
}

impl Stdout {
    fn closed_is_done<T>(result: io::Result<T>, done: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, Ordering::Relaxed);
                Ok(done)
            }
            other => other,
        }
    }

    /// Writes `text` and flushes, as [`emit`] does.
    pub fn emit(&mut self, text: &str) -> anyhow::Result<()> {
        self.write_all(text.as_bytes())
            .and_then(|()| self.flush())
            .map_err(write_error)
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if stdout_closed() {
            return Ok(buf.len());
        }
        Self::closed_is_done(self.inner.write(buf), buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if stdout_closed() {
            return Ok(());
        }
        Self::closed_is_done(self.inner.flush(), ())
    }
}

/// Writes a command's output to stdout and flushes it.
pub fn emit(text: &str) -> anyhow::Result<()> {
    stdout().emit(text)
}

/// A failed write to stdout, as a one-line error.
pub fn write_error(e: io::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot write to standard output: {e}")
}

/// Writes a note or warning to stderr; a failure there cannot be reported
/// anywhere, so it is ignored (`eprintln!` would panic).
pub fn note(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = err.write_all(b"\n");
    }
    let _ = err.flush();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Json,
    Yaml,
    Text,
}

/// Renders any serialisable value as JSON or YAML; `text` falls back to YAML
/// for values that have no text form of their own.
pub fn render_value<T: serde::Serialize>(
    value: &T,
    format: OutputFormat,
) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Json => {
            let mut out = serde_json::to_string_pretty(value)?;
            out.push('\n');
            out
        }
        OutputFormat::Yaml | OutputFormat::Text => serde_yaml::to_string(value)?,
    })
}

pub fn render_decision(decision: &Decision, format: OutputFormat) -> anyhow::Result<String> {
    match format {
        OutputFormat::Text => Ok(decision_text(decision)),
        other => render_value(decision, other),
    }
}

/// A human-readable decision. Every value from the directory or the rules
/// is shown with control characters escaped ([`Escaped`]): an id holding
/// `\n` or an ANSI sequence cannot forge a line such as `DENIED: …`.
pub fn decision_text(d: &Decision) -> String {
    let mut out = String::new();
    let verdict = if d.allowed { "ALLOWED" } else { "DENIED" };
    let _ = writeln!(
        out,
        "{verdict}: restore `{}` in tenant `{}`",
        Escaped(&d.member),
        Escaped(&d.tenant)
    );
    let _ = writeln!(
        out,
        "policy:           {} {} (tier {}, {})",
        Escaped(&d.policy.name),
        Escaped(&d.policy.version),
        Escaped(&d.policy.tier),
        d.policy.digest
    );
    let _ = writeln!(
        out,
        "evaluated at:     {}",
        format_timestamp(d.evaluated_at)
    );
    let _ = writeln!(
        out,
        "restorable until: {}",
        // None: the policy's window is unlimited (or it binds none).
        d.restorable_until
            .map_or_else(|| "never".to_owned(), format_timestamp)
    );
    if d.blockers.is_empty() {
        let _ = writeln!(out, "blockers:         none");
    } else {
        let _ = writeln!(out, "blockers:");
        for b in &d.blockers {
            let _ = writeln!(
                out,
                "  - {}{} ({}): {}",
                Escaped(&b.rule),
                code_text(b.code.as_ref()),
                Escaped(&b.fact),
                Escaped(&b.message)
            );
            let _ = writeln!(out, "    remedy: {}", Escaped(&b.remedy));
        }
    }
    // Warning rules that hold (never a denial), after the blockers.
    for w in &d.warnings {
        let _ = writeln!(
            out,
            "warning {}{}: {}",
            Escaped(&w.rule),
            code_text(w.code.as_ref()),
            Escaped(&w.message)
        );
        if let Some(remedy) = &w.remedy {
            let _ = writeln!(out, "    remedy: {}", Escaped(remedy));
        }
    }
    let requires: Vec<String> = d.requires.iter().map(|r| escape_control(r)).collect();
    let requires = if requires.is_empty() {
        "none".to_owned()
    } else {
        requires.join(", ")
    };
    let _ = writeln!(out, "requires:         {requires}");
    let _ = writeln!(out, "resources:");
    let width = d
        .resources
        .iter()
        .map(|r| escape_control(&r.resource).chars().count())
        .max()
        .unwrap_or(0);
    for r in d.resources.iter() {
        let _ = write!(
            out,
            "  {:width$}  {}",
            Escaped(&r.resource),
            r.outcome.as_str()
        );
        if let (Some(restored), Some(not_restored)) = (r.restored, r.not_restored) {
            let _ = write!(out, " (restored {restored}, not restored {not_restored}");
            if !r.not_restored_items.is_empty() {
                let items: Vec<String> = r
                    .not_restored_items
                    .iter()
                    .map(|i| escape_control(i))
                    .collect();
                let _ = write!(out, ": {}", items.join(", "));
            }
            out.push(')');
        }
        if let Some(reason) = &r.reason {
            let _ = write!(out, " - {}", Escaped(reason));
        }
        out.push('\n');
    }
    out
}

/// Every blocker and exception condition with the values it saw (escaped,
/// as in [`decision_text`]).
/// ` [CODE]` after a rule id when the rule has a code, else nothing.
fn code_text(code: Option<&restore_engine::decision::Code>) -> String {
    code.map_or_else(String::new, |c| format!(" [{}]", Escaped(&c.to_string())))
}

pub fn explanation_text(e: &Explanation) -> String {
    let mut out = String::from("explanation:\n");
    for rule in &e.blockers {
        let verdict = if rule.holds { "HOLDS" } else { "does not hold" };
        let _ = writeln!(
            out,
            "  blocker {} ({}): {verdict}",
            Escaped(&rule.rule),
            Escaped(&rule.fact)
        );
        escaped_trace(&rule.condition).write_text(2, &mut out);
    }
    for rule in &e.warnings {
        let verdict = if rule.holds { "HOLDS" } else { "does not hold" };
        let _ = writeln!(
            out,
            "  warning {} ({}): {verdict}",
            Escaped(&rule.rule),
            Escaped(&rule.fact)
        );
        escaped_trace(&rule.condition).write_text(2, &mut out);
    }
    for exception in &e.resource_exceptions {
        let verdict = if exception.holds {
            "APPLIES"
        } else {
            "does not apply"
        };
        let _ = writeln!(
            out,
            "  exception {} -> {}: {verdict}",
            Escaped(&exception.resource),
            Escaped(&exception.outcome)
        );
        escaped_trace(&exception.condition).write_text(2, &mut out);
    }
    out
}

/// A trace whose texts have their control characters escaped.
fn escaped_trace(trace: &Trace) -> Trace {
    match trace {
        Trace::All { holds, of } => Trace::All {
            holds: *holds,
            of: of.iter().map(escaped_trace).collect(),
        },
        Trace::Any { holds, of } => Trace::Any {
            holds: *holds,
            of: of.iter().map(escaped_trace).collect(),
        },
        Trace::Not { holds, of } => Trace::Not {
            holds: *holds,
            of: Box::new(escaped_trace(of)),
        },
        Trace::Compare {
            holds,
            subject,
            op,
            value,
        } => Trace::Compare {
            holds: *holds,
            subject: escape_control(subject),
            op,
            value: escape_control(value),
        },
    }
}
