//! Threshold evaluation as a pure function over [`RunResults`], so a run, `throng report`
//! and `throng merge` (over merged shards) all judge results the same way.
//!
//! Latency percentiles come from the serialized HDR histograms, not from the per-step
//! summaries: a scope spanning several steps must merge histograms, because averaging
//! percentiles is wrong. Those histograms hold successful requests only (see `metrics`),
//! and a threshold with nothing to measure fails with `no data`.

use hdrhistogram::Histogram;
use throng_ir::{LatencyStat, Metric, Scope, Threshold};

use crate::report::results::{
    decode_histogram, new_histogram, RunResults, StepResult, ThresholdResult,
};

/// Evaluates every threshold against the results.
pub fn evaluate(thresholds: &[Threshold], results: &RunResults) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| {
            let actual = measure(t, results);
            let ok = match actual {
                Some(v) => t.op.holds(v, t.bound),
                // Nothing measured (no request in scope, or for a latency none that
                // succeeded): a threshold that saw nothing has not been met.
                None => false,
            };
            ThresholdResult {
                expr: t.expr().to_string(),
                ok,
                actual,
            }
        })
        .collect()
}

/// Whether any abortable threshold is already breached, for `--abort-on-fail`.
pub fn breached_abortable(thresholds: &[Threshold], results: &RunResults) -> Option<String> {
    thresholds
        .iter()
        .filter(|t| t.is_abortable())
        .find(|t| measure(t, results).is_some_and(|v| !t.op.holds(v, t.bound)))
        .map(|t| t.expr().to_string())
}

fn in_scope<'r>(scope: &Scope, results: &'r RunResults) -> Vec<(usize, &'r StepResult)> {
    results
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| match scope {
            Scope::All => true,
            Scope::Step(name) => &s.step == name,
            Scope::Scenario(name) => &s.scenario == name,
        })
        .collect()
}

/// The value a threshold compares, in its unit (ms, ratio 0..1, per second).
pub fn measure(t: &Threshold, results: &RunResults) -> Option<f64> {
    let steps = in_scope(&t.scope, results);
    let requests: u64 = steps.iter().map(|(_, s)| s.requests).sum();
    match t.metric {
        Metric::ErrorRate => (requests > 0)
            .then(|| steps.iter().map(|(_, s)| s.failed).sum::<u64>() as f64 / requests as f64),
        Metric::Rps => Some(if results.duration_s > 0.0 {
            requests as f64 / results.duration_s
        } else {
            0.0
        }),
        Metric::Checks => {
            let passed: u64 = steps.iter().map(|(_, s)| s.checks_passed).sum();
            let failed: u64 = steps.iter().map(|(_, s)| s.checks_failed).sum();
            (passed + failed > 0).then(|| passed as f64 / (passed + failed) as f64)
        }
        Metric::Latency(stat) | Metric::MessageLatency(stat) => {
            let h = if matches!(t.metric, Metric::MessageLatency(_)) {
                message_histogram(results, &steps)?
            } else {
                scope_histogram(&t.scope, results, &steps)?
            };
            if h.is_empty() {
                return None;
            }
            let ms = |us: u64| us as f64 / 1000.0;
            Some(match stat {
                LatencyStat::Min => ms(h.min()),
                LatencyStat::Max => ms(h.max()),
                LatencyStat::Mean => h.mean() / 1000.0,
                other => ms(h.value_at_quantile(other.percentile().unwrap_or(50.0) / 100.0)),
            })
        }
    }
}

/// The per-message latencies of the streaming steps in scope.
fn message_histogram(
    results: &RunResults,
    steps: &[(usize, &StepResult)],
) -> Option<Histogram<u64>> {
    let mut merged = new_histogram();
    for (i, _) in steps.iter().filter(|(_, s)| s.messages.is_some()) {
        let h = results.histograms.steps.get(*i)?;
        merged.add(&decode_histogram(&h.messages_hdr).ok()?).ok()?;
    }
    Some(merged)
}

