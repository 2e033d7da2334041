//! Rule-file errors: each names file, line, column and YAML path, and a
//! load reports all of them, not just the first.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::vocabulary::format_timestamp;
use crate::yaml::Span;

/// Why facts could not be decided on at the time asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EvaluationError {
    /// The member's deletion lies after the evaluation time: the time since
    /// deletion would be negative, and a window check would pass wrongly.
    #[error(
        "member `{}` was deleted at {}, after the evaluation time {}; decide at or after the deletion",
        crate::excerpt::Excerpt(member),
        format_timestamp(*deleted_at),
        format_timestamp(*at)
    )]
    DeletedAfterEvaluation {
        member: String,
        deleted_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// The tenant's plan names no tier of the policy, and the policy
    /// declares no default tier: an error, never a silent pass.
    #[error(
        "plan `{}` of tenant `{}` is not a tier of policy `{}` {} (tiers: {})",
        crate::excerpt::Excerpt(plan),
        crate::excerpt::Excerpt(tenant),
        crate::excerpt::Excerpt(policy),
        crate::excerpt::Excerpt(version),
        tiers
    )]
    UnknownTier {
        tenant: Arc<str>,
        plan: Arc<str>,
        policy: Arc<str>,
        version: Arc<str>,
        /// The declared tiers, comma-separated.
        tiers: String,
    },
    /// A value the policy reads is absent and has no declared default.
    #[error(
        "`{name}` is missing and policy `{}` declares no default for it",
        crate::excerpt::Excerpt(policy)
    )]
    MissingValue {
        /// e.g. `member.attributes.hold_until`
        name: String,
        policy: Arc<str>,
    },
    /// A stored or given value does not fit its declaration. `found` is the
    /// JSON kind ("a string"), never the value: errors do not echo data.
    #[error("`{name}` is {found}, expected {expected}")]
    BadValue {
        name: String,
        found: &'static str,
        expected: String,
    },
}

