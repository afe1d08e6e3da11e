//! Arazzo workflows compile into scenarios against their OpenAPI sources: the Redocly
//! museum workflow from the shared corpus (snapshot), and handwritten fixtures that cover
//! runtime expressions, criteria, outputs, inputs, `dependsOn` and the warnings for what is
//! not supported.

use std::path::{Path, PathBuf};

use throng_compiler::openapi::{compile_spec, OpenApiCompiled, OpenApiOptions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn compile(path: &Path) -> OpenApiCompiled {
    let opts = OpenApiOptions {
        base_url: Some("http://127.0.0.1:8080".into()),
        ..Default::default()
    };
    compile_spec(path, &opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The YAML and report with the machine-specific directory replaced.
fn stable(text: &str, dir: &Path, name: &str) -> String {
    text.replace(&dir.display().to_string(), name)
}

#[test]
fn museum_arazzo_compiles() {
    let dir = repo().join("../shared/corpus/openapi");
    let out = compile(&dir.join("museum.arazzo.yaml"));
    throng_ir::load_str(&out.yaml, "out.yaml", Path::new(".")).unwrap();
    let r = &out.report;
    let scen: Vec<(&str, usize)> = r.scenarios.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    assert_eq!(scen, [("get-museum-hours", 1), ("events-crud", 5)]);
    assert_eq!(r.covered(), 6);
    assert!(out
        .yaml
        .contains("url: \"{{ base_url }}/special-events/{{ create_event_created_event_id }}\""));
    assert!(out
        .yaml
        .contains("url: \"{{ base_url }}/special-events/{{ update_event_updated_event_id }}\""));
    assert!(out
        .yaml
        .contains("create_event_created_event_id: {json: \"$.eventId\"}"));
    assert!(out
        .yaml
        .contains("{json: \"$.name\", equals: \"Orca Identification and Analysis\"}"));
    assert!(r.warnings.iter().any(|w| w.contains("buy-ticket")
        && w.contains("another workflow")
        && w.contains("skipped")));
    insta::assert_snapshot!(
        "arazzo_museum",
        format!(
            "{}\n---- report ----\n{}",
            stable(&out.yaml, &dir, "corpus"),
            stable(&r.to_string(), &dir, "corpus")
        )
    );
}

#[test]
fn arazzo_expressions_map_to_templates_and_checks() {
    let dir = repo().join("fixtures/openapi/arazzo");
    let out = compile(&dir.join("expressions.arazzo.yaml"));
    let plan = throng_ir::load_str(&out.yaml, "out.yaml", Path::new(".")).unwrap();
    assert_eq!(plan.scenarios.len(), 2);
    let y = &out.yaml;
    for want in [
        // inputs -> vars: default, example, generated; secrets by name/format
        "username: \"alice\"",
        "password: \"s3cret\"",
        "limit: 5",
        "secrets: [password]",
        // payload string parsed as JSON with embedded expressions
        "json: {\"username\":\"{{ username }}\",\"password\":\"{{ password }}\"}",
        // outputs -> extractors
        "login_token: {json: \"$.token\"}",
        "login_session: {header: \"X-Session\"}",
        "search_first: {json: \"$.items[0]\"}",
        // criteria
        "- {json: \"$.token\"}",
        "- {header: \"X-Session\", matches: \"^[a-z0-9]+$\"}",
        "- status: 2xx",
        "- {json: \"$.items[?@.price > 1]\"}",
        "- status: [201, 200]",
        "- {json: \"$.name\", equals: \"{{ query }}-copy\"}",
        "- {json: \"$.price\", ge: 3}",
        "- {json: \"$.id\", equals: \"{{ create_id }}\"}",
        // parameters: query literal with style, $inputs, $workflows, embedded
        "\"q\": \"{{ query }}\"",
        "\"tags\": \"a,b\"",
        "\"Authorization\": \"Bearer {{ login_token }}\"",
        // replacements: a pointer into a step output
        "\"id\": \"{{ search_first[\\\"owner\\\"][\\\"id\\\"] }}\"",
        "\"price\": \"{{ price }}\"",
        // $steps output in a path
        "url: \"{{ base_url }}/items/{{ create_id }}\"",
        // an unresolved path parameter falls back to the spec's value
        "url: \"{{ base_url }}/items/1\"",
    ] {
        assert!(y.contains(want), "missing `{want}` in\n{y}");
    }
    // dependsOn: the items scenario logs in first.
    let items = plan.scenarios.iter().find(|s| s.name == "items").unwrap();
    let names: Vec<&str> = items.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["login", "search", "create", "read", "remove"]);
    let w = out.report.warnings.join("\n");
    for want in [
        "output `code` = `$statusCode`",
        "xpath: not supported",
        "`onFailure` actions ignored",
        "replacement target `/missing/field`",
        "`!=` on $statusCode is not supported",
        "calls workflow `login`: steps that run another workflow are not supported yet; skipped",
        "operationId `noSuchOperation` is not in the source descriptions; skipped",
        "no input `username` in the workflow's `inputs`",
    ] {
        assert!(w.contains(want), "missing warning `{want}` in\n{w}");
    }
    insta::assert_snapshot!(
        "arazzo_expressions",
        format!(
            "{}\n---- report ----\n{}",
            stable(&out.yaml, &dir, "fixtures"),
            stable(&out.report.to_string(), &dir, "fixtures")
        )
    );
}

#[test]
fn arazzo_errors_are_reported_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let no_workflows = write(
        "a.arazzo.yaml",
        "arazzo: 1.0.0\ninfo: {title: t, version: '1'}\nsourceDescriptions: []\nworkflows: []\n",
    );
    let e = compile_spec(&no_workflows, &OpenApiOptions::default()).unwrap_err();
    assert!(e.to_string().contains("non-empty `workflows`"), "{e}");
    let missing = write(
        "b.arazzo.yaml",
        "arazzo: 1.0.0\ninfo: {title: t, version: '1'}\nsourceDescriptions: [{name: api, type: openapi, url: nowhere.yaml}]\nworkflows: [{workflowId: w, steps: [{stepId: s, operationId: x}]}]\n",
    );
    let e = compile_spec(&missing, &OpenApiOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("source `api`: cannot find `nowhere.yaml`"),
        "{e}"
    );
    // Every step unusable: an error naming why, not an empty scenario file.
    write(
        "api.yaml",
        "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n      responses: {'200': {description: ok}}\n",
    );
    let nothing = write(
        "c.arazzo.yaml",
        "arazzo: 1.0.0\ninfo: {title: t, version: '1'}\nsourceDescriptions: [{name: api, url: api.yaml}]\nworkflows: [{workflowId: w, steps: [{stepId: s, operationPath: '#/paths/~1b/get'}, {stepId: t}]}]\n",
    );
    let e = compile_spec(&nothing, &OpenApiOptions::default()).unwrap_err();
    assert!(e.to_string().contains("no GET /b"), "{e}");
    // A mix of odd criteria and outputs compiles with warnings.
    let odd = write(
        "d.arazzo.yaml",
        r#"arazzo: 1.0.0
info: {title: t, version: '1'}
sourceDescriptions: [{name: api, url: api.yaml}]
workflows:
  - workflowId: w
    dependsOn: [w, ghost, $sourceDescriptions.other.workflows.x]
    successActions: [{name: end, type: end}]
    steps:
      - stepId: s
        operationId: api.a
        parameters: [{name: extra, in: query, value: {$steps.s.outputs.none}}, {reference: $components.parameters.nope}]
        successCriteria:
          - condition: $statusCode == 200 && $response.body#/a < 'x'
          - condition: $statusCode >= 200 && $statusCode < 250
          - condition: $inputs.a == 1
          - {context: $response.body#/a, condition: $.b == 1, type: jsonpath}
          - {context: $url, condition: x, type: regex}
          - {condition: "$[?", type: jsonpath, context: $response.body}
          - {type: simple}
        outputs: {u: $url, h: $request.header.x, n: 3}
"#,
    );
    let out = compile_spec(&odd, &OpenApiOptions::default()).unwrap();
    throng_ir::load_str(&out.yaml, "out.yaml", Path::new(".")).unwrap();
    assert!(
        out.report.warnings.len() >= 10,
        "{:#?}",
        out.report.warnings
    );
}
