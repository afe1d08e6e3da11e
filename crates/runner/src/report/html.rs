//! The HTML report: one self-contained file (inline CSS and SVG, no scripts fetched from
//! anywhere) rendered from `templates/report.html.j2` and a run's [`RunResults`].
//!
//! Charts are drawn here as SVG so the report opens anywhere, offline, and so the same
//! results always give byte-identical reports.

use std::fmt::Write as _;

use minijinja::value::{Serde, Value};
use serde::Serialize;

use crate::report::results::{decode_histogram, RunResults};

const TEMPLATE: &str = include_str!("../../../../templates/report.html.j2");

/// Series colours, chosen to stay distinct for colour-blind readers (Okabe-Ito).
const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
];

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot render the HTML report: {0}")]
    Template(#[from] minijinja::Error),
}

/// Renders the report for a run.
pub fn render(results: &RunResults) -> Result<String, ReportError> {
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    let error_rate = if results.totals.requests == 0 {
        0.0
    } else {
        results.totals.failed_requests as f64 / results.totals.requests as f64
    };
    let t: Vec<f64> = results.timeline.iter().map(|p| p.t).collect();
    let latency_chart = line_chart(
        &[
            Series::new("p50", &t, results.timeline.iter().map(|p| p.p50_ms)),
            Series::new("p95", &t, results.timeline.iter().map(|p| p.p95_ms)),
            Series::new("p99", &t, results.timeline.iter().map(|p| p.p99_ms)),
        ],
        &Axes {
            x: "elapsed (s)",
            y: "latency (ms)",
            log_x: false,
        },
    );
    let throughput_chart = line_chart(
        &[
            Series::new("requests/s", &t, results.timeline.iter().map(|p| p.rps)),
            Series::new(
                "errors/s",
                &t,
                results.timeline.iter().map(|p| p.errors as f64),
            ),
        ],
        &Axes {
            x: "elapsed (s)",
            y: "per second",
            log_x: false,
        },
    );
    let vus_chart = line_chart(
        &[Series::new(
            "active VUs",
            &t,
            results.timeline.iter().map(|p| p.vus as f64),
        )],
        &Axes {
            x: "elapsed (s)",
            y: "virtual users",
            log_x: false,
        },
    );
    // The overall curve plus the busiest steps: more lines than a reader can tell apart
    // would hide the tail this chart exists to show.
    let mut busiest: Vec<usize> = (0..results.histograms.steps.len()).collect();
    busiest.sort_by_key(|&i| std::cmp::Reverse(results.steps.get(i).map_or(0, |s| s.requests)));
    busiest.truncate(MAX_CURVES - 1);
    busiest.sort_unstable();
    let mut curves = Vec::new();
    if let Some(c) = percentile_curve("all steps".into(), &results.histograms.overall) {
        curves.push(c);
    }
    for i in busiest {
        let named = &results.histograms.steps[i];
        let label = if named.scenario.is_empty() {
            named.step.clone()
        } else {
            format!("{} / {}", named.scenario, named.step)
        };
        if let Some(c) = percentile_curve(label, &named.hdr) {
            curves.push(c);
        }
    }
    let distribution_chart = line_chart(
        &curves,
        &Axes {
            x: "percentile",
            y: "latency (ms)",
            log_x: true,
        },
    );
    let html = env
        .get_template("report.html")?
        .render(minijinja::context! {
            r => Value::from(Serde(results)),
            error_rate => error_rate,
            passed => results.exit_code() == 0,
            problems => results.verdict_problems(),
            latency_chart => Value::from_safe_string(latency_chart),
            throughput_chart => Value::from_safe_string(throughput_chart),
            vus_chart => Value::from_safe_string(vus_chart),
            distribution_chart => Value::from_safe_string(distribution_chart),
            version => env!("CARGO_PKG_VERSION"),
        })?;
    Ok(html)
}

/// Lines in the latency distribution chart, the overall one included.
const MAX_CURVES: usize = 8;

/// HdrHistogram's classic plot: x = 1 / (1 - quantile) on a log scale, so the tail (99%,
/// 99.9%, 99.99%) gets as much room as the body.
fn percentile_curve(label: String, encoded: &str) -> Option<Series> {
    let h = decode_histogram(encoded).ok()?;
    if h.is_empty() {
        return None;
    }
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for v in h.iter_quantiles(2) {
        let q = v.quantile_iterated_to();
        if q >= 0.99999 {
            break;
        }
        xs.push(1.0 / (1.0 - q));
        ys.push(h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0);
    }
    xs.push(100_000.0);
    ys.push(h.max() as f64 / 1000.0);
    Some(Series { label, xs, ys })
}

#[derive(Serialize)]
struct Series {
    label: String,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl Series {
    fn new(label: &str, xs: &[f64], ys: impl Iterator<Item = f64>) -> Series {
        Series {
            label: label.to_string(),
            xs: xs.to_vec(),
            ys: ys.collect(),
        }
    }
}

struct Axes<'a> {
    x: &'a str,
    y: &'a str,
    log_x: bool,
}

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 58.0;
const LEGEND_ROW: f64 = 16.0;

