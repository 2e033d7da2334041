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
}

/// What is wrong at one place in a rule file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RuleErrorKind {
    #[error("cannot read rule file: {0}")]
    Io(String),
    #[error("YAML syntax error: {0}")]
    Syntax(String),
    #[error("the rule file is empty")]
    Empty,
    #[error("unknown key `{key}`{}", hint(.suggestion))]
    UnknownKey {
        key: String,
        suggestion: Option<&'static str>,
    },
    #[error("missing required key `{key}`")]
    MissingKey { key: &'static str },
    #[error("duplicate key `{key}`")]
    DuplicateKey { key: String },
    #[error("expected {expected}, found {found}")]
    WrongShape {
        expected: String,
        found: &'static str,
    },
    #[error("expected {expected}, found `{found}`")]
    TypeMismatch { expected: String, found: String },
    #[error("unknown rule-language format `{found}`, expected `{expected}`")]
    UnknownFormat {
        found: String,
        expected: &'static str,
    },
    #[error("unknown fact `{name}`{}", hint(.suggestion))]
    UnknownFact {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("unknown setting `{name}`{}", hint(.suggestion))]
    UnknownSetting {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("unknown plan tier `{name}`, expected one of: starter, basic, pro, enterprise")]
    UnknownTier { name: String },
    #[error("unknown outcome `{name}`, expected one of: restored, reset, not_restored, automatic, transfer_dependent")]
    UnknownOutcome { name: String },
    #[error("duration `{text}` has no unit; write e.g. `30d`, `48h`, `90m` or `45s`")]
    DurationWithoutUnit { text: String },
    #[error("`{text}` is not a duration; write e.g. `30d`, `48h`, `1d12h`")]
    BadDuration { text: String },
    #[error("duration `{text}` is longer than 100 years")]
    DurationTooLarge { text: String },
    #[error("timestamp `{text}` has no time zone; add `Z` or an offset such as `+08:00`")]
    TimestampWithoutZone { text: String },
    #[error("`{text}` is not an RFC 3339 timestamp")]
    BadTimestamp { text: String },
    #[error("duplicate {what} `{id}` (first defined on line {first_line})")]
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
    #[error("operator `{op}` does not apply to {subject} `{name}` of type {ty}")]
    OperatorType {
        op: &'static str,
        subject: &'static str,
        name: String,
        ty: String,
    },
    #[error("cannot compare {left} with {right}")]
    OperandTypes { left: String, right: String },
    #[error("fact reference `{text}` must look like `F1`, `F25`")]
    BadFactRef { text: String },
    #[error("unknown placeholder `{{{name}}}` in text; use a fact (e.g. `{{member.deleted_at}}`) or `{{setting.NAME}}`")]
    UnknownPlaceholder { name: String },
    #[error("unclosed `{{` in text")]
    UnclosedPlaceholder,
    #[error("`{name}` must not be empty")]
    EmptyText { name: &'static str },
    #[error("policy `{policy}` has versions `{first}` and `{second}` with the same effective date {date}")]
    SameEffectiveDate {
        policy: String,
        first: String,
        second: String,
        date: String,
    },
    #[error("policy `{policy}` version `{version}` is defined twice (also in `{other_file}`)")]
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
            RuleErrorKind::UnknownTier { .. } => "restore::unknown_tier",
            RuleErrorKind::UnknownOutcome { .. } => "restore::unknown_outcome",
            RuleErrorKind::DurationWithoutUnit { .. } => "restore::duration_without_unit",
            RuleErrorKind::BadDuration { .. } => "restore::bad_duration",
            RuleErrorKind::DurationTooLarge { .. } => "restore::duration_too_large",
            RuleErrorKind::TimestampWithoutZone { .. } => "restore::timestamp_without_zone",
            RuleErrorKind::BadTimestamp { .. } => "restore::bad_timestamp",
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
            RuleErrorKind::DuplicateVersion { .. } => "restore::duplicate_version",
        }
    }
}

/// The operators a comparison can use.
pub const OPERATORS: &str = "is, is_not, lt, lte, gt, gte, in, contains, intersects, empty";

fn hint(suggestion: &Option<&'static str>) -> String {
    suggestion.map_or(String::new(), |s| format!("; did you mean `{s}`?"))
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
            write!(f, "at `{}`: ", self.path)?;
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

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
        for d in &self.diagnostics {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

/// A diagnostic together with its file's text: a miette diagnostic that
/// renders the offending line with the place underlined.
#[derive(Debug)]
pub struct SourceDiagnostic {
    diagnostic: RuleDiagnostic,
    source: miette::NamedSource<String>,
}

impl SourceDiagnostic {
    pub fn new(diagnostic: RuleDiagnostic, source: String) -> Self {
        let name = diagnostic.file.to_string();
        SourceDiagnostic {
            diagnostic,
            source: miette::NamedSource::new(name, source),
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
        (self.diagnostic.span.line > 0).then_some(&self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.diagnostic.span.line == 0 {
            return None;
        }
        let span = self.diagnostic.span;
        let label = if self.diagnostic.path.is_empty() {
            "here".to_owned()
        } else {
            format!("at `{}`", self.diagnostic.path)
        };
        Some(Box::new(std::iter::once(miette::LabeledSpan::new(
            Some(label),
            span.offset,
            span.len.max(1),
        ))))
    }
}
