//! Attributes in storage (docs/rule-language-next.md §6): one decoder every
//! backend uses, so that the limits and the rules (names, value types, no
//! floats, no nesting) are enforced once, and a bad stored value is a
//! [`DirectoryError::BadRow`] naming table, key and column.

use restore_engine::facts::Attributes;

use crate::DirectoryError;

/// Decodes a stored attribute object (JSON text). `key` names the row; it
/// is built only on error.
pub fn decode(
    text: &str,
    table: &'static str,
    key: impl FnOnce() -> String,
    column: &str,
) -> Result<Attributes, DirectoryError> {
    Attributes::from_json(text).map_err(|e| DirectoryError::BadRow {
        table,
        key: key(),
        reason: format!("{column}: {e}"),
    })
}

/// [`decode`] for a nullable column: `NULL` is no attributes.
pub fn decode_column(
    text: Option<&str>,
    table: &'static str,
    key: impl FnOnce() -> String,
    column: &str,
) -> Result<Attributes, DirectoryError> {
    match text {
        None => Ok(Attributes::default()),
        Some(text) => decode(text, table, key, column),
    }
}

/// The stored form: canonical JSON (keys sorted, compact), or `None` (SQL
/// `NULL`) when there are none.
pub fn encode(attributes: &Attributes) -> Option<String> {
    (!attributes.is_empty()).then(|| attributes.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_canonical_form() {
        let a = decode(r#"{"b":[ "x"],"a":true, "n": null}"#, "t", String::new, "c").unwrap();
        assert_eq!(encode(&a).as_deref(), Some(r#"{"a":true,"b":["x"]}"#));
        assert_eq!(encode(&Attributes::default()), None);
        assert_eq!(
            decode_column(None, "t", String::new, "c").unwrap(),
            Attributes::default()
        );
        assert_eq!(
            decode("{}", "t", String::new, "c").unwrap(),
            Attributes::default()
        );
    }

    #[test]
    fn a_bad_value_names_table_key_and_column() {
        for (text, said) in [
            (r#"{"rate": 1.5}"#, "`rate`"),
            (r#"{"a": {"b": 1}}"#, "`a`"),
            (r#"{"Bad": 1}"#, "`Bad`"),
            (r#"[1]"#, "object"),
            (r#"{"a": 1"#, "JSON"),
        ] {
            match decode(text, "members", || "t/m".into(), "attributes") {
                Err(DirectoryError::BadRow { table, key, reason }) => {
                    assert_eq!((table, key.as_str()), ("members", "t/m"), "{text}");
                    assert!(reason.starts_with("attributes: "), "{reason}");
                    assert!(reason.contains(said), "{text}: {reason}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
