//! Compiled smoke scenarios run against Prism mocks of corpus specs: Prism must accept
//! every request (no 400/401/404/422). Runs only when THRONG_PRISM points at the prism
//! binary (`scripts/prism.sh` installs one under target/prism); otherwise it says why and passes.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use throng_compiler::openapi::{compile_spec, Flow, OpenApiOptions};

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

#[test]
fn openapi_smoke_scenarios_pass_prism_validation() {
    let Ok(prism) = std::env::var("THRONG_PRISM") else {
        println!("skipped: set THRONG_PRISM to the prism binary (scripts/prism.sh installs it under target/prism/node_modules/.bin/prism)");
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
        // Keep going after a failed step so every operation is exercised.
        let yaml = out.yaml.replacen(
            "\nscenarios:\n",
            "\ndefaults:\n  on_fail: continue\nscenarios:\n",
            1,
        );
        let file = dir.path().join(format!("{name}.scenario.yaml"));
        let results = dir.path().join(format!("{name}.results.json"));
        std::fs::write(&file, yaml).unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_throng"))
            .arg("run")
            .arg(&file)
            .args([
                "--base-url",
                &base,
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
                "{name}: no results: {}",
                String::from_utf8_lossy(&run.stderr)
            )
        });
        let r: serde_json::Value = serde_json::from_str(&text).unwrap();
        let steps = r["steps"].as_array().cloned().unwrap_or_default();
        let mut rejected = 0;
        for s in &steps {
            for f in s["failures"].as_array().into_iter().flatten() {
                let m = f["message"].as_str().unwrap_or("");
                println!(
                    "  {name} {}: {}",
                    s["step"],
                    m.chars().take(300).collect::<String>()
                );
                if ["400", "401", "404", "422"].iter().any(|c| {
                    m.contains(&format!("got {c}"))
                        || m.starts_with(&format!("status {c}"))
                        || m.contains(&format!("status {c}"))
                }) {
                    rejected += 1;
                    problems.push(format!("{name} {}: {m}", s["step"]));
                }
            }
        }
        println!(
            "{name}: {} operations, {} steps run, {} requests, {} failed (checks failed {}), {} rejected by Prism",
            out.report.found(),
            steps.len(),
            r["totals"]["requests"],
            r["totals"]["failed_requests"],
            r["totals"]["checks_failed"],
            rejected
        );
    }
    assert!(
        problems.is_empty(),
        "Prism rejected requests:\n{}",
        problems.join("\n")
    );
}
