//! Bounded reads of the files users name: rule files, snapshot files, and
//! any other text file a command reads whole.
//!
//! [`read_text_file`] opens only regular files (a device such as `/dev/zero`,
//! a FIFO or a directory is refused before a byte is read, and opening never
//! blocks on a FIFO), reads at most `limit` bytes, and refuses a larger file
//! with an error naming the file and the limit. A UTF-8 byte-order mark at
//! the start is dropped (it is legal in YAML and JSON files).
//!
//! Limits come from the caller; [`limit_from_env`] reads an override from an
//! environment variable (`RESTORECTL_MAX_RULE_FILE_BYTES`,
//! `RESTORECTL_MAX_SNAPSHOT_BYTES`), e.g. `64M`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use thiserror::Error;

/// Environment variable overriding [`DEFAULT_RULE_FILE_LIMIT`].
pub const RULE_FILE_LIMIT_VAR: &str = "RESTORECTL_MAX_RULE_FILE_BYTES";
/// The largest rule file read by default: 16 MiB (the default policy is
/// about 10 KiB; 20,000 blockers are about 4 MiB).
pub const DEFAULT_RULE_FILE_LIMIT: u64 = 16 << 20;
/// Environment variable overriding [`DEFAULT_SNAPSHOT_LIMIT`].
pub const SNAPSHOT_LIMIT_VAR: &str = "RESTORECTL_MAX_SNAPSHOT_BYTES";
/// The largest snapshot file read by default: 256 MiB (about a million
/// deleted members).
pub const DEFAULT_SNAPSHOT_LIMIT: u64 = 256 << 20;

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error("cannot read `{file}`: {reason}")]
    Io { file: String, reason: String },
    /// A directory, device, FIFO or socket.
    #[error("`{file}` is {kind}, not a regular file")]
    NotRegular { file: String, kind: &'static str },
    #[error("`{file}` is larger than the limit of {limit} bytes (set {variable} to raise it)")]
    TooLarge {
        file: String,
        limit: u64,
        variable: &'static str,
    },
    #[error("`{file}` is not UTF-8 text (invalid byte at line {line}, byte offset {offset})")]
    NotUtf8 {
        file: String,
        line: usize,
        offset: usize,
    },
    #[error("environment variable {variable}: `{value}` is not a size; write bytes, or e.g. `512K`, `64M`, `1G`")]
    BadLimit {
        variable: &'static str,
        value: String,
    },
}

/// A size limit and the environment variable that sets it (named in the
/// error when a file is too large).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub bytes: u64,
    pub variable: &'static str,
}

impl Limit {
    /// The rule-file limit: `RESTORECTL_MAX_RULE_FILE_BYTES` or the default.
    pub fn rule_file() -> Result<Limit, ReadError> {
        limit_from_env(RULE_FILE_LIMIT_VAR, DEFAULT_RULE_FILE_LIMIT)
    }

    /// The snapshot-file limit: `RESTORECTL_MAX_SNAPSHOT_BYTES` or the default.
    pub fn snapshot() -> Result<Limit, ReadError> {
        limit_from_env(SNAPSHOT_LIMIT_VAR, DEFAULT_SNAPSHOT_LIMIT)
    }
}

/// The limit set by environment variable `variable` (bytes, or a number with
/// a `K`, `M` or `G` suffix, powers of 1024), else `default`.
pub fn limit_from_env(variable: &'static str, default: u64) -> Result<Limit, ReadError> {
    let bytes = match std::env::var(variable) {
        Ok(value) => parse_size(&value).ok_or_else(|| ReadError::BadLimit {
            variable,
            value: crate::excerpt::excerpt(&value),
        })?,
        Err(_) => default,
    };
    Ok(Limit { bytes, variable })
}

