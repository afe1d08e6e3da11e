//! A green run can be trusted: each way a run once passed while it should have failed, or
//! sent what it should not have, driven through the binary against loopback servers this
//! file starts, judged by what those servers received and by the exit code.
//!
//! The recording server is plain TCP so each test controls the exact bytes of a response
//! (a `Set-Cookie` with an absurd `Max-Age`, a gzip body, a `Location` with dot segments)
//! and sees the exact request that arrived (headers, body, byte count).

#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Route = dyn Fn(&Seen) -> Vec<u8> + Send + Sync;

/// A keep-alive HTTP/1.1 server on loopback that answers through `route` and keeps every
/// request it read; it stops when dropped.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Bytes read from clients, heads and bodies.
    bytes_in: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl Server {
    fn start(route: impl Fn(&Seen) -> Vec<u8> + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let bytes_in = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let route: Arc<Route> = Arc::new(route);
        let (s, b, f) = (seen.clone(), bytes_in.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if f.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (s, b, route) = (s.clone(), b.clone(), route.clone());
                thread::spawn(move || serve(conn, &s, &b, &*route));
            }
        });
        Server {
            port,
            seen,
            bytes_in,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn seen_at(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }
}

fn serve(mut conn: TcpStream, seen: &Mutex<Vec<Seen>>, bytes_in: &AtomicU64, route: &Route) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(20)));
    let mut buf = Vec::new();
    loop {
        let Some(end) = read_until_head(&mut conn, &mut buf) else {
            return;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut rest = buf.split_off(end + 4);
        while rest.len() < len {
            let mut chunk = [0u8; 8192];
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
            }
        }
        buf = rest.split_off(len);
        bytes_in.fetch_add((end + 4 + len) as u64, Ordering::Relaxed);
        let req = Seen {
            method,
            path,
            headers,
            body: rest,
        };
        let response = route(&req);
        seen.lock().unwrap().push(req);
        if conn.write_all(&response).is_err() {
            return;
        }
    }
}

/// Reads into `buf` until it holds a whole request head; the index of its `\r\n\r\n`.
fn read_until_head(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(i);
        }
        let mut chunk = [0u8; 8192];
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A response with `extra` header lines (each ending in `\r\n`) and a body.
fn response(status: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{extra}content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn ok(body: &str) -> Vec<u8> {
    response("200 OK", "content-type: text/plain\r\n", body.as_bytes())
}

/// Writes `yaml` as a scenario in a fresh folder.
fn scenario(yaml: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, yaml).unwrap();
    (dir, path)
}

