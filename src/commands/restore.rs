//! `restorectl restore`: restore one deleted member, deciding with the policy
//! inside the directory's transaction.

use std::sync::Arc;

use restore_directory::{DirectoryUrl, RestoreOutcome, RestoreRequest};
use restore_engine::facts::{Facts, Request};

use crate::output::{decision_text, render_decision, render_value, OutputFormat};
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
    #[arg(long, value_name = "D")]
    pub department: String,
    #[arg(long, value_enum, default_value = "json")]
    pub output: OutputFormat,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    if args.department.trim().is_empty() {
        anyhow::bail!("--department is blank: a restore needs a department (F8)");
    }
    if let DirectoryUrl::Memory(_) = DirectoryUrl::parse(&args.directory)? {
        anyhow::bail!("memory: directories are read-only snapshots; import into sqlite: first");
    }
    // `Decide` is a 'static trait object, so the closure owns the rules.
    let selected = Arc::new(args.policy.select()?);
    let at = selected.at;
    let rules = selected.clone();
    let decide = move |facts: &Facts| rules.policy().evaluate(facts, &Request::default(), at);
    let request = RestoreRequest {
        tenant: args.tenant.clone(),
        member: args.member.clone(),
        actor: args.actor.clone(),
        department: args.department.trim().to_owned(),
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
                    "{}department:       {}\nseats used:       {}\naudit id:         {}\n",
                    decision_text(&receipt.decision),
                    receipt.department,
                    receipt.seats_used,
                    receipt.audit_id
                ),
                other => render_value(&receipt, other)?,
            };
            print!("{text}");
            Ok(Exit::Ok)
        }
        RestoreOutcome::Denied(decision) => {
            print!("{}", render_decision(&decision, args.output)?);
            Ok(Exit::Denied)
        }
    }
}
