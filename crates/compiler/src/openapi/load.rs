//! Loading: read a spec (JSON or YAML), bundle its `$ref`s into one document, and
//! normalise Swagger 2.0 and OpenAPI 3.0 into one canonical 3.1-like form.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::OpenApiError;

/// Specs larger than this are refused before parsing.
const MAX_SPEC_BYTES: u64 = 64 * 1024 * 1024;

/// Where the bundled copies of other files' definitions live in the root document.
pub(crate) const BUNDLE_KEY: &str = "x-throng-bundled";

/// Reads and parses one file into JSON, with syntax errors located.
pub(crate) fn read_value(path: &Path) -> Result<Value, OpenApiError> {
    let file = path.display().to_string();
    let bytes = crate::util::read_capped(path, MAX_SPEC_BYTES).map_err(|e| match e {
        crate::util::ReadCapped::Io(source) => OpenApiError::Read {
            file: file.clone(),
            source,
        },
        crate::util::ReadCapped::NotAFile => OpenApiError::Invalid {
            file: file.clone(),
            message: e.to_string(),
        },
        crate::util::ReadCapped::TooLarge(_) => OpenApiError::Invalid {
            file: file.clone(),
            message: format!(
                "{e}; specs are limited to {MAX_SPEC_BYTES} bytes ({} MiB)",
                MAX_SPEC_BYTES >> 20
            ),
        },
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let before = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        OpenApiError::Syntax {
            file: file.clone(),
            line,
            column,
            message: "invalid UTF-8".into(),
        }
    })?;
    parse_text(&text, &file)
}

/// Parses JSON (when it looks like JSON) or YAML text.
pub(crate) fn parse_text(text: &str, file: &str) -> Result<Value, OpenApiError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Deep nesting is refused before any parser sees it: serde_json stops at 128 levels, but
    // a failed JSON parse falls back to YAML, whose parser takes quadratic time to reach its
    // own limit, and block (indentation) nesting has no limit at all.
    throng_ir::check_nesting(text).map_err(|e| OpenApiError::Syntax {
        file: file.to_string(),
        line: e.line,
        column: e.column,
        message: e.to_string(),
    })?;
    let looks_json = text.trim_start().starts_with('{') || file.ends_with(".json");
    if looks_json {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => return Ok(v),
            Err(e) if file.ends_with(".json") || !text.trim_start().starts_with('{') => {
                return Err(OpenApiError::Syntax {
                    file: file.to_string(),
                    line: e.line(),
                    column: e.column(),
                    message: strip_location(&e.to_string()),
                })
            }
            Err(_) => {} // YAML flow mappings start with `{` too; let the YAML parser decide.
        }
    }
    let parsed: Result<yaml_serde::Value, _> = yaml_serde::from_str(text);
    // Integers beyond 128 bits' reach of the YAML value type: read them as floats.
    let parsed = match parsed {
        Err(e) if e.to_string().contains("128") => {
            static BIG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
                regex::Regex::new(r"(?m)([:\[,-]\s*)(-?[0-9]{19,})(\s*(?:$|[,\]}#]))")
                    .expect("static regex")
            });
            yaml_serde::from_str(&BIG.replace_all(text, "${1}${2}.0${3}")).map_err(|_| e)
        }
        other => other,
    };
    let y: yaml_serde::Value = parsed.map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        OpenApiError::Syntax {
            file: file.to_string(),
            line,
            column,
            message: strip_location(&e.to_string()),
        }
    })?;
    Ok(yaml_to_json(y))
}

fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].trim_end_matches(',').to_string(),
        None => msg.to_string(),
    }
}

