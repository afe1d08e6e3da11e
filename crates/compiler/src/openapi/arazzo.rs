//! Arazzo 1.0 workflows: each workflow becomes a scenario against its OpenAPI source.
//!
//! Steps are resolved by `operationId` or `operationPath` in the source descriptions
//! (resolved relative to the Arazzo file); `parameters` and `requestBody` payloads keep
//! their literals and turn runtime expressions (`$inputs.x`, `$steps.s.outputs.y`,
//! `$workflows.w.outputs.z`, embedded `{$...}`) into templates; `outputs` become
//! extractors named `{step}_{output}`; `successCriteria` become `status`, `json`, `header`
//! and `body_matches` checks; workflow `inputs` become `vars` (default, example, or a value
//! generated from the schema); `dependsOn` workflows run first in the same scenario.
//! Anything else (workflow steps, actions, xpath criteria, `$request`/`$url` outputs) is
//! reported as a warning and left out.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::chain::jsonpath;
use super::load;
use super::model::{snake, Op};
use super::schema::{Schemas, Side};
use super::synth::Planner;
use super::{
    escape_strings, lit, load_spec, one_line, pct, q, quoted_pairs, response_schema,
    serialize_param, server_url, status_text, value_text, ChainReport, ExtractCtx, Kv,
    OpenApiCompiled, OpenApiError, OpenApiOptions, OpenApiReport, OperationReport, PlanCtx,
    ScenarioCtx, StepCtx,
};

/// One OpenAPI source description, loaded.
struct SourceDoc {
    name: String,
    file: String,
    doc: Value,
    ops: Vec<Op>,
    spec_version: String,
    /// The variable holding its base URL.
    base_var: String,
    base_url: String,
}

/// A value as it will be emitted: a literal, or a template string.
#[derive(Debug, Clone)]
enum Val {
    Lit(Value),
    Tpl(String),
}

/// What runtime expressions resolve to while one scenario is built.
#[derive(Default)]
struct Scope {
    /// input name -> variable, for the workflow being emitted
    inputs: HashMap<String, String>,
    /// stepId -> output name -> variable
    steps: HashMap<String, BTreeMap<String, String>>,
    /// workflowId -> output name -> minijinja expression
    workflows: HashMap<String, BTreeMap<String, String>>,
    /// variables already used in this scenario
    used: HashSet<String>,
    step_names: HashSet<String>,
    done: HashSet<String>,
}

struct Ctx<'a> {
    arazzo: &'a Value,
    sources: &'a [SourceDoc],
    planners: Vec<Planner<'a>>,
    workflows: Vec<&'a Value>,
    /// (workflowId, input) -> variable
    input_vars: HashMap<(String, String), String>,
    warnings: Vec<String>,
    chains: BTreeSet<ChainReport>,
    covered: BTreeMap<(usize, usize), Vec<String>>,
}

