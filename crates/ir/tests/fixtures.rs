//! Data-driven tests over the repository's scenario fixtures: every file under
//! `fixtures/scenarios/` loads and round-trips; every file under `fixtures/invalid/`
//! is refused with a located message, snapshotted so wording changes are reviewed.

use std::path::{Path, PathBuf};

fn fixture_files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn load_labelled(path: &Path) -> Result<throng_ir::Plan, throng_ir::LoadError> {
    let text = std::fs::read_to_string(path).expect("fixture is UTF-8");
    let label = path
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .to_string();
    throng_ir::load_str(&text, &label, path.parent().expect("parent"))
}

#[test]
fn valid_scenarios_load_and_round_trip() {
    let files = fixture_files("scenarios");
    assert!(files.len() >= 5, "expected at least five example scenarios");
    for path in files {
        let plan = load_labelled(&path).unwrap_or_else(|e| panic!("{e}"));
        let yaml = throng_ir::to_yaml(&plan);
        let again = throng_ir::load_str(&yaml, "round-trip", path.parent().expect("parent"))
            .unwrap_or_else(|e| {
                panic!(
                    "{}: re-loading its own YAML failed:\n{e}\n---\n{yaml}",
                    path.display()
                )
            });
        assert_eq!(
            throng_ir::to_yaml(&again),
            yaml,
            "{} does not round-trip",
            path.display()
        );
    }
}

#[test]
fn invalid_scenarios_are_refused_with_their_location() {
    let files = fixture_files("invalid");
    assert!(
        files.len() >= 10,
        "expected at least ten malformed scenarios"
    );
    let mut report = String::new();
    for path in files {
        let err = match load_labelled(&path) {
            Ok(_) => panic!("{} was accepted", path.display()),
            Err(e) => e,
        };
        let diags = err.diagnostics();
        assert!(!diags.is_empty(), "{}: no diagnostics", path.display());
        let lines = std::fs::read_to_string(&path)
            .expect("fixture")
            .lines()
            .count();
        for d in diags {
            assert!(d.line >= 1 && d.line <= lines + 1, "{d}: line out of range");
        }
        report.push_str(&format!("{err}\n"));
    }
    insta::assert_snapshot!("invalid_fixtures", report);
}

#[test]
fn every_documented_key_appears_in_the_examples() {
    let all: String = fixture_files("scenarios")
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("fixture"))
        .collect();
    for key in [
        "version:",
        "name:",
        "vars:",
        "defaults:",
        "headers:",
        "timeout:",
        "think:",
        "data:",
        "csv:",
        "pick: sequential",
        "pick: random",
        "pick: unique",
        "load:",
        "vus:",
        "rate:",
        "duration:",
        "iterations:",
        "stages:",
        "max_vus:",
        "thresholds:",
        "scenarios:",
        "weight:",
        "steps:",
        "request:",
        "method:",
        "url:",
        "query:",
        "json:",
        "body:",
        "form:",
        "multipart:",
        "extract:",
        "regex:",
        "css:",
        "attr:",
        "header:",
        "cookie:",
        "all: true",
        "check:",
        "status:",
        "equals:",
        "matches:",
        "body_contains:",
        "body_matches:",
        "duration_under:",
        "on_fail:",
        "follow_redirects:",
        "secrets:",
        "schema:",
        "sse:",
        "events:",
        "ws:",
        "send:",
        "count:",
        "expect: any",
    ] {
        assert!(all.contains(key), "no example scenario uses `{key}`");
    }
}

#[test]
fn schema_file_is_current() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/schema/throng-scenario.schema.json");
    let expected = serde_json::to_string_pretty(&throng_ir::json_schema()).expect("schema") + "\n";
    let actual = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is stale: run `throng schema -o fixtures/schema/throng-scenario.schema.json`",
        committed.display()
    );
}

#[test]
fn hostile_yaml_is_refused_quickly() {
    let base = Path::new(".");
    let started = std::time::Instant::now();
    let deep = format!(
        "version: 1\nname: deep\nvars:\n  x: {}{}\nscenarios: []\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let err = throng_ir::load_str(&deep, "deep.yaml", base).expect_err("deep nesting refused");
    assert!(err.to_string().starts_with("deep.yaml:4:"), "{err}");
    assert!(err.to_string().contains("nested deeper than 64"), "{err}");

    let mut bomb = String::from("version: 1\nname: bomb\nvars:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut prev = 'a';
    for c in "bcdefghij".chars() {
        bomb.push_str(&format!("  {c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        prev = c;
    }
    bomb.push_str("scenarios: []\n");
    let err = throng_ir::load_str(&bomb, "bomb.yaml", base).expect_err("alias bomb refused");
    assert!(
        err.to_string().contains("repetition limit exceeded"),
        "{err}"
    );

    // Brackets inside quoted strings and comments are text, not nesting.
    let quoted = format!(
        "version: 1\nname: quoted # {}\nvars:\n  x: \"{}\"\n  y: '{}'\nscenarios:\n  - name: s\n    steps:\n      - name: a\n        request: {{url: \"http://127.0.0.1/\"}}\n",
        "[".repeat(100),
        "[".repeat(100),
        "]{".repeat(100)
    );
    throng_ir::load_str(&quoted, "quoted.yaml", base).expect("quoted brackets are fine");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}
