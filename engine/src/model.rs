//! The typed rule model a rule file loads into (before compilation).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::decision::{Code, Outcome};
use chrono::TimeDelta;

use crate::declarations::{AttrRef, Declarations};
use crate::vocabulary::{Fact, SettingId, Type, Value, Vocabulary};
use crate::yaml::Span;

/// The rule-language format this build reads.
pub const RULES_FORMAT: &str = "restore-rules/v1";

/// The open rule-language format: the policy declares its tiers, settings,
/// computed facts, catalogue (and attributes and context).
pub const RULES_FORMAT_V2: &str = "restore-rules/v2";

/// Which format a rule file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `restore-rules/v1`, completed by the v1 prelude.
    V1,
    /// `restore-rules/v2`.
    V2,
}

/// One version of one policy, as written in one rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyFile {
    pub file: Arc<str>,
    /// `sha256:<hex>` of the file's bytes.
    pub digest: Arc<str>,
    pub name: String,
    pub version: String,
    pub effective_from: DateTime<Utc>,
    pub description: Option<String>,
    /// The declared settings; a [`SettingId`] is a position here (format
    /// v1: the five of [`crate::vocabulary::Setting`], its prelude).
    pub settings: Vec<SettingDecl>,
    /// The declared tiers, in file order (format v1: always the four of
    /// [`crate::vocabulary::Plan`]), each with its setting overrides.
    pub tiers: Vec<TierDecl>,
    /// Position in `tiers` of the tier a plan no tier names falls to; none:
    /// such a plan is an evaluation error.
    pub default_tier: Option<u16>,
    /// The enumerations the rules' types refer to (tiers included).
    pub vocabulary: Vocabulary,
    /// Facts computed as a time plus or minus a duration (format v1: the
    /// prelude's `member.restorable_until` and `member.deletion_ends_by`).
    pub computed: Vec<ComputedDecl>,
    /// Position in `computed` of the fact the decision's
    /// `restorable_until` reports; none: the decision reports `null`.
    pub restorable_until: Option<u16>,
    pub format: Format,
    /// The resources the decisions must cover (format v1: the 19 of
    /// [`crate::vocabulary::KNOWN_RESOURCES`]); none: no check.
    pub catalogue: Option<Vec<Arc<str>>>,
    pub requires: Vec<Requirement>,
    pub blockers: Vec<BlockerRule>,
    /// Warning rules (format v2): shaped like blockers, they never deny; a
    /// warning without remedy has an empty `remedy` template.
    pub warnings: Vec<BlockerRule>,
    pub resources: Vec<ResourceRule>,
    /// Declared attributes (tenant, member, actor) and request context.
    pub attributes: Declarations,
    pub span: Span,
}

/// Values for some settings, indexed by [`SettingId`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SettingValues(pub Vec<Option<(Value, Span)>>);

impl SettingValues {
    /// No values, for `count` declared settings.
    pub fn empty(count: usize) -> Self {
        SettingValues(vec![None; count])
    }

    pub fn get(&self, setting: SettingId) -> Option<&Value> {
        self.0.get(setting.index())?.as_ref().map(|(v, _)| v)
    }

    pub fn span(&self, setting: SettingId) -> Option<Span> {
        self.0.get(setting.index())?.as_ref().map(|(_, s)| *s)
    }

    pub fn set(&mut self, setting: SettingId, value: Value, span: Span) {
        let i = setting.index();
        if self.0.len() <= i {
            self.0.resize(i + 1, None);
        }
        // Always present after the resize.
        if let Some(slot) = self.0.get_mut(i) {
            *slot = Some((value, span));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// The settings given, with value and place.
    pub fn iter(&self) -> impl Iterator<Item = (SettingId, &Value, Span)> {
        self.0.iter().enumerate().filter_map(|(i, v)| {
            let (value, span) = v.as_ref()?;
            Some((SettingId(u16::try_from(i).ok()?), value, *span))
        })
    }
}

/// The value of `setting` in a compiled tier's table (one value per
/// declared setting); were one missing, it reads as `false`, the same
/// fallback as an unresolved setting at compile time.
pub(crate) fn setting_value(settings: &[Value], setting: SettingId) -> &Value {
    static MISSING: Value = Value::Bool(false);
    settings.get(setting.index()).unwrap_or(&MISSING)
}

/// One declared setting.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingDecl {
    pub name: Arc<str>,
    pub ty: Type,
    /// None: every tier must set it (the loader checks).
    pub default: Option<Value>,
    pub doc: Option<String>,
    pub span: Span,
}

/// A computed fact: a timestamp fact plus or minus a duration.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedDecl {
    /// E.g. `member.restorable_until`.
    pub name: Arc<str>,
    pub base: Fact,
    /// `minus:` rather than `plus:`.
    pub minus: bool,
    pub delta: Delta,
    pub span: Span,
}