/// YAML to JSON: keys become strings (`200:` is a key "200"), numbers that do not fit keep
/// their value as a float or, failing that, as text; tags are dropped.
fn yaml_to_json(v: yaml_serde::Value) -> Value {
    match v {
        yaml_serde::Value::Null => Value::Null,
        yaml_serde::Value::Bool(b) => Value::Bool(b),
        yaml_serde::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(n.to_string()))
            }
        }
        yaml_serde::Value::String(s) => Value::String(s),
        yaml_serde::Value::Sequence(s) => Value::Array(s.into_iter().map(yaml_to_json).collect()),
        yaml_serde::Value::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    yaml_serde::Value::String(s) => s,
                    yaml_serde::Value::Bool(b) => b.to_string(),
                    yaml_serde::Value::Number(n) => n.to_string(),
                    yaml_serde::Value::Null => "null".into(),
                    other => yaml_serde::to_string(&other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        yaml_serde::Value::Tagged(t) => yaml_to_json(t.value),
    }
}

/// Bundles references to other files into the root document, under [`BUNDLE_KEY`], and
/// rewrites those references to local ones. Local references are left for lazy resolution.
pub(crate) fn bundle(
    root: &mut Value,
    root_path: &Path,
    warnings: &mut Vec<String>,
) -> Result<(), OpenApiError> {
    let mut b = Bundler {
        files: HashMap::new(),
        bundled: BTreeMap::new(),
        warnings,
        root_path: root_path.to_path_buf(),
        ids: HashMap::new(),
        anchors: HashMap::new(),
    };
    index_ids(root, "", None, &mut b.ids, &mut b.anchors, 0);
    let base = root_path.to_path_buf();
    let mut taken = std::mem::take(root);
    b.walk(&mut taken, &base, true, 0)?;
    *root = taken;
    if !b.bundled.is_empty() {
        if let Some(obj) = root.as_object_mut() {
            obj.insert(
                BUNDLE_KEY.into(),
                Value::Object(b.bundled.into_iter().collect()),
            );
        }
    }
    Ok(())
}

struct Bundler<'w> {
    files: HashMap<PathBuf, Value>,
    bundled: BTreeMap<String, Value>,
    warnings: &'w mut Vec<String>,
    root_path: PathBuf,
    /// `$id` of schemas in the root document → their JSON pointer; `$anchor`s too.
    ids: HashMap<String, String>,
    anchors: HashMap<(String, String), String>,
}

