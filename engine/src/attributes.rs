//! Attributes and request context: open, untyped data on a tenant, a member
//! or an actor (and per request), typed by the policy at evaluation.
//!
//! One representation everywhere: a JSON object whose keys are identifiers
//! and whose values are booleans, integers, strings or lists of strings;
//! `null` means absent. Every read is bounded and every error names the key
//! (never the value: errors do not echo data).

use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most keys one object may hold.
pub const MAX_KEYS: usize = 64;
/// The longest string value (and list entry), in bytes.
pub const MAX_STRING_BYTES: usize = 4 * 1024;
/// The most entries one list may hold.
pub const MAX_LIST_ENTRIES: usize = 10_000;
/// The longest encoded object [`Attributes::from_json`] reads, in bytes.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;
/// The longest name.
pub const MAX_NAME_BYTES: usize = 64;

/// One attribute or context value. Untyped in storage; typed by the policy
/// at evaluation (a duration or a timestamp is a string here).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrValue {
    Bool(bool),
    Int(i64),
    Str(Arc<str>),
    List(Arc<[Arc<str>]>),
}

impl AttrValue {
    /// The JSON kind, for messages ("a string", "an integer"): never the value.
    pub fn kind(&self) -> &'static str {
        match self {
            AttrValue::Bool(_) => "a boolean",
            AttrValue::Int(_) => "an integer",
            AttrValue::Str(_) => "a string",
            AttrValue::List(_) => "a list",
        }
    }
}

impl Serialize for AttrValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AttrValue::Bool(b) => serializer.serialize_bool(*b),
            AttrValue::Int(i) => serializer.serialize_i64(*i),
            AttrValue::Str(s) => serializer.serialize_str(s),
            AttrValue::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(&**item)?;
                }
                seq.end()
            }
        }
    }
}

/// Why attributes are not acceptable. Names the key, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttributeError {
    #[error("attribute name `{}` is not an identifier (lowercase letter, then up to 63 of a-z, 0-9, `_`)", crate::excerpt::Excerpt(.name))]
    BadName { name: String },
    #[error("duplicate attribute `{}`", crate::excerpt::Excerpt(.name))]
    DuplicateKey { name: String },
    #[error("more than {MAX_KEYS} attributes in one object")]
    TooManyKeys,
    #[error("attribute `{}`: expected a boolean, string, integer or list of strings, found {found}", crate::excerpt::Excerpt(.name))]
    BadValue { name: String, found: &'static str },
    #[error("attribute `{}`: a list may hold only strings, found {found}", crate::excerpt::Excerpt(.name))]
    BadListEntry { name: String, found: &'static str },
    #[error("attribute `{}`: a string is longer than {MAX_STRING_BYTES} bytes", crate::excerpt::Excerpt(.name))]
    StringTooLong { name: String },
    #[error("attribute `{}`: a list holds more than {MAX_LIST_ENTRIES} entries", crate::excerpt::Excerpt(.name))]
    ListTooLong { name: String },
    #[error("attributes must be a JSON object, found {found}")]
    NotAnObject { found: &'static str },
    #[error("attributes are longer than {MAX_JSON_BYTES} bytes")]
    TooLarge,
    #[error("attributes are not valid JSON (line {line}, column {column})")]
    Syntax { line: usize, column: usize },
}

/// Whether `name` is an identifier: `^[a-z][a-z0-9_]{0,63}$`.
pub fn is_identifier(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            first.is_ascii_lowercase()
                && rest.len() < MAX_NAME_BYTES
                && rest
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        }
        None => false,
    }
}

/// Attribute or context values: sorted by name, no duplicates. Cheap to
/// clone (shared); empty costs no allocation (`None`, never an empty slice,
/// so that equality stays structural). Serialises as a JSON/YAML object with
/// sorted keys; deserialising validates (see [`AttributeError`]) and drops
/// `null`s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(Option<Arc<[Pair]>>);

/// One name and its value.
pub type Pair = (Arc<str>, AttrValue);

/// The pairs of `attributes`, sorted by name.
fn pairs(attributes: &Attributes) -> &[Pair] {
    attributes.0.as_deref().unwrap_or_default()
}

