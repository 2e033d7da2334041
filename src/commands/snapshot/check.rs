//! `snapshot check` and `snapshot accept`.
//!
//! The recorded entries and today's decisions are both sorted by (tenant,
//! member), so the check is a merge: one recorded entry and one decision in
//! memory at a time. The report's per-member parts are spooled to temporary
//! files as they are found (verdict flips, other changes, members added or
//! removed) and printed after the tallies, flips first; memory stays flat
//! however many members changed, and stdout stays empty when a broken entry
//! halfway through ends the run with exit 2.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use restore_engine::vocabulary::format_timestamp;
use restore_engine::PolicySet;

use super::file::{self, Reader, Writer};
use crate::changes::{
    blockers_text, compare, escape, resource_change_text, verdict, verdict_text, warnings_text,
    Counts, DecisionSummary, MemberChange, PolicyComparison,
};
use crate::context_args::ContextArgs;
use crate::junit::JunitReport;
use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Directory of rule files (*.yaml).
    #[arg(long, value_name = "DIR")]
    pub rules: PathBuf,
    /// Directory URL: memory:FILE, sqlite:PATH, postgres://…, plugin:LIB?CONFIG.
    #[arg(long, value_name = "URL")]
    pub directory: String,
    /// The snapshot file written by `snapshot record`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Also report a change of the rule file's digest (by default a
    /// reformatted rule file that decides the same is no change).
    #[arg(long)]
    pub strict_digest: bool,
    /// On a change, replace FILE with the new decisions (exit 0) instead of
    /// writing FILE.new (exit 1).
    #[arg(long)]
    pub accept: bool,
    /// Also write a JUnit XML report to this file: one test case per member.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Refuse snapshot files larger than this.
    #[arg(long, value_name = "BYTES", default_value_t = file::DEFAULT_MAX_BYTES)]
    pub max_snapshot_bytes: u64,
    /// Decide with these context values instead of the recorded ones.
    #[command(flatten)]
    pub context: ContextArgs,
}

#[derive(Debug, clap::Args)]
pub struct AcceptArgs {
    /// The snapshot file; FILE.new replaces it.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Refuse snapshot files larger than this.
    #[arg(long, value_name = "BYTES", default_value_t = file::DEFAULT_MAX_BYTES)]
    pub max_snapshot_bytes: u64,
}

/// `FILE.new`.
fn pending_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// A temporary file the report's parts are written to.
fn spool() -> anyhow::Result<BufWriter<File>> {
    Ok(BufWriter::new(
        tempfile::tempfile().context("creating a temporary file for the report")?,
    ))
}

/// The merge of recorded entries with today's decisions.
struct Merge {
    reader: Reader,
    next_old: Option<(usize, DecisionSummary)>,
    writer: Writer,
    counts: Counts,
    flips: BufWriter<File>,
    others: BufWriter<File>,
    moved: BufWriter<File>,
    junit: Option<JunitReport>,
}

impl Merge {
    fn advance(&mut self) -> anyhow::Result<()> {
        self.next_old = self.reader.next_entry()?;
        Ok(())
    }

    /// Today's decision on one member, in (tenant, member) order.
    fn decided(&mut self, new: DecisionSummary) -> anyhow::Result<()> {
        self.writer.write(&new)?;
        loop {
            let order = match &self.next_old {
                None => Ordering::Greater,
                Some((_, old)) => (old.tenant.as_str(), old.member.as_str())
                    .cmp(&(new.tenant.as_str(), new.member.as_str())),
            };
            match order {
                Ordering::Less => {
                    if let Some((_, old)) = self.next_old.take() {
                        self.removed(&old)?;
                    }
                    self.advance()?;
                }
                Ordering::Equal => {
                    if let Some((_, old)) = self.next_old.take() {
                        self.compared(&old, &new)?;
                    }
                    return self.advance();
                }
                Ordering::Greater => return self.added(&new),
            }
        }
    }

    fn compared(&mut self, old: &DecisionSummary, new: &DecisionSummary) -> anyhow::Result<()> {
        let change = compare(old, new, PolicyComparison::Include);
        self.counts.tally(change.as_ref());
        let Some(change) = change else {
            if let Some(junit) = &mut self.junit {
                junit.pass(&new.tenant, &new.member)?;
            }
            return Ok(());
        };
        let block = member_block(&change);
        let out = if change.verdict_flipped() {
            &mut self.flips
        } else {
            &mut self.others
        };
        out.write_all(block.as_bytes())?;
        if let Some(junit) = &mut self.junit {
            junit.fail(&new.tenant, &new.member, &failure_message(&change), &block)?;
        }
        Ok(())
    }

