//! Bearer tokens: the `--tokens` file, and the [`Caller`] every protected
//! handler extracts.
//!
//! The file holds only the sha256 digest of each token. A presented token
//! is hashed and compared with every digest in constant time (`subtle`),
//! visiting all entries whatever matches, so timing tells nothing about
//! which digest, or how much of one, matched.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::problem::{Code, Problem};
use crate::state::AppState;

/// Largest tokens file read; a bigger one is an error, not a truncation.
pub const MAX_TOKENS_FILE_BYTES: u64 = 1024 * 1024;

/// What a token may do. `restore` includes `decide`; `admin` is separate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Eligibility (single, batch, stream) and AuthZEN evaluations.
    Decide,
    /// Restores, and everything `decide` may do.
    Restore,
    /// Reloads and the policy list; nothing else.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Decide => "decide",
            Scope::Restore => "restore",
            Scope::Admin => "admin",
        }
    }
}

/// Which tenants a token may ask about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantGrant {
    All,
    Only(HashSet<Box<str>>),
}

/// One token from the file (its digest, never the token).
#[derive(Debug, Clone)]
pub struct TokenEntry {
    pub name: Arc<str>,
    digest: [u8; 32],
    decide: bool,
    restore: bool,
    admin: bool,
    tenants: TenantGrant,
}

