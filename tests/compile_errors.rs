//! `throng compile` on malformed input: a clear message naming the file, exit code 2.

use std::process::Command;

fn compile(name: &str, bytes: &[u8]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("compile")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "no YAML on failure");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn not_json() {
    let (code, err) = compile("notes.har", b"this is not json\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("notes.har:1:2: not valid JSON"), "{err}");
}

#[test]
fn truncated() {
    let (code, err) = compile(
        "cut.har",
        b"{\"log\": {\"entries\": [\n  {\"request\": {\"method\": \"GET\",",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cut.har:2:") && err.contains("not valid JSON") && err.contains("EOF"),
        "{err}"
    );
}

#[test]
fn no_log_entries() {
    let (code, err) = compile("empty.har", b"{\"log\": {\"version\": \"1.2\"}}");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("empty.har: no `log.entries` list: not a HAR file"),
        "{err}"
    );
}

#[test]
fn invalid_utf8() {
    let (code, err) = compile("latin1.har", b"{\"log\":\n {\"x\": \"caf\xe9\"}}");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("latin1.har:2:12: invalid UTF-8"), "{err}");
}

#[test]
fn no_usable_entry() {
    let (code, err) = compile(
        "junk.har",
        b"{\"log\": {\"entries\": [1, {\"request\": {}}]}}",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("junk.har: no usable entry among 2"), "{err}");
}

#[test]
fn openapi_is_detected_by_content_and_its_errors_name_the_file() {
    let (code, err) = compile(
        "api.yaml",
        b"openapi: 3.0.0\ninfo: {title: x}\npaths: [1, 2]\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("api.yaml"), "{err}");
    assert!(!err.contains("not supported"), "{err}");
}

#[test]
fn missing_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_throng"))
        .args(["compile", "/nonexistent/x.har"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.har: cannot read"));
}
