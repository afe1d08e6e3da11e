//! The live view of a run: once a second the reporter hands an [`Observer`] a
//! [`LiveSnapshot`] of everything measured so far, for a progress display or a metrics
//! endpoint. Built from the reporter's aggregate only, so the VUs' request path is untouched;
//! nothing is built when no observer is installed.
//!
//! [`prometheus_text`] renders a snapshot in the Prometheus text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Upper bounds (seconds) of the Prometheus latency buckets: 1 ms to 60 s, roughly ×2.5.
pub const LATENCY_BUCKETS_S: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// Receives a snapshot about once a second while a run lasts, and a last one at its end.
pub trait Observer: Send + Sync {
    fn tick(&self, snapshot: &LiveSnapshot);
}

/// An [`Observer`] installed in [`crate::RunOptions::live`].
#[derive(Clone)]
pub struct LiveFeed(pub std::sync::Arc<dyn Observer>);

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveFeed")
    }
}

/// What a run has measured so far. Counts are cumulative since the start; `rps` covers the
/// last interval.
#[derive(Debug, Clone, Default)]
pub struct LiveSnapshot {
    pub name: String,
    pub elapsed: Duration,
    /// The planned duration, when the load has one.
    pub planned: Option<Duration>,
    /// The iteration budget of this process, when the load has one.
    pub iteration_limit: Option<u64>,
    /// Iterations running right now.
    pub active_vus: u64,
    /// Requests per second over the last interval.
    pub rps: f64,
    pub requests: u64,
    pub failed: u64,
    pub iterations: u64,
    pub failed_iterations: u64,
    pub dropped_iterations: u64,
    /// Request service time percentiles so far, milliseconds.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub steps: Vec<LiveStep>,
    pub scenarios: Vec<LiveScenario>,
    /// True for the last snapshot of the run.
    pub finished: bool,
}

#[derive(Debug, Clone, Default)]
pub struct LiveStep {
    pub scenario: String,
    pub step: String,
    pub requests: u64,
    pub failed: u64,
    pub p95_ms: f64,
    /// Failed requests by category (`timeout`, `http_5xx`, ...).
    pub errors: BTreeMap<&'static str, u64>,
    /// Cumulative counts of service times at or under each of [`LATENCY_BUCKETS_S`].
    pub buckets: Vec<u64>,
    /// Sum of the service times, seconds.
    pub sum_s: f64,
}

#[derive(Debug, Clone, Default)]
pub struct LiveScenario {
    pub name: String,
    pub iterations: u64,
    pub failed: u64,
}

/// Cumulative bucket counts of a histogram recorded in microseconds, and its sum in seconds.
pub fn buckets_of(h: &Histogram<u64>) -> (Vec<u64>, f64) {
    let mut counts = vec![0u64; LATENCY_BUCKETS_S.len()];
    let mut sum_us = 0f64;
    for v in h.iter_recorded() {
        let us = v.value_iterated_to();
        let n = v.count_at_value();
        sum_us += us as f64 * n as f64;
        let secs = us as f64 / 1e6;
        if let Some(i) = LATENCY_BUCKETS_S.iter().position(|b| secs <= *b) {
            counts[i] += n;
        }
    }
    let mut running = 0;
    for c in &mut counts {
        running += *c;
        *c = running;
    }
    (counts, sum_us / 1e6)
}

/// A label value escaped as the exposition format wants it (backslash, quote, newline).
fn label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn step_labels(out: &mut String, s: &LiveStep) {
    out.push_str("scenario=\"");
    label(out, &s.scenario);
    out.push_str("\",step=\"");
    label(out, &s.step);
    out.push('"');
}

/// A per-scenario counter: metric name, help text, and its value.
type ScenarioCounter = (&'static str, &'static str, fn(&LiveScenario) -> u64);

