//! The OpenAPI front end: `throng compile SPEC` for OpenAPI 3.0/3.1 and Swagger 2.0.
//!
//! Pipeline: [`load`] (parse, bundle `$ref`s, normalise to one 3.1-like form) →
//! [`model`] (operation index and classification) → [`chain`] (which response feeds which
//! request: links, then naming heuristics, then `Location`) → [`synth`] (request values
//! from examples or schemas, auth, flows ordered so that each consumer follows its
//! producer) → YAML through `templates/openapi-scenario.yaml.j2`, checked by
//! `throng_ir::load_str` before it is returned.

mod arazzo;
mod chain;
mod load;
mod model;
mod schema;
mod synth;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{json, Value};

use chain::{jsonpath, Binding, Source};
use model::{Kind, Op};
use schema::{Schemas, Side};
use synth::{render_sample, Builder, Override, Planner, StepOut, Value2, TOKEN_STEP};

const TEMPLATE: &str = include_str!("../../../../templates/openapi-scenario.yaml.j2");

/// Which scenarios to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Per resource: create, read, list, update, delete in dependency order.
    Crud,
    /// Every operation once, each consumer after its producer.
    Smoke,
}

/// Options of `throng compile` for OpenAPI input.
#[derive(Debug, Clone, Default)]
pub struct OpenApiOptions {
    /// Overrides the first server's URL as `vars.base_url`.
    pub base_url: Option<String>,
    /// Only operations whose operationId or `METHOD /path` matches are targeted.
    pub operations: Option<regex::Regex>,
    /// The flows to emit; empty means all.
    pub flows: Vec<Flow>,
    /// The plan's name (default: the spec's title).
    pub name: Option<String>,
}

/// The compiled scenario and what the compiler did.
#[derive(Debug, Clone)]
pub struct OpenApiCompiled {
    pub yaml: String,
    pub report: OpenApiReport,
    /// Every JSON request body emitted, with its schema and a rendered sample, for verification.
    pub bodies: Vec<BodySample>,
}

/// One JSON request body: the step, the request schema (inlined) and the body with
/// templates rendered to sample values.
#[derive(Debug, Clone)]
pub struct BodySample {
    pub scenario: String,
    pub step: String,
    pub schema: Value,
    pub sample: Value,
}

/// What happened to each operation, the chains inferred and the warnings.
#[derive(Debug, Clone, Default)]
pub struct OpenApiReport {
    pub file: String,
    pub title: String,
    pub spec_version: String,
    pub operations: Vec<OperationReport>,
    pub chains: Vec<ChainReport>,
    pub warnings: Vec<String>,
    pub scenarios: Vec<(String, usize)>,
}

