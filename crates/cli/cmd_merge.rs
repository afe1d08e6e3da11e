//! `throng merge results-*.json -o merged.json [--html report.html]`: combine the results of
//! the segments of a split load (or of whole runs on several machines) into one.
//!
//! The merge itself is `throng_runner::merge` (lossless: histograms add); this only reads
//! files and writes outputs. Exit: 0 ok, 1 a threshold breached on the merged data,
//! 2 bad input (unreadable files, different scenarios or versions, a segment twice).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::EXIT_BAD_INPUT;

#[derive(clap::Args)]
pub struct Args {
    /// Results files written by `throng run --out` (or `--print-results`), or merged ones
    #[arg(required = true, value_name = "RESULTS")]
    inputs: Vec<PathBuf>,
    /// Write the merged results here
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write a self-contained HTML report of the merged results here
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// No summary on stdout
    #[arg(long)]
    quiet: bool,
}

fn bad(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_BAD_INPUT)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    for path in args.out.iter().chain(&args.html) {
        if let Err(e) = crate::output::check_writable(path) {
            return Ok(bad(e));
        }
    }
    let mut inputs = Vec::with_capacity(args.inputs.len());
    for path in &args.inputs {
        match crate::cmd_report::read_results(path) {
            Ok(r) => inputs.push(r),
            Err(e) => return Ok(bad(format!("{e:#}"))),
        }
    }
    let merged = match throng_runner::merge(inputs) {
        Ok(m) => m,
        Err(e) => {
            let at = e
                .input
                .and_then(|i| args.inputs.get(i))
                .map(|p| format!("{}: ", p.display()))
                .unwrap_or_default();
            return Ok(bad(format!("cannot merge: {at}{e}")));
        }
    };
    let missing = throng_runner::merge::missing_segments(&merged);
    if !missing.is_empty() {
        eprintln!(
            "warning: segment{} {} missing: these results cover only part of the load",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        );
    }
    if !args.quiet {
        print!("{}", merged.summary());
    }
    if let Some(out) = &args.out {
        if let Err(e) = merged.write_json(out) {
            return Ok(bad(format!("cannot write {}: {e}", out.display())));
        }
        eprintln!(
            "merged {} results into {}",
            args.inputs.len(),
            out.display()
        );
    }
    if let Some(html) = &args.html {
        if let Err(e) = crate::output::write_html(&merged, html) {
            return Ok(bad(format!("{e:#}")));
        }
        eprintln!("wrote {}", html.display());
    }
    Ok(ExitCode::from(merged.exit_code()))
}
