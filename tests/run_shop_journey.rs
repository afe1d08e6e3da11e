//! `throng run` end to end: the ten-step shopping journey against the in-process shop, on
//! every core and on one.

use std::path::Path;
use std::process::Command;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

#[test]
fn shop_journey_20_vus_200_iterations() {
    journey(Command::new(env!("CARGO_BIN_EXE_throng")));
}

/// On one core throng runs a current-thread runtime instead of a multi-thread one.
#[test]
fn shop_journey_on_one_core() {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "0", env!("CARGO_BIN_EXE_throng")]);
    journey(cmd);
}

fn journey(mut throng: Command) {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.json");
    let output = throng
        .arg("run")
        .arg(fixture("scenarios/shop-journey.yaml"))
        .args([
            "--vus",
            "20",
            "--iterations",
            "200",
            "--no-think",
            "--quiet",
        ])
        .args(["--base-url", &shop.base_url()])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("checkout"), "{stdout}");

    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let t = &r["totals"];
    assert_eq!(r["version"], 1);
    assert_eq!(r["name"], "shop-journey");
    assert_eq!(t["iterations"], 200);
    assert_eq!(t["failed_iterations"], 0);
    assert_eq!(t["requests"], 2000);
    assert_eq!(t["failed_requests"], 0, "errors: {}", r["errors"]);
    assert!(t["bytes_received"].as_u64().unwrap() > 0 && t["bytes_sent"].as_u64().unwrap() > 0);
    assert!(t["latency_ms"]["p99"].as_f64().unwrap() >= t["latency_ms"]["p50"].as_f64().unwrap());
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 10);
    for s in steps {
        assert_eq!(s["requests"], 200, "{s}");
        assert_eq!(s["failed"], 0, "{s}");
    }
    assert_eq!(r["scenarios"][0]["iterations"], 200);
    // One keep-alive connection per VU, reused for everything else.
    assert_eq!(r["connections"]["opened"], 20);
    assert_eq!(r["connections"]["reused"], 1980);
    assert!(r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["ok"] == true));
    assert!(!r["histograms"]["overall"].as_str().unwrap().is_empty());
    assert!(!r["timeline"].as_array().unwrap().is_empty());

    let stats = shop.shop.stats();
    assert_eq!(stats.orders, 200);
    assert_eq!(stats.distinct_order_users, 200);
    assert!(stats.users >= 200);
}
