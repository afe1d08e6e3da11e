//! The HTML report: self-contained, identical whether written by `run --html` or by
//! `throng report`, and rendered by a real headless Chromium with charts and no console errors.

use std::path::{Path, PathBuf};
use std::process::Command;

fn throng() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_throng"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn browser_tools() -> Option<PathBuf> {
    let dir = std::env::var_os("THRONG_PLAYWRIGHT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("throng-playwright"));
    let ok = Path::new("/usr/bin/chromium").exists()
        && dir.join("node_modules/playwright-core").is_dir()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if ok {
        return Some(dir);
    }
    assert!(
        std::env::var_os("THRONG_REQUIRE_TOOLS").is_none(),
        "Chromium/playwright-core missing but THRONG_REQUIRE_TOOLS is set (scripts/install-browser-tools.sh installs them)"
    );
    eprintln!("Chromium or playwright-core not installed: browser check skipped (run scripts/install-browser-tools.sh)");
    None
}

#[test]
fn report_is_self_contained_deterministic_and_renders_in_chromium() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let (json, html) = (dir.path().join("r.json"), dir.path().join("run.html"));
    let out = throng()
        .args([
            "run",
            "fixtures/scenarios/shop-journey.yaml",
            "--base-url",
            &shop.base_url(),
        ])
        .args(["--rate", "10/s", "--duration", "3s", "--quiet", "--out"])
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .output()
        .expect("run throng");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).expect("report written");
    assert!(page.starts_with("<!doctype html>"));
    assert_eq!(
        page.matches("<svg class=\"chart\"").count(),
        4,
        "four charts"
    );
    assert!(
        page.contains("journey / <b>add to cart</b>"),
        "per-step table"
    );
    for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(
            !page.contains(external),
            "the report must fetch nothing, found {external}"
        );
    }

    // Rendering a saved run gives the same bytes.
    let again = dir.path().join("report.html");
    let out = throng()
        .arg("report")
        .arg(&json)
        .arg("--html")
        .arg(&again)
        .output()
        .expect("run throng report");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&again).expect("report"), page);

    let Some(pw) = browser_tools() else { return };
    let png = dir.path().join("report.png");
    let out = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/screenshot-report.mjs"))
        .arg(&html)
        .arg(&png)
        .env("THRONG_PLAYWRIGHT_DIR", &pw)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let facts: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("facts JSON");
    assert_eq!(facts["consoleErrors"], serde_json::json!([]), "{facts}");
    assert_eq!(facts["externalRequests"], serde_json::json!([]), "{facts}");
    assert_eq!(facts["charts"], 4, "{facts}");
    assert_eq!(facts["chartsWithData"], 4, "{facts}");
    assert_eq!(
        facts["stepRows"], 12,
        "a header, ten steps and the total: {facts}"
    );
    assert!(
        facts["verdict"]
            .as_str()
            .is_some_and(|v| v.starts_with("PASSED")),
        "{facts}"
    );
    assert!(std::fs::metadata(&png).expect("screenshot").len() > 20_000);
}

#[test]
fn report_of_a_missing_or_broken_file_is_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"version\": 1,\n \"name\": 5}").expect("write");
    let out = throng()
        .arg("report")
        .arg(&broken)
        .arg("--html")
        .arg(dir.path().join("x.html"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.json:2:"), "{err}");
    let out = throng()
        .args(["report", "nope.json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}