#[derive(Debug, Clone)]
pub struct OperationReport {
    pub id: String,
    pub method: String,
    pub path: String,
    pub kind: String,
    /// Scenarios that call it; empty when skipped.
    pub scenarios: Vec<String>,
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChainReport {
    pub consumer: String,
    pub input: String,
    pub producer: String,
    pub extractor: String,
    pub provenance: String,
}

impl OpenApiReport {
    pub fn found(&self) -> usize {
        self.operations.len()
    }
    pub fn covered(&self) -> usize {
        self.operations
            .iter()
            .filter(|o| !o.scenarios.is_empty())
            .count()
    }
    pub fn skipped(&self) -> usize {
        self.operations
            .iter()
            .filter(|o| o.scenarios.is_empty())
            .count()
    }
}

impl fmt::Display for OpenApiReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({}, {})", self.file, self.title, self.spec_version)?;
        writeln!(
            f,
            "operations: {} found, {} covered, {} skipped",
            self.found(),
            self.covered(),
            self.skipped()
        )?;
        for o in &self.operations {
            match &o.skipped {
                Some(why) => writeln!(f, "  skipped  {} {} ({}): {why}", o.method, o.path, o.id)?,
                None if o.scenarios.is_empty() => writeln!(
                    f,
                    "  skipped  {} {} ({}): not reached",
                    o.method, o.path, o.id
                )?,
                None => writeln!(
                    f,
                    "  covered  {} {} ({}, {}) in {}",
                    o.method,
                    o.path,
                    o.id,
                    o.kind,
                    o.scenarios.join(", ")
                )?,
            }
        }
        writeln!(f, "chains inferred: {}", self.chains.len())?;
        for c in &self.chains {
            writeln!(
                f,
                "  {} {} <- {} {} [{}]",
                c.consumer, c.input, c.producer, c.extractor, c.provenance
            )?;
        }
        writeln!(
            f,
            "scenarios: {}",
            self.scenarios
                .iter()
                .map(|(n, s)| format!("{n} ({s} steps)"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        if !self.warnings.is_empty() {
            writeln!(f, "warnings: {}", self.warnings.len())?;
            for w in &self.warnings {
                writeln!(f, "  {w}")?;
            }
        }
        Ok(())
    }
}

/// Why a spec could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: the generated scenario is invalid (a compiler bug): {message}")]
    Output { file: String, message: String },
}

/// Whether a parsed document is an OpenAPI (3.x) or Swagger (2.0) description.
pub fn looks_like_openapi(value: &Value) -> bool {
    let Some(obj) = value.as_object() else {
        return false;
    };
    let versioned = |k: &str| matches!(obj.get(k), Some(Value::String(_)) | Some(Value::Number(_)));
    (versioned("openapi") || versioned("swagger") || obj.contains_key("arazzo"))
        && (obj.contains_key("paths")
            || obj.contains_key("webhooks")
            || obj.contains_key("components")
            || obj.contains_key("info"))
}

/// Compiles an OpenAPI/Swagger document into a scenario file.
pub fn compile_spec(path: &Path, opts: &OpenApiOptions) -> Result<OpenApiCompiled, OpenApiError> {
    let file = path.display().to_string();
    let invalid = |message: String| OpenApiError::Invalid {
        file: file.clone(),
        message,
    };
    let doc = load::read_value(path)?;
    if !doc.is_object() {
        return Err(invalid(
            "not an OpenAPI document: the top level is not a mapping".into(),
        ));
    }
    if doc.get("arazzo").is_some() {
        return arazzo::compile(path, &doc, opts);
    }
    let Loaded {
        doc,
        ops,
        title,
        spec_version,
        warnings,
    } = load_spec(path, doc)?;
    let ctx = Compilation {
        doc: &doc,
        ops: &ops,
        opts,
        file: file.clone(),
        title,
        spec_version,
    };
    ctx.run(warnings)
}

/// A bundled, normalised OpenAPI document and its operation index.
struct Loaded {
    doc: Value,
    ops: Vec<Op>,
    title: String,
    spec_version: String,
    warnings: Vec<String>,
}

/// Bundles and normalises a parsed OpenAPI/Swagger document and indexes its operations.
fn load_spec(path: &Path, mut doc: Value) -> Result<Loaded, OpenApiError> {
    let file = path.display().to_string();
    let invalid = |message: String| OpenApiError::Invalid {
        file: file.clone(),
        message,
    };
    if !doc.is_object() {
        return Err(invalid(
            "not an OpenAPI document: the top level is not a mapping".into(),
        ));
    }
    let dialect = load::dialect(&doc).ok_or_else(|| {
        invalid(
            "not an OpenAPI document: expected a top-level `openapi: 3.x` or `swagger: \"2.0\"`"
                .into(),
        )
    })?;
    let mut warnings = Vec::new();
    load::bundle(&mut doc, path, &mut warnings)?;
    load::check_refs(&doc, &file)?;
    if dialect == load::Dialect::Swagger2 {
        doc = load::swagger2_to_3(&doc, &mut warnings);
    }
    load::normalise_schemas(&mut doc, dialect, &mut warnings);
    if doc.get("paths").is_some_and(|p| !p.is_object()) {
        return Err(invalid("`paths` must be a mapping".into()));
    }
    let ops = model::index(&doc, &mut warnings);
    let title = doc
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("openapi")
        .to_string();
    let spec_version = match dialect {
        load::Dialect::Swagger2 => "Swagger 2.0".to_string(),
        _ => format!(
            "OpenAPI {}",
            doc.get("openapi")
                .map(|v| v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()))
                .unwrap_or_default()
        ),
    };
    Ok(Loaded {
        doc,
        ops,
        title,
        spec_version,
        warnings,
    })
}

