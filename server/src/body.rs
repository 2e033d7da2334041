//! Request bodies: the JSON content-type check, the size limit's rejection,
//! and parsing with errors that name the offending field.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use serde::Deserialize;

use crate::problem::{Code, Problem};

/// A request body that declared itself JSON, read whole (within the body
/// limit); parse it with [`parse_json`] so that strings can borrow from it.
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers()) {
            return Err(Problem::new(
                Code::UnsupportedMediaType,
                "expected a body with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        Ok(JsonBytes(bytes))
    }
}

/// `application/json` or `application/<anything>+json`, parameters allowed.
fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.as_bytes();
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case(b"json")
            || subtype.len() > 5
                && subtype
                    .get(subtype.len() - 5..)
                    .is_some_and(|suffix| suffix.eq_ignore_ascii_case(b"+json")))
}

/// Reading the body failed: over the limit (413) or the connection broke.
pub fn bytes_rejection(rejection: BytesRejection) -> Problem {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(
            Code::PayloadTooLarge,
            "the request body is larger than the server accepts",
        )
    } else {
        Problem::new(Code::MalformedJson, "the request body could not be read")
    }
}

/// Parses a JSON body: syntax errors are 400 `malformed_json`; a missing,
/// unknown or ill-typed field is 422 `invalid_request` naming the field.
pub fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, Problem> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        json_problem(e.into_inner(), &path)
    })?;
    deserializer.end().map_err(|e| json_problem(e, "."))?;
    Ok(value)
}

fn json_problem(error: serde_json::Error, path: &str) -> Problem {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => Problem::new(
            Code::MalformedJson,
            format!("the body is not valid JSON: {error}"),
        ),
        Category::Data if path == "." => Problem::new(Code::InvalidRequest, error.to_string()),
        Category::Data => Problem::new(Code::InvalidRequest, format!("`{path}`: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body<'a> {
        #[serde(borrow)]
        tenant: std::borrow::Cow<'a, str>,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        member: String,
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        for text in [&b"{"[..], b"{\"tenant\": }", b"", b"{\"tenant\":\"a\"} x"] {
            let problem = parse_json::<Body>(text).unwrap_err();
            assert_eq!(problem.code, Code::MalformedJson, "{text:?}");
            assert_eq!(problem.status().as_u16(), 400);
        }
    }

    #[test]
    fn field_errors_are_invalid_request_naming_the_field() {
        let cases: [(&[u8], &str); 4] = [
            (b"{}", "missing field `tenant`"),
            (b"{\"tenant\":\"a\",\"extra\":1}", "unknown field `extra`"),
            (b"{\"tenant\":1}", "`tenant`"),
            (
                b"{\"tenant\":\"a\",\"items\":[{\"member\":\"m\"},{\"member\":2}]}",
                "`items[1].member`",
            ),
        ];
        for (text, expected) in cases {
            let problem = parse_json::<Body>(text).unwrap_err();
            assert_eq!(problem.code, Code::InvalidRequest);
            assert_eq!(problem.status().as_u16(), 422);
            let detail = problem.detail.unwrap();
            assert!(detail.contains(expected), "{detail} lacks {expected}");
        }
    }

    #[test]
    fn json_content_types() {
        let check = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_json_content_type(&headers)
        };
        assert!(check("application/json"));
        assert!(check("Application/JSON; charset=utf-8"));
        assert!(check("application/problem+json"));
        assert!(!check("text/plain"));
        assert!(!check("application/x-www-form-urlencoded"));
        assert!(!check("application/+json"));
        assert!(!is_json_content_type(&HeaderMap::new()));
    }
}
