//! `throng run --trace` / `--trace-file`, failure explanations, and redaction: secrets and
//! credentials never reach a trace, the results, the reports or the summary.

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

fn step<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name}"))
}

fn first_failure(r: &serde_json::Value, name: &str) -> String {
    step(r, name)["failures"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no failure for {name}: {}", step(r, name)))
        .to_string()
}

fn trace_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn a_broken_scenario_explains_each_failure() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = throng(&[
        "run",
        fixture("run/broken.yaml").to_str().unwrap(),
        "--base-url",
        &shop.base_url(),
        "--vus",
        "1",
        "--iterations",
        "2",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();

    assert_eq!(step(&r, "register")["failed"], 0);
    let dup = first_failure(&r, "register again");
    assert_eq!(
        dup,
        r#"check status 201: got 409 (body: {"error":"email already registered"})"#
    );
    assert_eq!(step(&r, "register again")["failures"][0]["count"], 2);

    let extract = first_failure(&r, "list products");
    assert_eq!(
        extract,
        "extract order_id: $.order_id matched nothing in a 453-byte JSON body whose keys are \
         products, total, page, limit, total_pages"
    );
    assert_eq!(step(&r, "list products")["errors"]["extract"], 2);

    let stale = first_failure(&r, "stale order");
    assert!(
        stale.starts_with("check status 200: got 404 (body: {"),
        "{stale}"
    );
    assert_eq!(step(&r, "stale order")["errors"]["http_404"], 2);

    // The summary shows the same explanations under the failing steps.
    assert!(stdout.contains("failures"), "{stdout}");
    assert!(
        stdout.contains("register again (2 of 2 failed: http_409 2, http_4xx 2):"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("2× {dup}")), "{stdout}");
    assert!(stdout.contains(&format!("2× {extract}")), "{stdout}");
    assert!(stdout.contains("check status 200: got 404"), "{stdout}");
}

#[test]
fn trace_shows_requests_responses_extractions_and_checks() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trace.jsonl");
    let base = shop.base_url();
    let o = throng(&[
        "run",
        fixture("run/broken.yaml").to_str().unwrap(),
        "--base-url",
        &base,
        "--vus",
        "1",
        "--iterations",
        "1",
        "--quiet",
        "--trace",
        "--trace-file",
        file.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let base = base.trim_end_matches('/');
    for want in [
        "step 1 `register` (http)".to_string(),
        format!("> POST {base}/auth/register"),
        "> content-type: application/json".into(),
        r#"> {"email":"broken-"#.into(),
        "< 201".into(),
        "extract user_id = user-".into(),
        "extract token = [redacted:token]".into(),
        "✓ status 201 (got 201)".into(),
        "< 409".into(),
        r#"< {"error":"email already registered"}"#.into(),
        "✗ status 201: got 409".into(),
        format!("> GET {base}/products?limit=2"),
        "✗ extract order_id: $.order_id matched nothing in a 453-byte JSON body".into(),
        format!("> GET {base}/orders/ord-stale-0001"),
        "> authorization: [redacted]".into(),
        "< 404".into(),
        "✗ status 200: got 404".into(),
        "error http_4xx: check status 200: got 404".into(),
    ] {
        assert!(stderr.contains(&want), "missing {want:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("Bearer"), "{stderr}");

    let events = trace_lines(&file);
    assert_eq!(events.len(), 4, "{events:?}");
    let names: Vec<&str> = events.iter().map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["register", "register again", "list products", "stale order"]
    );
    let e = &events[1];
    assert_eq!(e["vu"], 1);
    assert_eq!(e["iteration"], 1);
    assert_eq!(e["scenario"], "broken");
    assert_eq!(e["step_index"], 1);
    assert_eq!(e["request"]["method"], "POST");
    assert_eq!(e["response"]["status"], 409);
    assert_eq!(
        e["response"]["body"]["text"],
        r#"{"error":"email already registered"}"#
    );
    assert_eq!(e["checks"][0]["passed"], false);
    assert_eq!(e["checks"][0]["expected"], "201");
    assert_eq!(e["checks"][0]["actual"], "409");
    assert_eq!(e["failed"], true);
    assert_eq!(e["error"]["category"], "http_4xx");
    let x = &events[2]["extracted"][0];
    assert_eq!(x["name"], "order_id");
    assert!(
        x["error"].as_str().unwrap().contains("matched nothing"),
        "{x}"
    );
    assert_eq!(events[0]["extracted"][0]["value"], "user-1");
    assert_eq!(events[0]["extracted"][1]["value"], "[redacted:token]");
    // The token is scrubbed from the response that carried it.
    let body = events[0]["response"]["body"]["text"].as_str().unwrap();
    assert!(body.contains(r#""token":"[redacted:token]""#), "{body}");
}

#[test]
fn secrets_and_credentials_never_leave_the_runner() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trace.jsonl");
    let out = dir.path().join("r.json");
    let html = dir.path().join("r.html");
    let junit = dir.path().join("r.xml");
    let o = throng(&[
        "run",
        fixture("run/secrets.yaml").to_str().unwrap(),
        "--base-url",
        &shop.base_url(),
        "--vus",
        "1",
        "--iterations",
        "2",
        "--trace",
        "--trace-file",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let trace = std::fs::read_to_string(&file).unwrap();
    let results = std::fs::read_to_string(&out).unwrap();
    let report = std::fs::read_to_string(&html).unwrap();
    let xml = std::fs::read_to_string(&junit).unwrap();

    // The secret values (from secrets.env), raw and percent-encoded, and the bearer token.
    let r: serde_json::Value = serde_json::from_str(&results).unwrap();
    let events = trace_lines(&file);
    assert_eq!(events.len(), 8);
    for (what, text) in [
        ("stdout", &stdout),
        ("stderr", &stderr),
        ("trace file", &trace),
        ("results", &results),
        ("html", &report),
        ("junit", &xml),
    ] {
        for secret in [
            "Tr4ce-Secret-Pw",
            "Tr4ce-Secret-Pw%21",
            "key_9f8e7d6c5b4a",
            "Bearer",
            "eyJhbGciOi",
        ] {
            assert!(!text.contains(secret), "{secret} in the {what}:\n{text}");
        }
    }
    assert!(stderr.contains("> authorization: [redacted]"), "{stderr}");
    assert!(
        stderr.contains("> x-api-key: [redacted:api_key]"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#""password":"[redacted:password]""#),
        "{stderr}"
    );
    assert!(stderr.contains("&password=[redacted:password]"), "{stderr}");
    assert!(stderr.contains("search=[redacted:api_key]"), "{stderr}");

    // The failure message compared with a secret: kept, with the value redacted.
    let msg = first_failure(&r, "search with the key");
    assert!(
        msg.contains(r#"got 0, expected "[redacted:password]""#),
        "{msg}"
    );
    assert!(stdout.contains("[redacted:password]"), "{stdout}");
    assert!(report.contains("[redacted"), "the report shows no failure");
    assert_eq!(step(&r, "me")["failed"], 0);
    let me = events.iter().find(|e| e["step"] == "me").unwrap();
    let headers = me["request"]["headers"].as_array().unwrap();
    assert!(
        headers.contains(&serde_json::json!(["authorization", "[redacted]"])),
        "{headers:?}"
    );
}