struct Compilation<'a> {
    doc: &'a Value,
    ops: &'a [Op],
    opts: &'a OpenApiOptions,
    file: String,
    title: String,
    spec_version: String,
}

#[derive(Serialize)]
struct Kv {
    key: String,
    value: String,
    comment: String,
}

/// Key/value pairs quoted for the YAML template, without comments.
fn quoted_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Vec<Kv> {
    pairs
        .into_iter()
        .map(|(k, v)| Kv {
            key: q(k.as_ref()),
            value: q(v.as_ref()),
            comment: String::new(),
        })
        .collect()
}

#[derive(Serialize)]
struct ExtractCtx {
    var: String,
    spec: String,
    comment: String,
}

#[derive(Serialize)]
struct StepCtx {
    comments: Vec<String>,
    name: String,
    method: String,
    url: String,
    query: Vec<Kv>,
    headers: Vec<Kv>,
    body_kind: Option<String>,
    body_inline: Option<String>,
    body_lines: Vec<String>,
    follow_redirects: bool,
    extract: Vec<ExtractCtx>,
    status: String,
    schema: Option<String>,
    /// Further checks, each a YAML flow mapping.
    checks: Vec<String>,
}

#[derive(Serialize)]
struct ScenarioCtx {
    name: String,
    comment: String,
    steps: Vec<StepCtx>,
}

