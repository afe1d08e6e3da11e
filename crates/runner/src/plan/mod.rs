//! The plan compiled for execution: every template compiled once into one minijinja
//! environment, URLs pre-parsed where literal, literal bodies pre-serialized, JSON schemas
//! compiled, header names validated. Nothing here is parsed again per request. A step's
//! request is rendered here too (`StepPlan::build_uri`, `render_headers`, `build_body`):
//! the plan knows how its templates become a request, not where it goes.
//!
//! Uses `redact` (the run's secrets) and, for the types a fixed target is made of, `client`.

pub(crate) mod prune;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Uri};
use minijinja::{Environment, Expression, Value};
use rand::rngs::SmallRng;
use rand::Rng;
use throng_ir::{
    Body, Check, Extractor, JsonTemplate, OnFail, Part, Plan, Reply, StepKind, Template, Think,
    ValueExpect,
};

static EVENT_STREAM: LazyLock<Template> = LazyLock::new(|| Template::literal("text/event-stream"));

/// Request timeout when neither the step nor `defaults` sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A compiled template: literal text, a single expression, or a full template.
pub enum Text {
    Lit(String),
    Tmpl(Tmpl),
}

impl Text {
    pub fn render(&self, ctx: &Value) -> Result<String, String> {
        match self {
            Text::Lit(s) => Ok(s.clone()),
            Text::Tmpl(t) => t.render(ctx),
        }
    }

    pub fn literal(&self) -> Option<&str> {
        match self {
            Text::Lit(s) => Some(s),
            Text::Tmpl(_) => None,
        }
    }
}

/// A compiled template. Most templates in a scenario are text with `{{ name }}` holes
/// (`Bearer {{ token }}`, `{{ base_url }}/orders/{{ order_id }}`); those also keep their
/// pieces and render by looking the names up and joining the text, without minijinja's VM
/// (about a tenth of its instructions), whenever every name holds a string. Anything else
/// (a number, an undefined name, a template with filters or tags) renders through minijinja,
/// so the output and the errors are minijinja's.
pub struct Tmpl {
    full: minijinja::Template<'static, 'static>,
    splice: Option<Vec<Piece>>,
}

enum Piece {
    Text(Box<str>),
    Name(Box<str>),
}

impl Tmpl {
    fn new(full: minijinja::Template<'static, 'static>) -> Tmpl {
        Tmpl {
            splice: splice_pieces(full.source()),
            full,
        }
    }

    pub fn render(&self, ctx: &Value) -> Result<String, String> {
        if let Some(out) = self.splice.as_deref().and_then(|p| splice(p, ctx)) {
            return Ok(out);
        }
        throng_ir::template::render_bounded(&self.full, ctx)
    }
}

/// `source` as text and `{{ name }}` holes, if that is all it is.
fn splice_pieces(source: &str) -> Option<Vec<Piece>> {
    // minijinja drops one trailing newline; text with other syntax is not a splice.
    if source.ends_with('\n') || source.contains("{%") || source.contains("{#") {
        return None;
    }
    let mut pieces = Vec::new();
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        let close = open + rest[open..].find("}}")?;
        let name = plain_name(&rest[open + 2..close])?;
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].into()));
        }
        pieces.push(Piece::Name(name.into()));
        rest = &rest[close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.into()));
    }
    Some(pieces)
}

/// The variable an expression is, when it is nothing but a name (`token`, ` token `); not
/// the literals minijinja spells like names.
fn plain_name(expr: &str) -> Option<&str> {
    let name = expr.trim_matches([' ', '\t']);
    let mut chars = name.chars();
    let ident = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    let literal = matches!(name, "true" | "false" | "none" | "True" | "False" | "None");
    (ident && !literal).then_some(name)
}

/// The spliced text, or None when a name is not a string in `ctx` (or the text would pass
/// the render cap): then minijinja renders it.
fn splice(pieces: &[Piece], ctx: &Value) -> Option<String> {
    let mut out = String::with_capacity(64);
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Name(n) => out.push_str(ctx.get_attr(n).ok()?.as_str()?),
        }
    }
    (out.len() <= throng_ir::template::MAX_RENDERED_BYTES).then_some(out)
}

