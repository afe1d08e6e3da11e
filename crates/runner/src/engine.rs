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

use futures_util::FutureExt;
use hdrhistogram::Histogram;

use crate::report::metrics::Recorder;
use crate::report::results::{decode_histogram, encode_histogram, new_histogram, TimelinePoint};
use crate::vu::{IterEnd, Shared, Vu};

/// Stop levels carried by the internal stop channel.
pub const RUN: u8 = 0;
pub const GRACEFUL: u8 = 1;
pub const IMMEDIATE: u8 = 2;

/// How long an open-model arrival may wait for a VU of a full pool before it is dropped.
/// Covers short stalls (a burst of connects, the generator descheduled) without hiding
/// overload: the wait counts in the iteration latency, which runs from the intended start.
pub const QUEUE_WAIT: Duration = Duration::from_millis(250);

/// Timeline points kept before neighbours are merged (and the resolution halved).
const MAX_TIMELINE: usize = 1800;

pub struct Finished {
    pub agg: Recorder,
    pub timeline: Vec<TimelinePoint>,
    pub elapsed: Duration,
    pub stop_reason: Option<String>,
    /// The reporter task panicked: what it collected is lost, and the run must say so.
    pub reporter_panic: Option<String>,
}

pub struct EngineOptions {
    pub grace: Duration,
    pub quiet: bool,
    pub abort_on_fail: bool,
    pub thresholds: Vec<Threshold>,
    pub progress_every: Duration,
    /// Gets a snapshot every second; when set, the engine prints no progress itself.
    pub observer: Option<(
        Arc<dyn crate::report::live::Observer>,
        crate::report::live::LiveMeta,
    )>,
}

/// Runs one iteration unless the run is cut first; returns None when cut (interrupted).
/// `arrival` is the global arrival number (open model), which keys the iteration's
/// randomness; closed-model iterations are keyed by (global VU, its iteration count).
async fn guarded(
    vu: &mut Vu,
    sh: &Shared,
    intended: Instant,
    arrival: Option<u64>,
    cut: &mut watch::Receiver<bool>,
) -> Option<IterEnd> {
    vu.begin(sh, arrival);
    let scenario = vu.choose(sh);
    sh.active.fetch_add(1, Ordering::Relaxed);
    // A panic anywhere in the iteration (a step, the client, a check) is caught here: it
    // fails this iteration with an `internal` error and the VU goes on, instead of killing
    // the VU's task and leaving a run that reports nothing and passes.
    let iteration = std::panic::AssertUnwindSafe(vu.iteration(sh, scenario, intended));
    let r = tokio::select! {
        biased;
        _ = cut.wait_for(|c| *c) => {
            sh.shards.local().iteration(scenario, Duration::ZERO, false, true);
            None
        }
        r = iteration.catch_unwind() => Some(match r {
            Ok(end) => end,
            Err(payload) => vu.crashed(sh, scenario, intended, &*payload),
        }),
    };
    sh.active.fetch_sub(1, Ordering::Relaxed);
    r
}

/// Counts a VU task that ended in a panic outside an iteration (which `guarded` would have
/// caught) as an `internal` error of the first step, so that it cannot pass unseen.
fn contained(sh: &Shared, joined: Option<Result<(), tokio::task::JoinError>>) {
    if let Some(Err(e)) = joined {
        if e.is_panic() {
            let why = crate::vu::panic_message(&*e.into_panic());
            crate::vu::record_internal(sh, 0, &format!("a virtual user's task panicked: {why}"));
        }
    }
}

/// The global VU count for a (possibly fractional, ramping) target.
pub fn global_vus(target: f64) -> u64 {
    (target + 1e-9).floor().max(0.0) as u64
}

/// The open model's schedule: arrival `k` (0-based, global) at its offset from the start,
/// following the (ramped) rate; ends at the duration.
pub struct Arrivals<'l> {
    load: &'l Load,
    next_at: Duration,
    k: u64,
}

impl<'l> Arrivals<'l> {
    pub fn new(load: &'l Load) -> Arrivals<'l> {
        Arrivals {
            load,
            next_at: Duration::ZERO,
            k: 0,
        }
    }
}

impl Iterator for Arrivals<'_> {
    type Item = (u64, Duration);