#[derive(Serialize)]
struct PlanCtx {
    header: Vec<String>,
    name: String,
    vars: Vec<Kv>,
    secrets: Vec<String>,
    scenarios: Vec<ScenarioCtx>,
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn one_line(s: &str) -> String {
    let t: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() > 160 {
        t.chars().take(157).collect::<String>() + "..."
    } else {
        t
    }
}

fn lit(s: &str) -> String {
    throng_ir::Template::literal(s).source().to_string()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(","),
        Value::Object(m) => m
            .iter()
            .flat_map(|(k, v)| [k.clone(), value_text(v)])
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

fn pct(s: &str, keep: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.as_bytes().contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn use_binding(var: &str, b: &Binding) -> String {
    let expr = match &b.transform {
        Some(t) => format!("{{{{ {var} | {t} }}}}"),
        None => format!("{{{{ {var} }}}}"),
    };
    format!("{}{expr}{}", lit(&b.prefix), lit(&b.suffix))
}

impl Compilation<'_> {
    fn targeted(&self, op: &Op) -> bool {
        match &self.opts.operations {
            Some(re) => re.is_match(&op.id) || re.is_match(&format!("{} {}", op.method, op.path)),
            None => true,
        }
    }

    fn run(&self, mut warnings: Vec<String>) -> Result<OpenApiCompiled, OpenApiError> {
        let planner = Planner::new(self.doc, self.ops);
        warnings.extend(planner.warnings.iter().cloned());
        let flows = if self.opts.flows.is_empty() {
            vec![Flow::Crud, Flow::Smoke]
        } else {
            self.opts.flows.clone()
        };
        let mut scenarios: Vec<(String, String, Builder)> = Vec::new();
        if flows.contains(&Flow::Crud) {
            for (shape, members) in synth::crud_groups(self.ops) {
                if !members.iter().any(|m| self.targeted(&self.ops[*m])) {
                    continue;
                }
                // Only resources that a request creates get a lifecycle flow.
                let item_ops: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|m| chain::shape(&self.ops[*m].path) == shape)
                    .collect();
                let created_by = item_ops.iter().find_map(|m| {
                    let op = &self.ops[*m];
                    let item = op.item_param()?;
                    let plan = planner.plans[*m].as_ref()?;
                    plan.params.iter().find_map(|(pi, v)| match v {
                        Value2::Bound(b)
                            if op.params[*pi].name == item
                                && b.producer != TOKEN_STEP
                                && self.ops[b.producer].method != "GET" =>
                        {
                            Some(b.producer)
                        }
                        _ => None,
                    })
                });
                let Some(creator) = created_by else { continue };
                let mut b = Builder::new(&planner);
                for m in &members {
                    if !b.executed(*m) && self.targeted(&self.ops[*m]) {
                        b.run(*m);
                    }
                }
                if b.steps.len() < 2 {
                    continue;
                }
                let mut name = synth::crud_name(&shape);
                while scenarios.iter().any(|(n, _, _)| *n == name) {
                    name.push('_');
                }
                let c = &self.ops[creator];
                let comment = format!(
                    "lifecycle of {shape}: created by {} {}, then read, list, update, delete",
                    c.method, c.path
                );
                scenarios.push((name, comment, b));
            }
        }
        if flows.contains(&Flow::Smoke) {
            let mut b = Builder::new(&planner);
            let tp = planner
                .token_producer
                .as_ref()
                .map(|t| t.producer)
                .filter(|p| *p != TOKEN_STEP);
            let mut order: Vec<&Op> = self
                .ops
                .iter()
                .filter(|o| o.skip.is_none() && self.targeted(o))
                .collect();
            order.sort_by_key(|o| (synth::smoke_phase(o, tp), o.index));
            for o in order {
                if !b.executed(o.index) {
                    b.run(o.index);
                }
            }
            if !b.steps.is_empty() {
                scenarios.push((
                    "smoke".into(),
                    "every operation once; producers run before their consumers".into(),
                    b,
                ));
            }
        }
        if scenarios.is_empty() {
            return Err(OpenApiError::Invalid {
                file: self.file.clone(),
                message: "no operation can be compiled into a scenario (see the report's skipped operations)".into(),
            });
        }
        // Render.
        let mut report = OpenApiReport {
            file: self.file.clone(),
            title: self.title.clone(),
            spec_version: self.spec_version.clone(),
            ..Default::default()
        };
        let mut covered: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut chains = std::collections::BTreeSet::new();
        let mut bodies = Vec::new();
        let mut scen_ctx = Vec::new();
        for (name, comment, b) in &scenarios {
            let mut steps = Vec::new();
            for st in &b.steps {
                if st.op != TOKEN_STEP {
                    let e = covered.entry(st.op).or_default();
                    if !e.contains(name) {
                        e.push(name.clone());
                    }
                }
                steps.push(self.step_ctx(&planner, b, st, name, &mut bodies, &mut warnings));
            }
            for (op, input, bd) in &b.chains {
                chains.insert(ChainReport {
                    consumer: format!("{} {}", self.ops[*op].method, self.ops[*op].path),
                    input: input.clone(),
                    producer: if bd.producer == TOKEN_STEP {
                        "oauth2 token".into()
                    } else {
                        format!(
                            "{} {}",
                            self.ops[bd.producer].method, self.ops[bd.producer].path
                        )
                    },
                    extractor: match &bd.source {
                        Source::Json(p) => p.clone(),
                        Source::Header(h) => format!("header {h}"),
                    },
                    provenance: bd.provenance.clone(),
                });
            }
            warnings.extend(b.fallbacks.iter().cloned());
            report.scenarios.push((name.clone(), steps.len()));
            scen_ctx.push(ScenarioCtx {
                name: q(name),
                comment: one_line(comment),
                steps,
            });
        }
        report.chains = chains.into_iter().collect();
        for op in self.ops {
            let skipped = op.skip.clone().or_else(|| {
                (!self.targeted(op)).then(|| "not selected by --operations".to_string())
            });
            report.operations.push(OperationReport {
                id: op.id.clone(),
                method: op.method.clone(),
                path: op.path.clone(),
                kind: op.kind.label().into(),
                scenarios: covered.get(&op.index).cloned().unwrap_or_default(),
                skipped,
            });
        }
        let mut seen = std::collections::HashSet::new();
        warnings.retain(|w| seen.insert(w.clone()));
        report.warnings = warnings;

        // Variables.
        let base_url = match &self.opts.base_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => self.server_url(),
        };
        let mut vars = vec![Kv {
            key: "base_url".into(),
            value: q(&lit(&base_url)),
            comment: "first server; `throng run --base-url` overrides".into(),
        }];
        for (k, (v, c)) in &planner.vars {
            vars.push(Kv {
                key: k.clone(),
                value: q(v),
                comment: c.clone(),
            });
        }
        let found = report.found();
        let header = vec![
            format!("Compiled by `throng compile` from {} ({}, {}).", self.file, one_line(&self.title), self.spec_version),
            format!("Operations: {found} found, {} covered, {} skipped; {} chains inferred (see the compile report).", report.covered(), report.skipped(), report.chains.len()),
        ];
        let ctx = PlanCtx {
            header,
            name: q(&self.opts.name.clone().unwrap_or_else(|| self.title.clone())),
            vars,
            secrets: planner.secrets.iter().cloned().collect(),
            scenarios: scen_ctx,
        };
        let out = render(&ctx, &self.file)?;
        Ok(OpenApiCompiled {
            yaml: out,
            report,
            bodies,
        })
    }

