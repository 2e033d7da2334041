//! Concurrent restores: `--clients` tokio tasks share one adapter (and its
//! connection pool), each restoring its own members one transaction at a
//! time, deciding with the default policy inside the transaction.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use restore_directory::{Decide, Directory, RestoreOutcome, RestoreRequest};
use restore_engine::facts::{Facts, Request};
use restore_engine::PolicySet;
use serde::Serialize;

use crate::generate::{member_id, restorable, ADMIN, TENANT};
use crate::Cli;

/// Outcome of the restore test.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub clients: usize,
    pub restored: usize,
    /// Denied restores; 0 expected, since only restorable members are picked.
    pub denied: usize,
    pub secs: f64,
    pub per_sec: f64,
    /// Latency of one `apply_restore` call as its client saw it.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Restores the first `cli.restores` restorable members, dealt round-robin
/// to `cli.clients` tasks so that no two clients touch the same member.
pub async fn run<D>(dir: D, cli: &Cli, at: DateTime<Utc>) -> anyhow::Result<RestoreReport>
where
    D: Directory + Clone + 'static,
{
    let set = PolicySet::load_dir(&cli.rules)
        .with_context(|| format!("rules `{}`", cli.rules.display()))?;
    let policy = set.select(None, None, at)?.clone();
    // What `restorectl restore` passes: the policy in force, one member per request.
    let decide: Arc<Decide> =
        Arc::new(move |facts: &Facts| policy.try_evaluate(facts, &Request::default(), at));
    let members: Vec<String> = (0..cli.members)
        .filter(|&i| restorable(i))
        .take(cli.restores)
        .map(member_id)
        .collect();
    if members.len() < cli.restores {
        bail!(
            "only {} restorable members for {} restores; raise --members",
            members.len(),
            cli.restores
        );
    }
    let clients = cli.clients.max(1);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let mine: Vec<String> = members.iter().skip(c).step_by(clients).cloned().collect();
        let dir = dir.clone();
        let decide = decide.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(mine.len());
            let mut denied = 0;
            for member in mine {
                let request = RestoreRequest {
                    tenant: TENANT.into(),
                    member,
                    actor: ADMIN.into(),
                    department: "Engineering".into(),
                    at,
                };
                let t = Instant::now();
                let outcome = dir.apply_restore(&request, &*decide).await?;
                latencies.push(t.elapsed());
                if let RestoreOutcome::Denied(_) = outcome {
                    denied += 1;
                }
            }
            anyhow::Ok((latencies, denied))
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(members.len());
    let mut denied = 0;
    for task in tasks {
        let (l, d) = task.await.context("restore client panicked")??;
        latencies.extend(l);
        denied += d;
    }
    let secs = start.elapsed().as_secs_f64();
    latencies.sort();
    let ms = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let restored = latencies.len() - denied;
    Ok(RestoreReport {
        clients,
        restored,
        denied,
        secs,
        per_sec: restored as f64 / secs,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        max_ms: ms(1.0),
    })
}