pub(super) fn compile(
    path: &Path,
    arazzo: &Value,
    opts: &OpenApiOptions,
) -> Result<OpenApiCompiled, OpenApiError> {
    let file = path.display().to_string();
    let invalid = |message: String| OpenApiError::Invalid {
        file: file.clone(),
        message,
    };
    let mut warnings = Vec::new();
    let version = arazzo
        .get("arazzo")
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_default();
    if !version.starts_with("1.") {
        warnings.push(format!(
            "arazzo version `{version}`: only 1.x is known; compiling as 1.0"
        ));
    }
    let workflows: Vec<&Value> = arazzo
        .get("workflows")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if workflows.is_empty() {
        return Err(invalid(
            "an Arazzo document needs a non-empty `workflows` list".into(),
        ));
    }
    let sources = load_sources(path, arazzo, opts, &mut warnings)?;
    if sources.is_empty() {
        return Err(invalid(
            "no `sourceDescriptions` entry of type openapi could be loaded".into(),
        ));
    }
    let planners: Vec<Planner> = sources
        .iter()
        .map(|s| Planner::new(&s.doc, &s.ops))
        .collect();
    let mut ctx = Ctx {
        arazzo,
        sources: &sources,
        planners,
        workflows,
        input_vars: HashMap::new(),
        warnings,
        chains: BTreeSet::new(),
        covered: BTreeMap::new(),
    };
    let mut vars: Vec<Kv> = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        vars.push(Kv {
            key: s.base_var.clone(),
            value: q(&lit(&s.base_url)),
            comment: if i == 0 {
                format!("server of `{}`; `throng run --base-url` overrides", s.name)
            } else {
                format!("server of `{}`", s.name)
            },
        });
    }
    let mut secrets = BTreeSet::new();
    ctx.plan_inputs(&mut vars, &mut secrets);

    // Scenarios, one per workflow, each preceded by its dependencies.
    let mut scenarios = Vec::new();
    let mut report_scen = Vec::new();
    for wi in 0..ctx.workflows.len() {
        let wf = ctx.workflows[wi];
        let wid = str_of(wf, "workflowId").unwrap_or("workflow").to_string();
        let mut scope = Scope::default();
        for v in &vars {
            scope.used.insert(v.key.clone());
        }
        let mut steps = Vec::new();
        let mut stack = Vec::new();
        ctx.emit_workflow(&wid, &wid, &mut scope, &mut steps, &mut stack);
        if steps.is_empty() {
            ctx.warnings.push(format!(
                "workflow `{wid}`: no step could be compiled; no scenario"
            ));
            continue;
        }
        let comment = str_of(wf, "summary")
            .or_else(|| str_of(wf, "description"))
            .map(one_line)
            .unwrap_or_else(|| format!("Arazzo workflow {wid}"));
        report_scen.push((wid.clone(), steps.len()));
        scenarios.push(ScenarioCtx {
            name: q(&wid),
            comment,
            steps,
        });
    }
    if scenarios.is_empty() {
        return Err(invalid(format!(
            "no workflow could be compiled into a scenario: {}",
            ctx.warnings.join("; ")
        )));
    }

    // Auth variables of the source specs that the steps use.
    let text = serde_json::to_string(
        &scenarios
            .iter()
            .flat_map(|s| s.steps.iter())
            .map(|s| {
                (
                    &s.url,
                    s.headers.iter().map(|h| &h.value).collect::<Vec<_>>(),
                    s.query.iter().map(|h| &h.value).collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    for p in &ctx.planners {
        for (k, (v, c)) in &p.vars {
            if (text.contains(&format!("{{{{ {k} }}}}")) || text.contains(&format!("{{{{ {k} |")))
                && !vars.iter().any(|x| &x.key == k)
            {
                vars.push(Kv {
                    key: k.clone(),
                    value: q(v),
                    comment: c.clone(),
                });
                if p.secrets.contains(k) {
                    secrets.insert(k.clone());
                }
            }
        }
    }

    // Report.
    let title = arazzo
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("arazzo")
        .to_string();
    let mut report = OpenApiReport {
        file: file.clone(),
        title: title.clone(),
        spec_version: format!(
            "Arazzo {version} over {}",
            sources
                .iter()
                .map(|s| format!("{} ({})", s.name, s.spec_version))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ..Default::default()
    };
    for (si, s) in sources.iter().enumerate() {
        for op in &s.ops {
            let used = ctx
                .covered
                .get(&(si, op.index))
                .cloned()
                .unwrap_or_default();
            report.operations.push(OperationReport {
                id: if sources.len() > 1 {
                    format!("{}.{}", s.name, op.id)
                } else {
                    op.id.clone()
                },
                method: op.method.clone(),
                path: op.path.clone(),
                kind: op.kind.label().into(),
                skipped: used
                    .is_empty()
                    .then(|| "not used by the workflows".to_string()),
                scenarios: used,
            });
        }
    }
    report.chains = std::mem::take(&mut ctx.chains).into_iter().collect();
    report.scenarios = report_scen;
    let mut seen = HashSet::new();
    let mut warnings = std::mem::take(&mut ctx.warnings);
    warnings.retain(|w| seen.insert(w.clone()));
    report.warnings = warnings;

    let header = vec![
        format!(
            "Compiled by `throng compile` from {} ({}, {}).",
            file,
            one_line(&title),
            report.spec_version
        ),
        format!(
            "Sources: {}.",
            sources
                .iter()
                .map(|s| format!("{} = {}", s.name, s.file))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "Workflows: {} compiled into scenarios; {} of {} operations used; {} warnings (see the compile report).",
            report.scenarios.len(),
            report.covered(),
            report.found(),
            report.warnings.len()
        ),
    ];
    let plan = PlanCtx {
        header,
        name: q(&opts.name.clone().unwrap_or(title)),
        vars,
        secrets: secrets.into_iter().collect(),
        scenarios,
    };
    let yaml = super::render(&plan, &file)?;
    Ok(OpenApiCompiled {
        yaml,
        report,
        bodies: Vec::new(),
    })
}

fn str_of<'v>(v: &'v Value, k: &str) -> Option<&'v str> {
    v.get(k).and_then(Value::as_str)
}

/// Loads every `sourceDescriptions` entry of type openapi.
fn load_sources(
    path: &Path,
    arazzo: &Value,
    opts: &OpenApiOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<SourceDoc>, OpenApiError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out: Vec<SourceDoc> = Vec::new();
    let list = arazzo
        .get("sourceDescriptions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for sd in &list {
        let name = str_of(sd, "name").unwrap_or("source").to_string();
        let kind = str_of(sd, "type").unwrap_or("openapi");
        let url = str_of(sd, "url").unwrap_or("");
        if kind != "openapi" {
            warnings.push(format!(
                "source `{name}` ({url}) is of type {kind}: only openapi sources are compiled; steps that use it are skipped"
            ));
            continue;
        }
        let Some(spec) = find_source(path, dir, url, out.is_empty(), warnings, &name) else {
            return Err(OpenApiError::Invalid {
                file: path.display().to_string(),
                message: format!(
                    "source `{name}`: cannot find `{url}` (resolved against {})",
                    dir.display()
                ),
            });
        };
        let doc = load::read_value(&spec)?;
        let loaded = load_spec(&spec, doc)?;
        for w in loaded.warnings {
            warnings.push(format!("source `{name}`: {w}"));
        }
        let first = out.is_empty();
        let base_url = match (&opts.base_url, first) {
            (Some(u), true) => u.trim_end_matches('/').to_string(),
            _ => server_url(&loaded.doc),
        };
        out.push(SourceDoc {
            base_var: if first {
                "base_url".into()
            } else {
                format!("{}_base_url", snake(&name))
            },
            name,
            file: spec.display().to_string(),
            doc: loaded.doc,
            ops: loaded.ops,
            spec_version: loaded.spec_version,
            base_url,
        });
    }
    Ok(out)
}

/// The file a source's `url` names, relative to the Arazzo file. When it does not exist,
/// falls back to a file of the same name beside the Arazzo file, then (for the first
/// source) to the spec named like the Arazzo file (`museum.arazzo.yaml` → `museum.yaml`).
fn find_source(
    path: &Path,
    dir: &Path,
    url: &str,
    first: bool,
    warnings: &mut Vec<String>,
    name: &str,
) -> Option<PathBuf> {
    let remote = url.starts_with("http://") || url.starts_with("https://");
    let local = url.strip_prefix("file://").unwrap_or(url);
    let direct = dir.join(local.strip_prefix("./").unwrap_or(local));
    if !remote && !url.is_empty() && direct.is_file() {
        return Some(direct);
    }
    let mut candidates = Vec::new();
    if let Some(base) = Path::new(url).file_name() {
        candidates.push(dir.join(base));
    }
    if first {
        let stem = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        for suffix in [".arazzo.yaml", ".arazzo.yml", ".arazzo.json"] {
            if let Some(s) = stem.strip_suffix(suffix) {
                for ext in ["yaml", "yml", "json"] {
                    candidates.push(dir.join(format!("{s}.{ext}")));
                }
            }
        }
    }
    let found = candidates
        .into_iter()
        .find(|c| c.is_file() && c.as_path() != path)?;
    warnings.push(format!(
        "source `{name}`: {} `{url}`; using {} instead",
        if remote { "not fetching" } else { "no file at" },
        found.display()
    ));
    Some(found)
}

/// A runtime expression that is the whole string (`$inputs.x`, `$steps.a.outputs.b#/c`).
fn whole_expression(s: &str) -> bool {
    let t = s.trim();
    t.starts_with('$')
        && t.len() > 1
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "$._-#/~[]".contains(c))
}

/// A JSON pointer as minijinja subscripts: `/a/0` → `["a"][0]`.
fn pointer_subscripts(ptr: &str) -> String {
    let mut out = String::new();
    for seg in ptr.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            out.push_str(&format!("[{}]", q(&seg)));
        }
    }
    out
}

