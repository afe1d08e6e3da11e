//! `throng merge`: combining results files, exit codes 0 / 1 (threshold breached on the
//! merged data) / 2 (bad input), and the HTML report of the merge.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn throng() -> Command {
    Command::new(env!("CARGO_BIN_EXE_throng"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs both segments of a small closed-model load; returns the two results files.
fn two_segments(dir: &Path) -> (PathBuf, PathBuf) {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/run/health.yaml");
    let files: Vec<PathBuf> = (0..2)
        .map(|i| {
            let out = dir.join(format!("results-{i}.json"));
            let o = throng()
                .arg("run")
                .arg(&scenario)
                .args(["--quiet", "--base-url", &shop.base_url()])
                .args(["--vus", "2", "--iterations", "7"])
                .args(["--segment", &format!("{i}/2"), "--out"])
                .arg(&out)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            out
        })
        .collect();
    (files[0].clone(), files[1].clone())
}

fn merge(args: &[&Path], extra: &[&str]) -> Output {
    throng()
        .arg("merge")
        .args(args)
        .args(extra)
        .output()
        .unwrap()
}

fn edit(from: &Path, to: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(from).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(to, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn merge_writes_results_and_html_and_exits_by_thresholds_and_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = two_segments(d);

    // 0: merged, written, reported.
    let out = d.join("merged.json");
    let html = d.join("report.html");
    let o = merge(
        &[&a, &b],
        &[
            "-o",
            out.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(m["totals"]["iterations"], 7);
    assert_eq!(m["totals"]["requests"], 7);
    assert_eq!(m["segments_merged"], 2);
    assert_eq!(m["merged_segments"], serde_json::json!(["0/2", "1/2"]));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<html") && page.contains("health"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 results merged"));

    // A merge is itself mergeable... but not with a segment it already holds.
    let o = merge(&[&out, &a], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("appears twice"), "{}", stderr(&o));

    // One segment alone merges, with a warning that the rest is missing.
    let o = merge(&[&a], &["--quiet"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("1/2 missing"), "{}", stderr(&o));

    // 1: a threshold breached on the merged data (judged again, not copied).
    let strict_a = d.join("strict-a.json");
    let strict_b = d.join("strict-b.json");
    for (from, to) in [(&a, &strict_a), (&b, &strict_b)] {
        edit(from, to, |v| {
            v["thresholds"] = serde_json::json!([
                {"expr": "rps > 1000000", "ok": true, "actual": null},
                {"expr": "error_rate < 1%", "ok": false, "actual": null}
            ]);
        });
    }
    let out1 = d.join("merged-strict.json");
    let o = merge(&[&strict_a, &strict_b], &["-o", out1.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out1).unwrap()).unwrap();
    assert_eq!(m["thresholds"][0]["ok"], false);
    assert_eq!(m["thresholds"][1]["ok"], true);

    // 2: the same segment twice, another scenario, another version, not results at all.
    let o = merge(&[&a, &a], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("0/2 appears twice"), "{}", stderr(&o));

    let renamed = d.join("renamed.json");
    edit(&b, &renamed, |v| v["name"] = "checkout".into());
    let o = merge(&[&a, &renamed], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("renamed.json") && stderr(&o).contains("scenario `checkout` differs"),
        "{}",
        stderr(&o)
    );

    let newer = d.join("newer.json");
    edit(&b, &newer, |v| v["version"] = 2.into());
    let o = merge(&[&a, &newer], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("version"), "{}", stderr(&o));

    let other_split = d.join("split3.json");
    edit(&b, &other_split, |v| v["segment"] = "1/3".into());
    let o = merge(&[&a, &other_split], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("different splits"), "{}", stderr(&o));

    let junk = d.join("junk.json");
    std::fs::write(&junk, "{\"hello\": 1}").unwrap();
    let o = merge(&[&a, &junk], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("junk.json"), "{}", stderr(&o));

    let o = merge(&[&a, &d.join("nope.json")], &[]);
    assert_eq!(o.status.code(), Some(2));

    let o = merge(
        &[&a, &b],
        &["-o", d.join("no/such/dir.json").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
}
