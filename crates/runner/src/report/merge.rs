//! Merging the results of several processes (load segments, or whole runs on several
//! machines) into one, losslessly: histograms are added bucket by bucket, so every
//! percentile of the merge equals that of one histogram holding every sample; counters add;
//! thresholds are judged again on the merged data.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use throng_ir::{Segment, Threshold};

use crate::report::metrics::MAX_FAILURE_SAMPLES;
use crate::report::results::{
    decode_histogram, encode_histogram, new_histogram, Connections, FailureSample, Histograms,
    LatencySummary, MessageStats, NamedHistogram, RunResults, ScenarioResult, StepResult,
    TimelinePoint, Totals,
};

/// Why results cannot be merged (bad input: the CLI exits with 2).
#[derive(Debug, Clone, PartialEq)]
pub struct MergeError {
    /// The position (0-based) of the offending input, when one is to blame.
    pub input: Option<usize>,
    pub message: String,
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MergeError {}

fn err(input: Option<usize>, message: impl Into<String>) -> MergeError {
    MergeError {
        input,
        message: message.into(),
    }
}

/// The results version this build writes and can merge.
pub const RESULTS_VERSION: u32 = 1;

/// Merges results of the same scenario into one.
///
/// Refused: no input, a version this build does not know or differing versions, different
/// scenario names or step lists, segments of different splits (`1/4` with `0/3`), a segment
/// present twice, undecodable histograms or threshold expressions.
pub fn merge(inputs: Vec<RunResults>) -> Result<RunResults, MergeError> {
    let first = inputs
        .first()
        .ok_or_else(|| err(None, "nothing to merge"))?;
    check_compatible(&inputs, first)?;
    let merged_segments = check_segments(&inputs)?;
    let thresholds = threshold_union(&inputs)?;

    // Time span: earliest start to latest end.
    let spans: Vec<(u64, u64)> = inputs.iter().map(span_ms).collect();
    let start_ms = spans.iter().map(|s| s.0).min().unwrap_or(0);
    let end_ms = spans.iter().map(|s| s.1).max().unwrap_or(0);
    let duration_s = if end_ms > start_ms {
        (end_ms - start_ms) as f64 / 1000.0
    } else {
        inputs.iter().map(|r| r.duration_s).fold(0.0, f64::max)
    };
    let mut sums = Sums::new(first);
    for (i, r) in inputs.iter().enumerate() {
        sums.add(i, r)?;
    }
    let totals = sums.summarize(duration_s.max(1e-9));
    let timelines: Vec<&[TimelinePoint]> = inputs.iter().map(|r| r.timeline.as_slice()).collect();
    let timeline = merge_timelines(&timelines).map_err(|e| err(None, e))?;
    let started_at = if start_ms > 0 {
        throng_ir::calendar::rfc3339(SystemTime::UNIX_EPOCH + Duration::from_millis(start_ms))
    } else {
        first.started_at.clone()
    };
    let histograms = sums.histograms();
    let mut out = RunResults {
        version: first.version,
        name: first.name.clone(),
        started_at,
        duration_s,
        totals,
        histograms,
        steps: sums.steps,
        scenarios: sums.scenarios,
        errors: sums.errors,
        connections: sums.connections,
        thresholds: Vec::new(),
        timeline,
        load: first.load.clone(),
        stopped_early: inputs.iter().any(|r| r.stopped_early),
        stop_reason: (!sums.stop_reasons.is_empty()).then(|| sums.stop_reasons.join("; ")),
        segment: None,
        started_at_ms: start_ms,
        ended_at_ms: end_ms,
        segments_merged: inputs.iter().map(|r| r.segments_merged.max(1)).sum(),
        merged_segments: merged_segments.iter().map(|s| s.to_string()).collect(),
        insecure: inputs.iter().any(|r| r.insecure),
    };
    out.thresholds = crate::report::thresholds::evaluate(&thresholds, &out);
    Ok(out)
}

/// Refuses inputs that are not runs of the same scenario file: versions, names, steps and
/// histogram counts must agree with the first.
fn check_compatible(inputs: &[RunResults], first: &RunResults) -> Result<(), MergeError> {
    for (i, r) in inputs.iter().enumerate() {
        if r.version != first.version {
            return Err(err(
                Some(i),
                format!(
                    "results version {} differs from version {} of the first file",
                    r.version, first.version
                ),
            ));
        }
        if r.version > RESULTS_VERSION {
            return Err(err(
                Some(i),
                format!(
                    "results version {} is newer than this throng understands ({RESULTS_VERSION})",
                    r.version
                ),
            ));
        }
        if r.name != first.name {
            return Err(err(
                Some(i),
                format!(
                    "scenario `{}` differs from `{}` of the first file",
                    r.name, first.name
                ),
            ));
        }
        let names = |r: &RunResults| -> Vec<(String, String)> {
            r.steps
                .iter()
                .map(|s| (s.scenario.clone(), s.step.clone()))
                .collect()
        };
        if names(r) != names(first) || scenario_names(r) != scenario_names(first) {
            return Err(err(
                Some(i),
                "its scenarios or steps differ from the first file's (another version of the scenario file?)",
            ));
        }
        if r.histograms.steps.len() != r.steps.len()
            || r.histograms.scenarios.len() != r.scenarios.len()
        {
            return Err(err(
                Some(i),
                "its histograms do not match its steps and scenarios",
            ));
        }
    }
    Ok(())
}

/// What the inputs add up to: histograms added exactly, counters summed, failure samples
/// and stop reasons merged.
struct Sums {
    overall: Histogram<u64>,
    iterations: Histogram<u64>,
    step_hists: Vec<Histogram<u64>>,
    scen_hists: Vec<Histogram<u64>>,
    /// Streaming steps: per-message latencies and times to the first message.
    msg_hists: Vec<(Histogram<u64>, Histogram<u64>)>,
    steps: Vec<StepResult>,
    scenarios: Vec<ScenarioResult>,
    errors: BTreeMap<String, u64>,
    connections: Connections,
    dropped: u64,
    bytes_received: u64,
    bytes_sent: u64,
    stop_reasons: Vec<String>,
}

impl Sums {
    /// Empty sums shaped like `first`'s steps and scenarios.
    fn new(first: &RunResults) -> Sums {
        let overall = new_histogram();
        let iterations = new_histogram();
        let step_hists: Vec<Histogram<u64>> = first.steps.iter().map(|_| new_histogram()).collect();
        let scen_hists: Vec<Histogram<u64>> =
            first.scenarios.iter().map(|_| new_histogram()).collect();
        let msg_hists: Vec<(Histogram<u64>, Histogram<u64>)> = first
            .steps
            .iter()
            .map(|_| (new_histogram(), new_histogram()))
            .collect();
        let steps: Vec<StepResult> = first
            .steps
            .iter()
            .map(|s| StepResult {
                scenario: s.scenario.clone(),
                step: s.step.clone(),
                ..Default::default()
            })
            .collect();
        let scenarios: Vec<ScenarioResult> = first
            .scenarios
            .iter()
            .map(|s| ScenarioResult {
                name: s.name.clone(),
                ..Default::default()
            })
            .collect();
        let errors: BTreeMap<String, u64> = BTreeMap::new();
        let connections = Connections::default();
        let stop_reasons: Vec<String> = Vec::new();
        Sums {
            overall,
            iterations,
            step_hists,
            scen_hists,
            msg_hists,
            steps,
            scenarios,
            errors,
            connections,
            dropped: 0,
            bytes_received: 0,
            bytes_sent: 0,
            stop_reasons,
        }
    }

