//! The results of a run as data: what `--out results.json` contains, what the console
//! summary is printed from, and what `throng report` / `throng merge` read back.
//!
//! Field names are a published contract: extend, never rename. Every field added after
//! version 1 carries `#[serde(default)]` so older files still deserialize.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Everything a run measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunResults {
    pub version: u32,
    pub name: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_s: f64,
    pub totals: Totals,
    pub steps: Vec<StepResult>,
    pub scenarios: Vec<ScenarioResult>,
    /// Failed requests per category (`http_5xx`, `http_503`, `check`, `timeout`, ...).
    pub errors: BTreeMap<String, u64>,
    pub connections: Connections,
    pub thresholds: Vec<ThresholdResult>,
    pub timeline: Vec<TimelinePoint>,
    pub histograms: Histograms,
    /// The load as executed, e.g. "20 VUs, 200 iterations".
    #[serde(default)]
    pub load: String,
    /// True when the run ended early: a signal or `--abort-on-fail`.
    #[serde(default)]
    pub stopped_early: bool,
    /// Why the run ended early, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// The load segment this run executed (`I/N`), when the load was split over processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// When the load started and ended, unix milliseconds (0 in files from before segments).
    #[serde(default)]
    pub started_at_ms: u64,
    #[serde(default)]
    pub ended_at_ms: u64,
    /// How many results files `throng merge` combined into this one (0: a single run).
    #[serde(default)]
    pub segments_merged: u32,
    /// The segments (`I/N`) among the merged results, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_segments: Vec<String>,
    /// True when certificates were not verified (`--insecure`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Totals {
    pub requests: u64,
    pub failed_requests: u64,
    pub iterations: u64,
    pub failed_iterations: u64,
    pub dropped_iterations: u64,
    pub rps: f64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    /// Request service times over every step, of successful requests only.
    pub latency_ms: LatencySummary,
    /// Iterations cut at the end of the grace period.
    #[serde(default)]
    pub interrupted_iterations: u64,
    #[serde(default)]
    pub checks_passed: u64,
    #[serde(default)]
    pub checks_failed: u64,
    /// Iteration latency, measured from each iteration's intended start (open model) or
    /// its actual start (closed model): the number that includes queueing in the generator.
    #[serde(default)]
    pub iteration_latency_ms: LatencySummary,
}

