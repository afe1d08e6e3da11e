//! Schemas: resolving references, inlining for `schema:` checks, and generating values
//! that satisfy a schema (the data ladder: example, default, const, enum, format, constraints).

use std::collections::BTreeSet;

use serde_json::{json, Map, Number, Value};

use super::load::resolve_pointer;

/// How deep references are expanded along one path before the rest is left open (`{}`).
const MAX_REF_DEPTH: usize = 6;
/// How deep any schema is walked.
const MAX_DEPTH: usize = 24;

/// Which side of the exchange a schema describes: requests drop `readOnly`, responses `writeOnly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Request,
    Response,
}

/// Keywords kept in inlined schemas: validation only.
const KEEP: &[&str] = &[
    "type",
    "properties",
    "required",
    "items",
    "prefixItems",
    "additionalProperties",
    "enum",
    "const",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "patternProperties",
    "propertyNames",
    "contains",
    "minContains",
    "maxContains",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
    "unevaluatedItems",
];

pub(crate) struct Schemas<'a> {
    pub doc: &'a Value,
    /// Generate without documented examples (when they contradict their schema).
    no_examples: std::cell::Cell<bool>,
}

/// The last segment of a schema's `$ref`, lower-cased: its identity.
pub(crate) fn ref_name(s: &Value) -> Option<String> {
    s.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map(|n| n.to_ascii_lowercase())
}

impl<'a> Schemas<'a> {
    pub fn new(doc: &'a Value) -> Self {
        Schemas {
            doc,
            no_examples: std::cell::Cell::new(false),
        }
    }

    /// Follows a chain of `$ref`s to the schema it names.
    pub fn resolve(&self, s: &'a Value) -> &'a Value {
        let mut cur = s;
        for _ in 0..32 {
            match cur.get("$ref").and_then(Value::as_str) {
                Some(r) => match resolve_pointer(self.doc, r) {
                    Some(t) => cur = t,
                    None => return &Value::Bool(true),
                },
                None => return cur,
            }
        }
        cur
    }

    /// The schema with references expanded (depth-capped), annotations dropped and the
    /// other side's properties (`readOnly`/`writeOnly`) removed: ready for a `schema:` check.
    pub fn inline(&self, s: &Value, side: Side) -> Value {
        let mut stack = Vec::new();
        self.inline_at(s, side, &mut stack, 0)
    }

    fn inline_at(&self, s: &Value, side: Side, stack: &mut Vec<String>, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return json!({});
        }
        let Some(obj) = s.as_object() else {
            return if s.is_boolean() { s.clone() } else { json!({}) };
        };
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            if stack.iter().filter(|x| *x == r).count() >= 1 || stack.len() >= MAX_REF_DEPTH {
                return json!({}); // recursion (or a very deep chain): left open
            }
            let Some(target) = resolve_pointer(self.doc, r) else {
                return json!({});
            };
            stack.push(r.to_string());
            let mut out = self.inline_at(target, side, stack, depth + 1);
            stack.pop();
            // 3.1 allows siblings next to $ref: fold the validation ones in.
            if obj.len() > 1 {
                let siblings = self.inline_at(
                    &Value::Object(
                        obj.iter()
                            .filter(|(k, _)| *k != "$ref")
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    side,
                    stack,
                    depth + 1,
                );
                if siblings.as_object().is_some_and(|m| !m.is_empty()) {
                    out = json!({ "allOf": [out, siblings] });
                }
            }
            return out;
        }
        let drop_flag = match side {
            Side::Request => "readOnly",
            Side::Response => "writeOnly",
        };
        let mut out = Map::new();
        let mut dropped: BTreeSet<String> = BTreeSet::new();
        for (k, v) in obj {
            if !KEEP.contains(&k.as_str()) {
                continue;
            }
            let nv = match k.as_str() {
                "properties" | "patternProperties" | "dependentSchemas" => {
                    let mut props = Map::new();
                    if let Some(m) = v.as_object() {
                        for (pk, pv) in m {
                            if k == "properties"
                                && self.resolve(pv).get(drop_flag) == Some(&Value::Bool(true))
                            {
                                dropped.insert(pk.clone());
                                continue;
                            }
                            props.insert(pk.clone(), self.inline_at(pv, side, stack, depth + 1));
                        }
                    }
                    Value::Object(props)
                }
                "items"
                | "additionalProperties"
                | "not"
                | "propertyNames"
                | "contains"
                | "if"
                | "then"
                | "else"
                | "unevaluatedProperties"
                | "unevaluatedItems" => {
                    if v.is_array() && k == "items" {
                        // Draft 4 tuple form.
                        json!({})
                    } else {
                        self.inline_at(v, side, stack, depth + 1)
                    }
                }
                "allOf" | "anyOf" | "oneOf" | "prefixItems" => Value::Array(
                    v.as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| self.inline_at(x, side, stack, depth + 1))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                "type" => match v {
                    Value::String(t) if t == "file" => continue,
                    Value::String(_) => v.clone(),
                    Value::Array(a) => Value::Array(
                        a.iter()
                            .filter(|t| t.is_string() && *t != "file")
                            .cloned()
                            .collect(),
                    ),
                    _ => continue,
                },
                "required" => match v {
                    Value::Array(_) => v.clone(),
                    _ => continue, // Swagger-style `required: true` on a property
                },
                "pattern" | "format" if !v.is_string() => continue,
                _ => v.clone(),
            };
            out.insert(k.clone(), nv);
        }
        if !dropped.is_empty() {
            if let Some(Value::Array(req)) = out.get_mut("required") {
                req.retain(|r| r.as_str().is_none_or(|n| !dropped.contains(n)));
            }
        }
        Value::Object(out)
    }

