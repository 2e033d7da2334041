//! The vocabulary rule files are written in: typed facts, typed settings,
//! values and durations. Conditions are checked against it at load time.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

/// The type of a fact, a setting or a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Bool,
    Int,
    Duration,
    Timestamp,
    Str,
    StrList,
    /// Text restricted to the names of one enumeration of the policy's
    /// [`Vocabulary`] (e.g. its tiers).
    Enum(EnumId),
}

/// An enumeration of a [`Vocabulary`]: an index into its table, so that
/// [`Type`] stays `Copy` while the names belong to the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnumId(pub u16);

impl EnumId {
    /// `member.reason`.
    pub const DELETION_REASONS: EnumId = EnumId(0);
    /// `member.deletion`.
    pub const DELETION_STATES: EnumId = EnumId(1);
    /// `tenant.plan`: the tiers the policy declares.
    pub const TIERS: EnumId = EnumId(2);
}

/// The names a policy's types refer to: its enumerations (the built-in
/// ones, then its tiers, then any a policy declares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    pub enums: Vec<Arc<[Arc<str>]>>,
}

impl Default for Vocabulary {
    fn default() -> Self {
        Vocabulary::new(&[])
    }
}

impl Vocabulary {
    /// The built-in enumerations and the given tier names.
    pub fn new(tiers: &[Arc<str>]) -> Self {
        let names = |list: &[&str]| list.iter().map(|n| Arc::from(*n)).collect();
        Vocabulary {
            enums: vec![
                names(DELETION_REASONS),
                names(DELETION_STATES),
                tiers.into(),
            ],
        }
    }

    /// The names of an enumeration (empty for an unknown id).
    pub fn names(&self, id: EnumId) -> &[Arc<str>] {
        self.enums.get(usize::from(id.0)).map_or(&[], |n| &n[..])
    }

    /// Replaces the tier names (the loader learns them before the rules).
    pub fn set_tiers(&mut self, tiers: &[Arc<str>]) {
        if let Some(slot) = self.enums.get_mut(usize::from(EnumId::TIERS.0)) {
            *slot = tiers.into();
        }
    }

    /// Adds an enumeration; its id.
    pub fn add_enum(&mut self, names: Arc<[Arc<str>]>) -> EnumId {
        self.enums.push(names);
        EnumId(u16::try_from(self.enums.len() - 1).unwrap_or(u16::MAX))
    }

    /// A type's name for messages, e.g. `one of starter | pro`.
    pub fn describe(&self, ty: Type) -> String {
        match ty {
            Type::Enum(id) => {
                let names: Vec<&str> = self.names(id).iter().map(|n| &**n).collect();
                format!("one of {}", names.join(" | "))
            }
            other => other.to_string(),
        }
    }

    /// [`Vocabulary::describe`] with an article, for "expected …" messages.
    pub fn with_article(&self, ty: Type) -> String {
        match ty {
            Type::Enum(_) => self.describe(ty),
            Type::Int => "an integer".into(),
            _ => format!("a {ty}"),
        }
    }
}

impl Type {
    pub fn is_ordered(self) -> bool {
        matches!(self, Type::Int | Type::Duration | Type::Timestamp)
    }

    /// Scalar text types that `in` accepts.
    pub fn is_text(self) -> bool {
        matches!(self, Type::Str | Type::Enum(_))
    }
}

impl fmt::Display for Type {
    /// The type's name; an enumeration's names need its [`Vocabulary`]
    /// ([`Vocabulary::describe`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("boolean"),
            Type::Int => f.write_str("integer"),
            Type::Duration => f.write_str("duration"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::Str => f.write_str("string"),
            Type::StrList => f.write_str("list of strings"),
            Type::Enum(_) => f.write_str("enumeration"),
        }
    }
}

/// The four tiers of format v1 (F7), which a v1 rule file may override.
/// A tenant's plan is text ([`crate::facts::TenantFacts::plan`]); the
/// compiled policy matches it against the tiers it declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Plan {
    Starter,
    Basic,
    Pro,
    Enterprise,
}

