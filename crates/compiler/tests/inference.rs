//! Correlation inference on small handwritten HARs (`fixtures/har/unit/`): each file
//! isolates one pattern the compiler must recognise.

use std::path::{Path, PathBuf};

use throng_compiler::{compile, CompileOptions, Compiled};
use throng_ir::{Body, JsonTemplate};

fn unit(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/har/unit")
        .join(name)
}

fn compiled(name: &str) -> Compiled {
    let opts = CompileOptions {
        har_label: Some(format!("unit/{name}")),
        ..CompileOptions::default()
    };
    let c = compile(&unit(name), &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    throng_ir::load_str(&c.yaml, name, Path::new("."))
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", c.yaml));
    c
}

fn plan(c: &Compiled) -> throng_ir::Plan {
    throng_ir::load_str(&c.yaml, "t", Path::new(".")).unwrap()
}

#[test]
fn token_in_json_body_becomes_authorization_header() {
    let c = compiled("token-to-header.har");
    assert!(c.yaml.contains("token: {json: $.token}"), "{}", c.yaml);
    assert!(
        c.yaml.contains("authorization: \"Bearer {{ token }}\""),
        "{}",
        c.yaml
    );
    assert!(
        !c.yaml.contains("eyJhbGciOiJIUzI1NiJ9"),
        "recorded token must not stay: {}",
        c.yaml
    );
    assert_eq!(c.report.correlations.len(), 1);
    assert_eq!(c.report.correlations[0].from_step, "POST /api/login");
}

#[test]
fn id_in_json_goes_into_url_path() {
    let c = compiled("id-to-path.har");
    assert!(
        c.yaml.contains("project_id: {json: $.project.id}"),
        "{}",
        c.yaml
    );
    assert!(
        c.yaml
            .contains("url: \"{{ base_url }}/api/projects/{{ project_id }}/tasks\""),
        "{}",
        c.yaml
    );
    assert!(
        c.yaml
            .contains("name: \"GET /api/projects/{project_id}/tasks\""),
        "{}",
        c.yaml
    );
}

#[test]
fn numeric_id_goes_into_json_body_and_stays_a_number() {
    let c = compiled("numeric-id-to-body.har");
    assert!(
        c.yaml.contains("order_id: {json: $.order_id}"),
        "{}",
        c.yaml
    );
    let p = plan(&c);
    let step = &p.scenarios[0].steps[1];
    let Some(Body::Json(JsonTemplate::Object(obj))) = &step.request.body else {
        panic!("json body expected")
    };
    match &obj["order_id"] {
        // A lone expression renders to the extracted value's native type (a number).
        JsonTemplate::String(t) => assert_eq!(t.as_expression(), Some("order_id")),
        other => panic!("order_id not templated: {other:?}"),
    }
    assert_eq!(obj["amount"], JsonTemplate::Number(1999.into()));
}

#[test]
fn csrf_from_hidden_input_goes_into_form_field() {
    let c = compiled("csrf-hidden-input.har");
    assert!(
        c.yaml.contains(
            r#"authenticity_token: {css: "input[name=\"authenticity_token\"]", attr: value}"#
        ),
        "{}",
        c.yaml
    );
    assert!(
        c.yaml
            .contains("authenticity_token: \"{{ authenticity_token }}\""),
        "{}",
        c.yaml
    );
    assert!(!c.yaml.contains("Zq8+tW3x"), "{}", c.yaml);
}

#[test]
fn csrf_from_meta_tag_goes_into_header() {
    let c = compiled("csrf-meta-header.har");
    assert!(
        c.yaml
            .contains(r#"csrf_token: {css: "meta[name=\"csrf-token\"]", attr: content}"#),
        "{}",
        c.yaml
    );
    assert!(
        c.yaml.contains("x-csrf-token: \"{{ csrf_token }}\""),
        "{}",
        c.yaml
    );
}

#[test]
fn location_header_feeds_the_next_url() {
    let c = compiled("location-next-url.har");
    assert!(
        c.yaml.contains("location: {header: location}"),
        "{}",
        c.yaml
    );
    assert!(
        c.yaml.contains("url: \"{{ base_url }}{{ location }}\""),
        "{}",
        c.yaml
    );
}

#[test]
fn first_producer_wins_and_echoes_do_not_count() {
    let c = compiled("first-producer-echo.har");
    // `sess_...` appears in two responses: the creation (POST /api/sessions) is the origin.
    assert_eq!(
        c.report.correlations.len(),
        1,
        "{:?}",
        c.report.correlations
    );
    let k = &c.report.correlations[0];
    assert_eq!(
        (k.var.as_str(), k.from_step.as_str(), k.extractor.as_str()),
        ("session_id", "POST /api/sessions", "$.session_id")
    );
    // The echoed note was sent by the client first, so /api/echo is not a producer of it.
    assert!(!c.yaml.contains("json: $.echo.note"), "{}", c.yaml);
    let steps = &plan(&c).scenarios[0].steps;
    assert!(steps[0].extract.is_empty());
    assert!(steps[1].extract.contains_key("session_id"));
    assert!(steps[2].extract.is_empty());
}

#[test]
fn list_item_id_feeds_the_next_url_by_predicate_not_index() {
    let c = compiled("list-item-to-url.har");
    assert!(
        c.yaml
            .contains(r#"product_id: {json: "$.products[?@.name=='Mouse'].id"}"#),
        "{}",
        c.yaml
    );
    assert!(
        c.yaml
            .contains("url: \"{{ base_url }}/api/products/{{ product_id }}\""),
        "{}",
        c.yaml
    );
}

#[test]
fn signup_identity_is_unique_per_iteration_and_reused_by_login() {
    let c = compiled("signup-login.har");
    assert!(
        c.yaml.contains("email: \"ann-{{ uuid() }}@example.com\""),
        "{}",
        c.yaml
    );
    assert_eq!(
        c.yaml.matches("email: '{{ email }}'").count(),
        2,
        "{}",
        c.yaml
    );
    assert!(!c.yaml.contains("ann.smith@example.com\""), "{}", c.yaml);
    assert!(!c.yaml.contains("Corr3ct-Horse!"));
    assert_eq!(
        c.env,
        vec![("PASSWORD".to_string(), "Corr3ct-Horse!".to_string())]
    );
    // Client-generated values: a cache-busting timestamp and a request UUID.
    assert!(c.yaml.contains("_: \"{{ timestamp() }}\""), "{}", c.yaml);
    assert!(
        c.yaml.contains("x-request-id: \"{{ uuid() }}\""),
        "{}",
        c.yaml
    );
    // What the user typed becomes a variable with the recorded value.
    assert!(c.yaml.contains("q: red shoes"), "{}", c.yaml);
    assert!(
        c.yaml.contains("access_token: {json: $.access_token}"),
        "{}",
        c.yaml
    );
}

#[test]
fn secrets_go_to_env_and_literal_braces_are_escaped() {
    let c = compiled("secrets-and-literals.har");
    assert!(!c.yaml.contains("sk_live_Zx81Qm02LpVt55aa"));
    assert!(!c.yaml.contains("pw-Kx7-recorded"));
    assert!(
        c.yaml
            .contains("authorization: \"Bearer {{ bearer_token }}\""),
        "{}",
        c.yaml
    );
    assert!(
        c.yaml.contains("secrets: [bearer_token, password]"),
        "{}",
        c.yaml
    );
    assert!(c.env.contains(&(
        "BEARER_TOKEN".to_string(),
        "sk_live_Zx81Qm02LpVt55aa".to_string()
    )));
    assert!(c
        .env
        .contains(&("PASSWORD".to_string(), "pw-Kx7-recorded".to_string())));
    assert!(
        c.yaml.contains("{% raw %}Hello {{ name }}{% endraw %}"),
        "{}",
        c.yaml
    );
}

#[test]
fn every_unit_fixture_compiles_deterministically() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/har/unit");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 8);
    for n in names {
        assert_eq!(compiled(&n).yaml, compiled(&n).yaml, "{n}");
    }
}

/// A HAR of GETs to `https://app.example.test`, one per `(path, accept-encoding)`.
fn har_with_encodings(requests: &[(&str, Option<&str>)]) -> String {
    let entries: Vec<serde_json::Value> = requests
        .iter()
        .enumerate()
        .map(|(i, (path, enc))| {
            let mut headers =
                vec![serde_json::json!({"name": "Accept", "value": "application/json"})];
            if let Some(enc) = enc {
                headers.push(serde_json::json!({"name": "Accept-Encoding", "value": enc}));
            }
            serde_json::json!({
                "startedDateTime": format!("2024-05-01T10:00:0{i}.000Z"),
                "time": 10,
                "request": {"method": "GET", "url": format!("https://app.example.test{path}"),
                    "httpVersion": "HTTP/2", "headers": headers, "queryString": [],
                    "cookies": [], "headersSize": -1, "bodySize": -1},
                "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/2",
                    "headers": [{"name": "Content-Type", "value": "application/json"},
                                {"name": "Content-Encoding", "value": "br"}],
                    "cookies": [],
                    "content": {"size": 2, "mimeType": "application/json", "text": "{}"},
                    "redirectURL": "", "headersSize": -1, "bodySize": -1},
                "cache": {}, "timings": {"send": 1, "wait": 8, "receive": 1}
            })
        })
        .collect();
    serde_json::json!({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"},
        "entries": entries}})
    .to_string()
}