    fn next(&mut self) -> Option<(u64, Duration)> {
        loop {
            if self.load.duration.is_some_and(|d| self.next_at >= d) {
                return None;
            }
            let rate = self.load.target_at(self.next_at);
            if rate <= 0.0 {
                // No duration means no stages: the rate never rises again.
                self.load.duration?;
                // Wait for the ramp to bring the rate above zero.
                self.next_at += Duration::from_millis(10);
                continue;
            }
            let at = self.next_at;
            self.next_at += Duration::from_secs_f64(1.0 / rate);
            let k = self.k;
            self.k += 1;
            return Some((k, at));
        }
    }
}

/// Runs the load: starts the reporter, drives the load model until its end or a stop,
/// winds down (grace period, then the cut), and collects what the reporter merged.
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    sh: Arc<Shared>,
    load: Load,
    start: Instant,
    opts: EngineOptions,
    mut stop: watch::Receiver<u8>,
    stop_tx: watch::Sender<u8>,
    build_partial: impl Fn(&Recorder, Duration) -> crate::results::RunResults + Send + 'static,
) -> Finished {
    let (cut_tx, cut_rx) = watch::channel(false);
    let reporter_stop = Arc::new(tokio::sync::Notify::new());
    let grace = opts.grace;
    let reporter = tokio::spawn(reporter(
        sh.clone(),
        start,
        opts.quiet,
        opts.progress_every,
        opts.observer,
        opts.abort_on_fail,
        opts.thresholds,
        reporter_stop.clone(),
        stop_tx,
        build_partial,
    ));
    let mut tasks: JoinSet<()> = JoinSet::new();
    match load.model {
        LoadModel::Closed { .. } => {
            run_closed(&sh, &load, start, &mut stop, &cut_rx, &mut tasks).await
        }
        LoadModel::Open { max_vus, .. } => {
            run_open(&sh, &load, start, max_vus, &mut stop, &cut_rx, &mut tasks).await
        }
    }
    let mut stop_reason = wind_down(&sh, grace, &mut stop, &cut_tx, &mut tasks).await;
    let elapsed = start.elapsed();
    reporter_stop.notify_one();
    let mut reporter_panic = None;
    let (agg, timeline, abort_reason) = reporter.await.unwrap_or_else(|e| {
        reporter_panic = Some(match e.try_into_panic() {
            Ok(p) => crate::vu::panic_message(&*p),
            Err(e) => e.to_string(),
        });
        (Recorder::new(0, 0), Vec::new(), None)
    });
    if abort_reason.is_some() {
        stop_reason = abort_reason;
    }
    Finished {
        agg,
        timeline,
        elapsed,
        stop_reason,
        reporter_panic,
    }
}

/// The closed model: keeps this segment's share of the (ramped) VU target running, each VU
/// looping over iterations while it is within the target and iterations are left.
async fn run_closed(
    sh: &Arc<Shared>,
    load: &Load,
    start: Instant,
    stop: &mut watch::Receiver<u8>,
    cut_rx: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) {
    let deadline = load.duration.map(|d| start + d);
    let target = Arc::new(AtomicU64::new(0));
    let mut alive: Vec<Option<tokio::task::AbortHandle>> = Vec::new();
    let mut finished_ids = tokio::sync::mpsc::unbounded_channel::<usize>();
    loop {
        let elapsed = start.elapsed();
        if deadline.is_some_and(|d| Instant::now() >= d) || *stop.borrow() != RUN {
            break;
        }
        // Global VU g belongs to segment g mod N: this segment runs its share of
        // the global target, and the shares add up to the target.
        let want = sh.segment.share(global_vus(load.target_at(elapsed))) as usize;
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
                        let g = sh.segment.global(i as u64);
                        let mut vu = Vu::new(g + 1, sh.run_seed, &sh.tls);
                        while (i as u64) < target.load(Ordering::Relaxed) && sh.claim_iteration() {
                            let now = Instant::now();
                            match guarded(&mut vu, &sh, now, None, &mut cut).await {
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
            joined = tasks.join_next(), if any_alive => contained(sh, joined),
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() != RUN { break; }
            }
        }
    }
}

