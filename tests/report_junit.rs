//! `--junit` on `throng run` and `throng report`: a test case per threshold and per step,
//! failures named with why; both commands write the same document for the same run.

use std::process::Command;

#[test]
fn junit_names_breached_thresholds_and_failing_steps() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("s.yaml");
    std::fs::write(
        &scenario,
        "version: 1\nname: junit <demo>\nvars: {base_url: http://127.0.0.1:9}\nthresholds: [error_rate < 1%, p99 < 10s]\n\
         scenarios:\n  - name: s\n    steps:\n      - name: health & status\n        request: {url: \"{{ base_url }}/health\"}\n\
         \x20       check: [{status: 201}]\n        on_fail: continue\n      - name: products\n        request: {url: \"{{ base_url }}/products\"}\n\
         \x20       check: [{status: 200}]\n",
    )
    .expect("scenario");
    let results = dir.path().join("r.json");
    let run_junit = dir.path().join("run-junit.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(&scenario)
        .args([
            "--base-url",
            &shop.base_url(),
            "--iterations",
            "3",
            "--quiet",
            "--out",
        ])
        .arg(&results)
        .arg("--junit")
        .arg(&run_junit)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the error-rate threshold is breached: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let junit = dir.path().join("junit.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("report")
        .arg(&results)
        .arg("--junit")
        .arg(&junit)
        .output()
        .expect("report");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert_eq!(
        std::fs::read_to_string(&run_junit).expect("run --junit written"),
        xml,
        "run --junit and report --junit render the same run alike"
    );
    // Well-formed, as a CI system's parser would see it.
    let parsed = Command::new("python3")
        .args(["-c", "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); print(len(r.findall('.//testcase')), len(r.findall('.//failure')))"])
        .arg(&junit)
        .output()
        .expect("python3");
    assert!(
        parsed.status.success(),
        "not well-formed XML: {}\n{xml}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&parsed.stdout).trim(),
        "4 2",
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testsuites name="throng: junit &lt;demo&gt;" tests="4" failures="2""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"name="error_rate &lt; 1%""#) && xml.contains(r#"type="threshold""#),
        "{xml}"
    );
    assert!(xml.contains(r#"name="health &amp; status""#), "{xml}");
    assert!(xml.contains("check status 201: got 200"), "{xml}");
    assert!(
        !xml.contains(r#"name="products" time="0.000"><failure"#),
        "{xml}"
    );
}
