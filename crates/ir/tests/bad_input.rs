//! The scenario rows of the repository's bad-input table (`tests/bad_input.rs`, which runs
//! the binary), at the library level: every malformed or hostile file in `fixtures/bad/`
//! that `throng validate` reads is refused by `throng_ir::load` with a located message
//! containing the table's fragment; the messages are snapshotted so wording changes are
//! reviewed.

use std::path::Path;

/// (file in fixtures/bad/, fragment the message must contain), as in the top-level table.
const ROWS: &[(&str, &str)] = &[
    ("truncated.yaml", "truncated.yaml:7:"),
    (
        "steps-is-string.yaml",
        "steps-is-string.yaml:5:12: scenarios[0].steps: invalid type: string",
    ),
    ("scenarios-is-string.yaml", "expected a sequence"),
    (
        "name-is-number.yaml",
        "name-is-number.yaml:2:7: name: invalid type: integer `12345`",
    ),
    ("url-is-map.yaml", "url-is-map.yaml:8:"),
    ("version-bigint.yaml", "version-bigint.yaml:1:10: version"),
    ("billion-laughs.yaml", "repetition limit exceeded"),
    ("invalid-utf8.yaml", "invalid-utf8.yaml:2:11: invalid UTF-8"),
    ("bom-garbage.yaml", "bom-garbage.yaml:1:"),
    ("empty.yaml", "missing field `version`"),
    ("tabs-indent.yaml", "tabs-indent.yaml:4:1"),
    ("duplicate-keys.yaml", "duplicate field `name`"),
    (
        "csv-ragged.yaml",
        "csv-ragged.csv: CSV error: line 3 has 1 field",
    ),
    ("csv-no-header.yaml", "has no column `email`"),
    ("csv-missing-file.yaml", "no-such-file.csv"),
    (
        "template-include.yaml",
        "template tag `include` is not allowed",
    ),
    (
        "template-import.yaml",
        "template tag `import` is not allowed",
    ),
    ("template-unclosed.yaml", "invalid template"),
];

#[test]
fn bad_scenarios_are_refused_with_the_tables_messages() {
    // Relative to the crate, so the snapshot holds no machine-specific path.
    let dir = Path::new("../../fixtures/bad");
    let mut report = String::new();
    for (file, fragment) in ROWS {
        let path = dir.join(file);
        let err = match throng_ir::load(&path) {
            Ok(_) => panic!("{file} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(fragment),
            "{file}: `{fragment}` not in:\n{err}"
        );
        assert!(err.contains(file), "{file}: not named in:\n{err}");
        report.push_str(&err);
        report.push('\n');
    }
    insta::assert_snapshot!("bad_scenarios", report);
}

#[cfg(unix)]
#[test]
fn special_files_are_refused_without_reading() {
    let started = std::time::Instant::now();
    for path in ["/dev/zero", "/dev/urandom", "/"] {
        let err = throng_ir::load(Path::new(path)).expect_err(path);
        assert_eq!(err.to_string(), format!("{path}: not a regular file"));
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn generated_hostile_scenarios_are_refused_quickly() {
    let started = std::time::Instant::now();
    let base = Path::new(".");
    // Block nesting thousands deep (the flow kind is in fixtures.rs).
    let mut deep = String::from("version: 1\nname: deep\nvars:\n");
    for depth in 1..5_000 {
        deep.push_str(&" ".repeat(depth));
        deep.push_str("- \n");
    }
    let err = throng_ir::load_str(&deep, "deep-block.yaml", base).unwrap_err();
    assert_eq!(
        err.to_string(),
        "deep-block.yaml:67:65: block collections (indentation) nested deeper than 64 levels"
    );
    // Mappings too.
    let mut deep = String::from("version: 1\nname: deep\nvars:\n");
    for depth in 1..1_000 {
        deep.push_str(&"  ".repeat(depth));
        deep.push_str(&format!("k{depth}:\n"));
    }
    let err = throng_ir::load_str(&deep, "deep-map.yaml", base).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("deep-map.yaml:67:129: block collections"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
