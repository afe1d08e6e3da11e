//! `throng report results.json --html report.html`: render a saved run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use throng_runner::results::RunResults;

#[derive(clap::Args)]
pub struct Args {
    /// A results file written by `throng run --out` or `throng merge`
    results: PathBuf,
    /// Write a self-contained HTML report here
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// Reads and parses a results file, naming the file and position on failure.
pub fn read_results(path: &std::path::Path) -> anyhow::Result<RunResults> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{}:{}:{}: not a throng results file: {e}", path.display(), e.line(), e.column())
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let results = read_results(&args.results)?;
    let Some(html) = &args.html else {
        print!("{}", results.summary());
        return Ok(ExitCode::SUCCESS);
    };
    if let Err(e) = crate::output::check_writable(html) {
        bail!(e);
    }
    crate::output::write_html(&results, html)?;
    eprintln!("wrote {}", html.display());
    Ok(ExitCode::SUCCESS)
}