    fn server_url(&self) -> String {
        server_url(self.doc)
    }

    fn step_ctx(
        &self,
        planner: &Planner,
        b: &Builder,
        st: &StepOut,
        scenario: &str,
        bodies: &mut Vec<BodySample>,
        warnings: &mut Vec<String>,
    ) -> StepCtx {
        let var_of = |bd: &Binding| -> String { b.var_name_in(bd, st) };
        if st.op == TOKEN_STEP {
            let ts = planner.token_step.as_ref().expect("token step planned");
            let url = if ts.token_url.starts_with('/') {
                format!("{{{{ base_url }}}}{}", lit(&ts.token_url))
            } else {
                lit(&ts.token_url)
            };
            return StepCtx {
                comments: vec![format!("OAuth2 client credentials token for `{}` (client id/secret from OAUTH_CLIENT_ID/OAUTH_CLIENT_SECRET)", ts.scheme)],
                name: q(&st.name),
                method: "POST".into(),
                url: q(&url),
                query: Vec::new(),
                headers: Vec::new(),
                body_kind: Some("form".into()),
                body_inline: None,
                body_lines: vec!["grant_type: client_credentials".into(), "client_id: \"{{ client_id }}\"".into(), "client_secret: \"{{ client_secret }}\"".into()],
                follow_redirects: true,
                extract: st.extract.iter().map(|(v, s, c)| ExtractCtx { var: v.clone(), spec: extractor_yaml(s), comment: one_line(c) }).collect(),
                status: "2xx".into(),
                schema: None,
                checks: Vec::new(),
            };
        }
        let op = &self.ops[st.op];
        let plan = planner.plans[st.op].as_ref().expect("planned");
        let mut comments = vec![one_line(&format!(
            "{} {} ({}, {}){}",
            op.method,
            op.path,
            op.id,
            op.kind.label(),
            if op.summary.is_empty() {
                String::new()
            } else {
                format!(": {}", op.summary)
            }
        ))];
        // URL and parameters.
        let mut url = String::from("{{ base_url }}");
        let mut query: Vec<(String, String)> = Vec::new();
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut cookies: Vec<(String, String)> = Vec::new();
        let value_of = |pi: usize| plan.params.iter().find(|(i, _)| *i == pi).map(|(_, v)| v);
        for seg in op.path.split('/').filter(|s| !s.is_empty()) {
            url.push('/');
            // Segments may mix text and several parameters: `{a}.{b}`, `file.{ext}`.
            let mut rest = seg;
            while let Some(open) = rest.find('{') {
                let Some(close) = rest[open..].find('}').map(|c| c + open) else {
                    break;
                };
                url.push_str(&lit(&pct(&rest[..open], "!$&'()*+,;=:@")));
                let pname = &rest[open + 1..close];
                let pi = op
                    .params
                    .iter()
                    .position(|p| p.location == "path" && p.name == pname);
                match pi.and_then(value_of) {
                    Some(Value2::Bound(bd)) if !st.unbound.contains(&bd.key()) => {
                        url.push_str(&use_binding(&var_of(bd), bd))
                    }
                    Some(Value2::Bound(_)) => {
                        let (v, _) = planner.literal_for(&op.params[pi.unwrap_or(0)]);
                        url.push_str(&lit(&pct(&value_text(&v), ",:@")));
                    }
                    Some(Value2::Literal(v, _)) => url.push_str(&lit(&pct(&value_text(v), ",:@"))),
                    None => url.push('x'),
                }
                rest = &rest[close + 1..];
            }
            url.push_str(&lit(&pct(rest, "!$&'()*+,;=:@")));
        }
        if op.path.trim_matches('/').is_empty() || op.path.ends_with('/') {
            url.push('/');
        }
        for (pi, v) in &plan.params {
            let p = &op.params[*pi];
            if p.location == "path" {
                if let Value2::Literal(_, why) = v {
                    comments.push(format!("path `{}`: {why}", p.name));
                }
                continue;
            }
            let pairs: Vec<(String, String)> = match v {
                Value2::Bound(bd) if !st.unbound.contains(&bd.key()) => {
                    vec![(p.name.clone(), use_binding(&var_of(bd), bd))]
                }
                Value2::Bound(_) => serialize_param(p, &planner.literal_for(p).0),
                Value2::Literal(val, _) => serialize_param(p, val),
            };
            match p.location.as_str() {
                "query" => query.extend(pairs),
                "header" => headers.extend(pairs),
                "cookie" => cookies.extend(pairs),
                _ => {}
            }
        }
        query.extend(plan.auth.query.iter().cloned());
        headers.extend(plan.auth.headers.iter().cloned());
        cookies.extend(plan.auth.cookies.iter().cloned());
        if let Some(n) = &plan.auth.note {
            comments.push(one_line(n));
        }
        if !cookies.is_empty() {
            headers.push((
                "Cookie".into(),
                cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ));
        }
        // Query: a map when names are unique, else in the URL.
        let mut qmap: Vec<Kv> = Vec::new();
        let unique_names = {
            let mut s = std::collections::HashSet::new();
            query.iter().all(|(k, _)| s.insert(k.clone()))
        };
        if unique_names {
            qmap = quoted_pairs(query);
        } else {
            let qs: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        pct(k, "[]"),
                        if v.contains("{{") {
                            v.clone()
                        } else {
                            pct(v, ",")
                        }
                    )
                })
                .collect();
            url.push('?');
            url.push_str(&qs.join("&"));
        }
        // Body.
        let mut body_kind = None;
        let mut body_inline = None;
        let mut body_lines = Vec::new();
        if let Some(body) = &plan.body {
            comments.push(one_line(&body.note));
            let mut emitted = escape_strings(&body.sample);
            let mut sample = body.sample.clone();
            for (path, ov) in &body.overrides {
                match ov {
                    Override::Bound(bd) if st.unbound.contains(&bd.key()) => {}
                    Override::Bound(bd) => {
                        synth::set_at(
                            &mut emitted,
                            path,
                            Value::String(use_binding(&var_of(bd), bd)),
                        );
                    }
                    Override::Unique(t) => {
                        synth::set_at(&mut emitted, path, Value::String(t.clone()));
                        synth::set_at(&mut sample, path, Value::String(render_sample(t)));
                        comments.push(format!("body {}: unique per request", jsonpath(path)));
                    }
                }
            }
            let media = body.media.to_ascii_lowercase();
            if media.contains("json") || media == "*/*" {
                body_kind = Some("json".into());
                (body_inline, body_lines) = json_body_layout(&emitted);
                bodies.push(BodySample {
                    scenario: scenario.to_string(),
                    step: st.name.clone(),
                    schema: body.schema.clone(),
                    sample,
                });
            } else if media.starts_with("application/x-www-form-urlencoded")
                || media.starts_with("multipart/")
            {
                let multipart = media.starts_with("multipart/");
                body_kind = Some(if multipart { "multipart" } else { "form" }.into());
                let props = self.doc_props(
                    &op.body
                        .as_ref()
                        .map(|b| b.schema.clone())
                        .unwrap_or(Value::Null),
                );
                if let Value::Object(m) = &emitted {
                    for (k, v) in m {
                        let text = field_text(v);
                        let binary = props.get(k).is_some_and(|s| {
                            s.get("format").and_then(Value::as_str) == Some("binary")
                                || s.get("contentMediaType").is_some()
                        });
                        if multipart && binary {
                            body_lines.push(format!("{}: {{content: {}, filename: {}, content_type: application/octet-stream}}", q(k), q(&text), q(&format!("{}.bin", model::snake(k)))));
                        } else {
                            body_lines.push(format!("{}: {}", q(k), q(&text)));
                        }
                    }
                }
                if body_lines.is_empty() {
                    body_kind = None;
                }
            } else {
                body_kind = Some("body".into());
                let text = match &emitted {
                    Value::String(s) => s.clone(),
                    other => serde_json::to_string(other).unwrap_or_default(),
                };
                body_inline = Some(q(&text));
                headers.push(("Content-Type".into(), body.media.clone()));
            }
        }
        // Checks.
        let status = status_text(&op.success);
        let schema = response_schema(self.doc, op, warnings);
        for (var, _, c) in &st.extract {
            let _ = var;
            let _ = c;
        }
        StepCtx {
            comments,
            name: q(&st.name),
            method: op.method.clone(),
            url: q(&url),
            query: qmap,
            headers: quoted_pairs(headers),
            body_kind,
            body_inline,
            body_lines,
            follow_redirects: !op.no_redirect,
            extract: st
                .extract
                .iter()
                .map(|(v, s, c)| ExtractCtx {
                    var: v.clone(),
                    spec: extractor_yaml(s),
                    comment: one_line(c),
                })
                .collect(),
            status,
            schema,
            checks: Vec::new(),
        }
    }

    fn doc_props(&self, schema: &Value) -> IndexMap<String, Value> {
        let s = Schemas::new(self.doc);
        let r = s.resolve(schema);
        r.get("properties")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), s.resolve(v).clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn server_url(doc: &Value) -> String {
    let Some(server) = doc
        .get("servers")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
    else {
        return "http://localhost:8080".into();
    };
    let mut url = server
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(vars) = server.get("variables").and_then(Value::as_object) {
        for (k, v) in vars {
            let d = v
                .get("default")
                .map(value_text)
                .or_else(|| v.get("enum").and_then(|e| e.get(0)).map(value_text))
                .unwrap_or_default();
            url = url.replace(&format!("{{{k}}}"), &d);
        }
    }
    if url.starts_with('/') || url.is_empty() {
        url = format!("http://localhost:8080{url}");
    }
    url.trim_end_matches('/').to_string()
}

