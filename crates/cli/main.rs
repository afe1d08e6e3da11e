//! The `throng` binary: a thin clap front end over throng's libraries.
//!
//! Each subcommand lives in its own module and only parses flags, calls a library, and
//! maps the outcome to an exit code: 0 ok, 1 a threshold breached, no request succeeded or
//! a verification differed, 2 bad input, 3 throng itself failed during a run (a contained
//! panic, category `internal`; results are still written).

mod cmd_compile;
mod cmd_demo;
mod cmd_k8s;
mod cmd_merge;
mod cmd_report;
mod cmd_run;
mod cmd_schema;
mod cmd_shop;
mod cmd_validate;
mod cmd_verify;
mod execute;
mod output;
mod progress;
mod prometheus;
mod trace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: per request the runner allocates and frees a
/// few dozen small blocks and an 8 KiB read buffer; glibc malloc/free was ~22 % of user time
/// in `bench/profile.sh`, and mimalloc's thread-local free lists make those a few
/// instructions (oha uses a non-system allocator for the same reason).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Load testing from recorded browser sessions and OpenAPI specs.
#[derive(Parser)]
#[command(name = "throng", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check scenario files: syntax, keys, variables, durations, checks
    Validate(cmd_validate::Args),
    /// Replay a scenario compiled from a HAR once and compare each step with the recording
    Verify(cmd_verify::Args),
    /// Turn a HAR recording or an OpenAPI spec into a scenario file
    Compile(cmd_compile::Args),
    /// Run a scenario file under load
    Run(Box<cmd_run::Args>),
    /// Serve the bundled demo e-commerce API
    Shop(cmd_shop::Args),
    /// Start the shop, compile its recording and spec, and load-test it in one go
    Demo(cmd_demo::Args),
    /// Print the JSON Schema of the scenario format (for editors)
    Schema(cmd_schema::Args),
    /// Print a saved run's summary, or render it as an HTML report
    Report(cmd_report::Args),
    /// Print Kubernetes manifests that run a scenario as an Indexed Job, one segment per pod
    K8s(cmd_k8s::Args),
    /// Merge the results of a load split over several processes (segments) into one
    Merge(cmd_merge::Args),
}

/// Exit status for bad input (files, flags), as clap uses for usage errors.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status for a breached threshold or a failed verification.
pub const EXIT_FAILED: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => cmd_validate::run(a),
        Command::Verify(a) => cmd_verify::run(a),
        Command::Compile(a) => cmd_compile::run(a),
        Command::Run(a) => cmd_run::run(*a),
        Command::Shop(a) => cmd_shop::run(a),
        Command::Schema(a) => cmd_schema::run(a),
        Command::K8s(a) => cmd_k8s::run(a),
        Command::Report(a) => cmd_report::run(a),
        Command::Demo(a) => cmd_demo::run(a),
        Command::Merge(a) => cmd_merge::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