/// The duration of a computed fact: a setting (folded per tier) or a literal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delta {
    Setting(SettingId),
    Literal(TimeDelta),
}

/// Something a restore needs from the admin (F8 department, F9 seat).
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub id: Arc<str>,
    /// Its source reference (`fact:`/`source:`).
    pub fact: Arc<str>,
    /// What a caller fills in when the request names none (e.g. the root
    /// department); see `CompiledPolicy::requirement_default`.
    pub default: Option<Arc<str>>,
}

/// A rule that, when its condition holds, blocks the restore.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockerRule {
    pub id: Arc<str>,
    /// Its source reference (`fact:`/`source:`).
    pub fact: Arc<str>,
    /// The code decisions report when it holds.
    pub code: Option<Code>,
    pub when: Condition,
    pub message: Template,
    pub remedy: Template,
    /// Lint codes this rule allows on purpose (`allow:`).
    pub allow: Vec<Arc<str>>,
    pub span: Span,
}

/// What comes back for one resource, with exceptions.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRule {
    pub resource: Arc<str>,
    pub fact: Arc<str>,
    pub outcome: Outcome,
    /// The first exception whose condition holds replaces the outcome.
    pub exceptions: Vec<Exception>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    pub when: Condition,
    pub outcome: Outcome,
    pub reason: Arc<str>,
}

/// A structured condition over typed facts and settings.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Compare {
        subject: Operand,
        op: Op,
        value: Operand,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Fact(Fact),
    /// A declared attribute or context value.
    Attr(AttrRef),
    /// A computed fact, by position in [`PolicyFile::computed`].
    Computed(u16),
    Setting(SettingId),
    Literal(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Is,
    IsNot,
    Lt,
    Lte,
    Gt,
    Gte,
    /// Text is one of a list.
    In,
    /// List holds a text.
    Contains,
    /// Two lists share an entry.
    Intersects,
    /// List is (`true`) or is not (`false`) empty.
    Empty,
}

impl Op {
    pub const ALL: [Op; 10] = [
        Op::Is,
        Op::IsNot,
        Op::Lt,
        Op::Lte,
        Op::Gt,
        Op::Gte,
        Op::In,
        Op::Contains,
        Op::Intersects,
        Op::Empty,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Is => "is",
            Op::IsNot => "is_not",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::In => "in",
            Op::Contains => "contains",
            Op::Intersects => "intersects",
            Op::Empty => "empty",
        }
    }

    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// Text with `{fact}` / `{setting.NAME}` placeholders, checked at load time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template(pub Vec<Segment>);

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Text(String),
    Fact(Fact),
    Computed(u16),
    Setting(SettingId),
    /// A declared attribute or context value.
    Attr(AttrRef),
}

/// One declared tier and its setting overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct TierDecl {
    pub name: Arc<str>,
    pub overrides: SettingValues,
    pub span: Span,
}

impl PolicyFile {
    /// The declared setting named `name`.
    pub fn setting_id(&self, name: &str) -> Option<SettingId> {
        let i = self.settings.iter().position(|s| &*s.name == name)?;
        Some(SettingId(u16::try_from(i).ok()?))
    }

    /// The declaration of a setting.
    pub fn setting(&self, id: SettingId) -> Option<&SettingDecl> {
        self.settings.get(id.index())
    }

    /// The declared tier named exactly `name`.
    pub fn tier(&self, name: &str) -> Option<&TierDecl> {
        self.tiers.iter().find(|t| &*t.name == name)
    }
}
