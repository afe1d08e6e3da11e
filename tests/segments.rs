//! `throng run --segment I/N`: N processes started together run exactly the whole load, and
//! `throng merge` combines their results losslessly.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use throng_runner::results::{decode_histogram, new_histogram, LatencySummary, RunResults};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn throng() -> Command {
    Command::new(env!("CARGO_BIN_EXE_throng"))
}

fn read(path: &Path) -> RunResults {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Unix ms a little ahead, so every process has started before the shared start.
fn start_soon() -> String {
    let at = SystemTime::now() + Duration::from_millis(1500);
    at.duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string()
}

/// Runs `n` segments of `scenario` at once, all starting at the same instant; returns their
/// results files, in segment order. `per_segment` adds arguments for segment `i`.
fn run_segments(
    dir: &Path,
    scenario: &Path,
    n: u32,
    args: &[&str],
    per_segment: impl Fn(u32) -> Vec<String>,
) -> Vec<PathBuf> {
    let start = start_soon();
    let children: Vec<(PathBuf, Child)> = (0..n)
        .map(|i| {
            let out = dir.join(format!("r-{i}.json"));
            let child = throng()
                .arg("run")
                .arg(scenario)
                .args(["--quiet", "--segment", &format!("{i}/{n}"), "--start-at"])
                .arg(&start)
                .arg("--out")
                .arg(&out)
                .args(args)
                .args(per_segment(i))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (out, child)
        })
        .collect();
    children
        .into_iter()
        .map(|(out, child)| {
            let o = child.wait_with_output().unwrap();
            assert_eq!(
                o.status.code(),
                Some(0),
                "segment failed: {}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            out
        })
        .collect()
}

fn merge(dir: &Path, files: &[PathBuf]) -> (Output, RunResults) {
    let out = dir.join("merged.json");
    let o = throng()
        .arg("merge")
        .args(files)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let merged = read(&out);
    (o, merged)
}

#[test]
fn four_segments_add_up_to_one_process_and_merge_losslessly() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let scenario = fixture("run/health.yaml");
    let load = ["--rate", "40/s", "--duration", "5s"];
    let base = ["--base-url".to_string(), shop.base_url()];

    let single_out = dir.path().join("single.json");
    let o = throng()
        .arg("run")
        .arg(&scenario)
        .args(["--quiet", "--out"])
        .arg(&single_out)
        .args(load)
        .args(&base)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let single = read(&single_out);

    let files = run_segments(dir.path(), &scenario, 4, &load, |_| base.to_vec());
    let segments: Vec<RunResults> = files.iter().map(|f| read(f)).collect();
    for (i, s) in segments.iter().enumerate() {
        assert_eq!(s.segment.as_deref(), Some(format!("{i}/4").as_str()));
        // Arrivals are striped: 200 arrivals, 50 each.
        assert_eq!(s.totals.iterations, 50, "segment {i}");
        assert!(s.started_at_ms > 0 && s.ended_at_ms > s.started_at_ms);
    }
    // All started at the shared instant.
    let starts: BTreeSet<u64> = segments.iter().map(|s| s.started_at_ms).collect();
    assert_eq!(starts.len(), 1, "{starts:?}");

    let (_, merged) = merge(dir.path(), &files);
    assert_eq!(merged.segments_merged, 4);
    assert_eq!(merged.merged_segments, ["0/4", "1/4", "2/4", "3/4"]);
    assert_eq!(merged.totals.failed_requests, 0, "{:?}", merged.errors);
    eprintln!(
        "single: {} requests in {:.3}s = {:.2}/s; merged: {} in {:.3}s = {:.2}/s",
        single.totals.requests,
        single.duration_s,
        single.totals.rps,
        merged.totals.requests,
        merged.duration_s,
        merged.totals.rps
    );
    let close = |a: f64, b: f64| (a - b).abs() <= 0.01 * b;
    let (mr, sr) = (merged.totals.requests as f64, single.totals.requests as f64);
    assert!(close(mr, sr), "requests: merged {mr}, single {sr}");
    assert_eq!(single.totals.requests, 200);
    assert!(
        close(merged.totals.rps, single.totals.rps),
        "rate: merged {}, single {}",
        merged.totals.rps,
        single.totals.rps
    );
    assert_eq!(shop.shop.stats().requests_processed, 400);

    // Lossless: the merge equals one histogram holding the 4 segments' samples.
    let mut sum = new_histogram();
    let mut iter_sum = new_histogram();
    for s in &segments {
        sum.add(decode_histogram(&s.histograms.overall).unwrap())
            .unwrap();
        iter_sum
            .add(decode_histogram(&s.histograms.iterations).unwrap())
            .unwrap();
    }
    assert_eq!(decode_histogram(&merged.histograms.overall).unwrap(), sum);
    assert_eq!(merged.totals.latency_ms, LatencySummary::of(&sum));
    assert_eq!(merged.steps[0].latency_ms, LatencySummary::of(&sum));
    assert_eq!(
        merged.totals.iteration_latency_ms,
        LatencySummary::of(&iter_sum)
    );

    // Timelines line up by t (whole seconds from the shared start) and add up.
    let timeline_requests: u64 = merged
        .timeline
        .iter()
        .map(|p| decode_histogram(&p.hdr).unwrap().len())
        .sum();
    assert_eq!(timeline_requests, 200);
    for p in &merged.timeline[..merged.timeline.len() - 1] {
        assert_eq!(p.t.fract(), 0.0, "{:?}", merged.timeline);
    }
    let full = merged.timeline.iter().filter(|p| p.t == 2.0).count();
    assert_eq!(full, 1);
    let second = merged.timeline.iter().find(|p| p.t == 2.0).unwrap();
    assert!((second.rps - 40.0).abs() <= 2.0, "{second:?}");
}

#[test]
fn unique_rows_are_split_between_segments_and_never_used_twice() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("email,name\n");
    for i in 0..100 {
        csv.push_str(&format!("seg-user-{i}@example.com,User {i}\n"));
    }
    std::fs::write(dir.path().join("users.csv"), csv).unwrap();
    let scenario = dir.path().join("register.yaml");
    std::fs::write(
        &scenario,
        r#"version: 1
name: register
vars:
  base_url: http://127.0.0.1:8080
data:
  users: {csv: users.csv, pick: unique}
scenarios:
  - name: register
    steps:
      - name: register
        request:
          method: POST
          url: "{{ base_url }}/auth/register"
          json: {email: "{{ users.email }}", password: "SecurePass123!", name: "{{ users.name }}"}
        check:
          - status: 201
"#,
    )
    .unwrap();
    let base = ["--base-url".to_string(), shop.base_url()];
    let files = run_segments(
        dir.path(),
        &scenario,
        4,
        &["--vus", "8", "--iterations", "100"],
        |_| base.to_vec(),
    );
    for f in &files {
        assert_eq!(read(f).totals.iterations, 25);
    }
    let (_, merged) = merge(dir.path(), &files);
    assert_eq!(merged.totals.iterations, 100);
    assert_eq!(merged.totals.failed_requests, 0, "{:?}", merged.errors);
    assert!(!merged.errors.contains_key("http_409"));
    assert_eq!(shop.shop.stats().users, 100);
}

