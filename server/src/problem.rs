//! RFC 9457 problem details with the service's stable `code`s, and the
//! mapping of every error a request can meet (directory, policy selection,
//! body parsing, routing) onto them.

use std::fmt;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use restore_directory::DirectoryError;
use restore_engine::SelectError;
use serde::ser::SerializeMap;

/// The content type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// A stable, machine-readable error code (the contract's table). Clients
/// branch on `code`; `title` and `detail` are for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    MalformedJson,
    /// AuthZEN: a request the spec calls malformed (400).
    BadRequest,
    UnsupportedMediaType,
    InvalidRequest,
    UnknownActor,
    UnknownPolicy,
    DepartmentRequired,
    DeletedAfterEvaluation,
    /// The policy cannot decide on these facts (a plan no tier declares, a
    /// value missing or not fitting its declaration): not a denial.
    CannotDecide,
    /// The tenant's plan is no tier of the policy (and it has no default tier).
    UnknownTier,
    /// A value the policy reads (an attribute, a context value) is missing
    /// and has no declared default.
    MissingValue,
    /// A stored or given value does not fit its declaration.
    BadValue,
    /// The request's `context` names a value the policy does not declare.
    UnknownContext,
    UnknownTenant,
    UnknownMember,
    NotFound,
    MethodNotAllowed,
    Unauthorized,
    Forbidden,
    RestoreConflict,
    PayloadTooLarge,
    TooManyItems,
    RequestTimeout,
    Overloaded,
    DirectoryUnavailable,
    NotReady,
    DirectoryTimeout,
    Unsupported,
    ReloadFailed,
    Internal,
}

