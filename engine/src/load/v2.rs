//! Format `restore-rules/v2`: the policy declares its tiers, settings,
//! computed facts, catalogue, attributes and context (design §2, §3).
//! Rules (`requires`, `blockers`, `resources`) are read by the same code as
//! format v1, with `source:`, `code:`, `allow:` and `default:` admitted.

use std::collections::HashMap;
use std::sync::Arc;

use super::{join, Decoder, Fields};
use crate::declarations::Declarations;
use crate::error::RuleErrorKind;
use crate::model::{
    ComputedDecl, Delta, Format, Operand, PolicyFile, SettingDecl, SettingValues, TierDecl,
};
use crate::vocabulary::{suggest, Fact, SettingId, Type, Value};
use crate::yaml::{is_null, Node, NodeKind, Span};

/// Top-level keys of a v2 file.
const KEYS: &[&str] = &[
    "format",
    "policy",
    "version",
    "effective_from",
    "description",
    "tiers",
    "default_tier",
    "settings",
    "computed",
    "restorable_until",
    "attributes",
    "context",
    "catalogue",
    "requires",
    "blockers",
    "warnings",
    "resources",
];

const REQUIRED: &[&str] = &["format", "policy", "version", "effective_from", "tiers"];

/// The longest source reference, in characters.
pub const MAX_SOURCE_CHARS: usize = 512;

/// The longest text code, in characters.
pub const MAX_CODE_CHARS: usize = 128;

/// Whether `text` is an identifier: `^[a-z][a-z0-9_]{0,63}$`.
pub(super) fn is_identifier(text: &str) -> bool {
    crate::attributes::is_identifier(text)
}

impl Decoder {
    pub(super) fn policy_v2(&mut self, root: &Node, digest: Arc<str>) -> Option<PolicyFile> {
        self.v2 = true;
        // Nothing is declared until the file says so.
        self.settings.clear();
        self.computed.clear();
        let fields = self.mapping(root, "", KEYS, REQUIRED)?;
        let name = fields
            .get("policy")
            .and_then(|n| self.non_empty_text(n, "policy", "policy"));
        let version = fields
            .get("version")
            .and_then(|n| self.non_empty_text(n, "version", "version"));
        let effective_from = fields
            .get("effective_from")
            .and_then(|n| self.timestamp(n, "effective_from"));
        let description = fields
            .get("description")
            .and_then(|n| self.text(n, "description"));
        let settings = match fields.get("settings") {
            Some(n) => self.setting_decls(n),
            None => Some(Vec::new()),
        };
        let settings = settings?;
        let tiers = fields
            .get("tiers")
            .and_then(|n| self.declared_tiers(n, &settings));
        if let Some(tiers) = &tiers {
            let names: Vec<Arc<str>> = tiers.iter().map(|t| t.name.clone()).collect();
            self.vocab.set_tiers(&names);
        }
        let default_tier = match (fields.get("default_tier"), &tiers) {
            (Some(n), Some(tiers)) => self.default_tier(n, tiers).map(Some),
            (Some(_), None) => None,
            (None, _) => Some(None),
        };
        let computed = match fields.get("computed") {
            Some(n) => self.computed_decls(n),
            None => Some(Vec::new()),
        };
        let restorable_until = match fields.get("restorable_until") {
            Some(n) => self.restorable_until(n).map(Some),
            None => Some(None),
        };
        let catalogue = match fields.get("catalogue") {
            Some(n) => self.catalogue(n).map(Some),
            None => Some(None),
        };
        // Before the rules: their references resolve against these.
        let attributes = self.attributes_and_context(&fields);
        let requires = match fields.get("requires") {
            Some(n) => self.requires(n),
            None => Some(Vec::new()),
        };
        // Rule ids are unique across blockers and warnings together.
        let mut ids = super::IdSet::new("rule id");
        let blockers = match fields.get("blockers") {
            Some(n) => self.rules(n, "blockers", &mut ids, true),
            None => Some(Vec::new()),
        };
        let warnings = match fields.get("warnings") {
            Some(n) => self.rules(n, "warnings", &mut ids, false),
            None => Some(Vec::new()),
        };
        let resources = match fields.get("resources") {
            Some(n) => self.resources(n),
            None => Some(Vec::new()),
        };
        if let (Some(catalogue), Some(resources), Some(node)) =
            (&catalogue, &resources, fields.get("resources"))
        {
            self.check_catalogue(catalogue.as_deref(), resources, node);
        }
        Some(PolicyFile {
            file: self.file.clone(),
            digest,
            name: name?,
            version: version?,
            effective_from: effective_from?,
            description,
            settings,
            tiers: tiers?,
            default_tier: default_tier?,
            vocabulary: self.vocab.clone(),
            computed: computed?,
            restorable_until: restorable_until?,
            format: Format::V2,
            catalogue: catalogue?,
            attributes: attributes?,
            requires: requires?,
            blockers: blockers?,
            warnings: warnings?,
            resources: resources?,
            span: root.span,
        })
    }

