//! `throng demo` end to end: shop, both compilers, the mixed load, the summary and the report.

use std::process::Command;

#[test]
fn demo_runs_the_whole_loop_and_leaves_editable_scenarios() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keep = dir.path().join("demo");
    let report = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_throng"))
        .args(["demo", "--duration", "4s", "--rate", "15/s", "--keep"])
        .arg(&keep)
        .arg("--report")
        .arg(&report)
        .output()
        .expect("run throng demo");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for stage in [
        "[1/5] started the demo shop at http://127.0.0.1:",
        "[2/5] compiled a browser recording",
        "[3/5] compiled the shop's OpenAPI",
        "[4/5] running 15 iterations/s",
        "[5/5] wrote",
    ] {
        assert!(
            stderr.contains(stage),
            "missing stage line `{stage}`:\n{stderr}"
        );
    }
    assert!(stdout.contains("throng-demo"), "{stdout}");
    assert!(stdout.contains("thresholds:"), "{stdout}");

    for f in [
        "storefront.har",
        "storefront.yaml",
        "api.yaml",
        "browse.yaml",
        "demo-mix.yaml",
        "results.json",
    ] {
        assert!(keep.join(f).exists(), "{f} not kept");
    }
    let validate = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("validate")
        .args(
            [
                "storefront.yaml",
                "api.yaml",
                "browse.yaml",
                "demo-mix.yaml",
            ]
            .map(|f| keep.join(f)),
        )
        .output()
        .expect("run throng validate");
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );

    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(keep.join("results.json")).expect("results"))
            .expect("JSON");
    assert!(
        results["totals"]["requests"].as_u64().unwrap_or(0) > 100,
        "{}",
        results["totals"]
    );
    assert_eq!(
        results["totals"]["failed_requests"], 0,
        "{}",
        results["errors"]
    );
    let scenarios: Vec<&str> = results["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for s in ["browse", "search", "storefront"] {
        assert!(scenarios.contains(&s), "{s} missing from {scenarios:?}");
    }
    let html = std::fs::read_to_string(&report).expect("report written");
    assert!(
        html.contains("throng report: throng-demo") && html.contains("PASSED"),
        "report"
    );
}
