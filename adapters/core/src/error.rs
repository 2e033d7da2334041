use restore_engine::excerpt::Excerpt;
use thiserror::Error;

use crate::{SnapshotError, UrlError};

/// Why a directory could not answer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DirectoryError {
    #[error("unknown tenant `{}`", Excerpt(.tenant))]
    UnknownTenant { tenant: String },
    #[error("no deleted member `{}` in tenant `{}`", Excerpt(.member), Excerpt(.tenant))]
    UnknownMember { tenant: String, member: String },
    #[error("actor `{}` is not an active member of tenant `{}`", Excerpt(.actor), Excerpt(.tenant))]
    UnknownActor { tenant: String, actor: String },
    #[error("a department is required to restore a member (F8)")]
    MissingDepartment,
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The policy could not decide on the facts read (nothing was written).
    #[error(transparent)]
    Evaluation(#[from] restore_engine::EvaluationError),
    /// A stored row breaks an invariant (unknown plan, negative seats, ...).
    #[error("bad row in `{table}` ({key}): {reason}")]
    BadRow {
        table: &'static str,
        key: String,
        reason: String,
    },
    /// The member was restored, or the seat taken, by someone else meanwhile.
    #[error("restore conflict: {0}")]
    Conflict(String),
    #[error("{0}")]
    Unsupported(String),
    /// An existing file or database that this adapter did not create (an
    /// empty file, another program's database): refused and left as it is.
    #[error("`{location}` is not a restore directory database: {reason}")]
    NotADirectory { location: String, reason: String },
    /// A write would take a count past what it can hold; nothing was written.
    #[error("tenant `{tenant}`: {what} would overflow; nothing was changed")]
    Overflow { tenant: String, what: String },
    /// The backend failed (connection, I/O, plugin). The source is printed
    /// by whoever prints the error chain, so it is not repeated here.
    #[error("{context}")]
    Backend {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl DirectoryError {
    /// A backend failure with what was being done.
    pub fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        DirectoryError::Backend {
            context: context.into(),
            source: source.into(),
        }
    }

    /// True when the caller gave bad input (exit code 2), as opposed to a
    /// backend failure.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, DirectoryError::Backend { .. })
    }
}