/// A JSON pointer as JSONPath: `/a/0/b` → `$.a[0].b`.
fn pointer_jsonpath(ptr: &str) -> String {
    let mut out = String::from("$");
    for seg in ptr.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            out.push_str(&jsonpath(&[seg])[1..]);
        }
    }
    out
}

/// Splits a condition at a top-level operator outside quotes and brackets.
fn split_top(s: &str, sep: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    let sepc: Vec<char> = sep.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(qc) => {
                if c == qc {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                _ => {
                    if depth == 0 && chars[i..].starts_with(&sepc) {
                        parts.push(cur.trim().to_string());
                        cur.clear();
                        i += sepc.len();
                        continue;
                    }
                }
            },
        }
        cur.push(c);
        i += 1;
    }
    parts.push(cur.trim().to_string());
    parts
}

/// `lhs OP rhs` with the first top-level comparison operator.
fn comparison(s: &str) -> Option<(String, &'static str, String)> {
    for op in ["==", "!=", "<=", ">=", "<", ">"] {
        let parts = split_top(s, op);
        if parts.len() == 2 {
            return Some((parts[0].clone(), op, parts[1].clone()));
        }
    }
    None
}

fn strip_parens(s: &str) -> &str {
    let mut t = s.trim();
    while t.starts_with('(') && t.ends_with(')') && split_top(&t[1..t.len() - 1], ")").len() == 1 {
        t = t[1..t.len() - 1].trim();
    }
    t
}

/// A literal of a condition: a quoted string, a number, true/false/null, or bare text.
fn condition_literal(s: &str) -> Value {
    let t = s.trim();
    if t.len() >= 2
        && ((t.starts_with('\'') && t.ends_with('\'')) || (t.starts_with('"') && t.ends_with('"')))
    {
        return Value::String(t[1..t.len() - 1].to_string());
    }
    match serde_json::from_str::<Value>(t) {
        Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => v,
        _ => Value::String(t.to_string()),
    }
}

/// Where in the response a criterion's or output's expression points.
enum Target {
    Status,
    Body(String),
    Header(String),
}

fn response_target(e: &str) -> Option<Target> {
    let e = e.trim();
    if e == "$statusCode" {
        return Some(Target::Status);
    }
    if let Some(rest) = e.strip_prefix("$response.body") {
        return match rest {
            "" => Some(Target::Body("$".into())),
            r if r.starts_with('#') => Some(Target::Body(pointer_jsonpath(&r[1..]))),
            _ => None,
        };
    }
    if let Some(h) = e.strip_prefix("$response.header.") {
        return Some(Target::Header(h.to_string()));
    }
    None
}

