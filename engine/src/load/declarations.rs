//! Loading `attributes:` and `context:` declarations, and resolving
//! references to them in conditions and templates (§3.6 of
//! docs/rule-language-next.md).

use std::collections::HashMap;
use std::sync::Arc;

use super::{join, Decoder};
use crate::declarations::{AttrDecl, AttrRef, Declarations, Scope};
use crate::error::RuleErrorKind;
use crate::model::Operand;
use crate::vocabulary::{Type, Value};
use crate::yaml::{is_null, Node, NodeKind};

/// Type names a declaration may use.
const TYPES: &[(&str, Type)] = &[
    ("bool", Type::Bool),
    ("integer", Type::Int),
    ("duration", Type::Duration),
    ("timestamp", Type::Timestamp),
    ("string", Type::Str),
    ("list", Type::StrList),
];

/// `^[a-z][a-z0-9_]{0,63}$`.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && name.len() <= 64
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

impl Decoder {
    /// The `attributes:` and `context:` sections (either may be absent).
    /// Sets the declarations that later references resolve against.
    pub(super) fn declarations(
        &mut self,
        attributes: Option<&Node>,
        context: Option<&Node>,
    ) -> Option<Declarations> {
        let mut decls = Declarations::default();
        let mut ok = true;
        if let Some(node) = attributes {
            if !matches!(&node.kind, NodeKind::Scalar { text, quoted: false } if is_null(text)) {
                match self.mapping(node, "attributes", &["tenant", "member", "actor"], &[]) {
                    Some(fields) => {
                        for (key, scope) in [
                            ("tenant", Scope::Tenant),
                            ("member", Scope::Member),
                            ("actor", Scope::Actor),
                        ] {
                            if let Some(n) = fields.get(key) {
                                match self.scope_decls(n, scope) {
                                    Some(list) => decls.set(scope, list),
                                    None => ok = false,
                                }
                            }
                        }
                    }
                    None => ok = false,
                }
            }
        }
        if let Some(node) = context {
            match self.scope_decls(node, Scope::Context) {
                Some(list) => decls.set(Scope::Context, list),
                None => ok = false,
            }
        }
        // Resolve what can be resolved even after an error, so that one
        // bad declaration does not also report every reference to others.
        self.attributes = decls.clone();
        ok.then_some(decls)
    }