impl Plan {
    /// The tier named exactly `name` (case and all), if any.
    pub fn from_name(name: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Every tier, in price order.
    pub const ALL: [Plan; 4] = [Plan::Starter, Plan::Basic, Plan::Pro, Plan::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Starter => "starter",
            Plan::Basic => "basic",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    /// Position in [`Plan::ALL`]; used to index per-tier tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// This tier's entry in a per-tier table ordered like [`Plan::ALL`].
    /// A match rather than `table[self.index()]`: no bounds check to fail.
    pub fn pick<T>(self, table: &[T; 4]) -> &T {
        let [starter, basic, pro, enterprise] = table;
        match self {
            Plan::Starter => starter,
            Plan::Basic => basic,
            Plan::Pro => pro,
            Plan::Enterprise => enterprise,
        }
    }

    /// [`Plan::pick`], mutably.
    pub fn pick_mut<T>(self, table: &mut [T; 4]) -> &mut T {
        let [starter, basic, pro, enterprise] = table;
        match self {
            Plan::Starter => starter,
            Plan::Basic => basic,
            Plan::Pro => pro,
            Plan::Enterprise => enterprise,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plan {
    type Err = crate::facts::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "starter" => Ok(Plan::Starter),
            "basic" => Ok(Plan::Basic),
            "pro" => Ok(Plan::Pro),
            "enterprise" => Ok(Plan::Enterprise),
            _ => Err(crate::facts::UnknownName {
                kind: "plan",
                value: s.to_owned(),
                expected: "starter, basic, pro, enterprise",
            }),
        }
    }
}

/// A typed value: a literal in a rule file, a setting, or a fact at evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Duration(TimeDelta),
    Timestamp(DateTime<Utc>),
    Str(Arc<str>),
    List(Arc<[Arc<str>]>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Duration(d) => f.write_str(&format_duration(*d)),
            Value::Timestamp(t) => f.write_str(&format_timestamp(*t)),
            Value::Str(s) => f.write_str(s),
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(item)?;
                }
                Ok(())
            }
        }
    }
}

/// The duration `unlimited`: orders above every finite duration, equals
/// itself, and added to a time gives the latest representable time
/// (rendered `never`, see [`write_until`]).
pub const UNLIMITED: TimeDelta = TimeDelta::MAX;

/// A time that an unlimited duration produced: the latest representable.
pub const NEVER: DateTime<Utc> = DateTime::<Utc>::MAX_UTC;

/// A computed time for text: `never` for [`NEVER`], else as
/// [`format_timestamp`].
pub fn write_until(out: &mut String, t: DateTime<Utc>) {
    if t == NEVER {
        out.push_str("never");
    } else {
        out.push_str(&format_timestamp(t));
    }
}

/// RFC 3339 in UTC with `Z`, to the second unless sub-second parts exist.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