    /// Merges `allOf` branches (resolved) into one object schema for generation.
    fn merged(&self, s: &'a Value, depth: usize) -> Value {
        let s = self.resolve(s);
        let Some(all) = s.get("allOf").and_then(Value::as_array) else {
            return s.clone();
        };
        let mut out = s.as_object().cloned().unwrap_or_default();
        out.remove("allOf");
        let mut props = out
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut required: Vec<Value> = out
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for b in all {
            if depth > 8 {
                break;
            }
            let m = self.merged(b, depth + 1);
            if let Some(p) = m.get("properties").and_then(Value::as_object) {
                for (k, v) in p {
                    props.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            for r in m
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !required.contains(r) {
                    required.push(r.clone());
                }
            }
            if let Some(mo) = m.as_object() {
                for (k, v) in mo {
                    if !matches!(k.as_str(), "properties" | "required" | "allOf") {
                        out.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
        if !props.is_empty() {
            out.insert("properties".into(), Value::Object(props));
            out.entry("type").or_insert(json!("object"));
        }
        if !required.is_empty() {
            out.insert("required".into(), Value::Array(required));
        }
        Value::Object(out)
    }

    /// Alternative values for `s` when the first choice does not validate: each
    /// `oneOf`/`anyOf` branch, with and without its optional properties.
    pub fn variants(&self, s: &Value, side: Side) -> Vec<Value> {
        let r = self.resolve(s);
        let mut out = Vec::new();
        let mut outer = r.as_object().cloned().unwrap_or_default();
        let branches: Vec<Value> = ["oneOf", "anyOf"]
            .iter()
            .filter_map(|k| outer.remove(*k))
            .filter_map(|b| b.as_array().cloned())
            .flatten()
            .collect();
        outer.remove("discriminator");
        let targets: Vec<Value> = if branches.is_empty() {
            vec![r.clone()]
        } else {
            branches
                .iter()
                .map(|b| {
                    let mut m = self.merged(b, 0).as_object().cloned().unwrap_or_default();
                    for (k, v) in &outer {
                        if k == "properties" {
                            let mut props = m
                                .get("properties")
                                .and_then(Value::as_object)
                                .cloned()
                                .unwrap_or_default();
                            for (pk, pv) in v.as_object().into_iter().flatten() {
                                props.entry(pk.clone()).or_insert_with(|| pv.clone());
                            }
                            m.insert("properties".into(), Value::Object(props));
                        } else if k == "required" {
                            let mut req = m
                                .get("required")
                                .and_then(Value::as_array)
                                .cloned()
                                .unwrap_or_default();
                            req.extend(v.as_array().cloned().unwrap_or_default());
                            m.insert("required".into(), Value::Array(req));
                        } else {
                            m.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                    Value::Object(m)
                })
                .collect()
        };
        let mut all = Vec::new();
        for t in &targets {
            all.push((t.clone(), false));
        }
        for t in &targets {
            all.push((t.clone(), true));
        }
        for (t, strict) in all {
            self.no_examples.set(strict);
            let base = self.generate(&t, side, None);
            // With every optional property too.
            let mut full = base.clone();
            if let (Some(o), Some(props)) = (
                full.as_object_mut(),
                t.get("properties").and_then(Value::as_object),
            ) {
                for (k, ps) in props {
                    let skip = match side {
                        Side::Request => "readOnly",
                        Side::Response => "writeOnly",
                    };
                    if !o.contains_key(k) && self.resolve(ps).get(skip) != Some(&Value::Bool(true))
                    {
                        o.insert(k.clone(), self.generate(ps, side, Some(k)));
                    }
                }
            }
            out.push(base);
            out.push(full);
        }
        self.no_examples.set(false);
        out
    }

    /// A value satisfying `s`, following the data ladder. `name` is the property or
    /// parameter name, used for a few name-shaped defaults.
    pub fn generate(&self, s: &Value, side: Side, name: Option<&str>) -> Value {
        let mut stack = Vec::new();
        self.gen_at(s, side, name, &mut stack, 0)
    }

    fn gen_at(
        &self,
        s: &Value,
        side: Side,
        name: Option<&str>,
        stack: &mut Vec<String>,
        depth: usize,
    ) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            if stack.iter().any(|x| x == r) || stack.len() > MAX_REF_DEPTH {
                return Value::Null;
            }
            let Some(t) = resolve_pointer(self.doc, r) else {
                return json!("example");
            };
            stack.push(r.to_string());
            let v = match (s.as_object(), self.resolve(t).as_object()) {
                // 3.1: keywords next to `$ref` apply too (`required` added by a request body).
                (Some(sib), Some(target))
                    if sib.contains_key("required") || sib.contains_key("properties") =>
                {
                    let mut merged = target.clone();
                    for (k, v) in sib {
                        match k.as_str() {
                            "$ref" => {}
                            "required" => {
                                let mut req = merged
                                    .get("required")
                                    .and_then(Value::as_array)
                                    .cloned()
                                    .unwrap_or_default();
                                for x in v.as_array().into_iter().flatten() {
                                    if !req.contains(x) {
                                        req.push(x.clone());
                                    }
                                }
                                merged.insert("required".into(), Value::Array(req));
                            }
                            _ => {
                                merged.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                        }
                    }
                    self.gen_at(&Value::Object(merged), side, name, stack, depth + 1)
                }
                _ => self.gen_at(t, side, name, stack, depth + 1),
            };
            stack.pop();
            return v;
        }
        let Some(obj) = s.as_object() else {
            return json!("example");
        };
        // Ladder: example, examples, default, const, enum.
        if let Some(ex) = obj.get("example").filter(|_| !self.no_examples.get()) {
            return ex.clone();
        }
        if let Some(ex) = obj
            .get("examples")
            .filter(|_| !self.no_examples.get())
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            return ex.clone();
        }
        if let Some(d) = obj.get("default") {
            return d.clone();
        }
        if let Some(c) = obj.get("const") {
            return c.clone();
        }
        if let Some(e) = obj
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|v| !v.is_null()).or(a.first()))
        {
            return e.clone();
        }
        if obj.contains_key("allOf") {
            let m = self.merged(s, 0);
            if m.get("allOf").is_none() {
                return self.gen_at(&m, side, name, stack, depth + 1);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = obj.get(key).and_then(Value::as_array) {
                let branch = branches
                    .iter()
                    .find(|b| !is_null_schema(self.resolve(b)))
                    .or(branches.first());
                if let Some(b) = branch {
                    let mut v = self.gen_at(b, side, name, stack, depth + 1);
                    // The discriminator names the branch.
                    if let (Some(disc), Some(o)) = (obj.get("discriminator"), v.as_object_mut()) {
                        if let Some(prop) = disc.get("propertyName").and_then(Value::as_str) {
                            let r = b.get("$ref").and_then(Value::as_str).unwrap_or("");
                            let mapped = disc
                                .get("mapping")
                                .and_then(Value::as_object)
                                .and_then(|m| {
                                    m.iter()
                                        .find(|(_, v)| v.as_str() == Some(r))
                                        .map(|(k, _)| k.clone())
                                })
                                .or_else(|| {
                                    r.rsplit('/')
                                        .next()
                                        .filter(|n| !n.is_empty())
                                        .map(str::to_string)
                                });
                            if let Some(m) = mapped {
                                o.entry(prop.to_string()).or_insert(Value::String(m));
                            }
                        }
                    }
                    let mut rest = obj.clone();
                    rest.remove(key);
                    rest.remove("discriminator");
                    if rest.contains_key("properties") {
                        if let (Some(extra), Some(o)) = (
                            self.gen_at(&Value::Object(rest), side, name, stack, depth + 1)
                                .as_object()
                                .cloned(),
                            v.as_object_mut(),
                        ) {
                            for (k, x) in extra {
                                o.entry(k).or_insert(x);
                            }
                        }
                    }
                    return v;
                }
            }
        }
        let ty = schema_type(s);
        match ty.as_deref() {
            Some("object") => {
                let mut out = Map::new();
                let props = obj.get("properties").and_then(Value::as_object);
                let required: Vec<&str> = obj
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let skip_flag = match side {
                    Side::Request => "readOnly",
                    Side::Response => "writeOnly",
                };
                for r in &required {
                    let ps = props.and_then(|p| p.get(*r));
                    let resolved = ps.map(|p| self.resolve(p));
                    if resolved.and_then(|p| p.get(skip_flag)) == Some(&Value::Bool(true)) {
                        continue;
                    }
                    let v = match ps {
                        Some(p) => self.gen_at(p, side, Some(r), stack, depth + 1),
                        None => json!("example"),
                    };
                    out.insert(r.to_string(), v);
                }
                let min_props = obj
                    .get("minProperties")
                    .and_then(Value::as_u64)
                    .unwrap_or(0) as usize;
                if out.len() < min_props {
                    if let Some(p) = props {
                        for (k, ps) in p {
                            if out.len() >= min_props {
                                break;
                            }
                            if !out.contains_key(k)
                                && self.resolve(ps).get(skip_flag) != Some(&Value::Bool(true))
                            {
                                out.insert(
                                    k.clone(),
                                    self.gen_at(ps, side, Some(k), stack, depth + 1),
                                );
                            }
                        }
                    }
                    let mut i = 0;
                    while out.len() < min_props {
                        i += 1;
                        out.insert(format!("key{i}"), json!("value"));
                    }
                }
                Value::Object(out)
            }
            Some("array") => {
                let n = obj
                    .get("minItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .max(1) as usize;
                let n = match obj.get("maxItems").and_then(Value::as_u64) {
                    Some(m) => n.min(m as usize),
                    None => n,
                };
                let item = obj.get("items").cloned().unwrap_or(json!({}));
                let first = self.gen_at(&item, side, name, stack, depth + 1);
                let unique = obj.get("uniqueItems") == Some(&Value::Bool(true));
                let mut out = vec![first.clone()];
                for i in 1..n {
                    out.push(if unique {
                        vary(&first, i)
                    } else {
                        first.clone()
                    });
                }
                Value::Array(out)
            }
            Some("integer") => Value::Number(gen_number(obj, true)),
            Some("number") => Value::Number(gen_number(obj, false)),
            Some("boolean") => json!(true),
            Some("null") => Value::Null,
            Some("string") | None => {
                if ty.is_none() && obj.contains_key("properties") {
                    return self.gen_at(&json!({"type": "object", "properties": obj["properties"], "required": obj.get("required").cloned().unwrap_or(json!([]))}), side, name, stack, depth + 1);
                }
                Value::String(gen_string(obj, name))
            }
            Some(_) => json!("example"),
        }
    }
}

fn is_null_schema(s: &Value) -> bool {
    s.get("type").and_then(Value::as_str) == Some("null")
}

/// The schema's primary type: the first non-null of `type`, else inferred from keywords.
pub(crate) fn schema_type(s: &Value) -> Option<String> {
    match s.get("type") {
        Some(Value::String(t)) => return Some(t.clone()),
        Some(Value::Array(a)) => {
            if let Some(t) = a
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .or_else(|| a.first().and_then(Value::as_str))
            {
                return Some(t.to_string());
            }
        }
        _ => {}
    }
    if s.get("properties").is_some() || s.get("additionalProperties").is_some() {
        Some("object".into())
    } else if s.get("items").is_some() {
        Some("array".into())
    } else {
        None
    }
}

fn vary(v: &Value, i: usize) -> Value {
    match v {
        Value::String(s) => Value::String(format!("{s}{i}")),
        Value::Number(n) => n
            .as_i64()
            .map(|x| json!(x + i as i64))
            .unwrap_or_else(|| json!(n.as_f64().unwrap_or(0.0) + i as f64)),
        other => other.clone(),
    }
}

fn gen_number(obj: &Map<String, Value>, integer: bool) -> Number {
    let f = |k: &str| obj.get(k).and_then(Value::as_f64);
    let mut lo = f("minimum");
    let mut hi = f("maximum");
    if let Some(x) = f("exclusiveMinimum") {
        lo = Some(if integer { x.floor() + 1.0 } else { x + 0.5 });
    }
    if let Some(x) = f("exclusiveMaximum") {
        hi = Some(if integer { x.ceil() - 1.0 } else { x - 0.5 });
    }
    let mut v = match (lo, hi) {
        (Some(l), _) => l,
        (None, Some(h)) if h < 1.0 => h,
        _ => 1.0,
    };
    if integer {
        v = v.ceil();
    }
    if let Some(m) = f("multipleOf").filter(|m| *m > 0.0) {
        v = (v / m).ceil() * m;
        if hi.is_some_and(|h| v > h) {
            v -= m;
        }
    }
    if integer || v.fract() == 0.0 && v.abs() < 9.0e15 {
        if integer {
            return Number::from(v as i64);
        }
        return Number::from_f64(v).unwrap_or_else(|| Number::from(1));
    }
    Number::from_f64(v).unwrap_or_else(|| Number::from(1))
}

fn gen_string(obj: &Map<String, Value>, name: Option<&str>) -> String {
    let format = obj.get("format").and_then(Value::as_str).unwrap_or("");
    let lname = name.unwrap_or("").to_ascii_lowercase();
    let mut s = match format {
        "email" | "idn-email" => "user@example.com".to_string(),
        "uuid" => "3fa85f64-5717-4562-b3fc-2c963f66afa6".to_string(),
        "date-time" => "2024-01-01T12:00:00Z".to_string(),
        "date" => "2024-01-01".to_string(),
        "time" => "12:00:00Z".to_string(),
        "uri" | "url" | "iri" => "https://example.com/".to_string(),
        "uri-reference" | "iri-reference" => "/example".to_string(),
        "hostname" | "idn-hostname" => "example.com".to_string(),
        "ipv4" => "192.0.2.1".to_string(),
        "ipv6" => "2001:db8::1".to_string(),
        "byte" => "ZXhhbXBsZQ==".to_string(),
        "binary" => "example".to_string(),
        "password" => "Secret123!".to_string(),
        "duration" => "P1D".to_string(),
        _ => String::new(),
    };
    if s.is_empty() {
        if let Some(p) = obj.get("pattern").and_then(Value::as_str) {
            if let Some(g) = sample_regex(p) {
                return g;
            }
        }
        s = if lname.contains("email") {
            "user@example.com".into()
        } else if lname.ends_with("url") || lname.ends_with("uri") {
            "https://example.com/".into()
        } else {
            "example".into()
        };
    }
    // A spec may ask for billions of characters; a sample past the cap is no more useful
    // and would only exhaust memory (a fuzzing find).
    let min = obj
        .get("minLength")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(MAX_SAMPLE_CHARS as u64) as usize;
    let max = obj
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m.min(usize::MAX as u64) as usize);
    let len = s.chars().count();
    if len < min {
        s.extend(std::iter::repeat_n('x', min - len));
    }
    if let Some(m) = max {
        if s.chars().count() > m {
            s = s.chars().take(m.max(min)).collect();
        }
    }
    s
}

/// The longest string sample synthesised (for `minLength` and regex patterns).
const MAX_SAMPLE_CHARS: usize = 64 * 1024;

/// A string matching a simple regular expression: literals, classes, `\d \w \s`, groups with
/// alternatives (the first), quantifiers (their minimum, at least one for `+`). `None` when
/// the pattern uses something else or the result does not match.
pub(crate) fn sample_regex(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let out = sample_seq(&chars, &mut i, 0)?;
    let re = regex::Regex::new(pattern).ok()?;
    re.is_match(&out).then_some(out)
}

fn sample_seq(c: &[char], i: &mut usize, depth: usize) -> Option<String> {
    if depth > 8 {
        return None;
    }
    let mut out = String::new();
    while *i < c.len() {
        let ch = c[*i];
        let atom: String = match ch {
            '^' | '$' => {
                *i += 1;
                continue;
            }
            ')' => return Some(out),
            '|' => {
                // Skip the other alternatives of this group.
                let mut level = 0;
                while *i < c.len() {
                    match c[*i] {
                        '\\' => *i += 1,
                        '(' => level += 1,
                        ')' if level == 0 => return Some(out),
                        ')' => level -= 1,
                        _ => {}
                    }
                    *i += 1;
                }
                return Some(out);
            }
            '(' => {
                *i += 1;
                if c.get(*i) == Some(&'?') {
                    if c.get(*i + 1) == Some(&':') {
                        *i += 2;
                    } else {
                        return None; // look-arounds and named groups
                    }
                }
                let g = sample_seq(c, i, depth + 1)?;
                if c.get(*i) != Some(&')') {
                    return None;
                }
                *i += 1;
                g
            }
            '[' => {
                *i += 1;
                let negated = c.get(*i) == Some(&'^');
                if negated {
                    return None;
                }
                let mut first: Option<char> = None;
                while *i < c.len() && c[*i] != ']' {
                    let x = if c[*i] == '\\' {
                        *i += 1;
                        match c.get(*i)? {
                            'd' => '0',
                            'w' => 'a',
                            's' => ' ',
                            other => *other,
                        }
                    } else {
                        c[*i]
                    };
                    if first.is_none() {
                        first = Some(x);
                    }
                    *i += 1;
                }
                if *i >= c.len() {
                    return None;
                }
                *i += 1;
                first?.to_string()
            }
            '\\' => {
                *i += 1;
                let e = *c.get(*i)?;
                *i += 1;
                match e {
                    'd' => "1".into(),
                    'w' => "a".into(),
                    's' => " ".into(),
                    'b' | 'B' | 'A' | 'z' | 'Z' => continue,
                    x if x.is_ascii_alphanumeric() => return None,
                    x => x.to_string(),
                }
            }
            '.' => {
                *i += 1;
                "a".into()
            }
            '*' | '+' | '?' | '{' => return None,
            x => {
                *i += 1;
                x.to_string()
            }
        };
        if ch != '(' && ch != '[' && ch != '\\' && ch != '.' {
            // plain literal already advanced
        }
        // Quantifier
        let (min, _) = match c.get(*i) {
            Some('*') => {
                *i += 1;
                (0, None::<usize>)
            }
            Some('+') => {
                *i += 1;
                (1, None)
            }
            Some('?') => {
                *i += 1;
                (0, Some(1))
            }
            Some('{') => {
                let close = c[*i..].iter().position(|x| *x == '}')? + *i;
                let body: String = c[*i + 1..close].iter().collect();
                *i = close + 1;
                let lo = body.split(',').next()?.trim().parse::<usize>().ok()?;
                (lo, None)
            }
            _ => (1, None),
        };
        if c.get(*i) == Some(&'?') {
            *i += 1; // lazy
        }
        // Prefer one repetition for `*` so the value is not empty.
        let reps = if min == 0 && matches!(c.get(i.saturating_sub(1)), Some('*')) {
            1
        } else {
            min.min(64)
        };
        for _ in 0..reps {
            out.push_str(&atom);
        }
        // Nested quantifiers multiply (`((a{64}){64}){64}`): give up rather than grow.
        if out.len() > MAX_SAMPLE_CHARS {
            return None;
        }
    }
    Some(out)
}