    /// An identifier (tier, setting, catalogue entry).
    fn identifier(&mut self, node: &Node, path: &str) -> Option<Arc<str>> {
        let text = self.text(node, path)?;
        if !is_identifier(&text) {
            self.error(node.span, path, RuleErrorKind::BadIdentifier { name: text });
            return None;
        }
        Some(Arc::from(text))
    }

    /// `bool`, `integer`, `duration`, `timestamp`, `string`, `list`.
    pub(super) fn type_name(&mut self, node: &Node, path: &str) -> Option<Type> {
        let text = self.text(node, path)?;
        let ty = match text.as_str() {
            "bool" => Type::Bool,
            "integer" => Type::Int,
            "duration" => Type::Duration,
            "timestamp" => Type::Timestamp,
            "string" => Type::Str,
            "list" => Type::StrList,
            _ => {
                self.error(node.span, path, RuleErrorKind::UnknownType { name: text });
                return None;
            }
        };
        Some(ty)
    }

    /// `settings: NAME: { type, default?, doc? }`, in file order; makes
    /// them the settings rules may name.
    fn setting_decls(&mut self, node: &Node) -> Option<Vec<SettingDecl>> {
        let NodeKind::Mapping(entries) = &node.kind else {
            self.mapping(node, "settings", &[], &[]);
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (key, value) in entries {
            let Some(name) = key.as_scalar() else {
                ok = false;
                continue;
            };
            let path = join("settings", name);
            let Some(name) = self.identifier(key, &path) else {
                ok = false;
                continue;
            };
            if seen.insert(name.to_string(), key.span.line).is_some() {
                self.error(
                    key.span,
                    &path,
                    RuleErrorKind::DuplicateKey {
                        key: name.to_string(),
                    },
                );
                ok = false;
                continue;
            }
            let Some(fields) = self.mapping(value, &path, &["type", "default", "doc"], &["type"])
            else {
                ok = false;
                continue;
            };
            let Some(ty) = fields
                .get("type")
                .and_then(|n| self.type_name(n, &join(&path, "type")))
            else {
                ok = false;
                continue;
            };
            let default = match fields.get("default") {
                Some(n) => match self.literal(n, &join(&path, "default"), ty) {
                    Some(v) => Some(v),
                    None => {
                        ok = false;
                        continue;
                    }
                },
                None => None,
            };
            let doc = fields
                .get("doc")
                .and_then(|n| self.text(n, &join(&path, "doc")));
            out.push(SettingDecl {
                name,
                ty,
                default,
                doc,
                span: key.span,
            });
        }
        self.settings = out.iter().map(|s| (s.name.clone(), s.ty)).collect();
        ok.then_some(out)
    }

    /// `tiers:` whose keys declare the tiers; each value overrides settings.
    fn declared_tiers(&mut self, node: &Node, settings: &[SettingDecl]) -> Option<Vec<TierDecl>> {
        let NodeKind::Mapping(entries) = &node.kind else {
            self.mapping(node, "tiers", &[], &[]);
            return None;
        };
        if entries.is_empty() {
            self.error(node.span, "tiers", RuleErrorKind::NoTiers);
            return None;
        }
        let mut out: Vec<TierDecl> = Vec::new();
        let mut ok = true;
        for (key, value) in entries {
            let Some(name) = key.as_scalar() else {
                ok = false;
                continue;
            };
            let path = join("tiers", name);
            let Some(name) = self.identifier(key, &path) else {
                ok = false;
                continue;
            };
            if out.iter().any(|t| t.name == name) {
                self.error(
                    key.span,
                    &path,
                    RuleErrorKind::DuplicateKey {
                        key: name.to_string(),
                    },
                );
                ok = false;
                continue;
            }
            let overrides = if matches!(&value.kind, NodeKind::Scalar { text, quoted: false } if is_null(text))
            {
                Some(SettingValues::empty(settings.len()))
            } else {
                self.overrides(value, &path, settings)
            };
            let Some(overrides) = overrides else {
                ok = false;
                continue;
            };
            // A setting without default must be set by every tier.
            for (i, decl) in settings.iter().enumerate() {
                let id = SettingId(u16::try_from(i).unwrap_or(u16::MAX));
                if decl.default.is_none() && overrides.get(id).is_none() {
                    self.error(
                        key.span,
                        &path,
                        RuleErrorKind::SettingWithoutValue {
                            tier: name.to_string(),
                            setting: decl.name.to_string(),
                        },
                    );
                    ok = false;
                }
            }
            out.push(TierDecl {
                name,
                overrides,
                span: key.span,
            });
        }
        ok.then_some(out)
    }

    /// One tier's overrides: declared settings, typed by their declaration.
    fn overrides(
        &mut self,
        node: &Node,
        path: &str,
        settings: &[SettingDecl],
    ) -> Option<SettingValues> {
        let NodeKind::Mapping(entries) = &node.kind else {
            self.mapping(node, path, &[], &[]);
            return None;
        };
        let mut values = SettingValues::empty(settings.len());
        let mut ok = true;
        for (key, value) in entries {
            let Some(name) = key.as_scalar() else {
                ok = false;
                continue;
            };
            let value_path = join(path, name);
            let Some(i) = settings.iter().position(|s| &*s.name == name) else {
                let suggestion =
                    suggest(name, settings.iter().map(|s| &*s.name)).map(str::to_owned);
                self.error(
                    key.span,
                    &value_path,
                    RuleErrorKind::UnknownSetting {
                        name: name.to_owned(),
                        suggestion,
                    },
                );
                ok = false;
                continue;
            };
            let id = SettingId(u16::try_from(i).unwrap_or(u16::MAX));
            if values.get(id).is_some() {
                self.error(
                    key.span,
                    &value_path,
                    RuleErrorKind::DuplicateKey {
                        key: name.to_owned(),
                    },
                );
                ok = false;
                continue;
            }
            let ty = settings.get(i).map_or(Type::Bool, |s| s.ty);
            match self.literal(value, &value_path, ty) {
                Some(v) => values.set(id, v, value.span),
                None => ok = false,
            }
        }
        ok.then_some(values)
    }

    fn default_tier(&mut self, node: &Node, tiers: &[TierDecl]) -> Option<u16> {
        let name = self.text(node, "default_tier")?;
        match tiers.iter().position(|t| *t.name == *name) {
            Some(i) => u16::try_from(i).ok(),
            None => {
                let suggestion = suggest(&name, tiers.iter().map(|t| &*t.name)).map(str::to_owned);
                self.error(
                    node.span,
                    "default_tier",
                    RuleErrorKind::UndeclaredTier { name, suggestion },
                );
                None
            }
        }
    }

    /// `computed: NAME: { fact: BASE, plus|minus: DURATION | { setting } }`,
    /// each usable by the rules (and the next computed facts) once read.
    fn computed_decls(&mut self, node: &Node) -> Option<Vec<ComputedDecl>> {
        let NodeKind::Mapping(entries) = &node.kind else {
            self.mapping(node, "computed", &[], &[]);
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (key, value) in entries {
            let Some(name) = key.as_scalar() else {
                ok = false;
                continue;
            };
            let path = join("computed", name);
            let scoped = ["member.", "tenant.", "request."]
                .iter()
                .any(|p| name.strip_prefix(p).is_some_and(is_identifier));
            let builtin = Fact::from_name(name).is_some_and(|f| !super::is_computed_name(f));
            if !scoped || builtin || self.computed.iter().any(|c| &**c == name) {
                self.error(
                    key.span,
                    &path,
                    RuleErrorKind::BadComputedName {
                        name: name.to_owned(),
                    },
                );
                ok = false;
                continue;
            }
            let Some(fields) = self.mapping(value, &path, &["fact", "plus", "minus"], &["fact"])
            else {
                ok = false;
                continue;
            };
            let base = fields.get("fact").and_then(|n| {
                let base_path = join(&path, "fact");
                let (operand, _, _) = self.fact_name(n, &base_path)?;
                match operand {
                    Operand::Fact(f @ (Fact::MemberDeletedAt | Fact::EvaluationAt)) => Some(f),
                    _ => {
                        self.error(
                            n.span,
                            &base_path,
                            RuleErrorKind::TypeMismatch {
                                expected: "`member.deleted_at` or `evaluation.at`".into(),
                                found: n.as_scalar().unwrap_or_default().to_owned(),
                            },
                        );
                        None
                    }
                }
            });
            let (minus, delta_node) = match (fields.get("plus"), fields.get("minus")) {
                (Some(n), None) => (false, n),
                (None, Some(n)) => (true, n),
                _ => {
                    self.error(value.span, &path, RuleErrorKind::BadCondition);
                    ok = false;
                    continue;
                }
            };
            let delta_path = join(&path, if minus { "minus" } else { "plus" });
            let delta = match self.operand(delta_node, &delta_path, Type::Duration) {
                Some(Operand::Setting(id)) => Some(Delta::Setting(id)),
                Some(Operand::Literal(Value::Duration(d))) => Some(Delta::Literal(d)),
                Some(_) => {
                    self.error(
                        delta_node.span,
                        &delta_path,
                        RuleErrorKind::TypeMismatch {
                            expected: "a duration or `{ setting: NAME }`".into(),
                            found: delta_node.describe().to_owned(),
                        },
                    );
                    None
                }
                None => None,
            };
            let (Some(base), Some(delta)) = (base, delta) else {
                ok = false;
                continue;
            };
            let name: Arc<str> = Arc::from(name);
            self.computed.push(name.clone());
            out.push(ComputedDecl {
                name,
                base,
                minus,
                delta,
                span: key.span,
            });
        }
        ok.then_some(out)
    }

    /// `restorable_until: COMPUTED`: the computed fact the decision reports.
    fn restorable_until(&mut self, node: &Node) -> Option<u16> {
        let name = self.text(node, "restorable_until")?;
        match self.computed.iter().position(|c| **c == *name) {
            Some(i) => u16::try_from(i).ok(),
            None => {
                let suggestion = suggest(&name, Fact::ALL.iter().map(|f| f.name()));
                self.error(
                    node.span,
                    "restorable_until",
                    RuleErrorKind::UnknownFact { name, suggestion },
                );
                None
            }
        }
    }

    /// `catalogue: [NAME | { resource: NAME, doc }]`.
    fn catalogue(&mut self, node: &Node) -> Option<Vec<Arc<str>>> {
        let items = self.sequence(node, "catalogue")?;
        let mut out: Vec<Arc<str>> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("catalogue[{i}]");
            let name_node = if let NodeKind::Mapping(_) = item.kind {
                let Some(fields) = self.mapping(item, &path, &["resource", "doc"], &["resource"])
                else {
                    ok = false;
                    continue;
                };
                if let Some(doc) = fields.get("doc") {
                    ok &= self.text(doc, &join(&path, "doc")).is_some();
                }
                match fields.get("resource") {
                    Some(n) => n,
                    None => {
                        ok = false;
                        continue;
                    }
                }
            } else {
                item
            };
            let Some(name) = self.identifier(name_node, &path) else {
                ok = false;
                continue;
            };
            if out.contains(&name) {
                self.error(
                    name_node.span,
                    &path,
                    RuleErrorKind::DuplicateKey {
                        key: name.to_string(),
                    },
                );
                ok = false;
                continue;
            }
            out.push(name);
        }
        ok.then_some(out)
    }

    /// With a catalogue, every resource rule names an entry of it.
    fn check_catalogue(
        &mut self,
        catalogue: Option<&[Arc<str>]>,
        resources: &[crate::model::ResourceRule],
        node: &Node,
    ) {
        let Some(catalogue) = catalogue else { return };
        let items = match &node.kind {
            NodeKind::Sequence(items) => items.as_slice(),
            _ => &[],
        };
        for (i, rule) in resources.iter().enumerate() {
            if catalogue.contains(&rule.resource) {
                continue;
            }
            let span = items.get(i).map_or(rule.span, |n| n.span);
            let suggestion =
                suggest(&rule.resource, catalogue.iter().map(|c| &**c)).map(str::to_owned);
            self.error(
                span,
                &format!("resources[{i}].resource"),
                RuleErrorKind::NotInCatalogue {
                    name: rule.resource.to_string(),
                    suggestion,
                },
            );
        }
    }

    /// `attributes:` and `context:` (design §3.6): read by
    /// `load/declarations.rs` before the rules, so that their references
    /// resolve.
    fn attributes_and_context(&mut self, fields: &Fields<'_>) -> Option<Declarations> {
        self.declarations(fields.get("attributes"), fields.get("context"))
    }

    /// A rule's source reference. v1: `fact: F<n>`. v2: exactly one of
    /// `source:` and `fact:`, free text (`F2`, a URL, `vendor:section`).
    pub(super) fn source(
        &mut self,
        fields: &Fields<'_>,
        path: &str,
        span: Span,
    ) -> Option<Arc<str>> {
        if !self.v2 {
            return fields
                .get("fact")
                .and_then(|n| self.fact_ref(n, &join(path, "fact")));
        }
        let (node, key) = match (fields.get("source"), fields.get("fact")) {
            (Some(n), None) => (n, "source"),
            (None, Some(n)) => (n, "fact"),
            _ => {
                self.error(span, path, RuleErrorKind::SourceAndFact);
                return None;
            }
        };
        let key_path = join(path, key);
        let text = self.text(node, &key_path)?;
        let valid = !text.trim().is_empty()
            && text.chars().count() <= MAX_SOURCE_CHARS
            && !text.chars().any(char::is_control);
        if !valid {
            self.error(node.span, &key_path, RuleErrorKind::BadSource);
            return None;
        }
        Some(Arc::from(text))
    }

    /// `code:` an integer, or a text.
    pub(super) fn code(&mut self, node: &Node, path: &str) -> Option<crate::decision::Code> {
        use crate::decision::Code;
        let NodeKind::Scalar { text, quoted } = &node.kind else {
            self.error(node.span, path, RuleErrorKind::BadCode);
            return None;
        };
        if !quoted {
            if let Ok(n) = text.parse::<i64>() {
                return Some(Code::Int(n));
            }
        }
        let valid = !text.trim().is_empty()
            && text.chars().count() <= MAX_CODE_CHARS
            && !text.chars().any(char::is_control);
        if !valid {
            self.error(node.span, path, RuleErrorKind::BadCode);
            return None;
        }
        Some(Code::Text(Arc::from(text.as_str())))
    }

    /// `allow: [LINT]`: lint codes that apply to a rule.
    pub(super) fn allow(&mut self, node: &Node, path: &str) -> Option<Vec<Arc<str>>> {
        let items = self.sequence(node, path)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Some(code) = self.text(item, &item_path) else {
                ok = false;
                continue;
            };
            if !crate::lint::CODES.contains(&code.as_str()) {
                let suggestion = suggest(&code, crate::lint::CODES.iter().copied());
                self.error(
                    item.span,
                    &item_path,
                    RuleErrorKind::UnknownLint {
                        name: code,
                        suggestion,
                    },
                );
                ok = false;
                continue;
            }
            out.push(Arc::from(code));
        }
        ok.then_some(out)
    }
}