/// A compiled JSON template; a lone `{{ expr }}` string keeps the expression's native type.
pub enum Json {
    Lit(serde_json::Value),
    /// The expression, and its variable when it is only a name.
    Expr(Expression<'static, 'static>, Option<Box<str>>),
    Text(Tmpl),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn render(&self, ctx: &Value) -> Result<serde_json::Value, String> {
        Ok(match self {
            Json::Lit(v) => v.clone(),
            Json::Expr(e, name) => {
                let v = eval(e, name.as_deref(), ctx)?;
                serde_json::to_value(&v)
                    .map_err(|e| format!("cannot turn the value into JSON: {e}"))?
            }
            Json::Text(t) => serde_json::Value::String(t.render(ctx)?),
            Json::Array(a) => {
                serde_json::Value::Array(a.iter().map(|j| j.render(ctx)).collect::<Result<_, _>>()?)
            }
            Json::Object(o) => serde_json::Value::Object(
                o.iter()
                    .map(|(k, j)| Ok((k.clone(), j.render(ctx)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }

    /// Renders straight to JSON text in `out`, without building a `serde_json::Value` (the
    /// same text as serializing `render`'s result).
    pub fn write(&self, ctx: &Value, out: &mut Vec<u8>) -> Result<(), String> {
        let ser = |out: &mut Vec<u8>, v: &dyn erased::Ser| v.ser(out);
        match self {
            Json::Lit(v) => ser(out, v)?,
            Json::Expr(e, name) => {
                let v = eval(e, name.as_deref(), ctx)?;
                ser(out, &v).map_err(|e| format!("cannot turn the value into JSON: {e}"))?
            }
            Json::Text(t) => ser(out, &t.render(ctx)?)?,
            Json::Array(a) => {
                out.push(b'[');
                for (i, j) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    j.write(ctx, out)?;
                }
                out.push(b']');
            }
            Json::Object(o) => {
                out.push(b'{');
                for (i, (k, j)) in o.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    ser(out, k)?;
                    out.push(b':');
                    j.write(ctx, out)?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }

    /// Renders to a minijinja value (for variables): strings stay strings, numbers numbers.
    pub fn render_value(&self, ctx: &Value) -> Result<Value, String> {
        match self {
            Json::Expr(e, name) => eval(e, name.as_deref(), ctx),
            Json::Text(t) => Ok(Value::from(t.render(ctx)?)),
            other => Ok(Value::from(minijinja::value::Serde(other.render(ctx)?))),
        }
    }
}

/// An expression's value; one that is only a defined name is looked up directly (the same
/// value minijinja would give), anything else evaluated.
fn eval(
    e: &Expression<'static, 'static>,
    name: Option<&str>,
    ctx: &Value,
) -> Result<Value, String> {
    if let Some(v) = name
        .and_then(|n| ctx.get_attr(n).ok())
        .filter(|v| !v.is_undefined())
    {
        throng_ir::template::check_value_size(&v)?;
        return Ok(v);
    }
    throng_ir::template::eval_bounded(e, ctx)
}

mod erased {
    /// Serializes any of the few value types a JSON template holds into a byte buffer.
    pub trait Ser {
        fn ser(&self, out: &mut Vec<u8>) -> Result<(), String>;
    }
    impl<T: serde::Serialize + ?Sized> Ser for T {
        fn ser(&self, out: &mut Vec<u8>) -> Result<(), String> {
            serde_json::to_writer(out, self).map_err(|e| e.to_string())
        }
    }
}

pub fn describe(e: minijinja::Error) -> String {
    throng_ir::template::describe_error(&e)
}

pub enum BodyPlan {
    None,
    /// Pre-serialized, with its content type.
    Fixed(Bytes, &'static str),
    Json(Json),
    Text(Text),
    Form(Vec<(String, Text)>),
    Multipart(Vec<(String, PartPlan)>),
}

pub enum PartPlan {
    Text(Text),
    File {
        content: Text,
        filename: String,
        content_type: Option<String>,
    },
}

pub struct CheckPlan {
    pub check: Check,
    /// Rendered `equals` or `body_contains` operand.
    pub operand: Option<Json>,
    pub contains: Option<Text>,
    pub schema: Option<jsonschema::Validator>,
}

/// What kind of exchange a step is, with what a stream needs.
pub enum KindPlan {
    Http,
    /// Read events; stop after `events` (None: when the server ends the stream).
    Sse {
        events: Option<u64>,
    },
    Ws(WsPlan),
}

impl KindPlan {
    /// `sse` or `ws` for a streaming step, None for a request.
    pub fn stream_name(&self) -> Option<&'static str> {
        match self {
            KindPlan::Http => None,
            KindPlan::Sse { .. } => Some("sse"),
            KindPlan::Ws(_) => Some("ws"),
        }
    }
}

/// A WebSocket session: `count` messages cycling through `messages`, each awaited by its
/// reply; with `echo`, the reply must repeat the message.
pub struct WsPlan {
    pub messages: Vec<Message>,
    pub count: u64,
    pub echo: bool,
}

/// One WebSocket message: literal text prepared once, or a template rendered per message
/// (with `seq` set).
pub enum Message {
    Fixed(String),
    Json(Json),
}

impl Message {
    /// The text sent: a rendered string as is, any other JSON value as JSON.
    pub fn render(&self, ctx: &Value) -> Result<String, String> {
        match self {
            Message::Fixed(s) => Ok(s.clone()),
            Message::Json(j) => Ok(match j.render(ctx)? {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
        }
    }

    pub fn is_fixed(&self) -> bool {
        matches!(self, Message::Fixed(_))
    }
}

pub struct ExtractPlan {
    pub name: String,
    pub extractor: Extractor,
}

pub struct StepPlan {
    /// Index over every step of every scenario, for recording.
    pub id: usize,
    /// Position in its scenario.
    pub index: usize,
    pub name: String,
    /// The HAR file and entry the step was compiled from, for traces.
    pub source: Option<(String, usize)>,
    pub method: http::Method,
    pub url: Text,
    /// Pre-parsed when the URL (and its query) is literal.
    pub fixed_uri: Option<http::Uri>,
    pub query: Vec<(String, Text)>,
    pub headers: Vec<(HeaderName, Text)>,
    /// Literal header values, pre-validated.
    pub fixed_headers: Vec<(HeaderName, HeaderValue)>,
    pub body: BodyPlan,
    pub extract: Vec<ExtractPlan>,
    pub checks: Vec<CheckPlan>,
    pub think: Option<Think>,
    pub on_fail: OnFail,
    pub follow_redirects: bool,
    pub timeout: Duration,
    pub needs_body: bool,
    /// What of a JSON body the step's checks and extractors read, when only simple paths
    /// do (see `jsonprune`); None: parse the whole body.
    pub prune: Option<prune::Prune>,
    pub kind: KindPlan,
    /// The whole request head but `Host` and cookies, when no header is templated and the
    /// body is none or fixed: built once, cloned per request.
    pub fixed_base: Option<http::HeaderMap>,
    /// A fixed URL with a fixed head: its origin, path and the head with `Host`.
    pub fixed_target: Option<crate::client::FixedTarget>,
    /// Fault injection for tests of panic containment: the step panics when it starts. Set
    /// only by the `THRONG_TEST_PANIC_STEP` environment variable naming the step.
    pub inject_panic: bool,
}

impl StepPlan {
    /// Renders the request of an HTTP step: its URL (credentials in it moved to Basic auth),
    /// its head (None when the step's compiled `fixed_base` serves as it is) and its body.
    pub(crate) fn prepare(
        &self,
        ctx: &Value,
        rng: &mut SmallRng,
    ) -> Result<(Uri, Option<HeaderMap>, Bytes), String> {
        let (uri, auth) = crate::client::split_userinfo(self.build_uri(ctx)?)?;
        if let Some(base) = &self.fixed_base {
            let body = match &self.body {
                BodyPlan::Fixed(b, _) => b.clone(),
                _ => Bytes::new(),
            };
            if auth.is_none() {
                // The head is the step's own, prepared at compile time.
                return Ok((uri, None, body));
            }
            // A templated URL that carried credentials: the compiled head plus them.
            let mut headers = base.clone();
            crate::client::add_basic_auth(&mut headers, auth);
            return Ok((uri, Some(headers), body));
        }
        let mut headers = self.render_headers(ctx)?;
        crate::client::add_basic_auth(&mut headers, auth);
        let (body, ct) = self.build_body(ctx, rng)?;
        if let Some(ct) = ct {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_str(&ct).map_err(|e| e.to_string())?,
                );
            }
        }
        Ok((uri, Some(headers), body))
    }

    /// The step's headers: literal ones as compiled, templated ones rendered.
    pub(crate) fn render_headers(&self, ctx: &Value) -> Result<HeaderMap, String> {
        let step = self;
        let mut headers =
            HeaderMap::with_capacity(step.fixed_headers.len() + step.headers.len() + 3);
        for (k, v) in &step.fixed_headers {
            headers.insert(k.clone(), v.clone());
        }
        for (k, t) in &step.headers {
            let v = t.render(ctx)?;
            headers.insert(
                k.clone(),
                HeaderValue::from_str(&v).map_err(|_| {
                    format!(
                        "invalid value for header `{k}`: {:?}",
                        crate::redact::mask_header(k.as_str(), &v)
                    )
                })?,
            );
        }
        Ok(headers)
    }

    pub(crate) fn build_uri(&self, ctx: &Value) -> Result<Uri, String> {
        let step = self;
        if let Some(u) = &step.fixed_uri {
            return Ok(u.clone());
        }
        let mut url = step.url.render(ctx)?;
        for (k, v) in &step.query {
            append_query(&mut url, k, &v.render(ctx)?);
        }
        url.parse::<Uri>()
            .map_err(|e| format!("invalid URL `{url}`: {e}"))
    }

    pub(crate) fn build_body(
        &self,
        ctx: &Value,
        rng: &mut SmallRng,
    ) -> Result<(Bytes, Option<String>), String> {
        let step = self;
        Ok(match &step.body {
            BodyPlan::None => (Bytes::new(), None),
            BodyPlan::Fixed(b, ct) => (b.clone(), Some(ct.to_string())),
            BodyPlan::Json(j) => {
                let mut out = Vec::with_capacity(128);
                j.write(ctx, &mut out)?;
                (Bytes::from(out), Some("application/json".into()))
            }
            BodyPlan::Text(t) => (
                Bytes::from(t.render(ctx)?),
                Some("text/plain; charset=utf-8".into()),
            ),
            BodyPlan::Form(f) => {
                let mut out = String::new();
                for (k, v) in f {
                    if !out.is_empty() {
                        out.push('&');
                    }
                    throng_ir::codec::append_component(&mut out, k);
                    out.push('=');
                    throng_ir::codec::append_component(&mut out, &v.render(ctx)?);
                }
                (
                    Bytes::from(out),
                    Some("application/x-www-form-urlencoded".into()),
                )
            }
            BodyPlan::Multipart(parts) => {
                let boundary = format!("throng-{:016x}", rng.random::<u64>());
                let mut out = Vec::new();
                for (name, p) in parts {
                    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                    match p {
                        PartPlan::Text(t) => {
                            out.extend_from_slice(
                                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                                    .as_bytes(),
                            );
                            out.extend_from_slice(t.render(ctx)?.as_bytes());
                        }
                        PartPlan::File {
                            content,
                            filename,
                            content_type,
                        } => {
                            out.extend_from_slice(
                                format!(
                                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {}\r\n\r\n",
                                    content_type.as_deref().unwrap_or("application/octet-stream")
                                )
                                .as_bytes(),
                            );
                            out.extend_from_slice(content.render(ctx)?.as_bytes());
                        }
                    }
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
                (
                    Bytes::from(out),
                    Some(format!("multipart/form-data; boundary={boundary}")),
                )
            }
        })
    }

    /// Assertions the step makes: its checks, plus a WebSocket echo expectation.
    pub fn check_count(&self) -> u64 {
        self.checks.len() as u64 + matches!(&self.kind, KindPlan::Ws(w) if w.echo) as u64
    }
}

pub struct ScenarioPlan {
    pub index: usize,
    pub name: String,
    pub weight: u32,
    pub steps: Vec<StepPlan>,
}

pub struct Program {
    /// Variables in file order; literal ones are rendered once here.
    pub vars: Vec<(String, Json)>,
    /// The literal variables, shared by every iteration's context.
    pub fixed_vars: Arc<BTreeMap<String, Value>>,
    /// `vars`' names, ready to be context keys.
    pub var_keys: Vec<Arc<str>>,
    pub key_vu: Arc<str>,
    pub key_iteration: Arc<str>,
    pub scenarios: Vec<ScenarioPlan>,
    pub total_weight: u64,
    pub step_count: usize,
    /// What must not leave the runner.
    pub secrets: crate::redact::Secrets,
}

struct Compiler {
    env: &'static Environment<'static>,
    /// Variables whose value is the same in every iteration of the run: literal ones (after
    /// `--var`/`--base-url` overrides) that nothing can shadow (no feeder, extractor or
    /// per-iteration name). A template reading only these, and calling no function, renders
    /// once here instead of on every request.
    consts: BTreeMap<String, Value>,
    consts_ctx: Value,
}

impl Compiler {
    fn constant(&self, names: &std::collections::HashSet<String>) -> bool {
        names.iter().all(|n| self.consts.contains_key(n))
    }

    fn text(&self, t: &Template) -> Result<Text, String> {
        match t.as_literal() {
            Some(l) => Ok(Text::Lit(l.to_string())),
            None => {
                let tmpl = self.env.get_template(t.source()).map_err(describe)?;
                if self.constant(&tmpl.undeclared_variables(false)) {
                    // A failure is left to happen (and be reported) at run time, as before.
                    if let Ok(s) = tmpl.render(&self.consts_ctx) {
                        return Ok(Text::Lit(s));
                    }
                }
                Ok(Text::Tmpl(Tmpl::new(tmpl)))
            }
        }
    }

    /// A JSON template with every part rendered that can be: a fully constant one is `Lit`.
    fn json(&self, j: &JsonTemplate) -> Result<Json, String> {
        Ok(match self.json_parts(j)? {
            Json::Array(a) if a.iter().all(|x| matches!(x, Json::Lit(_))) => {
                Json::Lit(serde_json::Value::Array(
                    a.into_iter()
                        .map(|x| match x {
                            Json::Lit(v) => v,
                            _ => unreachable!(),
                        })
                        .collect(),
                ))
            }
            Json::Object(o) if o.iter().all(|(_, x)| matches!(x, Json::Lit(_))) => {
                Json::Lit(serde_json::Value::Object(
                    o.into_iter()
                        .map(|(k, x)| match x {
                            Json::Lit(v) => (k, v),
                            _ => unreachable!(),
                        })
                        .collect(),
                ))
            }
            other => other,
        })
    }

    fn json_parts(&self, j: &JsonTemplate) -> Result<Json, String> {
        if j.is_literal() {
            return Ok(Json::Lit(j.to_json()));
        }
        Ok(match j {
            JsonTemplate::String(t) => match t.as_expression() {
                Some(e) => {
                    let expr = self
                        .env
                        .compile_expression_owned(e.to_string())
                        .map_err(|err| format!("`{e}`: {}", describe(err)))?;
                    let folded = self
                        .constant(&expr.undeclared_variables(false))
                        .then(|| expr.eval(&self.consts_ctx).ok())
                        .flatten()
                        .and_then(|v| serde_json::to_value(&v).ok());
                    match folded {
                        Some(v) => Json::Lit(v),
                        None => Json::Expr(expr, plain_name(e).map(Box::from)),
                    }
                }
                None => match self.text(t)? {
                    Text::Tmpl(t) => Json::Text(t),
                    Text::Lit(l) => Json::Lit(serde_json::Value::String(l)),
                },
            },
            JsonTemplate::Array(a) => {
                Json::Array(a.iter().map(|v| self.json(v)).collect::<Result<_, _>>()?)
            }
            JsonTemplate::Object(o) => Json::Object(
                o.iter()
                    .map(|(k, v)| Ok((k.clone(), self.json(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => Json::Lit(other.to_json()),
        })
    }
}

/// Registers every non-literal template of the plan under its own source text (so equal
/// templates compile once), then freezes the environment for the rest of the process:
/// compiled templates borrow it, and one environment per run is a few kilobytes.
fn freeze_environment(
    plan: &Plan,
    env_overlay: Arc<HashMap<String, String>>,
) -> Result<&'static Environment<'static>, String> {
    let mut env = throng_ir::template::environment(env_overlay);
    let mut all: Vec<&Template> = plan
        .vars
        .values()
        .flat_map(JsonTemplate::templates)
        .collect();
    for s in &plan.scenarios {
        for st in &s.steps {
            all.extend(st.templates());
            all.extend(st.check.iter().flat_map(Check::templates));
        }
    }
    all.extend(plan.defaults.headers.values());
    for t in all {
        if t.as_literal().is_none() && env.get_template(t.source()).is_err() {
            env.add_template_owned(t.source().to_string(), t.source().to_string())
                .map_err(|e| format!("template `{}`: {}", t.source(), describe(e)))?;
        }
    }
    Ok(Box::leak(Box::new(env)))
}

fn literal_query_uri(url: &str, query: &[(String, Text)]) -> Option<http::Uri> {
    let mut full = url.to_string();
    for (k, v) in query {
        append_query(&mut full, k, v.literal()?);
    }
    full.parse().ok()
}

/// Appends `k=v` to a URL, percent-encoding both.
pub fn append_query(url: &mut String, k: &str, v: &str) {
    url.push(if url.contains('?') { '&' } else { '?' });
    throng_ir::codec::append_component(url, k);
    url.push('=');
    throng_ir::codec::append_component(url, v);
}

/// Compiles the plan. `vars` are applied after the file's (command-line `--var`, `--base-url`).
pub fn compile(
    plan: &Plan,
    overrides: &[(String, String)],
    env_overlay: Arc<HashMap<String, String>>,
) -> Result<Program, String> {
    let mut c = Compiler {
        env: freeze_environment(plan, env_overlay)?,
        consts: BTreeMap::new(),
        consts_ctx: Value::UNDEFINED,
    };
    let (vars, fixed_vars) = c.variables(plan, overrides)?;
    c.consts = constants(plan, &vars, &fixed_vars);
    c.consts_ctx = Value::from(c.consts.clone());
    let mut scenarios = Vec::new();
    let mut id = 0;
    for (index, s) in plan.scenarios.iter().enumerate() {
        let mut steps = Vec::new();
        for (step_index, st) in s.steps.iter().enumerate() {
            steps.push(c.step(plan, st, id, step_index)?);
            id += 1;
        }
        scenarios.push(ScenarioPlan {
            index,
            name: s.name.clone(),
            weight: s.weight,
            steps,
        });
    }
    let total_weight = scenarios
        .iter()
        .map(|s| s.weight as u64)
        .sum::<u64>()
        .max(1);
    Ok(Program {
        var_keys: vars.iter().map(|(k, _)| Arc::from(k.as_str())).collect(),
        vars,
        fixed_vars: Arc::new(fixed_vars),
        key_vu: Arc::from("vu"),
        key_iteration: Arc::from("iteration"),
        scenarios,
        total_weight,
        step_count: id,
        secrets: crate::redact::Secrets::of_plan(plan),
    })
}

/// The variables whose value no iteration can change: literal ones (after overrides) that
/// no feeder, extractor or per-iteration name shadows.
fn constants(
    plan: &Plan,
    vars: &[(String, Json)],
    fixed_vars: &BTreeMap<String, Value>,
) -> BTreeMap<String, Value> {
    // Names a per-iteration value can take: those are never constant.
    let mut shadowed: std::collections::HashSet<&str> =
        ["vu", "iteration", "seq"].into_iter().collect();
    shadowed.extend(plan.data.keys().map(String::as_str));
    shadowed.extend(
        vars.iter()
            .filter(|(_, j)| !matches!(j, Json::Lit(_)))
            .map(|(k, _)| k.as_str()),
    );
    for s in &plan.scenarios {
        for st in &s.steps {
            shadowed.extend(st.extract.keys().map(String::as_str));
        }
    }
    fixed_vars
        .iter()
        .filter(|(k, _)| !shadowed.contains(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A step's headers as compiled: templated ones, and literal ones validated once.
struct RequestParts {
    headers: Vec<(HeaderName, Text)>,
    fixed_headers: Vec<(HeaderName, HeaderValue)>,
}

impl Compiler {
    /// The file's variables in order, overrides last, and the literal ones as values.
    #[allow(clippy::type_complexity)]
    fn variables(
        &self,
        plan: &Plan,
        overrides: &[(String, String)],
    ) -> Result<(Vec<(String, Json)>, BTreeMap<String, Value>), String> {
        let mut vars = Vec::new();
        for (k, v) in &plan.vars {
            if overrides.iter().any(|(o, _)| o == k) {
                continue;
            }
            vars.push((k.clone(), self.json(v)?));
        }
        for (k, v) in overrides {
            vars.push((k.clone(), Json::Lit(serde_json::Value::String(v.clone()))));
        }
        let mut fixed_vars = BTreeMap::new();
        for (k, j) in &vars {
            if let Json::Lit(v) = j {
                fixed_vars.insert(k.clone(), Value::from(minijinja::value::Serde(v)));
            }
        }
        Ok((vars, fixed_vars))
    }

    /// Compiles one step: its request, checks, extractors, kind, and what can be computed
    /// once for a fixed URL.
    fn step(
        &self,
        plan: &Plan,
        st: &throng_ir::Step,
        id: usize,
        index: usize,
    ) -> Result<StepPlan, String> {
        let r = &st.request;
        let method = http::Method::from_bytes(r.method.as_str().as_bytes())
            .map_err(|_| format!("step `{}`: invalid method {}", st.name, r.method.as_str()))?;
        let url = self.text(&r.url)?;
        let query = r
            .query
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.text(v)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let RequestParts {
            headers,
            mut fixed_headers,
        } = self.headers(plan, st)?;
        let body = self.body(&r.body)?;
        let checks = self.checks(st)?;
        let extract = st
            .extract
            .iter()
            .map(|(k, e)| ExtractPlan {
                name: k.clone(),
                extractor: e.clone(),
            })
            .collect::<Vec<_>>();
        let needs_body = st.check.iter().any(Check::needs_body)
            || st.extract.values().any(Extractor::needs_body);
        let prune = prune_for(&st.check, st.extract.values());
        let kind = self.kind(st)?;
        // A WebSocket URL is only known once `http` is mapped to `ws`: never pre-parsed.
        let mut fixed_uri = match (url.literal(), &kind) {
            (Some(u), KindPlan::Http | KindPlan::Sse { .. }) => literal_query_uri(u, &query),
            _ => None,
        };
        if let Some(u) = fixed_uri.take() {
            // Credentials in a literal URL become the step's Basic auth, once, here.
            let (u, auth) =
                crate::client::split_userinfo(u).map_err(|e| format!("step `{}`: {e}", st.name))?;
            if let Some(v) = auth {
                if !fixed_headers
                    .iter()
                    .any(|(k, _)| k == http::header::AUTHORIZATION)
                    && !headers
                        .iter()
                        .any(|(k, _)| k == http::header::AUTHORIZATION)
                {
                    fixed_headers.push((http::header::AUTHORIZATION, v));
                }
            }
            fixed_uri = Some(u);
        }
        let fixed_base = match (&body, headers.is_empty()) {
            (BodyPlan::None | BodyPlan::Fixed(..), true) => {
                let mut h = http::HeaderMap::with_capacity(fixed_headers.len() + 3);
                for (k, v) in &fixed_headers {
                    h.insert(k.clone(), v.clone());
                }
                if let BodyPlan::Fixed(_, ct) = &body {
                    if !h.contains_key(http::header::CONTENT_TYPE) {
                        h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
                    }
                }
                Some(h)
            }
            _ => None,
        };
        let fixed_target = match (&fixed_uri, &fixed_base) {
            (Some(u), Some(base)) => crate::client::Origin::of(u).ok().map(|origin| {
                let mut head = base.clone();
                head.reserve(2);
                crate::client::add_host(u, &mut head);
                crate::client::FixedTarget {
                    origin,
                    pq: u
                        .path_and_query()
                        .cloned()
                        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
                    head,
                }
            }),
            _ => None,
        };
        Ok(StepPlan {
            inject_panic: std::env::var_os("THRONG_TEST_PANIC_STEP")
                .is_some_and(|v| v.to_str() == Some(st.name.as_str())),
            fixed_base,
            fixed_target,
            id,
            index,
            name: st.name.clone(),
            source: st.source.as_ref().map(|p| (p.har.clone(), p.entry)),
            method,
            url,
            fixed_uri,
            query,
            headers,
            fixed_headers,
            body,
            extract,
            checks,
            think: st.think.or(plan.defaults.think),
            on_fail: st.on_fail.or(plan.defaults.on_fail).unwrap_or_default(),
            follow_redirects: st
                .follow_redirects
                .or(plan.defaults.follow_redirects)
                .unwrap_or(true),
            timeout: st
                .timeout
                .or(plan.defaults.timeout)
                .unwrap_or(DEFAULT_TIMEOUT),
            needs_body,
            prune,
            kind,
        })
    }

    /// The step's headers, `defaults.headers` first: literal and constant ones validated
    /// once, templated ones kept to render per request.
    fn headers(&self, plan: &Plan, st: &throng_ir::Step) -> Result<RequestParts, String> {
        let r = &st.request;
        let mut header_src: Vec<(HeaderName, &Template)> = Vec::new();
        for (k, v) in plan.defaults.headers.iter().chain(r.headers.iter()) {
            let name = HeaderName::from_bytes(k.trim().as_bytes())
                .map_err(|_| format!("step `{}`: invalid header name `{k}`", st.name))?;
            header_src.retain(|(n, _)| n != name);
            header_src.push((name, v));
        }
        // An event stream is asked for as one unless the step says otherwise.
        if matches!(st.kind, StepKind::Sse(_))
            && !header_src.iter().any(|(n, _)| n == http::header::ACCEPT)
        {
            header_src.push((http::header::ACCEPT, &EVENT_STREAM));
        }
        let mut headers = Vec::new();
        let mut fixed_headers = Vec::new();
        for (name, v) in header_src {
            match (v.as_literal(), self.text(v)?) {
                (Some(l), _) => fixed_headers.push((
                    name.clone(),
                    HeaderValue::from_str(l).map_err(|_| {
                        format!("step `{}`: invalid value for header `{name}`", st.name)
                    })?,
                )),
                // A constant template with a valid value; an invalid one is left to fail
                // per request, as it did.
                (None, Text::Lit(l)) if HeaderValue::from_str(&l).is_ok() => {
                    fixed_headers.push((name, HeaderValue::from_str(&l).unwrap()))
                }
                (None, t) => headers.push((name, t)),
            }
        }
        Ok(RequestParts {
            headers,
            fixed_headers,
        })
    }

    /// The request body: pre-serialized when literal, else compiled templates.
    fn body(&self, body: &Option<Body>) -> Result<BodyPlan, String> {
        Ok(match body {
            None => BodyPlan::None,
            Some(Body::Json(j)) if j.is_literal() => BodyPlan::Fixed(
                Bytes::from(serde_json::to_vec(&j.to_json()).map_err(|e| e.to_string())?),
                "application/json",
            ),
            Some(Body::Json(j)) => match self.json(j)? {
                Json::Lit(v) => BodyPlan::Fixed(
                    Bytes::from(serde_json::to_vec(&v).map_err(|e| e.to_string())?),
                    "application/json",
                ),
                j => BodyPlan::Json(j),
            },
            Some(Body::Text(t)) => match self.text(t)? {
                Text::Lit(l) => BodyPlan::Fixed(Bytes::from(l), "text/plain; charset=utf-8"),
                t => BodyPlan::Text(t),
            },
            Some(Body::Form(f)) => BodyPlan::Form(
                f.iter()
                    .map(|(k, v)| Ok((k.clone(), self.text(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Some(Body::Multipart(m)) => BodyPlan::Multipart(
                m.iter()
                    .map(|(k, p)| {
                        Ok((
                            k.clone(),
                            match p {
                                Part::Text(t) => PartPlan::Text(self.text(t)?),
                                Part::File {
                                    content,
                                    filename,
                                    content_type,
                                } => PartPlan::File {
                                    content: self.text(content)?,
                                    filename: filename.clone(),
                                    content_type: content_type.clone(),
                                },
                            },
                        ))
                    })
                    .collect::<Result<_, String>>()?,
            ),
        })
    }

    /// The step's checks with their operands compiled (values, contained text, schemas).
    fn checks(&self, st: &throng_ir::Step) -> Result<Vec<CheckPlan>, String> {
        let mut checks = Vec::new();
        for ch in &st.check {
            let operand = match ch {
                Check::Json {
                    expect: ValueExpect::Equals(j),
                    ..
                }
                | Check::Header {
                    expect: ValueExpect::Equals(j),
                    ..
                } => Some(self.json(j)?),
                _ => None,
            };
            let contains = match ch {
                Check::BodyContains(t) => Some(self.text(t)?),
                _ => None,
            };
            let schema = match ch {
                Check::Schema(s) => Some(
                    jsonschema::validator_for(s)
                        .map_err(|e| format!("step `{}`: invalid JSON schema: {e}", st.name))?,
                ),
                _ => None,
            };
            checks.push(CheckPlan {
                check: ch.clone(),
                operand,
                contains,
                schema,
            });
        }
        Ok(checks)
    }

    /// What kind of step it is: a request, an event stream, or a WebSocket session.
    fn kind(&self, st: &throng_ir::Step) -> Result<KindPlan, String> {
        Ok(match &st.kind {
            StepKind::Http => KindPlan::Http,
            StepKind::Sse(sse) => KindPlan::Sse {
                events: sse.events.map(u64::from),
            },
            StepKind::Ws(ws) => KindPlan::Ws(WsPlan {
                messages: ws
                    .send
                    .iter()
                    .map(|m| {
                        Ok(match self.json(m)? {
                            Json::Lit(serde_json::Value::String(s)) => Message::Fixed(s),
                            Json::Lit(v) => Message::Fixed(v.to_string()),
                            j => Message::Json(j),
                        })
                    })
                    .collect::<Result<_, String>>()?,
                count: ws.total() as u64,
                echo: ws.expect == Reply::Echo,
            }),
        })
    }
}

/// The pruning tree for a step's JSON checks and extractors: None when there are none, when
/// one needs the whole document (a schema that reads below the root's members), or when a
/// path is not simple.
fn prune_for<'a>(
    checks: &'a [Check],
    extract: impl Iterator<Item = &'a Extractor>,
) -> Option<prune::Prune> {
    let mut paths = Vec::new();
    let mut schemas = Vec::new();
    for c in checks {
        match c {
            Check::Json { path, .. } => paths.push(path),
            Check::Schema(s) => schemas.push(prune::Prune::for_schema(s)?),
            _ => {}
        }
    }
    for e in extract {
        if let Extractor::Json { path, .. } = e {
            paths.push(path);
        }
    }
    if paths.is_empty() && schemas.is_empty() {
        return None;
    }
    let tree = if paths.is_empty() {
        prune::Prune::default()
    } else {
        prune::Prune::of(paths)?
    };
    Some(schemas.into_iter().fold(tree, prune::Prune::merge))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, Value)]) -> Value {
        Value::from(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<String, Value>>(),
        )
    }

    fn body_of(yaml_json: &str, ctxv: &Value) -> serde_json::Value {
        let plan = throng_ir::load_str(
            &format!(
                "version: 1\nname: t\nvars: {{qty: 2, name: bob, tags: [a, b], flag: true}}\nscenarios:\n  - name: s\n    steps:\n      - name: a\n        request: {{method: POST, url: 'http://127.0.0.1/x', json: {yaml_json}}}\n"
            ),
            "t.yaml",
            std::path::Path::new("."),
        )
        .unwrap();
        let p = compile(&plan, &[], Arc::new(HashMap::new())).unwrap();
        match &p.scenarios[0].steps[0].body {
            BodyPlan::Json(j) => j.render(ctxv).unwrap(),
            BodyPlan::Fixed(b, _) => serde_json::from_slice(b).unwrap(),
            _ => panic!("not json"),
        }
    }

    #[test]
    fn json_bodies_keep_native_types_for_lone_expressions() {
        let c = ctx(&[
            ("qty", Value::from(2)),
            ("name", Value::from("bob")),
            ("tags", Value::from(vec!["a", "b"])),
            ("flag", Value::from(true)),
        ]);
        let out = body_of(
            r#"{"q": "{{ qty }}", "q2": "{{ qty * 3 }}", "s": "x-{{ qty }}", "n": "{{ name }}", "t": "{{ tags }}", "f": "{{ flag }}", "lit": 5, "nest": [{"k": "{{ qty }}"}]}"#,
            &c,
        );
        assert_eq!(
            out,
            serde_json::json!({"q": 2, "q2": 6, "s": "x-2", "n": "bob", "t": ["a", "b"], "f": true, "lit": 5, "nest": [{"k": 2}]})
        );
        // Fully literal bodies are serialized once at compile time.
        assert_eq!(
            body_of(r#"{"a": [1, "b"]}"#, &c),
            serde_json::json!({"a": [1, "b"]})
        );
    }

    #[test]
    fn spliced_templates_render_as_minijinja_does() {
        let env = throng_ir::template::environment(Arc::new(HashMap::new()));
        let env: &'static Environment<'static> = Box::leak(Box::new(env));
        let c = ctx(&[
            ("token", Value::from("abc.def")),
            ("base_url", Value::from("http://127.0.0.1:8080")),
            ("id", Value::from("prod-1")),
            ("qty", Value::from(2)),
            ("price", Value::from(9.5)),
            ("nothing", Value::from(())),
            ("html", Value::from("<b>&amp;</b>")),
        ]);
        // (source, whether it splices)
        let cases = [
            ("Bearer {{ token }}", true),
            ("{{ base_url }}/products/{{id}}", true),
            ("{{token}}{{ id }}", true),
            ("a }} b {{ id }}", true),
            ("{{ html }}.html", true),
            ("qty={{ qty }}", true),
            ("price {{ price }}", true),
            ("{{ nothing }}!", true),
            ("{{ missing }}", true),
            ("{{ id }}\n", false),
            ("{{ id | upper }}", false),
            ("{{ id ~ token }}", false),
            ("{{- id }}", false),
            ("{% if id %}{{ id }}{% endif %}", false),
            ("{{ true }}", false),
            ("{{ 'x' }}", false),
        ];
        for (source, splices) in cases {
            let full = env.template_from_str(source).unwrap();
            let t = Tmpl::new(full);
            assert_eq!(t.splice.is_some(), splices, "{source}");
            let full = env.template_from_str(source).unwrap();
            assert_eq!(
                t.render(&c),
                throng_ir::template::render_bounded(&full, &c),
                "{source}"
            );
        }
    }

    #[test]
    fn query_encoding() {
        let mut u = "http://h/p".to_string();
        append_query(&mut u, "search", "a b&c");
        append_query(&mut u, "page", "1");
        assert_eq!(u, "http://h/p?search=a%20b%26c&page=1");
    }
}
