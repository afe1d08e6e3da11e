//! throng-runner: the engine behind `throng run`.
//!
//! [`run`] takes a loaded [`Plan`] and [`RunOptions`], executes it under its load model with
//! virtual users that each own their connections and cookie jar, and returns
//! [`RunResults`]: per-step and per-scenario HDR latencies, error categories, a timeline,
//! and the thresholds judged on them. The CLI prints [`RunResults::summary`], writes
//! [`RunResults::write_json`], and exits with [`RunResults::exit_code`].

mod client;
mod engine;
mod feeders;
mod plan;
pub mod redact;
mod report;
mod step;
pub mod trace;
mod vu;

pub use report::{html, merge, results, thresholds};

/// The request path's pieces, for the micro-benchmarks in `benches/hot_path.rs` (template
/// rendering, JSONPath extraction, histogram recording, cookies): built only with the
/// `bench-internals` feature, which those benchmarks require; not an API.
#[cfg(feature = "bench-internals")]
pub mod hot {
    pub use crate::client::CookieJar;
    pub use crate::plan::{compile, BodyPlan, Program};
    pub use crate::report::metrics::{Recorder, RequestRecord};
    pub use crate::step::respond::{check, extract, Seen};
}

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use throng_ir::{LoadModel, LoadSpec, Plan, Segment};
use tokio::sync::watch;

pub use client::{CookieJar, TlsOptions};
pub use report::live::{prometheus_text, LiveFeed, LiveScenario, LiveSnapshot, LiveStep, Observer};
pub use report::merge::{merge, MergeError};
pub use report::results::{
    decode_histogram, encode_histogram, new_histogram, Connections, FailureSample, Histograms,
    LatencySummary, MessageStats, NamedHistogram, RunResults, ScenarioResult, StepResult,
    ThresholdResult, TimelinePoint, Totals,
};
pub use report::thresholds::evaluate as evaluate_thresholds;
pub use throng_ir::calendar::{parse_rfc3339, rfc3339};
pub use trace::{TraceEvent, TraceSink};

/// How to run a plan; everything not set here comes from the plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Replaces `vars.base_url`.
    pub base_url: Option<String>,
    /// `--var k=v`: replace (or add) plan variables, as text.
    pub vars: Vec<(String, String)>,
    /// Load fields given on the command line; overlaid on the plan's `load`.
    pub load: LoadSpec,
    /// Ignore every think time.
    pub no_think: bool,
    /// How long in-flight iterations may finish after the end (default 10 s).
    pub grace: Duration,
    /// Stop early when an abortable threshold is already breached.
    pub abort_on_fail: bool,
    /// No progress output.
    pub quiet: bool,
    /// Interval between progress lines when stderr is not a terminal.
    pub progress_every: Duration,
    /// Variables for `env(name)` in templates, consulted before the process environment
    /// (the scenario's sidecar `.env`).
    pub env: HashMap<String, String>,
    /// Seed for template randomness (`uuid()`, `random_int()`), scenario choice, random
    /// rows and think times; when None, derived from `start_at` (so the segments of one
    /// split share it), else random.
    pub seed: Option<u64>,
    /// This process's share of a load split over several processes (default: the whole).
    pub segment: Segment,
    /// Wait for this instant before starting (the shared start of a split load).
    pub start_at: Option<SystemTime>,
    /// How `https://` targets are trusted.
    pub tls: TlsOptions,
    /// Receives one redacted [`TraceEvent`] per executed step; None (the default) costs
    /// nothing on the request path.
    pub trace: Option<TraceSink>,
    /// Gets a [`LiveSnapshot`] every second (progress views, metrics endpoints); when set,
    /// the runner prints no progress of its own.
    pub live: Option<LiveFeed>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            base_url: None,
            vars: Vec::new(),
            load: LoadSpec::default(),
            no_think: false,
            grace: Duration::from_secs(10),
            abort_on_fail: false,
            quiet: false,
            progress_every: Duration::from_secs(10),
            env: HashMap::new(),
            seed: None,
            segment: Segment::WHOLE,
            start_at: None,
            tls: TlsOptions::default(),
            trace: None,
            live: None,
        }
    }
}

