//! `restorectl schema`: print the JSON Schema of rule files.

use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_: Args) -> anyhow::Result<Exit> {
    crate::output::emit(&restore_engine::schema::rules_schema_json())?;
    Ok(Exit::Ok)
}