/// The open model: fires this segment's arrivals of the schedule on a pool of long-lived
/// VUs, queueing an arrival up to [`QUEUE_WAIT`] when the pool is full, dropping it after.
async fn run_open(
    sh: &Arc<Shared>,
    load: &Load,
    start: Instant,
    max_vus: u32,
    stop: &mut watch::Receiver<u8>,
    cut_rx: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) {
    // The pool is split like VUs: local VU c is global VU `global(c)`. Each VU is a
    // long-lived task fed arrivals through its own one-slot channel; when it is done
    // it reports its index back here, so an arrival costs two channel messages, not a
    // task spawn, and no lock is shared by the VUs.
    let max_vus = sh.segment.share(max_vus as u64).max(1);
    let (idle_tx, mut idle_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let mut feeds: Vec<tokio::sync::mpsc::Sender<(u64, Instant)>> = Vec::new();
    let mut idle: Vec<usize> = Vec::new();
    let mut sleep = Box::pin(tokio::time::sleep_until(start.into()));
    // Arrivals that found every VU of a full pool busy wait here, oldest first, for
    // at most QUEUE_WAIT; those not started by then are dropped. Their latency still
    // runs from the intended start, so the wait is measured, not hidden.
    let mut queue: std::collections::VecDeque<(u64, Instant)> = std::collections::VecDeque::new();
    let mut spawn_vu = |feeds: &mut Vec<tokio::sync::mpsc::Sender<(u64, Instant)>>| {
        let i = feeds.len();
        let g = sh.segment.global(i as u64);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(u64, Instant)>(1);
        feeds.push(tx);
        let sh2 = sh.clone();
        let mut cut = cut_rx.clone();
        let idle_tx = idle_tx.clone();
        tasks.spawn(async move {
            let mut vu = Vu::new(g + 1, sh2.run_seed, &sh2.tls);
            while let Some((k, at)) = rx.recv().await {
                match guarded(&mut vu, &sh2, at, Some(k), &mut cut).await {
                    None => break,
                    Some(IterEnd::NoData) => sh2.stop_new.store(true, Ordering::Relaxed),
                    Some(IterEnd::Done { .. }) => {}
                }
                if idle_tx.send(i).is_err() {
                    break;
                }
            }
        });
        i
    };
    let drop_one = || sh.shards.local().dropped += 1;
    // Every segment walks the whole schedule and fires only the arrivals it owns, so
    // the union of the segments is the single-process schedule, evenly interleaved.
    let mut arrivals = Arrivals::new(load);
    let mut next: Option<(u64, Instant)> = None;
    let mut schedule_done = false;
    loop {
        if *stop.borrow() != RUN || sh.stop_new.load(Ordering::Relaxed) {
            break;
        }
        while let Ok(i) = idle_rx.try_recv() {
            idle.push(i);
        }
        // Queued arrivals first (FIFO); expired ones are dropped.
        if !queue.is_empty() {
            let now = Instant::now();
            while let Some(&(k, at)) = queue.front() {
                if now.saturating_duration_since(at) > QUEUE_WAIT {
                    queue.pop_front();
                    drop_one();
                    continue;
                }
                let Some(slot) = idle.pop() else { break };
                queue.pop_front();
                let _ = feeds[slot].try_send((k, at));
            }
        }
        if next.is_none() && !schedule_done {
            loop {
                match arrivals.next() {
                    None => {
                        schedule_done = true;
                        break;
                    }
                    Some((k, off)) if sh.segment.owns(k) => {
                        next = Some((k, start + off));
                        break;
                    }
                    Some(_) => {}
                }
            }
        }
        let now = Instant::now();
        match next {
            Some((k, at)) if at <= now => {
                next = None;
                if !sh.claim_iteration() {
                    schedule_done = true;
                    continue;
                }
                if !queue.is_empty() {
                    queue.push_back((k, at));
                    continue;
                }
                let slot = match idle.pop() {
                    Some(i) => i,
                    None if (feeds.len() as u64) < max_vus => spawn_vu(&mut feeds),
                    None => {
                        queue.push_back((k, at));
                        continue;
                    }
                };
                // The VU is idle, so its slot is free.
                let _ = feeds[slot].try_send((k, at));
                continue;
            }
            _ => {}
        }
        if schedule_done && queue.is_empty() {
            break;
        }
        // Wait for the next arrival, a VU freeing up for the queue, the oldest queued
        // arrival expiring, or a stop.
        let mut wake = next.map(|(_, at)| at);
        if let Some(&(_, at)) = queue.front() {
            let exp = at + QUEUE_WAIT + Duration::from_micros(1);
            wake = Some(wake.map_or(exp, |w| w.min(exp)));
        }
        let Some(wake) = wake else { break };
        sleep.as_mut().reset(wake.into());
        tokio::select! {
            _ = sleep.as_mut() => {}
            Some(i) = idle_rx.recv(), if !queue.is_empty() => idle.push(i),
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() != RUN { break; }
            }
        }
    }
    // Arrivals still queued when the run stops never started.
    for _ in queue.drain(..) {
        drop_one();
    }
    // Idle VUs end now; busy ones after their iteration.
    drop(feeds);
}