impl<'a> Ctx<'a> {
    fn workflow(&self, id: &str) -> Option<&'a Value> {
        self.workflows
            .iter()
            .copied()
            .find(|w| str_of(w, "workflowId") == Some(id))
    }

    /// Variables for every workflow's inputs: default, example, or generated.
    fn plan_inputs(&mut self, vars: &mut Vec<Kv>, secrets: &mut BTreeSet<String>) {
        let schemas = Schemas::new(self.arazzo);
        let mut taken: HashMap<String, String> = HashMap::new();
        for v in vars.iter() {
            taken.insert(v.key.clone(), v.value.clone());
        }
        for w in self.workflows.clone() {
            let wid = str_of(w, "workflowId").unwrap_or("workflow").to_string();
            let Some(schema) = w.get("inputs") else {
                continue;
            };
            let schema = schemas.resolve(schema);
            let required: HashSet<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                if schema.as_object().is_some_and(|m| !m.is_empty()) {
                    self.warnings.push(format!(
                        "workflow `{wid}`: `inputs` is not an object schema with `properties`; no input variables"
                    ));
                }
                continue;
            };
            for (name, ps) in props {
                let rs = schemas.resolve(ps);
                let (value, why) = if let Some(d) = rs.get("default") {
                    (d.clone(), "default")
                } else if let Some(e) = rs.get("example") {
                    (e.clone(), "example")
                } else if let Some(e) = rs
                    .get("examples")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                {
                    (e.clone(), "example")
                } else if let Some(e) = rs.get("const") {
                    (e.clone(), "const")
                } else {
                    (
                        schemas.generate(ps, Side::Request, Some(name)),
                        "generated from the schema",
                    )
                };
                let text = serde_json::to_string(&escape_strings(&value)).unwrap_or_default();
                let mut var = snake(name);
                if ["base_url", "vu", "iteration"].contains(&var.as_str())
                    || self.sources.iter().any(|s| s.base_var == var)
                {
                    var = format!("input_{var}");
                }
                if taken.get(&var).is_some_and(|t| *t != text) {
                    var = format!("{}_{var}", snake(&wid));
                }
                if !taken.contains_key(&var) {
                    taken.insert(var.clone(), text.clone());
                    let lname = name.to_ascii_lowercase();
                    if rs.get("format").and_then(Value::as_str) == Some("password")
                        || ["password", "secret", "token", "apikey", "api_key"]
                            .iter()
                            .any(|k| lname.contains(k))
                    {
                        secrets.insert(var.clone());
                    }
                    vars.push(Kv {
                        key: var.clone(),
                        value: text,
                        comment: format!(
                            "input `{name}` of {wid} ({why}{})",
                            if required.contains(name.as_str()) {
                                ", required"
                            } else {
                                ""
                            }
                        ),
                    });
                }
                self.input_vars.insert((wid.clone(), name.clone()), var);
            }
        }
    }

    /// Emits a workflow's dependencies, then its steps.
    fn emit_workflow(
        &mut self,
        scenario: &str,
        wid: &str,
        scope: &mut Scope,
        out: &mut Vec<StepCtx>,
        stack: &mut Vec<String>,
    ) {
        if scope.done.contains(wid) {
            return;
        }
        if stack.iter().any(|s| s == wid) {
            self.warnings.push(format!(
                "workflow `{scenario}`: `dependsOn` cycle through `{wid}`; the cycle is broken there"
            ));
            return;
        }
        let Some(wf) = self.workflow(wid) else {
            self.warnings.push(format!(
                "workflow `{scenario}`: depends on `{wid}`, which is not a workflow of this document; skipped"
            ));
            return;
        };
        stack.push(wid.to_string());
        for dep in wf
            .get("dependsOn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if dep.starts_with("$sourceDescriptions.") {
                self.warnings.push(format!(
                    "workflow `{wid}`: depends on `{dep}` in another document; not supported, skipped"
                ));
                continue;
            }
            self.emit_workflow(scenario, dep, scope, out, stack);
        }
        stack.pop();
        scope.done.insert(wid.to_string());
        scope.inputs = self
            .input_vars
            .iter()
            .filter(|((w, _), _)| w == wid)
            .map(|((_, n), v)| (n.clone(), v.clone()))
            .collect();
        for key in ["successActions", "failureActions"] {
            if wf.get(key).is_some() {
                self.warnings.push(format!(
                    "workflow `{wid}`: `{key}` ignored (steps run in order; a failed step ends the iteration)"
                ));
            }
        }
        let wparams: Vec<Value> = wf
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for step in wf
            .get("steps")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(s) = self.step(scenario, wid, step, &wparams, scope) {
                out.push(s);
            }
        }
        // Workflow outputs, for `$workflows.<id>.outputs.<name>` in dependants.
        let mut outputs = BTreeMap::new();
        for (name, e) in wf
            .get("outputs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(e) = e.as_str() {
                match self.expr(e, scope) {
                    Ok(x) => {
                        outputs.insert(name.clone(), x);
                    }
                    Err(why) => self
                        .warnings
                        .push(format!("workflow `{wid}` output `{name}`: {why}")),
                }
            }
        }
        scope.workflows.insert(wid.to_string(), outputs);
    }

    /// Finds the operation a step targets: (source, op).
    fn target(&mut self, wid: &str, step: &Value) -> Result<(usize, usize), String> {
        if let Some(id) = str_of(step, "operationId") {
            let id = id.strip_prefix("$sourceDescriptions.").unwrap_or(id);
            let (src, bare) = match id.split_once('.') {
                Some((s, rest)) if self.sources.iter().any(|x| x.name == s) => (Some(s), rest),
                _ => (None, id),
            };
            for (si, s) in self.sources.iter().enumerate() {
                if src.is_some_and(|n| n != s.name) {
                    continue;
                }
                if let Some(op) = s.ops.iter().find(|o| o.id == bare) {
                    return Ok((si, op.index));
                }
            }
            return Err(format!(
                "operationId `{id}` is not in the source descriptions"
            ));
        }
        if let Some(p) = str_of(step, "operationPath") {
            let Some((head, ptr)) = p.split_once('#') else {
                return Err(format!("operationPath `{p}` has no JSON pointer"));
            };
            let segs: Vec<String> = ptr
                .split('/')
                .skip(1)
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect();
            let [paths, route, method] = segs.as_slice() else {
                return Err(format!(
                    "operationPath `{p}`: expected #/paths/<path>/<method>"
                ));
            };
            if paths != "paths" {
                return Err(format!(
                    "operationPath `{p}`: expected #/paths/<path>/<method>"
                ));
            }
            let named = self.sources.iter().position(|s| {
                head.contains(&format!("$sourceDescriptions.{}.", s.name))
                    || head.contains(&format!("$sourceDescriptions.{}}}", s.name))
                    || head == format!("$sourceDescriptions.{}", s.name)
            });
            for (si, s) in self.sources.iter().enumerate() {
                if named.is_some_and(|n| n != si) {
                    continue;
                }
                if let Some(op) = s
                    .ops
                    .iter()
                    .find(|o| &o.path == route && o.method.eq_ignore_ascii_case(method))
                {
                    return Ok((si, op.index));
                }
            }
            return Err(format!(
                "operationPath `{p}`: no {} {route} in the source descriptions",
                method.to_ascii_uppercase()
            ));
        }
        if let Some(w) = str_of(step, "workflowId") {
            return Err(format!(
                "calls workflow `{w}`: steps that run another workflow are not supported yet"
            ));
        }
        let _ = wid;
        Err("has no operationId, operationPath or workflowId".into())
    }

    /// A runtime expression that names a value as a minijinja expression.
    fn expr(&self, e: &str, scope: &Scope) -> Result<String, String> {
        let e = e.trim();
        let (head, ptr) = match e.split_once('#') {
            Some((h, p)) => (h, Some(p)),
            None => (e, None),
        };
        let parts: Vec<&str> = head.split('.').collect();
        let (base, rest): (String, &[&str]) = match parts.as_slice() {
            ["$inputs", name, rest @ ..] => match scope.inputs.get(*name) {
                Some(v) => (v.clone(), rest),
                None => {
                    return Err(format!(
                        "`{e}`: no input `{name}` in the workflow's `inputs`"
                    ))
                }
            },
            ["$steps", id, "outputs", names @ ..] if !names.is_empty() => {
                let Some(outs) = scope.steps.get(*id) else {
                    return Err(format!(
                        "`{e}`: step `{id}` was not compiled before this point"
                    ));
                };
                // Output names may contain dots: the longest known prefix wins.
                let mut found = None;
                for n in (1..=names.len()).rev() {
                    if let Some(v) = outs.get(&names[..n].join(".")) {
                        found = Some((v.clone(), &names[n..]));
                        break;
                    }
                }
                match found {
                    Some(f) => f,
                    None => {
                        return Err(format!(
                            "`{e}`: step `{id}` has no compiled output `{}`",
                            names.join(".")
                        ))
                    }
                }
            }
            ["$workflows", id, "outputs", name, rest @ ..] => {
                match scope.workflows.get(*id).and_then(|o| o.get(*name)) {
                    Some(v) => (v.clone(), rest),
                    None => {
                        return Err(format!(
                            "`{e}`: workflow `{id}` has no compiled output `{name}` (is it in `dependsOn`?)"
                        ))
                    }
                }
            }
            _ => {
                return Err(format!(
                    "`{e}`: this runtime expression is not supported here"
                ))
            }
        };
        let mut out = base;
        for r in rest {
            out.push_str(&format!("[{}]", q(r)));
        }
        if let Some(p) = ptr {
            out.push_str(&pointer_subscripts(p));
        }
        Ok(out)
    }

    /// A parameter or payload value: literals stay, expressions become templates.
    fn value(&mut self, v: &Value, scope: &Scope, what: &str) -> Val {
        match v {
            Value::String(s) if whole_expression(s) => match self.expr(s, scope) {
                Ok(x) => Val::Tpl(format!("{{{{ {x} }}}}")),
                Err(why) => {
                    self.warnings.push(format!("{what}: {why}; not resolved"));
                    Val::Lit(v.clone())
                }
            },
            Value::String(s) if s.contains("{$") => {
                let mut out = String::new();
                let mut rest = s.as_str();
                while let Some(open) = rest.find("{$") {
                    let Some(close) = rest[open..].find('}').map(|c| c + open) else {
                        break;
                    };
                    out.push_str(&lit(&rest[..open]));
                    let inner = &rest[open + 1..close];
                    match self.expr(inner, scope) {
                        Ok(x) => out.push_str(&format!("{{{{ {x} }}}}")),
                        Err(why) => {
                            self.warnings.push(format!("{what}: {why}; not resolved"));
                            out.push_str(&lit(&rest[open..=close]));
                        }
                    }
                    rest = &rest[close + 1..];
                }
                out.push_str(&lit(rest));
                Val::Tpl(out)
            }
            _ => Val::Lit(v.clone()),
        }
    }

    /// A payload with every string templated or escaped.
    fn payload(&mut self, v: &Value, scope: &Scope, what: &str) -> Value {
        match v {
            Value::String(_) => match self.value(v, scope, what) {
                Val::Tpl(t) => Value::String(t),
                Val::Lit(Value::String(s)) => Value::String(lit(&s)),
                Val::Lit(o) => o,
            },
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| self.payload(x, scope, &format!("{what}[{i}]")))
                    .collect(),
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), self.payload(x, scope, &format!("{what}.{k}"))))
                    .collect(),
            ),
            o => o.clone(),
        }
    }

    /// The parameters of a step: workflow-level ones, overridden by the step's own.
    fn parameters(&mut self, label: &str, wparams: &[Value], step: &Value) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::new();
        let comps = self.arazzo.pointer("/components/parameters");
        for p in wparams.iter().chain(
            step.get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        ) {
            let mut p = p.clone();
            if let Some(r) = p.get("reference").and_then(Value::as_str) {
                let name = r.strip_prefix("$components.parameters.").unwrap_or(r);
                match comps.and_then(|c| c.get(name)) {
                    Some(base) => {
                        let mut b = base.clone();
                        if let (Some(v), Some(m)) = (p.get("value"), b.as_object_mut()) {
                            m.insert("value".into(), v.clone());
                        }
                        p = b;
                    }
                    None => {
                        self.warnings.push(format!(
                            "{label}: parameter reference `{r}` is not in components.parameters; ignored"
                        ));
                        continue;
                    }
                }
            }
            let key = (
                str_of(&p, "name").map(str::to_string),
                str_of(&p, "in").map(str::to_string),
            );
            out.retain(|x| {
                (
                    str_of(x, "name").map(str::to_string),
                    str_of(x, "in").map(str::to_string),
                ) != key
            });
            out.push(p);
        }
        out
    }

    fn step(
        &mut self,
        scenario: &str,
        wid: &str,
        step: &Value,
        wparams: &[Value],
        scope: &mut Scope,
    ) -> Option<StepCtx> {
        let sid = str_of(step, "stepId").unwrap_or("step").to_string();
        let label = format!("workflow `{wid}` step `{sid}`");
        let (si, oi) = match self.target(wid, step) {
            Ok(t) => t,
            Err(why) => {
                self.warnings.push(format!("{label}: {why}; skipped"));
                scope.steps.insert(sid, BTreeMap::new());
                return None;
            }
        };
        let sources = self.sources;
        let src = &sources[si];
        let op = &src.ops[oi];
        let uses = self.covered.entry((si, oi)).or_default();
        if !uses.iter().any(|s| s == scenario) {
            uses.push(scenario.to_string());
        }
        let mut comments = vec![one_line(&format!(
            "{sid}: {} {} ({}){}",
            op.method,
            op.path,
            op.id,
            str_of(step, "description")
                .or_else(|| str_of(step, "summary"))
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ))];
        for key in ["onSuccess", "onFailure"] {
            if step.get(key).is_some() {
                self.warnings.push(format!(
                    "{label}: `{key}` actions ignored (steps run in order; a failed step ends the iteration)"
                ));
            }
        }

        // Parameters.
        let params = self.parameters(&label, wparams, step);
        let mut path_vals: HashMap<String, Val> = HashMap::new();
        let mut query: Vec<(String, String)> = Vec::new();
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut cookies: Vec<(String, String)> = Vec::new();
        for p in &params {
            let Some(name) = str_of(p, "name") else {
                continue;
            };
            let loc = str_of(p, "in")
                .map(str::to_string)
                .or_else(|| {
                    op.params
                        .iter()
                        .find(|x| x.name == name)
                        .map(|x| x.location.clone())
                })
                .unwrap_or_default();
            let raw = p.get("value").cloned().unwrap_or(Value::Null);
            let v = self.value(&raw, scope, &format!("{label} parameter `{name}`"));
            if let (Value::String(s), Val::Tpl(_)) = (&raw, &v) {
                if let Some(src_step) = s
                    .trim_start_matches('{')
                    .strip_prefix("$steps.")
                    .and_then(|r| r.split('.').next())
                {
                    self.chains.insert(ChainReport {
                        consumer: format!("{wid}/{sid}"),
                        input: format!("{loc} {name}"),
                        producer: format!("{wid}/{src_step}"),
                        extractor: s.clone(),
                        provenance: "arazzo".into(),
                    });
                }
            }
            let spec_param = op.param(&loc, name);
            if spec_param.is_none() && loc != "header" {
                self.warnings.push(format!(
                    "{label}: parameter `{name}` in {loc} is not declared by {}",
                    op.label()
                ));
            }
            // An expression that could not be resolved: the spec's value instead.
            let v = match (&v, spec_param) {
                (Val::Lit(Value::String(s)), Some(sp)) if whole_expression(s) => {
                    let (x, why) = self.planners[si].literal_for(sp);
                    comments.push(format!("{loc} `{name}`: unresolved `{s}`, {why} instead"));
                    Val::Lit(x)
                }
                _ => v,
            };
            let pairs = match &v {
                Val::Tpl(t) => vec![(name.to_string(), t.clone())],
                Val::Lit(x) => match spec_param {
                    Some(sp) => serialize_param(sp, x),
                    None => vec![(name.to_string(), lit(&value_text(x)))],
                },
            };
            match loc.as_str() {
                "path" => {
                    path_vals.insert(name.to_string(), v);
                }
                "query" => query.extend(pairs),
                "header" => headers.extend(pairs),
                "cookie" => cookies.extend(pairs),
                other => self.warnings.push(format!(
                    "{label}: parameter `{name}` has no usable `in` ({other:?}); ignored"
                )),
            }
        }
        let planner = &self.planners[si];
        let plan = planner.plans[oi].as_ref();
        // Required parameters the workflow leaves out: the spec's example or a generated value.
        for p in &op.params {
            let given = match p.location.as_str() {
                "path" => path_vals.contains_key(&p.name),
                "query" => query.iter().any(|(k, _)| *k == p.name),
                "header" => headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(&p.name)),
                "cookie" => cookies.iter().any(|(k, _)| *k == p.name),
                _ => true,
            };
            if given || !p.required {
                continue;
            }
            let (v, why) = planner.literal_for(p);
            comments.push(format!(
                "{} `{}` not set by the workflow: {why}",
                p.location, p.name
            ));
            match p.location.as_str() {
                "path" => {
                    path_vals.insert(p.name.clone(), Val::Lit(v));
                }
                "query" => query.extend(serialize_param(p, &v)),
                "header" => headers.extend(serialize_param(p, &v)),
                "cookie" => cookies.extend(serialize_param(p, &v)),
                _ => {}
            }
        }
        // Security from the spec, unless the workflow sets the header itself.
        if let Some(plan) = plan {
            let auth = &plan.auth;
            let sets = |hs: &Vec<(String, String)>, k: &str| {
                hs.iter().any(|(h, _)| h.eq_ignore_ascii_case(k))
            };
            let missing: Vec<(String, String)> = auth
                .headers
                .iter()
                .filter(|(k, _)| !sets(&headers, k))
                .cloned()
                .collect();
            let missing_q: Vec<(String, String)> = auth
                .query
                .iter()
                .filter(|(k, _)| !query.iter().any(|(x, _)| x == k))
                .cloned()
                .collect();
            if auth.token.is_some() {
                if !missing.is_empty() || !missing_q.is_empty() {
                    self.warnings.push(format!(
                        "{label}: {} needs a token from another operation; the workflow does not send one",
                        op.label()
                    ));
                }
            } else {
                if !missing.is_empty() || !missing_q.is_empty() {
                    if let Some(n) = &auth.note {
                        comments.push(one_line(n));
                    }
                }
                headers.extend(missing);
                query.extend(missing_q);
                cookies.extend(auth.cookies.iter().cloned());
            }
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
        // URL.
        let mut url = format!("{{{{ {} }}}}", src.base_var);
        for seg in op.path.split('/').filter(|s| !s.is_empty()) {
            url.push('/');
            let mut rest = seg;
            while let Some(open) = rest.find('{') {
                let Some(close) = rest[open..].find('}').map(|c| c + open) else {
                    break;
                };
                url.push_str(&lit(&pct(&rest[..open], "!$&'()*+,;=:@")));
                match path_vals.get(&rest[open + 1..close]) {
                    Some(Val::Tpl(t)) => url.push_str(t),
                    Some(Val::Lit(v)) => url.push_str(&lit(&pct(&value_text(v), ",:@"))),
                    None => url.push('x'),
                }
                rest = &rest[close + 1..];
            }
            url.push_str(&lit(&pct(rest, "!$&'()*+,;=:@")));
        }
        if op.path.trim_matches('/').is_empty() || op.path.ends_with('/') {
            url.push('/');
        }
        let mut seen = HashSet::new();
        let qmap: Vec<Kv> = if query.iter().all(|(k, _)| seen.insert(k.clone())) {
            quoted_pairs(query)
        } else {
            let qs: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    let v = if v.contains("{{") {
                        v.clone()
                    } else {
                        pct(v, ",")
                    };
                    format!("{}={v}", pct(k, "[]"))
                })
                .collect();
            url.push('?');
            url.push_str(&qs.join("&"));
            Vec::new()
        };

        // Body.
        let mut body_kind = None;
        let mut body_inline = None;
        let mut body_lines = Vec::new();
        let media = step
            .pointer("/requestBody/contentType")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| op.body.as_ref().map(|b| b.media.clone()))
            .unwrap_or_else(|| "application/json".into());
        let body: Option<Value> = match step.get("requestBody") {
            Some(rb) => {
                let mut payload = rb.get("payload").cloned().unwrap_or(Value::Null);
                let json = media.to_ascii_lowercase().contains("json");
                if let (true, Value::String(s)) = (json, &payload) {
                    if let Ok(parsed) = serde_json::from_str::<Value>(s) {
                        payload = parsed;
                    }
                }
                let mut emitted = self.payload(&payload, scope, &format!("{label} requestBody"));
                for r in rb
                    .get("replacements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let target = str_of(r, "target").unwrap_or("");
                    let v = self.payload(
                        r.get("value").unwrap_or(&Value::Null),
                        scope,
                        &format!("{label} replacement {target}"),
                    );
                    if target.starts_with('/') {
                        let segs: Vec<String> = target
                            .split('/')
                            .skip(1)
                            .map(|s| s.replace("~1", "/").replace("~0", "~"))
                            .collect();
                        if !set_pointer(&mut emitted, &segs, v) {
                            self.warnings.push(format!(
                                "{label}: replacement target `{target}` is not in the payload; ignored"
                            ));
                        }
                    } else {
                        self.warnings.push(format!(
                            "{label}: replacement target `{target}` is not a JSON pointer; ignored"
                        ));
                    }
                }
                Some(emitted)
            }
            None => match (op.body.as_ref(), plan.and_then(|p| p.body.as_ref())) {
                (Some(b), Some(bp)) if b.required => {
                    comments.push(format!(
                        "request body not given by the workflow: {}",
                        one_line(&bp.note)
                    ));
                    Some(escape_strings(&bp.sample))
                }
                _ => None,
            },
        };
        if let Some(emitted) = body {
            let m = media.to_ascii_lowercase();
            if m.contains("json") || m == "*/*" {
                body_kind = Some("json".to_string());
                (body_inline, body_lines) = super::json_body_layout(&emitted);
                if !m.starts_with("application/json") {
                    headers.push(("Content-Type".into(), media.clone()));
                }
            } else if m.starts_with("application/x-www-form-urlencoded")
                || m.starts_with("multipart/")
            {
                body_kind = Some(
                    if m.starts_with("multipart/") {
                        "multipart"
                    } else {
                        "form"
                    }
                    .into(),
                );
                if let Value::Object(map) = &emitted {
                    for (k, v) in map {
                        let text = super::field_text(v);
                        body_lines.push(format!("{}: {}", q(k), q(&text)));
                    }
                } else {
                    self.warnings.push(format!(
                        "{label}: a {media} payload must be a mapping; no body"
                    ));
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
                headers.push(("Content-Type".into(), media.clone()));
            }
        }

        // Success criteria.
        let mut status: Option<String> = None;
        let mut checks = Vec::new();
        for c in step
            .get("successCriteria")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match self.criterion(c, scope) {
                Ok((s, cs)) => {
                    if s.is_some() {
                        status = s;
                    }
                    checks.extend(cs);
                }
                Err(why) => self
                    .warnings
                    .push(format!("{label}: success criterion {why}; not checked")),
            }
        }
        let documented = status_text(&op.success);
        let schema = match &status {
            Some(s) if *s != documented && !op.success.iter().any(|c| c == s) => None,
            _ => response_schema(&src.doc, op, &mut self.warnings),
        };
        let status = status.unwrap_or(documented);

        // Outputs.
        let mut extract = Vec::new();
        let mut outs = BTreeMap::new();
        for (name, e) in step
            .get("outputs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let Some(e) = e.as_str() else {
                self.warnings.push(format!(
                    "{label}: output `{name}` is not a runtime expression; ignored"
                ));
                continue;
            };
            let spec = match response_target(e) {
                Some(Target::Body(p)) => format!("{{json: {}}}", q(&p)),
                Some(Target::Header(h)) => format!("{{header: {}}}", q(&h)),
                Some(Target::Status) | None => {
                    self.warnings.push(format!(
                        "{label}: output `{name}` = `{e}`: only `$response.body` and `$response.header.*` can be extracted; ignored"
                    ));
                    continue;
                }
            };
            let mut var = format!("{}_{}", snake(&sid), snake(name));
            let mut n = 2;
            while scope.used.contains(&var) {
                var = format!("{}_{}_{n}", snake(&sid), snake(name));
                n += 1;
            }
            scope.used.insert(var.clone());
            outs.insert(name.clone(), var.clone());
            extract.push(ExtractCtx {
                var,
                spec,
                comment: format!("output `{name}`: {e}"),
            });
        }
        scope.steps.insert(sid.clone(), outs);

        let mut step_name = sid.clone();
        let mut n = 2;
        while !scope.step_names.insert(step_name.clone()) {
            step_name = format!("{sid}_{n}");
            n += 1;
        }
        Some(StepCtx {
            comments,
            name: q(&step_name),
            method: op.method.clone(),
            url: q(&url),
            query: qmap,
            headers: quoted_pairs(headers),
            body_kind,
            body_inline,
            body_lines,
            follow_redirects: !op.no_redirect,
            extract,
            status,
            schema,
            checks,
        })
    }

    /// One success criterion: a status (when it is about `$statusCode`) and further checks.
    fn criterion(
        &mut self,
        c: &Value,
        scope: &Scope,
    ) -> Result<(Option<String>, Vec<String>), String> {
        let cond = str_of(c, "condition")
            .ok_or("without a `condition`")?
            .trim();
        let kind = match c.get("type") {
            None => "simple".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(o) => str_of(o, "type").unwrap_or("simple").to_string(),
        };
        let context = str_of(c, "context").unwrap_or("").trim();
        match kind.as_str() {
            "simple" => self.simple(cond, scope),
            "regex" => {
                let target = response_target(context).ok_or_else(|| {
                    format!("`{cond}` on context `{context}`: unsupported context")
                })?;
                match target {
                    Target::Status => status_regex(cond)
                        .map(|s| (Some(s), Vec::new()))
                        .ok_or_else(|| format!("`{cond}` on $statusCode: only fixed codes and classes like ^2\\d\\d$ are supported")),
                    Target::Body(p) if p == "$" => {
                        Ok((None, vec![format!("{{body_matches: {}}}", q(cond))]))
                    }
                    Target::Body(p) => Ok((
                        None,
                        vec![format!("{{json: {}, matches: {}}}", q(&p), q(cond))],
                    )),
                    Target::Header(h) => Ok((
                        None,
                        vec![format!("{{header: {}, matches: {}}}", q(&h), q(cond))],
                    )),
                }
            }
            "jsonpath" => {
                match response_target(context) {
                    Some(Target::Body(p)) if p == "$" => {}
                    _ => {
                        return Err(format!(
                            "`{cond}`: JSONPath criteria are supported on `$response.body` only"
                        ))
                    }
                }
                if let Some((lhs, op, rhs)) = comparison(cond) {
                    let lhs = strip_parens(&lhs).to_string();
                    if lhs.starts_with('$') && !lhs.contains('?') && !lhs.contains('@') {
                        throng_ir::JsonPath::parse(&lhs).map_err(|e| format!("`{cond}`: {e}"))?;
                        return self
                            .compare_json(&lhs, op, &rhs, scope)
                            .map(|c| (None, vec![c]))
                            .map_err(|why| format!("`{cond}`: {why}"));
                    }
                }
                // A filter query: at least one match.
                throng_ir::JsonPath::parse(cond).map_err(|e| {
                    format!("`{cond}`: not a JSONPath (RFC 9535) query throng supports: {e}")
                })?;
                Ok((None, vec![format!("{{json: {}}}", q(cond))]))
            }
            other => Err(format!("`{cond}` of type {other}: not supported")),
        }
    }

    /// A simple condition: `&&` of comparisons; `||` only between status codes.
    fn simple(
        &mut self,
        cond: &str,
        scope: &Scope,
    ) -> Result<(Option<String>, Vec<String>), String> {
        let cond = strip_parens(cond);
        let alts = split_top(cond, "||");
        if alts.len() > 1 {
            let mut codes = Vec::new();
            for a in &alts {
                match comparison(strip_parens(a)) {
                    Some((l, "==", r)) if l.trim() == "$statusCode" => {
                        codes.push(r.trim().parse::<u16>().map_err(|_| {
                            format!("`{cond}`: `{}` is not a status code", r.trim())
                        })?)
                    }
                    _ => {
                        return Err(format!(
                            "`{cond}`: `||` is supported between `$statusCode ==` alternatives only"
                        ))
                    }
                }
            }
            let list = codes
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            return Ok((Some(format!("[{list}]")), Vec::new()));
        }
        let mut status = None;
        let mut range: (Option<u16>, Option<u16>) = (None, None);
        let mut checks = Vec::new();
        for atom in split_top(cond, "&&") {
            let atom = strip_parens(&atom).to_string();
            let Some((lhs, op, rhs)) = comparison(&atom) else {
                // A bare reference: it must exist.
                match response_target(&atom) {
                    Some(Target::Body(p)) => checks.push(format!("{{json: {}}}", q(&p))),
                    Some(Target::Header(h)) => checks.push(format!("{{header: {}}}", q(&h))),
                    _ => return Err(format!("`{atom}`: not a comparison")),
                }
                continue;
            };
            match response_target(&lhs) {
                Some(Target::Status) => {
                    let n: u16 = rhs
                        .trim()
                        .parse()
                        .map_err(|_| format!("`{atom}`: `{}` is not a status code", rhs.trim()))?;
                    match op {
                        "==" => status = Some(n.to_string()),
                        ">=" => range.0 = Some(n),
                        ">" => range.0 = Some(n + 1),
                        "<" => range.1 = Some(n),
                        "<=" => range.1 = Some(n + 1),
                        _ => {
                            return Err(format!("`{atom}`: `{op}` on $statusCode is not supported"))
                        }
                    }
                }
                Some(Target::Body(p)) => checks.push(
                    self.compare_json(&p, op, &rhs, scope)
                        .map_err(|why| format!("`{atom}`: {why}"))?,
                ),
                Some(Target::Header(h)) => {
                    let v = self.rhs(&rhs, scope);
                    match (op, &v) {
                        ("==", _) => {
                            checks.push(format!("{{header: {}, equals: {}}}", q(&h), json_text(&v)))
                        }
                        ("!=", Val::Lit(Value::Null)) => {
                            checks.push(format!("{{header: {}}}", q(&h)))
                        }
                        _ => return Err(format!("`{atom}`: `{op}` on a header is not supported")),
                    }
                }
                None => {
                    return Err(format!(
                        "`{atom}`: `{}` is not a response value",
                        lhs.trim()
                    ))
                }
            }
        }
        match range {
            (None, None) => {}
            (Some(lo), Some(hi)) if lo % 100 == 0 && hi == lo + 100 && (1..=5).contains(&(lo / 100)) => {
                status = Some(format!("{}xx", lo / 100))
            }
            _ => {
                return Err(format!(
                    "`{cond}`: a $statusCode range other than a whole class (>= 200 && < 300) is not supported"
                ))
            }
        }
        Ok((status, checks))
    }

    fn rhs(&mut self, rhs: &str, scope: &Scope) -> Val {
        let t = rhs.trim();
        if whole_expression(t) {
            return self.value(&Value::String(t.to_string()), scope, "success criterion");
        }
        match condition_literal(t) {
            Value::String(s) if s.contains("{$") => {
                self.value(&Value::String(s), scope, "success criterion")
            }
            other => Val::Lit(other),
        }
    }

    /// A comparison of a JSONPath match with a literal or an expression.
    fn compare_json(
        &mut self,
        path: &str,
        op: &str,
        rhs: &str,
        scope: &Scope,
    ) -> Result<String, String> {
        let v = self.rhs(rhs, scope);
        let p = q(path);
        match (op, &v) {
            ("!=", Val::Lit(Value::Null)) => Ok(format!("{{json: {p}}}")),
            ("==", _) => Ok(format!("{{json: {p}, equals: {}}}", json_text(&v))),
            (o @ ("<" | "<=" | ">" | ">="), Val::Lit(Value::Number(n))) => {
                let key = match o {
                    "<" => "lt",
                    "<=" => "le",
                    ">" => "gt",
                    _ => "ge",
                };
                Ok(format!("{{json: {p}, {key}: {n}}}"))
            }
            _ => Err(format!("`{op}` with this value is not supported")),
        }
    }
}