/// The `schema` check of an operation's success responses, as compact JSON.
fn response_schema(doc: &Value, op: &Op, warnings: &mut Vec<String>) -> Option<String> {
    let schema = match op.response_schemas.len() {
        0 => None,
        1 => Some(Schemas::new(doc).inline(&op.response_schemas[0], Side::Response)),
        _ => Some(
            json!({ "anyOf": op.response_schemas.iter().map(|s| Schemas::new(doc).inline(s, Side::Response)).collect::<Vec<_>>() }),
        ),
    };
    let schema = schema.filter(|s| {
        let ok = jsonschema::validator_for(s).is_ok();
        if !ok {
            warnings.push(format!(
                "{}: the response schema cannot be compiled by the validator; no schema check",
                op.label()
            ));
        }
        ok && s.as_object().is_some_and(|m| !m.is_empty())
    });
    schema.map(|s| serde_json::to_string(&s).unwrap_or_default())
}

/// Renders the plan through the template and checks the result with `throng_ir::load_str`.
fn render(ctx: &PlanCtx, file: &str) -> Result<String, OpenApiError> {
    let mut env = minijinja::Environment::new();
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    let out = env
        .render_str(
            TEMPLATE,
            minijinja::Value::from(minijinja::value::Serde(ctx)),
        )
        .map_err(|e| OpenApiError::Output {
            file: file.to_string(),
            message: e.to_string(),
        })?;
    if let Err(e) = throng_ir::load_str(&out, "compiled.yaml", Path::new(".")) {
        return Err(OpenApiError::Output {
            file: file.to_string(),
            message: e.to_string(),
        });
    }
    Ok(out)
}

