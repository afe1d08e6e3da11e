//! Latency honesty: a server that freezes for one second during a ten-second run.
//!
//! At 200 iterations/s the open model keeps its schedule, so about 200 iterations are due
//! while the server is frozen and each waits for it: measured from its intended start, the
//! iteration p99 shows the stall (at least 800 ms, as wrk2 reports it). A closed model with
//! two VUs sends nothing new while they wait, so only a couple of requests see the stall: its
//! request service-time p99 stays low (coordinated omission) while the max still shows the
//! freeze, and the results keep the two figures apart.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// When the freeze happens, counted from the first request the server sees.
const FREEZE_AT: Duration = Duration::from_secs(3);
const FREEZE_FOR: Duration = Duration::from_secs(1);

/// A keep-alive HTTP/1.1 server on loopback that answers `ok`, except that every request
/// arriving in the freeze window is answered only when the window ends.
fn freezing_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let first: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let first = first.clone();
            thread::spawn(move || serve(conn, &first));
        }
    });
    port
}

fn serve(mut conn: TcpStream, first: &Mutex<Option<Instant>>) {
    let _ = conn.set_nodelay(true);
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = conn.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            let now = Instant::now();
            let origin = *first.lock().unwrap().get_or_insert(now);
            let (from, to) = (origin + FREEZE_AT, origin + FREEZE_AT + FREEZE_FOR);
            if now >= from && now < to {
                thread::sleep(to - now);
            }
            if conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .is_err()
            {
                return;
            }
        }
    }
}

fn run(port: u16, load: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/run/health.yaml");
    let o = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(&scenario)
        .args(["--base-url", &format!("http://127.0.0.1:{port}")])
        .args(load)
        .args(["--duration", "10s", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

fn ms(r: &serde_json::Value, path: &[&str]) -> f64 {
    path.iter()
        .fold(r, |v, k| &v[*k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path:?} in {r:#}"))
}

#[test]
fn the_open_model_reports_the_stall_in_its_p99() {
    let port = freezing_server();
    let r = run(port, &["--rate", "200/s", "--max-vus", "400"]);
    let iterations = r["totals"]["iterations"].as_u64().unwrap();
    assert!((1900..=2010).contains(&iterations), "{iterations}: {r:#}");
    assert_eq!(r["totals"]["dropped_iterations"], 0, "{r:#}");
    let p99 = ms(&r, &["totals", "iteration_latency_ms", "p99"]);
    assert!(
        p99 >= 800.0,
        "open-model iteration p99 {p99} ms hides the 1 s stall"
    );
    let max = ms(&r, &["totals", "iteration_latency_ms", "max"]);
    assert!((900.0..1500.0).contains(&max), "max {max} ms");
}

#[test]
fn the_closed_model_keeps_service_time_apart() {
    let port = freezing_server();
    let r = run(port, &["--vus", "2"]);
    let service_p99 = ms(&r, &["totals", "latency_ms", "p99"]);
    let service_max = ms(&r, &["totals", "latency_ms", "max"]);
    // Two VUs, so at most two requests wait out the freeze among thousands.
    assert!(
        service_p99 < 100.0,
        "closed-model service p99 {service_p99} ms (coordinated omission makes it low)"
    );
    assert!(
        service_max >= 900.0,
        "the freeze still shows in the max: {service_max} ms"
    );
    let iteration_p99 = ms(&r, &["totals", "iteration_latency_ms", "p99"]);
    assert!(iteration_p99 < 100.0, "{iteration_p99}");
}