    /// Adds input `i`.
    fn add(&mut self, i: usize, r: &RunResults) -> Result<(), MergeError> {
        let decode =
            |i: usize, text: &str| decode_histogram(text).map_err(|e| err(Some(i), e.to_string()));
        add(&mut self.overall, &decode(i, &r.histograms.overall)?, i)?;
        add(
            &mut self.iterations,
            &decode(i, &r.histograms.iterations)?,
            i,
        )?;
        for (j, s) in r.steps.iter().enumerate() {
            add(
                &mut self.step_hists[j],
                &decode(i, &r.histograms.steps[j].hdr)?,
                i,
            )?;
            let m = &mut self.steps[j];
            if let Some(msgs) = &s.messages {
                let named = &r.histograms.steps[j];
                add(
                    &mut self.msg_hists[j].0,
                    &decode(i, &named.messages_hdr)?,
                    i,
                )?;
                add(
                    &mut self.msg_hists[j].1,
                    &decode(i, &named.first_message_hdr)?,
                    i,
                )?;
                let into = m.messages.get_or_insert_with(|| MessageStats {
                    kind: msgs.kind.clone(),
                    ..Default::default()
                });
                into.sent += msgs.sent;
                into.received += msgs.received;
                if msgs.first_ms.is_some() {
                    into.first_ms = Some(LatencySummary::default());
                }
            }
            m.requests += s.requests;
            m.failed += s.failed;
            m.checks_passed += s.checks_passed;
            m.checks_failed += s.checks_failed;
            for (k, v) in &s.errors {
                *m.errors.entry(k.clone()).or_default() += v;
            }
            for f in &s.failures {
                if let Some(x) = m.failures.iter_mut().find(|x| x.message == f.message) {
                    x.count += f.count;
                } else if m.failures.len() < MAX_FAILURE_SAMPLES {
                    m.failures.push(FailureSample {
                        message: f.message.clone(),
                        count: f.count,
                    });
                }
            }
        }
        for (j, s) in r.scenarios.iter().enumerate() {
            add(
                &mut self.scen_hists[j],
                &decode(i, &r.histograms.scenarios[j].hdr)?,
                i,
            )?;
            let m = &mut self.scenarios[j];
            m.iterations += s.iterations;
            m.failed += s.failed;
            m.interrupted += s.interrupted;
        }
        for (k, v) in &r.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.connections.opened += r.connections.opened;
        self.connections.reused += r.connections.reused;
        self.dropped += r.totals.dropped_iterations;
        self.bytes_received += r.totals.bytes_received;
        self.bytes_sent += r.totals.bytes_sent;
        if let Some(reason) = &r.stop_reason {
            let reason = match &r.segment {
                Some(s) => format!("segment {s}: {reason}"),
                None => reason.clone(),
            };
            if !self.stop_reasons.contains(&reason) {
                self.stop_reasons.push(reason);
            }
        }
        Ok(())
    }