/// Why a tokens file was refused; always names the file, and the place in it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokensError {
    #[error("tokens file `{file}`: {message}")]
    Read { file: String, message: String },
    #[error("tokens file `{file}` is larger than {MAX_TOKENS_FILE_BYTES} bytes")]
    TooLarge { file: String },
    #[error("tokens file `{file}`: {message}")]
    Syntax { file: String, message: String },
    #[error("tokens file `{file}`, `{place}`: {message}")]
    Invalid {
        file: String,
        place: String,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    tokens: Vec<TokenFileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFileEntry {
    name: String,
    sha256: String,
    scopes: Vec<Scope>,
    tenants: Vec<String>,
}

/// The tokens the server accepts.
#[derive(Debug, Clone)]
pub struct Tokens {
    entries: Vec<Arc<TokenEntry>>,
}

impl Tokens {
    /// Reads and validates a tokens file (at most [`MAX_TOKENS_FILE_BYTES`]).
    pub fn load(path: &Path) -> Result<Tokens, TokensError> {
        let file = path.display().to_string();
        let read_error = |e: std::io::Error| TokensError::Read {
            file: file.clone(),
            message: e.to_string(),
        };
        let handle = std::fs::File::open(path).map_err(read_error)?;
        let mut text = String::new();
        handle
            .take(MAX_TOKENS_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        if text.len() as u64 > MAX_TOKENS_FILE_BYTES {
            return Err(TokensError::TooLarge { file });
        }
        Tokens::parse(&file, &text)
    }

    /// Parses a tokens file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Tokens, TokensError> {
        let parsed: TokensFile = serde_yaml::from_str(text).map_err(|e| TokensError::Syntax {
            file: file.to_owned(),
            // The YAML error says where (line, column) and what was expected;
            // it does not quote values, so no token leaks into a log.
            message: e.to_string(),
        })?;
        let invalid = |place: String, message: &str| TokensError::Invalid {
            file: file.to_owned(),
            place,
            message: message.to_owned(),
        };
        if parsed.tokens.is_empty() {
            return Err(invalid(
                "tokens".into(),
                "no tokens: the server would refuse every request",
            ));
        }
        let mut names = HashSet::new();
        let mut digests = HashSet::new();
        let mut entries = Vec::with_capacity(parsed.tokens.len());
        for (i, entry) in parsed.tokens.into_iter().enumerate() {
            let place = |field: &str| format!("tokens[{i}].{field}");
            let name = entry.name.trim();
            if name.is_empty() {
                return Err(invalid(place("name"), "is blank"));
            }
            if !names.insert(name.to_owned()) {
                return Err(invalid(place("name"), &format!("`{name}` is used twice")));
            }
            let digest = parse_digest(&entry.sha256).ok_or_else(|| {
                // Not quoted: a raw token pasted here by mistake must not reach a log.
                invalid(
                    place("sha256"),
                    "must be 64 hex digits: the sha256 of the token's bytes",
                )
            })?;
            if !digests.insert(digest) {
                return Err(invalid(
                    place("sha256"),
                    "the same digest is listed for another token",
                ));
            }
            if entry.scopes.is_empty() {
                return Err(invalid(
                    place("scopes"),
                    "is empty; list decide, restore or admin",
                ));
            }
            let tenants = if entry.tenants.iter().any(|t| t == "*") {
                if entry.tenants.len() > 1 {
                    return Err(invalid(place("tenants"), "`*` (every tenant) stands alone"));
                }
                TenantGrant::All
            } else if entry.tenants.is_empty() {
                return Err(invalid(
                    place("tenants"),
                    "is empty; list tenant ids or `*`",
                ));
            } else {
                if let Some(blank) = entry.tenants.iter().position(|t| t.trim().is_empty()) {
                    return Err(invalid(format!("tokens[{i}].tenants[{blank}]"), "is blank"));
                }
                TenantGrant::Only(entry.tenants.into_iter().map(Into::into).collect())
            };
            let has = |scope| entry.scopes.contains(&scope);
            entries.push(Arc::new(TokenEntry {
                name: Arc::from(name),
                digest,
                decide: has(Scope::Decide) || has(Scope::Restore),
                restore: has(Scope::Restore),
                admin: has(Scope::Admin),
                tenants,
            }));
        }
        Ok(Tokens { entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry whose digest is the sha256 of `token`, compared in constant
    /// time against every entry.
    pub fn authenticate(&self, token: &[u8]) -> Option<&Arc<TokenEntry>> {
        let presented: [u8; 32] = Sha256::digest(token).into();
        let mut found = subtle::Choice::from(0);
        let mut index = 0u32;
        for (i, entry) in self.entries.iter().enumerate() {
            let matches = entry.digest.ct_eq(&presented);
            index.conditional_assign(&(i as u32), matches);
            found |= matches;
        }
        bool::from(found)
            .then(|| self.entries.get(index as usize))
            .flatten()
    }
}

/// 64 hex digits (either case) into 32 bytes.
fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Who is asking, and what they may do. Without `--tokens` every caller is
/// `anonymous` with every scope and every tenant (the server then listens on
/// loopback only).
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: Arc<str>,
    entry: Option<Arc<TokenEntry>>,
}

impl Caller {
    /// The caller when the server runs without tokens.
    pub fn anonymous() -> Caller {
        static NAME: std::sync::LazyLock<Arc<str>> =
            std::sync::LazyLock::new(|| Arc::from("anonymous"));
        Caller {
            name: Arc::clone(&NAME),
            entry: None,
        }
    }

    pub fn from_entry(entry: &Arc<TokenEntry>) -> Caller {
        Caller {
            name: entry.name.clone(),
            entry: Some(entry.clone()),
        }
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        match &self.entry {
            None => true,
            Some(entry) => match scope {
                Scope::Decide => entry.decide,
                Scope::Restore => entry.restore,
                Scope::Admin => entry.admin,
            },
        }
    }

    /// 403 `forbidden` unless the token has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), Problem> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(Problem::new(
                Code::Forbidden,
                format!("this token lacks the `{}` scope", scope.as_str()),
            ))
        }
    }

    pub fn may_access_tenant(&self, tenant: &str) -> bool {
        match &self.entry {
            None => true,
            Some(entry) => match &entry.tenants {
                TenantGrant::All => true,
                TenantGrant::Only(tenants) => tenants.contains(tenant),
            },
        }
    }

    /// 403 `forbidden` unless the token is granted `tenant`. Checked before
    /// any directory lookup, and worded the same whether or not the tenant
    /// exists.
    pub fn require_tenant(&self, tenant: &str) -> Result<(), Problem> {
        if self.may_access_tenant(tenant) {
            Ok(())
        } else {
            Err(Problem::new(
                Code::Forbidden,
                "this token is not granted this tenant",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let Some(tokens) = &state.tokens else {
            return Ok(Caller::anonymous());
        };
        let token = bearer_token(parts).ok_or_else(|| {
            Problem::new(Code::Unauthorized, "send `Authorization: Bearer <token>`")
        })?;
        tokens
            .authenticate(token)
            .map(Caller::from_entry)
            .ok_or_else(|| Problem::new(Code::Unauthorized, "the bearer token is not valid"))
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any case).
fn bearer_token(parts: &Parts) -> Option<&[u8]> {
    let value = parts.headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = token.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_hex(token: &str) -> String {
        hex::encode(Sha256::digest(token.as_bytes()))
    }

    fn tokens() -> Tokens {
        let text = format!(
            "tokens:\n\
             - {{name: reader, sha256: {}, scopes: [decide], tenants: ['*']}}\n\
             - {{name: acme-restorer, sha256: {}, scopes: [restore], tenants: [acme]}}\n\
             - {{name: ops, sha256: {}, scopes: [admin], tenants: ['*']}}\n",
            digest_hex("read-token"),
            digest_hex("acme-token"),
            digest_hex("ops-token").to_uppercase(),
        );
        Tokens::parse("tokens.yaml", &text).unwrap()
    }

    #[test]
    fn authenticate_finds_the_entry_whose_digest_matches() {
        let tokens = tokens();
        assert_eq!(tokens.len(), 3);
        assert_eq!(&*tokens.authenticate(b"read-token").unwrap().name, "reader");
        assert_eq!(
            &*tokens.authenticate(b"acme-token").unwrap().name,
            "acme-restorer"
        );
        // Upper-case hex in the file is accepted.
        assert_eq!(&*tokens.authenticate(b"ops-token").unwrap().name, "ops");
        assert!(tokens.authenticate(b"read-token ").is_none());
        assert!(tokens.authenticate(b"").is_none());
        // The digest itself is not a token.
        assert!(tokens
            .authenticate(digest_hex("read-token").as_bytes())
            .is_none());
    }

    #[test]
    fn scopes_restore_implies_decide_and_admin_implies_nothing_else() {
        let tokens = tokens();
        let caller = |t: &[u8]| Caller::from_entry(tokens.authenticate(t).unwrap());
        let reader = caller(b"read-token");
        assert!(reader.require(Scope::Decide).is_ok());
        assert_eq!(
            reader.require(Scope::Restore).unwrap_err().code,
            Code::Forbidden
        );
        assert_eq!(
            reader.require(Scope::Admin).unwrap_err().code,
            Code::Forbidden
        );
        let restorer = caller(b"acme-token");
        assert!(restorer.require(Scope::Decide).is_ok());
        assert!(restorer.require(Scope::Restore).is_ok());
        assert!(restorer.require(Scope::Admin).is_err());
        let ops = caller(b"ops-token");
        assert!(ops.require(Scope::Admin).is_ok());
        assert!(ops.require(Scope::Decide).is_err());
        assert!(ops.require(Scope::Restore).is_err());
        let anonymous = Caller::anonymous();
        assert!([Scope::Decide, Scope::Restore, Scope::Admin]
            .iter()
            .all(|s| anonymous.has_scope(*s)));
        assert_eq!(&*anonymous.name, "anonymous");
    }

    #[test]
    fn tenant_binding_is_checked_with_one_answer_for_every_other_tenant() {
        let tokens = tokens();
        let bound = Caller::from_entry(tokens.authenticate(b"acme-token").unwrap());
        assert!(bound.require_tenant("acme").is_ok());
        let other = bound.require_tenant("globex").unwrap_err();
        let missing = bound.require_tenant("no-such-tenant").unwrap_err();
        assert_eq!(other.code, Code::Forbidden);
        assert_eq!(other, missing, "must not reveal whether a tenant exists");
        let all = Caller::from_entry(tokens.authenticate(b"read-token").unwrap());
        assert!(all.require_tenant("globex").is_ok());
        assert!(Caller::anonymous().require_tenant("anything").is_ok());
    }

    #[test]
    fn bearer_header_parsing() {
        let parts = |value: &str| {
            let request = axum::http::Request::builder()
                .header(header::AUTHORIZATION, value)
                .body(())
                .unwrap();
            request.into_parts().0
        };
        assert_eq!(bearer_token(&parts("Bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer_token(&parts("bearer  abc ")), Some(&b"abc"[..]));
        assert_eq!(bearer_token(&parts("Basic abc")), None);
        assert_eq!(bearer_token(&parts("Bearer ")), None);
        assert_eq!(bearer_token(&parts("Bearer")), None);
        let (empty, _) = axum::http::Request::new(()).into_parts();
        assert_eq!(bearer_token(&empty), None);
    }

    fn parse_error(text: &str) -> String {
        Tokens::parse("t.yaml", text).unwrap_err().to_string()
    }

    #[test]
    fn bad_files_say_which_file_and_where() {
        let good = digest_hex("x");
        let error = parse_error("tokens:\n  - name: a\n    sha256: [\n");
        assert!(
            error.starts_with("tokens file `t.yaml`: ") && error.contains("line"),
            "{error}"
        );
        let error = parse_error(
            "tokens:\n  - {name: a, sha256: 1, scopes: [decide], tenants: ['*'], x: 1}\n",
        );
        assert!(error.contains("unknown field `x`"), "{error}");
        let error = parse_error(&format!(
            "tokens:\n  - {{name: a, sha256: {good}, scopes: [root], tenants: ['*']}}\n"
        ));
        assert!(error.contains("unknown variant `root`"), "{error}");
        let error = parse_error(
            "tokens:\n  - {name: a, sha256: my-secret-token, scopes: [decide], tenants: ['*']}\n",
        );
        assert_eq!(
            error,
            "tokens file `t.yaml`, `tokens[0].sha256`: must be 64 hex digits: the sha256 of the token's bytes"
        );
        assert!(!error.contains("my-secret-token"));
        let cases = [
            (format!("tokens:\n  - {{name: ' ', sha256: {good}, scopes: [decide], tenants: ['*']}}\n"), "`tokens[0].name`: is blank"),
            (format!("tokens:\n  - {{name: a, sha256: {good}, scopes: [], tenants: ['*']}}\n"), "`tokens[0].scopes`: is empty"),
            (format!("tokens:\n  - {{name: a, sha256: {good}, scopes: [decide], tenants: []}}\n"), "`tokens[0].tenants`: is empty"),
            (format!("tokens:\n  - {{name: a, sha256: {good}, scopes: [decide], tenants: ['*', acme]}}\n"), "stands alone"),
            (format!("tokens:\n  - {{name: a, sha256: {good}, scopes: [decide], tenants: [acme, '']}}\n"), "`tokens[0].tenants[1]`: is blank"),
            (format!("tokens:\n  - {{name: a, sha256: {good}, scopes: [decide], tenants: ['*']}}\n  - {{name: a, sha256: {}, scopes: [decide], tenants: ['*']}}\n", digest_hex("y")), "`tokens[1].name`: `a` is used twice"),
            (format!("tokens:\n  - {{name: a, sha256: {good}, scopes: [decide], tenants: ['*']}}\n  - {{name: b, sha256: {good}, scopes: [decide], tenants: ['*']}}\n"), "`tokens[1].sha256`: the same digest"),
            ("tokens: []\n".to_owned(), "no tokens"),
        ];
        for (text, expected) in cases {
            let error = parse_error(&text);
            assert!(error.contains(expected), "{error} lacks {expected}");
        }
    }

    #[test]
    fn load_reads_a_bounded_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.yaml");
        std::fs::write(
            &path,
            format!(
                "tokens:\n  - {{name: a, sha256: {}, scopes: [decide], tenants: ['*']}}\n",
                digest_hex("t")
            ),
        )
        .unwrap();
        assert_eq!(Tokens::load(&path).unwrap().len(), 1);
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'#'; MAX_TOKENS_FILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            Tokens::load(&big),
            Err(TokensError::TooLarge { .. })
        ));
        let missing = Tokens::load(&dir.path().join("none.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.starts_with("tokens file `") && missing.contains("none.yaml"),
            "{missing}"
        );
    }
}
