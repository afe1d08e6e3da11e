//! `throng validate FILE...`: load every file and report every problem with its location.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::EXIT_BAD_INPUT;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario files to check
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut all_ok = true;
    for file in &args.files {
        match throng_ir::load(file) {
            Ok(plan) => println!(
                "ok {} ({} scenarios, {} steps)",
                file.display(),
                plan.scenarios.len(),
                plan.step_count()
            ),
            Err(e) => {
                all_ok = false;
                eprintln!("{e}");
            }
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_BAD_INPUT)
    })
}
