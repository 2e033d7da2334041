//! Snapshot invariants serde cannot express. Every adapter's import and the
//! memory adapter validate through here, so SQLite, PostgreSQL and the
//! plugins see the same data.

use std::collections::HashSet;

use restore_engine::excerpt::{needs_escape, Excerpt};
use restore_engine::vocabulary::{suggest, KNOWN_RESOURCES};

use super::{Snapshot, SnapshotError, SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_V2};

/// The longest id (tenant, member, item) in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// The longest other text (email, phone, role, department) in bytes.
pub const MAX_TEXT_BYTES: usize = 1024;
/// The largest seat count: far above any real tenant, and far enough below
/// `i64::MAX` that counting restores can never overflow.
pub const MAX_SEATS: i64 = 1_000_000_000;

/// Reports the first broken invariant with its path.
struct Check<'a> {
    file: &'a str,
}

impl Check<'_> {
    fn invalid(&self, path: String, message: String) -> SnapshotError {
        SnapshotError::Invalid {
            file: self.file.to_owned(),
            path,
            message,
        }
    }

    /// An id: not blank, at most [`MAX_ID_BYTES`], no control characters
    /// (a NUL is refused by PostgreSQL, and the others forge terminal output).
    fn id(&self, path: impl Fn() -> String, what: &str, id: &str) -> Result<(), SnapshotError> {
        if id.trim().is_empty() {
            return Err(self.invalid(path(), format!("{what} is empty")));
        }
        self.text(path, what, id, MAX_ID_BYTES)
    }

    fn text(
        &self,
        path: impl Fn() -> String,
        what: &str,
        text: &str,
        max: usize,
    ) -> Result<(), SnapshotError> {
        if text.len() > max {
            return Err(self.invalid(
                path(),
                format!("{what} `{}` is longer than {max} bytes", Excerpt(text)),
            ));
        }
        if let Some(c) = text.chars().find(|c| needs_escape(*c)) {
            return Err(self.invalid(
                path(),
                format!(
                    "{what} `{}` contains the control character {}",
                    Excerpt(text),
                    c.escape_unicode()
                ),
            ));
        }
        Ok(())
    }

    fn optional(
        &self,
        path: impl Fn() -> String,
        what: &str,
        text: Option<&str>,
    ) -> Result<(), SnapshotError> {
        text.map_or(Ok(()), |text| self.text(path, what, text, MAX_TEXT_BYTES))
    }

    fn seats(&self, path: impl Fn() -> String, count: i64) -> Result<(), SnapshotError> {
        if count > MAX_SEATS {
            return Err(self.invalid(
                path(),
                format!("seat count `{count}` is larger than {MAX_SEATS}"),
            ));
        }
        Ok(())
    }
}

