//! `throng run` stopped by a signal still writes its results (JSON, HTML, JUnit): SIGINT and
//! SIGTERM stop gracefully, letting in-flight requests finish within `--grace`; a second
//! signal stops at once and the results file is still complete and valid.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/run")
        .join(name)
}

fn spawn_run(scenario: &Path, base_url: &str, dir: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(scenario)
        .args(["--quiet", "--base-url", base_url, "--out"])
        .arg(dir.join("r.json"))
        .arg("--html")
        .arg(dir.join("r.html"))
        .arg("--junit")
        .arg(dir.join("r.xml"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn throng")
}

fn signal(child: &Child, sig: &str) {
    let sent = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

/// Waits for the child to exit; `None` if it is still running after `limit`.
fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The three outputs exist and are what they claim to be; returns the results JSON.
fn outputs(dir: &Path) -> serde_json::Value {
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("r.json")).expect("results written"),
    )
    .expect("results are valid JSON");
    let html = std::fs::read_to_string(dir.join("r.html")).expect("HTML written");
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    assert!(html.trim_end().ends_with("</html>"), "HTML is complete");
    let xml = std::fs::read_to_string(dir.join("r.xml")).expect("JUnit written");
    assert!(xml.contains("<testsuites") && xml.trim_end().ends_with("</testsuites>"));
    r
}

#[test]
fn sigint_stops_gracefully_and_writes_results() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_run(
        &fixture("health.yaml"),
        &shop.base_url(),
        dir.path(),
        &["--vus", "2", "--duration", "60s"],
    );
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, "-INT");
    let status = wait_for(&mut child, Duration::from_secs(20)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("throng did not stop within 20s of SIGINT")
    });
    assert_eq!(status.code(), Some(0));
    let r = outputs(dir.path());
    assert!(r["totals"]["requests"].as_u64().unwrap() > 0);
    assert_eq!(r["stopped_early"], true);
    assert!(r["duration_s"].as_f64().unwrap() < 30.0);
}

#[test]
fn sigterm_lets_in_flight_requests_finish_then_writes_everything() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    // Requests take 20 s; stopped after 1 s they are in flight, and the grace lets them end.
    let mut child = spawn_run(
        &fixture("slow.yaml"),
        &shop.base_url(),
        dir.path(),
        &["--vus", "2", "--duration", "5m", "--grace", "40s"],
    );
    std::thread::sleep(Duration::from_secs(1));
    signal(&child, "-TERM");
    let status = wait_for(&mut child, Duration::from_secs(45)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("throng did not stop within the grace period of SIGTERM")
    });
    assert_eq!(status.code(), Some(0));
    let r = outputs(dir.path());
    assert_eq!(r["stopped_early"], true);
    // Both in-flight requests completed instead of being cut.
    assert_eq!(r["totals"]["requests"], 2, "{r:#}");
    assert_eq!(r["totals"]["failed_requests"], 0, "{r:#}");
}

#[test]
fn second_sigint_stops_at_once_with_valid_results() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_run(
        &fixture("slow.yaml"),
        &shop.base_url(),
        dir.path(),
        &["--vus", "2", "--duration", "5m", "--grace", "60s"],
    );
    std::thread::sleep(Duration::from_secs(1));
    signal(&child, "-INT");
    // The first signal waits for the 20 s requests: still running a moment later.
    assert!(
        wait_for(&mut child, Duration::from_millis(1500)).is_none(),
        "a graceful stop waits for in-flight requests"
    );
    let second = Instant::now();
    signal(&child, "-INT");
    let status = wait_for(&mut child, Duration::from_secs(10)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("throng did not stop within 10s of a second SIGINT")
    });
    assert!(second.elapsed() < Duration::from_secs(5), "stopped at once");
    // Every request was cut before it completed: the run measured nothing, which is no pass.
    assert_eq!(status.code(), Some(1));
    let r = outputs(dir.path());
    assert_eq!(r["stopped_early"], true);
    assert!(r["duration_s"].as_f64().unwrap() < 15.0, "{r:#}");
}
