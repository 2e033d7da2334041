//! `restorectl restore`: restore one deleted member, deciding with the policy
//! inside the directory's transaction.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;

use restore_directory::snapshot::MAX_TEXT_BYTES;
use restore_directory::{DirectoryUrl, RestoreOutcome, RestoreRequest};
use restore_engine::excerpt::{needs_escape, Escaped, Excerpt};
use restore_engine::facts::Facts;
use restore_engine::vocabulary::format_timestamp;
use restore_engine::CompiledPolicy;

use crate::context_args::ContextArgs;
use crate::output::{decision_text, emit, note, render_decision, render_value, OutputFormat};
use crate::policy_args::PolicyArgs;
use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Directory URL: sqlite:PATH, postgres://… or plugin:LIB?CONFIG
    /// (memory: snapshots are read-only).
    #[arg(long, value_name = "URL")]
    pub directory: String,
    #[arg(long, value_name = "T")]
    pub tenant: String,
    /// Deleted member to restore (looked up only inside `--tenant`).
    #[arg(long, value_name = "M")]
    pub member: String,
    /// The administrator restoring; must be an active member of the tenant.
    #[arg(long, value_name = "A")]
    pub actor: String,
    /// Department the member comes back in (F8: the old one is not restored).
    /// Default: the policy's `requires` entry `department` and its `default`
    /// (e.g. the root department); without one, the flag is required.
    #[arg(long, value_name = "D")]
    pub department: Option<String>,
    #[arg(long, value_enum, default_value = "json")]
    pub output: OutputFormat,
    /// Decide only: read the facts, print the decision, write nothing.
    /// The only mode that accepts `--at` (a write decides at the current time).
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub context: ContextArgs,
}

/// The department to restore into: `--department`, else the policy's
/// default for its `department` requirement. Checked like any written text.
fn department(given: Option<&str>, policy: &CompiledPolicy) -> anyhow::Result<String> {
    let department = match given {
        Some(d) => d,
        None => policy.requirement_default("department").ok_or_else(|| {
            anyhow::anyhow!(
                "--department is required: policy `{}` {} gives no default department \
                 (`requires: [{{ id: department, default: ... }}]`)",
                Excerpt(policy.name()),
                Excerpt(policy.version())
            )
        })?,
    };
    if department.trim().is_empty() {
        anyhow::bail!("--department is blank: a restore needs a department (F8)");
    }
    // The department is written: held to the snapshot rules for texts.
    if let Some(c) = department.chars().find(|c| needs_escape(*c)) {
        anyhow::bail!(
            "--department `{}` contains the control character {}",
            Excerpt(department),
            c.escape_unicode()
        );
    }
    if department.len() > MAX_TEXT_BYTES {
        anyhow::bail!(
            "--department `{}` is longer than {MAX_TEXT_BYTES} bytes",
            Excerpt(department)
        );
    }
    Ok(department.trim().to_owned())
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    if let Some(given) = &args.department {
        // Bad flags fail before anything is opened, whatever the policy.
        if given.trim().is_empty() {
            anyhow::bail!("--department is blank: a restore needs a department (F8)");
        }
    }
    if args.dry_run {
        return dry_run(&args);
    }
    // A write decides at the real clock and records that time: a caller-chosen
    // time could reopen an expired window and backdate the audit row.
    if let Some(at) = args.policy.at {
        anyhow::bail!(
            "--at {} is only allowed with --dry-run: a restore decides at the current time",
            format_timestamp(at)
        );
    }
    if let DirectoryUrl::Memory(_) = DirectoryUrl::parse(&args.directory)? {
        anyhow::bail!("memory: directories are read-only snapshots; import into sqlite: first");
    }
    // The clock is read once: the policy in force, the decision and the
    // audit row all use this time.
    let at = Utc::now();
    // `Decide` is a 'static trait object, so the closure owns the rules.
    let selected = Arc::new(args.policy.select_at(at)?);
    let context = args.context.request(selected.policy())?;
    let department = department(args.department.as_deref(), selected.policy())?;
    let rules = selected.clone();
    // A decision that cannot be made fails the restore before any write
    // (the adapter's `DirectoryError::Evaluation`): exit 2, nothing changed.
    let decide = move |facts: &Facts| rules.policy().try_evaluate(facts, &context, at);
    let request = RestoreRequest {
        tenant: args.tenant.clone(),
        member: args.member.clone(),
        actor: args.actor.clone(),
        department,
        at,
    };
    let outcome = crate::runtime()?.block_on(async {
        let directory = crate::directory::open(&args.directory).await?;
        anyhow::Ok(directory.apply_restore(&request, &decide).await?)
    })?;
    match outcome {
        RestoreOutcome::Restored(receipt) => {
            let text = match args.output {
                OutputFormat::Text => format!(
                    "{}department:       {}\nseats used:       {}\nitems restored:   {}\naudit id:         {}\n",
                    decision_text(&receipt.decision),
                    Escaped(&receipt.department),
                    receipt.seats_used,
                    receipt.restored_items,
                    receipt.audit_id
                ),
                other => render_value(&receipt, other)?,
            };
            emit(&text).with_context(|| {
                format!(
                    "the restore was committed (audit id {}), but its receipt could not be written",
                    receipt.audit_id
                )
            })?;
            Ok(Exit::Ok)
        }
        RestoreOutcome::Denied(decision) => {
            emit(&render_decision(&decision, args.output)?)?;
            Ok(Exit::Denied)
        }
    }
}

/// `--dry-run`: the decision a restore would get at `--at` (default now),
/// read with the directory's read-only `facts`; nothing is written.
fn dry_run(args: &Args) -> anyhow::Result<Exit> {
    let selected = args.policy.select()?;
    let request = args.context.request(selected.policy())?;
    department(args.department.as_deref(), selected.policy())?;
    let facts = crate::runtime()?.block_on(async {
        let directory = crate::directory::open_read_only(&args.directory).await?;
        anyhow::Ok(
            directory
                .facts(&args.tenant, &args.member, Some(&args.actor))
                .await?,
        )
    })?;
    let decision = selected
        .policy()
        .try_evaluate(&facts, &request, selected.at)?;
    note(&format!(
        "restorectl: dry run: decided at {}; nothing was written",
        format_timestamp(selected.at)
    ));
    emit(&render_decision(&decision, args.output)?)?;
    Ok(if decision.allowed {
        Exit::Ok
    } else {
        Exit::Denied
    })
}
