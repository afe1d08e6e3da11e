//! Load models and the run's lifecycle: spawning VUs (closed model) or scheduling arrivals
//! (open model), the once-a-second reporter (shard merge, timeline, progress, abort on
//! breached thresholds), and the graceful end (stop new iterations, wait up to the grace
//! period, then cut what is still running and count it as interrupted).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use throng_ir::{Load, LoadModel, Threshold};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::metrics::Recorder;
use crate::results::TimelinePoint;
use crate::vu::{IterEnd, Shared, Vu};

/// Stop levels carried by the internal stop channel.
pub const RUN: u8 = 0;
pub const GRACEFUL: u8 = 1;
pub const IMMEDIATE: u8 = 2;

/// Timeline points kept before neighbours are merged (and the resolution halved).
const MAX_TIMELINE: usize = 1800;

pub struct Finished {
    pub agg: Recorder,
    pub timeline: Vec<TimelinePoint>,
    pub elapsed: Duration,
    pub stop_reason: Option<String>,
}

pub struct EngineOptions {
    pub grace: Duration,
    pub quiet: bool,
    pub abort_on_fail: bool,
    pub thresholds: Vec<Threshold>,
    pub progress_every: Duration,
}

/// Runs one iteration unless the run is cut first; returns None when cut (interrupted).
async fn guarded(
    vu: &mut Vu,
    sh: &Shared,
    intended: Instant,
    cut: &mut watch::Receiver<bool>,
) -> Option<IterEnd> {
    let scenario = vu.choose(sh);
    sh.active.fetch_add(1, Ordering::Relaxed);
    let r = tokio::select! {
        biased;
        _ = cut.wait_for(|c| *c) => {
            sh.shards.local().iteration(scenario, Duration::ZERO, false, true);
            None
        }
        r = vu.iteration(sh, scenario, intended) => Some(r),
    };
    sh.active.fetch_sub(1, Ordering::Relaxed);
    r
}

