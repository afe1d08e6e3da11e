//! Library-level runs against the in-process shop and tiny local servers.

use std::path::Path;

use throng_ir::LoadSpec;
use throng_runner::{run, RunOptions, Stopper};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn shop_journey_library_run() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let plan = throng_ir::load(&fixture("scenarios/shop-journey.yaml")).unwrap();
    let opts = RunOptions {
        base_url: Some(shop.base_url()),
        load: LoadSpec {
            vus: Some(20),
            iterations: Some(200),
            ..Default::default()
        },
        no_think: true,
        quiet: true,
        ..Default::default()
    };
    let r = rt().block_on(run(plan, opts, Stopper::new())).unwrap();
    println!("{}", r.summary());
    assert_eq!(r.totals.iterations, 200);
    assert_eq!(r.totals.requests, 2000);
    assert_eq!(r.totals.failed_requests, 0, "{:?}", r.errors);
    assert_eq!(r.connections.opened, 20);
    let stats = shop.shop.stats();
    assert_eq!(stats.orders, 200);
    assert_eq!(stats.distinct_order_users, 200);
    assert_eq!(r.exit_code(), 0);
}

/// A minimal HTTP/1.1 server: `/login` redirects to `/home` setting a cookie, `/home` echoes
/// the request's Cookie header. Keep-alive, one request at a time per connection.
fn cookie_server() -> (String, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        for stream in listener.incoming().take(8) {
            let Ok(stream) = stream else { break };
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                for _ in 0..50 {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let mut cookie = String::new();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h == "\r\n" {
                            break;
                        }
                        if let Some(v) = h.strip_prefix("cookie: ") {
                            cookie = v.trim().to_string();
                        }
                    }
                    let resp = if path == "/login" {
                        "HTTP/1.1 302 Found\r\nlocation: /home\r\nset-cookie: session=abc; Path=/\r\ncontent-length: 0\r\n\r\n".to_string()
                    } else {
                        let body = format!("cookie=[{cookie}]");
                        format!("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}", body.len())
                    };
                    if out.write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
            if std::time::Instant::now() > deadline {
                break;
            }
        }
    });
    (url, h)
}

#[test]
fn cookies_and_redirects_per_iteration() {
    let (url, _server) = cookie_server();
    let yaml = r#"
version: 1
name: cookies
vars: {base_url: "http://127.0.0.1:1"}
scenarios:
  - name: s
    steps:
      - name: fresh jar
        request: {url: "{{ base_url }}/home"}
        check:
          - {body_contains: "cookie=[]"}
      - name: login no follow
        request: {url: "{{ base_url }}/login"}
        follow_redirects: false
        extract:
          next: {header: location}
          session: {cookie: session}
        check:
          - status: 302
      - name: login follow
        request: {url: "{{ base_url }}/login"}
        check:
          - status: 200
          - {body_contains: "cookie=[session={{ session }}]"}
      - name: next page
        request: {url: "{{ base_url }}{{ next }}"}
        extract:
          echoed: {regex: 'cookie=\[([^\]]*)\]'}
        check:
          - {body_matches: "session=abc"}
"#;
    let plan = throng_ir::load_str(yaml, "cookies.yaml", Path::new(".")).unwrap();
    let opts = RunOptions {
        base_url: Some(url),
        load: LoadSpec {
            vus: Some(1),
            iterations: Some(3),
            ..Default::default()
        },
        quiet: true,
        ..Default::default()
    };
    let r = rt().block_on(run(plan, opts, Stopper::new())).unwrap();
    assert_eq!(r.totals.failed_requests, 0, "{}", r.summary());
    assert_eq!(r.totals.requests, 12);
    assert_eq!(r.totals.iterations, 3);
    assert_eq!(r.connections.opened, 1);
}