fn extractor_yaml(s: &Source) -> String {
    match s {
        Source::Json(p) => format!("{{json: {}}}", q(p)),
        Source::Header(h) => format!("{{header: {}}}", q(h)),
    }
}

fn status_text(codes: &[String]) -> String {
    if codes.iter().any(|c| c.contains('X')) {
        let class = codes
            .iter()
            .find(|c| c.contains('X'))
            .and_then(|c| c.chars().next())
            .map(String::from)
            .unwrap_or_else(|| "2".into());
        return format!("{class}xx");
    }
    let nums: Vec<u16> = codes.iter().filter_map(|c| c.parse().ok()).collect();
    match nums.as_slice() {
        [] => "2xx".into(),
        [one] => one.to_string(),
        many => format!(
            "[{}]",
            many.iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Strings in a literal JSON value, escaped so that none is read as a template.
fn escape_strings(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(lit(s)),
        Value::Array(a) => Value::Array(a.iter().map(escape_strings).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), escape_strings(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A non-body parameter's literal value as (name, text) pairs, by style.
fn serialize_param(p: &model::Param, v: &Value) -> Vec<(String, String)> {
    if p.content.is_some() {
        return vec![(
            p.name.clone(),
            lit(&serde_json::to_string(v).unwrap_or_default()),
        )];
    }
    let style = p.style.clone().unwrap_or_else(|| {
        if p.location == "query" || p.location == "cookie" {
            "form".into()
        } else {
            "simple".into()
        }
    });
    let explode = p.explode.unwrap_or(style == "form");
    let pairs = match (v, style.as_str()) {
        (Value::Object(m), "deepObject") => m
            .iter()
            .map(|(k, x)| (format!("{}[{k}]", p.name), value_text(x)))
            .collect(),
        (Value::Object(m), "form") if explode => {
            m.iter().map(|(k, x)| (k.clone(), value_text(x))).collect()
        }
        (Value::Array(a), "form") if explode => {
            a.iter().map(|x| (p.name.clone(), value_text(x))).collect()
        }
        (Value::Array(a), "spaceDelimited") => vec![(
            p.name.clone(),
            a.iter().map(value_text).collect::<Vec<_>>().join(" "),
        )],
        (Value::Array(a), "pipeDelimited") => vec![(
            p.name.clone(),
            a.iter().map(value_text).collect::<Vec<_>>().join("|"),
        )],
        _ => vec![(p.name.clone(), value_text(v))],
    };
    pairs.into_iter().map(|(k, v)| (k, lit(&v))).collect()
}

impl Builder<'_, '_> {
    /// The variable a binding was extracted into, as seen from step `st`.
    pub(crate) fn var_name_in(&self, b: &Binding, st: &StepOut) -> String {
        // Latest extraction of this binding before the step.
        let pos = self
            .steps
            .iter()
            .position(|s| std::ptr::eq(s, st))
            .unwrap_or(self.steps.len());
        for s in self.steps[..pos].iter().rev() {
            if s.op == b.producer || (b.producer == TOKEN_STEP && s.op == TOKEN_STEP) {
                if let Some((v, _, _)) = s.extract.iter().find(|(_, src, _)| *src == b.source) {
                    return v.clone();
                }
            }
        }
        b.var.clone()
    }
}

#[allow(dead_code)]
fn kinds_used(ops: &[Op]) -> Vec<Kind> {
    ops.iter().map(|o| o.kind).collect()
}

/// How a JSON body is written in the emitted YAML: inline when its compact form is short,
/// else as pretty-printed lines.
pub(crate) fn json_body_layout(body: &Value) -> (Option<String>, Vec<String>) {
    let compact = serde_json::to_string(body).unwrap_or_default();
    if compact.len() <= 100 {
        (Some(compact), Vec::new())
    } else {
        let pretty = serde_json::to_string_pretty(body).unwrap_or_default();
        (None, pretty.lines().map(str::to_string).collect())
    }
}

/// A form or multipart field's text: strings as they are, other values as JSON.
pub(crate) fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}
