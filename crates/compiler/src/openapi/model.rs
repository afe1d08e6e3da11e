//! The operation index: every operation with merged parameters, its request body, its
//! documented success responses, links and security, and a classification.

use serde_json::{json, Value};

use super::load::deref;
use super::schema::{ref_name, schema_type, Schemas};

pub(crate) const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace", "query",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Create,
    Read,
    List,
    Update,
    Action,
    Delete,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Create => "create",
            Kind::Read => "read",
            Kind::List => "list",
            Kind::Update => "update",
            Kind::Action => "action",
            Kind::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub schema: Value,
    pub example: Option<Value>,
    pub style: Option<String>,
    pub explode: Option<bool>,
    /// For parameters described with `content`: the media type.
    pub content: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ReqBody {
    pub media: String,
    pub schema: Value,
    pub examples: Vec<Value>,
    pub required: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub name: String,
    /// operationId or a `(METHOD, path)` from an operationRef.
    pub target: LinkTarget,
    pub parameters: Vec<(String, Value)>,
    pub request_body: Option<Value>,
}

#[derive(Debug, Clone)]
pub(crate) enum LinkTarget {
    Id(String),
    Route(String, String),
}

#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub index: usize,
    pub id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub params: Vec<Param>,
    pub body: Option<ReqBody>,
    /// Documented success codes, as written (`200`, `2XX`).
    pub success: Vec<String>,
    /// Schema of the success responses when every one of them is JSON.
    pub response_schemas: Vec<Value>,
    /// The first JSON success schema, for outputs.
    pub output_schema: Option<Value>,
    pub location_header: bool,
    pub links: Vec<Link>,
    /// Security alternatives: each a list of (scheme, scopes); empty means none required.
    pub security: Vec<Vec<String>>,
    pub kind: Kind,
    pub resource: String,
    pub skip: Option<String>,
    pub no_redirect: bool,
}

impl Op {
    pub fn label(&self) -> String {
        format!("{} {} ({})", self.method, self.path, self.id)
    }
    pub fn param(&self, loc: &str, name: &str) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| p.location == loc && p.name == name)
    }
    pub fn path_params(&self) -> Vec<&Param> {
        self.params
            .iter()
            .filter(|p| p.location == "path")
            .collect()
    }
    /// The path as a collection + item pattern: `/pets/{id}` → (`/pets`, Some(`id`)).
    pub fn item_param(&self) -> Option<String> {
        let last = self.path.trim_end_matches('/').rsplit('/').next()?;
        last.strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .map(str::to_string)
    }
    pub fn is_login(&self) -> bool {
        let t = format!("{} {}", self.path, self.id).to_ascii_lowercase();
        self.method == "POST"
            && [
                "login",
                "signin",
                "sign-in",
                "sign_in",
                "session",
                "token",
                "authenticate",
            ]
            .iter()
            .any(|w| t.contains(w))
    }
    pub fn is_register(&self) -> bool {
        let t = format!("{} {}", self.path, self.id).to_ascii_lowercase();
        self.method == "POST"
            && (["register", "signup", "sign-up", "sign_up"]
                .iter()
                .any(|w| t.contains(w))
                || (segments(&self.path).last().is_some_and(|s| s == "users")
                    && !self.path.contains('{')))
    }
    pub fn is_logout(&self) -> bool {
        let t = format!("{} {}", self.path, self.id).to_ascii_lowercase();
        ["logout", "signout", "sign-out", "log-out", "revoke"]
            .iter()
            .any(|w| t.contains(w))
    }
}

/// Path segments without the leading `/api`, version segments and empty parts.
pub(crate) fn segments(path: &str) -> Vec<String> {
    let mut out: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    out.retain(|s| {
        let l = s.to_ascii_lowercase();
        !(l == "api"
            || l == "rest"
            || (l.starts_with('v')
                && l.len() > 1
                && l[1..].chars().all(|c| c.is_ascii_digit() || c == '.'))
            || l.chars().all(|c| c.is_ascii_digit() || c == '.'))
    });
    out
}

pub(crate) fn is_param_segment(s: &str) -> bool {
    s.starts_with('{') && s.ends_with('}')
}

/// English singular of a path segment, good enough for resource names.
pub(crate) fn singular(word: &str) -> String {
    let w = word.to_ascii_lowercase().replace('-', "_");
    if let Some(s) = w.strip_suffix("ies") {
        return format!("{s}y");
    }
    for suf in ["sses", "shes", "ches", "xes"] {
        if let Some(s) = w.strip_suffix(suf) {
            return format!("{s}{}", &suf[..suf.len() - 2]);
        }
    }
    if w.ends_with("ss") || w.ends_with("us") || w.ends_with("is") {
        return w;
    }
    w.strip_suffix('s').map(str::to_string).unwrap_or(w)
}

