//! A [`Directory`] implemented by a plugin: a shared library loaded at run
//! time (`plugin:LIB?CONFIG`), speaking the C ABI and JSON messages of
//! `restore-plugin-abi`.
//!
//! - The library's ABI version symbol is checked before anything else.
//! - Libraries are never unloaded (see `library.rs`): code from a
//!   plugin may still run after its last instance is dropped.
//! - Every call into the plugin is synchronous and runs in
//!   [`tokio::task::spawn_blocking`], so a slow plugin does not stall the runtime.
//! - `deleted_members` pages through `deleted_members` requests.
//! - `apply_restore` is two-phase, since the host's `decide` closure cannot
//!   cross the boundary: begin (the plugin locks and returns the facts it
//!   read), decide here, then commit or abort.
//! - Anything out of contract (not a library, missing symbol, other ABI
//!   version, panic, malformed reply) is a `DirectoryError::Backend` whose
//!   source is a [`PluginError`]; nothing is changed.

mod error;
mod library;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use restore_directory::{
    Decide, Directory, DirectoryError, ItemPlan, Receipt, RestoreOutcome, RestoreRequest,
};
use restore_engine::facts::Facts;
use restore_plugin_abi::message::{self, Reply, Request, Response};
use restore_plugin_abi::{ErrorKind, WireError};

pub use error::PluginError;
use library::Instance;

/// How many deleted members one `deleted_members` request asks for.
pub const PAGE_SIZE: u32 = 256;

/// A directory served by a plugin library.
#[derive(Debug, Clone)]
pub struct PluginDirectory {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    library: PathBuf,
    instance: Instance,
}

impl PluginDirectory {
    /// Loads `library` and creates a plugin instance with `config` (the
    /// `CONFIG` of `plugin:LIB?CONFIG`). Runs on a blocking thread.
    pub async fn open(library: &Path, config: &str) -> Result<PluginDirectory, DirectoryError> {
        let (library, config) = (library.to_owned(), config.to_owned());
        let context = context(&library);
        tokio::task::spawn_blocking(move || PluginDirectory::open_blocking(&library, &config))
            .await
            .map_err(|e| {
                DirectoryError::backend(
                    context,
                    PluginError::Join {
                        reason: e.to_string(),
                    },
                )
            })?
    }

    /// [`PluginDirectory::open`] on the current thread.
    pub fn open_blocking(library: &Path, config: &str) -> Result<PluginDirectory, DirectoryError> {
        let instance = Instance::open(library, config)
            .map_err(|e| DirectoryError::backend(context(library), e))?;
        Ok(PluginDirectory {
            shared: Arc::new(Shared {
                library: library.to_owned(),
                instance,
            }),
        })
    }

    /// Sends `request` on a blocking thread and checks the reply's version
    /// and type; a plugin-reported error becomes a `DirectoryError`.
    async fn send(&self, request: Request) -> Result<Response, DirectoryError> {
        let shared = self.shared.clone();
        let (request, reply) = tokio::task::spawn_blocking(move || {
            let reply = shared.send(&request);
            (request, reply)
        })
        .await
        .map_err(|e| {
            self.plugin_error(PluginError::Join {
                reason: e.to_string(),
            })
        })?;
        match reply.map_err(|e| self.plugin_error(e))? {
            Reply::Ok(response) => Ok(response),
            Reply::Err(e) => Err(self.directory_error(&request, e)),
        }
    }

    fn plugin_error(&self, e: PluginError) -> DirectoryError {
        DirectoryError::backend(context(&self.shared.library), e)
    }

    /// A plugin's error as the `DirectoryError` a built-in adapter would
    /// return, with tenant, member and actor taken from our own request.
    fn directory_error(&self, request: &Request, e: WireError) -> DirectoryError {
        let (tenant, member, actor) = match request {
            Request::Facts {
                tenant,
                member,
                actor,
            } => (Some(tenant), Some(member), actor.as_ref()),
            Request::DeletedMembers { tenant, actor, .. } => (Some(tenant), None, actor.as_ref()),
            Request::RestoreBegin { request } => (
                Some(&request.tenant),
                Some(&request.member),
                Some(&request.actor),
            ),
            _ => (None, None, None),
        };
        let owned = |s: Option<&String>| s.cloned();
        match (e.kind, owned(tenant), owned(member), owned(actor)) {
            (ErrorKind::UnknownTenant, Some(tenant), _, _) => {
                DirectoryError::UnknownTenant { tenant }
            }
            (ErrorKind::UnknownMember, Some(tenant), Some(member), _) => {
                DirectoryError::UnknownMember { tenant, member }
            }
            (ErrorKind::UnknownActor, Some(tenant), _, Some(actor)) => {
                DirectoryError::UnknownActor { tenant, actor }
            }
            (ErrorKind::MissingDepartment, ..) => DirectoryError::MissingDepartment,
            // A plugin older than the `tenants` request cannot read it.
            (ErrorKind::BadRequest, ..) if matches!(request, Request::Tenants) => {
                DirectoryError::Unsupported(
                    "this plugin cannot list its tenants; name them with --tenant".into(),
                )
            }
            (ErrorKind::BadData, tenant, ..) => DirectoryError::BadRow {
                table: "plugin data",
                key: tenant.unwrap_or_default(),
                reason: e.message,
            },
            (ErrorKind::Conflict, ..) => DirectoryError::Conflict(e.message),
            (ErrorKind::Unsupported, ..) => DirectoryError::Unsupported(e.message),
            _ => DirectoryError::backend(
                context(&self.shared.library),
                PluginError::Failed { message: e.message },
            ),
        }
    }

