//! `restorectl eval`: decide on one deleted member.

use restore_engine::explain::Explanation;

use crate::context_args::ContextArgs;
use crate::output::{
    decision_text, emit, explanation_text, render_decision, render_value, OutputFormat,
};
use crate::policy_args::PolicyArgs;
use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Directory URL: memory:FILE, sqlite:PATH, postgres://…, plugin:LIB?CONFIG.
    #[arg(long, value_name = "URL")]
    pub directory: String,
    #[arg(long, value_name = "T")]
    pub tenant: String,
    /// Deleted member to decide on (looked up only inside `--tenant`).
    #[arg(long, value_name = "M")]
    pub member: String,
    /// Acting member; omitted, the question is read-only and F1 is skipped.
    #[arg(long, value_name = "A")]
    pub actor: Option<String>,
    #[arg(long, value_enum, default_value = "json")]
    pub output: OutputFormat,
    /// Also show every condition with the fact and setting values it saw.
    #[arg(long)]
    pub explain: bool,
    #[command(flatten)]
    pub context: ContextArgs,
}

/// A decision with its explanation, for `--explain` (the decision's fields
/// stay at the top level, so consumers of plain decisions can read it).
#[derive(serde::Serialize)]
struct Explained<'a> {
    #[serde(flatten)]
    decision: &'a restore_engine::Decision,
    explanation: &'a Explanation,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let selected = args.policy.select()?;
    let request = args.context.request(selected.policy())?;
    let runtime = crate::runtime()?;
    let facts = runtime.block_on(async {
        let directory = crate::directory::open_read_only(&args.directory).await?;
        let facts = directory
            .facts(&args.tenant, &args.member, args.actor.as_deref())
            .await?;
        anyhow::Ok(facts)
    })?;
    // A decision that cannot be made (an unknown tier, a missing or
    // ill-typed attribute) is bad input: the error, exit 2, not a denial.
    let decision = selected
        .policy()
        .try_evaluate(&facts, &request, selected.at)?;
    if args.explain {
        let explanation = selected.policy().explain(&facts, &request, selected.at)?;
        let rendered = match args.output {
            OutputFormat::Text => format!(
                "{}{}",
                decision_text(&decision),
                explanation_text(&explanation)
            ),
            other => render_value(
                &Explained {
                    decision: &decision,
                    explanation: &explanation,
                },
                other,
            )?,
        };
        emit(&rendered)?;
    } else {
        emit(&render_decision(&decision, args.output)?)?;
    }
    Ok(if decision.allowed {
        Exit::Ok
    } else {
        Exit::Denied
    })
}