    /// Fills in the latency summaries and rates from the summed histograms; the totals.
    fn summarize(&mut self, secs: f64) -> Totals {
        for ((s, h), (msg, first)) in self
            .steps
            .iter_mut()
            .zip(&self.step_hists)
            .zip(&self.msg_hists)
        {
            s.rps = s.requests as f64 / secs;
            s.latency_ms = LatencySummary::of(h);
            if let Some(m) = s.messages.as_mut() {
                m.latency_ms = LatencySummary::of(msg);
                if m.first_ms.is_some() {
                    m.first_ms = Some(LatencySummary::of(first));
                }
            }
        }
        for (s, h) in self.scenarios.iter_mut().zip(&self.scen_hists) {
            s.latency_ms = LatencySummary::of(h);
        }
        let requests: u64 = self.steps.iter().map(|s| s.requests).sum();
        Totals {
            requests,
            failed_requests: self.steps.iter().map(|s| s.failed).sum(),
            iterations: self.scenarios.iter().map(|s| s.iterations).sum(),
            failed_iterations: self.scenarios.iter().map(|s| s.failed).sum(),
            dropped_iterations: self.dropped,
            rps: requests as f64 / secs,
            bytes_received: self.bytes_received,
            bytes_sent: self.bytes_sent,
            latency_ms: LatencySummary::of(&self.overall),
            interrupted_iterations: self.scenarios.iter().map(|s| s.interrupted).sum(),
            checks_passed: self.steps.iter().map(|s| s.checks_passed).sum(),
            checks_failed: self.steps.iter().map(|s| s.checks_failed).sum(),
            iteration_latency_ms: LatencySummary::of(&self.iterations),
        }
    }

