//! `restorectl schema`: print the JSON Schema of rule files.

use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which rule-file format to describe.
    #[arg(long, value_enum, default_value = "v2")]
    pub format: SchemaFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaFormat {
    /// `restore-rules/v1` (`rules/restore-rules.v1.schema.json`).
    V1,
    /// `restore-rules/v2` (`rules/restore-rules.v2.schema.json`).
    V2,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let schema = match args.format {
        SchemaFormat::V1 => restore_engine::schema::rules_schema_json(),
        SchemaFormat::V2 => restore_engine::schema_v2::rules_schema_v2_json(),
    };
    crate::output::emit(&schema)?;
    Ok(Exit::Ok)
}