fn header<'a>(
    headers: &'a indexmap::IndexMap<String, throng_ir::Template>,
    name: &str,
) -> Option<&'a str> {
    headers.get(name).map(|t| t.source())
}

#[test]
fn accept_encoding_is_kept_as_recorded() {
    // Sent alike by every step: once, in `defaults.headers`.
    let enc = "gzip, deflate, br, zstd";
    let har = har_with_encodings(&[("/a", Some(enc)), ("/b", Some(enc)), ("/c", Some(enc))]);
    let c = throng_compiler::compile_bytes(har.as_bytes(), "enc.har", &CompileOptions::default())
        .unwrap();
    let p = plan(&c);
    assert_eq!(
        header(&p.defaults.headers, "accept-encoding"),
        Some(enc),
        "{}",
        c.yaml
    );
    for s in &p.scenarios[0].steps {
        assert_eq!(
            header(&s.request.headers, "accept-encoding"),
            None,
            "{}",
            c.yaml
        );
    }

    // Different per step (or absent from one): on each step that sent it, as sent.
    let har = har_with_encodings(&[("/a", Some(enc)), ("/b", Some("identity")), ("/c", None)]);
    let c = throng_compiler::compile_bytes(har.as_bytes(), "enc.har", &CompileOptions::default())
        .unwrap();
    let p = plan(&c);
    assert_eq!(
        header(&p.defaults.headers, "accept-encoding"),
        None,
        "{}",
        c.yaml
    );
    let steps = &p.scenarios[0].steps;
    assert_eq!(
        header(&steps[0].request.headers, "accept-encoding"),
        Some(enc),
        "{}",
        c.yaml
    );
    assert_eq!(
        header(&steps[1].request.headers, "accept-encoding"),
        Some("identity"),
        "{}",
        c.yaml
    );
    assert_eq!(
        header(&steps[2].request.headers, "accept-encoding"),
        None,
        "{}",
        c.yaml
    );
}

#[test]
fn html_entity_next_to_a_multibyte_character_compiles() {
    // `&aaaaaaaaaaé;` in an attribute value: the entity decoder cut `é` in two (a panic).
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bad/html-entity-multibyte.har");
    let c = compile(&path, &CompileOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    plan(&c);
    assert!(c.yaml.contains("accept-encoding"), "{}", c.yaml);
}
