//! Request counting and latency tracking for `/metrics`, `/status` and `stats()`.
//!
//! Counters live in per-thread shards so the hot path only ever touches an
//! uncontended lock; readers (scrapes) walk and sum every shard.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};

use crate::state::AppState;

const SHARDS: usize = 16;
/// Histogram upper bounds in seconds (Prometheus `le` labels).
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER",
];

fn method_index(m: &Method) -> usize {
    match *m {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::DELETE => 3,
        Method::PATCH => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

#[derive(Default, Clone)]
struct MethodStats {
    /// (status, count): a handful of statuses per route, so a vec beats a map.
    by_status: Vec<(u16, u64)>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_secs: f64,
}

#[derive(Default, Clone)]
struct PathStats {
    methods: [Option<MethodStats>; METHODS.len()],
}

#[derive(Default)]
struct ShardData {
    total: u64,
    paths: HashMap<String, PathStats>,
}

/// Padded so two shards never share a cache line.
#[repr(align(64))]
#[derive(Default)]
struct Shard(Mutex<ShardData>);

pub struct Metrics {
    shards: Vec<Shard>,
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

impl Metrics {
    pub fn record(&self, method: &Method, path: &str, status: u16, elapsed: Duration) {
        let idx = SHARD.with(|s| *s);
        let mut shard = self.shards[idx]
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shard.total += 1;
        let stats = match shard.paths.get_mut(path) {
            Some(s) => s,
            None => shard.paths.entry(path.to_owned()).or_default(),
        };
        let m = stats.methods[method_index(method)].get_or_insert_with(MethodStats::default);
        match m.by_status.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => m.by_status.push((status, 1)),
        }
        let secs = elapsed.as_secs_f64();
        if let Some(b) = BUCKETS.iter().position(|le| secs <= *le) {
            m.buckets[b] += 1;
        }
        m.count += 1;
        m.sum_secs += secs;
    }

    pub fn requests_processed(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.0.lock().unwrap_or_else(PoisonError::into_inner).total)
            .sum()
    }

    fn merged(&self) -> Vec<(String, PathStats)> {
        let mut all: HashMap<String, PathStats> = HashMap::new();
        for shard in &self.shards {
            let data = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
            for (path, stats) in &data.paths {
                let into = all.entry(path.clone()).or_default();
                for (i, m) in stats.methods.iter().enumerate() {
                    let Some(m) = m else { continue };
                    let t = into.methods[i].get_or_insert_with(MethodStats::default);
                    for (status, n) in &m.by_status {
                        match t.by_status.iter_mut().find(|(s, _)| s == status) {
                            Some((_, c)) => *c += n,
                            None => t.by_status.push((*status, *n)),
                        }
                    }
                    for (b, n) in t.buckets.iter_mut().zip(m.buckets.iter()) {
                        *b += n;
                    }
                    t.count += m.count;
                    t.sum_secs += m.sum_secs;
                }
            }
        }
        let mut v: Vec<_> = all.into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self, uptime: Duration) -> String {
        let merged = self.merged();
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP http_requests_total Total HTTP requests by method, route template and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for (path, stats) in &merged {
            for (i, m) in stats.methods.iter().enumerate() {
                let Some(m) = m else { continue };
                let mut statuses = m.by_status.clone();
                statuses.sort_unstable();
                for (status, n) in statuses {
                    let _ = writeln!(
                        out,
                        "http_requests_total{{method=\"{}\",path=\"{}\",status=\"{}\"}} {}",
                        METHODS[i],
                        escape(path),
                        status,
                        n
                    );
                }
            }
        }
        out.push_str(
            "# HELP http_request_duration_seconds Time from request arrival to response headers.\n",
        );
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (path, stats) in &merged {
            for (i, m) in stats.methods.iter().enumerate() {
                let Some(m) = m else { continue };
                let labels = format!("method=\"{}\",path=\"{}\"", METHODS[i], escape(path));
                let mut cumulative = 0;
                for (le, n) in BUCKETS.iter().zip(m.buckets.iter()) {
                    cumulative += n;
                    let _ = writeln!(
                        out,
                        "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                    );
                }
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    m.count
                );
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_sum{{{labels}}} {}",
                    m.sum_secs
                );
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_count{{{labels}}} {}",
                    m.count
                );
            }
        }
        out.push_str("# HELP process_uptime_seconds Seconds since the shop started.\n");
        out.push_str("# TYPE process_uptime_seconds gauge\n");
        let _ = writeln!(out, "process_uptime_seconds {}", uptime.as_secs_f64());
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Middleware: times every request and files it under its route template, so
/// `/products/prod-1` and `/products/prod-2` share one series.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let resp = next.run(req).await;
    let path = matched.as_ref().map_or("unmatched", |m| m.as_str());
    state
        .metrics
        .record(&method, path, resp.status().as_u16(), start.elapsed());
    resp
}
