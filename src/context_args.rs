//! `--context NAME=VALUE` (repeatable): request context values, typed by the
//! policy's `context:` declarations (`CompiledPolicy::parse_context`).

use std::sync::Arc;

use anyhow::bail;
use restore_engine::excerpt::Excerpt;
use restore_engine::facts::{AttrValue, Attributes};
use restore_engine::{CompiledPolicy, Request};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ContextArgs {
    /// A request context value the policy declares, as NAME=VALUE
    /// (repeatable); parsed by its declared type: true/false, an integer,
    /// a duration (`30d`, `unlimited`), an RFC 3339 timestamp, text, or a
    /// JSON array of strings.
    #[arg(long = "context", value_name = "NAME=VALUE")]
    pub context: Vec<String>,
}

impl ContextArgs {
    /// The request (batch size 1) with the given context, typed by
    /// `policy`; an undeclared name, a bad value or a name given twice is a
    /// usage error naming the flag.
    pub fn request(&self, policy: &CompiledPolicy) -> anyhow::Result<Request> {
        self.request_for(&[policy])
    }

    /// As [`Self::request`], for a comparison of several policy versions
    /// (`diff`): each name must be declared by at least one of them and
    /// parse under each that declares it; the first that declares it types it.
    pub fn request_for(&self, policies: &[&CompiledPolicy]) -> anyhow::Result<Request> {
        let mut pairs: Vec<(Arc<str>, AttrValue)> = Vec::with_capacity(self.context.len());
        for raw in &self.context {
            let Some((name, value)) = raw.split_once('=') else {
                bail!(
                    "--context `{}`: expected NAME=VALUE (see --help)",
                    Excerpt(raw)
                );
            };
            let mut parsed = None;
            let mut first_error = None;
            for policy in policies {
                match policy.parse_context(name, value) {
                    Ok(pair) => {
                        parsed.get_or_insert(pair);
                    }
                    Err(e) if policy.declares_context(name) => {
                        bail!("--context `{}`: {e}", Excerpt(raw))
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            match (parsed, first_error) {
                (Some(pair), _) => {
                    if pairs.iter().any(|(n, _)| **n == *pair.0) {
                        bail!("--context `{}` is given twice", Excerpt(name));
                    }
                    pairs.push(pair);
                }
                (None, Some(e)) => bail!("--context `{}`: {e}", Excerpt(raw)),
                (None, None) => bail!("--context `{}`: no policy to type it", Excerpt(raw)),
            }
        }
        let context = Attributes::new(pairs).map_err(|e| anyhow::anyhow!("--context: {e}"))?;
        Ok(Request {
            context,
            ..Request::default()
        })
    }
}
