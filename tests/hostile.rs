//! A run against a target that misbehaves in every way we know keeps going, puts each failure
//! in the right category, respects its timeouts and the body-size cap, stays within a memory
//! bound, and writes a complete results file.
//!
//! The hostile server below is plain TCP on loopback, so it can break HTTP in ways a real
//! server framework would not let it: resets, garbage, silence, one byte a second, a 2 GB
//! body, broken chunked encoding, endless redirects and 10,000 cookies.

#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A thread per connection; everything stops when the test drops the server.
struct Hostile {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn hostile() -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    thread::spawn(move || {
        for conn in listener.incoming() {
            if flag.load(Ordering::Relaxed) {
                return;
            }
            let Ok(conn) = conn else { continue };
            let flag = flag.clone();
            thread::spawn(move || serve(conn, &flag));
        }
    });
    Hostile { port, stop }
}

/// Reads one request head; returns its path, or None when the client went away.
fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf).ok()?;
        if n == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    Some(line.split_whitespace().nth(1)?.to_string())
}

fn serve(mut conn: TcpStream, stop: &AtomicBool) {
    while let Some(path) = read_head(&mut conn) {
        let keep_going = respond(&mut conn, &path, stop);
        if !keep_going {
            return;
        }
    }
}

/// Answers one request; false when the connection is finished with.
fn respond(conn: &mut TcpStream, path: &str, stop: &AtomicBool) -> bool {
    match path {
        "/ok" => conn
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .is_ok(),
        "/reset" => {
            // SO_LINGER 0: close sends RST instead of FIN.
            let _ = socket_linger_zero(conn);
            false
        }
        "/garbage" => {
            let _ = conn.write_all(b"\x00\xffthis is not HTTP at all\r\n\r\n\x01\x02");
            false
        }
        "/silent" => {
            while !stop.load(Ordering::Relaxed) {
                let mut b = [0u8; 1];
                if matches!(conn.read(&mut b), Ok(0) | Err(_)) {
                    break;
                }
            }
            false
        }
        "/slow" => {
            for b in b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok" {
                if stop.load(Ordering::Relaxed) || conn.write_all(&[*b]).is_err() {
                    return false;
                }
                thread::sleep(Duration::from_secs(1));
            }
            false
        }
        "/huge" => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2147483648\r\n\r\n");
            let chunk = vec![b'x'; 64 * 1024];
            let mut sent = 0u64;
            while sent < 2 << 30 && conn.write_all(&chunk).is_ok() {
                sent += chunk.len() as u64;
            }
            false
        }
        "/bad-chunked" => {
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\nzz-not-hex\r\n",
            );
            false
        }
        "/cookies" => {
            let mut head = String::from("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n");
            for i in 0..10_000 {
                head.push_str(&format!("set-cookie: c{i}={i}; Path=/\r\n"));
            }
            head.push_str("\r\nok");
            conn.write_all(head.as_bytes()).is_ok()
        }
        p if p.starts_with("/redirect/") => {
            let n: u64 = p["/redirect/".len()..].parse().unwrap_or(0);
            conn.write_all(
                format!(
                    "HTTP/1.1 302 Found\r\nlocation: /redirect/{}\r\ncontent-length: 0\r\n\r\n",
                    n + 1
                )
                .as_bytes(),
            )
            .is_ok()
        }
        _ => conn
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            .is_ok(),
    }
}

fn socket_linger_zero(conn: &TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        l_onoff: i32,
        l_linger: i32,
    }
    let l = Linger {
        l_onoff: 1,
        l_linger: 0,
    };
    extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, val: *const Linger, len: u32) -> i32;
    }
    const SOL_SOCKET: i32 = 1;
    const SO_LINGER: i32 = 13;
    // SAFETY: a valid fd owned by `conn` and a correctly sized struct linger.
    let rc = unsafe {
        setsockopt(
            conn.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            &l,
            std::mem::size_of::<Linger>() as u32,
        )
    };
    let _ = conn.shutdown(Shutdown::Read);
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[test]
fn every_misbehaviour_is_survived_and_categorized() {
    let server = hostile();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/run/hostile.yaml");
    let started = Instant::now();
    // GNU time reports the peak RSS; the run must not hold a 2 GB body in memory.
    let o = Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kb=%M"])
        .arg(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(&scenario)
        .args([
            "--base-url",
            &format!("http://127.0.0.1:{}", server.port),
            "--vus",
            "2",
            "--iterations",
            "4",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("/usr/bin/time (GNU time) runs throng");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The scenario has no thresholds, so failures alone do not make the exit code 1.
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let rss_kb: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .expect("GNU time printed the peak RSS");
    assert!(rss_kb < 200 * 1024, "peak RSS {rss_kb} KB");
    // Four iterations over two VUs: each VU waits out two timeouts (2 s) per iteration, and
    // the one-byte-a-second step is cut by its timeout too.
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");

    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("results written"))
            .expect("results are valid JSON");
    let step = |name: &str| {
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("step {name} in results: {r:#}"))
            .clone()
    };
    let expect = [
        ("reset", "connect"),
        ("garbage", "protocol"),
        ("never answers", "timeout"),
        ("one byte per second", "timeout"),
        ("2 GB body", "body_too_large"),
        ("bad chunked", "protocol"),
        ("endless redirects", "too_many_redirects"),
        ("10000 cookies", "protocol"),
    ];
    // Collected, so one run shows every miscategorized step at once.
    let mut wrong = Vec::new();
    for (name, category) in expect {
        let s = step(name);
        if s["requests"] != 4 || s["failed"] != 4 || s["errors"][category] != 4 {
            wrong.push(format!(
                "{name}: expected 4 of 4 failed as {category}, got \
                 {} of {} failed, errors {}, failures {}",
                s["failed"], s["requests"], s["errors"], s["failures"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Failed requests have no latency of their own (latency is of successful requests), so
    // the timeouts are judged by the iterations: two steps may take their 2 s each, the
    // rest fail at once.
    let iteration_max = r["totals"]["iteration_latency_ms"]["max"].as_f64().unwrap();
    assert!(
        iteration_max < 7_000.0,
        "an iteration took {iteration_max} ms"
    );
    let healthy = step("still healthy");
    assert_eq!(healthy["requests"], 4, "{healthy:#}");
    assert_eq!(healthy["failed"], 0, "{healthy:#}");
    assert_eq!(r["totals"]["iterations"], 4);
}
