//! Scenario synthesis: per-operation request plans (values, chains, auth), and the builder
//! that orders operations into flows so that every consumer follows its producer.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::chain::{
    id_like, jsonpath, norm, resource_label, resource_of_name, shape, Binding, Chainer, Source,
    Want, TOKEN_NAMES,
};
use super::model::{singular, snake, Kind, Op, Param};
use super::schema::{Schemas, Side};

/// Where an input's value comes from.
#[derive(Debug, Clone)]
pub(crate) enum Value2 {
    Bound(Binding),
    /// A literal value and why it was chosen (example, default, generated).
    Literal(Value, String),
}

/// The security material of one operation.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuthPlan {
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    /// The token binding, when a login/register (or OAuth2 token step) provides it.
    pub token: Option<Binding>,
    pub note: Option<String>,
}

/// A request body: the sample value, and overrides at JSON pointers.
#[derive(Debug, Clone)]
pub(crate) struct BodyPlan {
    pub media: String,
    pub sample: Value,
    pub overrides: Vec<(Vec<String>, Override)>,
    pub schema: Value,
    pub note: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Override {
    Bound(Binding),
    /// A template that makes the value unique per request.
    Unique(String),
}

#[derive(Debug, Clone)]
pub(crate) struct OpPlan {
    pub params: Vec<(usize, Value2)>,
    pub body: Option<BodyPlan>,
    pub auth: AuthPlan,
}

/// A synthetic OAuth2 client-credentials token step.
#[derive(Debug, Clone)]
pub(crate) struct TokenStep {
    pub scheme: String,
    pub token_url: String,
}

/// The index used for the synthetic token step as a "producer".
pub(crate) const TOKEN_STEP: usize = usize::MAX;

pub(crate) struct Planner<'a> {
    pub doc: &'a Value,
    pub schemas: Schemas<'a>,
    pub ops: &'a [Op],
    pub chainer: Chainer<'a>,
    pub warnings: Vec<String>,
    pub vars: BTreeMap<String, (String, String)>,
    pub secrets: BTreeSet<String>,
    pub token_producer: Option<Binding>,
    pub token_step: Option<TokenStep>,
    pub register: Option<usize>,
    pub plans: Vec<Option<OpPlan>>,
}

const UNIQUE_NAMES: &[&str] = &[
    "email",
    "username",
    "user_name",
    "login",
    "name",
    "title",
    "slug",
    "handle",
    "nickname",
    "display_name",
    "code",
    "key",
];

impl<'a> Planner<'a> {
    pub fn new(doc: &'a Value, ops: &'a [Op]) -> Self {
        let schemas = Schemas::new(doc);
        let chainer = Chainer::new(ops, &schemas);
        let mut p = Planner {
            doc,
            schemas,
            ops,
            chainer,
            warnings: Vec::new(),
            vars: BTreeMap::new(),
            secrets: BTreeSet::new(),
            token_producer: None,
            token_step: None,
            register: None,
            plans: vec![None; ops.len()],
        };
        p.find_token_producer();
        for op in ops {
            if op.skip.is_none() {
                let plan = p.plan_op(op.index);
                p.plans[op.index] = Some(plan);
            }
        }
        p
    }

    fn find_token_producer(&mut self) {
        self.register = self
            .ops
            .iter()
            .find(|o| o.skip.is_none() && o.is_register() && o.body.is_some())
            .map(|o| o.index);
        // 1. Links that fill `Authorization` from a response.
        let mut consumers: Vec<&usize> = self.chainer.links.keys().collect();
        consumers.sort();
        for consumer in consumers {
            let ls = &self.chainer.links[consumer];
            for (producer, link, key, expr) in ls {
                if norm(key).ends_with("authorization") {
                    if let Some(e) = expr.as_str() {
                        if let Some(mut b) =
                            self.chainer.link_expression(*producer, link, e, "token")
                        {
                            b.prefix.clear();
                            b.suffix.clear();
                            let better = match &self.token_producer {
                                None => true,
                                Some(cur) => {
                                    self.ops[*producer].is_register()
                                        && !self.ops[cur.producer].is_register()
                                        || *producer < cur.producer
                                            && self.ops[*producer].is_register()
                                                == self.ops[cur.producer].is_register()
                                }
                            };
                            if better {
                                self.token_producer = Some(b);
                            }
                        }
                    }
                }
            }
        }
        if self.token_producer.is_some() {
            return;
        }
        // 2. A POST without security whose response holds a token.
        let mut best: Option<(i32, Binding)> = None;
        for op in self.ops {
            if op.skip.is_some()
                || op.method != "POST"
                || !op.security.is_empty() && !op.security.iter().any(Vec::is_empty)
            {
                continue;
            }
            for o in &self.chainer.outputs[op.index] {
                if o.list
                    || !TOKEN_NAMES.contains(&norm(&o.leaf).as_str())
                        && !TOKEN_NAMES.contains(&snake(&o.leaf).as_str())
                {
                    continue;
                }
                let score = if op.is_register() {
                    3
                } else if op.is_login() {
                    2
                } else {
                    1
                };
                if best.as_ref().is_none_or(|(s, _)| score > *s) {
                    best = Some((
                        score,
                        Binding {
                            producer: op.index,
                            source: Source::Json(o.jsonpath()),
                            var: "token".into(),
                            provenance: format!("heuristic (token in the response of {} {}) feeds the security scheme", op.method, op.path),
                            transform: None,
                            prefix: String::new(),
                            suffix: String::new(),
                        },
                    ));
                }
            }
        }
        self.token_producer = best.map(|b| b.1);
    }