    fn added(&mut self, new: &DecisionSummary) -> anyhow::Result<()> {
        self.counts.evaluated += 1;
        self.counts.added += 1;
        let line = format!("added   {}: {}\n", member_name(new), decision_text(new));
        self.moved.write_all(line.as_bytes())?;
        if let Some(junit) = &mut self.junit {
            junit.fail(
                &new.tenant,
                &new.member,
                "added: not in the snapshot",
                &line,
            )?;
        }
        Ok(())
    }

    fn removed(&mut self, old: &DecisionSummary) -> anyhow::Result<()> {
        self.counts.removed += 1;
        let line = format!("removed {}: was {}\n", member_name(old), decision_text(old));
        self.moved.write_all(line.as_bytes())?;
        if let Some(junit) = &mut self.junit {
            let message = "removed: no longer a deleted member of the directory";
            junit.fail(&old.tenant, &old.member, message, &line)?;
        }
        Ok(())
    }
}

fn member_name(s: &DecisionSummary) -> String {
    format!("{}/{}", escape(&s.tenant), escape(&s.member))
}

/// `allowed`, or `denied (blocker, …)`.
fn decision_text(s: &DecisionSummary) -> String {
    if let Some(error) = &s.error {
        return format!("error ({})", escape(error));
    }
    if s.blockers.is_empty() {
        verdict(s.allowed).to_owned()
    } else {
        let blockers: Vec<String> = s.blockers.iter().map(|b| escape(b).into_owned()).collect();
        format!("{} ({})", verdict(s.allowed), blockers.join(", "))
    }
}

/// One member's change: the verdict, then blockers, resources and policy.
fn member_block(c: &MemberChange) -> String {
    let mut out = format!(
        "{}/{}: {}\n",
        escape(&c.tenant),
        escape(&c.member),
        verdict_text(c)
    );
    if !c.blockers_added.is_empty() || !c.blockers_removed.is_empty() {
        out.push_str(&format!("  blockers: {}\n", blockers_text(c)));
    }
    if !c.warnings_added.is_empty() || !c.warnings_removed.is_empty() {
        out.push_str(&format!("  warnings: {}\n", warnings_text(c)));
    }
    for r in &c.resources {
        out.push_str(&format!("  resource {}\n", resource_change_text(r)));
    }
    if let Some((before, after)) = &c.policy {
        out.push_str(&format!(
            "  policy: {} -> {}\n",
            escape(before),
            escape(after)
        ));
    }
    for (label, error) in [("before", &c.error_before), ("after", &c.error_after)] {
        if let Some(error) = error {
            out.push_str(&format!("  error {label}: {}\n", escape(error)));
        }
    }
    out
}

/// The one-line summary CI systems show for a failed test case.
fn failure_message(c: &MemberChange) -> String {
    let mut parts = vec![verdict_text(c)];
    if !c.blockers_added.is_empty() || !c.blockers_removed.is_empty() {
        parts.push(format!("blockers {}", blockers_text(c)));
    }
    if !c.warnings_added.is_empty() || !c.warnings_removed.is_empty() {
        parts.push(format!("warnings {}", warnings_text(c)));
    }
    if !c.resources.is_empty() {
        parts.push(format!("{} resource(s) changed", c.resources.len()));
    }
    if c.policy.is_some() {
        parts.push("policy changed".into());
    }
    parts.join("; ")
}

