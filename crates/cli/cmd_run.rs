//! `throng run SCENARIO`: execute a scenario under load.
//!
//! Parses flags into `throng_runner::RunOptions`, runs on a multi-thread runtime (one worker
//! per core), turns SIGINT/SIGTERM into graceful-then-immediate stops, prints the summary
//! and writes `--out` even when stopped. Exit: 0 ok, 1 threshold breached, 2 bad input.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use throng_ir::{LoadSpec, Rate, Stage};
use throng_runner::{RunOptions, Stopper};

use crate::EXIT_BAD_INPUT;

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file
    scenario: PathBuf,
    /// Replace `vars.base_url`, e.g. http://127.0.0.1:8080
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Set a variable (repeatable): --var user=alice
    #[arg(long = "var", value_name = "K=V")]
    vars: Vec<String>,
    /// Closed model: this many virtual users
    #[arg(long, value_name = "N")]
    vus: Option<u32>,
    /// Open model: iterations started per second, e.g. 200/s
    #[arg(long, value_name = "R/s", conflicts_with = "vus")]
    rate: Option<String>,
    /// How long to run, e.g. 30s, 2m
    #[arg(long, value_name = "D")]
    duration: Option<String>,
    /// Total iterations across all VUs
    #[arg(long, value_name = "N")]
    iterations: Option<u64>,
    /// Open model: size of the VU pool
    #[arg(long, value_name = "N")]
    max_vus: Option<u32>,
    /// A linear ramp (repeatable): --stage 30s:100
    #[arg(long = "stage", value_name = "D:T")]
    stages: Vec<String>,
    /// Write the results as JSON to this file
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write a self-contained HTML report to this file
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// No progress output
    #[arg(long)]
    quiet: bool,
    /// Ignore think times
    #[arg(long)]
    no_think: bool,
    /// How long in-flight iterations may finish at the end
    #[arg(long, value_name = "D", default_value = "10s")]
    grace: String,
    /// Stop early once an abortable threshold (error_rate, max) is breached
    #[arg(long)]
    abort_on_fail: bool,
}

fn bad(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_BAD_INPUT)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let plan = match throng_ir::load(&args.scenario) {
        Ok(p) => p,
        Err(e) => return Ok(bad(e)),
    };
    // A results file that cannot be written must be known now, not after a long run.
    for path in args.out.iter().chain(&args.html) {
        if let Err(e) = crate::output::check_writable(path) {
            return Ok(bad(e));
        }
    }
    let mut load = LoadSpec {
        vus: args.vus,
        iterations: args.iterations,
        max_vus: args.max_vus,
        ..Default::default()
    };
    if let Some(r) = &args.rate {
        match Rate::parse(r) {
            Ok(r) => load.rate = Some(r),
            Err(e) => return Ok(bad(e)),
        }
    }
    if let Some(d) = &args.duration {
        match throng_ir::parse_duration(d) {
            Ok(d) => load.duration = Some(d),
            Err(e) => return Ok(bad(format!("--duration: {e}"))),
        }
    }
    for s in &args.stages {
        match Stage::parse(s) {
            Ok(s) => load.stages.push(s),
            Err(e) => return Ok(bad(e)),
        }
    }
    let grace = match throng_ir::parse_duration(&args.grace) {
        Ok(g) => g,
        Err(e) => return Ok(bad(format!("--grace: {e}"))),
    };
    let mut vars = Vec::new();
    for v in &args.vars {
        match v.split_once('=') {
            Some((k, val)) if !k.trim().is_empty() => {
                vars.push((k.trim().to_string(), val.to_string()))
            }
            _ => return Ok(bad(format!("--var `{v}`: expected NAME=VALUE"))),
        }
    }
    if let Err(e) = plan.load.overlay(&load).resolve() {
        return Ok(bad(format!("load: {e}")));
    }
    let env = match throng_runner::sidecar_env(&args.scenario) {
        Ok(e) => e,
        Err(e) => return Ok(bad(e)),
    };
    let opts = RunOptions {
        base_url: args.base_url.clone(),
        vars,
        load,
        no_think: args.no_think,
        grace,
        abort_on_fail: args.abort_on_fail,
        quiet: args.quiet,
        progress_every: Duration::from_secs(10),
        env,
        seed: None,
    };

    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("throng-vu")
        .enable_all()
        .build()?;
    let result = rt.block_on(async move {
        let stopper = Stopper::new();
        let signals = stopper.clone();
        let listener = tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                    signals.escalate();
                }
            }
            #[cfg(not(unix))]
            loop {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                signals.escalate();
            }
        });
        let r = throng_runner::run(plan, opts, stopper).await;
        listener.abort();
        r
    });
    // Connection tasks of VUs may still be parked; don't wait for them.
    rt.shutdown_timeout(Duration::from_millis(100));
    let results = match result {
        Ok(r) => r,
        Err(e) => return Ok(bad(e)),
    };
    println!("{}", results.summary());
    if let Some(out) = &args.out {
        if let Err(e) = results.write_json(out) {
            eprintln!("error: cannot write {}: {e}", out.display());
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    }
    if let Some(html) = &args.html {
        if let Err(e) = crate::output::write_html(&results, html) {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    }
    Ok(ExitCode::from(results.exit_code()))
}
