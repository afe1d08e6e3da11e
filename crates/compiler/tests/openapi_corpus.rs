//! Every spec of the shared OpenAPI corpus (and the shop's own) compiles to a scenario that
//! `throng_ir::load_str` accepts; the outputs are snapshotted, and every generated JSON
//! request body validates against its own schema.

use std::path::{Path, PathBuf};

use throng_compiler::openapi::{compile_spec, OpenApiCompiled, OpenApiOptions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus_dir() -> PathBuf {
    repo().join("../shared/corpus/openapi")
}

fn corpus() -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    specs.retain(|p| {
        let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        (n.ends_with(".yaml") || n.ends_with(".json")) && !n.contains("arazzo")
    });
    specs.sort();
    specs
}

fn compile(path: &Path) -> OpenApiCompiled {
    let opts = OpenApiOptions {
        base_url: Some("http://127.0.0.1:8080".into()),
        ..Default::default()
    };
    compile_spec(path, &opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The YAML with the machine-specific spec path replaced.
fn stable(yaml: &str, path: &Path) -> String {
    yaml.replace(
        &path.display().to_string(),
        &format!("corpus/{}", path.file_name().unwrap().to_string_lossy()),
    )
}

#[test]
fn openapi_corpus_compiles_and_validates() {
    let specs = corpus();
    assert!(
        specs.len() >= 15,
        "corpus not found at {}",
        corpus_dir().display()
    );
    let mut summary = String::new();
    for spec in &specs {
        let out = compile(spec);
        throng_ir::load_str(&out.yaml, "out.yaml", Path::new("."))
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", spec.display(), out.yaml));
        let r = &out.report;
        summary.push_str(&format!(
            "{}: {} found, {} covered, {} skipped, {} chains, scenarios {}\n",
            spec.file_name().unwrap().to_string_lossy(),
            r.found(),
            r.covered(),
            r.skipped(),
            r.chains.len(),
            r.scenarios
                .iter()
                .map(|(n, s)| format!("{n}({s})"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        let name = format!(
            "openapi_{}",
            spec.file_stem()
                .unwrap()
                .to_string_lossy()
                .replace(['.', '-'], "_")
        );
        insta::assert_snapshot!(name, stable(&out.yaml, spec));
    }
    println!("{summary}");
}

#[test]
fn openapi_generated_bodies_validate_against_their_schemas() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for spec in corpus()
        .iter()
        .chain([repo().join("crates/shop/openapi.json")].iter())
    {
        let out = compile(spec);
        for b in &out.bodies {
            let v = jsonschema::options()
                .should_validate_formats(true)
                .build(&b.schema)
                .expect("schema compiles");
            checked += 1;
            if let Err(e) = v.validate(&b.sample) {
                failures.push(format!(
                    "{} {}/{}: {e}: {}",
                    spec.display(),
                    b.scenario,
                    b.step,
                    b.sample
                ));
            }
        }
    }
    assert!(checked > 20, "only {checked} bodies");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn openapi_shop_spec_compiles() {
    // THRONG_OPENAPI_SHOW=path prints another spec's output instead (for debugging).
    let spec = std::env::var("THRONG_OPENAPI_SHOW")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("crates/shop/openapi.json"));
    let out = compile_spec(&spec, &OpenApiOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    println!("{}\n{}", out.report, out.yaml);
    throng_ir::load_str(&out.yaml, "shop.yaml", Path::new(".")).unwrap();
}