/// What is wrong at one place in a rule file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RuleErrorKind {
    #[error("cannot read rule file: {}", crate::excerpt::clip(.0, 300))]
    Io(String),
    #[error("YAML syntax error: {}", crate::excerpt::clip(.0, 200))]
    Syntax(String),
    #[error("the rule file is empty")]
    Empty,
    #[error("unknown key `{}`{}", crate::excerpt::Excerpt(.key), hint(.suggestion))]
    UnknownKey {
        key: String,
        suggestion: Option<&'static str>,
    },
    #[error("missing required key `{key}`")]
    MissingKey { key: &'static str },
    #[error("duplicate key `{}`", crate::excerpt::Excerpt(.key))]
    DuplicateKey { key: String },
    #[error("expected {expected}, found {found}")]
    WrongShape {
        expected: String,
        found: &'static str,
    },
    #[error("expected {expected}, found `{}`", crate::excerpt::Excerpt(.found))]
    TypeMismatch { expected: String, found: String },
    #[error("unknown rule-language format `{}`, expected `{expected}`", crate::excerpt::Excerpt(.found))]
    UnknownFormat {
        found: String,
        expected: &'static str,
    },
    #[error("unknown fact `{}`{}", crate::excerpt::Excerpt(.name), hint(.suggestion))]
    UnknownFact {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("unknown setting `{}`{}", crate::excerpt::Excerpt(.name), hint(.suggestion))]
    UnknownSetting {
        name: String,
        suggestion: Option<String>,
    },
    #[error("`{}` is not declared under `{declared_at}`{}", crate::excerpt::Excerpt(.name), hint(.suggestion))]
    UnknownAttribute {
        name: String,
        declared_at: &'static str,
        suggestion: Option<String>,
    },
    #[error("{what} `{}` must be an identifier: a lowercase letter, then up to 63 lowercase letters, digits or `_`", crate::excerpt::Excerpt(.name))]
    BadName { what: &'static str, name: String },
    #[error("a declaration needs exactly one of `default` and `required: true`")]
    DefaultOrRequired,
    #[error("an actor attribute needs a `default`: read-only questions have no actor, and then every `actor.attributes.*` takes its default")]
    ActorAttributeRequired,
    #[error("`one_of` applies only to `type: string`")]
    OneOfNeedsString,
    #[error("`{}` is not one of the declared values: {}", crate::excerpt::Excerpt(.value), crate::excerpt::clip(.allowed, 300))]
    NotOneOf { value: String, allowed: String },
    #[error("unknown plan tier `{}`, expected one of: starter, basic, pro, enterprise", crate::excerpt::Excerpt(.name))]
    UnknownTier { name: String },
    #[error("unknown outcome `{}`, expected one of: restored, reset, not_restored, automatic, transfer_dependent", crate::excerpt::Excerpt(.name))]
    UnknownOutcome { name: String },
    #[error("duration `{}` has no unit; write e.g. `30d`, `48h`, `90m` or `45s`", crate::excerpt::Excerpt(.text))]
    DurationWithoutUnit { text: String },
    #[error("`{}` is not a duration; write e.g. `30d`, `48h`, `1d12h`", crate::excerpt::Excerpt(.text))]
    BadDuration { text: String },
    #[error("duration `{}` is longer than 100 years", crate::excerpt::Excerpt(.text))]
    DurationTooLarge { text: String },
    #[error("timestamp `{}` has no time zone; add `Z` or an offset such as `+08:00`", crate::excerpt::Excerpt(.text))]
    TimestampWithoutZone { text: String },
    #[error("`{}` is not an RFC 3339 timestamp", crate::excerpt::Excerpt(.text))]
    BadTimestamp { text: String },
    #[error("timestamp `{}` is outside the years 0000-9999", crate::excerpt::Excerpt(.text))]
    TimestampOutOfRange { text: String },
    #[error("duplicate {what} `{}` (first defined on line {first_line})", crate::excerpt::Excerpt(.id))]
    DuplicateId {
        what: &'static str,
        id: String,
        first_line: usize,
    },
    #[error("a condition needs exactly one of `all`, `any`, `not`, or `fact`/`setting` with one operator")]
    BadCondition,
    #[error(
        "a comparison needs exactly one operator ({}), found {found}",
        OPERATORS
    )]
    OperatorCount { found: usize },
    #[error("operator `{op}` does not apply to {subject} `{}` of type {ty}", crate::excerpt::Excerpt(.name))]
    OperatorType {
        op: &'static str,
        subject: &'static str,
        name: String,
        ty: String,
    },
    #[error("cannot compare {left} with {right}")]
    OperandTypes { left: String, right: String },
    #[error("fact reference `{}` must look like `F1`, `F25`", crate::excerpt::Excerpt(.text))]
    BadFactRef { text: String },
    #[error("unknown placeholder `{{{}}}` in text; use a fact (e.g. `{{member.deleted_at}}`) or `{{setting.NAME}}`", crate::excerpt::Excerpt(.name))]
    UnknownPlaceholder { name: String },
    #[error("unclosed `{{` in text")]
    UnclosedPlaceholder,
    #[error("`{name}` must not be empty")]
    EmptyText { name: &'static str },
    #[error("`{}` is not an identifier (a lowercase letter, then up to 63 of a-z, 0-9, `_`)", crate::excerpt::Excerpt(.name))]
    BadIdentifier { name: String },
    #[error("`{}` is not a declared tier{}", crate::excerpt::Excerpt(.name), hint(.suggestion))]
    UndeclaredTier {
        name: String,
        suggestion: Option<String>,
    },
    #[error("tier `{}` does not set `{}`, which has no default", crate::excerpt::Excerpt(.tier), crate::excerpt::Excerpt(.setting))]
    SettingWithoutValue { tier: String, setting: String },
    #[error("a policy declares at least one tier")]
    NoTiers,
    #[error("unknown type `{}`, expected one of: bool, integer, duration, timestamp, string, list", crate::excerpt::Excerpt(.name))]
    UnknownType { name: String },
    #[error("a source is non-empty text of at most 512 characters without control characters")]
    BadSource,
    #[error("give exactly one of `source` and `fact`")]
    SourceAndFact,
    #[error("a code is an integer or a non-empty text of at most 128 characters")]
    BadCode,
    #[error("computed fact `{}` must be named `member.NAME`, `tenant.NAME` or `request.NAME` and not shadow a built-in fact", crate::excerpt::Excerpt(.name))]
    BadComputedName { name: String },
    #[error("resource `{}` is not in the policy's catalogue{}", crate::excerpt::Excerpt(.name), hint(.suggestion))]
    NotInCatalogue {
        name: String,
        suggestion: Option<String>,
    },
    #[error("unknown lint `{}`{}", crate::excerpt::Excerpt(.name), hint(.suggestion))]
    UnknownLint {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("`{key}` is not supported by this build yet")]
    NotSupportedYet { key: &'static str },
    #[error("policy `{}` has versions `{}` and `{}` with the same effective date {date}", crate::excerpt::Excerpt(.policy), crate::excerpt::Excerpt(.first), crate::excerpt::Excerpt(.second))]
    SameEffectiveDate {
        policy: String,
        first: String,
        second: String,
        date: String,
    },
    #[error("policy `{}` version `{}` is defined twice (also in `{other_file}`)", crate::excerpt::Excerpt(.policy), crate::excerpt::Excerpt(.version))]
    DuplicateVersion {
        policy: String,
        version: String,
        other_file: String,
    },
}

impl RuleErrorKind {
    /// A stable code per kind, e.g. `restore::unknown_fact`, for tooling.
    pub fn code(&self) -> &'static str {
        match self {
            RuleErrorKind::Io(_) => "restore::io",
            RuleErrorKind::Syntax(_) => "restore::syntax",
            RuleErrorKind::Empty => "restore::empty",
            RuleErrorKind::UnknownKey { .. } => "restore::unknown_key",
            RuleErrorKind::MissingKey { .. } => "restore::missing_key",
            RuleErrorKind::DuplicateKey { .. } => "restore::duplicate_key",
            RuleErrorKind::WrongShape { .. } => "restore::wrong_shape",
            RuleErrorKind::TypeMismatch { .. } => "restore::type_mismatch",
            RuleErrorKind::UnknownFormat { .. } => "restore::unknown_format",
            RuleErrorKind::UnknownFact { .. } => "restore::unknown_fact",
            RuleErrorKind::UnknownSetting { .. } => "restore::unknown_setting",
            RuleErrorKind::UnknownAttribute { .. } => "restore::unknown_attribute",
            RuleErrorKind::BadName { .. } => "restore::bad_name",
            RuleErrorKind::DefaultOrRequired => "restore::default_or_required",
            RuleErrorKind::ActorAttributeRequired => "restore::actor_attribute_required",
            RuleErrorKind::OneOfNeedsString => "restore::one_of_needs_string",
            RuleErrorKind::NotOneOf { .. } => "restore::not_one_of",
            RuleErrorKind::UnknownTier { .. } => "restore::unknown_tier",
            RuleErrorKind::UnknownOutcome { .. } => "restore::unknown_outcome",
            RuleErrorKind::DurationWithoutUnit { .. } => "restore::duration_without_unit",
            RuleErrorKind::BadDuration { .. } => "restore::bad_duration",
            RuleErrorKind::DurationTooLarge { .. } => "restore::duration_too_large",
            RuleErrorKind::TimestampWithoutZone { .. } => "restore::timestamp_without_zone",
            RuleErrorKind::BadTimestamp { .. } => "restore::bad_timestamp",
            RuleErrorKind::TimestampOutOfRange { .. } => "restore::timestamp_out_of_range",
            RuleErrorKind::DuplicateId { .. } => "restore::duplicate_id",
            RuleErrorKind::BadCondition => "restore::bad_condition",
            RuleErrorKind::OperatorCount { .. } => "restore::operator_count",
            RuleErrorKind::OperatorType { .. } => "restore::operator_type",
            RuleErrorKind::OperandTypes { .. } => "restore::operand_types",
            RuleErrorKind::BadFactRef { .. } => "restore::bad_fact_ref",
            RuleErrorKind::UnknownPlaceholder { .. } => "restore::unknown_placeholder",
            RuleErrorKind::UnclosedPlaceholder => "restore::unclosed_placeholder",
            RuleErrorKind::EmptyText { .. } => "restore::empty_text",
            RuleErrorKind::SameEffectiveDate { .. } => "restore::same_effective_date",
            RuleErrorKind::BadIdentifier { .. } => "restore::bad_identifier",
            RuleErrorKind::UndeclaredTier { .. } => "restore::undeclared_tier",
            RuleErrorKind::SettingWithoutValue { .. } => "restore::setting_without_value",
            RuleErrorKind::NoTiers => "restore::no_tiers",
            RuleErrorKind::UnknownType { .. } => "restore::unknown_type",
            RuleErrorKind::BadSource => "restore::bad_source",
            RuleErrorKind::SourceAndFact => "restore::source_and_fact",
            RuleErrorKind::BadCode => "restore::bad_code",
            RuleErrorKind::BadComputedName { .. } => "restore::bad_computed_name",
            RuleErrorKind::NotInCatalogue { .. } => "restore::not_in_catalogue",
            RuleErrorKind::UnknownLint { .. } => "restore::unknown_lint",
            RuleErrorKind::NotSupportedYet { .. } => "restore::not_supported_yet",
            RuleErrorKind::DuplicateVersion { .. } => "restore::duplicate_version",
        }
    }
}