/// Why a run could not start. All of these are bad input (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("load: {0}")]
    Load(String),
    #[error("{0}")]
    Data(String),
    #[error("{0}")]
    Compile(String),
    #[error("{0}")]
    Tls(String),
    #[error("{0}")]
    Env(String),
}

/// Asks a running [`run`] to stop: the first request is graceful (in-flight iterations get
/// the grace period), the second stops at once. Results are returned either way.
#[derive(Clone)]
pub struct Stopper {
    tx: watch::Sender<u8>,
}

impl Default for Stopper {
    fn default() -> Self {
        Stopper::new()
    }
}

impl Stopper {
    pub fn new() -> Stopper {
        Stopper {
            tx: watch::channel(engine::RUN).0,
        }
    }

    /// Graceful the first time, immediate the next.
    pub fn escalate(&self) {
        self.tx
            .send_modify(|l| *l = (*l + 1).min(engine::IMMEDIATE));
    }

    pub fn graceful(&self) {
        self.tx.send_modify(|l| *l = (*l).max(engine::GRACEFUL));
    }

    pub fn immediate(&self) {
        self.tx.send_modify(|l| *l = engine::IMMEDIATE);
    }
}

/// Reads the sidecar `.env` beside a scenario file (none is fine).
pub fn sidecar_env(scenario: &Path) -> Result<HashMap<String, String>, RunError> {
    throng_ir::envfile::read_if_present(&throng_ir::envfile::sidecar_path(scenario))
        .map_err(RunError::Env)
}

/// Parses a start instant: unix milliseconds or RFC 3339.
pub fn parse_instant(text: &str) -> Result<SystemTime, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let ms: u64 = t
            .parse()
            .map_err(|_| format!("`{text}`: not a unix time in milliseconds"))?;
        if ms < 1_000_000_000_000 {
            return Err(format!(
                "`{text}`: expected unix milliseconds (13 digits today), or RFC 3339"
            ));
        }
        return Ok(SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
    }
    parse_rfc3339(t)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs a plan to its end (or until `stop`), and judges its thresholds.