impl Bundler<'_> {
    fn walk(
        &mut self,
        v: &mut Value,
        file: &Path,
        is_root: bool,
        depth: usize,
    ) -> Result<(), OpenApiError> {
        if depth > 200 {
            return Ok(());
        }
        match v {
            Value::Object(obj) => {
                if let Some(Value::String(r)) = obj.get("$ref") {
                    let r = r.clone();
                    if let Some(new_ref) = self.rewrite(&r, file, is_root)? {
                        obj.insert("$ref".into(), Value::String(new_ref));
                    }
                }
                for (k, child) in obj.iter_mut() {
                    // Examples and extensions are data, not references.
                    if k == "example" {
                        continue;
                    }
                    self.walk(child, file, is_root, depth + 1)?;
                }
            }
            Value::Array(a) => {
                for child in a {
                    self.walk(child, file, is_root, depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The local reference that replaces `r` (written in `file`), if it changes.
    fn rewrite(
        &mut self,
        r: &str,
        file: &Path,
        is_root: bool,
    ) -> Result<Option<String>, OpenApiError> {
        let (target, pointer) = match r.split_once('#') {
            Some((t, p)) => (t, p.to_string()),
            None => (r, String::new()),
        };
        if target.is_empty() {
            if is_root {
                return Ok(None);
            }
            // A local reference inside another file: it points into that file.
            return self.bundle_target(file, &pointer).map(Some);
        }
        if target.starts_with("http://") || target.starts_with("https://") {
            // The compiler never does network I/O: refused, not fetched and not guessed at.
            let within = if is_root {
                String::new()
            } else {
                format!(" (in {})", file.display())
            };
            return Err(OpenApiError::Invalid {
                file: self.root_path.display().to_string(),
                message: format!(
                    "remote reference `{r}`{within} is not fetched: the compiler never reads the network; download the document and refer to the local copy"
                ),
            });
        }
        // 3.1: a reference to a schema's `$id` (and `$anchor` inside it).
        if is_root {
            if let Some(at) = self.ids.get(target) {
                if pointer.is_empty() {
                    return Ok(Some(format!("#{at}")));
                }
                if pointer.starts_with('/') {
                    return Ok(Some(format!("#{at}{pointer}")));
                }
                if let Some(a) = self.anchors.get(&(target.to_string(), pointer.clone())) {
                    return Ok(Some(format!("#{a}")));
                }
            }
            let looks_like_file = [".yaml", ".yml", ".json"]
                .iter()
                .any(|e| target.ends_with(e));
            if !looks_like_file {
                self.warnings.push(format!(
                    "reference `{r}` names no file or `$id`; treated as any value"
                ));
                return Ok(Some(format!("#/{BUNDLE_KEY}/unresolved")));
            }
        }
        let dir = file.parent().unwrap_or(Path::new("."));
        let path = dir.join(target);
        if path == self.root_path {
            return Ok(Some(format!("#{pointer}")));
        }
        self.bundle_target(&path, &pointer).map(Some)
    }

    fn bundle_target(&mut self, path: &Path, pointer: &str) -> Result<String, OpenApiError> {
        let key = bundle_key(path, pointer);
        let local = format!("#/{BUNDLE_KEY}/{key}");
        if self.bundled.contains_key(&key) {
            return Ok(local); // already bundled, or being bundled: a cycle closes here
        }
        if !self.files.contains_key(path) {
            let root = self.root_path.display().to_string();
            let v = read_value(path).map_err(|e| match e {
                OpenApiError::Read { file, source } => OpenApiError::Invalid {
                    file: root,
                    message: format!("cannot read referenced file {file}: {source}"),
                },
                OpenApiError::Invalid { file, message } if file != root => OpenApiError::Invalid {
                    file: root,
                    message: format!("cannot read referenced file {file}: {message}"),
                },
                other => other,
            })?;
            self.files.insert(path.to_path_buf(), v);
        }
        let doc = &self.files[path];
        let mut target = match doc.pointer(pointer) {
            Some(t) => t.clone(),
            None => {
                return Err(OpenApiError::Invalid {
                    file: self.root_path.display().to_string(),
                    message: format!("reference `{}#{pointer}` points at nothing", path.display()),
                })
            }
        };
        self.bundled.insert(key.clone(), Value::Null);
        self.walk(&mut target, path, false, 0)?;
        self.bundled.insert(key, target);
        Ok(local)
    }
}

fn bundle_key(path: &Path, pointer: &str) -> String {
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let raw = format!("{name}{pointer}");
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Where unresolvable references (remote, unknown `$id`) are pointed: "any value".
fn unresolved_ref() -> String {
    format!("#/{BUNDLE_KEY}/unresolved")
}

/// Refuses local `$ref`s whose resolution cannot end: one that points at nothing, or a
/// chain of `$ref`s that loops back on itself (`A: {$ref: B}`, `B: {$ref: A}`). A schema
/// that refers to itself from inside (a tree node's `children`) is fine: its `$ref` reaches
/// an object that is not just another `$ref`. Runs on the bundled document, so references
/// across files are checked too. Examples, defaults, enums and extensions are data, not
/// references, and are not looked into.
pub(crate) fn check_refs(doc: &Value, file: &str) -> Result<(), OpenApiError> {
    let mut good = std::collections::HashSet::new();
    walk_refs(doc, doc, &mut String::from("#"), &mut good, file, 0)
}

fn walk_refs(
    doc: &Value,
    v: &Value,
    at: &mut String,
    good: &mut std::collections::HashSet<String>,
    file: &str,
    depth: usize,
) -> Result<(), OpenApiError> {
    if depth > 512 {
        return Ok(());
    }
    match v {
        Value::Object(obj) => {
            if let Some(Value::String(r)) = obj.get("$ref") {
                check_ref(doc, r, at, good, file)?;
            }
            for (k, c) in obj {
                let data = matches!(k.as_str(), "example" | "default" | "enum" | "const")
                    || (k.starts_with("x-") && k != BUNDLE_KEY);
                if data {
                    continue;
                }
                let len = at.len();
                at.push('/');
                at.push_str(&escape_pointer(k));
                walk_refs(doc, c, at, good, file, depth + 1)?;
                at.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                walk_refs(doc, c, at, good, file, depth + 1)?;
                at.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Follows one local `$ref` (written at `at`) through `$ref`-only targets to a real one.
fn check_ref(
    doc: &Value,
    r: &str,
    at: &str,
    good: &mut std::collections::HashSet<String>,
    file: &str,
) -> Result<(), OpenApiError> {
    let local = |r: &str| r.starts_with('#') && r != unresolved_ref();
    if !local(r) || good.contains(r) {
        return Ok(());
    }
    let mut chain: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut cur = r;
    loop {
        if !seen.insert(cur) {
            let mut shown: Vec<&str> = chain.clone();
            shown.push(cur);
            return Err(OpenApiError::Invalid {
                file: file.to_string(),
                message: format!(
                    "`$ref: '{r}'` at {at} never resolves: the references loop ({})",
                    shown.join(" -> ")
                ),
            });
        }
        chain.push(cur);
        let Some(target) = resolve_pointer(doc, cur) else {
            let via = if cur == r {
                String::new()
            } else {
                format!(" (through {})", chain.join(" -> "))
            };
            return Err(OpenApiError::Invalid {
                file: file.to_string(),
                message: format!("`$ref: '{cur}'` points at nothing{via}; referenced at {at}"),
            });
        };
        match target.get("$ref").and_then(Value::as_str) {
            Some(next) if local(next) && !good.contains(next) => cur = next,
            _ => break,
        }
    }
    good.extend(chain.into_iter().map(str::to_string));
    Ok(())
}

/// Which dialect the document was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Swagger2,
    OpenApi30,
    OpenApi31,
}

/// Detects the dialect from `swagger`/`openapi` (a number or a string).
pub(crate) fn dialect(doc: &Value) -> Option<Dialect> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Some(s) = doc.get("swagger").and_then(text) {
        return s.starts_with('2').then_some(Dialect::Swagger2);
    }
    let s = doc.get("openapi").and_then(text)?;
    if s.starts_with("3.0") {
        Some(Dialect::OpenApi30)
    } else if s.starts_with('3') {
        Some(Dialect::OpenApi31)
    } else {
        None
    }
}

/// Normalises schemas in place: `nullable`, boolean exclusive bounds, Swagger's
/// `x-nullable`; in a 3.1 document each 3.0-ism is also reported once.
pub(crate) fn normalise_schemas(doc: &mut Value, dialect: Dialect, warnings: &mut Vec<String>) {
    let mut seen = (false, false);
    normalise_node(doc, &mut seen, 0);
    if dialect == Dialect::OpenApi31 {
        if seen.0 {
            warnings.push("OpenAPI 3.1 document uses `nullable` (a 3.0 keyword); read as type: [..., \"null\"]".into());
        }
        if seen.1 {
            warnings.push("OpenAPI 3.1 document uses boolean `exclusiveMinimum`/`exclusiveMaximum` (3.0 style); read as numbers".into());
        }
    }
}

fn normalise_node(v: &mut Value, seen: &mut (bool, bool), depth: usize) {
    if depth > 256 {
        return;
    }
    match v {
        Value::Object(obj) => {
            let nullable = matches!(obj.get("nullable"), Some(Value::Bool(true)))
                || matches!(obj.get("x-nullable"), Some(Value::Bool(true)));
            if obj.contains_key("nullable") {
                seen.0 = true;
                obj.remove("nullable");
            }
            obj.remove("x-nullable");
            if nullable {
                match obj.get_mut("type") {
                    Some(Value::String(t)) => {
                        let t = t.clone();
                        obj.insert("type".into(), json!([t, "null"]));
                    }
                    Some(Value::Array(a)) if !a.iter().any(|x| x == "null") => {
                        a.push(json!("null"));
                    }
                    _ => {}
                }
                if let Some(Value::Array(e)) = obj.get_mut("enum") {
                    if !e.contains(&Value::Null) {
                        e.push(Value::Null);
                    }
                }
            }
            for (flag, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if let Some(Value::Bool(b)) = obj.get(flag).cloned() {
                    seen.1 = true;
                    obj.remove(flag);
                    if b {
                        if let Some(m) = obj.remove(bound) {
                            obj.insert(flag.into(), m);
                        }
                    }
                }
            }
            for (_, child) in obj.iter_mut() {
                normalise_node(child, seen, depth + 1);
            }
        }
        Value::Array(a) => a
            .iter_mut()
            .for_each(|c| normalise_node(c, seen, depth + 1)),
        _ => {}
    }
}

/// Converts a Swagger 2.0 document into the OpenAPI 3 shape.
pub(crate) fn swagger2_to_3(doc: &Value, warnings: &mut Vec<String>) -> Value {
    let mut out = Map::new();
    out.insert("openapi".into(), json!("3.0.3"));
    if let Some(info) = doc.get("info") {
        out.insert("info".into(), info.clone());
    }
    // servers from host/basePath/schemes
    let host = doc.get("host").and_then(Value::as_str);
    let base = doc.get("basePath").and_then(Value::as_str).unwrap_or("");
    let scheme = doc
        .get("schemes")
        .and_then(Value::as_array)
        .and_then(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .find(|s| *s == "https")
                .or_else(|| s.first().and_then(Value::as_str))
        })
        .unwrap_or("https");
    let url = match host {
        Some(h) => format!("{scheme}://{h}{base}"),
        None => base.to_string(),
    };
    if !url.is_empty() {
        out.insert("servers".into(), json!([{ "url": url }]));
    }
    let global_consumes = str_list(doc.get("consumes"));
    let global_produces = str_list(doc.get("produces"));
    let mut components = Map::new();
    if let Some(d) = doc.get("definitions") {
        components.insert("schemas".into(), d.clone());
    }
    if let Some(Value::Object(ps)) = doc.get("parameters") {
        let mut params = Map::new();
        let mut bodies = Map::new();
        for (k, p) in ps {
            match p.get("in").and_then(Value::as_str) {
                Some("body") | Some("formData") => {
                    bodies.insert(k.clone(), p.clone());
                }
                _ => {
                    params.insert(k.clone(), convert_param(p));
                }
            }
        }
        components.insert("parameters".into(), Value::Object(params));
        if !bodies.is_empty() {
            components.insert("x-swagger-body-parameters".into(), Value::Object(bodies));
        }
    }
    if let Some(Value::Object(rs)) = doc.get("responses") {
        let converted: Map<String, Value> = rs
            .iter()
            .map(|(k, r)| (k.clone(), convert_response(r, &global_produces)))
            .collect();
        components.insert("responses".into(), Value::Object(converted));
    }
    if let Some(Value::Object(ss)) = doc.get("securityDefinitions") {
        let mut schemes = Map::new();
        for (k, s) in ss {
            schemes.insert(k.clone(), convert_security(s));
        }
        components.insert("securitySchemes".into(), Value::Object(schemes));
    }
    let body_params = doc.get("parameters").cloned().unwrap_or(Value::Null);
    let mut paths = Map::new();
    if let Some(Value::Object(ps)) = doc.get("paths") {
        for (p, item) in ps {
            let Some(item) = item.as_object() else {
                continue;
            };
            let mut new_item = Map::new();
            let path_params: Vec<Value> = item
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (m, op) in item {
                if m == "parameters" {
                    continue;
                }
                if m.starts_with("x-") || !op.is_object() {
                    new_item.insert(m.clone(), op.clone());
                    continue;
                }
                let mut new_op = op.as_object().cloned().unwrap_or_default();
                let consumes = str_list(op.get("consumes"))
                    .or_else(|| global_consumes.clone())
                    .unwrap_or_else(|| vec!["application/json".into()]);
                let produces = str_list(op.get("produces")).or_else(|| global_produces.clone());
                let mut all_params = path_params.clone();
                all_params.extend(
                    op.get("parameters")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
                let mut params = Vec::new();
                let mut body: Option<Value> = None;
                let mut form: Vec<Value> = Vec::new();
                for p in all_params {
                    let resolved = match p.get("$ref").and_then(Value::as_str) {
                        Some(r) => match r.strip_prefix("#/parameters/") {
                            Some(name) => match body_params.get(name) {
                                Some(bp)
                                    if matches!(
                                        bp.get("in").and_then(Value::as_str),
                                        Some("body" | "formData")
                                    ) =>
                                {
                                    bp.clone()
                                }
                                _ => json!({ "$ref": format!("#/components/parameters/{name}") }),
                            },
                            None => p.clone(),
                        },
                        None => p.clone(),
                    };
                    match resolved.get("in").and_then(Value::as_str) {
                        Some("body") => body = Some(resolved),
                        Some("formData") => form.push(resolved),
                        _ => params.push(if resolved.get("$ref").is_some() {
                            resolved
                        } else {
                            convert_param(&resolved)
                        }),
                    }
                }
                new_op.remove("parameters");
                new_op.remove("consumes");
                new_op.remove("produces");
                if !params.is_empty() {
                    new_op.insert("parameters".into(), Value::Array(params));
                }
                if let Some(b) = body {
                    let schema = b.get("schema").cloned().unwrap_or(json!({}));
                    let mut content = Map::new();
                    let json_types: Vec<&String> =
                        consumes.iter().filter(|c| c.contains("json")).collect();
                    let types: Vec<String> = if json_types.is_empty() {
                        consumes.clone()
                    } else {
                        json_types.into_iter().cloned().collect()
                    };
                    for c in types {
                        let mut media = json!({ "schema": schema });
                        if let Some(x) = b.get("x-example").or_else(|| b.get("example")) {
                            media["example"] = x.clone();
                        }
                        content.insert(c, media);
                    }
                    new_op.insert(
                        "requestBody".into(),
                        json!({ "required": b.get("required").cloned().unwrap_or(json!(false)), "content": content }),
                    );
                } else if !form.is_empty() {
                    let multipart = consumes.iter().any(|c| c.contains("multipart"))
                        || form
                            .iter()
                            .any(|f| f.get("type").and_then(Value::as_str) == Some("file"));
                    let mut props = Map::new();
                    let mut required = Vec::new();
                    for f in &form {
                        let name = f
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("field")
                            .to_string();
                        let mut s = param_schema(f);
                        if f.get("type").and_then(Value::as_str) == Some("file") {
                            s = json!({ "type": "string", "format": "binary" });
                        }
                        props.insert(name.clone(), s);
                        if f.get("required").and_then(Value::as_bool).unwrap_or(false) {
                            required.push(json!(name));
                        }
                    }
                    let ct = if multipart {
                        "multipart/form-data"
                    } else {
                        "application/x-www-form-urlencoded"
                    };
                    let mut schema = json!({ "type": "object", "properties": props });
                    if !required.is_empty() {
                        schema["required"] = Value::Array(required);
                    }
                    new_op.insert(
                        "requestBody".into(),
                        json!({ "required": true, "content": { ct: { "schema": schema } } }),
                    );
                }
                if let Some(Value::Object(rs)) = op.get("responses") {
                    let converted: Map<String, Value> = rs
                        .iter()
                        .map(|(code, r)| (code.clone(), convert_response(r, &produces)))
                        .collect();
                    new_op.insert("responses".into(), Value::Object(converted));
                }
                new_item.insert(m.clone(), Value::Object(new_op));
            }
            paths.insert(p.clone(), Value::Object(new_item));
        }
    }
    out.insert("paths".into(), Value::Object(paths));
    if let Some(s) = doc.get("security") {
        out.insert("security".into(), s.clone());
    }
    out.insert("components".into(), Value::Object(components));
    let mut v = Value::Object(out);
    rewrite_refs(
        &mut v,
        &[
            ("#/definitions/", "#/components/schemas/"),
            ("#/responses/", "#/components/responses/"),
        ],
    );
    warnings.push("Swagger 2.0 document converted to OpenAPI 3".into());
    v
}

fn str_list(v: Option<&Value>) -> Option<Vec<String>> {
    let list: Vec<String> = v?
        .as_array()?
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    (!list.is_empty()).then_some(list)
}

/// A Swagger 2 non-body parameter's type information as a schema.
fn param_schema(p: &Value) -> Value {
    let mut s = Map::new();
    for k in [
        "type",
        "format",
        "items",
        "enum",
        "default",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "multipleOf",
    ] {
        if let Some(v) = p.get(k) {
            let v = if k == "items" {
                param_schema(v)
            } else {
                v.clone()
            };
            s.insert(k.into(), v);
        }
    }
    if let Some(x) = p.get("x-example") {
        s.insert("example".into(), x.clone());
    }
    Value::Object(s)
}

fn convert_param(p: &Value) -> Value {
    if p.get("$ref").is_some() {
        return p.clone();
    }
    let mut out = Map::new();
    for k in ["name", "in", "description", "required"] {
        if let Some(v) = p.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert("schema".into(), param_schema(p));
    if let Some(x) = p.get("x-example") {
        out.insert("example".into(), x.clone());
    }
    match p.get("collectionFormat").and_then(Value::as_str) {
        Some("multi") => {
            out.insert("style".into(), json!("form"));
            out.insert("explode".into(), json!(true));
        }
        Some("csv") | None if p.get("type").and_then(Value::as_str) == Some("array") => {
            out.insert("explode".into(), json!(false));
        }
        Some("ssv") => {
            out.insert("style".into(), json!("spaceDelimited"));
        }
        Some("pipes") => {
            out.insert("style".into(), json!("pipeDelimited"));
        }
        _ => {}
    }
    Value::Object(out)
}

fn convert_response(r: &Value, produces: &Option<Vec<String>>) -> Value {
    if r.get("$ref").is_some() {
        return r.clone();
    }
    let mut out = Map::new();
    out.insert(
        "description".into(),
        r.get("description").cloned().unwrap_or(json!("")),
    );
    if let Some(schema) = r.get("schema") {
        let types = produces
            .clone()
            .unwrap_or_else(|| vec!["application/json".into()]);
        let mut content = Map::new();
        for t in types {
            let mut media = json!({ "schema": schema });
            if let Some(ex) = r.get("examples").and_then(|e| e.get(&t)) {
                media["example"] = ex.clone();
            }
            content.insert(t, media);
        }
        out.insert("content".into(), Value::Object(content));
    }
    if let Some(Value::Object(hs)) = r.get("headers") {
        let headers: Map<String, Value> = hs
            .iter()
            .map(|(k, h)| (k.clone(), json!({ "schema": param_schema(h) })))
            .collect();
        out.insert("headers".into(), Value::Object(headers));
    }
    Value::Object(out)
}

fn convert_security(s: &Value) -> Value {
    match s.get("type").and_then(Value::as_str) {
        Some("basic") => json!({ "type": "http", "scheme": "basic" }),
        Some("oauth2") => {
            let flow = s.get("flow").and_then(Value::as_str).unwrap_or("implicit");
            let name = match flow {
                "application" => "clientCredentials",
                "accessCode" => "authorizationCode",
                "password" => "password",
                _ => "implicit",
            };
            let mut f = Map::new();
            for k in ["authorizationUrl", "tokenUrl", "scopes"] {
                if let Some(v) = s.get(k) {
                    f.insert(k.into(), v.clone());
                }
            }
            json!({ "type": "oauth2", "flows": { name: f } })
        }
        _ => s.clone(),
    }
}

fn rewrite_refs(v: &mut Value, rules: &[(&str, &str)]) {
    match v {
        Value::Object(obj) => {
            if let Some(Value::String(r)) = obj.get_mut("$ref") {
                for (from, to) in rules {
                    if let Some(rest) = r.strip_prefix(from) {
                        *r = format!("{to}{rest}");
                        break;
                    }
                }
            }
            obj.values_mut().for_each(|c| rewrite_refs(c, rules));
        }
        Value::Array(a) => a.iter_mut().for_each(|c| rewrite_refs(c, rules)),
        _ => {}
    }
}

/// Resolves a local reference (`#/a/b`) in the document.
pub(crate) fn resolve_pointer<'a>(doc: &'a Value, r: &str) -> Option<&'a Value> {
    let p = r.strip_prefix('#')?;
    if p.is_empty() {
        return Some(doc);
    }
    doc.pointer(p).or_else(|| {
        // Pointers with percent-encoded characters (`%7B` in paths); a `%` not followed by
        // two hex digits (`%aé`) stays as it is.
        let decoded = crate::util::percent_decode(p);
        doc.pointer(&decoded)
    })
}

/// Follows `$ref` chains (non-schema objects: parameters, responses, links, bodies).
pub(crate) fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    let mut cur = v;
    for _ in 0..32 {
        match cur.get("$ref").and_then(Value::as_str) {
            Some(r) => match resolve_pointer(doc, r) {
                Some(t) => cur = t,
                None => return cur,
            },
            None => return cur,
        }
    }
    cur
}

fn escape_pointer(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// Indexes `$id`s (→ JSON pointer) and `$anchor`s (per enclosing `$id`).
fn index_ids(
    v: &Value,
    at: &str,
    current: Option<&str>,
    ids: &mut HashMap<String, String>,
    anchors: &mut HashMap<(String, String), String>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Object(m) => {
            let mut cur = current.map(str::to_string);
            if let Some(id) = m.get("$id").and_then(Value::as_str) {
                ids.entry(id.to_string()).or_insert_with(|| at.to_string());
                cur = Some(id.to_string());
            }
            if let (Some(a), Some(c)) = (m.get("$anchor").and_then(Value::as_str), cur.as_deref()) {
                anchors
                    .entry((c.to_string(), a.to_string()))
                    .or_insert_with(|| at.to_string());
            }
            for (k, c) in m {
                if k == "example" || k == "examples" {
                    continue;
                }
                index_ids(
                    c,
                    &format!("{at}/{}", escape_pointer(k)),
                    cur.as_deref(),
                    ids,
                    anchors,
                    depth + 1,
                );
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                index_ids(c, &format!("{at}/{i}"), current, ids, anchors, depth + 1);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_with_percent_signs_before_multibyte_characters() {
        let doc = json!({"components": {"schemas": {"é": {"type": "string"}, "%aé": {"type": "integer"}, "{id}": {}}}});
        // `%` then a non-ASCII character: not an escape, looked up as written (was a panic).
        assert_eq!(
            resolve_pointer(&doc, "#/components/schemas/%aé"),
            Some(&json!({"type": "integer"}))
        );
        assert_eq!(resolve_pointer(&doc, "#/components/schemas/%é"), None);
        assert_eq!(resolve_pointer(&doc, "#/components/schemas/%"), None);
        assert_eq!(
            resolve_pointer(&doc, "#/components/schemas/%C3%A9"),
            Some(&json!({"type": "string"}))
        );
        assert_eq!(
            resolve_pointer(&doc, "#/components/schemas/%7Bid%7D"),
            Some(&json!({}))
        );
        assert_eq!(resolve_pointer(&doc, "#/components/schemas/%C3"), None);
    }
}