impl Attributes {
    /// Validates names and values, sorts by name; a repeated name is an error.
    pub fn new(
        pairs: impl IntoIterator<Item = (Arc<str>, AttrValue)>,
    ) -> Result<Self, AttributeError> {
        let mut list: Vec<(Arc<str>, AttrValue)> = Vec::new();
        for (name, value) in pairs {
            if list.len() >= MAX_KEYS {
                return Err(AttributeError::TooManyKeys);
            }
            check_name(&name)?;
            check_value(&name, &value)?;
            list.push((name, value));
        }
        finish(list)
    }

    /// No attributes (usable in `const` items).
    pub const EMPTY: Attributes = Attributes(None);

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn len(&self) -> usize {
        pairs(self).len()
    }

    /// The value of `name`, if present (binary search: names are sorted).
    pub fn get(&self, name: &str) -> Option<&AttrValue> {
        let pairs = pairs(self);
        pairs
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .and_then(|i| pairs.get(i))
            .map(|(_, v)| v)
    }

    /// Every pair, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AttrValue)> {
        pairs(self).iter().map(|(n, v)| (&**n, v))
    }

    /// The pairs, sorted by name, as stored.
    pub fn as_slice(&self) -> &[Pair] {
        pairs(self)
    }

    /// Compact JSON with sorted keys: the storage form.
    pub fn to_json(&self) -> String {
        // Writing a map of strings to a `Vec` cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// Reads the storage form: at most [`MAX_JSON_BYTES`] bytes, validated
    /// as [`Attributes::new`] does; `null` values are dropped.
    pub fn from_json(text: &str) -> Result<Self, AttributeError> {
        if text.len() > MAX_JSON_BYTES {
            return Err(AttributeError::TooLarge);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let checked = Checked::deserialize(&mut de).map_err(|e| syntax(&e))?;
        de.end().map_err(|e| syntax(&e))?;
        checked.0
    }
}

fn syntax(e: &serde_json::Error) -> AttributeError {
    AttributeError::Syntax {
        line: e.line(),
        column: e.column(),
    }
}

fn check_name(name: &str) -> Result<(), AttributeError> {
    if is_identifier(name) {
        Ok(())
    } else {
        Err(AttributeError::BadName {
            name: name.to_owned(),
        })
    }
}

fn check_value(name: &str, value: &AttrValue) -> Result<(), AttributeError> {
    let too_long = |s: &str| s.len() > MAX_STRING_BYTES;
    match value {
        AttrValue::Bool(_) | AttrValue::Int(_) => Ok(()),
        AttrValue::Str(s) if too_long(s) => Err(AttributeError::StringTooLong {
            name: name.to_owned(),
        }),
        AttrValue::Str(_) => Ok(()),
        AttrValue::List(items) if items.len() > MAX_LIST_ENTRIES => {
            Err(AttributeError::ListTooLong {
                name: name.to_owned(),
            })
        }
        AttrValue::List(items) if items.iter().any(|s| too_long(s)) => {
            Err(AttributeError::StringTooLong {
                name: name.to_owned(),
            })
        }
        AttrValue::List(_) => Ok(()),
    }
}

/// Sorts and rejects repeated names.
fn finish(mut list: Vec<(Arc<str>, AttrValue)>) -> Result<Attributes, AttributeError> {
    list.sort_by(|a, b| a.0.cmp(&b.0));
    for pair in list.windows(2) {
        if let [a, b] = pair {
            if a.0 == b.0 {
                return Err(AttributeError::DuplicateKey {
                    name: a.0.to_string(),
                });
            }
        }
    }
    Ok(Attributes((!list.is_empty()).then(|| list.into())))
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pairs = pairs(self);
        let mut map = serializer.serialize_map(Some(pairs.len()))?;
        for (name, value) in pairs {
            map.serialize_entry(&**name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Checked::deserialize(deserializer)?
            .0
            .map_err(de::Error::custom)
    }
}

/// The object read through, with the first semantic error (if any) kept
/// typed: the input is consumed to its end either way, so the format's own
/// parser stays in step.
struct Checked(Result<Attributes, AttributeError>);

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ObjectVisitor)
    }
}

