//! The v1 prelude: what a `restore-rules/v1` file declares without saying
//! so. Format v1 has a closed vocabulary; v2 files declare it themselves,
//! and v1 files are completed with these declarations after loading, so
//! that the compiler and evaluator see one model.

use std::sync::Arc;

use crate::model::{ComputedDecl, Delta, SettingDecl, SettingValues};
use crate::vocabulary::{Fact, Plan, Setting};
use crate::yaml::Span;

/// The tiers of format v1, all four, no default tier.
pub fn tiers() -> [Plan; 4] {
    Plan::ALL
}

/// The five settings of format v1, in catalogue order (so that a
/// [`Setting`]'s id is its position), with the file's `settings:` as
/// defaults.
pub fn settings(defaults: &SettingValues) -> Vec<SettingDecl> {
    Setting::ALL
        .iter()
        .map(|s| SettingDecl {
            name: Arc::from(s.name()),
            ty: s.ty(),
            default: defaults.get(s.id()).cloned(),
            doc: Some(s.doc().to_owned()),
            span: defaults.span(s.id()).unwrap_or_default(),
        })
        .collect()
}

/// Position of `member.restorable_until` in [`computed`]: the fact the
/// decision's `restorable_until` reports.
pub const RESTORABLE_UNTIL: u16 = 0;

/// The two computed facts of format v1:
/// `member.restorable_until = member.deleted_at + restore_window` and
/// `member.deletion_ends_by = member.deleted_at + deletion_max_duration`.
pub fn computed() -> Vec<ComputedDecl> {
    let decl = |fact: Fact, setting: Setting| ComputedDecl {
        name: Arc::from(fact.name()),
        base: Fact::MemberDeletedAt,
        minus: false,
        delta: Delta::Setting(setting.id()),
        span: Span::default(),
    };
    vec![
        decl(Fact::MemberRestorableUntil, Setting::RestoreWindow),
        decl(Fact::MemberDeletionEndsBy, Setting::DeletionMaxDuration),
    ]
}