    fn malformed(&self, reason: String) -> DirectoryError {
        self.plugin_error(PluginError::Malformed { reason })
    }

    /// One page of deleted members after `after`, checked for order and tenant.
    async fn page(
        &self,
        tenant: &str,
        actor: Option<&str>,
        after: Option<String>,
    ) -> Result<Vec<Facts>, DirectoryError> {
        let response = self
            .send(Request::DeletedMembers {
                tenant: tenant.to_owned(),
                actor: actor.map(str::to_owned),
                after: after.clone(),
                limit: PAGE_SIZE,
            })
            .await?;
        let Response::Page { members } = response else {
            return Err(self.malformed(format!("expected a `page` reply, got {}", kind(&response))));
        };
        if members.len() > PAGE_SIZE as usize {
            return Err(self.malformed(format!(
                "a page of {} members, at most {PAGE_SIZE} were asked for",
                members.len()
            )));
        }
        // Strictly increasing ids after the cursor: otherwise paging could
        // repeat members or never end.
        let mut previous = after;
        for facts in &members {
            self.check_facts(facts, tenant, None, actor)?;
            if previous.as_ref().is_some_and(|p| facts.member.id <= *p) {
                return Err(self.malformed(format!(
                    "deleted member `{}` out of id order",
                    facts.member.id
                )));
            }
            previous = Some(facts.member.id.clone());
        }
        Ok(members)
    }

    /// Facts must be about what was asked: a plugin bug must not show one
    /// tenant's member under another.
    fn check_facts(
        &self,
        facts: &Facts,
        tenant: &str,
        member: Option<&str>,
        actor: Option<&str>,
    ) -> Result<(), DirectoryError> {
        // Stored counts are never negative; a negative one would also let
        // `seats_available` (total - used) overflow.
        if facts.tenant.seats_total < 0 || facts.tenant.seats_used < 0 {
            return Err(self.malformed(format!(
                "negative seat counts for tenant `{}` (total {}, used {})",
                facts.tenant.id, facts.tenant.seats_total, facts.tenant.seats_used
            )));
        }
        if *facts.tenant.id != *tenant {
            return Err(self.malformed(format!(
                "facts about tenant `{}` in reply to a request about `{tenant}`",
                facts.tenant.id
            )));
        }
        if let Some(member) = member {
            if facts.member.id != member {
                return Err(self.malformed(format!(
                    "facts about member `{}` in reply to a request about `{member}`",
                    facts.member.id
                )));
            }
        }
        if facts.actor.as_ref().map(|a| a.id.as_str()) != actor {
            return Err(self.malformed(format!(
                "facts name actor {:?}, the request named {actor:?}",
                facts.actor.as_ref().map(|a| &a.id)
            )));
        }
        Ok(())
    }
}

impl Shared {
    /// Encodes, calls and decodes on the current thread.
    fn send(&self, request: &Request) -> Result<Reply, PluginError> {
        let bytes = message::encode_request(request).map_err(|e| PluginError::Failed {
            message: e.to_string(),
        })?;
        let reply = self.instance.call(&bytes)?;
        message::decode_reply(&reply).map_err(|e| PluginError::Malformed {
            reason: e.to_string(),
        })
    }
}

fn context(library: &Path) -> String {
    format!("plugin `{}`", library.display())
}

fn kind(response: &Response) -> &'static str {
    match response {
        Response::Facts { .. } => "`facts`",
        Response::Page { .. } => "`page`",
        Response::Tenants { .. } => "`tenants`",
        Response::Begun { .. } => "`begun`",
        Response::Committed { .. } => "`committed`",
        Response::Aborted => "`aborted`",
    }
}

/// Aborts a begun restore unless disarmed: on a panic in `decide` or when
/// the `apply_restore` future is dropped between begin and commit.
struct AbortOnDrop {
    shared: Arc<Shared>,
    token: u64,
    armed: bool,
}

