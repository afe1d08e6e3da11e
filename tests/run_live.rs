//! Watching a run: the live view on a terminal, compact lines without one, nothing with
//! `--quiet`, and the `--prometheus` endpoint scraped during a run and parsed by the
//! reference parser (Python's prometheus_client).

#![cfg(unix)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn health() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/run/health.yaml")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn without_a_terminal_a_compact_line_comes_every_interval() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let o = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(health())
        .args([
            "--base-url",
            &shop.base_url(),
            "--vus",
            "2",
            "--duration",
            "3500ms",
        ])
        .args(["--progress-interval", "1s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let line = regex::Regex::new(
        r"(?m)^\[\s+\d+s\] \d+ VUs active, \d+ iterations, \d+ requests \(0 failed\), [\d.]+ req/s, p95 [\d.]+ms$",
    )
    .unwrap();
    let lines = line.find_iter(&stderr).count();
    assert!(
        (2..=4).contains(&lines),
        "{lines} progress lines:\n{stderr}"
    );
    assert!(
        !stderr.contains('\x1b'),
        "no terminal codes in a log: {stderr:?}"
    );

    let quiet = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(health())
        .args([
            "--base-url",
            &shop.base_url(),
            "--vus",
            "2",
            "--duration",
            "2500ms",
        ])
        .args(["--progress-interval", "1s", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(quiet.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert_eq!(line.find_iter(&stderr).count(), 0, "{stderr}");
    assert!(String::from_utf8_lossy(&quiet.stdout).contains("health"));
}

#[test]
fn on_a_terminal_the_live_view_shows_totals_and_a_line_per_step() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let typescript = dir.path().join("tty.log");
    // util-linux `script` runs the command on a pseudo-terminal and records what it drew.
    let command = format!(
        "{} run {} --base-url {} --vus 2 --duration 3s",
        env!("CARGO_BIN_EXE_throng"),
        health().display(),
        shop.base_url()
    );
    let status = Command::new("script")
        .args(["-qfec", &command])
        .arg(&typescript)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("util-linux `script`");
    assert!(status.success());
    let drawn = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    assert!(drawn.contains("0:03"), "elapsed / total: {drawn}");
    for part in ["2 VUs", "req/s", "errors 0", "p95", "health › health"] {
        assert!(drawn.contains(part), "`{part}` in the live view: {drawn}");
    }
    assert!(
        drawn.contains("\x1b["),
        "redrawn in place with terminal codes"
    );
}

/// One `GET /metrics` over loopback; the body.
fn scrape(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("endpoint is up");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.to_string()
}

/// Parses exposition text with prometheus_client; prints per sample `name labels value`.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([family.type, s.name, s.labels, s.value])
print(json.dumps(out))
"#;

type Sample = (
    String,
    String,
    serde_json::Map<String, serde_json::Value>,
    f64,
);

fn parse(text: &str) -> Option<Vec<Sample>> {
    let mut child = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    if stderr.contains("No module named 'prometheus_client'") {
        assert!(
            std::env::var_os("THRONG_REQUIRE_TOOLS").is_none(),
            "prometheus_client is not installed but THRONG_REQUIRE_TOOLS is set (CI installs it with pip)"
        );
        eprintln!("prometheus_client not found: parse skipped (pip install prometheus-client)");
        return None;
    }
    assert!(
        o.status.success(),
        "not valid exposition text: {stderr}\n{text}"
    );
    let rows: Vec<(
        String,
        String,
        serde_json::Map<String, serde_json::Value>,
        f64,
    )> = serde_json::from_slice(&o.stdout).unwrap();
    Some(rows)
}

fn value(samples: &[Sample], name: &str, step: &str) -> f64 {
    samples
        .iter()
        .find(|s| s.1 == name && s.2.get("step").and_then(|v| v.as_str()) == Some(step))
        .unwrap_or_else(|| panic!("{name}{{step={step}}} in {samples:?}"))
        .3
}

#[test]
fn the_prometheus_endpoint_serves_growing_counters_and_histograms() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(health())
        .args([
            "--base-url",
            &shop.base_url(),
            "--vus",
            "2",
            "--duration",
            "5s",
        ])
        .args(["--quiet", "--prometheus", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(1800));
    let first = scrape(port);
    std::thread::sleep(Duration::from_millis(1500));
    let second = scrape(port);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "scraped during the run"
    );
    assert_eq!(child.wait().unwrap().code(), Some(0));

    for part in [
        "# TYPE throng_requests_total counter",
        "# TYPE throng_request_duration_seconds histogram",
        "# TYPE throng_active_vus gauge",
        "throng_active_vus 2",
    ] {
        assert!(second.contains(part), "`{part}` in:\n{second}");
    }
    let (Some(a), Some(b)) = (parse(&first), parse(&second)) else {
        return;
    };
    let before = value(&a, "throng_requests_total", "health");
    let after = value(&b, "throng_requests_total", "health");
    assert!(before > 0.0 && after > before, "{before} then {after}");

    let buckets: Vec<(f64, f64)> = b
        .iter()
        .filter(|s| s.1 == "throng_request_duration_seconds_bucket")
        .map(|s| {
            let le = s.2["le"].as_str().unwrap();
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (bound, s.3)
        })
        .collect();
    assert!(buckets.len() > 2, "{buckets:?}");
    assert!(
        buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
        "cumulative: {buckets:?}"
    );
    let (last_bound, last_count) = *buckets.last().unwrap();
    assert!(last_bound.is_infinite());
    assert_eq!(
        last_count,
        value(&b, "throng_request_duration_seconds_count", "health")
    );
    assert_eq!(last_count, after);
}

#[test]
fn a_taken_prometheus_port_is_bad_input_before_the_run() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    for addr in [format!("127.0.0.1:{port}"), "not-an-address".to_string()] {
        let o = Command::new(env!("CARGO_BIN_EXE_throng"))
            .arg("run")
            .arg(health())
            .args(["--duration", "60s", "--quiet", "--prometheus", &addr])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--prometheus"), "{stderr}");
    }
}