impl Code {
    /// The code as it appears in `code` and in the `type` URN.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::MalformedJson => "malformed_json",
            Code::BadRequest => "bad_request",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::InvalidRequest => "invalid_request",
            Code::UnknownActor => "unknown_actor",
            Code::UnknownPolicy => "unknown_policy",
            Code::DepartmentRequired => "department_required",
            Code::DeletedAfterEvaluation => "deleted_after_evaluation",
            Code::CannotDecide => "cannot_decide",
            Code::UnknownTier => "unknown_tier",
            Code::MissingValue => "missing_value",
            Code::BadValue => "bad_value",
            Code::UnknownContext => "unknown_context",
            Code::UnknownTenant => "unknown_tenant",
            Code::UnknownMember => "unknown_member",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::RestoreConflict => "restore_conflict",
            Code::PayloadTooLarge => "payload_too_large",
            Code::TooManyItems => "too_many_items",
            Code::RequestTimeout => "request_timeout",
            Code::Overloaded => "overloaded",
            Code::DirectoryUnavailable => "directory_unavailable",
            Code::NotReady => "not_ready",
            Code::DirectoryTimeout => "directory_timeout",
            Code::Unsupported => "unsupported",
            Code::ReloadFailed => "reload_failed",
            Code::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::MalformedJson | Code::BadRequest => StatusCode::BAD_REQUEST,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidRequest
            | Code::UnknownActor
            | Code::UnknownPolicy
            | Code::DepartmentRequired
            | Code::DeletedAfterEvaluation
            | Code::CannotDecide
            | Code::UnknownTier
            | Code::MissingValue
            | Code::BadValue
            | Code::UnknownContext
            | Code::ReloadFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Code::UnknownTenant | Code::UnknownMember | Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Forbidden => StatusCode::FORBIDDEN,
            Code::RestoreConflict => StatusCode::CONFLICT,
            Code::PayloadTooLarge | Code::TooManyItems => StatusCode::PAYLOAD_TOO_LARGE,
            Code::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Code::Overloaded | Code::DirectoryUnavailable | Code::NotReady => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Code::DirectoryTimeout => StatusCode::GATEWAY_TIMEOUT,
            Code::Unsupported => StatusCode::NOT_IMPLEMENTED,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short, fixed summary of the problem type (RFC 9457 `title`).
    pub fn title(self) -> &'static str {
        match self {
            Code::MalformedJson => "malformed JSON",
            Code::BadRequest => "bad request",
            Code::UnsupportedMediaType => "unsupported media type",
            Code::InvalidRequest => "invalid request",
            Code::UnknownActor => "unknown actor",
            Code::UnknownPolicy => "unknown policy",
            Code::DepartmentRequired => "department required",
            Code::DeletedAfterEvaluation => "deleted after the evaluation time",
            Code::CannotDecide => "the policy cannot decide",
            Code::UnknownTier => "unknown tier",
            Code::MissingValue => "missing value",
            Code::BadValue => "bad value",
            Code::UnknownContext => "unknown context",
            Code::UnknownTenant => "unknown tenant",
            Code::UnknownMember => "unknown member",
            Code::NotFound => "not found",
            Code::MethodNotAllowed => "method not allowed",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::RestoreConflict => "restore conflict",
            Code::PayloadTooLarge => "payload too large",
            Code::TooManyItems => "too many items",
            Code::RequestTimeout => "request timeout",
            Code::Overloaded => "overloaded",
            Code::DirectoryUnavailable => "directory unavailable",
            Code::NotReady => "not ready",
            Code::DirectoryTimeout => "directory timeout",
            Code::Unsupported => "unsupported",
            Code::ReloadFailed => "reload failed",
            Code::Internal => "internal error",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RFC 9457 problem: `{"type","title","status","detail","code", ...extensions}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub code: Code,
    /// What went wrong with this request; never file content or a stack trace.
    pub detail: Option<String>,
    /// Extension members (e.g. `errors` of a failed reload), in order.
    pub extensions: Vec<(&'static str, serde_json::Value)>,
}

impl Problem {
    pub fn new(code: Code, detail: impl Into<String>) -> Problem {
        Problem {
            code,
            detail: Some(detail.into()),
            extensions: Vec::new(),
        }
    }

    /// A problem whose title says it all.
    pub fn bare(code: Code) -> Problem {
        Problem {
            code,
            detail: None,
            extensions: Vec::new(),
        }
    }

    /// 500 without detail: the cause goes to the log, not to the client.
    pub fn internal() -> Problem {
        Problem::bare(Code::Internal)
    }

    pub fn with_extension(mut self, name: &'static str, value: serde_json::Value) -> Problem {
        self.extensions.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The body, compact JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising strings and JSON values into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {detail}", self.code),
            None => write!(f, "{}", self.code),
        }
    }
}

impl serde::Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(
            "type",
            &format_args!("urn:restorectl:problem:{}", self.code.as_str()),
        )?;
        map.serialize_entry("title", self.code.title())?;
        map.serialize_entry("status", &self.code.status().as_u16())?;
        if let Some(detail) = &self.detail {
            map.serialize_entry("detail", detail)?;
        }
        map.serialize_entry("code", self.code.as_str())?;
        for (name, value) in &self.extensions {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status(), self.to_json()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        match self.code {
            Code::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Code::Overloaded | Code::NotReady | Code::DirectoryUnavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl From<DirectoryError> for Problem {
    fn from(error: DirectoryError) -> Problem {
        match error {
            DirectoryError::UnknownTenant { .. } => {
                Problem::new(Code::UnknownTenant, error.to_string())
            }
            DirectoryError::UnknownMember { .. } => {
                Problem::new(Code::UnknownMember, error.to_string())
            }
            DirectoryError::UnknownActor { .. } => {
                Problem::new(Code::UnknownActor, error.to_string())
            }
            DirectoryError::MissingDepartment => {
                Problem::new(Code::DepartmentRequired, error.to_string())
            }
            DirectoryError::Conflict(_) => Problem::new(Code::RestoreConflict, error.to_string()),
            DirectoryError::Unsupported(_) => Problem::new(Code::Unsupported, error.to_string()),
            DirectoryError::Evaluation(error) => Problem::from(error),
            DirectoryError::Backend { .. } => {
                tracing::error!(error = %error_chain(&error), "directory failed");
                Problem::new(Code::DirectoryUnavailable, "the directory did not answer")
            }
            // A bad stored row, a snapshot or URL error: the server cannot
            // answer, and the reason is for the operator's log only.
            other => {
                tracing::error!(error = %error_chain(&other), "directory error");
                Problem::internal()
            }
        }
    }
}

impl From<SelectError> for Problem {
    fn from(error: SelectError) -> Problem {
        let detail = match &error {
            // The engine's text names the CLI flag; over HTTP it is a field.
            SelectError::AmbiguousPolicy { known } => {
                format!("several policies are loaded ({known}); name one with `policy`")
            }
            other => other.to_string(),
        };
        Problem::new(Code::UnknownPolicy, detail)
    }
}

/// `error: cause: cause`, for logs.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(problem: &Problem) -> serde_json::Value {
        serde_json::from_slice(&problem.to_json()).unwrap()
    }

    #[test]
    fn problem_body_has_the_rfc_9457_members_and_the_code() {
        let problem = Problem::new(Code::UnknownTenant, "unknown tenant `x`")
            .with_extension("errors", serde_json::json!([1]));
        assert_eq!(
            body(&problem),
            serde_json::json!({
                "type": "urn:restorectl:problem:unknown_tenant",
                "title": "unknown tenant",
                "status": 404,
                "detail": "unknown tenant `x`",
                "code": "unknown_tenant",
                "errors": [1],
            })
        );
        assert_eq!(
            body(&Problem::internal()),
            serde_json::json!({"type": "urn:restorectl:problem:internal",
                "title": "internal error", "status": 500, "code": "internal"})
        );
    }

    #[test]
    fn every_directory_error_maps_to_its_code() {
        let cases: Vec<(DirectoryError, Code, u16)> = vec![
            (
                DirectoryError::UnknownTenant { tenant: "t".into() },
                Code::UnknownTenant,
                404,
            ),
            (
                DirectoryError::UnknownMember {
                    tenant: "t".into(),
                    member: "m".into(),
                },
                Code::UnknownMember,
                404,
            ),
            (
                DirectoryError::UnknownActor {
                    tenant: "t".into(),
                    actor: "a".into(),
                },
                Code::UnknownActor,
                422,
            ),
            (
                DirectoryError::MissingDepartment,
                Code::DepartmentRequired,
                422,
            ),
            (
                DirectoryError::Conflict("seat taken".into()),
                Code::RestoreConflict,
                409,
            ),
            (
                DirectoryError::Unsupported("no".into()),
                Code::Unsupported,
                501,
            ),
            (
                DirectoryError::backend("connecting", std::io::Error::other("refused: secret")),
                Code::DirectoryUnavailable,
                503,
            ),
            (
                DirectoryError::BadRow {
                    table: "members",
                    key: "k".into(),
                    reason: "r".into(),
                },
                Code::Internal,
                500,
            ),
        ];
        for (error, code, status) in cases {
            let problem = Problem::from(error);
            assert_eq!(problem.code, code);
            assert_eq!(problem.status().as_u16(), status);
        }
    }

    #[test]
    fn backend_and_internal_errors_keep_their_cause_out_of_the_body() {
        let problem = Problem::from(DirectoryError::backend(
            "querying members",
            std::io::Error::other("password=hunter2"),
        ));
        let text = String::from_utf8(problem.to_json()).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("querying"), "{text}");
        let bad_row = Problem::from(DirectoryError::BadRow {
            table: "members",
            key: "secret-key".into(),
            reason: "negative seats".into(),
        });
        let text = String::from_utf8(bad_row.to_json()).unwrap();
        assert!(
            !text.contains("secret-key") && !text.contains("detail"),
            "{text}"
        );
    }

    #[test]
    fn response_headers_follow_the_code() {
        let response = Problem::bare(Code::Unauthorized).into_response();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            PROBLEM_CONTENT_TYPE
        );
        let response = Problem::bare(Code::Overloaded).into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn ambiguous_policy_names_the_field_not_the_flag() {
        let problem = Problem::from(SelectError::AmbiguousPolicy {
            known: "a, b".into(),
        });
        assert_eq!(problem.code, Code::UnknownPolicy);
        let detail = problem.detail.unwrap();
        assert!(
            detail.contains("`policy`") && !detail.contains("--policy"),
            "{detail}"
        );
    }
}
