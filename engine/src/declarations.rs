//! Attributes and request context (docs/rule-language-next.md §3.6):
//! typed declarations in the policy, references in conditions and
//! templates, and the binding of stored (untyped) values to the declared
//! types at evaluation.
//!
//! A policy declares `attributes: { tenant | member | actor: NAME: decl }`
//! and `context: NAME: decl`, where `decl = { type, one_of?, default? |
//! required: true, doc? }`. Rules read them as `tenant.attributes.NAME`,
//! `member.attributes.NAME`, `actor.attributes.NAME` and
//! `request.context.NAME`. Values come untyped ([`AttrValue`]) from the
//! directory or the caller; the declaration types them when a decision is
//! made, and a value that is missing without default, or does not fit its
//! declaration, makes the decision an [`EvaluationError`] that names it but
//! never echoes the value.

use std::sync::Arc;

use chrono::TimeDelta;
use thiserror::Error;

use crate::error::EvaluationError;
use crate::evaluate::View;
use crate::excerpt::Excerpt;
use crate::facts::{AttrValue, Attributes, Facts, Request};
use crate::timestamp::parse_timestamp;
use crate::vocabulary::{parse_duration, suggest, Type, Value};
use crate::yaml::Span;

/// Where an attribute or context value is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `tenant.attributes.NAME`: the tenant's attributes.
    Tenant,
    /// `member.attributes.NAME`: the deleted member's attributes.
    Member,
    /// `actor.attributes.NAME`: the acting member's (active record) attributes.
    Actor,
    /// `request.context.NAME`: values the caller gives with the request.
    Context,
}

impl Scope {
    /// Every scope, in binding order.
    pub const ALL: [Scope; 4] = [Scope::Tenant, Scope::Member, Scope::Actor, Scope::Context];

    /// What references in this scope start with, e.g. `member.attributes.`.
    pub fn prefix(self) -> &'static str {
        match self {
            Scope::Tenant => "tenant.attributes.",
            Scope::Member => "member.attributes.",
            Scope::Actor => "actor.attributes.",
            Scope::Context => "request.context.",
        }
    }

    /// The key declaring this scope in a rule file (`attributes.member`, `context`).
    pub fn declared_at(self) -> &'static str {
        match self {
            Scope::Tenant => "attributes.tenant",
            Scope::Member => "attributes.member",
            Scope::Actor => "attributes.actor",
            Scope::Context => "context",
        }
    }

    fn position(self) -> usize {
        match self {
            Scope::Tenant => 0,
            Scope::Member => 1,
            Scope::Actor => 2,
            Scope::Context => 3,
        }
    }

    /// The scope a reference names, and the rest of the reference (the
    /// attribute's name), e.g. `member.attributes.legal_hold`.
    pub fn split(reference: &str) -> Option<(Scope, &str)> {
        Scope::ALL
            .into_iter()
            .find_map(|scope| Some((scope, reference.strip_prefix(scope.prefix())?)))
    }
}

/// One declared attribute or context value.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrDecl {
    pub name: Arc<str>,
    /// One of bool, integer, duration, timestamp, string, list of strings.
    pub ty: Type,
    /// For strings: the values allowed.
    pub one_of: Option<Arc<[Arc<str>]>>,
    /// Taken when the value is absent; `None`: `required: true`.
    pub default: Option<Value>,
    pub doc: Option<String>,
    pub span: Span,
}

impl AttrDecl {
    /// The declared type in "expected …" wording.
    pub fn expected(&self) -> String {
        match &self.one_of {
            Some(names) => format!("one of {}", join(names)),
            None => match self.ty {
                Type::Duration => "a duration such as `30d`".into(),
                Type::Timestamp => "an RFC 3339 timestamp with a zone".into(),
                Type::StrList => "a list of strings".into(),
                Type::Int => "an integer".into(),
                ty => format!("a {ty}"),
            },
        }
    }
}

fn join(names: &[Arc<str>]) -> String {
    let mut out = String::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(" | ");
        }
        out.push_str(name);
    }
    out
}

/// Every declaration of a policy, per scope, each scope sorted by name
/// (names are unique within a scope).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Declarations {
    scopes: [Box<[AttrDecl]>; 4],
}

/// A reference to one declaration: its scope and position there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttrRef {
    pub scope: Scope,
    pub index: u16,
}

impl Declarations {
    /// Declarations of `scope`; sorts them by name. Names must be unique
    /// (the loader checks).
    pub fn set(&mut self, scope: Scope, mut decls: Vec<AttrDecl>) {
        decls.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(slot) = self.scopes.get_mut(scope.position()) {
            *slot = decls.into();
        }
    }

    pub fn scope(&self, scope: Scope) -> &[AttrDecl] {
        self.scopes.get(scope.position()).map_or(&[], |d| &d[..])
    }

    pub fn is_empty(&self) -> bool {
        self.scopes.iter().all(|s| s.is_empty())
    }

    /// The declaration `reference` names.
    pub fn get(&self, reference: AttrRef) -> Option<&AttrDecl> {
        self.scope(reference.scope)
            .get(usize::from(reference.index))
    }

