//! `throng run` load behaviour: unique data, think times, open-model rate, percentiles.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Runs `throng run FIXTURE --quiet --out ... ARGS` against a fresh shop; returns exit code,
/// parsed results and the shop (kept alive for its stats).
fn run(fixture_name: &str, args: &[&str]) -> (i32, serde_json::Value, throng_shop::RunningShop) {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(fixture(fixture_name))
        .args(["--quiet", "--base-url", &shop.base_url(), "--out"])
        .arg(&out)
        .args(args)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&out)
        .unwrap_or_else(|_| panic!("no results: {}", String::from_utf8_lossy(&o.stderr)));
    (
        o.status.code().unwrap_or(-1),
        serde_json::from_str(&text).unwrap(),
        shop,
    )
}

#[test]
fn unique_rows_are_never_reused_and_the_run_ends_when_they_run_out() {
    let (code, r, shop) = run("run/unique-users.yaml", &[]);
    assert_eq!(code, 0, "{}", r["errors"]);
    // 40 rows, 1000 iterations asked: exactly 40 run, each registering a new user (a reused
    // row would be a 409 from the shop and fail the status check).
    assert_eq!(r["totals"]["iterations"], 40);
    assert_eq!(r["totals"]["failed_requests"], 0, "{}", r["errors"]);
    assert_eq!(shop.shop.stats().users, 40);
}

#[test]
fn think_times_fall_within_their_range() {
    let (code, r, _shop) = run("run/think.yaml", &["--iterations", "6"]);
    assert_eq!(code, 0);
    let it = &r["scenarios"][0]["latency_ms"];
    let (min, max) = (it["min"].as_f64().unwrap(), it["max"].as_f64().unwrap());
    // One pause of 200..300ms between two fast requests.
    assert!(min >= 200.0, "{it}");
    assert!(max <= 300.0 + 60.0, "{it}");
    assert_eq!(r["totals"]["iterations"], 6);

    let (_, r, _shop) = run("run/think.yaml", &["--iterations", "3", "--no-think"]);
    assert!(r["scenarios"][0]["latency_ms"]["max"].as_f64().unwrap() < 150.0);
}

#[test]
fn open_model_rate_stays_within_5_percent_of_target() {
    let (code, r, _shop) = run("run/health.yaml", &["--rate", "50/s", "--duration", "10s"]);
    assert_eq!(code, 0);
    let iterations = r["totals"]["iterations"].as_u64().unwrap() as f64;
    assert!(
        (iterations - 500.0).abs() <= 25.0,
        "iterations {iterations}"
    );
    assert_eq!(r["totals"]["dropped_iterations"], 0);
    let rps = r["totals"]["rps"].as_f64().unwrap();
    assert!((rps - 50.0).abs() <= 2.5, "rps {rps}");
}

#[test]
fn open_model_drops_iterations_when_the_pool_is_exhausted() {
    let (_, r, _shop) = run(
        "run/delay.yaml",
        &[
            "--rate",
            "40/s",
            "--duration",
            "2s",
            "--max-vus",
            "2",
            "--var",
            "delay_ms=200",
        ],
    );
    let dropped = r["totals"]["dropped_iterations"].as_u64().unwrap();
    let done = r["totals"]["iterations"].as_u64().unwrap();
    // Two VUs at 200ms each serve about 10/s of the 40/s asked.
    assert!(dropped >= 40, "dropped {dropped}, done {done}");
    assert!(
        done + dropped >= 76 && done + dropped <= 84,
        "dropped {dropped}, done {done}"
    );
    // Iteration latency counts from the intended start, so it includes no queueing here.
    assert!(r["totals"]["iteration_latency_ms"]["p50"].as_f64().unwrap() >= 200.0);
}

#[test]
fn percentiles_match_fixed_server_delays() {
    for delay in [50u64, 200] {
        let var = format!("delay_ms={delay}");
        let (code, r, _shop) = run(
            "run/delay.yaml",
            &["--vus", "5", "--iterations", "50", "--var", &var],
        );
        assert_eq!(code, 0);
        let l = &r["steps"][0]["latency_ms"];
        let d = delay as f64;
        for key in ["min", "p50", "p99"] {
            let v = l[key].as_f64().unwrap();
            // HDR precision (0.1%) below, scheduling jitter above.
            assert!(
                v >= d * 0.999 && v <= d + 25.0,
                "{key} {v} for {delay}ms: {l}"
            );
        }
    }
}