/// The operators a comparison can use.
pub const OPERATORS: &str = "is, is_not, lt, lte, gt, gte, in, contains, intersects, empty";

fn hint(suggestion: &Option<impl AsRef<str>>) -> String {
    suggestion.as_ref().map_or(String::new(), |s| {
        format!("; did you mean `{}`?", s.as_ref())
    })
}

/// One error with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDiagnostic {
    pub file: Arc<str>,
    pub span: Span,
    /// YAML path, e.g. `blockers[2].when.all[0].fact`; empty for the document.
    pub path: String,
    pub kind: RuleErrorKind,
}

impl fmt::Display for RuleDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: no place in the file (it could not be read at all).
        if self.span.line > 0 {
            write!(f, "{}:{}:{}: ", self.file, self.span.line, self.span.column)?;
        } else {
            write!(f, "{}: ", self.file)?;
        }
        if !self.path.is_empty() {
            write!(f, "at `{}`: ", crate::excerpt::clip(&self.path, 120))?;
        }
        write!(f, "{}", self.kind)
    }
}

/// Rule files that did not load; holds every diagnostic found.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct LoadError {
    pub diagnostics: Vec<RuleDiagnostic>,
}

impl LoadError {
    /// `N error(s) in rule files`.
    pub fn summary(&self) -> String {
        let n = self.diagnostics.len();
        format!("{n} error{} in rule files", if n == 1 { "" } else { "s" })
    }
}