/// The graceful end: no new iterations; in-flight ones get the grace period (or until a
/// second stop), then whatever still runs is cut and counted as interrupted. Returns why
/// the run ended early, if it did.
async fn wind_down(
    sh: &Arc<Shared>,
    grace: Duration,
    stop: &mut watch::Receiver<u8>,
    cut_tx: &watch::Sender<bool>,
    tasks: &mut JoinSet<()>,
) -> Option<String> {
    sh.stop_new.store(true, Ordering::Relaxed);
    let mut stop_reason = None;
    if *stop.borrow() == GRACEFUL {
        stop_reason = Some("stopped by signal".to_string());
    }
    let mut interrupted_by_cut = false;
    if *stop.borrow() != IMMEDIATE && !tasks.is_empty() {
        let drain = async {
            while let Some(joined) = tasks.join_next().await {
                contained(sh, Some(joined));
            }
        };
        tokio::select! {
            _ = drain => {}
            _ = tokio::time::sleep(grace) => { interrupted_by_cut = true; }
            _ = stop.wait_for(|s| *s == IMMEDIATE) => { interrupted_by_cut = true; }
        }
    } else if !tasks.is_empty() {
        interrupted_by_cut = true;
    }
    if interrupted_by_cut || !tasks.is_empty() {
        let _ = cut_tx.send(true);
        while let Some(joined) = tasks.join_next().await {
            contained(sh, Some(joined));
        }
    }
    if *stop.borrow() == IMMEDIATE && stop_reason.is_none() {
        stop_reason = Some("stopped at once".to_string());
    }
    stop_reason
}

#[allow(clippy::too_many_arguments)]
async fn reporter(
    sh: Arc<Shared>,
    start: Instant,
    quiet: bool,
    progress_every: Duration,
    observer: Option<(
        Arc<dyn crate::report::live::Observer>,
        crate::report::live::LiveMeta,
    )>,
    abort_on_fail: bool,
    thresholds: Vec<Threshold>,
    done: Arc<tokio::sync::Notify>,
    stop_tx: watch::Sender<u8>,
    build_partial: impl Fn(&Recorder, Duration) -> crate::results::RunResults,
) -> (Recorder, Vec<TimelinePoint>, Option<String>) {
    let steps = sh.program.step_count;
    let scenarios = sh.program.scenarios.len();
    let mut agg = Recorder::new(steps, scenarios);
    let mut timeline = TimelineBuilder::new(MAX_TIMELINE);
    let mut last = start;
    let mut last_progress = start;
    let terminal = std::io::stderr().is_terminal();
    let mut abort_reason = None;
    // Every service time so far, for the observer's percentiles.
    let mut overall = observer.as_ref().map(|_| crate::results::new_histogram());
    // Ticks on whole seconds from the (shared) start, so segments' points line up.
    let mut tick = tokio::time::interval_at(
        (start + Duration::from_secs(1)).into(),
        Duration::from_secs(1),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let finishing = tokio::select! {
            _ = tick.tick() => false,
            _ = done.notified() => true,
        };
        sh.shards.collect(&mut agg);
        let now = Instant::now();
        let span = now.duration_since(last).as_secs_f64().max(1e-3);
        last = now;
        let elapsed = (now - start).as_secs_f64();
        let vus = sh.active.load(Ordering::Relaxed);
        let rps = agg.interval_requests as f64 / span;
        let p95 = agg.interval.value_at_quantile(0.95) as f64 / 1000.0;
        if finishing {
            timeline.finish(elapsed, &agg.interval, agg.interval_errors, vus);
        } else {
            timeline.tick(elapsed, &agg.interval, agg.interval_errors, vus);
        }
        if let (Some((obs, meta)), Some(overall)) = (&observer, &mut overall) {
            let _ = overall.add(&agg.interval);
            obs.tick(&crate::report::live::snapshot(
                meta,
                &agg,
                overall,
                now - start,
                vus,
                rps,
                finishing,
            ));
        }
        agg.interval.reset();
        agg.interval_requests = 0;
        agg.interval_errors = 0;
        if !quiet && !finishing && observer.is_none() {
            let requests: u64 = agg.steps.iter().map(|s| s.requests).sum();
            let failed: u64 = agg.steps.iter().map(|s| s.failed).sum();
            let iterations: u64 = agg.scenarios.iter().map(|s| s.iterations).sum();
            let line = format!(
                "[{elapsed:>5.0}s] {vus} VUs active, {iterations} iterations, {requests} requests ({failed} failed), {rps:.1} req/s, p95 {p95:.1}ms",
            );
            if terminal {
                eprint!("\r\x1b[2K{line}");
            } else if now.duration_since(last_progress) >= progress_every {
                last_progress = now;
                eprintln!("{line}");
            }
        }
        if finishing {
            if !quiet && terminal && observer.is_none() {
                eprintln!();
            }
            break;
        }
        if abort_on_fail && abort_reason.is_none() && !thresholds.is_empty() {
            let partial = build_partial(&agg, start.elapsed());
            if let Some(expr) = crate::report::thresholds::breached_abortable(&thresholds, &partial)
            {
                abort_reason = Some(format!("aborted: threshold `{expr}` breached"));
                let _ = stop_tx.send(IMMEDIATE);
            }
        }
    }
    (agg, timeline.points, abort_reason)
}

