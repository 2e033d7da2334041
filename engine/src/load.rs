//! Rule file → [`PolicyFile`], reporting every error with file, line,
//! column and YAML path.

mod declarations;
mod v2;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::decision::Outcome;
use crate::declarations::Declarations;
use crate::error::{LoadError, RuleDiagnostic, RuleErrorKind};
use crate::model::{
    BlockerRule, Condition, Exception, Format, Op, Operand, PolicyFile, Requirement, ResourceRule,
    Segment, SettingValues, Template, TierDecl, RULES_FORMAT, RULES_FORMAT_V2,
};
use crate::timestamp::{parse_timestamp, TimestampError};
use crate::vocabulary::{
    parse_duration, suggest, DurationError, Fact, Plan, Setting, SettingId, Type, Value,
    Vocabulary, KNOWN_RESOURCES,
};
use crate::yaml::{self, is_null, Node, NodeKind, Span};

/// Parses and validates one rule file's text. `file` names it in errors.
pub fn load_policy_file(file: &str, source: &str) -> Result<PolicyFile, LoadError> {
    let file: Arc<str> = Arc::from(file);
    let mut decoder = Decoder {
        file: file.clone(),
        diagnostics: Vec::new(),
        vocab: Vocabulary::default(),
        settings: v1_settings(),
        computed: crate::prelude::computed()
            .into_iter()
            .map(|c| c.name)
            .collect(),
        v2: false,
        attributes: Declarations::default(),
    };
    let root = match yaml::parse(source) {
        Ok(Some(root)) => root,
        Ok(None) => {
            decoder.error(Span::default(), "", RuleErrorKind::Empty);
            return Err(decoder.finish());
        }
        Err(e) => {
            decoder.error(e.span, "", RuleErrorKind::Syntax(e.message));
            return Err(decoder.finish());
        }
    };
    let digest = digest(source.as_bytes());
    let policy = decoder.policy(&root, digest);
    match policy {
        Some(policy) if decoder.diagnostics.is_empty() => Ok(policy),
        _ => Err(decoder.finish()),
    }
}

/// `sha256:<hex>` of some bytes.
pub fn digest(bytes: &[u8]) -> Arc<str> {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash.iter() {
        out.push_str(&format!("{byte:02x}"));
    }
    Arc::from(out)
}

struct Decoder {
    file: Arc<str>,
    diagnostics: Vec<RuleDiagnostic>,
    /// The enumerations types refer to; the tiers once they are read.
    vocab: Vocabulary,
    /// The declared settings' names and types, by `SettingId`.
    settings: Vec<(Arc<str>, Type)>,
    /// The declared computed facts' names, by position.
    computed: Vec<Arc<str>>,
    /// Reading a `restore-rules/v2` file.
    v2: bool,
    /// Declared attributes and context values, once their sections are
    /// read: references in conditions and templates resolve against them.
    attributes: Declarations,
}

/// The settings of the v1 prelude, by id.
fn v1_settings() -> Vec<(Arc<str>, Type)> {
    Setting::ALL
        .iter()
        .map(|s| (Arc::from(s.name()), s.ty()))
        .collect()
}

/// A mapping's entries after key checks.
/// `policy`, `version`, `effective_from` and `description`: read alike in
/// every format.
struct Header {
    name: Option<String>,
    version: Option<String>,
    effective_from: Option<DateTime<Utc>>,
    description: Option<String>,
}