    fn scope_decls(&mut self, node: &Node, scope: Scope) -> Option<Vec<AttrDecl>> {
        let path = scope.declared_at();
        if matches!(&node.kind, NodeKind::Scalar { text, quoted: false } if is_null(text)) {
            return Some(Vec::new());
        }
        let NodeKind::Mapping(entries) = &node.kind else {
            self.mapping(node, path, &[], &[]);
            return None;
        };
        let mut out = Vec::with_capacity(entries.len());
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut ok = true;
        for (key, value) in entries {
            let Some(name) = key.as_scalar() else {
                self.mapping(node, path, &[], &[]);
                ok = false;
                continue;
            };
            let decl_path = join(path, name);
            if !is_identifier(name) {
                self.error(
                    key.span,
                    &decl_path,
                    RuleErrorKind::BadName {
                        what: "name",
                        name: name.to_owned(),
                    },
                );
                ok = false;
                continue;
            }
            if let Some(first_line) = seen.insert(name, key.span.line) {
                self.error(
                    key.span,
                    &decl_path,
                    RuleErrorKind::DuplicateId {
                        what: "declaration",
                        id: name.to_owned(),
                        first_line,
                    },
                );
                ok = false;
                continue;
            }
            match self.decl(name, value, &decl_path, scope) {
                Some(decl) => out.push(decl),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// `{ type, one_of?, default? | required: true, doc? }`.
    fn decl(&mut self, name: &str, node: &Node, path: &str, scope: Scope) -> Option<AttrDecl> {
        const KEYS: &[&str] = &["type", "one_of", "default", "required", "doc"];
        let fields = self.mapping(node, path, KEYS, &["type"])?;
        let type_node = fields.get("type")?;
        let type_name = self.text(type_node, &join(path, "type"))?;
        let Some(ty) = TYPES.iter().find(|(n, _)| *n == type_name).map(|(_, t)| *t) else {
            self.error(
                type_node.span,
                &join(path, "type"),
                RuleErrorKind::UnknownType { name: type_name },
            );
            return None;
        };
        let one_of = match fields.get("one_of") {
            None => None,
            Some(n) if ty != Type::Str => {
                self.error(
                    n.span,
                    &join(path, "one_of"),
                    RuleErrorKind::OneOfNeedsString,
                );
                return None;
            }
            Some(n) => match self.literal(n, &join(path, "one_of"), Type::StrList)? {
                Value::List(items) if !items.is_empty() => Some(items),
                _ => {
                    self.error(
                        n.span,
                        &join(path, "one_of"),
                        RuleErrorKind::EmptyText { name: "one_of" },
                    );
                    return None;
                }
            },
        };
        let required = match fields.get("required") {
            None => false,
            Some(n) => match self.literal(n, &join(path, "required"), Type::Bool)? {
                Value::Bool(b) => b,
                _ => return None,
            },
        };
        let default = match fields.get("default") {
            None => None,
            Some(n) => {
                let value = self.literal(n, &join(path, "default"), ty)?;
                if let (Some(allowed), Value::Str(text)) = (&one_of, &value) {
                    if !allowed.contains(text) {
                        self.error(
                            n.span,
                            &join(path, "default"),
                            RuleErrorKind::NotOneOf {
                                value: text.to_string(),
                                allowed: join_names(allowed),
                            },
                        );
                        return None;
                    }
                }
                Some(value)
            }
        };
        if required == default.is_some() {
            self.error(node.span, path, RuleErrorKind::DefaultOrRequired);
            return None;
        }
        if scope == Scope::Actor && default.is_none() {
            self.error(node.span, path, RuleErrorKind::ActorAttributeRequired);
            return None;
        }
        let doc = match fields.get("doc") {
            Some(n) => Some(self.text(n, &join(path, "doc"))?),
            None => None,
        };
        Some(AttrDecl {
            name: Arc::from(name),
            ty,
            one_of,
            default,
            doc,
            span: node.span,
        })
    }

    /// An attribute or context reference, if `name` names one of the
    /// scopes: `Some(None)` after reporting an undeclared name.
    pub(super) fn attribute_ref(
        &mut self,
        node: &Node,
        path: &str,
        name: &str,
    ) -> Option<Option<(AttrRef, Type)>> {
        let resolved = self.attributes.resolve(name)?;
        Some(match resolved {
            Ok(reference) => {
                let ty = self.attributes.get(reference).map_or(Type::Str, |d| d.ty);
                Some((reference, ty))
            }
            Err(unknown) => {
                self.error(
                    node.span,
                    path,
                    RuleErrorKind::UnknownAttribute {
                        name: unknown.name,
                        declared_at: unknown.declared_at,
                        suggestion: unknown.suggestion,
                    },
                );
                None
            }
        })
    }

    /// Checks literal texts compared with a `one_of` attribute against its
    /// declared values (`is`, `is_not`, and each entry of `in`).
    /// False after reporting a text outside the declared values.
    pub(super) fn check_one_of(
        &mut self,
        node: &Node,
        path: &str,
        subject: &Operand,
        value: &Operand,
    ) -> bool {
        let Operand::Attr(reference) = subject else {
            return true;
        };
        let Some(allowed) = self
            .attributes
            .get(*reference)
            .and_then(|d| d.one_of.clone())
        else {
            return true;
        };
        let texts: Vec<Arc<str>> = match value {
            Operand::Literal(Value::Str(s)) => vec![s.clone()],
            Operand::Literal(Value::List(items)) => items.to_vec(),
            _ => return true,
        };
        for text in texts {
            if !allowed.contains(&text) {
                self.error(
                    node.span,
                    path,
                    RuleErrorKind::NotOneOf {
                        value: text.to_string(),
                        allowed: join_names(&allowed),
                    },
                );
                return false;
            }
        }
        true
    }
}

fn join_names(names: &[Arc<str>]) -> String {
    names.iter().map(|n| &**n).collect::<Vec<_>>().join(" | ")
}