/// snake_case of an identifier (`petId` → `pet_id`, `Get Pets` → `get_pets`).
pub(crate) fn snake(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for ch in s.chars() {
        if ch.is_ascii_uppercase() {
            if prev_lower && !out.ends_with('_') {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
            prev_lower = false;
        } else if ch.is_ascii_alphanumeric() {
            out.push(ch);
            prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let t = out.trim_matches('_').to_string();
    if t.is_empty() {
        "value".into()
    } else if t.starts_with(|c: char| c.is_ascii_digit()) {
        format!("v_{t}")
    } else {
        t
    }
}

fn is_json(media: &str) -> bool {
    let m = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    m == "application/json"
        || m.ends_with("+json")
        || m == "*/*"
        || m == "application/*"
        || m == "text/json"
}

/// Builds the operation index in document order.
pub(crate) fn index(doc: &Value, warnings: &mut Vec<String>) -> Vec<Op> {
    let schemas = Schemas::new(doc);
    let mut ops = Vec::new();
    let global_security = security_list(doc.get("security"));
    // Webhooks are requests the API sends; they become operations on the receiver,
    // under `/webhooks/<name>`, used only when the document describes no paths.
    let mut entries: Vec<(String, &Value, bool)> = doc
        .get("paths")
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(k, v)| (k.clone(), v, false)).collect())
        .unwrap_or_default();
    if let Some(w) = doc.get("webhooks").and_then(Value::as_object) {
        for (name, item) in w {
            entries.push((
                format!("/webhooks/{}", name.replace(['{', '}', '/'], "_")),
                item,
                true,
            ));
        }
    }
    let has_paths = entries.iter().any(|(_, _, w)| !w);
    let mut used_ids = std::collections::HashSet::new();
    for (path, item, webhook) in &entries {
        let (path, webhook) = (path, *webhook);
        let item = deref(doc, item);
        let Some(item_obj) = item.as_object() else {
            continue;
        };
        let path_params: Vec<Value> = item_obj
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for method in METHODS {
            let Some(op) = item_obj.get(*method) else {
                continue;
            };
            let op = deref(doc, op);
            if !op.is_object() {
                continue;
            }
            let upper = method.to_ascii_uppercase();
            let mut id = op
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| snake(&format!("{method}_{path}")));
            if !used_ids.insert(id.clone()) {
                warnings.push(format!(
                    "operationId `{id}` is used twice; the second is renamed"
                ));
                id = snake(&format!("{method}_{path}"));
                used_ids.insert(id.clone());
            }
            // Parameters: path-level, overridden by operation-level (same name and location).
            let mut params: Vec<Param> = Vec::new();
            let op_params: Vec<Value> = op
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for raw in path_params.iter().chain(op_params.iter()) {
                let p = deref(doc, raw);
                let (Some(name), Some(loc)) = (
                    p.get("name").and_then(Value::as_str),
                    p.get("in").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let mut content = None;
                let mut schema = p.get("schema").cloned().unwrap_or(json!({}));
                let mut example = p
                    .get("example")
                    .cloned()
                    .or_else(|| first_example(doc, p.get("examples")));
                if let Some((media, m)) = p
                    .get("content")
                    .and_then(Value::as_object)
                    .and_then(|c| c.iter().next())
                {
                    content = Some(media.clone());
                    schema = m.get("schema").cloned().unwrap_or(json!({}));
                    example = example
                        .or_else(|| m.get("example").cloned())
                        .or_else(|| first_example(doc, m.get("examples")));
                }
                let param = Param {
                    name: name.to_string(),
                    location: loc.to_string(),
                    required: loc == "path"
                        || p.get("required").and_then(Value::as_bool).unwrap_or(false),
                    schema,
                    example,
                    style: p.get("style").and_then(Value::as_str).map(str::to_string),
                    explode: p.get("explode").and_then(Value::as_bool),
                    content,
                };
                params.retain(|q| !(q.name == param.name && q.location == param.location));
                params.push(param);
            }
            // Path templates without a declared parameter still need a value.
            for seg in path.split('/') {
                if let Some(n) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if !params.iter().any(|p| p.location == "path" && p.name == n) {
                        warnings.push(format!("{upper} {path}: path parameter `{n}` is not declared; a string is used"));
                        params.push(Param {
                            name: n.into(),
                            location: "path".into(),
                            required: true,
                            schema: json!({"type": "string"}),
                            example: None,
                            style: None,
                            explode: None,
                            content: None,
                        });
                    }
                }
            }
            let body = op.get("requestBody").map(|b| deref(doc, b)).and_then(|b| {
                let content = b.get("content")?.as_object()?;
                let pick = content
                    .keys()
                    .find(|k| is_json(k) && *k != "*/*")
                    .or_else(|| {
                        content
                            .keys()
                            .find(|k| k.starts_with("application/x-www-form-urlencoded"))
                    })
                    .or_else(|| {
                        content
                            .keys()
                            .find(|k| k.starts_with("multipart/form-data"))
                    })
                    .or_else(|| content.keys().find(|k| is_json(k)))
                    .or_else(|| content.keys().next())?;
                let m = &content[pick];
                let mut examples = Vec::new();
                if let Some(e) = m.get("example") {
                    examples.push(e.clone());
                }
                if let Some(e) = first_example(doc, m.get("examples")) {
                    examples.push(e);
                }
                Some(ReqBody {
                    media: pick.clone(),
                    schema: m.get("schema").cloned().unwrap_or(json!({})),
                    examples,
                    required: b.get("required").and_then(Value::as_bool).unwrap_or(false),
                })
            });
            // Responses.
            let mut success = Vec::new();
            let mut response_schemas = Vec::new();
            let mut all_json = true;
            let mut output_schema = None;
            let mut location_header = false;
            let mut links = Vec::new();
            let mut has_default = false;
            let mut redirect = Vec::new();
            if let Some(rs) = op.get("responses").and_then(Value::as_object) {
                for (code, r) in rs {
                    let r = deref(doc, r);
                    let c = code.to_ascii_uppercase();
                    if c == "DEFAULT" {
                        has_default = true;
                        continue;
                    }
                    if c.starts_with('3') {
                        redirect.push(c.clone());
                    }
                    if !c.starts_with('2') {
                        continue;
                    }
                    success.push(c.clone());
                    let content = r.get("content").and_then(Value::as_object);
                    match content {
                        Some(content) if !content.is_empty() => {
                            if content.keys().all(|k| is_json(k)) {
                                if let Some(s) = content.values().find_map(|m| m.get("schema")) {
                                    if !response_schemas.contains(s) {
                                        response_schemas.push(s.clone());
                                    }
                                    if output_schema.is_none() {
                                        output_schema = Some(s.clone());
                                    }
                                } else {
                                    all_json = false;
                                }
                            } else {
                                all_json = false;
                                if output_schema.is_none() {
                                    output_schema = content
                                        .iter()
                                        .find(|(k, _)| is_json(k))
                                        .and_then(|(_, m)| m.get("schema"))
                                        .cloned();
                                }
                            }
                        }
                        _ => all_json = false,
                    }
                    if let Some(h) = r.get("headers").and_then(Value::as_object) {
                        if h.keys().any(|k| k.eq_ignore_ascii_case("location")) {
                            location_header = true;
                        }
                    }
                    if let Some(ls) = r.get("links").and_then(Value::as_object) {
                        for (name, l) in ls {
                            let l = deref(doc, l);
                            let target = if let Some(i) =
                                l.get("operationId").and_then(Value::as_str)
                            {
                                LinkTarget::Id(i.to_string())
                            } else if let Some(r) = l.get("operationRef").and_then(Value::as_str) {
                                match parse_operation_ref(r) {
                                    Some((m, p)) => LinkTarget::Route(m, p),
                                    None => {
                                        warnings.push(format!("link `{name}`: operationRef `{r}` is not a local operation; ignored"));
                                        continue;
                                    }
                                }
                            } else {
                                continue;
                            };
                            let parameters = l
                                .get("parameters")
                                .and_then(Value::as_object)
                                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                                .unwrap_or_default();
                            links.push(Link {
                                name: name.clone(),
                                target,
                                parameters,
                                request_body: l.get("requestBody").cloned(),
                            });
                        }
                    }
                }
            }
            let mut skip = None;
            if webhook && has_paths {
                skip = Some("webhook: a request the API sends, not one it receives".to_string());
            }
            let mut no_redirect = false;
            if success.is_empty() && skip.is_none() {
                if op.get("responses").and_then(|r| r.get("101")).is_some() {
                    skip = Some(
                        "protocol upgrade (101): not an HTTP request/response exchange".to_string(),
                    );
                } else if !redirect.is_empty() {
                    success = redirect;
                    no_redirect = true;
                    all_json = false;
                } else if has_default {
                    success.push("2XX".into());
                    all_json = false;
                } else if op
                    .get("responses")
                    .is_none_or(|r| r.as_object().is_some_and(|m| m.is_empty()))
                {
                    warnings.push(format!(
                        "{upper} {path}: no responses documented; any 2xx is accepted"
                    ));
                    success.push("2XX".into());
                    all_json = false;
                } else {
                    skip = Some("no success (2xx) response is documented".to_string());
                }
            }
            if !all_json {
                response_schemas.clear();
            }
            if matches!(upper.as_str(), "OPTIONS" | "HEAD" | "TRACE" | "QUERY") && skip.is_none() {
                skip = Some(format!("{upper} is not exercised"));
            }
            let security = match op.get("security") {
                Some(s) => security_list(Some(s)),
                None => global_security.clone(),
            };
            let (kind, resource) = classify(&upper, path, output_schema.as_ref(), &schemas);
            ops.push(Op {
                index: ops.len(),
                id,
                method: upper,
                path: path.clone(),
                summary: op
                    .get("summary")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                params,
                body,
                success,
                response_schemas,
                output_schema,
                location_header,
                links,
                security,
                kind,
                resource,
                skip,
                no_redirect,
            });
        }
    }
    ops
}