/// Implements the visitor methods of the shapes other than text and object so that they
/// report the kind found, never the value (serde's default would quote it).
macro_rules! kind_only {
    ($out:ty, $wrap:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$out, E> {
            Ok($wrap("a boolean"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$out, E> {
            Ok($wrap("an integer"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$out, E> {
            Ok($wrap("an integer"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$out, E> {
            Ok($wrap("a float"))
        }
        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<$out, E> {
            Ok($wrap("bytes"))
        }
        fn visit_unit<E: de::Error>(self) -> Result<$out, E> {
            Ok($wrap("null"))
        }
        fn visit_none<E: de::Error>(self) -> Result<$out, E> {
            Ok($wrap("null"))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$out, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($wrap("a list"))
        }
    };
}

struct ObjectVisitor;

fn not_an_object(found: &'static str) -> Checked {
    Checked(Err(AttributeError::NotAnObject { found }))
}

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of attributes")
    }

    kind_only!(Checked, not_an_object);

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(not_an_object("a string"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut list: Vec<(Arc<str>, AttrValue)> = Vec::new();
        let mut first_error: Option<AttributeError> = None;
        let mut keys = 0usize;
        while let Some(name) = map.next_key::<KeyText>()? {
            keys += 1;
            if first_error.is_some() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let name = match name {
                KeyText::Text(name) if is_identifier(&name) => name,
                KeyText::Text(name) => {
                    first_error = Some(AttributeError::BadName { name });
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                KeyText::Other(found) => {
                    first_error = Some(AttributeError::BadName {
                        name: format!("({found})"),
                    });
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if keys > MAX_KEYS {
                first_error = Some(AttributeError::TooManyKeys);
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            match map.next_value_seed(ValueSeed { name: &name })? {
                Ok(Some(value)) => list.push((Arc::from(name), value)),
                // `null`: absent.
                Ok(None) => {}
                Err(e) => first_error = Some(e),
            }
        }
        Ok(Checked(match first_error {
            Some(e) => Err(e),
            None => finish(list),
        }))
    }
}

/// A key: text, or the kind of a key that is not text (YAML allows them).
enum KeyText {
    Text(String),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute name")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<KeyText, E> {
                Ok(KeyText::Other("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<KeyText, E> {
                Ok(KeyText::Other("an integer"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<KeyText, E> {
                Ok(KeyText::Other("an integer"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<KeyText, E> {
                Ok(KeyText::Other("a float"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText::Other("null"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                // Bounded: a name longer than an identifier is only quoted
                // in part by the error anyway.
                Ok(KeyText::Text(crate::excerpt::clip(v, 200)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeyText, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(KeyText::Other("a list"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyText, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(KeyText::Other("an object"))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// One value, read knowing its key so that errors name it.
struct ValueSeed<'n> {
    name: &'n str,
}

type ValueResult = Result<Option<AttrValue>, AttributeError>;

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ValueResult;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ValueResult, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    fn bad(&self, found: &'static str) -> ValueResult {
        Err(AttributeError::BadValue {
            name: self.name.to_owned(),
            found,
        })
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ValueResult;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean, string, integer or list of strings")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ValueResult, E> {
        Ok(Ok(Some(AttrValue::Bool(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ValueResult, E> {
        Ok(Ok(Some(AttrValue::Int(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueResult, E> {
        Ok(match i64::try_from(v) {
            Ok(v) => Ok(Some(AttrValue::Int(v))),
            Err(_) => self.bad("an integer out of range"),
        })
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<ValueResult, E> {
        Ok(self.bad("an integer out of range"))
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<ValueResult, E> {
        Ok(self.bad("an integer out of range"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<ValueResult, E> {
        Ok(self.bad("a float"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ValueResult, E> {
        if v.len() > MAX_STRING_BYTES {
            return Ok(Err(AttributeError::StringTooLong {
                name: self.name.to_owned(),
            }));
        }
        Ok(Ok(Some(AttrValue::Str(Arc::from(v)))))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<ValueResult, E> {
        Ok(self.bad("bytes"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<ValueResult, E> {
        Ok(Ok(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<ValueResult, E> {
        Ok(Ok(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<ValueResult, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ValueResult, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(self.bad("an object"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ValueResult, A::Error> {
        let mut items: Vec<Arc<str>> = Vec::new();
        let mut error: Option<AttributeError> = None;
        loop {
            if error.is_some() {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                continue;
            }
            let Some(entry) = seq.next_element::<Entry>()? else {
                break;
            };
            match entry {
                Entry::Text(s) if s.len() > MAX_STRING_BYTES => {
                    error = Some(AttributeError::StringTooLong {
                        name: self.name.to_owned(),
                    });
                }
                Entry::Text(s) if items.len() >= MAX_LIST_ENTRIES => {
                    drop(s);
                    error = Some(AttributeError::ListTooLong {
                        name: self.name.to_owned(),
                    });
                }
                Entry::Text(s) => items.push(Arc::from(s)),
                Entry::Other(found) => {
                    error = Some(AttributeError::BadListEntry {
                        name: self.name.to_owned(),
                        found,
                    });
                }
            }
        }
        Ok(match error {
            Some(e) => Err(e),
            None => Ok(Some(AttrValue::List(items.into()))),
        })
    }
}

/// A list entry: text, or the kind of anything else.
enum Entry {
    Text(String),
    Other(&'static str),
}

fn other_entry(found: &'static str) -> Entry {
    Entry::Other(found)
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = Entry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            kind_only!(Entry, other_entry);
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Entry, E> {
                if v.len() > MAX_STRING_BYTES {
                    // Kept short: only its length matters from here on.
                    return Ok(Entry::Text("x".repeat(MAX_STRING_BYTES + 1)));
                }
                Ok(Entry::Text(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Entry::Other("an object"))
            }
        }
        deserializer.deserialize_any(EntryVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttrValue {
        AttrValue::Str(Arc::from(v))
    }

    #[test]
    fn new_sorts_and_gets() {
        let a = Attributes::new([
            (Arc::from("region"), s("eu")),
            (Arc::from("legal_hold"), AttrValue::Bool(true)),
            (Arc::from("level"), AttrValue::Int(3)),
        ])
        .unwrap();
        assert_eq!(a.len(), 3);
        let names: Vec<&str> = a.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["legal_hold", "level", "region"]);
        assert_eq!(a.get("level"), Some(&AttrValue::Int(3)));
        assert_eq!(a.get("missing"), None);
        assert!(Attributes::default().is_empty());
        assert_eq!(Attributes::new([]).unwrap(), Attributes::EMPTY);
        assert_eq!(
            Attributes::from_json(r#"{"a":null}"#).unwrap(),
            Attributes::EMPTY
        );
    }

    #[test]
    fn new_rejects_bad_names_and_duplicates() {
        let e = Attributes::new([(Arc::from("Region"), s("eu"))]).unwrap_err();
        assert_eq!(
            e,
            AttributeError::BadName {
                name: "Region".into()
            }
        );
        let e = Attributes::new([
            (Arc::from("a"), AttrValue::Bool(true)),
            (Arc::from("a"), AttrValue::Bool(false)),
        ])
        .unwrap_err();
        assert_eq!(e, AttributeError::DuplicateKey { name: "a".into() });
        let long = "a".repeat(65);
        assert!(Attributes::new([(Arc::from(long.as_str()), AttrValue::Int(1))]).is_err());
        let ok = "a".repeat(64);
        assert!(Attributes::new([(Arc::from(ok.as_str()), AttrValue::Int(1))]).is_ok());
        let many = (0..65).map(|i| (Arc::from(format!("k{i}").as_str()), AttrValue::Int(i)));
        assert_eq!(
            Attributes::new(many).unwrap_err(),
            AttributeError::TooManyKeys
        );
    }

    #[test]
    fn json_round_trip_is_sorted_and_compact() {
        let text = r#"{"region":"eu","hold":true,"level":-4,"roles":["a","b"],"gone":null}"#;
        let a = Attributes::from_json(text).unwrap();
        assert_eq!(a.len(), 4, "null is absent");
        let json = a.to_json();
        assert_eq!(
            json,
            r#"{"hold":true,"level":-4,"region":"eu","roles":["a","b"]}"#
        );
        assert_eq!(Attributes::from_json(&json).unwrap(), a);
        assert_eq!(Attributes::default().to_json(), "{}");
    }

    #[test]
    fn yaml_round_trip() {
        let a: Attributes = serde_yaml::from_str("b: [x]\na: 1\nc: ~\n").unwrap();
        assert_eq!(a.len(), 2);
        let text = serde_yaml::to_string(&a).unwrap();
        assert_eq!(text, "a: 1\nb:\n- x\n");
    }

    fn err(text: &str) -> AttributeError {
        Attributes::from_json(text).unwrap_err()
    }

    #[test]
    fn bad_values_name_the_key_not_the_value() {
        let e = err(r#"{"score":1.5}"#);
        assert_eq!(
            e,
            AttributeError::BadValue {
                name: "score".into(),
                found: "a float"
            }
        );
        assert!(!e.to_string().contains("1.5"));
        assert!(e.to_string().contains("`score`"));
        assert_eq!(
            err(r#"{"o":{"secret":1}}"#),
            AttributeError::BadValue {
                name: "o".into(),
                found: "an object"
            }
        );
        let e = err(r#"{"l":["ok", 7]}"#);
        assert_eq!(
            e,
            AttributeError::BadListEntry {
                name: "l".into(),
                found: "an integer"
            }
        );
        assert_eq!(
            err(r#"{"a":1,"a":2}"#),
            AttributeError::DuplicateKey { name: "a".into() }
        );
        assert_eq!(
            err(r#"{"Bad-Name":1}"#),
            AttributeError::BadName {
                name: "Bad-Name".into()
            }
        );
        assert_eq!(
            err(r#"{"big":18446744073709551615}"#),
            AttributeError::BadValue {
                name: "big".into(),
                found: "an integer out of range"
            }
        );
        let e = err(r#""topsecret""#);
        assert_eq!(e, AttributeError::NotAnObject { found: "a string" });
        assert!(!e.to_string().contains("topsecret"));
        assert!(matches!(err("{"), AttributeError::Syntax { .. }));
        assert!(matches!(err("{} x"), AttributeError::Syntax { .. }));
    }

    #[test]
    fn limits_are_enforced() {
        let long = format!(r#"{{"s":"{}"}}"#, "x".repeat(MAX_STRING_BYTES + 1));
        assert_eq!(
            err(&long),
            AttributeError::StringTooLong { name: "s".into() }
        );
        let fits = format!(r#"{{"s":"{}"}}"#, "x".repeat(MAX_STRING_BYTES));
        assert!(Attributes::from_json(&fits).is_ok());
        let list: Vec<String> = (0..=MAX_LIST_ENTRIES).map(|_| "\"a\"".to_owned()).collect();
        let text = format!(r#"{{"l":[{}]}}"#, list.join(","));
        assert_eq!(err(&text), AttributeError::ListTooLong { name: "l".into() });
        let keys: Vec<String> = (0..=MAX_KEYS).map(|i| format!("\"k{i}\":1")).collect();
        assert_eq!(
            err(&format!("{{{}}}", keys.join(","))),
            AttributeError::TooManyKeys
        );
        let huge = format!(r#"{{"s":"{}"}}"#, "x".repeat(MAX_JSON_BYTES));
        assert_eq!(err(&huge), AttributeError::TooLarge);
    }

    #[test]
    fn serde_errors_carry_the_message() {
        let e = serde_json::from_str::<Attributes>(r#"{"x":2.5}"#).unwrap_err();
        assert!(e.to_string().contains("attribute `x`"), "{e}");
    }

    #[test]
    fn identifiers() {
        for ok in ["a", "legal_hold", "a1_b2"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "1a", "_a", "A", "a-b", "a.b", "é"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }
}
