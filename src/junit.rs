//! JUnit XML reports (`--junit FILE` on `test` and `snapshot check`), the
//! format CI systems (GitHub Actions reporters, GitLab, Jenkins) show natively.
//!
//! Test cases are spooled to an anonymous temporary file as they are decided,
//! so a report of a million members needs no memory for them; the counts the
//! `<testsuite>` element carries are known only at the end, when the report
//! is assembled into a temporary file beside `FILE` and renamed over it.
//! Nothing is written to `FILE` unless the whole run succeeded.

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::Path;

use anyhow::Context;

/// One `<testsuite>` being written.
pub struct JunitReport {
    suite: String,
    spool: BufWriter<File>,
    tests: u64,
    failures: u64,
}

impl JunitReport {
    /// A report with one test suite named `suite`.
    pub fn new(suite: &str) -> anyhow::Result<JunitReport> {
        let spool =
            tempfile::tempfile().context("creating a temporary file for the JUnit report")?;
        Ok(JunitReport {
            suite: suite.to_owned(),
            spool: BufWriter::new(spool),
            tests: 0,
            failures: 0,
        })
    }

    /// A passing test case.
    pub fn pass(&mut self, classname: &str, name: &str) -> io::Result<()> {
        self.tests += 1;
        writeln!(
            self.spool,
            "    <testcase classname=\"{}\" name=\"{}\"/>",
            attribute(classname),
            attribute(name)
        )
    }

    /// A failing test case: `message` is the one-line reason CI systems
    /// show in their summary, `details` the full text.
    pub fn fail(
        &mut self,
        classname: &str,
        name: &str,
        message: &str,
        details: &str,
    ) -> io::Result<()> {
        self.tests += 1;
        self.failures += 1;
        writeln!(
            self.spool,
            "    <testcase classname=\"{}\" name=\"{}\">\n      \
             <failure message=\"{}\" type=\"failure\">{}</failure>\n    </testcase>",
            attribute(classname),
            attribute(name),
            attribute(message),
            text(details)
        )
    }

    /// Writes the report to `path`, replacing it whole.
    pub fn write_to(self, path: &Path) -> anyhow::Result<()> {
        let write = || -> anyhow::Result<()> {
            let mut spool = self.spool.into_inner().map_err(|e| e.into_error())?;
            spool.rewind()?;
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => Path::new("."),
            };
            let mut out = BufWriter::new(tempfile::NamedTempFile::new_in(dir)?);
            let suite = attribute(&self.suite);
            write!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <testsuites name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">\n  \
                 <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n",
                tests = self.tests,
                failures = self.failures,
            )?;
            io::copy(&mut spool, &mut out)?;
            out.write_all(b"  </testsuite>\n</testsuites>\n")?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.as_file().sync_all()?;
            file.persist(path)?;
            Ok(())
        };
        write().with_context(|| format!("writing the JUnit report `{}`", path.display()))
    }
}

/// Escapes `s` for XML character data. Characters XML 1.0 cannot carry at
/// all (most C0 controls, U+FFFE, U+FFFF) and C1 controls are written as
/// visible `\u{..}` text, so the report stays well-formed and readable.
pub fn text(s: &str) -> String {
    escape(s, false)
}

/// Escapes `s` for a double-quoted XML attribute; line breaks and tabs
/// become character references so that they survive attribute normalisation.
pub fn attribute(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(text("a<b>&\"c\"\n"), "a&lt;b&gt;&amp;\"c\"\n");
        assert_eq!(attribute("x\"\ny\t"), "x&quot;&#10;y&#9;");
        assert_eq!(
            text("bell\u{7}nul\u{0}esc\u{1b}"),
            "bell\\u{7}nul\\u{0}esc\\u{1b}"
        );
        assert_eq!(text("c1\u{85}\u{FFFF}"), "c1\\u{85}\\u{ffff}");
        assert_eq!(text("ünïcödé ✓"), "ünïcödé ✓");
    }
}