    fn scheme(&self, name: &str) -> Option<&'a Value> {
        self.doc
            .get("components")?
            .get("securitySchemes")?
            .get(name)
            .map(|s| super::load::deref(self.doc, s))
    }

    fn env_var(&mut self, var: &str, env: &str, default: &str) -> String {
        self.vars.entry(var.to_string()).or_insert_with(|| {
            (
                format!("{{{{ env('{env}', '{default}') }}}}"),
                format!("set {env} in the environment"),
            )
        });
        self.secrets.insert(var.to_string());
        format!("{{{{ {var} }}}}")
    }

    fn plan_auth(&mut self, op: &Op) -> AuthPlan {
        let mut plan = AuthPlan::default();
        if op.security.is_empty() || op.security.iter().any(Vec::is_empty) {
            return plan;
        }
        // Choose the alternative we can satisfy best: inferred token first.
        let bearer_like = |s: &Value| {
            let t = s.get("type").and_then(Value::as_str).unwrap_or("");
            let scheme = s
                .get("scheme")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            (t == "http" && scheme == "bearer")
                || t == "oauth2"
                || t == "openIdConnect"
                || (t == "apiKey"
                    && s.get("in").and_then(Value::as_str) == Some("header")
                    && s.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case("authorization")))
        };
        let alt = op
            .security
            .iter()
            .find(|alt| {
                self.token_producer.is_some()
                    && alt.iter().all(|n| self.scheme(n).is_some_and(bearer_like))
            })
            .or_else(|| {
                op.security.iter().find(|alt| {
                    alt.iter().all(|n| {
                        self.scheme(n).is_some_and(|s| {
                            s.get("type").and_then(Value::as_str) == Some("apiKey")
                        })
                    })
                })
            })
            .or_else(|| op.security.first())
            .cloned()
            .unwrap_or_default();
        for name in alt {
            let Some(s) = self.scheme(&name) else {
                self.warnings.push(format!(
                    "{}: security scheme `{name}` is not defined",
                    op.label()
                ));
                continue;
            };
            let t = s.get("type").and_then(Value::as_str).unwrap_or("");
            let env_base = snake(&name).to_ascii_uppercase();
            if bearer_like(s) {
                let prefix = if t == "apiKey" {
                    let d = s.get("description").and_then(Value::as_str).unwrap_or("");
                    if d.contains("Token ") && !d.contains("Bearer ") {
                        "Token "
                    } else {
                        "Bearer "
                    }
                } else {
                    "Bearer "
                };
                if let Some(b) = &self.token_producer {
                    if b.producer != op.index {
                        plan.token = Some(b.clone());
                        plan.headers
                            .push(("Authorization".into(), format!("{prefix}{{{{ token }}}}")));
                        plan.note = Some(format!("auth: `{name}` from {}", b.provenance));
                        continue;
                    }
                }
                if t == "oauth2" {
                    if let Some(cc) = s.get("flows").and_then(|f| f.get("clientCredentials")) {
                        let token_url = cc
                            .get("tokenUrl")
                            .and_then(Value::as_str)
                            .unwrap_or("/oauth/token")
                            .to_string();
                        self.token_step.get_or_insert(TokenStep {
                            scheme: name.clone(),
                            token_url,
                        });
                        self.env_var("client_id", "OAUTH_CLIENT_ID", "client-id");
                        self.env_var("client_secret", "OAUTH_CLIENT_SECRET", "client-secret");
                        let b = Binding {
                            producer: TOKEN_STEP,
                            source: Source::Json("$.access_token".into()),
                            var: "access_token".into(),
                            provenance: format!("OAuth2 client credentials of `{name}`"),
                            transform: None,
                            prefix: String::new(),
                            suffix: String::new(),
                        };
                        plan.token = Some(b);
                        plan.headers
                            .push(("Authorization".into(), "Bearer {{ access_token }}".into()));
                        plan.note = Some(format!(
                            "auth: `{name}` OAuth2 client credentials token step"
                        ));
                        continue;
                    }
                }
                let v = self.env_var("api_token", "API_TOKEN", "test-token");
                plan.headers
                    .push(("Authorization".into(), format!("{prefix}{v}")));
                plan.note = Some(format!(
                    "auth: `{name}` token from the API_TOKEN environment variable"
                ));
            } else if t == "http" {
                let scheme = s
                    .get("scheme")
                    .and_then(Value::as_str)
                    .unwrap_or("basic")
                    .to_ascii_lowercase();
                if scheme == "basic" {
                    let v = self.env_var("basic_auth", "API_BASIC_AUTH", "dXNlcjpwYXNzd29yZA==");
                    plan.headers
                        .push(("Authorization".into(), format!("Basic {v}")));
                    plan.note = Some(format!("auth: `{name}` basic credentials (base64 user:password) from API_BASIC_AUTH"));
                } else {
                    let v = self.env_var("api_token", "API_TOKEN", "test-token");
                    plan.headers.push((
                        "Authorization".into(),
                        format!("{} {v}", capitalise(&scheme)),
                    ));
                }
            } else if t == "apiKey" {
                let key_name = s
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("api_key")
                    .to_string();
                let var = snake(&name);
                let v = self.env_var(&var, &env_base, "test-api-key");
                match s.get("in").and_then(Value::as_str).unwrap_or("header") {
                    "query" => plan.query.push((key_name, v)),
                    "cookie" => plan.cookies.push((key_name, v)),
                    _ => plan.headers.push((key_name, v)),
                }
                plan.note = Some(format!(
                    "auth: `{name}` API key from the {env_base} environment variable"
                ));
            } else {
                self.warnings.push(format!(
                    "{}: security scheme `{name}` ({t}) is not supported; sent without it",
                    op.label()
                ));
            }
        }
        plan
    }

    fn plan_op(&mut self, i: usize) -> OpPlan {
        let op = &self.ops[i];
        let auth = self.plan_auth(op);
        // Parameters that need a value: path, and required others.
        let mut params = Vec::new();
        for (pi, p) in op.params.iter().enumerate() {
            if !p.required {
                continue;
            }
            if p.location == "header"
                && ["accept", "content-type", "authorization"]
                    .contains(&p.name.to_ascii_lowercase().as_str())
            {
                continue;
            }
            if auth
                .headers
                .iter()
                .any(|(h, _)| h.eq_ignore_ascii_case(&p.name))
                || auth.query.iter().any(|(q, _)| q == &p.name)
            {
                continue;
            }
            params.push((pi, self.param_value(op, p)));
        }
        let body = op.body.clone().and_then(|b| {
            if !b.required && !matches!(op.method.as_str(), "POST" | "PUT" | "PATCH") {
                return None;
            }
            Some(self.plan_body(op, &b))
        });
        OpPlan { params, body, auth }
    }

    /// Links (to this operation, for this input) first.
    fn linked_value(&self, op: &Op, loc: &str, name: &str, var: &str) -> Option<Value2> {
        let ls = self.chainer.links.get(&op.index)?;
        for (producer, link, key, expr) in ls {
            let (kloc, kname) = match key.split_once('.') {
                Some((l, n)) if ["path", "query", "header", "cookie"].contains(&l) => (l, n),
                _ => ("", key.as_str()),
            };
            if kname != name || (!kloc.is_empty() && kloc != loc) {
                continue;
            }
            if self.ops[*producer].skip.is_some() {
                continue;
            }
            match expr {
                Value::String(e) if e.contains("$response.") => {
                    if let Some(b) = self.chainer.link_expression(*producer, link, e, var) {
                        return Some(Value2::Bound(b));
                    }
                }
                Value::String(e) if e.starts_with("$request.") => {
                    // The same value the producer was sent.
                    let rest = &e["$request.".len()..];
                    let (ploc, pname) = rest.split_once('.').unwrap_or(("", rest));
                    let prod = &self.ops[*producer];
                    if let Some(pp) = prod.param(ploc, pname) {
                        if let Some(v) = self.linked_value(prod, ploc, pname, var) {
                            return Some(v);
                        }
                        let v = self.literal_for(pp);
                        return Some(Value2::Literal(
                            v.0,
                            format!("{} (same as {}'s `{pname}`, link `{link}`)", v.1, prod.id),
                        ));
                    }
                }
                Value::String(e) if e.starts_with('$') => {}
                other => {
                    return Some(Value2::Literal(
                        other.clone(),
                        format!("constant from link `{link}`"),
                    ))
                }
            }
        }
        None
    }

    pub(crate) fn literal_for(&self, p: &Param) -> (Value, String) {
        if let Some(e) = &p.example {
            return (e.clone(), "example".into());
        }
        let s = self.schemas.resolve(&p.schema);
        if let Some(e) = s.get("example") {
            return (e.clone(), "schema example".into());
        }
        if let Some(d) = s.get("default") {
            return (d.clone(), "default".into());
        }
        (
            self.schemas
                .generate(&p.schema, Side::Request, Some(&p.name)),
            "generated from the schema".into(),
        )
    }

    fn param_value(&self, op: &Op, p: &Param) -> Value2 {
        let resource = if p.location == "path" {
            // The literal segment before `{name}`.
            let segs: Vec<&str> = op.path.split('/').collect();
            let pos = segs.iter().position(|s| *s == format!("{{{}}}", p.name));
            let before = pos.and_then(|i| {
                segs[..i]
                    .iter()
                    .rev()
                    .find(|s| !s.starts_with('{') && !s.is_empty())
            });
            resource_of_name(&p.name).or_else(|| before.map(|s| singular(s)))
        } else {
            resource_of_name(&p.name)
        };
        let var = match snake(&p.name).as_str() {
            "id" => format!(
                "{}_id",
                resource
                    .as_deref()
                    .map(snake)
                    .unwrap_or_else(|| "item".into())
            ),
            other => other.to_string(),
        };
        if let Some(v) = self.linked_value(op, &p.location, &p.name, &var) {
            return v;
        }
        let (lit, why) = self.literal_for(p);
        if p.location == "path" || id_like(&p.name) {
            let want = Want {
                consumer: op,
                name: &p.name,
                resource,
                in_path: p.location == "path",
            };
            if let Some((b, _)) = self.chainer.heuristic(&want, p.example.is_some()) {
                return Value2::Bound(b);
            }
        }
        Value2::Literal(lit, why)
    }

    fn plan_body(&mut self, op: &Op, b: &super::model::ReqBody) -> BodyPlan {
        let inlined = self.schemas.inline(&b.schema, Side::Request);
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&inlined)
            .ok();
        let valid = |v: &Value| validator.as_ref().is_none_or(|val| val.is_valid(v));
        let mut sample = None;
        let mut note = String::new();
        for (n, e) in b.examples.iter().enumerate() {
            let e = strip_read_only(&self.schemas, &b.schema, e, 0);
            if valid(&e) {
                sample = Some(e);
                note = if n == 0 {
                    "body from the documented example".into()
                } else {
                    "body from the documented examples".into()
                };
                break;
            }
            self.warnings.push(format!(
                "{}: the documented request example does not match its schema; not used",
                op.label()
            ));
        }
        if sample.is_none() {
            let s = self.schemas.resolve(&b.schema);
            for cand in [s.get("example"), s.get("examples").and_then(|e| e.get(0))]
                .into_iter()
                .flatten()
            {
                let e = strip_read_only(&self.schemas, &b.schema, cand, 0);
                if valid(&e) {
                    sample = Some(e);
                    note = "body from the schema's example".into();
                    break;
                }
            }
        }
        let sample = sample.unwrap_or_else(|| {
            note = "body generated from the schema".into();
            let mut g = self.schemas.generate(&b.schema, Side::Request, None);
            // Nothing required: send the documented properties rather than `{}`.
            let empty = |v: &Value| v.as_object().is_some_and(|m| m.is_empty()) || v.as_array().is_some_and(|a| a.iter().all(|x| x.as_object().is_some_and(|m| m.is_empty())));
            if empty(&g) && valid(&g) {
                if let Some(v) = self.schemas.variants(&b.schema, Side::Request).into_iter().find(|v| !empty(v) && valid(v)) {
                    g = v;
                    note = "body generated from the schema (optional properties included: none is required)".into();
                }
            }
            if !valid(&g) {
                if let Some(v) = self
                    .schemas
                    .variants(&b.schema, Side::Request)
                    .into_iter()
                    .find(|v| valid(v))
                {
                    g = v;
                }
            }
            if !valid(&g) {
                self.warnings.push(format!(
                    "{}: the generated request body may not satisfy its schema",
                    op.label()
                ));
            }
            g
        });
        let mut overrides = Vec::new();
        // Chained fields: id-like properties anywhere (not the object's own `id`).
        let mut leaves = Vec::new();
        collect_leaves(&sample, &mut Vec::new(), &mut leaves);
        let login_source = if op.is_login() && self.register.is_some_and(|r| r != op.index) {
            self.register
        } else {
            None
        };
        for (path, value) in &leaves {
            let name = path.last().cloned().unwrap_or_default();
            if name.is_empty() || name.starts_with('[') {
                continue;
            }
            // Foreign keys only (`cart_id`, `petId`): a body's own `slug` or `username` is data.
            if id_like(&name) && norm(&name) != "id" && resource_of_name(&name).is_some() {
                let var = snake(&name);
                if let Some(Value2::Bound(bd)) = self.linked_value(op, "body", &name, &var) {
                    overrides.push((path.clone(), Override::Bound(bd)));
                    continue;
                }
                let want = Want {
                    consumer: op,
                    name: &name,
                    resource: resource_of_name(&name),
                    in_path: false,
                };
                if let Some((bd, score)) = self.chainer.heuristic(&want, true) {
                    if score >= 4 && bd.producer != op.index {
                        overrides.push((path.clone(), Override::Bound(bd)));
                        continue;
                    }
                }
            }
            let _ = value;
        }
        // Login after register: the same credentials.
        if let Some(r) = login_source {
            let reg_plan_sample = self.ops[r].body.as_ref().map(|rb| {
                rb.examples
                    .first()
                    .cloned()
                    .unwrap_or_else(|| self.schemas.generate(&rb.schema, Side::Request, None))
            });
            let mut reg_leaves = Vec::new();
            if let Some(s) = &reg_plan_sample {
                collect_leaves(s, &mut Vec::new(), &mut reg_leaves);
            }
            let mut sample = sample.clone();
            for (path, _) in &leaves {
                let name = path.last().cloned().unwrap_or_default();
                if overrides.iter().any(|(p, _)| p == path) {
                    continue;
                }
                let Some((_, rv)) = reg_leaves.iter().find(|(rp, _)| rp.last() == Some(&name))
                else {
                    continue;
                };
                if is_unique_name(&name) {
                    // Unique in the register request: read it back from the register response.
                    if let Some(o) = self.chainer.outputs[r]
                        .iter()
                        .find(|o| o.leaf == name && !o.list)
                    {
                        overrides.push((
                            path.clone(),
                            Override::Bound(Binding {
                                producer: r,
                                source: Source::Json(o.jsonpath()),
                                var: snake(&name),
                                provenance: format!(
                                    "heuristic (login with the account just registered): {} {} {}",
                                    self.ops[r].method,
                                    self.ops[r].path,
                                    o.jsonpath()
                                ),
                                transform: None,
                                prefix: String::new(),
                                suffix: String::new(),
                            }),
                        ));
                        continue;
                    }
                }
                set_at(&mut sample, path, rv.clone());
            }
            return self.finish_body(
                op,
                b,
                sample,
                overrides,
                inlined,
                format!("{note}; credentials match the register request"),
            );
        }
        self.finish_body(op, b, sample, overrides, inlined, note)
    }

    fn finish_body(
        &mut self,
        op: &Op,
        b: &super::model::ReqBody,
        sample: Value,
        mut overrides: Vec<(Vec<String>, Override)>,
        inlined: Value,
        note: String,
    ) -> BodyPlan {
        // Unique values for create operations.
        let creates =
            op.method == "POST" && !op.is_login() || op.method == "PUT" && op.kind == Kind::Create;
        if creates {
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&inlined)
                .ok();
            let mut leaves = Vec::new();
            collect_leaves(&sample, &mut Vec::new(), &mut leaves);
            for (path, v) in leaves {
                let name = path.last().cloned().unwrap_or_default();
                let Value::String(s) = v else { continue };
                if !is_unique_name(&name)
                    || overrides.iter().any(|(p, _)| *p == path)
                    || s.is_empty()
                {
                    continue;
                }
                let templ = unique_template(&name, &s);
                // Keep it only if the rendered value still satisfies the schema.
                let mut probe = sample.clone();
                set_at(&mut probe, &path, Value::String(render_sample(&templ)));
                if validator.as_ref().is_none_or(|val| val.is_valid(&probe)) {
                    overrides.push((path, Override::Unique(templ)));
                }
            }
        }
        BodyPlan {
            media: b.media.clone(),
            sample,
            overrides,
            schema: inlined,
            note,
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub(crate) fn is_unique_name(name: &str) -> bool {
    let s = snake(name);
    UNIQUE_NAMES.contains(&s.as_str())
        || s.ends_with("_email")
        || s.ends_with("_name") && s != "last_name" && s != "first_name"
        || s.ends_with("username")
}

fn unique_template(name: &str, value: &str) -> String {
    let lit = throng_ir::Template::literal(value).source().to_string();
    if snake(name).contains("email") {
        if let Some((local, domain)) = value.split_once('@') {
            let l = throng_ir::Template::literal(local).source().to_string();
            let d = throng_ir::Template::literal(domain).source().to_string();
            return format!("{l}-{{{{ uuid() }}}}@{d}");
        }
    }
    format!("{lit}-{{{{ uuid() }}}}")
}

/// A template's text with `{{ uuid() }}` replaced by a fixed UUID, for validation.
pub(crate) fn render_sample(t: &str) -> String {
    t.replace("{{ uuid() }}", "0b5c7f3e-8a57-4c7e-9a4c-3f1d2e6b9a10")
}

fn strip_read_only(schemas: &Schemas, schema: &Value, v: &Value, depth: usize) -> Value {
    if depth > 12 {
        return v.clone();
    }
    let s = schemas.resolve(schema);
    match v {
        Value::Object(m) => {
            let mut props: Vec<(String, Value)> = Vec::new();
            gather_props(schemas, s, &mut props, 0);
            let mut out = Map::new();
            for (k, x) in m {
                match props.iter().find(|(n, _)| n == k) {
                    Some((_, ps)) => {
                        if schemas.resolve(ps).get("readOnly") == Some(&Value::Bool(true)) {
                            continue;
                        }
                        out.insert(k.clone(), strip_read_only(schemas, ps, x, depth + 1));
                    }
                    None => {
                        out.insert(k.clone(), x.clone());
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => {
            let items = s.get("items").cloned().unwrap_or(json!({}));
            Value::Array(
                a.iter()
                    .map(|x| strip_read_only(schemas, &items, x, depth + 1))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

fn gather_props(schemas: &Schemas, s: &Value, out: &mut Vec<(String, Value)>, depth: usize) {
    if depth > 6 {
        return;
    }
    let s = schemas.resolve(s);
    if let Some(p) = s.get("properties").and_then(Value::as_object) {
        for (k, v) in p {
            out.push((k.clone(), v.clone()));
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for b in s.get(key).and_then(Value::as_array).into_iter().flatten() {
            gather_props(schemas, b, out, depth + 1);
        }
    }
}

/// Scalar leaves of a JSON value with their paths (`[0]` for array items, first only).
pub(crate) fn collect_leaves(
    v: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Value)>,
) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                path.push(k.clone());
                collect_leaves(x, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            if let Some(first) = a.first() {
                path.push("[0]".into());
                collect_leaves(first, path, out);
                path.pop();
            }
        }
        other => out.push((path.clone(), other.clone())),
    }
}

pub(crate) fn set_at(v: &mut Value, path: &[String], new: Value) {
    let mut cur = v;
    for seg in path {
        let next = match cur {
            Value::Array(a) if seg == "[0]" => a.first_mut(),
            Value::Object(m) => m.get_mut(seg.as_str()),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    *cur = new;
}

// ---------------------------------------------------------------------------------------
// The builder: orders operations into steps, pulling producers in before consumers.

#[derive(Debug, Clone)]
pub(crate) struct StepOut {
    pub op: usize,
    pub name: String,
    pub extract: Vec<(String, Source, String)>,
    /// Bindings that could not be satisfied (cycles): the literal value is sent instead.
    pub unbound: Vec<(usize, Source)>,
}

pub(crate) struct Builder<'p, 'a> {
    pub planner: &'p Planner<'a>,
    pub steps: Vec<StepOut>,
    /// binding key → variable, for values extracted and still valid.
    live: HashMap<(usize, Source), String>,
    /// binding key → number of steps when it was invalidated.
    killed: HashMap<usize, usize>,
    /// variable → binding key, for every variable ever assigned in this scenario.
    vars: HashMap<String, (usize, Source)>,
    last_step_of: HashMap<usize, usize>,
    executed: HashSet<usize>,
    visiting: HashSet<usize>,
    populated: HashSet<String>,
    pub chains: Vec<(usize, String, Binding)>,
    pub fallbacks: Vec<String>,
}

impl<'p, 'a> Builder<'p, 'a> {
    pub fn new(planner: &'p Planner<'a>) -> Self {
        Builder {
            planner,
            steps: Vec::new(),
            live: HashMap::new(),
            killed: HashMap::new(),
            vars: HashMap::new(),
            last_step_of: HashMap::new(),
            executed: HashSet::new(),
            visiting: HashSet::new(),
            populated: HashSet::new(),
            chains: Vec::new(),
            fallbacks: Vec::new(),
        }
    }

    pub fn executed(&self, op: usize) -> bool {
        self.executed.contains(&op)
    }

    /// The variable name for a binding in this scenario, making the value available.
    pub fn var_for(&mut self, b: &Binding) -> Option<String> {
        let key = b.key();
        if let Some(v) = self.live.get(&key) {
            return Some(v.clone());
        }
        if b.producer != TOKEN_STEP {
            // Extract it from the producer's latest step if that one is still valid.
            let reuse = self.last_step_of.get(&b.producer).copied();
            let need_run = match reuse {
                None => true,
                Some(step) => self.killed.get(&b.producer).is_some_and(|at| step < *at),
            };
            if need_run && !self.run(b.producer) {
                return None;
            }
        } else if !self.last_step_of.contains_key(&TOKEN_STEP) {
            self.run_token_step();
        }
        let step = *self.last_step_of.get(&b.producer)?;
        let mut var = b.var.clone();
        let mut n = 1;
        while self.vars.get(&var).is_some_and(|k| *k != key) {
            n += 1;
            var = format!("{}_{n}", b.var);
        }
        if !self.steps[step].extract.iter().any(|(v, _, _)| *v == var) {
            self.steps[step]
                .extract
                .push((var.clone(), b.source.clone(), b.provenance.clone()));
        }
        self.vars.insert(var.clone(), key.clone());
        self.live.insert(key, var.clone());
        Some(var)
    }

    fn run_token_step(&mut self) {
        let name = self.unique_name("oauth2_token");
        self.steps.push(StepOut {
            op: TOKEN_STEP,
            name,
            extract: Vec::new(),
            unbound: Vec::new(),
        });
        self.last_step_of.insert(TOKEN_STEP, self.steps.len() - 1);
    }

    fn unique_name(&self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 1;
        while self.steps.iter().any(|s| s.name == name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        name
    }

    /// Bindings an operation's request needs.
    fn needs(&self, op: usize) -> Vec<(String, Binding)> {
        let Some(plan) = &self.planner.plans[op] else {
            return Vec::new();
        };
        let o = &self.planner.ops[op];
        let mut out = Vec::new();
        if let Some(t) = &plan.auth.token {
            out.push(("auth".to_string(), t.clone()));
        }
        for (pi, v) in &plan.params {
            if let Value2::Bound(b) = v {
                out.push((
                    format!("{} `{}`", o.params[*pi].location, o.params[*pi].name),
                    b.clone(),
                ));
            }
        }
        if let Some(body) = &plan.body {
            for (path, ov) in &body.overrides {
                if let Override::Bound(b) = ov {
                    out.push((format!("body {}", jsonpath(path)), b.clone()));
                }
            }
        }
        out
    }

    /// Adds the operation as a step, after whatever it needs. False when impossible (cycle).
    pub fn run(&mut self, op: usize) -> bool {
        if self.visiting.contains(&op) || self.planner.plans[op].is_none() {
            return false;
        }
        self.visiting.insert(op);
        let needs = self.needs(op);
        let mut ok = true;
        let mut unbound = Vec::new();
        for (input, b) in &needs {
            if self.var_for(b).is_none() {
                if input == "auth" {
                    ok = false;
                }
                unbound.push(b.key());
                self.fallbacks.push(format!(
                    "{}: {input} could not be chained (cycle); its literal value is sent",
                    self.planner.ops[op].label()
                ));
            } else {
                self.chains.push((op, input.clone(), b.clone()));
            }
        }
        // An action on a container needs the container filled (checkout needs cart items).
        let o = &self.planner.ops[op];
        let containers: Vec<String> = needs
            .iter()
            .filter(|(i, _)| i != "auth")
            .filter_map(|(_, b)| self.container_of(b))
            .collect();
        if o.kind == Kind::Action || o.kind == Kind::Create {
            for c in &containers {
                if !self.populated.contains(c) {
                    if let Some(child) = self.child_create(c, op) {
                        if !self.visiting.contains(&child) {
                            self.run(child);
                        }
                    }
                }
            }
        }
        self.visiting.remove(&op);
        if !ok {
            return false;
        }
        let base = snake(&self.planner.ops[op].id);
        let name = self.unique_name(&base);
        self.steps.push(StepOut {
            op,
            name,
            extract: Vec::new(),
            unbound,
        });
        self.last_step_of.insert(op, self.steps.len() - 1);
        self.executed.insert(op);
        // Effects on state.
        let o = &self.planner.ops[op];
        let sh = shape(&o.path);
        if o.kind == Kind::Create {
            let coll = super::chain::collection_of(&o.path);
            // Adding to `/cart/items` fills `/cart`.
            if let Some((parent, _)) = coll.rsplit_once('/') {
                self.populated.insert(if parent.is_empty() {
                    "/".into()
                } else {
                    parent.to_string()
                });
            }
        }
        if o.kind == Kind::Delete
            || o.kind == Kind::Action && !containers.is_empty()
            || o.is_logout()
        {
            // Invalidated producers: their earlier responses describe things that are gone.
            let mut kill: Vec<usize> = Vec::new();
            let prefixes: Vec<String> = if o.kind == Kind::Delete {
                vec![sh.clone()]
            } else {
                containers.clone()
            };
            for p in self.last_step_of.keys() {
                if *p == TOKEN_STEP {
                    continue;
                }
                let ppath = shape(&self.planner.ops[*p].path);
                if prefixes.iter().any(|x| ppath.starts_with(&format!("{x}/"))) {
                    kill.push(*p);
                }
            }
            if o.kind == Kind::Delete {
                // The deleted item's own id.
                if let (Some(item), Some(plan)) = (o.item_param(), &self.planner.plans[op]) {
                    for (pi, v) in &plan.params {
                        if o.params[*pi].location == "path" && o.params[*pi].name == item {
                            if let Value2::Bound(x) = v {
                                kill.push(x.producer);
                            }
                        }
                    }
                }
            }
            if o.is_logout() {
                if let Some(t) = &self.planner.token_producer {
                    kill.push(t.producer);
                }
            }
            for p in &prefixes {
                self.populated.remove(p);
            }
            let at = self.steps.len();
            for k in kill {
                self.live.retain(|key, _| key.0 != k);
                self.killed.insert(k, at);
            }
        }
        true
    }

    fn container_of(&self, b: &Binding) -> Option<String> {
        if b.producer == TOKEN_STEP {
            return None;
        }
        let p = &self.planner.ops[b.producer];
        if p.kind == Kind::Read && p.item_param().is_none() {
            Some(shape(&p.path))
        } else if p.kind == Kind::Create {
            Some(format!("{}/{{}}", super::chain::collection_of(&p.path)))
        } else {
            None
        }
    }

    fn child_create(&self, container: &str, not: usize) -> Option<usize> {
        self.planner
            .ops
            .iter()
            .find(|o| {
                o.index != not
                    && o.kind == Kind::Create
                    && o.skip.is_none()
                    && shape(&o.path).starts_with(&format!("{container}/"))
                    && self.planner.plans[o.index].is_some()
            })
            .map(|o| o.index)
    }
}

/// The phase of an operation in the smoke scenario.
pub(crate) fn smoke_phase(op: &Op, token_producer: Option<usize>) -> u8 {
    if Some(op.index) == token_producer || op.is_register() {
        return 0;
    }
    if op.is_login() {
        return 1;
    }
    if op.is_logout() {
        return 9;
    }
    match op.kind {
        Kind::Create => 2,
        Kind::Read | Kind::List => 3,
        Kind::Update => 4,
        Kind::Action => 5,
        Kind::Delete => 6,
    }
}

/// CRUD groups: item path shape → operations (and the collection's list/create).
pub(crate) fn crud_groups(ops: &[Op]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for op in ops {
        if op.skip.is_some() || op.item_param().is_none() {
            continue;
        }
        let sh = shape(&op.path);
        if groups.iter().any(|(g, _)| *g == sh) {
            continue;
        }
        let coll = super::chain::collection_of(&op.path);
        let mut members: Vec<usize> = ops
            .iter()
            .filter(|o| o.skip.is_none())
            .filter(|o| {
                let s = shape(&o.path);
                s == sh
                    || (s == coll && matches!(o.kind, Kind::List | Kind::Create))
                    || (o.kind == Kind::Action
                        && s.starts_with(&format!("{sh}/"))
                        && s.matches('/').count() == sh.matches('/').count() + 1)
            })
            .map(|o| o.index)
            .collect();
        members.sort_by_key(|i| (crud_order(&ops[*i]), *i));
        groups.push((sh, members));
    }
    groups
}

fn crud_order(op: &Op) -> u8 {
    match op.kind {
        Kind::Create => 0,
        Kind::Read => 1,
        Kind::List => 2,
        Kind::Update => 3,
        Kind::Action => 4,
        Kind::Delete => 5,
    }
}

pub(crate) fn crud_name(shape: &str) -> String {
    format!("crud_{}", resource_label(shape))
}