/// A value for `equals:` as YAML flow text.
fn json_text(v: &Val) -> String {
    match v {
        Val::Tpl(t) => q(t),
        Val::Lit(x) => serde_json::to_string(&escape_strings(x)).unwrap_or_default(),
    }
}

/// `^200$` → 200, `^2\d\d$` / `2[0-9]{2}` → 2xx, `^(200|201)$` → [200, 201].
fn status_regex(re: &str) -> Option<String> {
    let t = re.trim().trim_start_matches('^').trim_end_matches('$');
    if t.len() == 3 && t.chars().all(|c| c.is_ascii_digit()) {
        return Some(t.to_string());
    }
    let inner = t
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .unwrap_or(t);
    let alts: Vec<&str> = inner.split('|').collect();
    if alts.len() > 1
        && alts
            .iter()
            .all(|a| a.len() == 3 && a.chars().all(|c| c.is_ascii_digit()))
    {
        return Some(format!("[{}]", alts.join(", ")));
    }
    for class in ["\\d\\d", "[0-9][0-9]", "\\d{2}", "[0-9]{2}", "xx", ".."] {
        if let Some(d) = t.strip_suffix(class) {
            if d.len() == 1 && ('1'..='5').contains(&d.chars().next()?) {
                return Some(format!("{d}xx"));
            }
        }
    }
    None
}