///
/// With a [`RunOptions::segment`], runs only that segment's share of the load: global VU,
/// iteration, arrival and data row `g` belong to segment `g mod N`, so N processes with the
/// same options and `start_at` together run exactly the whole load, and their results
/// [`merge`] into what one process would have measured.
pub async fn run(plan: Plan, opts: RunOptions, stop: Stopper) -> Result<RunResults, RunError> {
    let load = plan
        .load
        .overlay(&opts.load)
        .resolve()
        .map_err(RunError::Load)?;
    let mut overrides = opts.vars.clone();
    if let Some(b) = &opts.base_url {
        overrides.retain(|(k, _)| k != "base_url");
        overrides.push(("base_url".into(), b.trim_end_matches('/').to_string()));
    }
    let feeders = plan
        .data
        .iter()
        .map(|(name, f)| feeders::FeederData::load(name, f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RunError::Data)?;
    check_columns(&plan, &feeders).map_err(RunError::Data)?;
    let segment = opts.segment;
    let feeders = feeders
        .into_iter()
        .map(|f| f.for_segment(segment))
        .collect::<Vec<_>>();
    check_split(&load, segment)?;
    let program =
        plan::compile(&plan, &overrides, Arc::new(opts.env.clone())).map_err(RunError::Compile)?;
    let tls = client::Tls::new(&opts.tls).map_err(RunError::Tls)?;
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    let run_seed = run_seed(&opts, &plan.name);
    let names: Vec<(String, String)> = program
        .scenarios
        .iter()
        .flat_map(|s| {
            s.steps
                .iter()
                .map(move |st| (s.name.clone(), st.name.clone()))
        })
        .collect();
    let stream_kinds: Vec<Option<&'static str>> = program
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter().map(|st| st.kind.stream_name()))
        .collect();
    let scenario_names: Vec<String> = program.scenarios.iter().map(|s| s.name.clone()).collect();
    let shared = Arc::new(vu::Shared {
        shards: report::metrics::Shards::new(
            workers + 1,
            program.step_count,
            program.scenarios.len(),
        ),
        program,
        feeders,
        no_think: opts.no_think,
        run_seed,
        stop_new: AtomicBool::new(false),
        // Iterations are striped too: this segment runs its share of the total.
        iteration_limit: load.iterations.map(|n| segment.share(n)),
        iterations_claimed: AtomicU64::new(0),
        active: AtomicU64::new(0),
        data_exhausted: AtomicBool::new(false),
        segment,
        tls,
        trace: opts.trace.clone(),
    });
    let (start, started_at) = wait_for_start(&opts, &stop).await;
    let meta = Meta {
        name: plan.name.clone(),
        started_at,
        load: load.describe(),
        steps: names,
        stream_kinds,
        scenarios: scenario_names,
        segment: (!segment.is_whole()).then(|| segment.to_string()),
        insecure: opts.tls.insecure,
    };
    let partial_meta = meta.clone();
    let thresholds = plan.thresholds.clone();
    let partial = move |agg: &report::metrics::Recorder, elapsed: Duration| {
        build_results(&partial_meta, agg, elapsed, Vec::new(), None, &[])
    };
    let engine_opts = engine::EngineOptions {
        grace: opts.grace,
        quiet: opts.quiet,
        abort_on_fail: opts.abort_on_fail,
        thresholds: thresholds.clone(),
        progress_every: opts.progress_every,
        observer: opts.live.as_ref().map(|feed| {
            (
                feed.0.clone(),
                report::live::LiveMeta {
                    name: plan.name.clone(),
                    steps: meta.steps.clone(),
                    scenarios: meta.scenarios.clone(),
                    planned: load.duration,
                    iteration_limit: load.iterations.map(|n| segment.share(n)),
                },
            )
        }),
    };
    let done = engine::execute(
        shared,
        load,
        start,
        engine_opts,
        stop.tx.subscribe(),
        stop.tx.clone(),
        partial,
    )
    .await;
    let mut results = build_results(
        &meta,
        &done.agg,
        done.elapsed,
        done.timeline,
        done.stop_reason,
        &thresholds,
    );
    if let Some(why) = done.reporter_panic {
        // Everything it collected is gone: the results must not read as a quiet run.
        *results.errors.entry("internal".into()).or_insert(0) += 1;
        results.stop_reason = Some(format!(
            "internal error: the reporter panicked ({why}); no figure of this run is complete"
        ));
        results.stopped_early = true;
    }
    Ok(results)
}

/// Refuses a closed-model iteration budget split over more segments than the load has VUs:
/// a segment without a VU would never run its share.
fn check_split(load: &throng_ir::Load, segment: Segment) -> Result<(), RunError> {
    if let (LoadModel::Closed { vus }, Some(n), false) =
        (load.model, load.iterations, segment.is_whole())
    {
        let peak = load
            .stages
            .iter()
            .map(|s| s.target)
            .fold(vus as f64, f64::max);
        let peak = engine::global_vus(peak);
        if peak < segment.count() as u64 {
            return Err(RunError::Load(format!(
                "{n} iterations shared by {peak} VUs cannot be split over {} segments: \
             every segment needs a VU (use at most {peak} segments, or more VUs)",
                segment.count()
            )));
        }
    }
    Ok(())
}

/// The run's seed: `--seed`, else one derived from `--start-at` (so the segments of one
/// split share it), else from the clock and the process.
fn run_seed(opts: &RunOptions, name: &str) -> u64 {
    let shared_seed = opts.start_at.map(|at| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&(unix_ms(at), name), &mut h);
        std::hash::Hasher::finish(&h)
    });
    opts.seed.or(shared_seed).unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            ^ (std::process::id() as u64) << 32
    })
}