/// A line chart with axes, grid, ticks and a legend, as an SVG element.
fn line_chart(series: &[Series], axes: &Axes<'_>) -> String {
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.xs.iter().copied().zip(s.ys.iter().copied()))
        .collect();
    // Legend entries flow left to right and wrap, so many steps never run off the chart.
    let mut legend = Vec::with_capacity(series.len());
    let (mut lx, mut row) = (LEFT, 0usize);
    for s in series {
        let width = 24.0 + 6.5 * s.label.chars().count() as f64;
        if lx + width > W - RIGHT && lx > LEFT {
            lx = LEFT;
            row += 1;
        }
        legend.push((lx, row));
        lx += width;
    }
    let total_h = H + LEGEND_ROW * row as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {total_h}" role="img" aria-label="{} by {}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(axes.y),
        esc(axes.x)
    );
    if points.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" class="empty">no data</text></svg>"#,
            W / 2.0,
            H / 2.0
        );
        return svg;
    }
    let fx = |x: f64| if axes.log_x { x.max(1.0).log10() } else { x };
    let (x0, x1) = if axes.log_x {
        (0.0, 5.0)
    } else {
        (
            0.0f64.min(points.iter().map(|p| p.0).fold(f64::MAX, f64::min)),
            points.iter().map(|p| p.0).fold(0.0, f64::max),
        )
    };
    let x1 = if x1 <= x0 { x0 + 1.0 } else { x1 };
    let y_top = nice_ceiling(points.iter().map(|p| p.1).fold(0.0, f64::max));
    let px = |x: f64| LEFT + (fx(x) - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| TOP + (1.0 - y / y_top) * (H - TOP - BOTTOM);
    // Grid and y ticks.
    for i in 0..=4 {
        let v = y_top * i as f64 / 4.0;
        let y = py(v);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            fmt_num(v)
        );
    }
    // X ticks.
    let ticks: Vec<(f64, String)> = if axes.log_x {
        [
            (1.0, "0%"),
            (10.0, "90%"),
            (100.0, "99%"),
            (1000.0, "99.9%"),
            (10_000.0, "99.99%"),
            (100_000.0, "max"),
        ]
        .iter()
        .map(|(x, l)| (*x, l.to_string()))
        .collect()
    } else {
        let step = nice_ceiling((x1 - x0) / 6.0).max(1.0);
        let mut v = Vec::new();
        let mut x = (x0 / step).ceil() * step;
        while x <= x1 + 1e-9 {
            v.push((x, fmt_num(x)));
            x += step;
        }
        v
    };
    for (x, label) in ticks {
        let _ = write!(
            svg,
            r#"<text class="tick" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            H - BOTTOM + 16.0,
            esc(&label)
        );
    }
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{}"/><line class="axis" x1="{LEFT}" x2="{}" y1="{}" y2="{}"/>"#,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM
    );
    let _ = write!(
        svg,
        r#"<text class="label" x="{}" y="{}" text-anchor="middle">{}</text><text class="label" transform="translate(14 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - BOTTOM + 34.0,
        esc(axes.x),
        (TOP + H - BOTTOM) / 2.0,
        esc(axes.y)
    );
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let path: Vec<String> =
            s.xs.iter()
                .zip(&s.ys)
                .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                .collect();
        if path.len() == 1 {
            let _ = write!(
                svg,
                r#"<circle cx="{}" r="3" fill="{color}" cy="{}"/>"#,
                path[0].split(',').next().unwrap_or("0"),
                path[0].split(',').nth(1).unwrap_or("0")
            );
        }
        let _ = write!(
            svg,
            r#"<polyline class="series" stroke="{color}" points="{}"/>"#,
            path.join(" ")
        );
        let (x, row) = legend[i];
        let y = H - 14.0 + LEGEND_ROW * row as f64;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{y}" width="10" height="10" fill="{color}"/><text class="legend" x="{:.1}" y="{}">{}</text>"#,
            x + 14.0,
            y + 9.0,
            esc(&s.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v`.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}").trim_end_matches(".0").to_string()
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(1000.0), 1000.0);
    }

    #[test]
    fn charts_have_one_polyline_per_series_and_escape_labels() {
        let s = [
            Series::new("a<b", &[0.0, 1.0, 2.0], [1.0, 2.0, 3.0].into_iter()),
            Series::new("c", &[0.0], [5.0].into_iter()),
        ];
        let svg = line_chart(
            &s,
            &Axes {
                x: "t",
                y: "ms",
                log_x: false,
            },
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a&lt;b"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(line_chart(
            &[],
            &Axes {
                x: "t",
                y: "ms",
                log_x: false
            }
        )
        .contains("no data"));
    }
}
