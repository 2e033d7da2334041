//! Every deleted member of a set of tenants, streamed in (tenant, member)
//! order: what `diff` and `snapshot` walk. Memory stays flat: one member's
//! facts at a time.

use anyhow::bail;
use futures::StreamExt;
use restore_directory::Directory;
use restore_engine::Facts;

/// The tenants to cover, sorted and without repeats: the `named` ones, or
/// every tenant of the directory when none is named.
pub async fn tenants(directory: &dyn Directory, named: &[String]) -> anyhow::Result<Vec<String>> {
    let mut tenants = if named.is_empty() {
        directory.tenants().await?
    } else {
        named.to_vec()
    };
    tenants.sort();
    tenants.dedup();
    Ok(tenants)
}

/// Calls `visit` with the facts of every deleted member of `tenants`, in
/// tenant order (as given) and member-id order within a tenant. A directory
/// that streams members out of order is an error, since callers merge
/// against other sorted data.
pub async fn each_deleted_member(
    directory: &dyn Directory,
    tenants: &[String],
    mut visit: impl FnMut(Facts) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for tenant in tenants {
        let mut members = directory.deleted_members(tenant, None);
        let mut previous: Option<String> = None;
        while let Some(facts) = members.next().await {
            let facts = facts?;
            if let Some(previous) = &previous {
                if *previous >= facts.member.id {
                    bail!(
                        "the directory streamed member `{}` after `{}` in tenant `{}`: \
                         members must come in id order",
                        crate::changes::excerpt(&facts.member.id),
                        crate::changes::excerpt(previous),
                        crate::changes::excerpt(tenant)
                    );
                }
            }
            previous = Some(facts.member.id.to_string());
            visit(facts)?;
        }
    }
    Ok(())
}
