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

/// The module uses of one crate: for each module (`client`, `report::merge`, ...) the other
/// modules of the crate it names through `crate::` or `super::` paths. Uses of a module's
/// own ancestors are left out: a child using its parent's types while the parent declares
/// and calls it is how a module tree is built, not a cycle.
fn module_uses(src: &std::path::Path) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read src") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    files(src, &mut paths);
    let module_of = |p: &std::path::Path| -> String {
        let rel = p.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        if parts
            .last()
            .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
        {
            parts.pop();
        }
        parts.join("::")
    };
    let modules: BTreeSet<String> = paths.iter().map(|p| module_of(p)).collect();
    let path_re =
        regex::Regex::new(r"\b(crate|super)::(\{[^}]*\}|[a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)")
            .unwrap();
    let mut uses = std::collections::BTreeMap::new();
    for p in &paths {
        let me = module_of(p);
        let text = std::fs::read_to_string(p).expect("read source");
        // Tests may reach anywhere in their own module's tree.
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        let mut found = BTreeSet::new();
        for c in path_re.captures_iter(text) {
            let base: Vec<&str> = match &c[1] {
                "crate" => Vec::new(),
                _ => {
                    let mut b: Vec<&str> = if me.is_empty() {
                        Vec::new()
                    } else {
                        me.split("::").collect()
                    };
                    // `super` in a mod.rs is the parent of the directory's module.
                    b.pop();
                    b
                }
            };
            let tails: Vec<String> = if c[2].starts_with('{') {
                c[2].trim_matches(|ch| ch == '{' || ch == '}')
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .collect()
            } else {
                vec![c[2].to_string()]
            };
            for tail in tails {
                let mut segs: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                segs.extend(tail.split("::").map(str::to_string));
                // The longest prefix that names a module of the crate.
                while !segs.is_empty() && !modules.contains(&segs.join("::")) {
                    segs.pop();
                }
                let target = segs.join("::");
                let ancestor =
                    target.is_empty() || me == target || me.starts_with(&format!("{target}::"));
                if !ancestor {
                    found.insert(target);
                }
            }
        }
        uses.insert(me, found);
    }
    uses
}

/// The uses between a crate's top-level modules (`report::merge` counts as `report`).
fn top_level(
    uses: &std::collections::BTreeMap<String, BTreeSet<String>>,
) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let top = |m: &str| m.split("::").next().unwrap_or("").to_string();
    let mut out: std::collections::BTreeMap<String, BTreeSet<String>> =
        std::collections::BTreeMap::new();
    for (m, targets) in uses {
        if m.is_empty() {
            continue;
        }
        let entry = out.entry(top(m)).or_default();
        entry.extend(targets.iter().map(|t| top(t)).filter(|t| *t != top(m)));
    }
    out
}

/// A cycle in the graph, as the modules on it, if there is one.
fn cycle(graph: &std::collections::BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &std::collections::BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut c = stack[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn modules_use_each_other_one_way() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for krate in ["ir", "compiler", "runner"] {
        let uses = module_uses(&root.join("crates").join(krate).join("src"));
        if let Some(c) = cycle(&uses) {
            panic!("crates/{krate}: module cycle {}", c.join(" -> "));
        }
        if let Some(c) = cycle(&top_level(&uses)) {
            panic!(
                "crates/{krate}: cycle between top-level modules {}",
                c.join(" -> ")
            );
        }
    }
    // The runner's layers (ARCHITECTURE.md): which top-level module may use which.
    let allowed: &[(&str, &[&str])] = &[
        ("client", &[]),
        ("report", &[]),
        ("redact", &[]),
        ("feeders", &[]),
        ("trace", &["redact"]),
        ("plan", &["client", "redact"]),
        ("step", &["plan", "client", "redact", "trace", "report"]),
        (
            "vu",
            &["step", "plan", "client", "feeders", "trace", "report"],
        ),
        ("engine", &["vu", "report"]),
    ];
    let runner = top_level(&module_uses(&root.join("crates/runner/src")));
    for (module, targets) in &runner {
        let Some((_, ok)) = allowed.iter().find(|(m, _)| m == module) else {
            panic!("crates/runner: module `{module}` has no row in the layering table");
        };
        for t in targets {
            assert!(
                ok.contains(&t.as_str()),
                "crates/runner: `{module}` uses `{t}`, which its layer may not (allowed: {ok:?})"
            );
        }
    }
}