#[allow(clippy::too_many_arguments)]
pub async fn execute(
    sh: Arc<Shared>,
    load: Load,
    opts: EngineOptions,
    mut stop: watch::Receiver<u8>,
    stop_tx: watch::Sender<u8>,
    build_partial: impl Fn(&Recorder, Duration) -> crate::results::RunResults + Send + 'static,
) -> Finished {
    let start = Instant::now();
    let (cut_tx, cut_rx) = watch::channel(false);
    let reporter_stop = Arc::new(tokio::sync::Notify::new());
    let reporter = {
        let sh = sh.clone();
        let done = reporter_stop.clone();
        let stop_tx = stop_tx.clone();
        tokio::spawn(reporter(
            sh,
            start,
            opts.quiet,
            opts.progress_every,
            opts.abort_on_fail,
            opts.thresholds,
            done,
            stop_tx,
            build_partial,
        ))
    };
    let dropped = Arc::new(AtomicU64::new(0));

    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut stop_reason = None;
    let deadline = load.duration.map(|d| start + d);

    match load.model {
        LoadModel::Closed { .. } => {
            let target = Arc::new(AtomicU64::new(0));
            let mut alive: Vec<Option<tokio::task::AbortHandle>> = Vec::new();
            let mut finished_ids = tokio::sync::mpsc::unbounded_channel::<usize>();
            loop {
                let elapsed = start.elapsed();
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let want = load.target_at(elapsed).round().max(0.0) as usize;
                target.store(want as u64, Ordering::Relaxed);
                while let Ok(i) = finished_ids.1.try_recv() {
                    alive[i] = None;
                }
                if sh.more_iterations() {
                    for i in 0..want {
                        if alive.len() <= i {
                            alive.push(None);
                        }
                        if alive[i].is_none() {
                            let sh = sh.clone();
                            let target = target.clone();
                            let mut cut = cut_rx.clone();
                            let done = finished_ids.0.clone();
                            let h = tasks.spawn(async move {
                                let mut vu = Vu::new(i as u64 + 1, sh.run_seed);
                                while (i as u64) < target.load(Ordering::Relaxed)
                                    && sh.claim_iteration()
                                {
                                    match guarded(&mut vu, &sh, Instant::now(), &mut cut).await {
                                        Some(IterEnd::Done { .. }) => {}
                                        Some(IterEnd::NoData) | None => break,
                                    }
                                }
                                let _ = done.send(i);
                            });
                            alive[i] = Some(h);
                        }
                    }
                }
                let any_alive = !tasks.is_empty();
                if !any_alive && (!sh.more_iterations() || (deadline.is_none() && want == 0)) {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    Some(_) = tasks.join_next(), if any_alive => {}
                    r = stop.changed() => {
                        if r.is_err() || *stop.borrow() != RUN { break; }
                    }
                }
            }
        }
        LoadModel::Open { max_vus, .. } => {
            let pool: Arc<std::sync::Mutex<Vec<Vu>>> = Arc::new(std::sync::Mutex::new(Vec::new()));
            let mut created: u64 = 0;
            let mut next_at = Duration::ZERO;
            loop {
                if load.duration.is_some_and(|d| next_at >= d) {
                    break;
                }
                let at = start + next_at;
                if at > Instant::now() {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at.into()) => {}
                        r = stop.changed() => {
                            if r.is_err() || *stop.borrow() != RUN { break; }
                            continue;
                        }
                    }
                }
                // Reap finished iterations so the set does not grow with the run's length.
                while tasks.try_join_next().is_some() {}
                let rate = load.target_at(next_at);
                if rate <= 0.0 {
                    next_at += Duration::from_millis(10);
                    continue;
                }
                next_at += Duration::from_secs_f64(1.0 / rate);
                if !sh.claim_iteration() {
                    break;
                }
                let vu = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
                let vu = match vu {
                    Some(v) => v,
                    None if created < max_vus as u64 => {
                        created += 1;
                        Vu::new(created, sh.run_seed)
                    }
                    None => {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        sh.shards.local().dropped += 1;
                        continue;
                    }
                };
                let sh2 = sh.clone();
                let pool2 = pool.clone();
                let mut cut = cut_rx.clone();
                tasks.spawn(async move {
                    let mut vu = vu;
                    let r = guarded(&mut vu, &sh2, at, &mut cut).await;
                    if r == Some(IterEnd::NoData) {
                        sh2.stop_new.store(true, Ordering::Relaxed);
                    }
                    pool2.lock().unwrap_or_else(|p| p.into_inner()).push(vu);
                });
                if sh.stop_new.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
    }

    // Graceful end: no new iterations; in-flight ones get the grace period.
    sh.stop_new.store(true, Ordering::Relaxed);
    if *stop.borrow() == GRACEFUL {
        stop_reason = Some("stopped by signal".to_string());
    }
    let mut interrupted_by_cut = false;
    if *stop.borrow() != IMMEDIATE && !tasks.is_empty() {
        let drain = async { while tasks.join_next().await.is_some() {} };
        tokio::select! {
            _ = drain => {}
            _ = tokio::time::sleep(opts.grace) => { interrupted_by_cut = true; }
            _ = stop.wait_for(|s| *s == IMMEDIATE) => { interrupted_by_cut = true; }
        }
    } else if !tasks.is_empty() {
        interrupted_by_cut = true;
    }
    if interrupted_by_cut || !tasks.is_empty() {
        let _ = cut_tx.send(true);
        while tasks.join_next().await.is_some() {}
    }
    let elapsed = start.elapsed();
    let level = *stop.borrow();
    if level == IMMEDIATE && stop_reason.is_none() {
        stop_reason = Some("stopped at once".to_string());
    }
    reporter_stop.notify_one();
    let (agg, timeline, abort_reason) = reporter
        .await
        .unwrap_or_else(|_| (Recorder::new(0, 0), Vec::new(), None));
    if abort_reason.is_some() {
        stop_reason = abort_reason;
    }
    Finished {
        agg,
        timeline,
        elapsed,
        stop_reason,
    }
}

