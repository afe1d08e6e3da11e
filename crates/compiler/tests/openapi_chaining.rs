//! Chaining, data and auth on small handwritten specs in `fixtures/openapi/`.

use std::path::{Path, PathBuf};

use throng_compiler::openapi::{
    compile_spec, looks_like_openapi, Flow, OpenApiCompiled, OpenApiError, OpenApiOptions,
};
use throng_ir::{Body, Extractor, Plan, Step};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/openapi")
        .join(name)
}

fn compile_with(name: &str, opts: OpenApiOptions) -> (OpenApiCompiled, Plan) {
    let out = compile_spec(&fixture(name), &opts).unwrap_or_else(|e| panic!("{e}"));
    let plan = throng_ir::load_str(&out.yaml, name, Path::new("."))
        .unwrap_or_else(|e| panic!("{e}\n{}", out.yaml));
    (out, plan)
}

fn compile(name: &str) -> (OpenApiCompiled, Plan) {
    compile_with(name, OpenApiOptions::default())
}

fn smoke(plan: &Plan) -> &[Step] {
    &plan
        .scenarios
        .iter()
        .find(|s| s.name == "smoke")
        .expect("smoke scenario")
        .steps
}

fn step<'a>(steps: &'a [Step], name: &str) -> &'a Step {
    steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name}"))
}

fn json_path(s: &Step, var: &str) -> String {
    match s.extract.get(var) {
        Some(Extractor::Json { path, .. }) => path.as_str().to_string(),
        other => panic!("{}: no json extractor {var}: {other:?}", s.name),
    }
}

#[test]
fn openapi_links_come_first() {
    let (out, plan) = compile("links.yaml");
    let steps = smoke(&plan);
    let create = step(steps, "create_widget");
    assert_eq!(json_path(create, "handle"), "$.uid");
    assert_eq!(
        step(steps, "fetch_widget").request.url.source(),
        "{{ base_url }}/widgets/{{ handle }}"
    );
    assert!(
        out.yaml.contains("# link `GetWidget` of createWidget"),
        "{}",
        out.yaml
    );
    // Server variables are substituted.
    assert_eq!(
        plan.vars["base_url"].to_json(),
        "https://widgets.example/api"
    );
}

#[test]
fn openapi_location_header_feeds_the_item_path() {
    let (out, plan) = compile("location.yaml");
    let steps = smoke(&plan);
    let create = step(steps, "create_pet");
    assert!(
        matches!(create.extract.get("pet_location"), Some(Extractor::Header(h)) if h == "Location"),
        "{}",
        out.yaml
    );
    assert_eq!(
        step(steps, "get_pet").request.url.source(),
        "{{ base_url }}/pets/{{ pet_location | split('/') | last }}"
    );
}

#[test]
fn openapi_pet_id_from_post_pets_and_crud_order() {
    let (out, plan) = compile_with(
        "pets.yaml",
        OpenApiOptions {
            base_url: Some("http://127.0.0.1:4010/".into()),
            ..Default::default()
        },
    );
    assert_eq!(plan.vars["base_url"].to_json(), "http://127.0.0.1:4010");
    let crud = plan
        .scenarios
        .iter()
        .find(|s| s.name == "crud_pet")
        .expect("crud_pet");
    let names: Vec<&str> = crud.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "create_pet",
            "get_pet",
            "list_pets",
            "update_pet",
            "delete_pet"
        ]
    );
    assert_eq!(json_path(&crud.steps[0], "pet_id"), "$.id");
    assert_eq!(
        crud.steps[1].request.url.source(),
        "{{ base_url }}/pets/{{ pet_id }}"
    );
    // Unique values in creates; readOnly `id` never sent.
    let Some(Body::Json(body)) = &crud.steps[0].request.body else {
        panic!("json body")
    };
    let body = body.to_json();
    assert!(
        body["email"].as_str().unwrap().contains("{{ uuid() }}@"),
        "{body}"
    );
    assert!(body.get("id").is_none());
    // Status and schema checks, recursion capped.
    assert!(out.yaml.contains("- status: 201"));
    assert!(out.yaml.contains("- schema: {\"allOf\""), "{}", out.yaml);
    assert!(
        out.report
            .to_string()
            .contains("5 found, 5 covered, 0 skipped"),
        "{}",
        out.report
    );
}

#[test]
fn openapi_nested_id() {
    let (_, plan) = compile("nested.yaml");
    let steps = smoke(&plan);
    assert_eq!(
        json_path(step(steps, "create_project"), "project_id"),
        "$.data.id"
    );
    assert_eq!(
        step(steps, "get_project").request.url.source(),
        "{{ base_url }}/projects/{{ project_id }}"
    );
}