/// Sets a value at a JSON pointer's segments; false when the parent does not exist.
fn set_pointer(v: &mut Value, segs: &[String], new: Value) -> bool {
    let Some((last, parents)) = segs.split_last() else {
        *v = new;
        return true;
    };
    let mut cur = v;
    for s in parents {
        let next = match cur {
            Value::Object(m) => m.get_mut(s.as_str()),
            Value::Array(a) => s.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    match cur {
        Value::Object(m) => {
            m.insert(last.clone(), new);
            true
        }
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => {
                a[i] = new;
                true
            }
            _ if last == "-" => {
                a.push(new);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_and_regexes() {
        assert_eq!(pointer_jsonpath("/a/0/b c"), "$.a[0]['b c']");
        assert_eq!(pointer_subscripts("/a~1b/2"), "[\"a/b\"][2]");
        assert_eq!(status_regex("^200$").as_deref(), Some("200"));
        assert_eq!(status_regex("^2\\d\\d$").as_deref(), Some("2xx"));
        assert_eq!(status_regex("^(200|201)$").as_deref(), Some("[200, 201]"));
        assert_eq!(status_regex("^2"), None);
        assert_eq!(
            split_top("$statusCode == 200 && $response.body#/a == 'x && y'", "&&").len(),
            2
        );
    }
}
