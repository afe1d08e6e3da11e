//! Compiled smoke scenarios run against Prism mocks of corpus specs, and the compiled
//! museum Arazzo workflows against Prism serving their source (museum.yaml): Prism must
//! accept every request (no 400/401/404/422). Runs only when THRONG_PRISM points at the
//! prism binary (`scripts/prism.sh --install-only` installs one under target/prism);
//! otherwise it says why and passes, unless THRONG_REQUIRE_TOOLS is set (CI): then it fails.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use throng_compiler::openapi::{compile_spec, Flow, OpenApiOptions};

/// Arazzo documents and the spec Prism serves for them.
const WORKFLOWS: &[(&str, &str)] = &[("museum.arazzo.yaml", "museum.yaml")];

const SPECS: &[&str] = &[
    "petstore-expanded.yaml",
    "petstore3.yaml",
    "museum.yaml",
    "realworld.yaml",
    "link-example.yaml",
];

struct Prism(Child);

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start(prism: &str, spec: &Path, port: u16) -> Prism {
    let child = Command::new(prism)
        .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
        .arg(spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prism");
    let p = Prism(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "prism did not start for {}",
            spec.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    p
}

fn prism() -> Option<String> {
    match std::env::var("THRONG_PRISM") {
        Ok(p) if !p.is_empty() => {
            assert!(
                Path::new(&p).is_file(),
                "THRONG_PRISM={p} does not exist (run `bash scripts/prism.sh --install-only`)"
            );
            Some(p)
        }
        _ => {
            assert!(
                std::env::var_os("THRONG_REQUIRE_TOOLS").is_none(),
                "THRONG_REQUIRE_TOOLS is set but THRONG_PRISM is not: install Prism with `bash scripts/prism.sh --install-only` and export THRONG_PRISM=$PWD/target/prism/node_modules/.bin/prism"
            );
            println!("skipped: set THRONG_PRISM to the prism binary (`bash scripts/prism.sh --install-only` installs it under target/prism/node_modules/.bin/prism)");
            None
        }
    }
}

/// The scenario file split into one file per scenario (the runner picks one scenario per
/// iteration, so a single iteration would exercise only one of several).
fn per_scenario(yaml: &str) -> Vec<String> {
    let Some(at) = yaml.find("\nscenarios:\n") else {
        return vec![yaml.to_string()];
    };
    let (head, rest) = yaml.split_at(at + "\nscenarios:\n".len());
    let mut chunks: Vec<String> = Vec::new();
    let mut pending = String::new();
    for line in rest.lines() {
        if line.starts_with("  - name: ") || chunks.is_empty() {
            chunks.push(std::mem::take(&mut pending));
        }
        let last = chunks.last_mut().expect("a chunk");
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            pending.push_str(line);
            pending.push('\n');
        } else {
            last.push_str(&pending);
            pending.clear();
            last.push_str(line);
            last.push('\n');
        }
    }
    chunks
        .into_iter()
        .filter(|c| c.contains("  - name: "))
        .map(|c| format!("{head}{c}"))
        .collect()
}

/// Runs each scenario of a compiled file once against Prism; returns the rejected requests.
fn run_against_prism(
    label: &str,
    yaml: &str,
    base: &str,
    dir: &Path,
    operations: usize,
) -> Vec<String> {
    let (mut steps_run, mut requests, mut failed, mut checks_failed) = (0, 0, 0, 0);
    let mut problems = Vec::new();
    for (i, yaml) in per_scenario(yaml).iter().enumerate() {
        // Keep going after a failed step so every operation is exercised.
        let yaml = yaml.replacen(
            "\nscenarios:\n",
            "\ndefaults:\n  on_fail: continue\nscenarios:\n",
            1,
        );
        let file = dir.join(format!("{label}.{i}.scenario.yaml"));
        let results = dir.join(format!("{label}.{i}.results.json"));
        std::fs::write(&file, yaml).unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_throng"))
            .arg("run")
            .arg(&file)
            .args([
                "--base-url",
                base,
                "--vus",
                "1",
                "--iterations",
                "1",
                "--no-think",
                "--quiet",
                "--out",
            ])
            .arg(&results)
            .output()
            .expect("run throng");
        let text = std::fs::read_to_string(&results).unwrap_or_else(|_| {
            panic!(
                "{label}: no results: {}",
                String::from_utf8_lossy(&run.stderr)
            )
        });
        let r: serde_json::Value = serde_json::from_str(&text).unwrap();
        let steps = r["steps"].as_array().cloned().unwrap_or_default();
        steps_run += steps.len();
        requests += r["totals"]["requests"].as_u64().unwrap_or(0);
        failed += r["totals"]["failed_requests"].as_u64().unwrap_or(0);
        checks_failed += r["totals"]["checks_failed"].as_u64().unwrap_or(0);
        for s in &steps {
            for f in s["failures"].as_array().into_iter().flatten() {
                let m = f["message"].as_str().unwrap_or("");
                println!(
                    "  {label} {}: {}",
                    s["step"],
                    m.chars().take(300).collect::<String>()
                );
                if ["400", "401", "404", "422"].iter().any(|c| {
                    m.contains(&format!("got {c}"))
                        || m.starts_with(&format!("status {c}"))
                        || m.contains(&format!("status {c}"))
                }) {
                    problems.push(format!("{label} {}: {m}", s["step"]));
                }
            }
        }
    }
    println!(
        "{label}: {operations} operations, {steps_run} steps run, {requests} requests, {failed} failed (checks failed {checks_failed}), {} rejected by Prism",
        problems.len()
    );
    problems
}

#[test]
fn openapi_smoke_scenarios_pass_prism_validation() {
    let Some(prism) = prism() else {
        return;
    };
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/openapi");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut problems = Vec::new();
    for name in SPECS {
        let spec: PathBuf = corpus.join(name);
        let port = free_port();
        let _mock = start(&prism, &spec, port);
        let base = format!("http://127.0.0.1:{port}");
        let opts = OpenApiOptions {
            base_url: Some(base.clone()),
            flows: vec![Flow::Smoke],
            ..Default::default()
        };
        let out = compile_spec(&spec, &opts).unwrap_or_else(|e| panic!("{e}"));
        problems.extend(run_against_prism(
            name,
            &out.yaml,
            &base,
            dir.path(),
            out.report.found(),
        ));
    }
    assert!(
        problems.is_empty(),
        "Prism rejected requests:\n{}",
        problems.join("\n")
    );
}

#[test]
fn arazzo_workflow_scenarios_pass_prism_validation() {
    let Some(prism) = prism() else {
        return;
    };
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/openapi");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut problems = Vec::new();
    for (workflow, source) in WORKFLOWS {
        let port = free_port();
        let _mock = start(&prism, &corpus.join(source), port);
        let base = format!("http://127.0.0.1:{port}");
        let opts = OpenApiOptions {
            base_url: Some(base.clone()),
            ..Default::default()
        };
        let out = compile_spec(&corpus.join(workflow), &opts).unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.report.scenarios.is_empty(), "{workflow}: no scenarios");
        problems.extend(run_against_prism(
            workflow,
            &out.yaml,
            &base,
            dir.path(),
            out.report.covered(),
        ));
    }
    assert!(
        problems.is_empty(),
        "Prism rejected requests:\n{}",
        problems.join("\n")
    );
}