#[test]
fn openapi_token_feeds_bearer() {
    let (out, plan) = compile("token.yaml");
    let steps = smoke(&plan);
    let login = step(steps, "login");
    assert_eq!(json_path(login, "token"), "$.access_token");
    assert!(matches!(&login.request.body, Some(Body::Form(f)) if f["username"].source() == "ada"));
    assert!(login.request.headers.is_empty());
    let me = step(steps, "me");
    assert_eq!(
        me.request.headers["Authorization"].source(),
        "Bearer {{ token }}"
    );
    let li = steps.iter().position(|s| s.name == "login").unwrap();
    let mi = steps.iter().position(|s| s.name == "me").unwrap();
    assert!(li < mi, "{}", out.yaml);
}

#[test]
fn openapi_api_key_in_query_swagger2_params() {
    let (out, plan) = compile("apikey-query.yaml");
    assert_eq!(
        plan.vars["base_url"].to_json(),
        "https://api.example.com/v2"
    );
    let steps = smoke(&plan);
    let search = step(steps, "search");
    assert_eq!(search.request.query["api_key"].source(), "{{ key }}");
    assert_eq!(search.request.query["q"].source(), "shoes");
    assert_eq!(search.request.query["tags"].source(), "example");
    assert!(search.request.headers.contains_key("X-Request-Id"));
    assert!(plan.secrets.contains(&"key".to_string()));
    assert!(out.yaml.contains("env('KEY', 'test-api-key')"));
    let upload = step(steps, "upload");
    assert_eq!(
        upload.request.headers["Cookie"].source(),
        "sid={{ session }}"
    );
    assert!(
        matches!(&upload.request.body, Some(Body::Multipart(m)) if m.contains_key("file") && m.contains_key("note"))
    );
}

#[test]
fn openapi_relative_refs_recursion_and_30_keywords() {
    let (out, plan) = compile_with(
        "split/main.yaml",
        OpenApiOptions {
            flows: vec![Flow::Smoke],
            name: Some("split".into()),
            ..Default::default()
        },
    );
    assert_eq!(plan.name, "split");
    assert_eq!(plan.scenarios.len(), 1);
    let s = &plan.scenarios[0].steps[0];
    let Some(Body::Json(body)) = &s.request.body else {
        panic!()
    };
    // The pattern-generated label satisfies ^[a-z]{3}-[0-9]{2}$; readOnly id is not sent.
    let label = body.to_json()["label"].as_str().unwrap().to_string();
    assert!(
        regex::Regex::new("^[a-z]{3}-[0-9]{2}")
            .unwrap()
            .is_match(&label),
        "{label}"
    );
    assert!(out
        .bodies
        .iter()
        .all(|b| jsonschema::is_valid(&b.schema, &b.sample)));
}

#[test]
fn openapi_operations_filter() {
    let re = regex::Regex::new("^getPet$").unwrap();
    let (out, plan) = compile_with(
        "pets.yaml",
        OpenApiOptions {
            operations: Some(re),
            flows: vec![Flow::Smoke],
            ..Default::default()
        },
    );
    let names: Vec<&str> = plan.scenarios[0]
        .steps
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["create_pet", "get_pet"]); // the producer is pulled in
    assert!(out
        .report
        .to_string()
        .contains("not selected by --operations"));
}

#[test]
fn openapi_errors_are_clear() {
    let e = compile_spec(&fixture("broken.yaml"), &OpenApiOptions::default()).unwrap_err();
    assert!(matches!(e, OpenApiError::Syntax { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("broken.yaml:") && msg.contains(':'), "{msg}");
    let e = compile_spec(&fixture("missing.yaml"), &OpenApiOptions::default()).unwrap_err();
    assert!(e.to_string().contains("missing.yaml: cannot read"), "{e}");
    let e = compile_spec(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"),
        &OpenApiOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("Cargo.toml"), "{e}");
    // Integers beyond 64 bits do not crash.
    let (_, plan) = compile("bigint.yaml");
    assert_eq!(plan.scenarios.len(), 1);
}

#[test]
fn openapi_detection() {
    assert!(looks_like_openapi(
        &serde_json::json!({"openapi": "3.1.0", "info": {}, "paths": {}})
    ));
    assert!(looks_like_openapi(
        &serde_json::json!({"swagger": 2.0, "paths": {}})
    ));
    assert!(!looks_like_openapi(
        &serde_json::json!({"log": {"entries": []}})
    ));
}