struct Fields<'n> {
    entries: Vec<(&'n str, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl Decoder {
    fn finish(mut self) -> LoadError {
        self.diagnostics
            .sort_by_key(|d| (d.span.line, d.span.column));
        LoadError {
            diagnostics: self.diagnostics,
        }
    }

    fn error(&mut self, span: Span, path: &str, kind: RuleErrorKind) {
        self.diagnostics.push(RuleDiagnostic {
            file: self.file.clone(),
            span,
            path: path.to_owned(),
            kind,
        });
    }

    /// Checks a mapping's keys: unknown and duplicate keys are errors, and
    /// missing required keys are reported on the mapping itself.
    fn mapping<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        allowed: &'static [&'static str],
        required: &[&'static str],
    ) -> Option<Fields<'n>> {
        let NodeKind::Mapping(entries) = &node.kind else {
            self.error(
                node.span,
                path,
                RuleErrorKind::WrongShape {
                    expected: "a mapping".into(),
                    found: node.describe(),
                },
            );
            return None;
        };
        let mut fields = Fields {
            entries: Vec::with_capacity(entries.len()),
        };
        for (key, value) in entries {
            let Some(name) = key.as_scalar() else {
                self.error(
                    key.span,
                    path,
                    RuleErrorKind::WrongShape {
                        expected: "a text key".into(),
                        found: key.describe(),
                    },
                );
                continue;
            };
            if !allowed.contains(&name) {
                self.error(
                    key.span,
                    &join(path, name),
                    RuleErrorKind::UnknownKey {
                        key: name.to_owned(),
                        suggestion: suggest(name, allowed.iter().copied()),
                    },
                );
                continue;
            }
            if fields.get(name).is_some() {
                self.error(
                    key.span,
                    &join(path, name),
                    RuleErrorKind::DuplicateKey {
                        key: name.to_owned(),
                    },
                );
                continue;
            }
            fields.entries.push((name, value));
        }
        for key in required {
            if fields.get(key).is_none() {
                self.error(node.span, path, RuleErrorKind::MissingKey { key });
            }
        }
        Some(fields)
    }

    fn sequence<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.kind {
            NodeKind::Sequence(items) => Some(items),
            _ => {
                self.error(
                    node.span,
                    path,
                    RuleErrorKind::WrongShape {
                        expected: "a list".into(),
                        found: node.describe(),
                    },
                );
                None
            }
        }
    }

    /// The fields every format shares; each `None` has its error recorded
    /// (or, for `description`, is simply absent).
    fn header(&mut self, fields: &Fields<'_>) -> Header {
        Header {
            name: fields
                .get("policy")
                .and_then(|n| self.non_empty_text(n, "policy", "policy")),
            version: fields
                .get("version")
                .and_then(|n| self.non_empty_text(n, "version", "version")),
            effective_from: fields
                .get("effective_from")
                .and_then(|n| self.timestamp(n, "effective_from")),
            description: fields
                .get("description")
                .and_then(|n| self.text(n, "description")),
        }
    }

    fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Scalar { text, quoted } if *quoted || !is_null(text) => Some(text.clone()),
            _ => {
                self.error(
                    node.span,
                    path,
                    RuleErrorKind::WrongShape {
                        expected: "text".into(),
                        found: node.describe(),
                    },
                );
                None
            }
        }
    }

    fn non_empty_text(&mut self, node: &Node, path: &str, name: &'static str) -> Option<String> {
        let text = self.text(node, path)?;
        if text.trim().is_empty() {
            self.error(node.span, path, RuleErrorKind::EmptyText { name });
            return None;
        }
        Some(text)
    }

    fn timestamp(&mut self, node: &Node, path: &str) -> Option<DateTime<Utc>> {
        let text = self.text(node, path)?;
        match parse_timestamp(&text) {
            Ok(t) => Some(t),
            Err(e) => {
                let kind = match e {
                    TimestampError::NoZone { .. } => RuleErrorKind::TimestampWithoutZone { text },
                    TimestampError::OutOfRange { .. } => {
                        RuleErrorKind::TimestampOutOfRange { text }
                    }
                    _ => RuleErrorKind::BadTimestamp { text },
                };
                self.error(node.span, path, kind);
                None
            }
        }
    }

    fn fact_ref(&mut self, node: &Node, path: &str) -> Option<Arc<str>> {
        let text = self.text(node, path)?;
        let valid = text.len() > 1
            && text.starts_with('F')
            && text[1..].bytes().all(|b| b.is_ascii_digit());
        if !valid {
            self.error(node.span, path, RuleErrorKind::BadFactRef { text });
            return None;
        }
        Some(Arc::from(text))
    }

    /// A literal of type `ty`.
    fn literal(&mut self, node: &Node, path: &str, ty: Type) -> Option<Value> {
        if ty == Type::StrList {
            let items = self.sequence(node, path)?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(Arc::from(self.text(item, &format!("{path}[{i}]"))?));
            }
            return Some(Value::List(Arc::from(out)));
        }
        let NodeKind::Scalar { text, quoted } = &node.kind else {
            self.error(
                node.span,
                path,
                RuleErrorKind::WrongShape {
                    expected: self.vocab.with_article(ty),
                    found: node.describe(),
                },
            );
            return None;
        };
        let mismatch = |text: &str| RuleErrorKind::TypeMismatch {
            expected: self.vocab.with_article(ty),
            found: text.to_owned(),
        };
        let value = match ty {
            Type::Bool => match (text.as_str(), quoted) {
                ("true", false) => Some(Value::Bool(true)),
                ("false", false) => Some(Value::Bool(false)),
                _ => None,
            },
            Type::Int if !quoted => text.parse().ok().map(Value::Int),
            Type::Int => None,
            Type::Duration => match parse_duration(text) {
                Ok(d) => Some(Value::Duration(d)),
                Err(e) => {
                    let text = text.clone();
                    let kind = match e {
                        DurationError::NoUnit => RuleErrorKind::DurationWithoutUnit { text },
                        DurationError::TooLarge => RuleErrorKind::DurationTooLarge { text },
                        DurationError::Invalid => RuleErrorKind::BadDuration { text },
                    };
                    self.error(node.span, path, kind);
                    return None;
                }
            },
            Type::Timestamp => return self.timestamp(node, path).map(Value::Timestamp),
            Type::Str => Some(Value::Str(Arc::from(text.as_str()))),
            Type::Enum(id) => self
                .vocab
                .names(id)
                .iter()
                .any(|n| **n == **text)
                .then(|| Value::Str(Arc::from(text.as_str()))),
            Type::StrList => None,
        };
        if value.is_none() {
            self.error(node.span, path, mismatch(text));
        }
        value
    }

    fn policy(&mut self, root: &Node, digest: Arc<str>) -> Option<PolicyFile> {
        const KEYS: &[&str] = &[
            "format",
            "policy",
            "version",
            "effective_from",
            "description",
            "settings",
            "tiers",
            "requires",
            "blockers",
            "resources",
            // Read by the v1 loader too until the v2 loader is the only
            // one (docs/rule-language-next.md §3.8a).
            "attributes",
            "context",
        ];
        const REQUIRED: &[&str] = &[
            "format",
            "policy",
            "version",
            "effective_from",
            "settings",
            "blockers",
            "resources",
        ];
        // The format decides how to read everything else: check it first, and
        // report nothing more for a format this build does not know.
        if let NodeKind::Mapping(entries) = &root.kind {
            let format = entries
                .iter()
                .find(|(k, _)| k.as_scalar() == Some("format"));
            if let Some((_, node)) = format {
                match node.as_scalar() {
                    Some(RULES_FORMAT) => {}
                    Some(RULES_FORMAT_V2) => return self.policy_v2(root, digest),
                    found => {
                        self.error(
                            node.span,
                            "format",
                            RuleErrorKind::UnknownFormat {
                                found: found.unwrap_or(node.describe()).to_owned(),
                                expected: "restore-rules/v2` or `restore-rules/v1",
                            },
                        );
                        return None;
                    }
                }
            }
        }
        let fields = self.mapping(root, "", KEYS, REQUIRED)?;
        let Header {
            name,
            version,
            effective_from,
            description,
        } = self.header(&fields);
        let defaults = fields
            .get("settings")
            .and_then(|n| self.settings(n, "settings", true));
        let tiers = match fields.get("tiers") {
            Some(n) => self.tiers(n),
            None => Some(std::array::from_fn(|_| {
                (SettingValues::empty(Setting::ALL.len()), root.span)
            })),
        };
        // Format v1 declares the four tiers, whether the file overrides
        // anything on them or not.
        let tiers = tiers.map(|tiers| {
            Plan::ALL
                .into_iter()
                .zip(tiers)
                .map(|(plan, (overrides, span))| TierDecl {
                    name: Arc::from(plan.as_str()),
                    overrides,
                    span,
                })
                .collect::<Vec<_>>()
        });
        if let Some(tiers) = &tiers {
            let names: Vec<Arc<str>> = tiers.iter().map(|t| t.name.clone()).collect();
            self.vocab.set_tiers(&names);
        }
        let requires = match fields.get("requires") {
            Some(n) => self.requires(n),
            None => Some(Vec::new()),
        };
        // Before the rules: their references resolve against these.
        let attributes = self.declarations(fields.get("attributes"), fields.get("context"));
        let blockers = fields.get("blockers").and_then(|n| self.blockers(n));
        let resources = fields.get("resources").and_then(|n| self.resources(n));
        Some(PolicyFile {
            file: self.file.clone(),
            digest,
            name: name?,
            version: version?,
            effective_from: effective_from?,
            description,
            settings: crate::prelude::settings(&defaults?),
            tiers: tiers?,
            default_tier: None,
            vocabulary: self.vocab.clone(),
            computed: crate::prelude::computed(),
            restorable_until: Some(crate::prelude::RESTORABLE_UNTIL),
            format: Format::V1,
            catalogue: Some(KNOWN_RESOURCES.iter().map(|r| Arc::from(*r)).collect()),
            attributes: attributes?,
            requires: requires?,
            blockers: blockers?,
            warnings: Vec::new(),
            resources: resources?,
            span: root.span,
        })
    }

    /// Settings; the defaults must give every one, tiers any subset.
    fn settings(&mut self, node: &Node, path: &str, all_required: bool) -> Option<SettingValues> {
        const NAMES: &[&str] = &[
            "restore_window",
            "deletion_max_duration",
            "restore_roles",
            "block_without_seat",
            "batch_restore",
        ];
        debug_assert_eq!(NAMES.len(), Setting::ALL.len());
        let required: &[&str] = if all_required { NAMES } else { &[] };
        let fields = self.mapping(node, path, NAMES, required)?;
        let mut values = SettingValues::empty(Setting::ALL.len());
        let mut ok = true;
        for (name, value_node) in &fields.entries {
            let Some(setting) = Setting::from_name(name) else {
                continue;
            };
            match self.literal(value_node, &join(path, name), setting.ty()) {
                Some(value) => values.set(setting.id(), value, value_node.span),
                None => ok = false,
            }
        }
        (ok && !(all_required && fields.entries.len() < NAMES.len())).then_some(values)
    }

    /// Format v1's `tiers`: overrides for any of the four, with the place
    /// of each (the document's for a tier the file leaves out).
    fn tiers(&mut self, node: &Node) -> Option<[(SettingValues, Span); 4]> {
        const TIERS: &[&str] = &["starter", "basic", "pro", "enterprise"];
        let NodeKind::Mapping(entries) = &node.kind else {
            self.mapping(node, "tiers", TIERS, &[]);
            return None;
        };
        let mut out: [(SettingValues, Span); 4] =
            std::array::from_fn(|_| (SettingValues::empty(Setting::ALL.len()), node.span));
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut ok = true;
        for (key, value) in entries {
            let Some(name) = key.as_scalar() else {
                ok = false;
                continue;
            };
            let path = join("tiers", name);
            let Ok(plan) = name.parse::<Plan>() else {
                self.error(
                    key.span,
                    &path,
                    RuleErrorKind::UnknownTier {
                        name: name.to_owned(),
                    },
                );
                ok = false;
                continue;
            };
            if seen.insert(name, key.span.line).is_some() {
                self.error(
                    key.span,
                    &path,
                    RuleErrorKind::DuplicateKey {
                        key: name.to_owned(),
                    },
                );
                ok = false;
                continue;
            }
            plan.pick_mut(&mut out).1 = key.span;
            // `pro: {}` and `pro:` (null) both mean "no overrides".
            if matches!(&value.kind, NodeKind::Scalar { text, quoted: false } if is_null(text)) {
                continue;
            }
            match self.settings(value, &path, false) {
                Some(values) => plan.pick_mut(&mut out).0 = values,
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn requires(&mut self, node: &Node) -> Option<Vec<Requirement>> {
        let items = self.sequence(node, "requires")?;
        let mut out = Vec::new();
        let mut ids = IdSet::new("requirement id");
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("requires[{i}]");
            let (keys, required): (&'static [&'static str], &[&'static str]) = if self.v2 {
                (&["id", "fact", "source", "default"], &["id"])
            } else {
                (&["id", "fact"], &["id", "fact"])
            };
            let Some(fields) = self.mapping(item, &path, keys, required) else {
                ok = false;
                continue;
            };
            let id = fields
                .get("id")
                .and_then(|n| self.id(n, &join(&path, "id"), &mut ids));
            let fact = self.source(&fields, &path, item.span);
            let default = match fields.get("default") {
                Some(n) => self
                    .non_empty_text(n, &join(&path, "default"), "default")
                    .map(|d| Some(Arc::from(d))),
                None => Some(None),
            };
            match (id, fact, default) {
                (Some(id), Some(fact), Some(default)) => {
                    out.push(Requirement { id, fact, default })
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A non-empty id, unique within `ids`.
    fn id(&mut self, node: &Node, path: &str, ids: &mut IdSet) -> Option<Arc<str>> {
        let id = self.non_empty_text(node, path, "id")?;
        if let Some(first_line) = ids.seen.get(&id) {
            let first_line = *first_line;
            self.error(
                node.span,
                path,
                RuleErrorKind::DuplicateId {
                    what: ids.what,
                    id,
                    first_line,
                },
            );
            return None;
        }
        ids.seen.insert(id.clone(), node.span.line);
        Some(Arc::from(id))
    }

    fn blockers(&mut self, node: &Node) -> Option<Vec<BlockerRule>> {
        let mut ids = IdSet::new("blocker id");
        self.rules(node, "blockers", &mut ids, true)
    }

    /// `blockers` (`remedy` required) or, format v2, `warnings` (`remedy`
    /// optional: absent, it is an empty template). `ids` are unique across
    /// the lists read with it.
    fn rules(
        &mut self,
        node: &Node,
        key: &str,
        ids: &mut IdSet,
        remedy_required: bool,
    ) -> Option<Vec<BlockerRule>> {
        const KEYS: &[&str] = &["id", "fact", "when", "message", "remedy"];
        const KEYS_V2: &[&str] = &[
            "id", "fact", "source", "code", "allow", "when", "message", "remedy",
        ];
        const REQUIRED_V2: &[&str] = &["id", "when", "message", "remedy"];
        const REQUIRED_WARNING: &[&str] = &["id", "when", "message"];
        let (keys, required) = match (self.v2, remedy_required) {
            (false, _) => (KEYS, KEYS),
            (true, true) => (KEYS_V2, REQUIRED_V2),
            (true, false) => (KEYS_V2, REQUIRED_WARNING),
        };
        let items = self.sequence(node, key)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("{key}[{i}]");
            let Some(fields) = self.mapping(item, &path, keys, required) else {
                ok = false;
                continue;
            };
            let id = fields
                .get("id")
                .and_then(|n| self.id(n, &join(&path, "id"), ids));
            let fact = self.source(&fields, &path, item.span);
            let code = match fields.get("code") {
                Some(n) => self.code(n, &join(&path, "code")).map(Some),
                None => Some(None),
            };
            let allow = match fields.get("allow") {
                Some(n) => self.allow(n, &join(&path, "allow")),
                None => Some(Vec::new()),
            };
            let when = fields
                .get("when")
                .and_then(|n| self.condition(n, &join(&path, "when")));
            let message = fields
                .get("message")
                .and_then(|n| self.template(n, &join(&path, "message"), "message"));
            let remedy = match fields.get("remedy") {
                Some(n) => self.template(n, &join(&path, "remedy"), "remedy"),
                None if !remedy_required => Some(Template::default()),
                None => None,
            };
            match (id, fact, when, message, remedy, code, allow) {
                (
                    Some(id),
                    Some(fact),
                    Some(when),
                    Some(message),
                    Some(remedy),
                    Some(code),
                    Some(allow),
                ) => out.push(BlockerRule {
                    id,
                    fact,
                    code,
                    when,
                    message,
                    remedy,
                    allow,
                    span: item.span,
                }),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn resources(&mut self, node: &Node) -> Option<Vec<ResourceRule>> {
        const KEYS: &[&str] = &["resource", "fact", "outcome", "exceptions"];
        const KEYS_V2: &[&str] = &["resource", "fact", "source", "outcome", "exceptions"];
        let (keys, required): (&'static [&'static str], &[&'static str]) = if self.v2 {
            (KEYS_V2, &["resource", "outcome"])
        } else {
            (KEYS, &["resource", "fact", "outcome"])
        };
        let items = self.sequence(node, "resources")?;
        let mut out = Vec::new();
        let mut names = IdSet::new("resource");
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("resources[{i}]");
            let Some(fields) = self.mapping(item, &path, keys, required) else {
                ok = false;
                continue;
            };
            let resource = fields
                .get("resource")
                .and_then(|n| self.id(n, &join(&path, "resource"), &mut names));
            let fact = self.source(&fields, &path, item.span);
            let outcome = fields
                .get("outcome")
                .and_then(|n| self.outcome(n, &join(&path, "outcome")));
            let exceptions = match fields.get("exceptions") {
                Some(n) => self.exceptions(n, &join(&path, "exceptions")),
                None => Some(Vec::new()),
            };
            match (resource, fact, outcome, exceptions) {
                (Some(resource), Some(fact), Some(outcome), Some(exceptions)) => {
                    out.push(ResourceRule {
                        resource,
                        fact,
                        outcome,
                        exceptions,
                        span: item.span,
                    })
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn outcome(&mut self, node: &Node, path: &str) -> Option<Outcome> {
        let text = self.text(node, path)?;
        let outcome = Outcome::parse(&text);
        if outcome.is_none() {
            self.error(
                node.span,
                path,
                RuleErrorKind::UnknownOutcome { name: text },
            );
        }
        outcome
    }

    fn exceptions(&mut self, node: &Node, path: &str) -> Option<Vec<Exception>> {
        const KEYS: &[&str] = &["when", "outcome", "reason"];
        let items = self.sequence(node, path)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("{path}[{i}]");
            let Some(fields) = self.mapping(item, &path, KEYS, KEYS) else {
                ok = false;
                continue;
            };
            let when = fields
                .get("when")
                .and_then(|n| self.condition(n, &join(&path, "when")));
            let outcome = fields
                .get("outcome")
                .and_then(|n| self.outcome(n, &join(&path, "outcome")));
            let reason = fields
                .get("reason")
                .and_then(|n| self.non_empty_text(n, &join(&path, "reason"), "reason"));
            match (when, outcome, reason) {
                (Some(when), Some(outcome), Some(reason)) => out.push(Exception {
                    when,
                    outcome,
                    reason: Arc::from(reason),
                }),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// `all: [..]`, `any: [..]`, `not: {..}`, or a comparison
    /// `{ fact|setting: NAME, OP: VALUE }`.
    fn condition(&mut self, node: &Node, path: &str) -> Option<Condition> {
        const KEYS: &[&str] = &[
            "all",
            "any",
            "not",
            "fact",
            "setting",
            "is",
            "is_not",
            "lt",
            "lte",
            "gt",
            "gte",
            "in",
            "contains",
            "intersects",
            "empty",
        ];
        let fields = self.mapping(node, path, KEYS, &[])?;
        let group = ["all", "any", "not"]
            .iter()
            .filter(|k| fields.get(k).is_some())
            .count();
        let subjects = ["fact", "setting"]
            .iter()
            .filter(|k| fields.get(k).is_some())
            .count();
        if group + subjects != 1 || (group == 1 && fields.entries.len() != 1) {
            self.error(node.span, path, RuleErrorKind::BadCondition);
            return None;
        }
        for (key, make) in [
            ("all", Condition::All as fn(Vec<Condition>) -> Condition),
            ("any", Condition::Any),
        ] {
            if let Some(list) = fields.get(key) {
                let path = join(path, key);
                let items = self.sequence(list, &path)?;
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.condition(item, &format!("{path}[{i}]")) {
                        Some(c) => out.push(c),
                        None => ok = false,
                    }
                }
                return ok.then(|| make(out));
            }
        }
        if let Some(inner) = fields.get("not") {
            return self
                .condition(inner, &join(path, "not"))
                .map(|c| Condition::Not(Box::new(c)));
        }
        self.comparison(node, &fields, path)
    }

    fn comparison(&mut self, node: &Node, fields: &Fields<'_>, path: &str) -> Option<Condition> {
        let (subject, subject_ty, subject_kind, subject_name) = if let Some(n) = fields.get("fact")
        {
            let (operand, ty, name) = self.fact_name(n, &join(path, "fact"))?;
            (operand, ty, "fact", name)
        } else {
            let n = fields.get("setting")?;
            let (setting, ty, name) = self.setting_name(n, &join(path, "setting"))?;
            (Operand::Setting(setting), ty, "setting", name)
        };
        let ops: Vec<(Op, &Node)> = fields
            .entries
            .iter()
            .filter_map(|(k, v)| Op::from_name(k).map(|op| (op, *v)))
            .collect();
        let [(op, value_node)] = ops.as_slice() else {
            self.error(
                node.span,
                path,
                RuleErrorKind::OperatorCount { found: ops.len() },
            );
            return None;
        };
        let (op, value_node) = (*op, *value_node);
        let value_path = join(path, op.name());
        // The type the right-hand side must have, given the operator.
        let expected = match op {
            Op::Is | Op::IsNot => Some(subject_ty),
            Op::Lt | Op::Lte | Op::Gt | Op::Gte => subject_ty.is_ordered().then_some(subject_ty),
            Op::In => subject_ty.is_text().then_some(Type::StrList),
            Op::Contains => (subject_ty == Type::StrList).then_some(Type::Str),
            Op::Intersects => (subject_ty == Type::StrList).then_some(Type::StrList),
            Op::Empty => (subject_ty == Type::StrList).then_some(Type::Bool),
        };
        let Some(expected) = expected else {
            self.error(
                value_node.span,
                &value_path,
                RuleErrorKind::OperatorType {
                    op: op.name(),
                    subject: subject_kind,
                    name: subject_name.to_string(),
                    ty: self.vocab.describe(subject_ty),
                },
            );
            return None;
        };
        let value = self.operand(value_node, &value_path, expected)?;
        if !self.check_one_of(value_node, &value_path, &subject, &value) {
            return None;
        }
        if op == Op::In {
            // Each listed text must be a valid value of the subject.
            if let (Type::Enum(id), Operand::Literal(Value::List(items))) = (subject_ty, &value) {
                for item in items.iter() {
                    if !self.vocab.names(id).contains(item) {
                        self.error(
                            value_node.span,
                            &value_path,
                            RuleErrorKind::TypeMismatch {
                                expected: self.vocab.with_article(subject_ty),
                                found: item.to_string(),
                            },
                        );
                        return None;
                    }
                }
            }
        }
        Some(Condition::Compare {
            subject,
            op,
            value,
            span: node.span,
        })
    }

    /// A literal, or `{ fact: NAME }` / `{ setting: NAME }` of the expected type.
    fn operand(&mut self, node: &Node, path: &str, expected: Type) -> Option<Operand> {
        if let NodeKind::Mapping(_) = node.kind {
            let fields = self.mapping(node, path, &["fact", "setting"], &[])?;
            let (operand, ty, span) = match (fields.get("fact"), fields.get("setting")) {
                (Some(n), None) => {
                    let (operand, ty, _) = self.fact_name(n, &join(path, "fact"))?;
                    (operand, ty, n.span)
                }
                (None, Some(n)) => {
                    let (setting, ty, _) = self.setting_name(n, &join(path, "setting"))?;
                    (Operand::Setting(setting), ty, n.span)
                }
                _ => {
                    self.error(node.span, path, RuleErrorKind::BadCondition);
                    return None;
                }
            };
            let compatible = ty == expected
                || (ty.is_text() && expected.is_text())
                || (matches!(ty, Type::Enum(_)) && expected == Type::Str);
            if !compatible {
                self.error(
                    span,
                    path,
                    RuleErrorKind::OperandTypes {
                        left: self.vocab.describe(expected),
                        right: self.vocab.describe(ty),
                    },
                );
                return None;
            }
            return Some(operand);
        }
        self.literal(node, path, expected).map(Operand::Literal)
    }

    /// A fact by name: a computed fact the policy declares, else a
    /// built-in one (the names of the v1 prelude's computed facts only when
    /// declared). Gives the operand, its type and its name.
    fn fact_name(&mut self, node: &Node, path: &str) -> Option<(Operand, Type, Arc<str>)> {
        let name = self.text(node, path)?;
        // A declared attribute or context value (`member.attributes.NAME`, …).
        if let Some(resolved) = self.attribute_ref(node, path, &name) {
            let (reference, ty) = resolved?;
            return Some((Operand::Attr(reference), ty, Arc::from(name)));
        }
        if let Some(found) = self.lookup_fact(&name) {
            return Some(found);
        }
        let suggestion = suggest(&name, self.fact_names());
        self.error(
            node.span,
            path,
            RuleErrorKind::UnknownFact { name, suggestion },
        );
        None
    }

    fn lookup_fact(&self, name: &str) -> Option<(Operand, Type, Arc<str>)> {
        if let Some(i) = self.computed.iter().position(|c| &**c == name) {
            let i = u16::try_from(i).ok()?;
            return Some((Operand::Computed(i), Type::Timestamp, Arc::from(name)));
        }
        let fact = Fact::from_name(name).filter(|f| !is_computed_name(*f))?;
        Some((Operand::Fact(fact), fact.ty(), Arc::from(name)))
    }

    /// Every fact name a rule may use here (for suggestions).
    fn fact_names(&self) -> Vec<&'static str> {
        Fact::ALL
            .iter()
            .filter(|f| !is_computed_name(**f) || self.computed.iter().any(|c| &**c == f.name()))
            .map(|f| f.name())
            .collect()
    }

    fn setting_name(&mut self, node: &Node, path: &str) -> Option<(SettingId, Type, Arc<str>)> {
        let name = self.text(node, path)?;
        let found = self.settings.iter().position(|(n, _)| **n == *name);
        if let Some((i, (declared, ty))) = found.and_then(|i| Some((i, self.settings.get(i)?))) {
            return Some((SettingId(u16::try_from(i).ok()?), *ty, declared.clone()));
        }
        let suggestion = suggest(&name, self.settings.iter().map(|(n, _)| &**n)).map(str::to_owned);
        self.error(
            node.span,
            path,
            RuleErrorKind::UnknownSetting { name, suggestion },
        );
        None
    }

    /// Text with `{fact.name}` and `{setting.NAME}` placeholders.
    fn template(&mut self, node: &Node, path: &str, name: &'static str) -> Option<Template> {
        let text = self.non_empty_text(node, path, name)?;
        let mut segments = Vec::new();
        let mut rest = text.as_str();
        let mut ok = true;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                segments.push(Segment::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                self.error(node.span, path, RuleErrorKind::UnclosedPlaceholder);
                return None;
            };
            let placeholder = after[..close].trim();
            let setting = placeholder.strip_prefix("setting.").and_then(|name| {
                let i = self.settings.iter().position(|(n, _)| &**n == name)?;
                Some(SettingId(u16::try_from(i).ok()?))
            });
            let fact = match self.lookup_fact(placeholder) {
                Some((Operand::Computed(i), _, _)) => Some(Segment::Computed(i)),
                Some((Operand::Fact(f), _, _)) => Some(Segment::Fact(f)),
                _ => None,
            };
            if let Some(segment) = fact {
                segments.push(segment);
            } else if let Some(resolved) = self.attribute_ref(node, path, placeholder) {
                match resolved {
                    Some((reference, _)) => segments.push(Segment::Attr(reference)),
                    None => ok = false,
                }
            } else if let Some(setting) = setting {
                segments.push(Segment::Setting(setting));
            } else {
                self.error(
                    node.span,
                    path,
                    RuleErrorKind::UnknownPlaceholder {
                        name: placeholder.to_owned(),
                    },
                );
                ok = false;
            }
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_owned()));
        }
        ok.then_some(Template(segments))
    }
}

/// The built-in names of the v1 prelude's computed facts: facts only where
/// the policy declares them as computed.
fn is_computed_name(fact: Fact) -> bool {
    matches!(
        fact,
        Fact::MemberRestorableUntil | Fact::MemberDeletionEndsBy
    )
}

/// Ids seen so far in one list, with the line each was first defined on.
struct IdSet {
    what: &'static str,
    seen: HashMap<String, usize>,
}

impl IdSet {
    fn new(what: &'static str) -> Self {
        IdSet {
            what,
            seen: HashMap::new(),
        }
    }
}