/// `1048576`, `1024K`, `1M`, `1G` (case-insensitive, optional `B`/`iB`).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let upper = text.to_ascii_uppercase();
    let upper = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, shift) = [('K', 10), ('M', 20), ('G', 30)]
        .iter()
        .find_map(|(suffix, shift)| upper.strip_suffix(*suffix).map(|d| (d, *shift)))
        .unwrap_or((upper, 0));
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1u64 << shift)
}

/// Reads the regular file `path` as UTF-8 text of at most `limit.bytes`
/// bytes, without a leading byte-order mark.
pub fn read_text_file(path: &Path, limit: Limit) -> Result<String, ReadError> {
    let bytes = read_file(path, limit)?;
    let file = || path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = 1 + e
            .as_bytes()
            .get(..offset)
            .unwrap_or_default()
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        ReadError::NotUtf8 {
            file: file(),
            line,
            offset,
        }
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// Reads the regular file `path`, at most `limit.bytes` bytes.
pub fn read_file(path: &Path, limit: Limit) -> Result<Vec<u8>, ReadError> {
    let file_name = || path.display().to_string();
    let io = |e: std::io::Error| ReadError::Io {
        file: file_name(),
        reason: e.to_string(),
    };
    // Refuse what is not a regular file before opening it: opening a FIFO
    // would wait for a writer. The check is repeated on the open handle,
    // which is what is read.
    let metadata = std::fs::metadata(path).map_err(io)?;
    check_regular(&metadata, path)?;
    let file = open_nonblocking(path).map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    check_regular(&metadata, path)?;
    if metadata.len() > limit.bytes {
        return Err(too_large(path, limit));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    // One byte more than the limit tells a file that grew apart from one
    // exactly at the limit.
    file.take(limit.bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit.bytes {
        return Err(too_large(path, limit));
    }
    Ok(bytes)
}

fn too_large(path: &Path, limit: Limit) -> ReadError {
    ReadError::TooLarge {
        file: path.display().to_string(),
        limit: limit.bytes,
        variable: limit.variable,
    }
}

fn check_regular(metadata: &std::fs::Metadata, path: &Path) -> Result<(), ReadError> {
    let kind = metadata.file_type();
    if kind.is_file() {
        return Ok(());
    }
    Err(ReadError::NotRegular {
        file: path.display().to_string(),
        kind: describe(&kind),
    })
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: a FIFO swapped in after the check does not block the open;
    // it has no effect on reading a regular file.
    let flags = rustix::fs::OFlags::NONBLOCK.bits();
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(i32::try_from(flags).unwrap_or(0))
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limit = Limit {
        bytes: 16,
        variable: "TEST_LIMIT",
    };

    fn temp_file(name: &str, content: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("restore-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn reads_a_small_file_without_its_bom() {
        let path = temp_file("bom.yaml", b"\xef\xbb\xbfa: 1\n");
        assert_eq!(read_text_file(&path, SMALL).unwrap(), "a: 1\n");
    }

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_refused() {
        let at = temp_file("at.yaml", &[b'x'; 16]);
        assert_eq!(read_text_file(&at, SMALL).unwrap().len(), 16);
        let over = temp_file("over.yaml", &[b'x'; 17]);
        let err = read_text_file(&over, SMALL).unwrap_err();
        assert!(
            matches!(err, ReadError::TooLarge { limit: 16, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("TEST_LIMIT"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_directories_are_refused() {
        let err = read_text_file(Path::new("/dev/zero"), SMALL).unwrap_err();
        assert_eq!(
            err,
            ReadError::NotRegular {
                file: "/dev/zero".into(),
                kind: "a character device"
            }
        );
        let err = read_text_file(&std::env::temp_dir(), SMALL).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::NotRegular {
                    kind: "a directory",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let path = temp_file("latin1.yaml", b"a: 1\nb: \xe9\n");
        let err = read_text_file(&path, SMALL).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::NotUtf8 {
                    line: 2,
                    offset: 8,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("99999999999999G"), None);
    }
}
