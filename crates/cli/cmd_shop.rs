//! `throng shop`: serve the bundled demo e-commerce API until interrupted.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`throng shop` is not yet implemented")
}