macro_rules! catalogue {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $text:literal : $ty:expr, $doc:literal;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $(#[doc = $doc] $variant,)* }

        impl $name {
            /// Every entry, in catalogue order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The name rule files use.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            pub fn ty(self) -> Type {
                match self { $($name::$variant => $ty,)* }
            }

            /// What the entry means.
            pub fn doc(self) -> &'static str {
                match self { $($name::$variant => $doc,)* }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}

/// Resource names of the decision contract (docs/design.md); `check` warns when a
/// policy gives one of them no outcome.
pub const KNOWN_RESOURCES: &[&str] = &[
    "member_account",
    "department",
    "user_permissions",
    "admin_permissions",
    "approval_roles",
    "user_groups",
    "dynamic_groups",
    "group_chats",
    "chats",
    "documents",
    "minutes",
    "surveys",
    "events_created",
    "events_joined",
    "third_party_calendars",
    "business_email_address",
    "business_email_data",
    "approval_processes",
    "approval_tasks_in_progress",
];

/// The tiers of format v1 (see [`Plan`]).
pub const PLANS: &[&str] = &["starter", "basic", "pro", "enterprise"];
pub const DELETION_STATES: &[&str] = &["in_progress", "completed"];
pub const DELETION_REASONS: &[&str] = &["removed_by_admin", "self_deactivated"];

catalogue! {
    /// Facts a condition can test. Adapters supply them; the engine derives
    /// the time-based ones from the evaluation time and the tier's settings.
    pub enum Fact {
        ActorPresent = "actor.present": Type::Bool, "an actor was named (false for read-only eligibility questions)";
        ActorId = "actor.id": Type::Str, "id of the acting member (empty when no actor)";
        ActorRoles = "actor.roles": Type::StrList, "roles of the acting member";
        MemberId = "member.id": Type::Str, "id of the deleted member";
        MemberReason = "member.reason": Type::Enum(EnumId::DELETION_REASONS), "why the member was deleted";
        MemberDeletion = "member.deletion": Type::Enum(EnumId::DELETION_STATES), "state of the deletion process";
        MemberRemovedFromList = "member.removed_from_list": Type::Bool, "removed from the Deleted Members list (permanently deleted)";
        MemberDeletedAt = "member.deleted_at": Type::Timestamp, "when the member was deleted";
        MemberDeletedFor = "member.deleted_for": Type::Duration, "time elapsed since deletion, at evaluation time";
        MemberRestorableUntil = "member.restorable_until": Type::Timestamp, "deleted_at + the tier's restore_window";
        MemberDeletionEndsBy = "member.deletion_ends_by": Type::Timestamp, "deleted_at + the tier's deletion_max_duration";
        TenantId = "tenant.id": Type::Str, "id of the tenant";
        TenantPlan = "tenant.plan": Type::Enum(EnumId::TIERS), "plan tier of the tenant";
        SeatsTotal = "tenant.seats.total": Type::Int, "seats the tenant has bought";
        SeatsUsed = "tenant.seats.used": Type::Int, "seats allocated";
        SeatsAvailable = "tenant.seats.available": Type::Int, "total - used (negative when over-allocated)";
        ConflictsUserId = "conflicts.user_id": Type::StrList, "active members with the deleted member's user id";
        ConflictsEmail = "conflicts.email": Type::StrList, "active members with the same email (case-insensitive)";
        ConflictsPhone = "conflicts.phone": Type::StrList, "active members with the same phone number (as stored)";
        RequestBatchSize = "request.batch_size": Type::Int, "members restored together in this request";
        EvaluationAt = "evaluation.at": Type::Timestamp, "the time the decision is made for";
    }
}

catalogue! {
    /// Settings: policy defaults, overridable per tier.
    pub enum Setting {
        RestoreWindow = "restore_window": Type::Duration, "how long after deletion a member can be restored";
        DeletionMaxDuration = "deletion_max_duration": Type::Duration, "longest the deletion process can take";
        RestoreRoles = "restore_roles": Type::StrList, "roles allowed to restore a member";
        BlockWithoutSeat = "block_without_seat": Type::Bool, "deny the restore when no seat is available";
        BatchRestore = "batch_restore": Type::Bool, "whether several members may be restored in one request";
    }
}

/// A setting of a policy: its position in the policy's declarations
/// (format v1: the position in [`Setting::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SettingId(pub u16);

impl SettingId {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl Setting {
    /// This setting's id in a format v1 policy (the v1 prelude declares
    /// the five in catalogue order).
    pub fn id(self) -> SettingId {
        let i = Setting::ALL.iter().position(|s| *s == self).unwrap_or(0);
        SettingId(u16::try_from(i).unwrap_or(0))
    }
}

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    NoUnit,
    Invalid,
    /// Longer than [`MAX_DURATION_DAYS`].
    TooLarge,
}

/// The longest duration a rule may state (100 years). Timestamps plus
/// durations then stay far inside the representable range, so evaluation
/// can never overflow.
pub const MAX_DURATION_DAYS: i64 = 36_500;

/// Parses `30d`, `48h`, `1d12h`, `90m`, `45s`, `2w`. A bare number is refused:
/// its unit would be a guess.
pub fn parse_duration(text: &str) -> Result<TimeDelta, DurationError> {
    let text = text.trim();
    if text == "unlimited" {
        return Ok(UNLIMITED);
    }
    if text.is_empty() {
        return Err(DurationError::Invalid);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DurationError::NoUnit);
    }
    let mut total: i64 = 0;
    let mut number: Option<i64> = None;
    for c in text.chars() {
        if let Some(digit) = c.to_digit(10) {
            let n = number.unwrap_or(0);
            number = Some(
                n.checked_mul(10)
                    .and_then(|n| n.checked_add(i64::from(digit)))
                    .ok_or(DurationError::Invalid)?,
            );
            continue;
        }
        let seconds = match c {
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(DurationError::Invalid),
        };
        let n = number.take().ok_or(DurationError::Invalid)?;
        total = n
            .checked_mul(seconds)
            .and_then(|s| total.checked_add(s))
            .ok_or(DurationError::Invalid)?;
    }
    if number.is_some() {
        // Trailing digits after a unit, e.g. `1d12`.
        return Err(DurationError::NoUnit);
    }
    if total > MAX_DURATION_DAYS * 86_400 {
        return Err(DurationError::TooLarge);
    }
    TimeDelta::try_seconds(total).ok_or(DurationError::Invalid)
}

