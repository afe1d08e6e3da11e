//! The end-of-run console summary, rendered from [`RunResults`] alone so `throng report`
//! can print the same table from a results file.

use std::fmt::Write;

use crate::report::results::RunResults;

/// How many distinct failure messages are shown per failing step.
const SHOWN_FAILURES: usize = 3;

impl RunResults {
    /// The console summary: per-step table, totals, errors, thresholds, failure samples.
    pub fn summary(&self) -> String {
        render(self)
    }
}

pub fn render(r: &RunResults) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} — {}{} — {:.1}s{}",
        r.name,
        r.load,
        match (&r.segment, r.segments_merged) {
            (Some(s), _) => format!(" — segment {s}"),
            (None, n) if n > 1 => format!(" — {n} results merged"),
            _ => String::new(),
        },
        r.duration_s,
        match &r.stop_reason {
            Some(why) => format!(" ({why})"),
            None => String::new(),
        }
    );
    let width = r
        .steps
        .iter()
        .map(|s| s.step.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 40);
    let multi = r.scenarios.len() > 1;
    let _ = writeln!(
        out,
        "\n  {:<width$}  {:>9} {:>7} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "step", "requests", "failed", "rps", "p50", "p90", "p95", "p99", "max"
    );
    let row = |out: &mut String,
               name: &str,
               req: u64,
               failed: u64,
               rps: f64,
               l: &crate::report::results::LatencySummary| {
        let name: String = name.chars().take(width).collect();
        let _ = writeln!(
            out,
            "  {name:<width$}  {req:>9} {failed:>7} {rps:>8.1} {:>9} {:>9} {:>9} {:>9} {:>9}",
            ms(l.p50),
            ms(l.p90),
            ms(l.p95),
            ms(l.p99),
            ms(l.max)
        );
    };
    for s in &r.steps {
        let name = if multi {
            format!("{}/{}", s.scenario, s.step)
        } else {
            s.step.clone()
        };
        row(&mut out, &name, s.requests, s.failed, s.rps, &s.latency_ms);
    }
    let t = &r.totals;
    row(
        &mut out,
        "total",
        t.requests,
        t.failed_requests,
        t.rps,
        &t.latency_ms,
    );
    let _ = writeln!(
        out,
        "  (latency columns and latency thresholds: successful requests only, {} of {})",
        t.requests - t.failed_requests,
        t.requests
    );
    streams(&mut out, r, width, multi);
    let _ = writeln!(
        out,
        "\n  iterations: {} ({} failed, {} dropped, {} interrupted), iteration p50 {} p95 {} p99 {}",
        t.iterations,
        t.failed_iterations,
        t.dropped_iterations,
        t.interrupted_iterations,
        ms(t.iteration_latency_ms.p50),
        ms(t.iteration_latency_ms.p95),
        ms(t.iteration_latency_ms.p99)
    );
    let _ = writeln!(
        out,
        "  data: {} sent, {} received; connections: {} opened, {} reused; checks: {} passed, {} failed",
        bytes(t.bytes_sent),
        bytes(t.bytes_received),
        r.connections.opened,
        r.connections.reused,
        t.checks_passed,
        t.checks_failed
    );
    if !r.errors.is_empty() {
        let list: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "  errors: {}", list.join(", "));
    }
    let failing: Vec<_> = r.steps.iter().filter(|s| !s.failures.is_empty()).collect();
    if !failing.is_empty() {
        let _ = writeln!(out, "\n  failures (first distinct messages per step):");
        for s in failing {
            let name = if multi {
                format!("{}/{}", s.scenario, s.step)
            } else {
                s.step.clone()
            };
            let kinds: Vec<String> = s.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(
                out,
                "    {name} ({} of {} failed: {}):",
                s.failed,
                s.requests,
                kinds.join(", ")
            );
            for f in s.failures.iter().take(SHOWN_FAILURES) {
                let _ = writeln!(out, "      {}× {}", f.count, f.message);
            }
            let more = s.failures.len().saturating_sub(SHOWN_FAILURES);
            if more > 0 {
                let _ = writeln!(out, "      … {more} more in the results file");
            }
        }
    }
    let problems = r.verdict_problems();
    if !problems.is_empty() {
        let _ = writeln!(out);
        for p in problems {
            let _ = writeln!(out, "  FAILED: {p}");
        }
    }
    if !r.thresholds.is_empty() {
        let _ = writeln!(out, "\n  thresholds:");
        for th in &r.thresholds {
            let actual = match th.actual {
                Some(v) => format!("{v:.3}"),
                None => "no data".into(),
            };
            let _ = writeln!(
                out,
                "    {} {}  (actual {actual})",
                if th.ok { "ok  " } else { "FAIL" },
                th.expr
            );
        }
    }
    out
}

/// The messages of `sse` and `ws` steps, whose latencies in the table above are those of
/// the opening response.
fn streams(out: &mut String, r: &RunResults, width: usize, multi: bool) {
    let rows: Vec<_> = r
        .steps
        .iter()
        .filter_map(|s| s.messages.as_ref().map(|m| (s, m)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n  messages (sse: time between events; ws: round trip; first: to the first event)"
    );
    let _ = writeln!(
        out,
        "  {:<width$}  {:>4} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "step", "kind", "received", "sent", "p50", "p90", "p95", "p99", "max", "first p50"
    );
    for (s, m) in rows {
        let name = if multi {
            format!("{}/{}", s.scenario, s.step)
        } else {
            s.step.clone()
        };
        let name: String = name.chars().take(width).collect();
        let l = &m.latency_ms;
        let _ = writeln!(
            out,
            "  {name:<width$}  {:>4} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            m.kind,
            m.received,
            m.sent,
            ms(l.p50),
            ms(l.p90),
            ms(l.p95),
            ms(l.p99),
            ms(l.max),
            m.first_ms.map_or("-".into(), |f| ms(f.p50)),
        );
    }
}

fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else {
        format!("{v:.1}ms")
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