pub fn check(args: CheckArgs) -> anyhow::Result<Exit> {
    let mut reader = Reader::open(&args.file, args.max_snapshot_bytes)?;
    let recorded = reader.header().clone();
    let kind = super::directory_kind(&args.directory)?;
    let set = PolicySet::load_dir(&args.rules)?;
    let policy = super::select(&set, &args.rules, Some(&recorded.policy), recorded.at)?;
    let at = recorded.at;
    let context = if args.context.context.is_empty() {
        ContextArgs {
            context: recorded.context.clone(),
        }
    } else {
        args.context.clone()
    };
    let request = context.request(policy)?;
    let pending = pending_path(&args.file);
    let junit = match &args.junit {
        Some(_) => Some(JunitReport::new(&format!(
            "restorectl snapshot check {}",
            args.file.display()
        ))?),
        None => None,
    };
    let mut merge = crate::runtime()?.block_on(async {
        let directory = crate::directory::open_read_only(&args.directory).await?;
        let tenants = if recorded.all_tenants {
            crate::sweep::tenants(directory.as_ref(), &[]).await?
        } else {
            // Sorted and unique: the reader checked.
            recorded.tenants.clone()
        };
        let header = file::Header {
            format: file::FORMAT.to_owned(),
            tool: file::tool(),
            directory: kind.to_owned(),
            at,
            all_tenants: recorded.all_tenants,
            tenants: tenants.clone(),
            policy: policy.name().to_owned(),
            version: policy.version().to_owned(),
            digest: policy.digest().to_owned(),
            context: context.context.clone(),
        };
        let target = if args.accept { &args.file } else { &pending };
        let next_old = reader.next_entry()?;
        let mut merge = Merge {
            reader,
            next_old,
            writer: Writer::create(target, &header)?,
            counts: Counts::default(),
            flips: spool()?,
            others: spool()?,
            moved: spool()?,
            junit,
        };
        let progress = crate::progress::member_spinner("checking");
        crate::sweep::each_deleted_member(directory.as_ref(), &tenants, |facts| {
            merge.decided(super::decide(policy, &facts, &request, at))?;
            progress.inc(1);
            Ok(())
        })
        .await?;
        progress.finish_and_clear();
        while let Some((_, old)) = merge.next_old.take() {
            merge.removed(&old)?;
            merge.advance()?;
        }
        anyhow::Ok(merge)
    })?;

    let digest_changed = args.strict_digest && recorded.digest != policy.digest();
    if let Some(junit) = &mut merge.junit {
        if digest_changed {
            let message = "the rule file's digest changed (--strict-digest)";
            junit.fail("rules", "digest", message, message)?;
        } else if args.strict_digest {
            junit.pass("rules", "digest")?;
        }
    }
    let changed = merge.counts.any_change() || digest_changed;
    let mut summary = format!(
        "snapshot `{}`: {} ({} {}{} at {})\n",
        args.file.display(),
        if changed {
            "decisions changed"
        } else {
            "unchanged"
        },
        escape(&recorded.policy),
        escape(&recorded.version),
        if recorded.version != policy.version() {
            format!(" -> {}", policy.version())
        } else {
            String::new()
        },
        format_timestamp(at),
    );
    if digest_changed {
        summary.push_str(&format!(
            "rules digest:       {} -> {}\n",
            escape(&recorded.digest),
            policy.digest()
        ));
    }
    merge.counts.write_text(&mut summary);

    let Merge {
        writer,
        flips,
        others,
        moved,
        junit,
        ..
    } = merge;
    // The report first: a JUnit path that cannot be written leaves no FILE.new.
    if let (Some(junit), Some(path)) = (junit, &args.junit) {
        junit.write_to(path)?;
    }
    let mut footer = String::new();
    if changed {
        writer.finish()?;
        if args.accept {
            remove_stale(&pending)?;
            footer = format!(
                "accepted: `{}` now holds these decisions\n",
                args.file.display()
            );
        } else {
            footer = format!(
                "new snapshot: `{}`; review it, then `restorectl snapshot accept {}` (or check again with --accept)\n",
                pending.display(),
                args.file.display()
            );
        }
    } else {
        // Nothing to review: a FILE.new of an earlier run is stale.
        drop(writer);
        remove_stale(&pending)?;
    }

    print_report(&summary, [flips, others, moved], &footer)?;
    Ok(if changed && !args.accept {
        Exit::Denied
    } else {
        Exit::Ok
    })
}

/// The tallies, then the spooled member lines (flips, other changes, members
/// added and removed), then what to do next.
fn print_report(summary: &str, spools: [BufWriter<File>; 3], footer: &str) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    out.write_all(summary.as_bytes())?;
    let mut first = true;
    for spool in spools {
        let mut file = spool.into_inner().map_err(|e| e.into_error())?;
        if file.stream_position()? == 0 {
            continue;
        }
        if first {
            out.write_all(b"\n")?;
            first = false;
        }
        file.rewind()?;
        io::copy(&mut file, &mut out)?;
    }
    if !footer.is_empty() {
        out.write_all(b"\n")?;
        out.write_all(footer.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

fn remove_stale(pending: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(pending) {
        Ok(meta) if meta.is_file() => std::fs::remove_file(pending)
            .with_context(|| format!("removing the stale `{}`", pending.display())),
        _ => Ok(()),
    }
}

pub fn accept(args: AcceptArgs) -> anyhow::Result<Exit> {
    let pending = pending_path(&args.file);
    if !pending.exists() {
        anyhow::bail!(
            "no `{}` to accept; `restorectl snapshot check` writes it when decisions change",
            pending.display()
        );
    }
    // Read it whole (entry by entry) first: a broken file replaces nothing.
    let mut reader = Reader::open(&pending, args.max_snapshot_bytes)?;
    let mut entries = 0u64;
    while reader.next_entry()?.is_some() {
        entries += 1;
    }
    std::fs::rename(&pending, &args.file).with_context(|| {
        format!(
            "moving `{}` to `{}`",
            pending.display(),
            args.file.display()
        )
    })?;
    writeln!(
        io::stdout().lock(),
        "accepted `{}` as `{}` ({entries} decisions)",
        pending.display(),
        args.file.display()
    )?;
    Ok(Exit::Ok)
}
