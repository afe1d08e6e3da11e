//! Chaining: which operation produces each value another operation consumes.
//! Precedence: OpenAPI links, then producer/consumer heuristics, then the documented
//! `Location` header, then literal data (example, default, generated).

use std::collections::HashMap;

use serde_json::Value;

use super::model::{
    is_param_segment, schema_identity, segments, singular, snake, Kind, LinkTarget, Op,
};
use super::schema::{schema_type, Schemas};

/// Leaf names that carry an auth token in a login/register response.
pub(crate) const TOKEN_NAMES: &[&str] = &[
    "token",
    "access_token",
    "accesstoken",
    "jwt",
    "id_token",
    "idtoken",
    "auth_token",
    "authtoken",
    "bearer",
    "bearer_token",
];

/// Response wrappers that carry the resource without naming it.
const ENVELOPES: &[&str] = &[
    "data", "result", "results", "payload", "response", "body", "record", "entity", "object",
    "value", "resource",
];

/// Where an extracted value comes from in the producer's response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Source {
    Json(String),
    Header(String),
}

/// A value taken from one operation's response for another's request.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub producer: usize,
    pub source: Source,
    /// Preferred variable name.
    pub var: String,
    /// Why: `link X`, `heuristic: ...`, `Location header`.
    pub provenance: String,
    /// A minijinja filter chain applied where the value is used.
    pub transform: Option<String>,
    /// Text before/after the value (e.g. `Bearer `), for links that embed it.
    pub prefix: String,
    pub suffix: String,
}

impl Binding {
    pub fn key(&self) -> (usize, Source) {
        (self.producer, self.source.clone())
    }
}

/// A value the response schema of an operation exposes.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    pub segs: Vec<String>,
    pub leaf: String,
    pub wrapper: Option<String>,
    pub list: bool,
    pub identity: Option<String>,
}

impl Output {
    pub fn jsonpath(&self) -> String {
        jsonpath(&self.segs)
    }
}

pub(crate) fn jsonpath(segs: &[String]) -> String {
    let mut s = String::from("$");
    for seg in segs {
        if seg == "[0]" {
            s.push_str("[0]");
        } else if !seg.is_empty()
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !seg.starts_with(|c: char| c.is_ascii_digit())
        {
            s.push('.');
            s.push_str(seg);
        } else {
            s.push_str(&format!(
                "['{}']",
                seg.replace('\\', "\\\\").replace('\'', "\\'")
            ));
        }
    }
    s
}

