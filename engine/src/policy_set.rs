//! Several policies and versions side by side; picking the one in force.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::compile::CompiledPolicy;
use crate::error::{LoadError, RuleDiagnostic, RuleErrorKind};
use crate::load::load_policy_file;
use crate::source::{read_text_file, Limit};
use crate::vocabulary::format_timestamp;

/// Every compiled version of every policy in a rules directory.
#[derive(Debug, Clone)]
pub struct PolicySet {
    /// Sorted by name, then effective date.
    policies: Vec<CompiledPolicy>,
}

/// Why no policy version could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SelectError {
    #[error("no policy named `{name}`; known: {known}")]
    UnknownPolicy { name: String, known: String },
    #[error("several policies are loaded ({known}); pick one with --policy")]
    AmbiguousPolicy { known: String },
    #[error("policy `{policy}` has no version `{version}`; known: {known}")]
    UnknownVersion {
        policy: String,
        version: String,
        known: String,
    },
    #[error("no version of policy `{policy}` is in force at {at}; the earliest takes effect at {earliest}")]
    NotInForce {
        policy: String,
        at: String,
        earliest: String,
    },
}

impl PolicySet {
    /// Loads every `*.yaml` / `*.yml` file under `dir` (recursively, in path
    /// order), reporting all errors of all files at once. Each file is read
    /// with [`Limit::rule_file`] (`RESTORECTL_MAX_RULE_FILE_BYTES`).
    pub fn load_dir(dir: &Path) -> Result<PolicySet, LoadError> {
        let limit = Limit::rule_file().map_err(|e| io_error(dir, e.to_string()))?;
        PolicySet::load_dir_with_limit(dir, limit)
    }

    /// [`PolicySet::load_dir`] with an explicit size limit per file.
    ///
    /// The walk follows links to folders but refuses to enter a folder twice
    /// (`ln -s . a` would loop), goes at most [`MAX_RULE_DEPTH`] folders deep
    /// and reads at most [`MAX_RULE_FILES`] files; only regular files are read.
    pub fn load_dir_with_limit(dir: &Path, limit: Limit) -> Result<PolicySet, LoadError> {
        let mut walk = Walk::default();
        walk.collect(dir, 0)
            .map_err(|(path, message)| io_error(&path, message))?;
        if walk.files.is_empty() {
            return Err(io_error(dir, "no rule files (*.yaml, *.yml) found".into()));
        }
        let mut sources = Vec::with_capacity(walk.files.len());
        for path in walk.files {
            let text = read_text_file(&path, limit).map_err(|e| io_error(&path, e.to_string()))?;
            sources.push((path.display().to_string(), text));
        }
        PolicySet::from_sources(sources.iter().map(|(f, t)| (f.as_str(), t.as_str())))
    }