/// Builds the timeline on a grid of whole seconds from the start: a point every `width`
/// seconds (1 at first), each carrying its interval's histogram. When the cap is reached,
/// neighbours merge pairwise (their histograms add) and the width doubles, so memory stays
/// bounded and points stay on the grid.
pub struct TimelineBuilder {
    pub points: Vec<TimelinePoint>,
    max: usize,
    width: u64,
    next_emit: u64,
    last_t: f64,
    pending: Histogram<u64>,
    errors: u64,
    vus: u64,
}

impl TimelineBuilder {
    pub fn new(max: usize) -> TimelineBuilder {
        TimelineBuilder {
            points: Vec::new(),
            // An even cap, so that pairs merge into points on the doubled grid.
            max: (max.max(2) / 2) * 2,
            width: 1,
            next_emit: 1,
            last_t: 0.0,
            pending: new_histogram(),
            errors: 0,
            vus: 0,
        }
    }

    fn absorb(&mut self, hist: &Histogram<u64>, errors: u64, vus: u64) {
        if !hist.is_empty() {
            let _ = self.pending.add(hist);
        }
        self.errors += errors;
        self.vus = self.vus.max(vus);
    }

    /// A reporter tick at `elapsed` seconds with the service times and errors since the last.
    pub fn tick(&mut self, elapsed: f64, hist: &Histogram<u64>, errors: u64, vus: u64) {
        self.absorb(hist, errors, vus);
        let n = elapsed.round().max(1.0) as u64;
        if n >= self.next_emit {
            self.emit(n as f64);
            self.next_emit = (n / self.width + 1) * self.width;
        }
    }

    /// The end of the run: what is left becomes a last (partial) point; a sliver of under
    /// 50 ms is folded into the previous point instead of showing as a spike.
    pub fn finish(&mut self, elapsed: f64, hist: &Histogram<u64>, errors: u64, vus: u64) {
        self.absorb(hist, errors, vus);
        let empty = self.pending.is_empty() && self.errors == 0;
        match self.points.last_mut() {
            Some(_) if empty => {}
            Some(last) if elapsed - self.last_t < 0.05 => {
                let mut h = decode_histogram(&last.hdr).unwrap_or_else(|_| new_histogram());
                let _ = h.add(&self.pending);
                last.errors += self.errors;
                *last = point(last.t, last.span_s, &h, last.errors, last.vus.max(self.vus));
            }
            _ => self.emit(elapsed.max(self.last_t)),
        }
    }