#[allow(clippy::too_many_arguments)]
async fn reporter(
    sh: Arc<Shared>,
    start: Instant,
    quiet: bool,
    progress_every: Duration,
    abort_on_fail: bool,
    thresholds: Vec<Threshold>,
    done: Arc<tokio::sync::Notify>,
    stop_tx: watch::Sender<u8>,
    build_partial: impl Fn(&Recorder, Duration) -> crate::results::RunResults,
) -> (Recorder, Vec<TimelinePoint>, Option<String>) {
    let steps = sh.program.step_count;
    let scenarios = sh.program.scenarios.len();
    let mut agg = Recorder::new(steps, scenarios);
    let mut timeline: Vec<TimelinePoint> = Vec::new();
    let mut bucket = Duration::from_secs(1);
    let mut last = start;
    let mut last_progress = start;
    let terminal = std::io::stderr().is_terminal();
    let mut abort_reason = None;
    let mut tick = tokio::time::interval_at(
        (start + Duration::from_secs(1)).into(),
        Duration::from_secs(1),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let finishing = tokio::select! {
            _ = tick.tick() => false,
            _ = done.notified() => true,
        };
        sh.shards.collect(&mut agg);
        let now = Instant::now();
        let span = now.duration_since(last).as_secs_f64().max(1e-3);
        last = now;
        let point = TimelinePoint {
            t: (now - start).as_secs_f64(),
            rps: agg.interval_requests as f64 / span,
            errors: agg.interval_errors,
            vus: sh.active.load(Ordering::Relaxed),
            p50_ms: agg.interval.value_at_quantile(0.50) as f64 / 1000.0,
            p95_ms: agg.interval.value_at_quantile(0.95) as f64 / 1000.0,
            p99_ms: agg.interval.value_at_quantile(0.99) as f64 / 1000.0,
        };
        agg.interval.reset();
        agg.interval_requests = 0;
        agg.interval_errors = 0;
        if span > 0.05 || timeline.is_empty() {
            push_point(&mut timeline, point, &mut bucket);
        }
        if !quiet && !finishing {
            let requests: u64 = agg.steps.iter().map(|s| s.requests).sum();
            let failed: u64 = agg.steps.iter().map(|s| s.failed).sum();
            let iterations: u64 = agg.scenarios.iter().map(|s| s.iterations).sum();
            let line = format!(
                "[{:>5.0}s] {} VUs active, {} iterations, {} requests ({} failed), {:.1} req/s, p95 {:.1}ms",
                point.t, point.vus, iterations, requests, failed, point.rps, point.p95_ms
            );
            if terminal {
                eprint!("\r\x1b[2K{line}");
            } else if now.duration_since(last_progress) >= progress_every {
                last_progress = now;
                eprintln!("{line}");
            }
        }
        if finishing {
            if !quiet && terminal {
                eprintln!();
            }
            break;
        }
        if abort_on_fail && abort_reason.is_none() && !thresholds.is_empty() {
            let partial = build_partial(&agg, start.elapsed());
            if let Some(expr) = crate::thresholds::breached_abortable(&thresholds, &partial) {
                abort_reason = Some(format!("aborted: threshold `{expr}` breached"));
                let _ = stop_tx.send(IMMEDIATE);
            }
        }
    }
    (agg, timeline, abort_reason)
}

/// Appends a point; past the cap, neighbours merge pairwise so memory stays bounded.
fn push_point(timeline: &mut Vec<TimelinePoint>, p: TimelinePoint, bucket: &mut Duration) {
    timeline.push(p);
    if timeline.len() > MAX_TIMELINE {
        let merged: Vec<TimelinePoint> = timeline
            .chunks(2)
            .map(|c| match c {
                [a, b] => TimelinePoint {
                    t: b.t,
                    rps: (a.rps + b.rps) / 2.0,
                    errors: a.errors + b.errors,
                    vus: a.vus.max(b.vus),
                    p50_ms: a.p50_ms.max(b.p50_ms),
                    p95_ms: a.p95_ms.max(b.p95_ms),
                    p99_ms: a.p99_ms.max(b.p99_ms),
                },
                [a] => *a,
                _ => unreachable!(),
            })
            .collect();
        *timeline = merged;
        *bucket *= 2;
    }
}