/// Waits for `start_at` (interruptible by `stop`); returns the start as an `Instant` and as
/// wall-clock time. A start already past begins now.
async fn wait_for_start(opts: &RunOptions, stop: &Stopper) -> (Instant, SystemTime) {
    let now_wall = SystemTime::now();
    let now = Instant::now();
    let Some(at) = opts.start_at else {
        return (now, now_wall);
    };
    let label = if opts.segment.is_whole() {
        String::new()
    } else {
        format!(" (segment {})", opts.segment)
    };
    match at.duration_since(now_wall) {
        Ok(wait) if !wait.is_zero() => {
            if !opts.quiet {
                eprintln!(
                    "waiting {:.1}s for the start at {}{label}",
                    wait.as_secs_f64(),
                    rfc3339(at)
                );
            }
            let start = now + wait;
            let mut rx = stop.tx.subscribe();
            tokio::select! {
                _ = tokio::time::sleep_until(start.into()) => {}
                _ = rx.wait_for(|l| *l != engine::RUN) => {}
            }
            (start, at)
        }
        Ok(_) => (now, now_wall),
        Err(late) => {
            let late = late.duration();
            if late > Duration::from_secs(1) {
                eprintln!(
                    "warning: the start at {} passed {:.1}s ago{label}; starting now",
                    rfc3339(at),
                    late.as_secs_f64()
                );
            }
            (now, now_wall)
        }
    }
}

