//! `throng run` stopped by SIGINT still writes its results.

#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigint_stops_gracefully_and_writes_results() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/run/health.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(&scenario)
        .args([
            "--quiet",
            "--vus",
            "2",
            "--duration",
            "60s",
            "--base-url",
            &shop.base_url(),
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("throng did not stop within 20s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(r["totals"]["requests"].as_u64().unwrap() > 0);
    assert_eq!(r["stopped_early"], true);
    assert!(r["duration_s"].as_f64().unwrap() < 30.0);
}