/// Diagnostics listed in a [`LoadError`]'s message.
const LISTED_DIAGNOSTICS: usize = 10;

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
        // The first few are enough to act on; `check` shows more.
        for d in self.diagnostics.iter().take(LISTED_DIAGNOSTICS) {
            write!(f, "\n  {d}")?;
        }
        if self.diagnostics.len() > LISTED_DIAGNOSTICS {
            write!(
                f,
                "\n  … and {} more",
                self.diagnostics.len() - LISTED_DIAGNOSTICS
            )?;
        }
        Ok(())
    }
}

/// The most characters of one source line a snippet shows; a longer line
/// is cut around the place of the error (`…` marks the cuts).
pub const SNIPPET_LINE_CHARS: usize = 120;

/// A diagnostic together with the lines of its file around the error: a
/// miette diagnostic that renders the offending line with the place
/// underlined. Only the line of the error and its neighbours are kept, each
/// cut to [`SNIPPET_LINE_CHARS`] characters with control characters shown
/// as `\u{fffd}`, so a huge or hostile file gives a short report.
#[derive(Debug)]
pub struct SourceDiagnostic {
    diagnostic: RuleDiagnostic,
    snippet: Snippet,
}

impl SourceDiagnostic {
    /// `source` is the text of the diagnostic's file (only the lines
    /// around the error are kept).
    pub fn new(diagnostic: RuleDiagnostic, source: &str) -> Self {
        let snippet = Snippet::cut(diagnostic.file.to_string(), source, diagnostic.span);
        SourceDiagnostic {
            diagnostic,
            snippet,
        }
    }