/// Every `feeder.column` a template reads must exist in that feeder's CSV.
fn check_columns(plan: &Plan, feeders: &[feeders::FeederData]) -> Result<(), String> {
    let mut templates: Vec<&throng_ir::Template> =
        plan.vars.values().flat_map(|v| v.templates()).collect();
    for s in &plan.scenarios {
        for st in &s.steps {
            templates.extend(st.templates());
            templates.extend(st.check.iter().flat_map(|c| c.templates()));
        }
    }
    for t in templates {
        for r in t.references() {
            if let Some((root, col)) = r.split_once('.') {
                if let Some(f) = feeders.iter().find(|f| f.name == root) {
                    let col = col.split('.').next().unwrap_or(col);
                    if !f.columns.iter().any(|c| c == col) {
                        return Err(format!(
                            "data `{root}` has no column `{col}` (columns: {})",
                            f.columns.join(", ")
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[derive(Clone)]
struct Meta {
    name: String,
    started_at: SystemTime,
    load: String,
    steps: Vec<(String, String)>,
    /// Per step: `sse` or `ws` for streaming steps.
    stream_kinds: Vec<Option<&'static str>>,
    scenarios: Vec<String>,
    segment: Option<String>,
    insecure: bool,
}

fn build_results(
    meta: &Meta,
    agg: &report::metrics::Recorder,
    elapsed: Duration,
    timeline: Vec<TimelinePoint>,
    stop_reason: Option<String>,
    thresholds: &[throng_ir::Threshold],
) -> RunResults {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut overall = new_histogram();
    let mut errors = std::collections::BTreeMap::new();
    let mut steps = Vec::new();
    let mut step_hists = Vec::new();
    for (((scenario, step), rec), kind) in meta.steps.iter().zip(&agg.steps).zip(&meta.stream_kinds)
    {
        let empty = report::metrics::MessageRec::default();
        let msgs = kind.map(|k| (k, rec.messages.as_deref().unwrap_or(&empty)));
        let _ = overall.add(&rec.hist);
        let mut errs = std::collections::BTreeMap::new();
        for (c, n) in &rec.categories {
            *errs.entry(c.as_str().to_string()).or_insert(0) += n;
        }
        for (code, n) in &rec.statuses {
            *errs.entry(format!("http_{code}")).or_insert(0) += n;
        }
        for (k, v) in &errs {
            *errors.entry(k.clone()).or_insert(0) += v;
        }
        steps.push(StepResult {
            scenario: scenario.clone(),
            step: step.clone(),
            requests: rec.requests,
            failed: rec.failed,
            rps: rec.requests as f64 / secs,
            latency_ms: LatencySummary::of(&rec.hist),
            errors: errs,
            checks_passed: rec.checks_passed,
            checks_failed: rec.checks_failed,
            failures: rec
                .samples
                .iter()
                .map(|(m, c)| FailureSample {
                    message: m.clone(),
                    count: *c,
                })
                .collect(),
            messages: msgs.map(|(k, m)| MessageStats {
                kind: k.to_string(),
                sent: m.sent,
                received: m.received,
                latency_ms: LatencySummary::of(&m.hist),
                first_ms: (k == "sse").then(|| LatencySummary::of(&m.first)),
            }),
        });
        step_hists.push(NamedHistogram {
            scenario: scenario.clone(),
            step: step.clone(),
            hdr: encode_histogram(&rec.hist),
            messages_hdr: msgs
                .map(|(_, m)| encode_histogram(&m.hist))
                .unwrap_or_default(),
            first_message_hdr: msgs
                .filter(|(k, _)| *k == "sse")
                .map(|(_, m)| encode_histogram(&m.first))
                .unwrap_or_default(),
        });
    }
    let mut iter_hist = new_histogram();
    let mut scenarios = Vec::new();
    let mut scen_hists = Vec::new();
    for (name, rec) in meta.scenarios.iter().zip(&agg.scenarios) {
        let _ = iter_hist.add(&rec.hist);
        scenarios.push(ScenarioResult {
            name: name.clone(),
            iterations: rec.iterations,
            failed: rec.failed,
            latency_ms: LatencySummary::of(&rec.hist),
            interrupted: rec.interrupted,
        });
        scen_hists.push(NamedHistogram {
            scenario: name.clone(),
            step: String::new(),
            hdr: encode_histogram(&rec.hist),
            ..Default::default()
        });
    }
    let requests: u64 = steps.iter().map(|s| s.requests).sum();
    let totals = Totals {
        requests,
        failed_requests: steps.iter().map(|s| s.failed).sum(),
        iterations: scenarios.iter().map(|s| s.iterations).sum(),
        failed_iterations: scenarios.iter().map(|s| s.failed).sum(),
        dropped_iterations: agg.dropped,
        rps: requests as f64 / secs,
        bytes_received: agg.bytes_received,
        bytes_sent: agg.bytes_sent,
        latency_ms: LatencySummary::of(&overall),
        interrupted_iterations: scenarios.iter().map(|s| s.interrupted).sum(),
        checks_passed: steps.iter().map(|s| s.checks_passed).sum(),
        checks_failed: steps.iter().map(|s| s.checks_failed).sum(),
        iteration_latency_ms: LatencySummary::of(&iter_hist),
    };
    let mut results = RunResults {
        version: 1,
        name: meta.name.clone(),
        started_at: rfc3339(meta.started_at),
        duration_s: elapsed.as_secs_f64(),
        totals,
        steps,
        scenarios,
        errors,
        connections: Connections {
            opened: agg.conn_opened,
            reused: agg.conn_reused,
        },
        thresholds: Vec::new(),
        timeline,
        histograms: Histograms {
            overall: encode_histogram(&overall),
            steps: step_hists,
            scenarios: scen_hists,
            iterations: encode_histogram(&iter_hist),
        },
        load: meta.load.clone(),
        stopped_early: stop_reason.is_some(),
        stop_reason,
        segment: meta.segment.clone(),
        started_at_ms: unix_ms(meta.started_at),
        ended_at_ms: unix_ms(meta.started_at + elapsed),
        segments_merged: 0,
        merged_segments: Vec::new(),
        insecure: meta.insecure,
    };
    results.thresholds = thresholds::evaluate(thresholds, &results);
    results
}
