//! `throng compile INPUT`: HAR recordings and OpenAPI specs into scenario YAML.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A HAR file or an OpenAPI document
    input: PathBuf,
    /// Write the scenario here instead of stdout
    #[arg(short, long)]
    out: Option<PathBuf>,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`throng compile` is not yet implemented")
}