/// The shortest exact spelling, e.g. `30d`, `1d12h`, `0s`.
pub fn format_duration(d: TimeDelta) -> String {
    let mut out = String::new();
    write_duration(&mut out, d);
    out
}

/// [`format_duration`] appended to `out`: the evaluator renders messages
/// with it, and a temporary string per unit would cost more than the rest.
pub fn write_duration(out: &mut String, d: TimeDelta) {
    use std::fmt::Write as _;
    if d == UNLIMITED {
        out.push_str("unlimited");
        return;
    }
    let mut seconds = d.num_seconds();
    if seconds == 0 {
        out.push_str("0s");
        return;
    }
    if seconds < 0 {
        out.push('-');
        seconds = -seconds;
    }
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if seconds >= size {
            // Writing to a String cannot fail.
            let _ = write!(out, "{}{unit}", seconds / size);
            seconds %= size;
        }
    }
}

/// Closest name within a small edit distance, for "did you mean" hints.
pub fn suggest<'a>(wrong: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names
        .into_iter()
        .map(|n| (edit_distance(wrong, n), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // One row of the Levenshtein table, `row[j]` for `b[..j]`, rewritten
    // in place: `diag` is the previous row's `row[j - 1]`, `left` this row's.
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = i;
        let mut left = i + 1;
        let mut cells = row.iter_mut();
        if let Some(first) = cells.next() {
            *first = left;
        }
        for (cb, cell) in b.iter().zip(cells) {
            let up = *cell;
            let value = if ca == *cb {
                diag
            } else {
                1 + diag.min(left).min(up)
            };
            *cell = value;
            diag = up;
            left = value;
        }
    }
    row.last().copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_agrees_with_index() {
        let mut table = Plan::ALL;
        for plan in Plan::ALL {
            assert_eq!(*plan.pick(&table), Plan::ALL[plan.index()]);
            assert_eq!(*plan.pick(&table), plan);
            assert_eq!(Plan::from_name(plan.as_str()), Some(plan));
            *plan.pick_mut(&mut table) = Plan::Starter;
        }
        assert_eq!(table, [Plan::Starter; 4]);
        assert_eq!(Plan::from_name("Pro"), None);
    }

    #[test]
    fn durations_need_units() {
        assert_eq!(parse_duration("30d"), Ok(TimeDelta::days(30)));
        assert_eq!(parse_duration("48h"), Ok(TimeDelta::hours(48)));
        assert_eq!(
            parse_duration("1d12h"),
            Ok(TimeDelta::hours(36)),
            "compound"
        );
        assert_eq!(parse_duration("2w"), Ok(TimeDelta::days(14)));
        assert_eq!(parse_duration("30"), Err(DurationError::NoUnit));
        assert_eq!(parse_duration("1d12"), Err(DurationError::NoUnit));
        assert_eq!(parse_duration("3x"), Err(DurationError::Invalid));
        assert_eq!(parse_duration("d"), Err(DurationError::Invalid));
        assert_eq!(
            parse_duration("99999999999999999999d"),
            Err(DurationError::Invalid)
        );
        assert_eq!(parse_duration("36500d"), Ok(TimeDelta::days(36_500)));
        assert_eq!(parse_duration("36501d"), Err(DurationError::TooLarge));
        assert_eq!(parse_duration("100000000d"), Err(DurationError::TooLarge));
    }

    #[test]
    fn durations_round_trip() {
        for text in ["30d", "1d12h", "48h", "90m", "1m30s", "0s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d, "{text}");
        }
        assert_eq!(format_duration(TimeDelta::hours(48)), "2d");
    }

    #[test]
    fn catalogue_names_round_trip() {
        for fact in Fact::ALL {
            assert_eq!(Fact::from_name(fact.name()), Some(*fact));
        }
        for setting in Setting::ALL {
            assert_eq!(Setting::from_name(setting.name()), Some(*setting));
        }
    }

    #[test]
    fn suggests_close_names() {
        let names = Fact::ALL.iter().map(|f| f.name());
        assert_eq!(
            suggest("member.deleted_att", names),
            Some("member.deleted_at")
        );
        assert_eq!(suggest("zzz", Fact::ALL.iter().map(|f| f.name())), None);
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("flaw", "lawn"), 2);
        assert_eq!(edit_distance("deleted_att", "deleted_at"), 1);
        assert_eq!(edit_distance("héllo", "hello"), 1);
    }
}