/// Latency statistics in milliseconds, read from an HDR histogram (3 significant digits).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencySummary {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl LatencySummary {
    /// Summarises a histogram recorded in microseconds; an empty one is all zeros.
    pub fn of(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            min: ms(h.min()),
            mean: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StepResult {
    pub scenario: String,
    pub step: String,
    pub requests: u64,
    pub failed: u64,
    pub rps: f64,
    pub latency_ms: LatencySummary,
    pub errors: BTreeMap<String, u64>,
    #[serde(default)]
    pub checks_passed: u64,
    #[serde(default)]
    pub checks_failed: u64,
    /// The first distinct failure messages, with how often each occurred.
    #[serde(default)]
    pub failures: Vec<FailureSample>,
    /// For `sse` and `ws` steps: their messages and per-message latency. (`latency_ms`
    /// above is then the time to the stream's opening response.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<MessageStats>,
}

/// The messages of a streaming step.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MessageStats {
    /// `sse` or `ws`.
    pub kind: String,
    /// Messages sent (WebSocket; 0 for SSE).
    pub sent: u64,
    /// Events (SSE) or replies (WebSocket) received.
    pub received: u64,
    /// SSE: the time between consecutive events of a stream; WebSocket: each message's
    /// round trip, from sending it to its reply.
    pub latency_ms: LatencySummary,
    /// SSE: the time from the start of the step to the stream's first event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ms: Option<LatencySummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FailureSample {
    pub message: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ScenarioResult {
    pub name: String,
    pub iterations: u64,
    pub failed: u64,
    /// Iteration latency (see [`Totals::iteration_latency_ms`]).
    pub latency_ms: LatencySummary,
    #[serde(default)]
    pub interrupted: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Connections {
    pub opened: u64,
    pub reused: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThresholdResult {
    pub expr: String,
    pub ok: bool,
    /// The measured value (ms, ratio or per second); None when nothing was measured.
    pub actual: Option<f64>,
}

/// One point per second (coarser for long runs, to bound memory).
///
/// Points sit on a grid from the start (`t` = 1, 2, 3 s, or 2, 4, 6 s once coarsened; the
/// last point may end off the grid), so the points of segments started together line up.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TimelinePoint {
    /// Seconds since the start, at the end of the interval.
    pub t: f64,
    pub rps: f64,
    pub errors: u64,
    pub vus: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// The interval's request service times ([`encode_histogram`]), so timelines merge
    /// exactly; its count is the interval's request count.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hdr: String,
    /// The interval's length in seconds (0 in files from before it was recorded).
    #[serde(default)]
    pub span_s: f64,
}

/// Serialized HDR histograms (V2 + DEFLATE, base64; microseconds, 1 µs to 1 h, 3 digits),
/// so runs on several machines merge exactly.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Histograms {
    /// Request service time over every step.
    pub overall: String,
    /// Per step, in the order of `steps`.
    pub steps: Vec<NamedHistogram>,
    /// Iteration latency per scenario, in the order of `scenarios`.
    #[serde(default)]
    pub scenarios: Vec<NamedHistogram>,
    #[serde(default)]
    pub iterations: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NamedHistogram {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scenario: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub step: String,
    pub hdr: String,
    /// Streaming steps: the per-message latencies of [`MessageStats::latency_ms`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub messages_hdr: String,
    /// SSE steps: the times to the first event of [`MessageStats::first_ms`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub first_message_hdr: String,
}

/// Lowest and highest trackable values (µs) and precision of every histogram throng writes.
pub const HIST_LOW_US: u64 = 1;
pub const HIST_HIGH_US: u64 = 3_600_000_000;
pub const HIST_DIGITS: u8 = 3;

/// An empty histogram with throng's fixed layout, so any two of them add exactly.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(HIST_LOW_US, HIST_HIGH_US, HIST_DIGITS)
        .expect("static histogram bounds are valid")
}

/// base64(V2 + DEFLATE) of a histogram.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(buf),
        Err(_) => String::new(),
    }
}

/// The inverse of [`encode_histogram`]; V2 without DEFLATE is accepted too.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, String> {
    if text.is_empty() {
        return Ok(new_histogram());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram cannot be decoded: {e:?}"))
}

impl RunResults {
    /// The run's verdict as an exit code: 3 when throng itself failed (an `internal` error:
    /// a panic contained to its iteration), 1 when a threshold was breached or nothing
    /// succeeded, 0 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.internal_errors() > 0 {
            3
        } else if self.thresholds.iter().all(|t| t.ok) && !self.nothing_succeeded() {
            0
        } else {
            1
        }
    }

    /// Errors of category `internal`: throng's own failures.
    pub fn internal_errors(&self) -> u64 {
        self.errors.get("internal").copied().unwrap_or(0)
    }

    /// True when no request succeeded: every one failed, or none was made although this
    /// process had load to run (a segment left without iterations is not a failure).
    pub fn nothing_succeeded(&self) -> bool {
        let t = &self.totals;
        let idle_segment = t.requests == 0 && t.iterations == 0 && self.segment.is_some();
        t.requests == t.failed_requests && !idle_segment
    }

    /// Why the run failed apart from thresholds, one line each, for the summary and CI logs.
    pub fn verdict_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let internal = self.internal_errors();
        if internal > 0 {
            out.push(format!(
                "throng itself failed {internal} time(s) (errors of category `internal`, exit 3): \
                 each ended its iteration; the messages are in the failures above"
            ));
        }
        if self.nothing_succeeded() {
            out.push(if self.totals.requests == 0 {
                "no request was made: the run measured nothing".to_string()
            } else {
                format!("no request succeeded: all {} failed", self.totals.requests)
            });
        }
        out
    }

    /// The results as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Writes the JSON to `path` atomically: a temporary file beside it, then a rename, so a
    /// reader never sees half a file even if the process is killed mid-write.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "results.json".into());
        let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(self.to_json().as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}