    /// Loads rule files given as `(file name, text)`.
    pub fn from_sources<'s>(
        sources: impl IntoIterator<Item = (&'s str, &'s str)>,
    ) -> Result<PolicySet, LoadError> {
        let mut diagnostics = Vec::new();
        let mut policies = Vec::new();
        for (file, text) in sources {
            // A byte-order mark is legal at the start of a YAML file.
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            match load_policy_file(file, text) {
                Ok(policy) => policies.push(CompiledPolicy::compile(policy)),
                Err(e) => diagnostics.extend(e.diagnostics),
            }
        }
        policies.sort_by(|a, b| {
            (a.name(), a.effective_from(), a.file()).cmp(&(b.name(), b.effective_from(), b.file()))
        });
        diagnostics.extend(version_conflicts(&policies));
        if diagnostics.is_empty() {
            Ok(PolicySet { policies })
        } else {
            Err(LoadError { diagnostics })
        }
    }

    /// All loaded versions, by name then effective date.
    pub fn policies(&self) -> &[CompiledPolicy] {
        &self.policies
    }

    /// The version to evaluate with: `version` if pinned, else the latest
    /// whose effective date is at or before `at`. `name` may be omitted when
    /// only one policy is loaded.
    pub fn select(
        &self,
        name: Option<&str>,
        version: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<&CompiledPolicy, SelectError> {
        let mut names: Vec<&str> = self.policies.iter().map(|p| p.name()).collect();
        names.dedup();
        let known = names.join(", ");
        let name = match name {
            Some(name) if names.contains(&name) => name,
            Some(name) => {
                return Err(SelectError::UnknownPolicy {
                    name: name.to_owned(),
                    known,
                })
            }
            None => match *names.as_slice() {
                [only] => only,
                _ => return Err(SelectError::AmbiguousPolicy { known }),
            },
        };
        let versions: Vec<&CompiledPolicy> =
            self.policies.iter().filter(|p| p.name() == name).collect();
        if let Some(version) = version {
            return versions
                .iter()
                .find(|p| p.version() == version)
                .copied()
                .ok_or_else(|| SelectError::UnknownVersion {
                    policy: name.to_owned(),
                    version: version.to_owned(),
                    known: versions
                        .iter()
                        .map(|p| p.version())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
        }
        versions
            .iter()
            .rev()
            .find(|p| p.effective_from() <= at)
            .copied()
            .ok_or_else(|| SelectError::NotInForce {
                policy: name.to_owned(),
                at: format_timestamp(at),
                earliest: versions
                    .first()
                    .map(|p| format_timestamp(p.effective_from()))
                    .unwrap_or_default(),
            })
    }
}

/// How deep a rules folder may nest.
pub const MAX_RULE_DEPTH: usize = 32;
/// How many rule files one load reads at most.
pub const MAX_RULE_FILES: usize = 10_000;

fn io_error(file: &Path, message: String) -> LoadError {
    LoadError {
        diagnostics: vec![RuleDiagnostic {
            file: Arc::from(file.display().to_string()),
            span: Default::default(),
            path: String::new(),
            kind: RuleErrorKind::Io(message),
        }],
    }
}

/// The rule files under a folder, and the folders already entered.
#[derive(Default)]
struct Walk {
    files: Vec<PathBuf>,
    /// Folders entered, by identity, so that a link back cannot loop.
    seen: HashSet<FolderId>,
}

type WalkError = (PathBuf, String);

impl Walk {
    fn collect(&mut self, dir: &Path, depth: usize) -> Result<(), WalkError> {
        let failed = |e: std::io::Error| (dir.to_owned(), e.to_string());
        if depth > MAX_RULE_DEPTH {
            return Err((
                dir.to_owned(),
                format!("rules folders nest deeper than {MAX_RULE_DEPTH} levels"),
            ));
        }
        let metadata = std::fs::metadata(dir).map_err(failed)?;
        if !self.seen.insert(folder_id(dir, &metadata)) {
            return Err((
                dir.to_owned(),
                "this folder was already read (a link back to a parent folder, or a second link to one); remove the link".into(),
            ));
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(failed)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(failed)?;
        entries.sort();
        for path in entries {
            // Follows links; a dangling link is reported when read, if it
            // names a rule file, and ignored otherwise.
            let is_dir = std::fs::metadata(&path).is_ok_and(|m| m.is_dir());
            if is_dir {
                self.collect(&path, depth + 1)?;
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                if self.files.len() >= MAX_RULE_FILES {
                    return Err((
                        dir.to_owned(),
                        format!("more than {MAX_RULE_FILES} rule files"),
                    ));
                }
                self.files.push(path);
            }
        }
        Ok(())
    }
}

/// A folder's identity: device and inode on Unix; elsewhere its canonical path.
#[cfg(unix)]
type FolderId = (u64, u64);
#[cfg(not(unix))]
type FolderId = PathBuf;

#[cfg(unix)]
fn folder_id(_: &Path, metadata: &std::fs::Metadata) -> FolderId {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(not(unix))]
fn folder_id(dir: &Path, _: &std::fs::Metadata) -> FolderId {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned())
}

/// Two files with the same policy and version, or the same effective date:
/// which one is in force would be ambiguous.
fn version_conflicts(policies: &[CompiledPolicy]) -> Vec<RuleDiagnostic> {
    let mut out = Vec::new();
    let mut by_version: HashMap<(&str, &str), &CompiledPolicy> = HashMap::new();
    for policy in policies {
        if let Some(first) = by_version.insert((policy.name(), policy.version()), policy) {
            out.push(RuleDiagnostic {
                file: Arc::from(policy.file()),
                span: policy.source().span,
                path: "version".into(),
                kind: RuleErrorKind::DuplicateVersion {
                    policy: policy.name().to_owned(),
                    version: policy.version().to_owned(),
                    other_file: first.file().to_owned(),
                },
            });
        }
    }
    // Each policy with the next one.
    for (a, b) in policies.iter().zip(policies.iter().skip(1)) {
        if a.name() == b.name()
            && a.effective_from() == b.effective_from()
            && a.version() != b.version()
        {
            out.push(RuleDiagnostic {
                file: Arc::from(b.file()),
                span: b.source().span,
                path: "effective_from".into(),
                kind: RuleErrorKind::SameEffectiveDate {
                    policy: b.name().to_owned(),
                    first: a.version().to_owned(),
                    second: b.version().to_owned(),
                    date: format_timestamp(b.effective_from()),
                },
            });
        }
    }
    out
}
