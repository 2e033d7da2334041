//! The decision snapshot file: one YAML document, written and read entry by
//! entry so that neither `record` nor `check` holds more than one decision.
//!
//! ```yaml
//! # restorectl decision snapshot: …
//! format: restorectl-snapshot/v1
//! tool: restorectl 0.1.0
//! directory: sqlite            # the URL's kind only: a URL may hold a password
//! at: 2026-11-24T10:00:00Z
//! all_tenants: true
//! tenants:
//! - acme
//! policy: default-restore
//! version: 1.0.0
//! digest: sha256:…
//! entries:
//! - tenant: acme
//!   member: u_bob
//!   …
//! ```
//!
//! Any YAML tool reads the file as one document. This reader reads the
//! layout the writer produces: the header up to the line `entries:`, then
//! each entry from a line starting with `- ` up to the next such line. Entries
//! come in strictly increasing (tenant, member) order, each of a tenant the
//! header lists.
//!
//! Version compatibility: the `format` must be exactly
//! `restorectl-snapshot/v1`, and the recording tool's version must be
//! compatible with this one as Cargo reads versions (same major version;
//! for 0.x the same minor, for 0.0.x the same patch), because a tool of
//! another version may decide differently and the snapshot would then report
//! the tool's change as the rules'. Anything else is an error asking to
//! re-record.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use restore_directory::snapshot::zoned_timestamp;
use restore_engine::vocabulary::format_timestamp;
use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;

use crate::changes::{excerpt, DecisionSummary};

/// The format this build reads and writes.
pub const FORMAT: &str = "restorectl-snapshot/v1";

/// Default bound on a snapshot file's size (`--max-snapshot-bytes`).
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;
/// Bounds on the parts of a file, so that a broken or hostile file cannot
/// make a read unbounded: one line, the header, one entry.
const MAX_LINE: usize = 64 << 10;
const MAX_HEADER: usize = 16 << 20;
const MAX_ENTRY: usize = 1 << 20;

/// This tool, as recorded in a snapshot's header.
pub fn tool() -> String {
    format!("restorectl {}", env!("CARGO_PKG_VERSION"))
}

/// The header: how and when the snapshot was recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    /// `restorectl VERSION`.
    pub tool: String,
    /// The directory URL's kind (`memory`, `sqlite`, `postgres`, `plugin`);
    /// informational: a check may read the same data from another backend.
    pub directory: String,
    #[serde(serialize_with = "timestamp", deserialize_with = "zoned_timestamp")]
    pub at: DateTime<Utc>,
    /// Recorded without `--tenant`: a check covers every tenant of the
    /// directory then, so a new tenant's members show as added.
    pub all_tenants: bool,
    /// The tenants covered, sorted.
    pub tenants: Vec<String>,
    /// The policy in force at `at`, and the digest of its rule file.
    pub policy: String,
    pub version: String,
    pub digest: String,
    /// The `--context NAME=VALUE` values the decisions were made with;
    /// `check` decides with them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
}

fn timestamp<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(*t))
}

/// Why a snapshot file cannot be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SnapshotFileError {
    #[error("snapshot `{file}`: {source}")]
    Io { file: String, source: io::Error },
    #[error("snapshot `{file}` is not a regular file")]
    NotRegular { file: String },
    #[error("snapshot `{file}` is larger than the limit of {limit} bytes (--max-snapshot-bytes)")]
    TooLarge { file: String, limit: u64 },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("snapshot `{file}` has format `{found}`; this restorectl reads `{FORMAT}`: re-record it with `restorectl snapshot record`")]
    Format { file: String, found: String },
    #[error("snapshot `{file}` was recorded by `{found}`; this is `{ours}`, which reads snapshots of compatible versions only: re-record it with `restorectl snapshot record`")]
    ToolVersion {
        file: String,
        found: String,
        ours: String,
    },
}

/// Reads a snapshot entry by entry.
pub struct Reader {
    file: String,
    input: BufReader<io::Take<File>>,
    limit: u64,
    /// Number of the last line read.
    line: usize,
    /// A line read but not yet consumed, with its number: the next entry's first.
    pending: Option<(usize, String)>,
    header: Header,
    last: Option<(String, String)>,
}

