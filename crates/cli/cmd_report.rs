//! `throng report results.json [--html report.html] [--junit junit.xml]`: render a saved run.

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
    /// Write a JUnit XML report here (a test case per threshold and per step)
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

/// Reads and parses a results file, naming the file and position on failure.
pub fn read_results(path: &std::path::Path) -> anyhow::Result<RunResults> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: not a throng results file: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let results = read_results(&args.results)?;
    if args.html.is_none() && args.junit.is_none() {
        print!("{}", results.summary());
        return Ok(ExitCode::SUCCESS);
    }
    for path in args.html.iter().chain(&args.junit) {
        if let Err(e) = crate::output::check_writable(path) {
            bail!(e);
        }
    }
    if let Some(html) = &args.html {
        crate::output::write_html(&results, html)?;
        eprintln!("wrote {}", html.display());
    }
    if let Some(junit) = &args.junit {
        crate::output::write_junit(&results, junit)?;
        eprintln!("wrote {}", junit.display());
    }
    Ok(ExitCode::SUCCESS)
}
