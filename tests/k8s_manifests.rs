//! `throng k8s`: the manifests carry the scenario, its data and secrets, run one segment per
//! pod, and pass a real Kubernetes schema validation (`kubernetes-validate`, installed by CI).

use std::path::Path;
use std::process::Command;

use serde::Deserialize;

/// The Kubernetes version README.md names for the manifests.
const KUBERNETES_VERSION: &str = "1.30.0";

fn throng() -> Command {
    Command::new(env!("CARGO_BIN_EXE_throng"))
}

fn scenario_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("data")).expect("mkdir");
    std::fs::write(
        dir.path().join("data/users.csv"),
        "email,password\na@example.com,pw\n",
    )
    .expect("csv");
    std::fs::write(
        dir.path().join("journey.yaml"),
        "version: 1\nname: Journey One\nvars:\n  base_url: http://127.0.0.1:8080\n  key: \"{{ env('API_KEY') }}\"\n\
         data:\n  users: {csv: data/users.csv, pick: unique}\nload: {rate: 10/s, duration: 1m}\nscenarios:\n  - name: s\n    steps:\n\
         \x20     - name: login\n        request:\n          method: POST\n          url: \"{{ base_url }}/auth/login\"\n\
         \x20         json: {email: \"{{ users.email }}\", key: \"{{ key }}\"}\n",
    )
    .expect("scenario");
    std::fs::write(dir.path().join("journey.env"), "API_KEY=\"s3cret\"\n").expect("env");
    dir
}

fn documents(yaml: &str) -> Vec<serde_json::Value> {
    yaml_serde::Deserializer::from_str(yaml)
        .map(|d| serde_json::Value::deserialize(d).expect("manifest document parses"))
        .collect()
}

fn validator() -> Option<String> {
    let found = Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("kubernetes-validate".into());
    }
    assert!(
        std::env::var_os("THRONG_REQUIRE_TOOLS").is_none(),
        "kubernetes-validate is not installed but THRONG_REQUIRE_TOOLS is set (CI installs it with pip)"
    );
    eprintln!("kubernetes-validate not found: schema validation skipped (pip install kubernetes-validate)");
    None
}

fn validate(validator: &str, file: &Path) -> std::process::Output {
    Command::new(validator)
        .args(["--strict", "-k", KUBERNETES_VERSION])
        .arg(file)
        .output()
        .expect("run kubernetes-validate")
}

#[test]
fn manifests_run_one_segment_per_pod_and_carry_data_and_secrets() {
    let dir = scenario_dir();
    let out = throng()
        .arg("k8s")
        .arg(dir.path().join("journey.yaml"))
        .args([
            "--parallelism",
            "4",
            "--namespace",
            "load",
            "--start-at",
            "1800000000000",
        ])
        .output()
        .expect("run throng k8s");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).expect("utf-8");
    let docs = documents(&yaml);
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["ConfigMap", "Secret", "Job"]);

    let cm = &docs[0];
    assert!(cm["data"]["journey.yaml"]
        .as_str()
        .expect("scenario")
        .contains("name: Journey One"));
    assert_eq!(
        cm["data"]["data_users.csv"],
        "email,password\na@example.com,pw"
    );
    assert_eq!(docs[1]["stringData"]["journey.env"], "API_KEY=\"s3cret\"");

    let job = &docs[2];
    assert_eq!(job["metadata"]["name"], "throng-journey-one");
    assert_eq!(job["metadata"]["namespace"], "load");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], 4);
    assert_eq!(job["spec"]["parallelism"], 4);
    let pod = &job["spec"]["template"]["spec"];
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let joined = args.join(" ");
    assert!(
        joined.starts_with("run /scenario/journey.yaml --segments 4 --start-at 1800000000000"),
        "{joined}"
    );
    let items = &pod["volumes"][0]["projected"]["sources"][0]["configMap"]["items"];
    assert!(items
        .as_array()
        .expect("items")
        .iter()
        .any(|i| i["path"] == "data/users.csv"));
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
}

#[test]
fn manifests_pass_kubernetes_schema_validation() {
    let Some(validator) = validator() else { return };
    let dir = scenario_dir();
    for extra in [
        &[][..],
        &[
            "--results-claim",
            "throng-results",
            "--run-arg=--duration=5m",
        ][..],
    ] {
        let file = dir.path().join("manifests.yaml");
        let out = throng()
            .arg("k8s")
            .arg(dir.path().join("journey.yaml"))
            .args(["--parallelism", "3", "-o"])
            .arg(&file)
            .args(extra)
            .output()
            .expect("run throng k8s");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = validate(&validator, &file);
        let report =
            String::from_utf8_lossy(&v.stdout).to_string() + &String::from_utf8_lossy(&v.stderr);
        assert!(v.status.success(), "{report}");
        assert_eq!(report.matches("passed for resource").count(), 3, "{report}");
    }
    // The validator must be able to say no, or the check above proves nothing.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  completions: four\n  template: {spec: {containers: []}}\n")
        .expect("write");
    assert!(!validate(&validator, &broken).status.success());
}

#[test]
fn bad_parallelism_and_missing_scenario_are_bad_input() {
    let out = throng()
        .args(["k8s", "fixtures/scenarios/smoke.yaml", "--parallelism", "0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = throng()
        .args(["k8s", "nope.yaml", "--parallelism", "2"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.yaml"));
}