/// A tiny HTTP/1.1 server answering 200 to everything and recording request targets.
fn recording_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h == "\r\n" || h == "\n" {
                            break;
                        }
                    }
                    log.lock().unwrap().push(target);
                    if stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[test]
fn closed_model_splits_iterations_exactly_and_vu_numbers_are_global() {
    let (url, seen) = recording_server();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("vus.yaml");
    std::fs::write(
        &scenario,
        r#"version: 1
name: vus
vars:
  base_url: http://127.0.0.1:8080
  seg: none
scenarios:
  - name: hit
    steps:
      - name: hit
        request: {url: "{{ base_url }}/hit?vu={{ vu }}&seg={{ seg }}"}
        check:
          - status: 200
"#,
    )
    .unwrap();
    let files = run_segments(
        dir.path(),
        &scenario,
        3,
        &["--vus", "10", "--iterations", "100", "--base-url", &url],
        |i| vec!["--var".into(), format!("seg={i}")],
    );
    let per_segment: Vec<u64> = files.iter().map(|f| read(f).totals.iterations).collect();
    assert_eq!(per_segment, [34, 33, 33]);

    let mut vus_of: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut hits_of: BTreeMap<String, u64> = BTreeMap::new();
    for target in seen.lock().unwrap().iter() {
        let q = target.split_once('?').unwrap().1;
        let mut vu = 0;
        let mut seg = String::new();
        for kv in q.split('&') {
            match kv.split_once('=') {
                Some(("vu", v)) => vu = v.parse().unwrap(),
                Some(("seg", s)) => seg = s.to_string(),
                _ => {}
            }
        }
        vus_of.entry(seg.clone()).or_default().insert(vu);
        *hits_of.entry(seg).or_default() += 1;
    }
    assert_eq!(hits_of.values().copied().collect::<Vec<_>>(), [34, 33, 33]);
    // Global VU g belongs to segment g mod 3: vu = g + 1.
    let want = |i: u64| -> BTreeSet<u64> { (1..=10).filter(|v| (v - 1) % 3 == i).collect() };
    assert_eq!(vus_of["0"], want(0));
    assert_eq!(vus_of["1"], want(1));
    assert_eq!(vus_of["2"], want(2));
    let all: BTreeSet<u64> = vus_of.values().flatten().copied().collect();
    assert_eq!(all, (1..=10).collect());

    let (_, merged) = merge(dir.path(), &files);
    assert_eq!(merged.totals.iterations, 100);
    assert_eq!(merged.merged_segments, ["0/3", "1/3", "2/3"]);
}