    fn emit(&mut self, t: f64) {
        let span = t - self.last_t;
        self.points
            .push(point(t, span, &self.pending, self.errors, self.vus));
        self.pending.reset();
        self.errors = 0;
        self.vus = 0;
        self.last_t = t;
        if self.points.len() >= self.max {
            self.points = self
                .points
                .chunks(2)
                .map(|c| match c {
                    [a, b] => {
                        let mut h = decode_histogram(&a.hdr).unwrap_or_else(|_| new_histogram());
                        if let Ok(hb) = decode_histogram(&b.hdr) {
                            let _ = h.add(&hb);
                        }
                        point(
                            b.t,
                            a.span_s + b.span_s,
                            &h,
                            a.errors + b.errors,
                            a.vus.max(b.vus),
                        )
                    }
                    [a] => a.clone(),
                    _ => unreachable!(),
                })
                .collect();
            self.width *= 2;
        }
    }
}

fn point(t: f64, span: f64, h: &Histogram<u64>, errors: u64, vus: u64) -> TimelinePoint {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    TimelinePoint {
        t,
        rps: h.len() as f64 / span.max(1e-3),
        errors,
        vus,
        p50_ms: ms(0.50),
        p95_ms: ms(0.95),
        p99_ms: ms(0.99),
        hdr: encode_histogram(h),
        span_s: span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use throng_ir::{LoadSpec, Rate, Segment, Stage};

    fn open(rate: &str, duration: &str, stages: &[&str]) -> Load {
        LoadSpec {
            rate: Some(Rate::parse(rate).unwrap()),
            duration: Some(throng_ir::parse_duration(duration).unwrap()),
            stages: stages.iter().map(|s| Stage::parse(s).unwrap()).collect(),
            ..Default::default()
        }
        .resolve()
        .unwrap()
    }

    #[test]
    fn segment_arrivals_union_is_the_single_schedule() {
        for load in [
            open("40/s", "5s", &[]),
            open("7/s", "20s", &["5s:50", "5s:0", "10s:13"]),
        ] {
            let single: Vec<(u64, Duration)> = Arrivals::new(&load).collect();
            assert!(!single.is_empty());
            for n in [1u32, 2, 3, 4, 7] {
                let mut union: Vec<(u64, Duration)> = (0..n)
                    .flat_map(|i| {
                        let seg = Segment::new(i, n).unwrap();
                        Arrivals::new(&load)
                            .filter(move |(k, _)| seg.owns(*k))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                union.sort();
                assert_eq!(union, single, "{n} segments");
                // Each segment gets its share, and consecutive arrivals of the union are
                // owned by consecutive segments (evenly interleaved).
                for i in 0..n {
                    let seg = Segment::new(i, n).unwrap();
                    let mine = single.iter().filter(|(k, _)| seg.owns(*k)).count() as u64;
                    assert_eq!(mine, seg.share(single.len() as u64));
                }
            }
        }
        let steady = open("40/s", "5s", &[]);
        assert_eq!(Arrivals::new(&steady).count(), 200);
    }

    #[test]
    fn closed_model_vus_split_so_shares_sum_to_the_target() {
        for target in [0.0, 0.5, 1.0, 9.99, 10.0, 37.4] {
            for n in 1..=5u32 {
                let total: u64 = (0..n)
                    .map(|i| Segment::new(i, n).unwrap().share(global_vus(target)))
                    .sum();
                assert_eq!(total, target.floor() as u64);
            }
        }
    }

    #[test]
    fn timeline_stays_on_the_grid_bounded_and_lossless() {
        let mut tl = TimelineBuilder::new(10);
        let mut h = new_histogram();
        let mut total = 0;
        for s in 1..=37u64 {
            h.reset();
            for v in 0..s {
                h.record(1000 + v).unwrap();
            }
            total += s;
            tl.tick(s as f64 + 0.003, &h, 1, s);
        }
        h.reset();
        h.record(5).unwrap();
        tl.finish(37.5, &h, 0, 0);
        let pts = &tl.points;
        assert!(pts.len() <= 10, "{}", pts.len());
        let count: u64 = pts
            .iter()
            .map(|p| decode_histogram(&p.hdr).unwrap().len())
            .sum();
        assert_eq!(count, total + 1);
        assert_eq!(pts.iter().map(|p| p.errors).sum::<u64>(), 37);
        let width = pts[0].t;
        assert!(width >= 4.0 && width.fract() == 0.0, "{width}");
        for p in &pts[..pts.len() - 1] {
            assert_eq!(p.t % width, 0.0, "{:?}", p.t);
            assert_eq!(p.span_s, width);
        }
        assert_eq!(pts.last().unwrap().t, 37.5);
    }
}