/// `throng run FILE ARGS.. --quiet --out DIR/r.json`: the process output and the results.
fn run(file: &Path, args: &[&str], env: &[(&str, &str)]) -> (Output, serde_json::Value) {
    let out = file.with_file_name("r.json");
    let o = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(file)
        .args(args)
        .args(["--quiet", "--out"])
        .arg(&out)
        .envs(env.iter().copied())
        .output()
        .expect("throng runs");
    let results = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (o, results)
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_panic_fails_its_iteration_the_vu_goes_on_and_the_run_exits_3() {
    let server = Server::start(|_| ok("fine"));
    let (_dir, file) = scenario(&format!(
        "version: 1\nname: crash\nscenarios:\n  - name: s\n    steps:\n      \
         - {{name: before, request: {{url: \"{0}/a\"}}}}\n      \
         - {{name: boom, request: {{url: \"{0}/b\"}}}}\n      \
         - {{name: after, request: {{url: \"{0}/c\"}}}}\n",
        server.url()
    ));
    let (o, r) = run(
        &file,
        &["--vus", "2", "--iterations", "10"],
        &[("THRONG_TEST_PANIC_STEP", "boom")],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    // Every iteration ran (the VUs survived their panics), each ending at the panic.
    assert_eq!(r["totals"]["iterations"], 10, "{r:#}");
    assert_eq!(r["totals"]["failed_iterations"], 10, "{r:#}");
    assert_eq!(r["errors"]["internal"], 10, "{r:#}");
    assert_eq!(server.seen_at("/a").len(), 10);
    assert!(server.seen_at("/b").is_empty() && server.seen_at("/c").is_empty());
    let boom = &r["steps"][1];
    assert!(
        boom["failures"][0]["message"]
            .as_str()
            .unwrap()
            .contains("throng panicked in step `boom`"),
        "{boom:#}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("FAILED: throng itself failed 10 time(s)"),
        "{stdout}"
    );
}

#[test]
fn a_huge_max_age_is_clamped_not_a_panic() {
    let server = Server::start(|req| {
        match req.path.as_str() {
        "/set" => response(
            "200 OK",
            "set-cookie: big=1; Max-Age=9223372036854775807\r\nset-cookie: bigger=2; Max-Age=99999999999999999999999\r\nset-cookie: far=3; Expires=Fri, 31 Dec 9999 23:59:59 GMT\r\n",
            b"set",
        ),
        _ => ok("seen"),
    }
    });
    let (_dir, file) = scenario(&format!(
        "version: 1\nname: cookies\nscenarios:\n  - name: s\n    steps:\n      \
         - {{name: set, request: {{url: \"{0}/set\"}}, check: [{{status: 200}}]}}\n      \
         - {{name: echo, request: {{url: \"{0}/echo\"}}, check: [{{status: 200}}]}}\n",
        server.url()
    ));
    let (o, r) = run(&file, &["--vus", "2", "--iterations", "6"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
    assert_eq!(r["totals"]["requests"], 12, "{r:#}");
    assert_eq!(r["totals"]["failed_requests"], 0, "{r:#}");
    let echoes = server.seen_at("/echo");
    assert_eq!(echoes.len(), 6);
    for e in echoes {
        let cookie = e.header("cookie").unwrap_or_default();
        for c in ["big=1", "bigger=2", "far=3"] {
            assert!(cookie.contains(c), "{c} in {cookie:?}");
        }
    }
}

#[test]
fn a_run_where_every_connect_is_refused_fails_with_no_data() {
    // A port nothing listens on: bind one, note it, close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_dir, file) = scenario(&format!(
        "version: 1\nname: refused\nscenarios:\n  - name: s\n    steps:\n      \
         - {{name: home, request: {{url: \"http://127.0.0.1:{port}/\", method: POST, body: \"{}\"}}}}\n\
         thresholds:\n  - p95 < 500ms\n  - error_rate < 100%\n",
        "x".repeat(2000)
    ));
    let (o, r) = run(&file, &["--vus", "2", "--iterations", "20"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(r["totals"]["requests"], 20, "{r:#}");
    assert_eq!(r["totals"]["failed_requests"], 20, "{r:#}");
    // Nothing reached a socket, so nothing was sent.
    assert_eq!(r["totals"]["bytes_sent"], 0, "{r:#}");
    assert_eq!(r["connections"]["opened"], 0, "{r:#}");
    let p95 = &r["thresholds"][0];
    assert_eq!(p95["ok"], false, "{r:#}");
    assert!(p95["actual"].is_null(), "{p95}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("FAIL p95 < 500ms  (actual no data)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILED: no request succeeded: all 20 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("successful requests only, 0 of 20"),
        "{stdout}"
    );
}

#[test]
fn bytes_sent_are_the_bytes_the_server_read() {
    let server = Server::start(|_| ok("fine"));
    let (_dir, file) = scenario(&format!(
        "version: 1\nname: bytes\nscenarios:\n  - name: s\n    steps:\n      \
         - {{name: a, request: {{url: \"{0}/a?q={{{{ vu }}}}\", headers: {{x-n: \"{{{{ iteration }}}}\"}}}}}}\n      \
         - {{name: b, request: {{url: \"{0}/b\", method: POST, json: {{k: \"{{{{ uuid() }}}}\"}}}}}}\n",
        server.url()
    ));
    let (o, r) = run(&file, &["--vus", "3", "--iterations", "30"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        r["totals"]["bytes_sent"].as_u64(),
        Some(server.bytes_in.load(Ordering::Relaxed)),
        "{r:#}"
    );
}

/// Two origins: `/go*` on the first redirects to the second, which records what arrived.
#[test]
fn redirects_behave_as_browsers_and_curl_do() {
    let other = Server::start(|_| ok("landed"));
    let other_url = other.url();
    let first = Server::start(move |req| match req.path.as_str() {
        "/go-away" => response(
            "302 Found",
            &format!("location: {other_url}/landed\r\n"),
            b"",
        ),
        "/a/b/go-relative" => response("302 Found", "location: ../c/./d/../e?x=1\r\n", b""),
        "/post-302" => response("302 Found", "location: /after-302\r\n", b""),
        "/post-303" => response("303 See Other", "location: /after-303\r\n", b""),
        "/post-307" => response("307 Temporary Redirect", "location: /after-307\r\n", b""),
        "/post-308" => response("308 Permanent Redirect", "location: /after-308\r\n", b""),
        _ => ok("here"),
    });
    let step = |name: &str, path: &str, method: &str| {
        format!(
            "      - name: {name}\n        request:\n          url: \"{}{path}\"\n          \
             method: {method}\n          headers: {{authorization: \"Bearer s3cret\", proxy-authorization: \"Basic cHJveHk=\", cookie: \"mine=1\"}}\n          \
             body: \"the body\"\n        check: [{{status: 200}}]\n",
            first.url()
        )
    };
    let mut yaml =
        String::from("version: 1\nname: redirects\nscenarios:\n  - name: s\n    steps:\n");
    for (name, path, method) in [
        ("cross origin", "/go-away", "POST"),
        ("relative", "/a/b/go-relative", "PUT"),
        ("302 after POST", "/post-302", "POST"),
        ("303 after PUT", "/post-303", "PUT"),
        ("307 after POST", "/post-307", "POST"),
        ("308 after POST", "/post-308", "POST"),
    ] {
        yaml.push_str(&step(name, path, method));
    }
    let (_dir, file) = scenario(&yaml);
    let (o, r) = run(&file, &["--vus", "1", "--iterations", "2"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(r["totals"]["failed_requests"], 0, "{r:#}");

    // The other origin got neither credential nor the step's own cookie, and a GET.
    let landed = other.seen_at("/landed");
    assert_eq!(landed.len(), 2);
    for l in &landed {
        assert_eq!(l.method, "GET", "{l:?}");
        assert!(l.body.is_empty(), "{l:?}");
        for h in [
            "authorization",
            "proxy-authorization",
            "cookie",
            "content-type",
        ] {
            assert!(l.header(h).is_none(), "{h} reached the other origin: {l:?}");
        }
        assert_eq!(l.header("host"), Some(&other.url()["http://".len()..]));
    }
    let seen = |path: &str| {
        let s = first.seen_at(path);
        assert_eq!(s.len(), 2, "{path}: {:?}", first.seen());
        s[0].clone()
    };
    // Same origin: credentials kept; dot segments resolved by RFC 3986.
    let rel = seen("/a/c/e?x=1");
    assert_eq!(rel.method, "PUT");
    assert_eq!(rel.body, b"the body");
    assert_eq!(rel.header("authorization"), Some("Bearer s3cret"));
    for (path, method, body) in [
        ("/after-302", "GET", &b""[..]),
        ("/after-303", "GET", b""),
        ("/after-307", "POST", b"the body"),
        ("/after-308", "POST", b"the body"),
    ] {
        let s = seen(path);
        assert_eq!(s.method, method, "{path}: {s:?}");
        assert_eq!(s.body, body, "{path}: {s:?}");
        assert_eq!(
            s.header("content-length").is_some(),
            !body.is_empty(),
            "{s:?}"
        );
        assert_eq!(s.header("authorization"), Some("Bearer s3cret"), "{s:?}");
    }
}

#[test]
fn cookies_follow_rfc_6265bis() {
    let server = Server::start(|req| {
        match req.path.as_str() {
        "/login" => response(
            "200 OK",
            "set-cookie: sid=abc; Path=/\r\nset-cookie: q=\"v1\"; Path=/\r\nset-cookie: sec=1; Secure; Path=/\r\n",
            b"in",
        ),
        "/logout" => response(
            "200 OK",
            "set-cookie: sid=; Expires=Thu, 01-Jan-1970 00:00:00 GMT; Path=/\r\n",
            b"out",
        ),
        _ => ok("seen"),
    }
    });
    let (_dir, file) = scenario(&format!(
        "version: 1\nname: jar\nscenarios:\n  - name: s\n    steps:\n      \
         - {{name: login, request: {{url: \"{0}/login\"}}}}\n      \
         - {{name: in, request: {{url: \"{0}/in\"}}}}\n      \
         - {{name: logout, request: {{url: \"{0}/logout\"}}}}\n      \
         - {{name: out, request: {{url: \"{0}/out\"}}}}\n",
        server.url()
    ));
    let (o, _) = run(&file, &["--vus", "1", "--iterations", "2"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for s in server.seen_at("/in") {
        let c = s.header("cookie").unwrap_or_default();
        assert!(c.contains("sid=abc"), "{c}");
        // Quoted values go back as they came.
        assert!(c.contains("q=\"v1\""), "{c}");
        // Secure cookies are neither stored from nor sent over plain http.
        assert!(!c.contains("sec="), "{c}");
    }
    for s in server.seen_at("/out") {
        let c = s.header("cookie").unwrap_or_default();
        assert!(
            !c.contains("sid"),
            "the dashed-date Expires deleted sid: {c}"
        );
        assert!(c.contains("q=\"v1\""), "{c}");
    }
}

/// `Domain=com` needs a host name under `.com`: the run goes to `shop.example.com`, which a
/// private mount namespace's /etc/hosts points at 127.0.0.1 (so traffic stays on loopback).
#[test]
fn a_public_suffix_domain_is_refused() {
    let probe = Command::new("unshare")
        .args(["-m", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !probe {
        assert!(
            std::env::var_os("THRONG_REQUIRE_TOOLS").is_none(),
            "unshare -m (util-linux, as root) is needed for this test"
        );
        eprintln!("skipped: unshare -m is not available");
        return;
    }
    let server = Server::start(|req| {
        match req.path.as_str() {
        "/set" => response(
            "200 OK",
            "set-cookie: suffix=1; Domain=com; Path=/\r\nset-cookie: site=1; Domain=example.com; Path=/\r\nset-cookie: host=1; Path=/\r\n",
            b"set",
        ),
        _ => ok("seen"),
    }
    });
    let base = format!("http://shop.example.com:{}", server.port);
    let (dir, file) = scenario(&format!(
        "version: 1\nname: psl\nscenarios:\n  - name: s\n    steps:\n      \
         - {{name: set, request: {{url: \"{base}/set\"}}}}\n      \
         - {{name: echo, request: {{url: \"{base}/echo\"}}}}\n"
    ));
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost shop.example.com\n").unwrap();
    let out = dir.path().join("r.json");
    let o = Command::new("unshare")
        .arg("-m")
        .arg("sh")
        .arg("-c")
        .arg(r#"mount --bind "$1" /etc/hosts && exec "$2" run "$3" --vus 1 --iterations 2 --quiet --out "$4""#)
        .arg("sh")
        .arg(&hosts)
        .arg(env!("CARGO_BIN_EXE_throng"))
        .arg(&file)
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let echoes = server.seen_at("/echo");
    assert_eq!(echoes.len(), 2);
    for e in echoes {
        assert_eq!(e.header("host"), Some(&base["http://".len()..]));
        let c = e.header("cookie").unwrap_or_default();
        assert!(c.contains("site=1") && c.contains("host=1"), "{c}");
        assert!(!c.contains("suffix"), "a Domain=com cookie was kept: {c}");
    }
}

#[test]
fn compressed_bodies_are_decoded_for_checks_and_counted_on_the_wire() {
    let json = format!(
        r#"{{"ok": true, "id": "abc-123", "pad": "{}"}}"#,
        ".".repeat(20_000)
    );
    let json = json.as_bytes();
    let encodings: Vec<(&str, Vec<u8>)> = vec![
        ("gzip", {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(json).unwrap();
            e.finish().unwrap()
        }),
        ("deflate", {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(json).unwrap();
            e.finish().unwrap()
        }),
        ("br", {
            let mut out = Vec::new();
            brotli::CompressorWriter::new(&mut out, 4096, 5, 22)
                .write_all(json)
                .unwrap();
            out
        }),
        ("zstd", zstd::encode_all(json, 3).unwrap()),
    ];
    let wire: u64 = encodings.iter().map(|(_, b)| b.len() as u64).sum();
    let bodies = encodings.clone();
    let server = Server::start(move |req| {
        let coding = req.path.trim_start_matches('/');
        match bodies.iter().find(|(c, _)| *c == coding) {
            Some((c, b)) => response(
                "200 OK",
                &format!("content-type: application/json\r\ncontent-encoding: {c}\r\n"),
                b,
            ),
            None => ok(&String::from_utf8_lossy(&req.path.clone().into_bytes())),
        }
    });
    let mut yaml = String::from("version: 1\nname: codings\nscenarios:\n  - name: s\n    steps:\n");
    for (c, _) in &encodings {
        yaml.push_str(&format!(
            "      - name: {c}\n        request: {{url: \"{0}/{c}\", headers: {{accept-encoding: \"gzip, deflate, br, zstd\"}}}}\n        \
             check: [{{json: $.ok, equals: true}}, {{body_contains: \"abc-123\"}}]\n        \
             extract: {{id_{c}: {{json: $.id}}}}\n      \
             - name: use {c}\n        request: {{url: \"{0}/used/{{{{ id_{c} }}}}\"}}\n",
            server.url()
        ));
    }
    let (_dir, file) = scenario(&yaml);
    let (o, r) = run(&file, &["--vus", "1", "--iterations", "1"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(r["totals"]["failed_requests"], 0, "{r:#}");
    for (c, _) in &encodings {
        assert_eq!(server.seen_at("/used/abc-123").len(), 4, "{c}");
    }
    // Received bytes are the compressed ones: eight heads plus the wire bodies, not the
    // 20 kB JSON four times.
    let received = r["totals"]["bytes_received"].as_u64().unwrap();
    assert!(received > wire, "{received} <= {wire}");
    assert!(
        received < wire + 8 * 200,
        "{received} bytes received for {wire} on the wire: decoded bytes counted"
    );
}

#[test]
fn a_decompression_bomb_is_body_too_large() {
    let bomb = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap()
    };
    let server = Server::start(move |_| {
        response(
            "200 OK",
            "content-type: application/json\r\ncontent-encoding: gzip\r\n",
            &bomb,
        )
    });
    let (_dir, file) = scenario(&format!(
        "version: 1\nname: bomb\nscenarios:\n  - name: s\n    steps:\n      \
         - {{name: bomb, request: {{url: \"{0}/\"}}, check: [{{json: $.x}}]}}\n",
        server.url()
    ));
    let (o, r) = run(&file, &["--vus", "1", "--iterations", "2"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(r["errors"]["body_too_large"], 2, "{r:#}");
}

#[test]
fn unknown_filters_are_load_errors_and_urlencode_works() {
    let (_dir, file) = scenario(
        "version: 1\nname: filters\nvars:\n  q: a b&c\nscenarios:\n  - name: s\n    steps:\n      \
         - name: one\n        request: {url: \"http://127.0.0.1:9/?q={{ q | nosuch }}\"}\n",
    );
    let o = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("s.yaml:9:") && err.contains("unknown filter `nosuch`"),
        "{err}"
    );

    let server = Server::start(|_| ok("fine"));
    let (_dir, file) = scenario(&format!(
        "version: 1\nname: filters\nvars:\n  q: a b&c/é\nscenarios:\n  - name: s\n    steps:\n      \
         - name: one\n        request: {{url: \"{}/search?q={{{{ q | urlencode }}}}\"}}\n",
        server.url()
    ));
    let (o, _) = run(&file, &["--vus", "1", "--iterations", "1"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = server.seen();
    assert_eq!(s[0].path, "/search?q=a%20b%26c/%C3%A9", "{s:?}");
}

#[test]
fn credentials_in_a_url_become_basic_auth_and_never_reach_host() {
    let server = Server::start(|_| ok("fine"));
    let port = server.port;
    let (_dir, file) = scenario(&format!(
        "version: 1\nname: userinfo\nvars:\n  who: bob\nscenarios:\n  - name: s\n    steps:\n      \
         - {{name: literal, request: {{url: \"http://alice:p%40ss@127.0.0.1:{port}/lit\"}}}}\n      \
         - {{name: templated, request: {{url: \"http://{{{{ who }}}}:pw@127.0.0.1:{port}/tpl\"}}}}\n      \
         - {{name: own header wins, request: {{url: \"http://alice:pw@127.0.0.1:{port}/own\", headers: {{authorization: Bearer t}}}}}}\n"
    ));
    let (o, _) = run(&file, &["--vus", "1", "--iterations", "1"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let host = format!("127.0.0.1:{port}");
    for (path, auth) in [
        ("/lit", "Basic YWxpY2U6cEBzcw=="),
        ("/tpl", "Basic Ym9iOnB3"),
        ("/own", "Bearer t"),
    ] {
        let s = &server.seen_at(path)[0];
        assert_eq!(s.header("host"), Some(host.as_str()), "{s:?}");
        assert_eq!(s.header("authorization"), Some(auth), "{s:?}");
    }
}