#[test]
fn segments_come_from_the_environment_and_results_can_be_printed_last() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let scenario = fixture("run/health.yaml");
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut c = throng();
        c.arg("run")
            .arg(&scenario)
            .args(["--quiet", "--print-results", "--base-url", &shop.base_url()])
            .args(["--vus", "4", "--iterations", "10"])
            .args(args)
            .env_remove("THRONG_SEGMENT")
            .env_remove("JOB_COMPLETION_INDEX");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let last_line = |o: &Output| -> RunResults {
        let text = String::from_utf8_lossy(&o.stdout);
        let line = text
            .trim_end()
            .lines()
            .last()
            .unwrap_or_default()
            .to_string();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {text}"))
    };

    let o = run(&[("JOB_COMPLETION_INDEX", "1")], &["--segments", "2"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = last_line(&o);
    assert_eq!(r.segment.as_deref(), Some("1/2"));
    assert_eq!(r.totals.iterations, 5);

    let o = run(&[("THRONG_SEGMENT", "0/3")], &[]);
    let r = last_line(&o);
    assert_eq!(r.segment.as_deref(), Some("0/3"));
    assert_eq!(r.totals.iterations, 4);

    // --segments without the index, a bad segment, disagreeing flags: bad input.
    for (envs, args) in [
        (vec![], vec!["--segments", "2"]),
        (vec![], vec!["--segment", "2/2"]),
        (vec![("THRONG_SEGMENT", "0/3")], vec!["--segments", "2"]),
        (vec![], vec!["--segment", "0/2", "--start-at", "yesterday"]),
        // 4 VUs cannot share iterations over 5 segments.
        (vec![], vec!["--segment", "0/5"]),
    ] {
        let o = run(&envs, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&o.stderr).is_empty());
    }

    // --start-at in RFC 3339 waits, and says so unless --quiet.
    let at = SystemTime::now() + Duration::from_millis(1200);
    let o = throng()
        .arg("run")
        .arg(&scenario)
        .args(["--base-url", &shop.base_url(), "--start-at"])
        .arg(throng_runner::rfc3339(at))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(SystemTime::now() >= at);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("waiting"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
