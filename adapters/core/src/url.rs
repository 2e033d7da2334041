use std::fmt;
use std::path::PathBuf;

use restore_engine::excerpt::Excerpt;
use thiserror::Error;

/// Where a directory lives, parsed from `--directory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryUrl {
    /// `memory:FILE`: a snapshot file, YAML or JSON.
    Memory(PathBuf),
    /// `sqlite:PATH` (the embedded default).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, passed to sqlx as is.
    Postgres(String),
    /// `plugin:LIB?CONFIG`: a shared library and the config string given to it.
    Plugin { library: PathBuf, config: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UrlError {
    #[error("directory URL is empty")]
    Empty,
    /// The message shows only the scheme (an excerpt): the rest of a
    /// mistyped URL may hold a password.
    #[error("unknown directory URL scheme `{}`: expected memory:FILE, sqlite:PATH, postgres://…, or plugin:LIB?CONFIG", Excerpt(scheme_of(.url)))]
    UnknownScheme { url: String },
    #[error("directory URL `{}` names no path", Excerpt(.url))]
    MissingPath { url: String },
}

/// What comes before the first `:` (the whole text if there is none).
fn scheme_of(url: &str) -> &str {
    url.split_once(':').map_or(url, |(scheme, _)| scheme)
}

impl DirectoryUrl {
    pub fn parse(url: &str) -> Result<DirectoryUrl, UrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(UrlError::Empty);
        }
        let missing = || UrlError::MissingPath {
            url: url.to_owned(),
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let rest = url.split_once("://").map(|(_, r)| r).unwrap_or_default();
            if rest.is_empty() {
                return Err(missing());
            }
            return Ok(DirectoryUrl::Postgres(url.to_owned()));
        }
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(UrlError::UnknownScheme {
                url: url.to_owned(),
            });
        };
        // `sqlite://PATH` is accepted as well as `sqlite:PATH`, as sqlx does.
        let path = rest.strip_prefix("//").unwrap_or(rest);
        match scheme {
            "memory" | "sqlite" if path.is_empty() => Err(missing()),
            "memory" => Ok(DirectoryUrl::Memory(PathBuf::from(path))),
            "sqlite" => Ok(DirectoryUrl::Sqlite(PathBuf::from(path))),
            "plugin" => {
                let (library, config) = rest.split_once('?').unwrap_or((rest, ""));
                if library.is_empty() {
                    return Err(missing());
                }
                Ok(DirectoryUrl::Plugin {
                    library: PathBuf::from(library),
                    config: config.to_owned(),
                })
            }
            _ => Err(UrlError::UnknownScheme {
                url: url.to_owned(),
            }),
        }
    }
}

impl fmt::Display for DirectoryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirectoryUrl::Memory(p) => write!(f, "memory:{}", p.display()),
            DirectoryUrl::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            // Never print credentials.
            DirectoryUrl::Postgres(u) => match u.split_once('@') {
                Some((_, host)) => write!(f, "postgres://…@{host}"),
                None => f.write_str(u),
            },
            DirectoryUrl::Plugin { library, config } => {
                write!(f, "plugin:{}?{config}", library.display())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_scheme() {
        assert_eq!(
            DirectoryUrl::parse("memory:dir.yaml").unwrap(),
            DirectoryUrl::Memory("dir.yaml".into())
        );
        assert_eq!(
            DirectoryUrl::parse("sqlite:/tmp/x.db").unwrap(),
            DirectoryUrl::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DirectoryUrl::parse("sqlite:///tmp/x.db").unwrap(),
            DirectoryUrl::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DirectoryUrl::parse("postgres://postgres@127.0.0.1/test").unwrap(),
            DirectoryUrl::Postgres("postgres://postgres@127.0.0.1/test".into())
        );
        assert_eq!(
            DirectoryUrl::parse("plugin:./libx.so?root=/data").unwrap(),
            DirectoryUrl::Plugin {
                library: "./libx.so".into(),
                config: "root=/data".into()
            }
        );
    }

    #[test]
    fn rejects_bad_urls() {
        assert_eq!(DirectoryUrl::parse(""), Err(UrlError::Empty));
        assert!(matches!(
            DirectoryUrl::parse("mysql://x"),
            Err(UrlError::UnknownScheme { .. })
        ));
        assert!(matches!(
            DirectoryUrl::parse("memory:"),
            Err(UrlError::MissingPath { .. })
        ));
        assert!(matches!(
            DirectoryUrl::parse("nocolon"),
            Err(UrlError::UnknownScheme { .. })
        ));
    }
}
