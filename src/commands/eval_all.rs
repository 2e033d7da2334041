//! `restorectl eval-all`: decide on every deleted member of a tenant,
//! streaming one decision per member (read-only; F6 allows evaluating many
//! at once).
//!
//! Exit 0 once the whole tenant was evaluated, whatever the decisions; 2 on
//! bad input. A row that breaks an invariant stops the run with exit 2 (the
//! decisions printed before it stay on stdout). A member whose decision
//! cannot be made (an unknown tier, a missing or ill-typed attribute) gets
//! an error line instead (`{"tenant","member","error"}`; `ERROR` in the
//! table), the run goes on, and exits 2 at the end.

use std::io::Write;

use futures::StreamExt;
use restore_engine::json::DecisionEncoder;

use restore_engine::excerpt::Escaped;

use crate::context_args::ContextArgs;
use crate::output;
use crate::policy_args::PolicyArgs;
use crate::Exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON decision per line.
    Jsonl,
    /// Member, verdict and blockers, one line each.
    Table,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Directory URL: memory:FILE, sqlite:PATH, postgres://…, plugin:LIB?CONFIG.
    #[arg(long, value_name = "URL")]
    pub directory: String,
    #[arg(long, value_name = "T")]
    pub tenant: String,
    /// Acting member; omitted, F1 is skipped.
    #[arg(long, value_name = "A")]
    pub actor: Option<String>,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub output: Format,
    #[command(flatten)]
    pub context: ContextArgs,
}

/// The line of a member whose decision could not be made.
#[derive(serde::Serialize)]
struct ErrorLine<'a> {
    tenant: &'a str,
    member: &'a str,
    error: String,
}

/// Output is written in chunks of about this size: one `write` per chunk.
const CHUNK: usize = 256 * 1024;

/// The progress counter is advanced once per this many members (each
/// advance reads the clock).
const PROGRESS_STEP: u64 = 1024;

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let selected = args.policy.select()?;
    let policy = selected.policy();
    let at = selected.at;
    let request = args.context.request(policy)?;
    let mut failed: u64 = 0;
    let progress = crate::progress::member_spinner("evaluating");
    let mut out = output::stdout_with_capacity(CHUNK);
    // Lines are encoded straight into one reused chunk, handed to `out`
    // whole (a BufWriter passes a chunk of its capacity through without
    // copying it again).
    let mut lines: Vec<u8> = Vec::with_capacity(CHUNK + 16 * 1024);
    let mut encoder = DecisionEncoder::new();
    let mut counted = 0;
    let result = crate::runtime()?.block_on(async {
        let directory = crate::directory::open_read_only(&args.directory).await?;
        let mut stream = directory.deleted_members(&args.tenant, args.actor.as_deref());
        if args.output == Format::Table {
            writeln!(lines, "{:<24} {:<8} blockers", "member", "verdict")?;
        }
        while let Some(facts) = stream.next().await {
            // The reader is gone (`| head`): nothing more to do.
            if output::stdout_closed() {
                break;
            }
            let facts = facts?;
            let decision = match policy.try_evaluate(&facts, &request, at) {
                Ok(decision) => decision,
                Err(error) => {
                    failed += 1;
                    let error = error.to_string();
                    match args.output {
                        Format::Jsonl => {
                            serde_json::to_writer(
                                &mut lines,
                                &ErrorLine {
                                    tenant: &facts.tenant.id,
                                    member: &facts.member.id,
                                    error,
                                },
                            )?;
                            lines.push(b'\n');
                        }
                        Format::Table => writeln!(
                            lines,
                            "{:<24} {:<8} {}",
                            Escaped(&facts.member.id),
                            "ERROR",
                            Escaped(&error)
                        )?,
                    }
                    continue;
                }
            };
            match args.output {
                Format::Jsonl => {
                    encoder.encode(&mut lines, &decision);
                    lines.push(b'\n');
                }
                Format::Table => {
                    let blockers: Vec<&str> = decision.blockers.iter().map(|b| &*b.rule).collect();
                    let verdict = if decision.allowed {
                        "allowed"
                    } else {
                        "denied"
                    };
                    writeln!(
                        lines,
                        "{:<24} {verdict:<8} {}",
                        Escaped(&decision.member),
                        blockers.join(",")
                    )?;
                }
            }
            if lines.len() >= CHUNK {
                out.write_all(&lines).map_err(output::write_error)?;
                lines.clear();
            }
            counted += 1;
            if counted == PROGRESS_STEP {
                progress.inc(counted);
                counted = 0;
            }
        }
        anyhow::Ok(())
    });
    progress.inc(counted);
    progress.finish_and_clear();
    // Written and flushed even after an error: the decisions before it stay.
    let flushed = out
        .write_all(&lines)
        .and_then(|()| out.flush())
        .map_err(output::write_error);
    result?;
    flushed?;
    if failed > 0 {
        output::note(&format!(
            "restorectl: {failed} decision(s) could not be made; see the `error` lines"
        ));
        return Ok(Exit::Failed);
    }
    Ok(Exit::Ok)
}