    /// The report as plain text (no colours): message, snippet, label.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(100);
        if handler.render_report(&mut out, self).is_err() {
            out = self.diagnostic.to_string();
        }
        out
    }
}

impl fmt::Display for SourceDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.diagnostic.kind)
    }
}

impl std::error::Error for SourceDiagnostic {}

impl miette::Diagnostic for SourceDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diagnostic.kind.code()))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        // Errors without a place (an unreadable file) have no snippet.
        (self.diagnostic.span.line > 0).then_some(&self.snippet as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.diagnostic.span.line == 0 {
            return None;
        }
        let label = if self.diagnostic.path.is_empty() {
            "here".to_owned()
        } else {
            format!("at `{}`", crate::excerpt::clip(&self.diagnostic.path, 80))
        };
        let (offset, len) = self.snippet.label;
        Some(Box::new(std::iter::once(miette::LabeledSpan::new(
            Some(label),
            offset,
            len,
        ))))
    }
}

/// The lines around an error, cut to size; offsets are into `text`.
#[derive(Debug)]
struct Snippet {
    name: String,
    /// At most three lines: before, the error's line, after.
    text: String,
    /// 0-based number of `text`'s first line in the file.
    first_line: usize,
    /// Number of lines in `text`.
    lines: usize,
    /// 0-based line and column (in characters) of the error in the file.
    line: usize,
    column: usize,
    /// The underlined place in `text`: byte offset and length.
    label: (usize, usize),
}

impl Snippet {
    fn cut(name: String, source: &str, span: Span) -> Snippet {
        let offset = floor_char_boundary(source, span.offset);
        let line_start = source
            .get(..offset)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |i| i + 1);
        let line_end = source
            .get(offset..)
            .and_then(|s| s.find('\n'))
            .map_or(source.len(), |i| offset + i);
        let line_no = source
            .get(..line_start)
            .map_or(0, |s| s.bytes().filter(|b| *b == b'\n').count());
        let line = source.get(line_start..line_end).unwrap_or_default();
        let before = if line_start == 0 {
            None
        } else {
            source.get(..line_start - 1).map(|s| {
                s.rfind('\n')
                    .map_or(s, |i| s.get(i + 1..).unwrap_or_default())
            })
        };
        let after = source.get(line_end..).and_then(|s| {
            let rest = s.strip_prefix('\n')?;
            Some(
                rest.find('\n')
                    .map_or(rest, |i| rest.get(..i).unwrap_or_default()),
            )
        });

        let mut text = String::new();
        let mut lines = 0;
        if let Some(before) = before {
            push_cut(&mut text, before, 0, SNIPPET_LINE_CHARS);
            text.push('\n');
            lines += 1;
        }
        // The error's line: a window that starts a third of the width
        // before the error's column.
        let column = line
            .get(..offset - line_start)
            .map_or(0, |s| s.chars().count());
        let span_end = floor_char_boundary(source, span.offset.saturating_add(span.len))
            .clamp(offset, line_end.max(offset));
        let span_chars = source
            .get(offset..span_end)
            .map_or(0, |s| s.chars().count())
            .max(1);
        let window_start = column.saturating_sub(SNIPPET_LINE_CHARS / 3);
        let line_offset = text.len();
        let (label_start, label_end) = push_cut_marking(
            &mut text,
            line,
            window_start,
            SNIPPET_LINE_CHARS,
            (column, column + span_chars),
        );
        lines += 1;
        if let Some(after) = after {
            text.push('\n');
            push_cut(&mut text, after, 0, SNIPPET_LINE_CHARS);
            lines += 1;
        }
        let label_start = label_start.unwrap_or(line_offset);
        let label_len = label_end
            .unwrap_or(label_start)
            .saturating_sub(label_start)
            .max(1);
        Snippet {
            name,
            text,
            first_line: line_no - usize::from(before.is_some()),
            lines,
            line: line_no,
            column,
            label: (label_start, label_len),
        }
    }
}

/// Appends `line`'s characters `start..start + width` to `out`, with `…`
/// where it was cut and control characters replaced.
fn push_cut(out: &mut String, line: &str, start: usize, width: usize) {
    push_cut_marking(out, line, start, width, (usize::MAX, usize::MAX));
}

