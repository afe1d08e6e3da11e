//! The embedded OpenAPI document covers every route, is internally consistent,
//! and its response schemas match what the server actually returns.

use reqwest::Client;
use serde_json::{json, Value};
use throng_shop::{route_list, spawn, ShopOptions};

fn spec() -> Value {
    serde_json::from_str(include_str!("../openapi.json")).expect("openapi.json parses")
}

/// Turns `{"$ref": "#/components/schemas/X"}` into the schema it points at.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let ptr = r.strip_prefix('#').expect("local ref");
            resolve(
                doc,
                doc.pointer(ptr)
                    .unwrap_or_else(|| panic!("dangling $ref {r}")),
            )
        }
        None => v,
    }
}

#[test]
fn document_is_openapi_3_and_covers_every_route() {
    let doc = spec();
    assert!(doc["openapi"].as_str().expect("openapi").starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    let mut expected = 0;
    for (method, path) in route_list() {
        if path.starts_with("/admin/") {
            assert!(!paths.contains_key(path), "{path} is internal");
            continue;
        }
        expected += 1;
        let op = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from openapi.json"))[method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} missing from openapi.json");
    }
    let documented: usize = paths
        .values()
        .map(|p| p.as_object().expect("path item").len())
        .sum();
    assert_eq!(
        documented, expected,
        "openapi.json documents routes the router lacks"
    );
}

#[test]
fn operations_are_complete_and_links_resolve() {
    let doc = spec();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    let mut op_ids = std::collections::HashSet::new();
    let mut links = Vec::new();
    let protected = [
        "/users/me",
        "/auth/logout",
        "/cart",
        "/cart/items",
        "/cart/items/{item_id}",
        "/checkout",
        "/orders",
        "/orders/{id}",
    ];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} lacks operationId"));
            assert!(op_ids.insert(id.to_owned()), "duplicate operationId {id}");
            let secured = op.get("security").is_some();
            assert_eq!(
                secured,
                protected.contains(&path.as_str()),
                "security on {method} {path}"
            );
            if secured {
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path} lacks 401"
                );
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert!(
                    p.get("example").is_some(),
                    "parameter {} of {path} lacks an example",
                    p["name"]
                );
            }
            if let Some(rb) = op.get("requestBody") {
                assert!(
                    rb["content"]["application/json"]["example"].is_object(),
                    "{path} body lacks example"
                );
            }
            for (code, resp) in op["responses"].as_object().expect("responses") {
                for (name, link) in resp
                    .get("links")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    links.push((format!("{method} {path} {code} {name}"), link.clone()));
                }
            }
        }
    }
    for (at, link) in &links {
        let target = link["operationId"].as_str().expect("link operationId");
        assert!(op_ids.contains(target), "{at} links to unknown {target}");
    }
    let text = serde_json::to_string(&doc).expect("ser");
    assert!(text.contains("$response.body#/item/id"));
    assert!(text.contains("$response.body#/order_id"));
    assert!(text.contains("$response.body#/token"));
    // Every $ref resolves.
    fn walk(doc: &Value, v: &Value) {
        match v {
            Value::Object(m) => {
                if m.contains_key("$ref") {
                    resolve(doc, v);
                }
                m.values().for_each(|c| walk(doc, c));
            }
            Value::Array(a) => a.iter().for_each(|c| walk(doc, c)),
            _ => {}
        }
    }
    walk(&doc, &doc);
}