fn scope_histogram(
    scope: &Scope,
    results: &RunResults,
    steps: &[(usize, &StepResult)],
) -> Option<Histogram<u64>> {
    if matches!(scope, Scope::All) && !results.histograms.overall.is_empty() {
        return decode_histogram(&results.histograms.overall).ok();
    }
    let mut merged = new_histogram();
    for (i, _) in steps {
        let h = results.histograms.steps.get(*i)?;
        let h = decode_histogram(&h.hdr).ok()?;
        merged.add(&h).ok()?;
    }
    Some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::results::{encode_histogram, Histograms, NamedHistogram, Totals};

    fn results_with(steps: Vec<(&str, &str, &[u64], u64)>) -> RunResults {
        let mut overall = new_histogram();
        let mut hists = Vec::new();
        let mut out = Vec::new();
        for (scenario, step, values_ms, failed) in steps {
            let mut h = new_histogram();
            for v in values_ms {
                h.record(v * 1000).unwrap();
            }
            overall.add(&h).unwrap();
            hists.push(NamedHistogram {
                scenario: scenario.into(),
                step: step.into(),
                hdr: encode_histogram(&h),
                ..Default::default()
            });
            out.push(StepResult {
                scenario: scenario.into(),
                step: step.into(),
                requests: values_ms.len() as u64,
                failed,
                checks_passed: values_ms.len() as u64 - failed,
                checks_failed: failed,
                ..Default::default()
            });
        }
        RunResults {
            version: 1,
            name: "t".into(),
            started_at: String::new(),
            duration_s: 10.0,
            totals: Totals::default(),
            steps: out,
            scenarios: vec![],
            errors: Default::default(),
            connections: Default::default(),
            thresholds: vec![],
            timeline: vec![],
            histograms: Histograms {
                overall: encode_histogram(&overall),
                steps: hists,
                ..Default::default()
            },
            load: String::new(),
            stopped_early: false,
            stop_reason: None,
            segment: None,
            started_at_ms: 0,
            ended_at_ms: 0,
            segments_merged: 0,
            merged_segments: Vec::new(),
            insecure: false,
        }
    }

    fn eval(expr: &str, r: &RunResults) -> ThresholdResult {
        evaluate(&[Threshold::parse(expr).unwrap()], r).remove(0)
    }

    #[test]
    fn latency_error_rate_rps_and_checks_by_scope() {
        let fast: Vec<u64> = (1..=100).collect();
        let slow = [900u64; 10];
        let r = results_with(vec![
            ("shop", "list", &fast, 0),
            ("shop", "checkout", &slow, 5),
            ("other", "list", &[5], 1),
        ]);

        let p50 = eval("step[list].p50 < 60ms", &r);
        assert!(p50.ok, "{p50:?}");
        assert!((p50.actual.unwrap() - 50.0).abs() < 0.1);
        assert!(!eval("p99 < 800ms", &r).ok);
        assert!(eval("step[list].max < 101ms", &r).ok);
        assert!(!eval("step[checkout].min < 899ms", &r).ok);

        let er = eval("error_rate < 1%", &r);
        assert!(!er.ok);
        assert!((er.actual.unwrap() - 6.0 / 111.0).abs() < 1e-9);
        assert!(eval("scenario[shop].error_rate < 5%", &r).ok);
        assert!(!eval("scenario[other].error_rate < 5%", &r).ok);

        assert_eq!(eval("rps > 11", &r).actual, Some(11.1));
        assert!(eval("rps > 11", &r).ok);
        assert!(!eval("step[checkout].checks > 90%", &r).ok);
        assert!(eval("step[list].checks > 90%", &r).ok);
        // No requests in scope: nothing measured, which fails as `no data`.
        let none = eval("step[nope].p95 < 1ms", &r);
        assert!(!none.ok && none.actual.is_none());
        assert!(!eval("step[nope].error_rate < 1%", &r).ok);
    }

    #[test]
    fn abortable_thresholds_only() {
        let r = results_with(vec![("s", "a", &[10, 20], 1)]);
        let ts = [
            Threshold::parse("p95 < 1ms").unwrap(),
            Threshold::parse("error_rate < 10%").unwrap(),
        ];
        assert_eq!(
            breached_abortable(&ts, &r).as_deref(),
            Some("error_rate < 10%")
        );
        let ts = [Threshold::parse("p95 < 1ms").unwrap()];
        assert_eq!(breached_abortable(&ts, &r), None);
    }
}