    /// Resolves `scope` + `name`.
    pub fn find(&self, scope: Scope, name: &str) -> Option<AttrRef> {
        let decls = self.scope(scope);
        let index = decls.binary_search_by(|d| (*d.name).cmp(name)).ok()?;
        Some(AttrRef {
            scope,
            index: u16::try_from(index).ok()?,
        })
    }

    /// Resolves a full reference such as `member.attributes.legal_hold`:
    /// `None` when it names no scope, else the declaration or an error
    /// with a suggestion from the scope's declared names.
    pub fn resolve(&self, reference: &str) -> Option<Result<AttrRef, UnknownAttribute>> {
        let (scope, name) = Scope::split(reference)?;
        Some(self.find(scope, name).ok_or_else(|| {
            UnknownAttribute {
                name: reference.to_owned(),
                declared_at: scope.declared_at(),
                suggestion: suggest(name, self.scope(scope).iter().map(|d| &*d.name))
                    .map(|s| format!("{}{s}", scope.prefix())),
            }
        }))
    }

    /// `tenant.attributes.NAME` etc. for a reference.
    pub fn name(&self, reference: AttrRef) -> String {
        let name = self.get(reference).map_or("?", |d| &d.name);
        format!("{}{name}", reference.scope.prefix())
    }

    /// Dense number of a reference over all scopes in order (tenant,
    /// member, actor, context; each by name): sorting by it sorts by scope,
    /// then name.
    pub(crate) fn global(&self, reference: AttrRef) -> usize {
        let before: usize = Scope::ALL
            .iter()
            .take_while(|s| **s != reference.scope)
            .map(|s| self.scope(*s).len())
            .sum();
        before + usize::from(reference.index)
    }

    /// The reference with dense number `global` (see [`Self::global`]).
    pub(crate) fn by_global(&self, mut global: usize) -> Option<AttrRef> {
        for scope in Scope::ALL {
            let len = self.scope(scope).len();
            if global < len {
                return Some(AttrRef {
                    scope,
                    index: u16::try_from(global).ok()?,
                });
            }
            global -= len;
        }
        None
    }
}

/// A reference to an attribute or context value nobody declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAttribute {
    pub name: String,
    pub declared_at: &'static str,
    pub suggestion: Option<String>,
}

/// One value the compiled tier binds before its conditions run.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub(crate) reference: AttrRef,
    /// `member.attributes.NAME`, for errors and explain.
    pub(crate) full_name: Arc<str>,
    pub(crate) decl: AttrDecl,
}

/// The stored object of a scope, if any.
fn object<'a>(facts: &'a Facts, request: &'a Request, scope: Scope) -> Option<&'a Attributes> {
    match scope {
        Scope::Tenant => Some(&facts.tenant.attributes),
        Scope::Member => Some(&facts.member.attributes),
        Scope::Actor => facts.actor.as_ref().map(|a| &a.attributes),
        Scope::Context => Some(&request.context),
    }
}

/// The stored value a binding reads, if present.
pub(crate) fn stored<'a>(
    facts: &'a Facts,
    request: &'a Request,
    binding: &Binding,
) -> Option<&'a AttrValue> {
    object(facts, request, binding.reference.scope)?.get(&binding.decl.name)
}

/// Binds one value: the stored one typed by the declaration, else the
/// default, else a [`EvaluationError::MissingValue`].
pub(crate) fn bind<'a>(
    binding: &'a Binding,
    value: Option<&'a AttrValue>,
    policy: &Arc<str>,
) -> Result<View<'a>, EvaluationError> {
    let decl = &binding.decl;
    let Some(value) = value else {
        return match &decl.default {
            Some(default) => Ok(default.as_view()),
            None => Err(EvaluationError::MissingValue {
                name: binding.full_name.to_string(),
                policy: policy.clone(),
            }),
        };
    };
    let bad = || EvaluationError::BadValue {
        name: binding.full_name.to_string(),
        found: value.kind(),
        expected: decl.expected(),
    };
    Ok(match (decl.ty, value) {
        (Type::Bool, AttrValue::Bool(b)) => View::Bool(*b),
        (Type::Int, AttrValue::Int(i)) => View::Int(*i),
        (Type::Duration, AttrValue::Str(s)) => {
            View::Duration(read_duration(s).ok_or_else(|| EvaluationError::BadValue {
                name: binding.full_name.to_string(),
                found: "a string that is not a duration",
                expected: decl.expected(),
            })?)
        }
        (Type::Timestamp, AttrValue::Str(s)) => {
            View::Timestamp(parse_timestamp(s).map_err(|_| EvaluationError::BadValue {
                name: binding.full_name.to_string(),
                found: "a string that is not an RFC 3339 timestamp with a zone",
                expected: decl.expected(),
            })?)
        }
        (Type::Str | Type::Enum(_), AttrValue::Str(s)) => {
            if let Some(allowed) = &decl.one_of {
                if !allowed.iter().any(|a| **a == **s) {
                    return Err(EvaluationError::BadValue {
                        name: binding.full_name.to_string(),
                        found: "a string outside the declared values",
                        expected: decl.expected(),
                    });
                }
            }
            View::Str(s)
        }
        (Type::StrList, AttrValue::List(items)) => View::Shared(items),
        _ => return Err(bad()),
    })
}