/// A small JSON Schema check covering the keywords the document uses.
fn validate(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => true,
        };
        if !ok {
            return Err(format!("{at}: expected {t}, got {v}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            return Err(format!("{at}: {v} not in {e:?}"));
        }
    }
    for (kw, cmp) in [("minimum", 1.0), ("maximum", -1.0)] {
        if let (Some(lim), Some(x)) = (schema.get(kw).and_then(Value::as_f64), v.as_f64()) {
            if (x - lim) * cmp < -1e-9 {
                return Err(format!("{at}: {x} violates {kw} {lim}"));
            }
        }
    }
    for r in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let k = r.as_str().expect("required name");
        if v.get(k).is_none() {
            return Err(format!("{at}: missing required {k} in {v}"));
        }
    }
    for (k, s) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(x) = v.get(k) {
            validate(doc, s, x, &format!("{at}.{k}"))?;
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(doc, items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn responses_match_their_schemas() {
    let doc = spec();
    let shop = spawn(ShopOptions::default());
    let http = Client::new();
    let base = shop.base_url();
    let mut checked = 0;

    // (method, template, concrete path, token?, body)
    let mut call = async |method: &str,
                          template: &str,
                          path: &str,
                          token: Option<&str>,
                          body: Option<Value>|
           -> Value {
        let mut req = http.request(method.parse().expect("method"), format!("{base}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16().to_string();
        let ctype = resp.headers()["content-type"]
            .to_str()
            .expect("ctype")
            .to_owned();
        let text = resp.text().await.expect("text");
        let op = &doc["paths"][template][method.to_lowercase()];
        let range = format!("{}XX", &status[..1]);
        let r = op["responses"]
            .get(&status)
            .or_else(|| op["responses"].get(&range));
        let r = r.unwrap_or_else(|| panic!("{method} {path}: status {status} undocumented"));
        let media = ctype.split(';').next().expect("media").trim();
        let content = &r["content"][media];
        assert!(
            content.is_object(),
            "{method} {path} {status}: {media} undocumented"
        );
        let v: Value = if media == "application/json" {
            serde_json::from_str(&text).expect("json body")
        } else {
            Value::String(text)
        };
        validate(
            &doc,
            &content["schema"],
            &v,
            &format!("{method} {path} {status}"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        checked += 1;
        v
    };

    for (t, p) in [
        ("/", "/"),
        ("/static/app.js", "/static/app.js"),
        ("/images/{file}", "/images/prod-3.svg"),
        ("/images/{file}", "/images/nope.svg"),
        ("/openapi.json", "/openapi.json"),
        ("/health", "/health"),
        ("/status", "/status"),
        ("/metrics", "/metrics"),
        ("/products", "/products?limit=100&page=2"),
        ("/products", "/products?page=0"),
        ("/products/{id}", "/products/prod-7"),
        ("/products/{id}", "/products/x"),
        ("/bytes/{n}", "/bytes/100?format=json"),
        ("/bytes/{n}", "/bytes/100?format=xml"),
        ("/bytes/{n}", "/bytes/100"),
        ("/bytes/{n}", "/bytes/x"),
        ("/csv", "/csv?rows=5"),
        ("/html", "/html"),
        ("/delay/{ms}", "/delay/1"),
        ("/delay/{ms}", "/delay/x"),
        ("/delay/random", "/delay/random?max=5"),
        ("/error/{code}", "/error/418"),
        ("/error/{code}", "/error/503"),
        ("/error/{code}", "/error/200"),
        ("/stream", "/stream?events=2&interval_ms=0"),
        ("/stream", "/stream?events=x"),
    ] {
        call("GET", t, p, None, None).await;
    }

    let reg = call(
        "POST",
        "/auth/register",
        "/auth/register",
        None,
        Some(json!({"email": "spec@example.com", "password": "pw", "name": "Spec"})),
    )
    .await;
    call(
        "POST",
        "/auth/register",
        "/auth/register",
        None,
        Some(json!({"email": "spec@example.com", "password": "pw", "name": "Spec"})),
    )
    .await;
    call(
        "POST",
        "/auth/register",
        "/auth/register",
        None,
        Some(json!({"email": "x"})),
    )
    .await;
    call(
        "POST",
        "/auth/login",
        "/auth/login",
        None,
        Some(json!({"email": "spec@example.com", "password": "bad"})),
    )
    .await;
    let login = call(
        "POST",
        "/auth/login",
        "/auth/login",
        None,
        Some(json!({"email": "spec@example.com", "password": "pw"})),
    )
    .await;
    let token = reg["token"].as_str().expect("token").to_owned();
    let t = Some(token.as_str());
    call("GET", "/users/me", "/users/me", t, None).await;
    call("GET", "/users/me", "/users/me", None, None).await;
    let cart = call("GET", "/cart", "/cart", t, None).await;
    let added = call(
        "POST",
        "/cart/items",
        "/cart/items",
        t,
        Some(json!({"product_id": "prod-9", "quantity": 2})),
    )
    .await;
    call(
        "POST",
        "/cart/items",
        "/cart/items",
        t,
        Some(json!({"product_id": "nope"})),
    )
    .await;
    let item = added["item"]["id"].as_str().expect("item").to_owned();
    let item_path = format!("/cart/items/{item}");
    call(
        "PUT",
        "/cart/items/{item_id}",
        &item_path,
        t,
        Some(json!({"quantity": 3})),
    )
    .await;
    call(
        "PUT",
        "/cart/items/{item_id}",
        "/cart/items/item-0",
        t,
        Some(json!({"quantity": 3})),
    )
    .await;
    call(
        "POST",
        "/cart/items",
        "/cart/items",
        t,
        Some(json!({"product_id": "prod-10"})),
    )
    .await;
    call("DELETE", "/cart/items/{item_id}", &item_path, t, None).await;
    call("DELETE", "/cart/items/{item_id}", &item_path, t, None).await;
    let checkout = |card: &str| {
        json!({
            "cart_id": cart["id"], "payment": {"method": "card", "card_token": card},
            "shipping_address": {"street": "s", "city": "c", "state": "st", "zip": "z", "country": "US"},
        })
    };
    call(
        "POST",
        "/checkout",
        "/checkout",
        t,
        Some(checkout("tok_bad")),
    )
    .await;
    let placed = call(
        "POST",
        "/checkout",
        "/checkout",
        t,
        Some(checkout("tok_amex")),
    )
    .await;
    call(
        "POST",
        "/checkout",
        "/checkout",
        t,
        Some(checkout("tok_visa")),
    )
    .await;
    let order_path = format!("/orders/{}", placed["order_id"].as_str().expect("order"));
    call("GET", "/orders/{id}", &order_path, t, None).await;
    call("GET", "/orders/{id}", "/orders/order-999", t, None).await;
    call("GET", "/orders", "/orders", t, None).await;
    call("DELETE", "/cart", "/cart", t, None).await;
    call("POST", "/auth/logout", "/auth/logout", t, None).await;
    call("GET", "/cart", "/cart", t, None).await;
    let _ = login;
    assert!(checked >= 50, "checked {checked}");
}
