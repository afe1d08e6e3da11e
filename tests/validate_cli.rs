//! `throng validate`, `throng schema` and `--help` driven through the built binary.

use std::path::Path;
use std::process::Command;

fn throng() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_throng"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn yaml_files(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| format!("{dir}/{}", p.file_name().expect("name").to_string_lossy()))
        .collect();
    v.sort();
    v
}

#[test]
fn valid_examples_pass_together() {
    let files = yaml_files("fixtures/scenarios");
    let out = throng()
        .arg("validate")
        .args(&files)
        .output()
        .expect("run throng");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in &files {
        assert!(
            stdout.contains(&format!("ok {f} (")),
            "{f} missing from:\n{stdout}"
        );
    }
    assert!(stdout.contains("ok fixtures/scenarios/smoke.yaml (1 scenarios, 1 steps)"));
}

#[test]
fn each_invalid_file_exits_2_with_file_line_and_column() {
    for f in yaml_files("fixtures/invalid") {
        let out = throng()
            .args(["validate", &f])
            .output()
            .expect("run throng");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{f}: {stderr}");
        let located =
            regex::Regex::new(&format!(r"^{}:\d+:\d+: \S", regex::escape(&f))).expect("regex");
        assert!(
            located.is_match(&stderr),
            "{f}: message lacks FILE:LINE:COLUMN: {stderr}"
        );
    }
}

#[test]
fn one_bad_file_among_good_ones_fails_the_run() {
    let out = throng()
        .args([
            "validate",
            "fixtures/scenarios/smoke.yaml",
            "fixtures/invalid/two-bodies.yaml",
        ])
        .output()
        .expect("run throng");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok fixtures/scenarios/smoke.yaml"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("two-bodies.yaml:10:11: "));
}

#[test]
fn missing_file_is_bad_input() {
    let out = throng()
        .args(["validate", "fixtures/nope.yaml"])
        .output()
        .expect("run throng");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fixtures/nope.yaml: cannot read"));
}

#[test]
fn help_lists_every_subcommand_and_version_prints() {
    let out = throng().arg("--help").output().expect("run throng");
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["validate", "compile", "run", "shop", "demo", "schema"] {
        assert!(
            help.contains(&format!("  {cmd} ")),
            "--help lacks {cmd}:\n{help}"
        );
    }
    let out = throng().arg("--version").output().expect("run throng");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("throng "));
}

#[test]
fn unknown_flag_is_bad_input() {
    let out = throng()
        .args(["validate", "--frobnicate"])
        .output()
        .expect("run throng");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn schema_describes_the_format() {
    let out = throng().arg("schema").output().expect("run throng");
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("schema is JSON");
    assert_eq!(schema["title"], "throng scenario file");
    for key in [
        "version",
        "name",
        "vars",
        "defaults",
        "data",
        "load",
        "thresholds",
        "scenarios",
    ] {
        assert!(
            schema["properties"].get(key).is_some(),
            "schema lacks {key}"
        );
    }
}