fn first_example(doc: &Value, examples: Option<&Value>) -> Option<Value> {
    let ex = examples?;
    match ex {
        Value::Object(m) => {
            let first = deref(doc, m.values().next()?);
            first.get("value").cloned()
        }
        Value::Array(a) => a.first().cloned(),
        _ => None,
    }
}

/// Security alternatives as lists of scheme names; `[]` or `[{}]` means none.
fn security_list(v: Option<&Value>) -> Vec<Vec<String>> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .collect()
        })
        .unwrap_or_default()
}

fn parse_operation_ref(r: &str) -> Option<(String, String)> {
    let p = r.strip_prefix("#/paths/")?;
    let (path, method) = p.rsplit_once('/')?;
    let path = path.replace("~1", "/").replace("~0", "~");
    let path = path
        .replace("%7B", "{")
        .replace("%7D", "}")
        .replace("%7b", "{")
        .replace("%7d", "}");
    Some((method.to_ascii_uppercase(), path))
}

fn classify(method: &str, path: &str, output: Option<&Value>, schemas: &Schemas) -> (Kind, String) {
    let segs = segments(path);
    let last = segs.last().cloned().unwrap_or_default();
    let last_is_param = is_param_segment(&last);
    let literal: Vec<&String> = segs.iter().filter(|s| !is_param_segment(s)).collect();
    let parent_is_param = segs.len() >= 2 && is_param_segment(&segs[segs.len() - 2]);
    let returns_array = output.map(|s| {
        let r = schemas.resolve(s);
        schema_type(r).as_deref() == Some("array")
    });
    let resource_of =
        |seg: Option<&&String>| seg.map(|s| singular(s)).unwrap_or_else(|| "root".into());
    let plural = |s: &str| s.ends_with('s') && !s.ends_with("ss");
    match method {
        "GET" => {
            if last_is_param {
                (Kind::Read, resource_of(literal.last()))
            } else if returns_array == Some(true) || plural(&last) {
                (Kind::List, resource_of(literal.last()))
            } else {
                (Kind::Read, resource_of(literal.last()))
            }
        }
        "PUT" | "PATCH" => (Kind::Update, resource_of(literal.last())),
        "DELETE" => (Kind::Delete, resource_of(literal.last())),
        "POST" => {
            if last_is_param {
                (Kind::Action, resource_of(literal.last()))
            } else if parent_is_param && !plural(&last) {
                // POST /articles/{slug}/favorite: an action on the parent item.
                let parent = literal.iter().rev().nth(1);
                (Kind::Action, resource_of(parent))
            } else if plural(&last) || output.is_some_and(|o| has_id(schemas, o)) {
                (Kind::Create, resource_of(literal.last()))
            } else {
                (Kind::Action, resource_of(literal.last()))
            }
        }
        _ => (Kind::Action, resource_of(literal.last())),
    }
}

fn has_id(schemas: &Schemas, s: &Value) -> bool {
    let r = schemas.resolve(s);
    r.get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| p.contains_key("id"))
        || r.get("allOf")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|b| has_id(schemas, b)))
}

/// The name of a schema's `$ref`, for identity matching.
pub(crate) fn schema_identity(s: &Value) -> Option<String> {
    ref_name(s).or_else(|| s.get("items").and_then(ref_name))
}