/// The snapshot in the Prometheus text exposition format (version 0.0.4).
pub fn prometheus_text(s: &LiveSnapshot) -> String {
    let mut out = String::with_capacity(1024 + s.steps.len() * 2048);
    let o = &mut out;
    let _ = writeln!(
        o,
        "# HELP throng_requests_total Requests completed, by step."
    );
    let _ = writeln!(o, "# TYPE throng_requests_total counter");
    for st in &s.steps {
        o.push_str("throng_requests_total{");
        step_labels(o, st);
        let _ = writeln!(o, "}} {}", st.requests);
    }
    let _ = writeln!(
        o,
        "# HELP throng_request_errors_total Failed requests, by step and category."
    );
    let _ = writeln!(o, "# TYPE throng_request_errors_total counter");
    for st in &s.steps {
        for (category, n) in &st.errors {
            o.push_str("throng_request_errors_total{");
            step_labels(o, st);
            let _ = writeln!(o, ",category=\"{category}\"}} {n}");
        }
    }
    let _ = writeln!(
        o,
        "# HELP throng_request_duration_seconds Request service time, by step."
    );
    let _ = writeln!(o, "# TYPE throng_request_duration_seconds histogram");
    for st in &s.steps {
        for (bound, count) in LATENCY_BUCKETS_S.iter().zip(&st.buckets) {
            o.push_str("throng_request_duration_seconds_bucket{");
            step_labels(o, st);
            let _ = writeln!(o, ",le=\"{bound}\"}} {count}");
        }
        o.push_str("throng_request_duration_seconds_bucket{");
        step_labels(o, st);
        let _ = writeln!(o, ",le=\"+Inf\"}} {}", st.requests);
        o.push_str("throng_request_duration_seconds_sum{");
        step_labels(o, st);
        let _ = writeln!(o, "}} {}", st.sum_s);
        o.push_str("throng_request_duration_seconds_count{");
        step_labels(o, st);
        let _ = writeln!(o, "}} {}", st.requests);
    }
    let per_scenario: [ScenarioCounter; 2] = [
        (
            "throng_iterations_total",
            "Iterations completed, by scenario.",
            |sc| sc.iterations,
        ),
        (
            "throng_failed_iterations_total",
            "Iterations with a failed step, by scenario.",
            |sc| sc.failed,
        ),
    ];
    for (name, help, value) in per_scenario {
        let _ = writeln!(o, "# HELP {name} {help}");
        let _ = writeln!(o, "# TYPE {name} counter");
        for sc in &s.scenarios {
            let _ = write!(o, "{name}{{scenario=\"");
            label(o, &sc.name);
            let _ = writeln!(o, "\"}} {}", value(sc));
        }
    }
    let _ = writeln!(
        o,
        "# HELP throng_dropped_iterations_total Open-model arrivals that found no free VU."
    );
    let _ = writeln!(o, "# TYPE throng_dropped_iterations_total counter");
    let _ = writeln!(
        o,
        "throng_dropped_iterations_total {}",
        s.dropped_iterations
    );
    let _ = writeln!(o, "# HELP throng_active_vus Iterations running now.");
    let _ = writeln!(o, "# TYPE throng_active_vus gauge");
    let _ = writeln!(o, "throng_active_vus {}", s.active_vus);
    let _ = writeln!(
        o,
        "# HELP throng_elapsed_seconds Time since the load started."
    );
    let _ = writeln!(o, "# TYPE throng_elapsed_seconds gauge");
    let _ = writeln!(o, "throng_elapsed_seconds {}", s.elapsed.as_secs_f64());
    out
}

/// What the reporter knows besides the aggregate: names and the plan of the load.
pub(crate) struct LiveMeta {
    pub name: String,
    pub steps: Vec<(String, String)>,
    pub scenarios: Vec<String>,
    pub planned: Option<Duration>,
    pub iteration_limit: Option<u64>,
}

/// The reporter's view as a snapshot; `overall` holds every service time so far.
pub(crate) fn snapshot(
    meta: &LiveMeta,
    agg: &crate::report::metrics::Recorder,
    overall: &Histogram<u64>,
    elapsed: Duration,
    active_vus: u64,
    rps: f64,
    finished: bool,
) -> LiveSnapshot {
    let q = |h: &Histogram<u64>, q: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1000.0
        }
    };
    let steps: Vec<LiveStep> = agg
        .steps
        .iter()
        .zip(&meta.steps)
        .map(|(rec, (scenario, step))| {
            let (buckets, sum_s) = buckets_of(&rec.hist);
            LiveStep {
                scenario: scenario.clone(),
                step: step.clone(),
                requests: rec.requests,
                failed: rec.failed,
                p95_ms: q(&rec.hist, 0.95),
                errors: rec
                    .categories
                    .iter()
                    .map(|(c, n)| (c.as_str(), *n))
                    .collect(),
                buckets,
                sum_s,
            }
        })
        .collect();
    let scenarios: Vec<LiveScenario> = agg
        .scenarios
        .iter()
        .zip(&meta.scenarios)
        .map(|(rec, name)| LiveScenario {
            name: name.clone(),
            iterations: rec.iterations,
            failed: rec.failed,
        })
        .collect();
    LiveSnapshot {
        name: meta.name.clone(),
        elapsed,
        planned: meta.planned,
        iteration_limit: meta.iteration_limit,
        active_vus,
        rps,
        requests: steps.iter().map(|s| s.requests).sum(),
        failed: steps.iter().map(|s| s.failed).sum(),
        iterations: scenarios.iter().map(|s| s.iterations).sum(),
        failed_iterations: scenarios.iter().map(|s| s.failed).sum(),
        dropped_iterations: agg.dropped,
        p50_ms: q(overall, 0.50),
        p95_ms: q(overall, 0.95),
        p99_ms: q(overall, 0.99),
        steps,
        scenarios,
        finished,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_at_the_count() {
        let mut h = crate::report::results::new_histogram();
        for ms in [1u64, 2, 3, 40, 700, 90_000] {
            h.record(ms * 1000).unwrap();
        }
        let (b, sum) = buckets_of(&h);
        assert_eq!(b.len(), LATENCY_BUCKETS_S.len());
        assert!(b.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(b[0], 1, "1 ms is in the first bucket");
        assert_eq!(b[LATENCY_BUCKETS_S.len() - 1], 5, "90 s is only in +Inf");
        assert!((sum - 90.746).abs() < 0.1, "{sum}");
    }

    #[test]
    fn label_values_are_escaped() {
        let s = LiveSnapshot {
            steps: vec![LiveStep {
                scenario: "a\"b".into(),
                step: "c\\d\ne".into(),
                buckets: vec![0; LATENCY_BUCKETS_S.len()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = prometheus_text(&s);
        assert!(
            text.contains(r#"throng_requests_total{scenario="a\"b",step="c\\d\ne"} 0"#),
            "{text}"
        );
    }
}
