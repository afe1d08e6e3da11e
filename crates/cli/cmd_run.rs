//! `throng run SCENARIO`: execute a scenario under load.
//!
//! Parses flags into `throng_runner::RunOptions`, runs on a multi-thread runtime (one worker
//! per core), turns SIGINT/SIGTERM into graceful-then-immediate stops, prints the summary
//! and writes `--out` even when stopped. Exit: 0 ok, 1 threshold breached, 2 bad input.
//!
//! `--segment I/N` (or `THRONG_SEGMENT=I/N`, or `--segments N` with Kubernetes'
//! `JOB_COMPLETION_INDEX`) runs one process's share of a load split over N processes;
//! `--start-at` makes them start together, and `throng merge` combines their results.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use throng_ir::{LoadSpec, Rate, Segment, Stage};
use throng_runner::RunOptions;

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
    /// Write a JUnit XML report to this file (a test case per threshold and per step)
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// No progress output: only the final summary
    #[arg(long)]
    quiet: bool,
    /// Without a terminal, print a progress line this often
    #[arg(long, value_name = "D", default_value = "10s")]
    progress_interval: String,
    /// Serve live metrics for Prometheus at http://ADDR/metrics while running,
    /// e.g. 127.0.0.1:9464
    #[arg(long, value_name = "ADDR")]
    prometheus: Option<String>,
    /// Ignore think times
    #[arg(long)]
    no_think: bool,
    /// How long in-flight iterations may finish at the end
    #[arg(long, value_name = "D", default_value = "10s")]
    grace: String,
    /// Stop early once an abortable threshold (error_rate, max) is breached
    #[arg(long)]
    abort_on_fail: bool,
    /// Run only segment I of a load split over N processes (0-based), e.g. 2/4
    #[arg(long, value_name = "I/N", env = "THRONG_SEGMENT")]
    segment: Option<String>,
    /// Split the load over N processes; this one is segment $JOB_COMPLETION_INDEX
    /// (set by Kubernetes Indexed Jobs)
    #[arg(long, value_name = "N")]
    segments: Option<u32>,
    /// Wait for this instant before starting: unix milliseconds or RFC 3339
    #[arg(long, value_name = "TIME")]
    start_at: Option<String>,
    /// Print the results JSON as one line, as the last line of output (for `kubectl logs`)
    #[arg(long)]
    print_results: bool,
    /// Do not verify TLS certificates (self-signed test systems only; prints a warning)
    #[arg(long)]
    insecure: bool,
    /// Also trust the CA certificates in this PEM file (repeatable)
    #[arg(long = "ca-cert", value_name = "FILE", conflicts_with = "insecure")]
    ca_certs: Vec<PathBuf>,
    /// Print every executed step to stderr: the request, redirects, the response (bodies
    /// cut at 2 KB), extracted variables and checks (✓/✗ with actual values). Credentials
    /// and secret variables are redacted. Implies nothing about the load: best with
    /// --vus 1 --iterations 1
    #[arg(long)]
    trace: bool,
    /// Write the same trace as JSON lines to FILE (one object per step, bodies cut at
    /// 64 KB with `truncated: true`; mode 0600); best with --vus 1 --iterations 1
    #[arg(long, value_name = "FILE")]
    trace_file: Option<PathBuf>,
    /// Seed for randomness (`uuid()`, random rows, scenario choice); default: from
    /// --start-at, so the segments of one split share it
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

/// The segment from --segment / THRONG_SEGMENT, or --segments N with JOB_COMPLETION_INDEX.
fn segment_of(args: &Args) -> Result<Segment, String> {
    match (&args.segment, args.segments) {
        (None, None) => Ok(Segment::WHOLE),
        (Some(s), None) => Segment::parse(s).map_err(|e| format!("--segment: {e}")),
        (Some(s), Some(n)) => {
            let seg = Segment::parse(s).map_err(|e| format!("--segment: {e}"))?;
            if seg.count() != n {
                return Err(format!(
                    "--segment {seg} (or THRONG_SEGMENT) disagrees with --segments {n}"
                ));
            }
            Ok(seg)
        }
        (None, Some(n)) => {
            let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                format!(
                    "--segments {n} takes this process's index from JOB_COMPLETION_INDEX \
                     (set by Kubernetes Indexed Jobs), which is not set; use --segment I/{n}"
                )
            })?;
            let index: u32 = index
                .trim()
                .parse()
                .map_err(|_| format!("JOB_COMPLETION_INDEX `{index}` is not a number"))?;
            Segment::new(index, n).map_err(|e| format!("--segments: {e}"))
        }
    }
}

