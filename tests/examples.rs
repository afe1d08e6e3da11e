//! The e-commerce test-plan library in `examples/`: every file validates, and every file
//! runs clean for a few seconds against the in-process demo shop.
//!
//! `THRONG_EXAMPLES=02,flash` limits the run test to examples whose file name contains
//! one of the comma-separated parts (handy when tuning a single example).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn throng() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_throng"));
    c.current_dir(root());
    c
}

/// `examples/*.yaml`, as paths relative to the repository root, sorted.
fn examples() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("examples"))
        .expect("examples/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            format!(
                "examples/{}",
                p.file_name().expect("name").to_string_lossy()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_example_validates() {
    let files = examples();
    assert!(
        files.len() >= 17,
        "expected the whole library, found {files:?}"
    );
    for f in &files {
        let out = throng()
            .arg("validate")
            .arg(f)
            .output()
            .expect("run throng validate");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{f}:\n{stdout}{stderr}");
        assert!(
            stdout.contains(&format!("ok {f} (")),
            "{f}: expected an `ok` line, got:\n{stdout}{stderr}"
        );
    }
}

#[test]
fn users_csv_matches_seeded_shop() {
    // examples/data/users.csv must be exactly what `throng shop --seed-users 1000` writes,
    // or the login steps of 03-auth, 11-mixed-traffic and 12-soak would fail.
    let csv = std::fs::read_to_string(root().join("examples/data/users.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1001, "header + 1000 users");
    assert_eq!(lines[0], "email,password,name");
    assert_eq!(lines[1], "user1@example.com,Password1!,User 1");
    assert_eq!(lines[1000], "user1000@example.com,Password1000!,User 1000");
}

/// How each example is shortened for the test: the file's own load with these flags on top.
/// A fixed seed per file fixes its scenario mix (a threshold scoped to a scenario that a
/// short run happened not to pick would fail as `no data`), and differs between files so
/// that their `uuid()`s do not collide on the one shop they share.
fn run_flags(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let seed = file
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    let mut flags: Vec<String> = if text.contains("shape: !") {
        // A traffic shape: keep the file's shape and model, and run only its first seconds
        // (the start level: spike base, first step, daily night, ...).
        vec!["--duration".into(), "3s".into()]
    } else {
        vec![
            "--rate".into(),
            "20/s".into(),
            "--duration".into(),
            "3s".into(),
        ]
    };
    flags.extend(["--seed".to_string(), seed.to_string()]);
    flags
}

/// Failed requests an example is expected to produce (none: expected error statuses,
/// such as 10-error-handling's 404/500/503, are asserted by `status:` checks and pass).
fn expected_failures(_file: &str) -> u64 {
    0
}

/// Runs one example against `base_url`; Err holds a readable report.
fn run_example(file: &str, base_url: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let flags = run_flags(file);
    let started = Instant::now();
    let output = throng()
        .arg("run")
        .arg(file)
        .args(["--base-url", base_url])
        .args(&flags)
        .args(["--quiet", "--no-think"])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run throng run");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let ctx = || format!("{file} ({flags:?}, {took:.1?}):\nstdout:\n{stdout}\nstderr:\n{stderr}");
    if output.status.code() != Some(0) {
        return Err(format!("exit {:?}: {}", output.status.code(), ctx()));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("no results ({e}): {}", ctx()))?;
    let r: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("bad results json ({e}): {}", ctx()))?;
    let t = &r["totals"];
    let requests = t["requests"].as_u64().unwrap_or(0);
    let failed = t["failed_requests"].as_u64().unwrap_or(u64::MAX);
    if requests == 0 {
        return Err(format!("no requests made: {}", ctx()));
    }
    if failed != expected_failures(file) {
        return Err(format!(
            "{failed} failed requests (expected {}), errors {}: {}",
            expected_failures(file),
            r["errors"],
            ctx()
        ));
    }
    if let Some(bad) = r["thresholds"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["ok"] == false))
    {
        return Err(format!("threshold breached {bad}: {}", ctx()));
    }
    Ok(format!(
        "{file}: {requests} requests, {} iterations, 0 failed, {took:.1?}",
        t["iterations"]
    ))
}

#[test]
fn every_example_runs_clean_against_the_shop() {
    let filter: Vec<String> = std::env::var("THRONG_EXAMPLES")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let files: Vec<String> = examples()
        .into_iter()
        .filter(|f| filter.is_empty() || filter.iter().any(|p| f.contains(p.as_str())))
        .collect();
    // One shop for all: every example that writes registers its own users, and the login
    // pool (users.csv) tolerates concurrent logins, so sharing is safe.
    let shop = throng_shop::spawn(throng_shop::ShopOptions { seed_users: 1000 });
    let base_url = shop.base_url();

    // Two runs at a time keeps the whole library around half a minute on two cores.
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(String, Result<String, String>)>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(file) = files.get(i) else { break };
                let r = run_example(file, &base_url);
                results.lock().unwrap().push((file.clone(), r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(results.len(), files.len());
    for (_, r) in &results {
        if let Ok(line) = r {
            eprintln!("ok {line}");
        }
    }
    let failures: Vec<&String> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} examples failed:\n\n{}",
        failures.len(),
        results.len(),
        failures
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    eprintln!("{} examples in {:.1?}", results.len(), started.elapsed());
}