/// As [`push_cut`]; also returns the byte offsets in `out` where the
/// characters `mark.0` and `mark.1` of `line` landed, if shown.
fn push_cut_marking(
    out: &mut String,
    line: &str,
    start: usize,
    width: usize,
    mark: (usize, usize),
) -> (Option<usize>, Option<usize>) {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let (mut mark_start, mut mark_end) = (None, None);
    if start > 0 {
        out.push('…');
    }
    for (shown, (i, c)) in line.chars().enumerate().skip(start).enumerate() {
        if shown == width {
            out.push('…');
            break;
        }
        if i == mark.0 {
            mark_start = Some(out.len());
        }
        if i == mark.1 {
            mark_end = Some(out.len());
        }
        out.push(if c.is_control() && c != '\t' {
            '\u{fffd}'
        } else {
            c
        });
    }
    if mark_start.is_some() && mark_end.is_none() {
        // The marked characters run past the window or the line's end.
        mark_end = Some(out.len());
    }
    (mark_start, mark_end)
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

impl miette::SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        if context_lines_before == 0 && context_lines_after == 0 {
            // The place itself: its line and column in the file, for the
            // `[file:line:column]` header.
            let data = self
                .text
                .as_bytes()
                .get(span.offset()..span.offset().saturating_add(span.len()))
                .unwrap_or_default();
            return Ok(Box::new(miette::MietteSpanContents::new_named(
                self.name.clone(),
                data,
                *span,
                self.line,
                self.column,
                1,
            )));
        }
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            self.text.as_bytes(),
            miette::SourceSpan::new(0.into(), self.text.len()),
            self.first_line,
            0,
            self.lines,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostic(source: &str, offset: usize, len: usize) -> SourceDiagnostic {
        let line = 1 + source[..offset].matches('\n').count();
        let column = 1 + offset - source[..offset].rfind('\n').map_or(0, |i| i + 1);
        SourceDiagnostic::new(
            RuleDiagnostic {
                file: Arc::from("rules/x.yaml"),
                span: Span {
                    line,
                    column,
                    offset,
                    len,
                },
                path: "blockers[0].id".into(),
                kind: RuleErrorKind::Empty,
            },
            source,
        )
    }

    #[test]
    fn a_short_line_is_shown_whole_with_its_neighbours() {
        let source = "a: 1\nbad: here\nc: 3\nd: 4\n";
        let out = diagnostic(source, 10, 4).render();
        assert!(out.contains("[rules/x.yaml:2:6]"), "{out}");
        for line in ["1 │ a: 1", "2 │ bad: here", "3 │ c: 3"] {
            assert!(out.contains(line), "{line} missing in\n{out}");
        }
        assert!(!out.contains("d: 4"), "{out}");
        assert!(out.contains("────"), "{out}");
    }

    #[test]
    fn a_huge_line_is_cut_around_the_error() {
        let long = "x".repeat(1_000_000);
        let source = format!("before: {long}\nkey: {long}BAD{long}\nafter: {long}\n");
        let offset = source.find("BAD").unwrap();
        let out = diagnostic(&source, offset, 3).render();
        assert!(out.len() < 2_000, "report is {} bytes", out.len());
        assert!(out.contains("BAD"), "{out}");
        assert!(out.contains('…'), "{out}");
        assert!(
            out.contains(&format!(
                "[rules/x.yaml:2:{}]",
                offset - source.find("key").unwrap() + 1
            )),
            "{out}"
        );
    }

    #[test]
    fn control_characters_in_the_source_are_replaced() {
        let source = "a: \u{1b}[2J\nb: 2\n";
        let out = diagnostic(source, 3, 4).render();
        assert!(!out.contains('\u{1b}'), "{out:?}");
        assert!(out.contains('\u{fffd}'), "{out}");
    }

    #[test]
    fn an_error_at_the_end_of_the_file_renders() {
        let source = "a: 1\nb:";
        let out = diagnostic(source, source.len(), 0).render();
        assert!(out.contains("b:"), "{out}");
    }
}
