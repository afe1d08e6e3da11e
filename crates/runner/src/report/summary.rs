//! The end-of-run console summary, rendered from [`RunResults`] alone so `throng report`
//! can print the same table from a results file.

use std::fmt::Write;
use std::time::{Duration, SystemTime};

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

/// RFC 3339 in UTC, without pulling in a date crate.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Parses RFC 3339 (`2024-02-29T12:34:56.250Z`, `...+02:00`), the inverse of [`rfc3339`].
pub fn parse_rfc3339(text: &str) -> Result<SystemTime, String> {
    let bad = || format!("`{text}` is not an RFC 3339 time like 2024-02-29T12:34:56Z");
    let t = text.trim();
    let b = t.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let s = t.get(r).ok_or_else(bad)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let mut rest = &t[19..];
    let mut nanos: u64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        for (i, c) in frac[..digits].bytes().take(9).enumerate() {
            nanos += (c - b'0') as u64 * 10u64.pow(8 - i as u32);
        }
        rest = &frac[digits..];
    }
    let offset_s: i64 = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && matches!(&o[..1], "+" | "-") && &o[3..4] == ":" => {
            let h: i64 = o[1..3].parse().map_err(|_| bad())?;
            let m: i64 = o[4..6].parse().map_err(|_| bad())?;
            let sign = if &o[..1] == "-" { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return Err(bad()),
    };
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    if secs < 0 {
        return Err(format!("`{text}` is before 1970"));
    }
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64) + Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH + Duration::from_millis(1_709_210_096_250)),
            "2024-02-29T12:34:56.250Z"
        );
        for ms in [0u64, 1_709_210_096_250, 951_782_400_000, 4_102_444_799_999] {
            let t = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
            assert_eq!(parse_rfc3339(&rfc3339(t)), Ok(t));
        }
        assert_eq!(
            parse_rfc3339("2024-02-29T14:34:56.25+02:00"),
            parse_rfc3339("2024-02-29T12:34:56.250Z")
        );
        assert!(parse_rfc3339("2024-02-29 12:34:56").is_err());
        assert!(parse_rfc3339("2024-13-01T00:00:00Z").is_err());
    }
}
