//! `sse` and `ws` steps end to end against the in-process shop: per-message counts and
//! latencies in the results, and streams that fail by category instead of hanging.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/run")
        .join(name)
}

/// Runs `file` against a fresh shop; returns the exit code, stdout and the results JSON.
fn run(file: &str, args: &[&str]) -> (Option<i32>, String, serde_json::Value) {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.json");
    let output = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(fixture(file))
        .args(args)
        .args(["--no-think", "--quiet", "--base-url", &shop.base_url()])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let text = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("no results ({e}):\n{stdout}\n{stderr}"));
    (
        output.status.code(),
        stdout,
        serde_json::from_str(&text).unwrap(),
    )
}

fn step<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step `{name}` in {r}"))
}

#[test]
fn sse_and_ws_steps_record_every_message() {
    let (code, stdout, r) = run("streams.yaml", &["--vus", "2", "--iterations", "4"]);
    assert_eq!(code, Some(0), "{stdout}\n{}", r["errors"]);
    assert_eq!(r["totals"]["failed_requests"], 0, "{}", r["steps"]);
    assert_eq!(r["totals"]["checks_failed"], 0);

    let events = step(&r, "events");
    assert_eq!(events["requests"], 4);
    let m = &events["messages"];
    assert_eq!(m["kind"], "sse");
    assert_eq!(m["received"], 20, "5 events per stream: {m}");
    assert_eq!(m["sent"], 0);
    // 5 ms apart on the server; inter-arrival times are what the client saw.
    assert!(m["latency_ms"]["p50"].as_f64().unwrap() >= 3.0, "{m}");
    assert!(m["first_ms"]["max"].as_f64().unwrap() > 0.0, "{m}");
    // status, header, json, body_matches: four checks per stream.
    assert_eq!(events["checks_passed"], 16);

    let echo = step(&r, "echo");
    let m = &echo["messages"];
    assert_eq!(m["kind"], "ws");
    assert_eq!(m["sent"], 40, "{m}");
    assert_eq!(m["received"], 40, "{m}");
    assert!(m["latency_ms"]["max"].as_f64().unwrap() > 0.0);
    assert!(m.get("first_ms").is_none(), "{m}");
    // The echo expectation and the body_matches check, once per session.
    assert_eq!(echo["checks_passed"], 8);
    assert_eq!(step(&r, "ping")["messages"]["received"], 12);

    // Message histograms are in the results, so merged segments keep them exactly.
    let hists = r["histograms"]["steps"].as_array().unwrap();
    assert!(!hists[0]["messages_hdr"].as_str().unwrap().is_empty());
    assert!(!hists[0]["first_message_hdr"].as_str().unwrap().is_empty());
    assert!(
        hists[1].get("messages_hdr").is_none(),
        "plain requests have none"
    );
    assert!(!hists[2]["messages_hdr"].as_str().unwrap().is_empty());
    assert!(hists[2].get("first_message_hdr").is_none());
    // A plain request has no `messages`, and the summary lists the streams.
    assert!(step(&r, "health after the stream")
        .get("messages")
        .is_none());
    assert!(stdout.contains("messages (sse"), "{stdout}");
}

#[test]
fn merged_segments_add_message_counts_and_histograms() {
    let (_, _, a) = run("streams.yaml", &["--vus", "1", "--iterations", "2"]);
    let (_, _, b) = run("streams.yaml", &["--vus", "1", "--iterations", "3"]);
    let a: throng_runner::RunResults = serde_json::from_value(a).unwrap();
    let b: throng_runner::RunResults = serde_json::from_value(b).unwrap();
    let m = throng_runner::merge(vec![a, b]).unwrap();
    let echo = m.steps.iter().find(|s| s.step == "echo").unwrap();
    let msgs = echo.messages.as_ref().unwrap();
    assert_eq!((msgs.sent, msgs.received), (50, 50));
    let h = throng_runner::decode_histogram(&m.histograms.steps[2].messages_hdr).unwrap();
    assert_eq!(h.len(), 50);
    let events = m.steps[0].messages.as_ref().unwrap();
    assert_eq!(events.received, 25);
    let first = throng_runner::decode_histogram(&m.histograms.steps[0].first_message_hdr).unwrap();
    assert_eq!(first.len(), 5, "one first event per stream");
    assert!(events.first_ms.is_some());
}

#[test]
fn streams_that_fall_short_fail_by_category_without_hanging() {
    let started = Instant::now();
    let (code, stdout, r) = run("streams-failing.yaml", &["--vus", "1", "--iterations", "2"]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        code,
        Some(1),
        "no thresholds, but no request succeeded, so the run fails:\n{stdout}"
    );
    assert!(stdout.contains("FAILED: no request succeeded"), "{stdout}");

    let few = step(&r, "too few events");
    assert_eq!(few["failed"], 2, "{few}");
    assert_eq!(few["errors"]["stream_closed"], 2, "{few}");
    assert_eq!(few["messages"]["received"], 6);
    let msg = few["failures"][0]["message"].as_str().unwrap();
    assert!(msg.contains("ended after 3 of 8"), "{msg}");

    let slow = step(&r, "slow stream");
    assert_eq!(slow["errors"]["timeout"], 2, "{slow}");
    assert!(
        slow["messages"]["received"].as_u64().unwrap() >= 2,
        "{slow}"
    );

    let echo = step(&r, "not an echo");
    assert_eq!(echo["errors"]["check"], 2, "{echo}");
    assert_eq!(echo["checks_failed"], 2);
    let msg = echo["failures"][0]["message"].as_str().unwrap();
    assert!(msg.contains("reply 1 is not an echo"), "{msg}");
    assert_eq!(r["errors"]["stream_closed"], 2);
}