impl Reader {
    /// Opens `path` (a regular file of at most `limit` bytes) and reads its header.
    pub fn open(path: &Path, limit: u64) -> Result<Reader, SnapshotFileError> {
        let file = path.display().to_string();
        let io = |source| SnapshotFileError::Io {
            file: file.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(SnapshotFileError::NotRegular { file });
        }
        if meta.len() > limit {
            return Err(SnapshotFileError::TooLarge { file, limit });
        }
        let handle = File::open(path).map_err(io)?;
        // One byte over the limit tells a file that grew while being read.
        let input = BufReader::new(handle.take(limit.saturating_add(1)));
        let mut reader = Reader {
            file,
            input,
            limit,
            line: 0,
            pending: None,
            header: placeholder_header(),
            last: None,
        };
        reader.header = reader.read_header()?;
        Ok(reader)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    fn syntax(&self, line: usize, column: usize, message: impl Into<String>) -> SnapshotFileError {
        SnapshotFileError::Syntax {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The next line without its line break, or `None` at the end.
    fn next_line(&mut self) -> Result<Option<String>, SnapshotFileError> {
        let mut buf = Vec::new();
        let n = (&mut self.input)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|source| SnapshotFileError::Io {
                file: self.file.clone(),
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.input.get_ref().limit() == 0 {
            return Err(SnapshotFileError::TooLarge {
                file: self.file.clone(),
                limit: self.limit,
            });
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        } else if buf.len() > MAX_LINE {
            return Err(self.syntax(
                self.line,
                1,
                format!("line is longer than {MAX_LINE} bytes"),
            ));
        }
        let mut text = String::from_utf8(buf)
            .map_err(|e| self.syntax(self.line, e.utf8_error().valid_up_to() + 1, "not UTF-8"))?;
        if self.line == 1 && text.starts_with('\u{feff}') {
            text.remove(0);
        }
        Ok(Some(text))
    }

    fn read_header(&mut self) -> Result<Header, SnapshotFileError> {
        let mut text = String::new();
        loop {
            let Some(line) = self.next_line()? else {
                return Err(self.syntax(
                    self.line.max(1),
                    1,
                    "no `entries:` line: not a decision snapshot (`restorectl snapshot record` writes one)",
                ));
            };
            if line == "entries:" {
                break;
            }
            text.push_str(&line);
            text.push('\n');
            if text.len() > MAX_HEADER {
                return Err(self.syntax(
                    self.line,
                    1,
                    format!("header is longer than {MAX_HEADER} bytes"),
                ));
            }
        }
        // The format and tool first: a file of another version gets that
        // answer, not complaints about fields it may legitimately have.
        #[derive(Deserialize)]
        struct Probe {
            format: Option<serde_yaml::Value>,
            tool: Option<serde_yaml::Value>,
        }
        let probe: Probe = serde_yaml::from_str(&text).map_err(|e| self.yaml_error(&e, 0, 0))?;
        let format = probe.format.as_ref().and_then(|f| f.as_str());
        match format {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(SnapshotFileError::Format {
                    file: self.file.clone(),
                    found: excerpt(other),
                })
            }
            None => return Err(self.syntax(1, 1, "the header has no `format` (a string)")),
        }
        let ours = tool();
        match probe.tool.as_ref().and_then(|t| t.as_str()) {
            Some(found) if compatible(found, &ours) => {}
            Some(found) => {
                return Err(SnapshotFileError::ToolVersion {
                    file: self.file.clone(),
                    found: excerpt(found),
                    ours,
                })
            }
            None => return Err(self.syntax(1, 1, "the header has no `tool` (a string)")),
        }
        let header: Header = serde_yaml::from_str(&text).map_err(|e| self.yaml_error(&e, 0, 0))?;
        let unsorted = header.tenants.windows(2).find_map(|w| match w {
            [a, b] if a >= b => Some((a, b)),
            _ => None,
        });
        if let Some((a, b)) = unsorted {
            return Err(self.syntax(
                1,
                1,
                format!(
                    "`tenants` must be sorted and unique; `{}` comes after `{}`",
                    excerpt(b),
                    excerpt(a)
                ),
            ));
        }
        Ok(header)
    }

    /// A YAML error at `line_offset` lines and `column_offset` columns into the file.
    fn yaml_error(
        &self,
        e: &serde_yaml::Error,
        line_offset: usize,
        column_offset: usize,
    ) -> SnapshotFileError {
        let (line, column) = e
            .location()
            .map(|l| (l.line() + line_offset, l.column() + column_offset))
            .unwrap_or((line_offset.max(1), 1));
        // serde's messages may quote a value: keep them short and escaped.
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        // An entry is parsed as a one-element list: name paths from the entry.
        let message = match message.strip_prefix(".[0].") {
            Some(rest) => match rest.split_once(": ") {
                Some((path, what)) => format!("at `{path}`: {what}"),
                None => rest.to_owned(),
            },
            None => message.to_owned(),
        };
        let message = if message.chars().count() > 200 {
            format!(
                "{}…",
                excerpt(&message.chars().take(200).collect::<String>())
            )
        } else {
            crate::changes::escape(&message).into_owned()
        };
        self.syntax(line, column, message)
    }

    /// The next entry and the line it starts on, or `None` at the end.
    pub fn next_entry(&mut self) -> Result<Option<(usize, DecisionSummary)>, SnapshotFileError> {
        let (start, first) = loop {
            let next = match self.pending.take() {
                Some(pending) => Some(pending),
                None => self.next_line()?.map(|l| (self.line, l)),
            };
            match next {
                None => return Ok(None),
                Some((_, l)) if l.trim().is_empty() || l.starts_with('#') => continue,
                Some((n, l)) if l.starts_with("- ") => break (n, l),
                Some((n, _)) => {
                    return Err(self.syntax(n, 1, "expected an entry starting with `- tenant: …`"))
                }
            }
        };
        let mut chunk = first;
        chunk.push('\n');
        while let Some(line) = self.next_line()? {
            if line.starts_with("- ") {
                self.pending = Some((self.line, line));
                break;
            }
            if !(line.is_empty() || line.starts_with(' ') || line.starts_with('#')) {
                return Err(self.syntax(
                    self.line,
                    1,
                    "expected an indented line of the entry, or the next entry starting with `- `",
                ));
            }
            chunk.push_str(&line);
            chunk.push('\n');
            if chunk.len() > MAX_ENTRY {
                return Err(self.syntax(
                    start,
                    1,
                    format!("entry is longer than {MAX_ENTRY} bytes"),
                ));
            }
        }
        let entries: Vec<DecisionSummary> =
            serde_yaml::from_str(&chunk).map_err(|e| self.yaml_error(&e, start - 1, 0))?;
        let [entry]: [DecisionSummary; 1] = entries
            .try_into()
            .map_err(|_| self.syntax(start, 1, "expected exactly one entry"))?;
        if self.header.tenants.binary_search(&entry.tenant).is_err() {
            return Err(self.syntax(
                start,
                1,
                format!(
                    "tenant `{}` is not among the header's `tenants`",
                    excerpt(&entry.tenant)
                ),
            ));
        }
        let key = (entry.tenant.clone(), entry.member.clone());
        if let Some(last) = &self.last {
            if *last >= key {
                return Err(self.syntax(
                    start,
                    1,
                    format!(
                        "entries must be in (tenant, member) order without repeats; `{}/{}` comes after `{}/{}`",
                        excerpt(&key.0),
                        excerpt(&key.1),
                        excerpt(&last.0),
                        excerpt(&last.1)
                    ),
                ));
            }
        }
        self.last = Some(key);
        Ok(Some((start, entry)))
    }
}

fn placeholder_header() -> Header {
    Header {
        format: String::new(),
        tool: String::new(),
        directory: String::new(),
        at: DateTime::<Utc>::MIN_UTC,
        all_tenants: false,
        tenants: Vec::new(),
        policy: String::new(),
        version: String::new(),
        digest: String::new(),
        context: Vec::new(),
    }
}

/// `major.minor.patch` of `restorectl X.Y.Z[-pre]`.
fn version_of(tool: &str) -> Option<(u64, u64, u64)> {
    let version = tool.strip_prefix("restorectl ")?;
    let core = version.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let v = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(v)
}

/// Cargo's compatibility: same major; for 0.x the same minor; for 0.0.x the same patch.
fn compatible(found: &str, ours: &str) -> bool {
    match (version_of(found), version_of(ours)) {
        (Some(a), Some(b)) => match (a, b) {
            ((0, 0, p), (0, 0, q)) => p == q,
            ((0, m, _), (0, n, _)) => m == n,
            ((x, _, _), (y, _, _)) => x == y,
        },
        _ => false,
    }
}

/// Writes a snapshot to a temporary file beside its target; `finish` puts it
/// in place, so an interrupted or failed run leaves the target as it was.
pub struct Writer {
    out: BufWriter<tempfile::NamedTempFile>,
    target: PathBuf,
    entries: u64,
}

impl Writer {
    pub fn create(target: &Path, header: &Header) -> anyhow::Result<Writer> {
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let temp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| anyhow::anyhow!("cannot write beside `{}`: {e}", target.display()))?;
        let mut out = BufWriter::new(temp);
        out.write_all(
            b"# restorectl decision snapshot: `restorectl snapshot check` compares the rules' \
              decisions with these.\n",
        )?;
        serde_yaml::to_writer(&mut out, header)?;
        out.write_all(b"entries:\n")?;
        Ok(Writer {
            out,
            target: target.to_owned(),
            entries: 0,
        })
    }

    pub fn write(&mut self, entry: &DecisionSummary) -> anyhow::Result<()> {
        serde_yaml::to_writer(&mut self.out, std::slice::from_ref(entry))?;
        self.entries += 1;
        Ok(())
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Moves the written file over the target.
    pub fn finish(self) -> anyhow::Result<()> {
        let target = self.target;
        let temp = self.out.into_inner().map_err(|e| e.into_error())?;
        temp.as_file().sync_all()?;
        temp.persist(&target)
            .map_err(|e| anyhow::anyhow!("writing `{}`: {}", target.display(), e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_versions_are_compatible_as_cargo_reads_them() {
        assert!(compatible("restorectl 0.1.0", "restorectl 0.1.7"));
        assert!(!compatible("restorectl 0.2.0", "restorectl 0.1.0"));
        assert!(compatible("restorectl 1.0.0", "restorectl 1.4.2"));
        assert!(!compatible("restorectl 2.0.0", "restorectl 1.4.2"));
        assert!(!compatible("restorectl 0.0.1", "restorectl 0.0.2"));
        assert!(compatible("restorectl 0.1.0-rc.1", "restorectl 0.1.0"));
        assert!(!compatible("othertool 0.1.0", "restorectl 0.1.0"));
        assert!(!compatible("restorectl 0.1", "restorectl 0.1.0"));
    }
}