impl Snapshot {
    /// Format version; unique, well-formed ids; bounded texts and counts;
    /// known resource names. [`Snapshot::parse`] and [`Snapshot::load`] call
    /// it; call it on a snapshot built in code before importing it. `file`
    /// names the snapshot in errors.
    pub fn validate(&self, file: &str) -> Result<(), SnapshotError> {
        let check = Check { file };
        if self.format != SNAPSHOT_FORMAT && self.format != SNAPSHOT_FORMAT_V2 {
            return Err(check.invalid(
                "format".into(),
                format!(
                    "unknown snapshot format `{}`, expected `{SNAPSHOT_FORMAT}` or `{SNAPSHOT_FORMAT_V2}`",
                    Excerpt(&self.format)
                ),
            ));
        }
        // Attributes need v2: a file that says v1 is one an older build
        // would read, silently without them.
        let v1 = self.format == SNAPSHOT_FORMAT;
        let v1_attributes = |path: String| {
            check.invalid(
                path,
                format!("attributes need `format: {SNAPSHOT_FORMAT_V2}`"),
            )
        };
        let mut tenants = HashSet::new();
        for (t, tenant) in self.tenants.iter().enumerate() {
            let at = || format!("tenants[{t}]");
            check.id(|| format!("{}.id", at()), "tenant id", &tenant.id)?;
            if !tenants.insert(tenant.id.as_str()) {
                return Err(check.invalid(
                    format!("{}.id", at()),
                    format!("duplicate tenant id `{}`", Excerpt(&tenant.id)),
                ));
            }
            if v1 && !tenant.attributes.is_empty() {
                return Err(v1_attributes(format!("{}.attributes", at())));
            }
            check.seats(|| format!("{}.seats.total", at()), tenant.seats.total)?;
            check.seats(|| format!("{}.seats.used", at()), tenant.seats.used)?;
            let mut active = HashSet::new();
            for (m, member) in tenant.members.iter().enumerate() {
                let at = || format!("tenants[{t}].members[{m}]");
                check.id(|| format!("{}.id", at()), "member id", &member.id)?;
                if !active.insert(member.id.as_str()) {
                    return Err(check.invalid(
                        format!("{}.id", at()),
                        format!(
                            "duplicate member id `{}` in tenant `{}`",
                            Excerpt(&member.id),
                            Excerpt(&tenant.id)
                        ),
                    ));
                }
                check.optional(
                    || format!("{}.email", at()),
                    "email",
                    member.email.as_deref(),
                )?;
                check.optional(
                    || format!("{}.phone", at()),
                    "phone",
                    member.phone.as_deref(),
                )?;
                check.optional(
                    || format!("{}.department", at()),
                    "department",
                    member.department.as_deref(),
                )?;
                if v1 && !member.attributes.is_empty() {
                    return Err(v1_attributes(format!("{}.attributes", at())));
                }
                for (r, role) in member.roles.iter().enumerate() {
                    check.id(|| format!("{}.roles[{r}]", at()), "role", role)?;
                }
            }
            let mut deleted = HashSet::new();
            for (m, member) in tenant.deleted_members.iter().enumerate() {
                let at = || format!("tenants[{t}].deleted_members[{m}]");
                check.id(|| format!("{}.id", at()), "member id", &member.id)?;
                if !deleted.insert(member.id.as_str()) {
                    return Err(check.invalid(
                        format!("{}.id", at()),
                        format!(
                            "duplicate deleted member id `{}` in tenant `{}`",
                            Excerpt(&member.id),
                            Excerpt(&tenant.id)
                        ),
                    ));
                }
                check.optional(
                    || format!("{}.email", at()),
                    "email",
                    member.email.as_deref(),
                )?;
                check.optional(
                    || format!("{}.phone", at()),
                    "phone",
                    member.phone.as_deref(),
                )?;
                if v1 && !member.attributes.is_empty() {
                    return Err(v1_attributes(format!("{}.attributes", at())));
                }
                for (resource, items) in &member.resources {
                    if !KNOWN_RESOURCES.contains(&resource.as_str()) {
                        // A typo would silently lose the items: refused.
                        let hint = suggest(resource, KNOWN_RESOURCES.iter().copied()).map_or(
                            " (not one of the resources of the decision contract)".to_owned(),
                            |s| format!("; did you mean `{s}`?"),
                        );
                        return Err(check.invalid(
                            format!("{}.resources", at()),
                            format!("unknown resource `{}`{hint}", Excerpt(resource)),
                        ));
                    }
                    let mut ids = HashSet::new();
                    for (i, item) in items.iter().enumerate() {
                        let path = || format!("{}.resources.{resource}[{i}]", at());
                        check.id(|| format!("{}.id", path()), "item id", &item.id)?;
                        if !ids.insert(item.id.as_str()) {
                            return Err(check.invalid(
                                format!("{}.id", path()),
                                format!(
                                    "duplicate item id `{}` in `{resource}`",
                                    Excerpt(&item.id)
                                ),
                            ));
                        }
                        if let Some(to) = &item.transferred_to {
                            check.id(|| format!("{}.transferred_to", path()), "member id", to)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
