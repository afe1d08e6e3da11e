//! The shop's own OpenAPI document, compiled with no flags, runs against a fresh shop
//! with zero failures: register with a unique email, token to bearer, the cart chain,
//! checkout with `cart_id` from GET /cart, the order read back.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use throng_compiler::openapi::{compile_spec, OpenApiOptions};

struct Shop(Child);

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn openapi_shop_spec_runs_clean_against_the_shop() {
    let bin = env!("CARGO_BIN_EXE_throng");
    let mut child = Command::new(bin)
        .args(["shop", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the shop");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let _shop = Shop(child);
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("listening URL")
        .to_string();

    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/shop/openapi.json");
    let out = compile_spec(&spec, &OpenApiOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.yaml");
    let results = dir.path().join("r.json");
    std::fs::write(&file, &out.yaml).unwrap();
    let run = Command::new(bin)
        .arg("run")
        .arg(&file)
        .args([
            "--base-url",
            &url,
            "--vus",
            "2",
            "--iterations",
            "9",
            "--no-think",
            "--quiet",
            "--out",
        ])
        .arg(&results)
        .output()
        .expect("throng run");
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&results)
            .unwrap_or_else(|_| panic!("no results: {}", String::from_utf8_lossy(&run.stderr))),
    )
    .unwrap();
    let failures: Vec<String> = r["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| {
            let name = format!("{}/{}", s["scenario"], s["step"]);
            s["failures"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |f| format!("{name}: {}", f["message"]))
        })
        .collect();
    assert!(failures.is_empty(), "{}\n{}", failures.join("\n"), out.yaml);
    assert_eq!(r["totals"]["failed_requests"], 0);
    assert_eq!(r["totals"]["checks_failed"], 0);
    assert!(r["totals"]["requests"].as_u64().unwrap() > 50);
    assert!(run.status.success());
}