/// `--var NAME=VALUE` flags as (name, value) pairs.
pub fn parse_vars(flags: &[String]) -> Result<Vec<(String, String)>, String> {
    flags
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) if !k.trim().is_empty() => Ok((k.trim().to_string(), val.to_string())),
            _ => Err(format!("--var `{v}`: expected NAME=VALUE")),
        })
        .collect()
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
    for path in args
        .out
        .iter()
        .chain(&args.html)
        .chain(&args.junit)
        .chain(&args.trace_file)
    {
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
    let progress_every = match throng_ir::parse_duration(&args.progress_interval) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => return Ok(bad("--progress-interval must be more than 0s")),
        Err(e) => return Ok(bad(format!("--progress-interval: {e}"))),
    };
    let grace = match throng_ir::parse_duration(&args.grace) {
        Ok(g) => g,
        Err(e) => return Ok(bad(format!("--grace: {e}"))),
    };
    let vars = match parse_vars(&args.vars) {
        Ok(v) => v,
        Err(e) => return Ok(bad(e)),
    };
    if let Err(e) = plan.load.overlay(&load).resolve() {
        return Ok(bad(format!("load: {e}")));
    }
    let segment = match segment_of(&args) {
        Ok(s) => s,
        Err(e) => return Ok(bad(e)),
    };
    let start_at = match args.start_at.as_deref().map(throng_runner::parse_instant) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return Ok(bad(format!("--start-at: {e}"))),
    };
    let env = match throng_runner::sidecar_env(&args.scenario) {
        Ok(e) => e,
        Err(e) => return Ok(bad(e)),
    };
    let mut opts = RunOptions {
        base_url: args.base_url.clone(),
        vars,
        load,
        no_think: args.no_think,
        grace,
        abort_on_fail: args.abort_on_fail,
        quiet: args.quiet,
        progress_every,
        env,
        seed: args.seed,
        segment,
        start_at,
        tls: throng_runner::TlsOptions {
            insecure: args.insecure,
            ca_certs: args.ca_certs.clone(),
        },
        ..RunOptions::default()
    };
    let mut observers: Vec<Arc<dyn throng_runner::Observer>> = Vec::new();
    if !args.quiet {
        observers.push(Arc::new(crate::progress::Progress::for_stderr(
            opts.progress_every,
        )));
    }
    let endpoint = match &args.prometheus {
        None => None,
        Some(addr) => match crate::prometheus::bind(addr) {
            Ok(listener) => {
                let exposition = Arc::new(crate::prometheus::Exposition::default());
                observers.push(exposition.clone());
                Some((listener, exposition))
            }
            Err(e) => return Ok(bad(e)),
        },
    };
    if !observers.is_empty() {
        opts.live = Some(throng_runner::LiveFeed(Arc::new(crate::progress::Fanout(
            observers,
        ))));
    }
    if args.insecure {
        eprintln!(
            "warning: --insecure: TLS certificates are not verified; responses may come from \
             anyone between throng and the target"
        );
    }
    let tracer = if args.trace || args.trace_file.is_some() {
        match crate::trace::Tracer::new(args.trace, args.trace_file.as_deref()) {
            Ok(t) => {
                opts.trace = Some(t.sink());
                Some(t)
            }
            Err(e) => {
                let file = args
                    .trace_file
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""));
                return Ok(bad(format!("cannot write {}: {e}", file.display())));
            }
        }
    } else {
        None
    };

    let result = crate::execute::run_plan(plan, opts, endpoint)?;
    if let Some(t) = &tracer {
        if let Err(e) = t.finish() {
            let file = args
                .trace_file
                .as_deref()
                .unwrap_or(std::path::Path::new(""));
            eprintln!("error: cannot write {}: {e}", file.display());
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    }
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
    if let Some(junit) = &args.junit {
        if let Err(e) = crate::output::write_junit(&results, junit) {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    }
    if args.print_results {
        // One line, and the last one: `kubectl logs --tail=1` collects it.
        println!("{}", serde_json::to_string(&results)?);
    }
    Ok(ExitCode::from(results.exit_code()))
}