    /// The summed histograms, encoded as results files carry them.
    fn histograms(&self) -> Histograms {
        Histograms {
            overall: encode_histogram(&self.overall),
            steps: self
                .steps
                .iter()
                .zip(&self.step_hists)
                .zip(&self.msg_hists)
                .map(|((s, h), (msg, first))| NamedHistogram {
                    scenario: s.scenario.clone(),
                    step: s.step.clone(),
                    hdr: encode_histogram(h),
                    messages_hdr: s
                        .messages
                        .as_ref()
                        .map(|_| encode_histogram(msg))
                        .unwrap_or_default(),
                    first_message_hdr: s
                        .messages
                        .as_ref()
                        .and_then(|m| m.first_ms.as_ref())
                        .map(|_| encode_histogram(first))
                        .unwrap_or_default(),
                })
                .collect(),
            scenarios: self
                .scenarios
                .iter()
                .zip(&self.scen_hists)
                .map(|(s, h)| NamedHistogram {
                    scenario: s.name.clone(),
                    step: String::new(),
                    hdr: encode_histogram(h),
                    ..Default::default()
                })
                .collect(),
            iterations: encode_histogram(&self.iterations),
        }
    }
}

fn scenario_names(r: &RunResults) -> Vec<&str> {
    r.scenarios.iter().map(|s| s.name.as_str()).collect()
}

fn add(into: &mut Histogram<u64>, h: &Histogram<u64>, i: usize) -> Result<(), MergeError> {
    into.add(h)
        .map_err(|e| err(Some(i), format!("histogram out of range: {e:?}")))
}

/// The segments of every input (a run's own, or those a merged file lists), checked to
/// come from one split and to appear once each; sorted by index.
fn check_segments(inputs: &[RunResults]) -> Result<Vec<Segment>, MergeError> {
    let mut seen: Vec<(Segment, usize)> = Vec::new();
    for (i, r) in inputs.iter().enumerate() {
        let labels = r.segment.iter().chain(&r.merged_segments);
        for label in labels {
            let s = Segment::parse(label).map_err(|e| err(Some(i), e))?;
            if let Some((other, j)) = seen.iter().find(|(o, _)| o.count() != s.count()) {
                return Err(err(
                    Some(i),
                    format!(
                        "segment {s} is from a split into {} but input #{} has segment {other}: \
                         results of different splits cannot be merged",
                        s.count(),
                        j + 1
                    ),
                ));
            }
            if let Some((_, j)) = seen.iter().find(|(o, _)| *o == s) {
                return Err(err(
                    Some(i),
                    format!(
                        "segment {s} appears twice (also in input #{}): its load would count twice",
                        j + 1
                    ),
                ));
            }
            seen.push((s, i));
        }
    }
    let mut out: Vec<Segment> = seen.into_iter().map(|(s, _)| s).collect();
    out.sort_by_key(|s| s.index());
    Ok(out)
}

/// The segments a merge still lacks, e.g. `["2/4"]` when 0/4, 1/4 and 3/4 were merged.
pub fn missing_segments(merged: &RunResults) -> Vec<String> {
    let segs: Vec<Segment> = merged
        .segment
        .iter()
        .chain(&merged.merged_segments)
        .filter_map(|s| Segment::parse(s).ok())
        .collect();
    let Some(n) = segs.first().map(|s| s.count()) else {
        return Vec::new();
    };
    (0..n)
        .filter(|i| !segs.iter().any(|s| s.index() == *i))
        .map(|i| format!("{i}/{n}"))
        .collect()
}

/// Every threshold expression of the inputs, in first-seen order, parsed again.
fn threshold_union(inputs: &[RunResults]) -> Result<Vec<Threshold>, MergeError> {
    let mut exprs: Vec<&str> = Vec::new();
    for r in inputs {
        for t in &r.thresholds {
            if !exprs.contains(&t.expr.as_str()) {
                exprs.push(&t.expr);
            }
        }
    }
    exprs
        .iter()
        .map(|e| Threshold::parse(e).map_err(|why| err(None, format!("threshold `{e}`: {why}"))))
        .collect()
}

/// (start, end) in unix ms; older files without them fall back to `started_at` + duration.
fn span_ms(r: &RunResults) -> (u64, u64) {
    let start = if r.started_at_ms > 0 {
        r.started_at_ms
    } else {
        throng_ir::calendar::parse_rfc3339(&r.started_at)
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    };
    let end = if r.ended_at_ms > 0 {
        r.ended_at_ms
    } else if start > 0 {
        start + (r.duration_s * 1000.0).round() as u64
    } else {
        0
    };
    (start, end)
}

/// The grid width of a timeline: the span of its full points (all but the last).
fn grid_width(tl: &[TimelinePoint]) -> f64 {
    let full = &tl[..tl.len().saturating_sub(1)];
    let from_spans = full.iter().map(|p| p.span_s).fold(0.0, f64::max);
    if from_spans > 0.0 {
        return from_spans;
    }
    // Files from before `span_s`: the smallest gap between points.
    let gaps = tl
        .windows(2)
        .map(|w| w[1].t - w[0].t)
        .filter(|g| *g > 1e-6)
        .fold(f64::INFINITY, f64::min);
    if gaps.is_finite() {
        return gaps.round().max(1.0);
    }
    // A single (partial) point.
    tl.first().map(|p| p.span_s.max(p.t)).unwrap_or(0.0)
}

/// Lines timelines up by `t` on the coarsest grid among them and merges the points of each
/// interval: histograms and error counts add, request rates are recomputed from counts,
/// active VUs add (each input's peak within the interval).
pub fn merge_timelines(timelines: &[&[TimelinePoint]]) -> Result<Vec<TimelinePoint>, String> {
    let width = timelines
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| grid_width(t))
        .fold(0.0, f64::max);
    if width <= 0.0 {
        return Ok(Vec::new());
    }
    struct Slot {
        t_max: f64,
        hist: Histogram<u64>,
        has_hist: bool,
        rps_sum: f64,
        errors: u64,
        vus: BTreeMap<usize, u64>,
        p: [f64; 3],
    }
    let mut slots: BTreeMap<u64, Slot> = BTreeMap::new();
    for (i, tl) in timelines.iter().enumerate() {
        for p in tl.iter() {
            let key = ((p.t / width) - 1e-6).ceil().max(1.0) as u64;
            let slot = slots.entry(key).or_insert_with(|| Slot {
                t_max: 0.0,
                hist: new_histogram(),
                has_hist: false,
                rps_sum: 0.0,
                errors: 0,
                vus: BTreeMap::new(),
                p: [0.0; 3],
            });
            slot.t_max = slot.t_max.max(p.t);
            if !p.hdr.is_empty() {
                let h = decode_histogram(&p.hdr).map_err(|e| format!("timeline: {e}"))?;
                slot.hist
                    .add(&h)
                    .map_err(|e| format!("timeline histogram: {e:?}"))?;
                slot.has_hist = true;
            }
            slot.rps_sum += p.rps;
            slot.errors += p.errors;
            let v = slot.vus.entry(i).or_default();
            *v = (*v).max(p.vus);
            slot.p[0] = slot.p[0].max(p.p50_ms);
            slot.p[1] = slot.p[1].max(p.p95_ms);
            slot.p[2] = slot.p[2].max(p.p99_ms);
        }
    }
    Ok(slots
        .into_iter()
        .map(|(key, s)| {
            let grid_end = key as f64 * width;
            let t = grid_end.min(s.t_max);
            let span = t - (key - 1) as f64 * width;
            let ms = |q: f64| s.hist.value_at_quantile(q) as f64 / 1000.0;
            let (rps, p50, p95, p99) = if s.has_hist {
                let rps = if span > 1e-3 {
                    s.hist.len() as f64 / span
                } else {
                    s.rps_sum
                };
                (rps, ms(0.50), ms(0.95), ms(0.99))
            } else {
                (s.rps_sum, s.p[0], s.p[1], s.p[2])
            };
            TimelinePoint {
                t,
                rps,
                errors: s.errors,
                vus: s.vus.values().sum(),
                p50_ms: p50,
                p95_ms: p95,
                p99_ms: p99,
                hdr: if s.has_hist {
                    encode_histogram(&s.hist)
                } else {
                    String::new()
                },
                span_s: span,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::results::ThresholdResult;

    /// One scenario `shop`, one step `get`, with these service times (ms) and failures.
    fn fake(segment: Option<&str>, samples_ms: &[u64], failed: u64, start_ms: u64) -> RunResults {
        let mut h = new_histogram();
        for v in samples_ms {
            h.record(v * 1000).unwrap();
        }
        let hdr = encode_histogram(&h);
        let requests = samples_ms.len() as u64;
        let mut errors = BTreeMap::new();
        if failed > 0 {
            errors.insert("http_5xx".to_string(), failed);
        }
        let step = StepResult {
            scenario: "shop".into(),
            step: "get".into(),
            requests,
            failed,
            rps: 0.0,
            latency_ms: LatencySummary::of(&h),
            errors: errors.clone(),
            checks_passed: requests - failed,
            checks_failed: failed,
            failures: vec![FailureSample {
                message: "status 503".into(),
                count: failed,
            }],
            messages: None,
        };
        let scenario = ScenarioResult {
            name: "shop".into(),
            iterations: requests,
            failed,
            latency_ms: LatencySummary::of(&h),
            interrupted: 0,
        };
        let point = |t: f64, span: f64| TimelinePoint {
            t,
            rps: requests as f64 / 2.0 / span,
            errors: 0,
            vus: 3,
            p50_ms: 0.0,
            p95_ms: 0.0,
            p99_ms: 0.0,
            hdr: {
                let mut half = new_histogram();
                for v in samples_ms.iter().step_by(2) {
                    half.record(v * 1000).unwrap();
                }
                encode_histogram(&half)
            },
            span_s: span,
        };
        RunResults {
            version: 1,
            name: "journey".into(),
            started_at: throng_ir::calendar::rfc3339(
                SystemTime::UNIX_EPOCH + Duration::from_millis(start_ms),
            ),
            duration_s: 2.0,
            totals: Totals {
                requests,
                failed_requests: failed,
                iterations: requests,
                dropped_iterations: 1,
                bytes_sent: 100,
                ..Default::default()
            },
            steps: vec![step],
            scenarios: vec![scenario],
            errors,
            connections: Connections {
                opened: 2,
                reused: 5,
            },
            thresholds: ["p90 < 20ms", "error_rate < 10%", "p50 < 10ms"]
                .iter()
                .map(|e| ThresholdResult {
                    expr: e.to_string(),
                    ok: true,
                    actual: None,
                })
                .collect(),
            timeline: vec![point(1.0, 1.0), point(2.0, 1.0)],
            histograms: Histograms {
                overall: hdr.clone(),
                steps: vec![NamedHistogram {
                    scenario: "shop".into(),
                    step: "get".into(),
                    hdr: hdr.clone(),
                    ..Default::default()
                }],
                scenarios: vec![NamedHistogram {
                    scenario: "shop".into(),
                    step: String::new(),
                    hdr: hdr.clone(),
                    ..Default::default()
                }],
                iterations: hdr,
            },
            load: "40 iterations/s (pool 200), for 2s".into(),
            stopped_early: false,
            stop_reason: None,
            segment: segment.map(str::to_string),
            started_at_ms: start_ms,
            ended_at_ms: start_ms + 2000,
            segments_merged: 0,
            merged_segments: Vec::new(),
            insecure: false,
        }
    }

    #[test]
    fn counts_and_histograms_add_and_thresholds_are_judged_again() {
        let fast: Vec<u64> = (0..60).map(|i| 5 + i % 3).collect();
        let slow: Vec<u64> = (0..40).map(|i| 50 + i % 7).collect();
        let a = fake(Some("0/2"), &fast, 0, 1_000_000);
        let b = fake(Some("1/2"), &slow, 20, 1_000_500);
        let m = merge(vec![a, b]).unwrap();

        assert_eq!(m.totals.requests, 100);
        assert_eq!(m.totals.failed_requests, 20);
        assert_eq!(m.steps[0].requests, 100);
        assert_eq!(m.steps[0].checks_failed, 20);
        assert_eq!(m.steps[0].failures[0].count, 20);
        assert_eq!(m.scenarios[0].iterations, 100);
        assert_eq!(m.errors["http_5xx"], 20);
        assert_eq!(m.totals.dropped_iterations, 2);
        assert_eq!(m.totals.bytes_sent, 200);
        assert_eq!(m.connections.opened, 4);
        assert_eq!(m.segments_merged, 2);
        assert_eq!(m.merged_segments, ["0/2", "1/2"]);
        assert_eq!(m.segment, None);
        // Span: earliest start to latest end; rates from merged counts.
        assert_eq!(m.started_at_ms, 1_000_000);
        assert_eq!(m.ended_at_ms, 1_002_500);
        assert_eq!(m.duration_s, 2.5);
        assert_eq!(m.totals.rps, 40.0);
        assert_eq!(m.started_at, "1970-01-01T00:16:40.000Z");

        // Lossless: the merge is one histogram holding every sample.
        let mut all = new_histogram();
        for v in fast.iter().chain(&slow) {
            all.record(v * 1000).unwrap();
        }
        assert_eq!(decode_histogram(&m.histograms.overall).unwrap(), all);
        assert_eq!(m.totals.latency_ms, LatencySummary::of(&all));
        assert_eq!(m.steps[0].latency_ms, LatencySummary::of(&all));
        assert_eq!(m.totals.iteration_latency_ms, LatencySummary::of(&all));

        // Thresholds judged on the merged data, not copied from the inputs.
        let t: Vec<(&str, bool)> = m
            .thresholds
            .iter()
            .map(|t| (t.expr.as_str(), t.ok))
            .collect();
        assert_eq!(
            t,
            [
                ("p90 < 20ms", false),
                ("error_rate < 10%", false),
                ("p50 < 10ms", true)
            ]
        );
        assert_eq!(m.thresholds[1].actual, Some(0.2));
        assert_eq!(m.exit_code(), 1);

        // Timelines line up by t; each interval's histograms add.
        assert_eq!(m.timeline.len(), 2);
        assert_eq!(m.timeline[1].t, 2.0);
        assert_eq!(m.timeline[0].vus, 6);
        let first = decode_histogram(&m.timeline[0].hdr).unwrap();
        assert_eq!(first.len(), 50);
        assert_eq!(m.timeline[0].rps, 50.0);
    }

    #[test]
    fn merging_merges_again_and_reports_missing_segments() {
        let s = |i: u32| fake(Some(&format!("{i}/4")), &[10, 20], 0, 5_000);
        let half = merge(vec![s(0), s(2)]).unwrap();
        assert_eq!(missing_segments(&half), ["1/4", "3/4"]);
        let whole = merge(vec![half.clone(), s(3), s(1)]).unwrap();
        assert!(missing_segments(&whole).is_empty());
        assert_eq!(whole.segments_merged, 4);
        assert_eq!(whole.totals.requests, 8);
        let e = merge(vec![half, s(2)]).unwrap_err();
        assert!(e.message.contains("2/4 appears twice"), "{e}");
        assert_eq!(e.input, Some(1));
        // Unsegmented runs (whole loads on several machines) just add up.
        let m = merge(vec![fake(None, &[1], 0, 1), fake(None, &[2], 0, 1)]).unwrap();
        assert_eq!(m.totals.requests, 2);
        assert!(m.merged_segments.is_empty());
    }

    #[test]
    fn mismatches_are_refused() {
        let a = || fake(Some("0/2"), &[1, 2, 3], 0, 1);
        let b = || fake(Some("1/2"), &[4], 0, 1);
        let mut other = b();
        other.name = "other".into();
        let e = merge(vec![a(), other]).unwrap_err();
        assert!(e.message.contains("scenario `other` differs"), "{e}");
        assert_eq!(e.input, Some(1));

        let mut v2 = b();
        v2.version = 2;
        assert!(merge(vec![a(), v2])
            .unwrap_err()
            .message
            .contains("version"));

        let mut renamed = b();
        renamed.steps[0].step = "post".into();
        assert!(merge(vec![a(), renamed])
            .unwrap_err()
            .message
            .contains("steps differ"));

        let e = merge(vec![a(), a()]).unwrap_err();
        assert!(e.message.contains("appears twice"), "{e}");
        let e = merge(vec![a(), fake(Some("1/3"), &[4], 0, 1)]).unwrap_err();
        assert!(e.message.contains("different splits"), "{e}");

        let mut bad = b();
        bad.histograms.overall = "not base64!".into();
        assert!(merge(vec![a(), bad]).is_err());
        let mut bad = b();
        bad.thresholds[0].expr = "p97 <".into();
        assert!(merge(vec![a(), bad])
            .unwrap_err()
            .message
            .contains("threshold"));
        assert!(merge(Vec::new()).is_err());
    }

    #[test]
    fn timelines_of_different_widths_merge_on_the_coarser_grid() {
        let p = |t: f64, span: f64, n: u64| {
            let mut h = new_histogram();
            for i in 0..n {
                h.record(1000 + i).unwrap();
            }
            TimelinePoint {
                t,
                span_s: span,
                rps: n as f64 / span,
                hdr: encode_histogram(&h),
                vus: 1,
                ..Default::default()
            }
        };
        let fine = [
            p(1.0, 1.0, 10),
            p(2.0, 1.0, 10),
            p(3.0, 1.0, 10),
            p(3.5, 0.5, 5),
        ];
        let coarse = [p(2.0, 2.0, 20), p(3.6, 1.6, 10)];
        let m = merge_timelines(&[&fine, &coarse]).unwrap();
        let ts: Vec<f64> = m.iter().map(|p| p.t).collect();
        assert_eq!(ts, [2.0, 3.6]);
        let counts: Vec<u64> = m
            .iter()
            .map(|p| decode_histogram(&p.hdr).unwrap().len())
            .collect();
        assert_eq!(counts, [40, 25]);
        assert_eq!(m[0].rps, 20.0);
        assert_eq!(m[0].vus, 2);
    }
}