/// A duration as stored (`30d`, `1d12h`; `unlimited` as soon as the
/// vocabulary's `parse_duration` reads it).
fn read_duration(text: &str) -> Option<TimeDelta> {
    parse_duration(text).ok()
}

/// Why a `--context NAME=VALUE` (or a JSON request's `context`) was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ContextError {
    #[error("context `{}` is not declared by policy `{policy}`{}", Excerpt(.name), declared_hint(.declared, .suggestion))]
    Undeclared {
        name: String,
        policy: String,
        /// The declared names, comma-separated (empty: none).
        declared: String,
        suggestion: Option<String>,
    },
    #[error("context `{name}`: expected {expected}")]
    BadValue { name: String, expected: String },
    #[error("expected `NAME=VALUE`, found `{}`", Excerpt(.text))]
    Shape { text: String },
}

fn declared_hint(declared: &str, suggestion: &Option<String>) -> String {
    let mut out = String::new();
    if let Some(s) = suggestion {
        out.push_str(&format!("; did you mean `{s}`?"));
    }
    if declared.is_empty() {
        out.push_str(" (it declares no context)");
    } else {
        out.push_str(&format!(" (declared: {declared})"));
    }
    out
}

impl Declarations {
    fn undeclared(&self, name: &str, policy: &str) -> ContextError {
        let declared = self.scope(Scope::Context);
        ContextError::Undeclared {
            name: name.to_owned(),
            policy: policy.to_owned(),
            declared: declared
                .iter()
                .map(|d| &*d.name)
                .collect::<Vec<_>>()
                .join(", "),
            suggestion: suggest(name, declared.iter().map(|d| &*d.name)).map(str::to_owned),
        }
    }

    /// Parses one `--context` value by its declared type: `true`/`false`,
    /// an integer, a duration (incl. `unlimited`), an RFC 3339 timestamp
    /// with zone, raw text (checked against `one_of`), or a JSON array of
    /// strings for lists. Durations and timestamps are kept as text, as in
    /// storage, and typed again at evaluation.
    pub fn parse_context(
        &self,
        policy: &str,
        name: &str,
        raw: &str,
    ) -> Result<(Arc<str>, AttrValue), ContextError> {
        let reference = self
            .find(Scope::Context, name)
            .ok_or_else(|| self.undeclared(name, policy))?;
        let Some(decl) = self.get(reference) else {
            return Err(self.undeclared(name, policy));
        };
        let bad = || ContextError::BadValue {
            name: decl.name.to_string(),
            expected: decl.expected(),
        };
        let value = match decl.ty {
            Type::Bool => match raw {
                "true" => AttrValue::Bool(true),
                "false" => AttrValue::Bool(false),
                _ => return Err(bad()),
            },
            Type::Int => AttrValue::Int(raw.parse().map_err(|_| bad())?),
            Type::Duration => {
                read_duration(raw).ok_or_else(bad)?;
                AttrValue::Str(Arc::from(raw))
            }
            Type::Timestamp => {
                parse_timestamp(raw).map_err(|_| bad())?;
                AttrValue::Str(Arc::from(raw))
            }
            Type::Str | Type::Enum(_) => {
                if let Some(allowed) = &decl.one_of {
                    if !allowed.iter().any(|a| **a == *raw) {
                        return Err(bad());
                    }
                }
                AttrValue::Str(Arc::from(raw))
            }
            Type::StrList => {
                let items: Vec<String> = serde_json::from_str(raw).map_err(|_| bad())?;
                AttrValue::List(items.into_iter().map(Arc::from).collect())
            }
        };
        Ok((decl.name.clone(), value))
    }

    /// Checks that every name of a request's `context` is declared (the
    /// values are typed at evaluation, like stored attributes).
    pub fn check_context(&self, policy: &str, context: &Attributes) -> Result<(), ContextError> {
        for (name, _) in context.iter() {
            if self.find(Scope::Context, name).is_none() {
                return Err(self.undeclared(name, policy));
            }
        }
        Ok(())
    }
}

impl crate::CompiledPolicy {
    /// The policy's attribute and context declarations.
    pub fn declarations(&self) -> &Declarations {
        &self.source.attributes
    }

    /// Whether the policy declares the context value `name`.
    pub fn declares_context(&self, name: &str) -> bool {
        self.declarations().find(Scope::Context, name).is_some()
    }

    /// Parses a `--context NAME=VALUE` value by the declared type (see
    /// [`Declarations::parse_context`]).
    pub fn parse_context(
        &self,
        name: &str,
        raw: &str,
    ) -> Result<(Arc<str>, AttrValue), ContextError> {
        self.declarations().parse_context(self.name(), name, raw)
    }

    /// Checks that a request's context names only declared values.
    pub fn check_context(&self, context: &Attributes) -> Result<(), ContextError> {
        self.declarations().check_context(self.name(), context)
    }
}