/// Everything the response schema exposes, three levels deep, through arrays at `[0]`.
pub(crate) fn outputs(schemas: &Schemas, op: &Op) -> Vec<Output> {
    let mut out = Vec::new();
    if let Some(s) = &op.output_schema {
        walk_outputs(schemas, s, &mut Vec::new(), None, false, None, &mut out, 0);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn walk_outputs(
    schemas: &Schemas,
    s: &Value,
    segs: &mut Vec<String>,
    wrapper: Option<String>,
    list: bool,
    identity: Option<String>,
    out: &mut Vec<Output>,
    depth: usize,
) {
    if depth > 4 || out.len() > 400 {
        return;
    }
    let r = schemas.resolve(s);
    let identity = schema_identity(s).or(identity);
    match schema_type(r).as_deref() {
        Some("array") => {
            if let Some(items) = r.get("items") {
                segs.push("[0]".into());
                walk_outputs(
                    schemas,
                    items,
                    segs,
                    wrapper,
                    true,
                    identity,
                    out,
                    depth + 1,
                );
                segs.pop();
            }
        }
        _ => {
            let mut props: Vec<(String, Value)> = Vec::new();
            collect_props(schemas, r, &mut props, 0);
            for (k, v) in props {
                segs.push(k.clone());
                out.push(Output {
                    segs: segs.clone(),
                    leaf: k.clone(),
                    wrapper: wrapper.clone(),
                    list,
                    identity: identity.clone(),
                });
                let vr = schemas.resolve(&v);
                let t = schema_type(vr);
                if depth < 3
                    && matches!(t.as_deref(), Some("object") | Some("array") | None)
                    && (vr.get("properties").is_some()
                        || vr.get("items").is_some()
                        || vr.get("allOf").is_some())
                {
                    walk_outputs(
                        schemas,
                        &v,
                        segs,
                        Some(k.clone()),
                        list,
                        schema_identity(&v),
                        out,
                        depth + 1,
                    );
                }
                segs.pop();
            }
        }
    }
}

fn collect_props(schemas: &Schemas, s: &Value, out: &mut Vec<(String, Value)>, depth: usize) {
    if depth > 6 {
        return;
    }
    let s = schemas.resolve(s);
    if let Some(p) = s.get("properties").and_then(Value::as_object) {
        for (k, v) in p {
            if !out.iter().any(|(n, _)| n == k) {
                out.push((k.clone(), v.clone()));
            }
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(a) = s.get(key).and_then(Value::as_array) {
            for b in a {
                collect_props(schemas, b, out, depth + 1);
                if key != "allOf" {
                    break; // the first branch is the one we generate
                }
            }
        }
    }
}

pub(crate) fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Names that identify something: `id`, `petId`, `pet_id`, `slug`, `username`, `uuid`.
pub(crate) fn id_like(name: &str) -> bool {
    let n = norm(name);
    n == "id"
        || n.ends_with("id")
            && name.len() > 2
            && (name.ends_with("Id")
                || name.ends_with("ID")
                || name.ends_with("_id")
                || name.ends_with("-id"))
        || n.ends_with("uuid")
        || n.ends_with("guid")
        || n == "slug"
        || n.ends_with("slug")
        || n == "username"
        || n.ends_with("sid") && name.ends_with("Sid")
}

/// The resource an id-like name refers to: `petId` → `pet`, `cart_id` → `cart`.
pub(crate) fn resource_of_name(name: &str) -> Option<String> {
    let s = snake(name);
    for suf in ["_id", "_uuid", "_guid", "_slug", "_sid"] {
        if let Some(r) = s.strip_suffix(suf) {
            return Some(singular(r));
        }
    }
    None
}

/// The consumer side of a match.
pub(crate) struct Want<'a> {
    pub consumer: &'a Op,
    pub name: &'a str,
    /// The resource the value identifies.
    pub resource: Option<String>,
    pub in_path: bool,
}

pub(crate) struct Chainer<'a> {
    pub ops: &'a [Op],
    pub outputs: Vec<Vec<Output>>,
    /// consumer index → links pointing at it: (producer, link name, parameter key, expression).
    pub links: HashMap<usize, Vec<(usize, String, String, Value)>>,
    /// consumer index → producers that link to it without saying which value.
    pub link_hints: HashMap<usize, Vec<usize>>,
}

impl<'a> Chainer<'a> {
    pub fn new(ops: &'a [Op], schemas: &Schemas) -> Self {
        let outputs = ops.iter().map(|o| outputs(schemas, o)).collect();
        let mut links: HashMap<usize, Vec<(usize, String, String, Value)>> = HashMap::new();
        let mut link_hints: HashMap<usize, Vec<usize>> = HashMap::new();
        for op in ops {
            for l in &op.links {
                let target = ops.iter().find(|t| match &l.target {
                    LinkTarget::Id(id) => &t.id == id,
                    LinkTarget::Route(m, p) => &t.method == m && &t.path == p,
                });
                let Some(t) = target else { continue };
                if l.parameters.is_empty() && l.request_body.is_none() {
                    link_hints.entry(t.index).or_default().push(op.index);
                }
                for (k, v) in &l.parameters {
                    links.entry(t.index).or_default().push((
                        op.index,
                        l.name.clone(),
                        k.clone(),
                        v.clone(),
                    ));
                }
                if let Some(b) = &l.request_body {
                    links.entry(t.index).or_default().push((
                        op.index,
                        l.name.clone(),
                        "$body".into(),
                        b.clone(),
                    ));
                }
            }
        }
        Chainer {
            ops,
            outputs,
            links,
            link_hints,
        }
    }

    /// A binding from an OpenAPI link expression, if it reads the producer's response.
    pub fn link_expression(
        &self,
        producer: usize,
        link: &str,
        expr: &str,
        var: &str,
    ) -> Option<Binding> {
        let (prefix, inner, suffix) = match (expr.find("{$"), expr.rfind('}')) {
            (Some(a), Some(b)) if b > a => (&expr[..a], &expr[a + 1..b], &expr[b + 1..]),
            _ => ("", expr, ""),
        };
        let source = if let Some(ptr) = inner.strip_prefix("$response.body#") {
            let segs: Vec<String> = ptr
                .split('/')
                .skip(1)
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .map(|s| {
                    if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
                        format!("[{s}]")
                    } else {
                        s
                    }
                })
                .collect();
            // A pointer written for one item of an array response (`/owner/username` on
            // `[{owner: ...}]`): read it from the first item.
            let outs = &self.outputs[producer];
            let exact = outs.iter().any(|o| o.segs == segs);
            let mut first = vec!["[0]".to_string()];
            first.extend(segs.iter().cloned());
            if !exact && !segs.is_empty() && outs.iter().any(|o| o.segs == first) {
                Source::Json(jsonpath_with_indexes(&first))
            } else {
                Source::Json(jsonpath_with_indexes(&segs))
            }
        } else if let Some(h) = inner.strip_prefix("$response.header.") {
            Source::Header(h.to_string())
        } else {
            return None;
        };
        Some(Binding {
            producer,
            source,
            var: var.to_string(),
            provenance: format!("link `{link}` of {}", self.ops[producer].id),
            transform: None,
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
        })
    }

    /// The best producer of `want` by the naming heuristics, with its score.
    pub fn heuristic(&self, want: &Want, example_available: bool) -> Option<(Binding, i32)> {
        let n = norm(want.name);
        let r = want.resource.clone().unwrap_or_default();
        let rn = norm(&r);
        let consumer = want.consumer;
        let consumer_coll = collection_of(&consumer.path);
        let mut best: Option<(i32, usize, usize, Binding)> = None;
        for p in self.ops {
            if p.index == consumer.index
                || p.skip.is_some()
                || p.kind == Kind::Delete
                || p.is_logout()
            {
                continue;
            }
            // An operation that itself needs this value cannot produce it.
            if p.path_params().iter().any(|q| {
                let qn = norm(&q.name);
                qn == n
                    || (!rn.is_empty()
                        && (qn == format!("{rn}id")
                            || param_resource(&p.path, &q.name).as_deref() == Some(rn.as_str())))
            }) {
                continue;
            }
            if p.method != "GET" && p.method != "POST" && p.method != "PUT" {
                continue;
            }
            for o in &self.outputs[p.index] {
                let leaf = norm(&o.leaf);
                let wrapper_res = o.wrapper.as_deref().map(singular).map(|w| norm(&w));
                let mut name_score = 0;
                let mut rule = "";
                if leaf == n && n != "id" && (id_like(want.name) || p.method != "GET") {
                    name_score = 3;
                    rule = "same name";
                    if !rn.is_empty()
                        && (wrapper_res.as_deref() == Some(rn.as_str()) || norm(&p.resource) == rn)
                    {
                        name_score += 1;
                    }
                } else if leaf == "id"
                    && !rn.is_empty()
                    && (n == "id" || n == format!("{rn}id") || n == format!("{rn}uuid"))
                {
                    // Envelopes (`data`, `result`) do not name a resource.
                    let top = o
                        .wrapper
                        .as_deref()
                        .is_none_or(|w| ENVELOPES.contains(&norm(w).as_str()));
                    let same_res = wrapper_res.as_deref() == Some(rn.as_str())
                        || (top
                            && (norm(&p.resource) == rn
                                || o.identity.as_deref().map(norm).as_deref()
                                    == Some(rn.as_str())))
                        || (top
                            && o.list
                            && collection_of(&p.path) == consumer_coll
                            && p.method == "GET");
                    let same_coll =
                        top && p.kind == Kind::Create && collection_of(&p.path) == consumer_coll;
                    if same_res || same_coll {
                        name_score = 3;
                        rule = "`id` of the same resource";
                    }
                } else if n == "id"
                    && !rn.is_empty()
                    && leaf == format!("{rn}id")
                    && o.wrapper.is_none()
                    && !o.list
                {
                    name_score = 3;
                    rule = "`<resource>_id` for `id`";
                }
                if name_score == 0 {
                    continue;
                }
                let list = o.list;
                let kind_score =
                    if p.kind == Kind::Create && collection_of(&p.path) == consumer_coll {
                        3
                    } else if p.method == "POST" || p.method == "PUT" {
                        2
                    } else if !list {
                        1
                    } else {
                        0
                    } - i32::from(p.is_login());
                let hint = self
                    .link_hints
                    .get(&consumer.index)
                    .is_some_and(|h| h.contains(&p.index));
                let score = name_score + kind_score + if hint { 2 } else { 0 };
                if list && example_available && !hint {
                    continue; // an example beats picking the first item of a list
                }
                let rank = (score, usize::MAX - o.segs.len(), usize::MAX - p.index);
                let better = match &best {
                    None => true,
                    Some((s, l, i, _)) => rank > (*s, *l, *i),
                };
                if better {
                    let how = if hint {
                        format!("{rule}; link `{}` hint", p.id)
                    } else {
                        rule.to_string()
                    };
                    let b = Binding {
                        producer: p.index,
                        source: Source::Json(o.jsonpath()),
                        var: var_name(want, &o.leaf),
                        provenance: format!(
                            "heuristic ({how}): {} {} {}",
                            p.method,
                            p.path,
                            o.jsonpath()
                        ),
                        transform: None,
                        prefix: String::new(),
                        suffix: String::new(),
                    };
                    best = Some((rank.0, rank.1, rank.2, b));
                }
            }
        }
        if let Some((s, _, _, b)) = best {
            return Some((b, s));
        }
        // Runtime Location: a create on the consumer's collection that documents `Location`.
        if want.in_path {
            for p in self.ops {
                if p.index != consumer.index
                    && p.kind == Kind::Create
                    && p.location_header
                    && collection_of(&p.path) == consumer_coll
                    && p.skip.is_none()
                {
                    return Some((
                        Binding {
                            producer: p.index,
                            source: Source::Header("Location".into()),
                            var: format!(
                                "{}_location",
                                if r.is_empty() {
                                    "item".to_string()
                                } else {
                                    snake(&r)
                                }
                            ),
                            provenance: format!("Location header of {} {}", p.method, p.path),
                            transform: Some("split('/') | last".into()),
                            prefix: String::new(),
                            suffix: String::new(),
                        },
                        1,
                    ));
                }
            }
        }
        None
    }
}

