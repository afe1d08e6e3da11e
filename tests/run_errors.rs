//! `throng run` failure paths: error categories, threshold breaches (exit 1), bad input (exit 2).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn throng(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_throng"))
        .args(args)
        .output()
        .unwrap()
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn each_failure_lands_in_its_category_and_the_breach_exits_1() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let dead = format!("dead_url=http://127.0.0.1:{}", closed_port());
    let o = throng(&[
        "run",
        fixture("run/errors.yaml").to_str().unwrap(),
        "--base-url",
        &shop.base_url(),
        "--var",
        &dead,
        "--quiet",
        "--iterations",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let step = |name: &str| {
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .unwrap()
            .clone()
    };

    let check = step("failing check");
    assert_eq!(check["failed"], 2);
    assert_eq!(check["errors"]["check"], 2, "{check}");
    let msg = check["failures"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("json $.status equals \"sick\"") && msg.contains("got \"healthy\""),
        "{msg}"
    );

    let extract = step("missing extraction");
    assert_eq!(extract["errors"]["extract"], 2, "{extract}");

    let server = step("server error");
    assert_eq!(server["errors"]["http_5xx"], 2, "{server}");
    assert_eq!(server["errors"]["http_503"], 2, "{server}");

    assert_eq!(step("register")["failed"], 0);
    let again = step("register again");
    assert_eq!(again["errors"]["http_4xx"], 2, "{again}");
    assert_eq!(again["errors"]["http_409"], 2, "{again}");
    let msg = again["failures"][0]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("check status 201: got 409 (body: {"),
        "{msg}"
    );

    let refused = step("refused");
    assert_eq!(refused["errors"]["connect"], 2, "{refused}");

    assert_eq!(r["errors"]["check"], 2);
    assert_eq!(r["totals"]["failed_requests"], 10);
    assert_eq!(r["thresholds"][0]["ok"], false);
    assert!(stdout.contains("FAIL error_rate < 1%"), "{stdout}");
    assert!(stdout.contains("check status 201: got 409"), "{stdout}");
}

#[test]
fn bad_input_exits_2() {
    let o = throng(&[
        "run",
        fixture("invalid/missing-csv-column.yaml").to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("emial"));
    let o = throng(&["run", "/nonexistent/scenario.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let o = throng(&[
        "run",
        fixture("run/health.yaml").to_str().unwrap(),
        "--duration",
        "10",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing unit"));
    let o = throng(&[
        "run",
        fixture("run/health.yaml").to_str().unwrap(),
        "--rate",
        "fast",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn unwritable_outputs_are_refused_before_the_run_starts() {
    // /proc refuses new files whoever runs the test (root included); the missing folder
    // is the common typo. Either way the 60 s run must not start.
    for flag in ["--out", "--html", "--junit"] {
        for path in ["/proc/throng-results.out", "/nonexistent-folder/r.out"] {
            let started = std::time::Instant::now();
            let o = throng(&[
                "run",
                fixture("run/health.yaml").to_str().unwrap(),
                "--base-url",
                &format!("http://127.0.0.1:{}", closed_port()),
                "--duration",
                "60s",
                "--quiet",
                flag,
                path,
            ]);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{flag} {path}: {stderr}");
            assert!(stderr.contains(path), "{flag} {path}: {stderr}");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{flag} {path}: refused only after the run"
            );
        }
    }
}

#[test]
fn abort_on_fail_stops_early_on_a_breached_error_rate() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let dead = format!("dead_url=http://127.0.0.1:{}", closed_port());
    let started = std::time::Instant::now();
    let o = throng(&[
        "run",
        fixture("run/errors.yaml").to_str().unwrap(),
        "--base-url",
        &shop.base_url(),
        "--var",
        &dead,
        "--quiet",
        "--vus",
        "1",
        "--duration",
        "30s",
        "--abort-on-fail",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r["stopped_early"], true);
    assert!(
        r["stop_reason"]
            .as_str()
            .unwrap()
            .contains("error_rate < 1%"),
        "{}",
        r["stop_reason"]
    );
}
