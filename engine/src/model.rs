//! The typed rule model a rule file loads into (before compilation).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::decision::Outcome;
use crate::vocabulary::Plan;
use crate::vocabulary::{Fact, Setting, Value};
use crate::yaml::Span;

/// The rule-language format this build reads.
pub const RULES_FORMAT: &str = "restore-rules/v1";

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
    /// Every setting, as the defaults for all tiers.
    pub defaults: SettingValues,
    /// Per-tier overrides, indexed by [`Plan::index`].
    pub tiers: [SettingValues; 4],
    pub requires: Vec<Requirement>,
    pub blockers: Vec<BlockerRule>,
    pub resources: Vec<ResourceRule>,
    pub span: Span,
}

/// Values for some settings, indexed by position in [`Setting::ALL`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SettingValues(pub Vec<Option<(Value, Span)>>);

impl SettingValues {
    pub fn empty() -> Self {
        SettingValues(vec![None; Setting::ALL.len()])
    }

    pub fn get(&self, setting: Setting) -> Option<&Value> {
        self.0.get(setting_index(setting))?.as_ref().map(|(v, _)| v)
    }

    pub fn span(&self, setting: Setting) -> Option<Span> {
        self.0
            .get(setting_index(setting))?
            .as_ref()
            .map(|(_, s)| *s)
    }

    pub fn set(&mut self, setting: Setting, value: Value, span: Span) {
        let i = setting_index(setting);
        if self.0.len() <= i {
            self.0.resize(Setting::ALL.len(), None);
        }
        // Always present after the resize: `i` is a position in `Setting::ALL`.
        if let Some(slot) = self.0.get_mut(i) {
            *slot = Some((value, span));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

pub(crate) fn setting_index(setting: Setting) -> usize {
    Setting::ALL
        .iter()
        .position(|s| *s == setting)
        .unwrap_or_default()
}

/// The value of `setting` in a table indexed like [`Setting::ALL`]. Compiled
/// tiers hold one value per setting; were one missing, it reads as `false`,
/// the same fallback as an unresolved setting at compile time.
pub(crate) fn setting_value(settings: &[Value], setting: Setting) -> &Value {
    static MISSING: Value = Value::Bool(false);
    settings.get(setting_index(setting)).unwrap_or(&MISSING)
}

/// Something a restore needs from the admin (F8 department, F9 seat).
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub id: Arc<str>,
    pub fact: Arc<str>,
}

/// A rule that, when its condition holds, blocks the restore.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockerRule {
    pub id: Arc<str>,
    pub fact: Arc<str>,
    pub when: Condition,
    pub message: Template,
    pub remedy: Template,
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
    Setting(Setting),
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
    Setting(Setting),
}

/// Plan tiers in rule-file order.
pub fn tier_name(plan: Plan) -> &'static str {
    plan.as_str()
}