fn jsonpath_with_indexes(segs: &[String]) -> String {
    let mut s = String::from("$");
    for seg in segs {
        if seg.starts_with('[') {
            s.push_str(seg);
        } else {
            s.push_str(&jsonpath(std::slice::from_ref(seg))[1..]);
        }
    }
    s
}

fn var_name(want: &Want, leaf: &str) -> String {
    let n = snake(want.name);
    if n == "id" {
        match &want.resource {
            Some(r) if !r.is_empty() && r != "root" => format!("{}_{}", snake(r), snake(leaf)),
            _ => snake(leaf),
        }
    } else {
        n
    }
}

/// `/pets/{id}` → `/pets`; `/pets` → `/pets`; params normalised to `{}`.
pub(crate) fn collection_of(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut end = segs.len();
    if end > 0 && is_param_segment(segs[end - 1]) {
        end -= 1;
    }
    let norm: Vec<String> = segs[..end]
        .iter()
        .map(|s| {
            if is_param_segment(s) {
                "{}".to_string()
            } else {
                s.to_string()
            }
        })
        .collect();
    format!("/{}", norm.join("/"))
}

/// The path with parameters written `{}`.
pub(crate) fn shape(path: &str) -> String {
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if is_param_segment(s) {
                "{}".to_string()
            } else {
                s.to_string()
            }
        })
        .collect();
    format!("/{}", segs.join("/"))
}

/// A readable resource name for a collection path: `/cart/items` → `cart_item`.
pub(crate) fn resource_label(path: &str) -> String {
    let segs = segments(path);
    let lits: Vec<String> = segs
        .iter()
        .filter(|s| !is_param_segment(s))
        .map(|s| singular(&snake(s)))
        .collect();
    if lits.is_empty() {
        "root".into()
    } else {
        lits.join("_")
    }
}

/// The resource a path parameter identifies: its own name (`petId` → pet) or the segment before it.
pub(crate) fn param_resource(path: &str, name: &str) -> Option<String> {
    if let Some(r) = resource_of_name(name) {
        return Some(norm(&r));
    }
    let segs: Vec<&str> = path.split('/').collect();
    let pos = segs.iter().position(|s| *s == format!("{{{name}}}"))?;
    segs[..pos]
        .iter()
        .rev()
        .find(|s| !s.starts_with('{') && !s.is_empty())
        .map(|s| norm(&singular(s)))
}