impl AbortOnDrop {
    /// The token, now owned by the caller's commit or abort request.
    fn disarm(&mut self) -> u64 {
        self.armed = false;
        self.token
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if self.armed {
            // A blocking call from `drop`, possibly on a runtime thread: rare
            // (panic or cancellation), and releasing a lock is quick. Leaving
            // the lock held until the instance is dropped would be worse.
            let _ = self
                .shared
                .send(&Request::RestoreAbort { token: self.token });
        }
    }
}

#[async_trait]
impl Directory for PluginDirectory {
    #[tracing::instrument(
        name = "directory.tenants",
        level = "debug",
        skip(self),
        fields(adapter = "plugin"),
        err(Display)
    )]
    async fn tenants(&self) -> Result<Vec<String>, DirectoryError> {
        let response = self.send(Request::Tenants).await?;
        let Response::Tenants { mut tenants } = response else {
            return Err(self.malformed(format!(
                "expected a `tenants` reply, got {}",
                kind(&response)
            )));
        };
        // The trait promises sorted, distinct ids; do not trust the plugin's order.
        tenants.sort_unstable();
        tenants.dedup();
        Ok(tenants)
    }

    #[tracing::instrument(
        name = "directory.facts",
        level = "debug",
        skip(self),
        fields(adapter = "plugin"),
        err(Display)
    )]
    async fn facts(
        &self,
        tenant: &str,
        member: &str,
        actor: Option<&str>,
    ) -> Result<Facts, DirectoryError> {
        let response = self
            .send(Request::Facts {
                tenant: tenant.to_owned(),
                member: member.to_owned(),
                actor: actor.map(str::to_owned),
            })
            .await?;
        let Response::Facts { facts } = response else {
            return Err(
                self.malformed(format!("expected a `facts` reply, got {}", kind(&response)))
            );
        };
        self.check_facts(&facts, tenant, Some(member), actor)?;
        Ok(facts)
    }

    fn deleted_members<'a>(
        &'a self,
        tenant: &'a str,
        actor: Option<&'a str>,
    ) -> BoxStream<'a, Result<Facts, DirectoryError>> {
        // State: `Some(cursor)` while pages may remain, `None` once done.
        stream::unfold(Some(None::<String>), move |state| async move {
            let after = state?;
            match self.page(tenant, actor, after).await {
                Ok(members) => {
                    let next = match members.last() {
                        Some(last) if members.len() == PAGE_SIZE as usize => {
                            Some(Some(last.member.id.clone()))
                        }
                        _ => None,
                    };
                    Some((
                        stream::iter(members.into_iter().map(Ok).collect::<Vec<_>>()),
                        next,
                    ))
                }
                Err(e) => Some((stream::iter(vec![Err(e)]), None)),
            }
        })
        .flatten()
        .boxed()
    }

    #[tracing::instrument(
        name = "directory.apply_restore",
        level = "debug",
        skip_all,
        fields(adapter = "plugin", tenant = %request.tenant, member = %request.member, actor = %request.actor),
        err(Display)
    )]
    async fn apply_restore(
        &self,
        request: &RestoreRequest,
        decide: &Decide,
    ) -> Result<RestoreOutcome, DirectoryError> {
        let response = self
            .send(Request::RestoreBegin {
                request: request.clone(),
            })
            .await?;
        let Response::Begun { token, facts } = response else {
            return Err(
                self.malformed(format!("expected a `begun` reply, got {}", kind(&response)))
            );
        };
        let mut guard = AbortOnDrop {
            shared: self.shared.clone(),
            token,
            armed: true,
        };
        self.check_facts(
            &facts,
            &request.tenant,
            Some(&request.member),
            Some(&request.actor),
        )?;
        let decision = decide(&facts)?;
        if !decision.allowed {
            let response = self
                .send(Request::RestoreAbort {
                    token: guard.disarm(),
                })
                .await?;
            return match response {
                Response::Aborted => Ok(RestoreOutcome::Denied(decision)),
                other => {
                    Err(self
                        .malformed(format!("expected an `aborted` reply, got {}", kind(&other))))
                }
            };
        }
        // Disarmed before sending: the plugin consumes the token on commit,
        // whether the commit succeeds or not.
        let response = self
            .send(Request::RestoreCommit {
                token: guard.disarm(),
                decision: decision.clone(),
            })
            .await?;
        let Response::Committed {
            audit_id,
            seats_used,
        } = response
        else {
            return Err(self.malformed(format!(
                "expected a `committed` reply, got {}",
                kind(&response)
            )));
        };
        // The wire carries no count (an older host would refuse the reply
        // after the plugin committed): the items the decision brings back,
        // from the facts the plugin read under its lock. The conformance
        // suite checks a plugin's stored items against it.
        let restored_items = ItemPlan::new(&facts.tenant.id, &facts.member, &decision).count()?;
        Ok(RestoreOutcome::Restored(Receipt {
            decision,
            department: request.department.clone(),
            audit_id,
            seats_used,
            restored_items,
        }))
    }
}
