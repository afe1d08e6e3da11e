//! The crate layering of ARCHITECTURE.md, checked against `cargo metadata`:
//! the compiler and the runner depend on the IR and never on each other.

use std::collections::BTreeSet;
use std::process::Command;

fn throng_deps(metadata: &serde_json::Value, package: &str) -> BTreeSet<String> {
    let pkg = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == package)
        .unwrap_or_else(|| panic!("no package {package}"));
    pkg["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter(|d| d["kind"].is_null()) // normal dependencies; dev-dependencies may reach further
        .filter_map(|d| d["name"].as_str())
        .filter(|n| n.starts_with("throng"))
        .map(str::to_string)
        .collect()
}

#[test]
fn crates_depend_only_downwards() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(throng_deps(&md, "throng-ir"), set(&[]));
    assert_eq!(throng_deps(&md, "throng-compiler"), set(&["throng-ir"]));
    assert_eq!(throng_deps(&md, "throng-runner"), set(&["throng-ir"]));
    assert_eq!(throng_deps(&md, "throng-shop"), set(&[]));
}
