//! A virtual user: runs iterations of a scenario, step by step, with its own connections,
//! cookie jar, variables and randomness, recording every request into its thread's shard.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, COOKIE, HOST, LOCATION};
use http::{HeaderMap, Method, Uri};
use minijinja::Value;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use throng_ir::{Check, OnFail, Think};

use crate::cookies::CookieJar;
use crate::feeders::FeederData;
use crate::http::{Client, ConnUse, Origin, TransportError};
use crate::metrics::{Category, RequestRecord, Shards};
use crate::program::{append_query, BodyPlan, KindPlan, PartPlan, Program, ScenarioPlan, StepPlan};
use crate::respond::{self, Seen};

/// Response bodies read for checks and extractors are capped; bigger ones fail the step.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Redirects followed per request before giving up.
pub const MAX_REDIRECTS: usize = 10;

/// State shared by every VU of a run.
pub struct Shared {
    pub program: Program,
    pub feeders: Vec<FeederData>,
    pub shards: Shards,
    pub no_think: bool,
    pub run_seed: u64,
    /// Set when no new iteration may start (end of duration, signal, data exhausted).
    pub stop_new: AtomicBool,
    pub iteration_limit: Option<u64>,
    pub iterations_claimed: AtomicU64,
    /// Iterations running right now, for the timeline's `vus`.
    pub active: AtomicU64,
    pub data_exhausted: AtomicBool,
    /// This process's share of the load.
    pub segment: throng_ir::Segment,
    /// The run's TLS client, shared by every VU's connections.
    pub tls: crate::tls::Tls,
    /// Where trace events go; None: no tracing, nothing captured.
    pub trace: Option<crate::trace::TraceSink>,
}

impl Shared {
    /// Reserves one iteration of the total budget; false when none is left or the run is ending.
    pub fn claim_iteration(&self) -> bool {
        if self.stop_new.load(Ordering::Relaxed) {
            return false;
        }
        match self.iteration_limit {
            Some(n) => self.iterations_claimed.fetch_add(1, Ordering::Relaxed) < n,
            None => true,
        }
    }

    pub fn more_iterations(&self) -> bool {
        !self.stop_new.load(Ordering::Relaxed)
            && self
                .iteration_limit
                .is_none_or(|n| self.iterations_claimed.load(Ordering::Relaxed) < n)
    }
}

/// How an iteration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IterEnd {
    Done {
        failed: bool,
    },
    /// A unique feeder ran out: the iteration did not start and the run should end.
    NoData,
}

pub struct Vu {
    /// 1-based, global.
    pub id: u64,
    pub(crate) iteration: u64,
    /// The scenario of the running iteration.
    pub(crate) scenario: usize,
    /// What keys this iteration's randomness, independent of how the load is split:
    /// (global VU, its iteration) in the closed model, the global arrival in the open one.
    key: [u64; 2],
    pub(crate) client: Client,
    pub(crate) jar: CookieJar,
    targets: Targets,
    /// The step the running iteration is in, to attribute a panic to it.
    at_step: usize,
    rng: SmallRng,
    /// The request timeout, one timer per VU reset per request (created on first use,
    /// inside the runtime): a later deadline only moves the registered entry lazily.
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

fn seed(parts: &[u64]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// An iteration's variables: the run's constant ones, shared by every VU, under a small
/// overlay of what this iteration set (vu, iteration, feeder rows, computed and extracted
/// variables; a later value of a name replaces the earlier one). Seen by templates as a map.
#[derive(Debug, Clone)]
pub(crate) struct Vars {
    base: Arc<BTreeMap<String, Value>>,
    over: Vec<(Arc<str>, Value)>,
}

impl Vars {
    fn set(&mut self, k: Arc<str>, v: Value) {
        match self.over.iter_mut().find(|(n, _)| *n == k) {
            Some(e) => e.1 = v,
            None => self.over.push((k, v)),
        }
    }

    /// The template context: a snapshot of the variables now.
    fn ctx(&self) -> Value {
        Value::from_object(self.clone())
    }
}

impl minijinja::value::Object for Vars {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        match self.over.iter().find(|(n, _)| &**n == key) {
            Some((_, v)) => Some(v.clone()),
            None => self.base.get(key).cloned(),
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let mut keys: std::collections::BTreeSet<&str> =
            self.base.keys().map(String::as_str).collect();
        keys.extend(self.over.iter().map(|(k, _)| &**k));
        minijinja::value::Enumerator::Values(keys.into_iter().map(Value::from).collect())
    }
}

/// Takes credentials out of a URL's authority (`http://user:pw@host/`): the URL without
/// them, and the `Authorization: Basic` value they make (percent-decoded, as curl sends
/// them). They never reach `Host`, the connection's origin or a trace's URL.
pub(crate) fn split_userinfo(uri: Uri) -> Result<(Uri, Option<HeaderValue>), String> {
    let Some(authority) = uri.authority() else {
        return Ok((uri, None));
    };
    let Some((userinfo, host)) = authority.as_str().rsplit_once('@') else {
        return Ok((uri, None));
    };
    let (userinfo, host) = (userinfo.to_string(), host.to_string());
    let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    let (user, password) = userinfo.split_once(':').unwrap_or((&userinfo, ""));
    let mut plain = decode(user);
    plain.push(b':');
    plain.extend(decode(password));
    use base64::Engine as _;
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(plain)
    );
    let mut parts = uri.into_parts();
    parts.authority = Some(
        host.parse()
            .map_err(|_| format!("invalid host `{host}` after the credentials in a URL"))?,
    );
    let uri = Uri::from_parts(parts).map_err(|e| format!("invalid URL: {e}"))?;
    let value = HeaderValue::from_str(&value).map_err(|e| e.to_string())?;
    Ok((uri, Some(value)))
}

/// Adds a URL's credentials as `Authorization` unless the step sets one itself.
pub(crate) fn add_basic_auth(head: &mut HeaderMap, auth: Option<HeaderValue>) {
    if let Some(v) = auth {
        head.entry(http::header::AUTHORIZATION).or_insert(v);
    }
}

/// The text a panic carried (`panic!("...")` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => (*s).to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_string(),
    }
}

/// Records one failed request of category `internal` for `step`.
pub(crate) fn record_internal(sh: &Shared, step: usize, message: &str) {
    sh.shards.local().request(RequestRecord {
        step,
        service: Duration::ZERO,
        error: Some((Category::Internal, None, message)),
        checks_passed: 0,
        checks_failed: 0,
        status: None,
    });
}

/// Adds `Host` for `uri` to a request head unless it has one.
pub(crate) fn add_host(uri: &Uri, head: &mut HeaderMap) {
    if !head.contains_key(HOST) {
        if let Some(a) = uri.authority() {
            if let Ok(v) = HeaderValue::from_str(a.as_str()) {
                head.insert(HOST, v);
            }
        }
    }
}

/// The jar's `Cookie` header for `uri`, if it has cookies for it.
fn cookie_header(jar: &CookieJar, uri: &Uri, origin: &Origin) -> Option<HeaderValue> {
    if jar.is_empty() {
        return None;
    }
    let c = jar.header_for(&origin.host, uri.path(), origin.https, SystemTime::now())?;
    HeaderValue::from_str(&c).ok()
}

/// Adds the jar's cookies for `uri` to a request head.
fn add_cookies(jar: &CookieJar, uri: &Uri, origin: &Origin, head: &mut HeaderMap) {
    if let Some(v) = cookie_header(jar, uri, origin) {
        head.insert(COOKIE, v);
    }
}

/// Keeps the cookies a response sets.
pub(crate) fn store_cookies<'a>(
    jar: &mut CookieJar,
    set_cookies: impl Iterator<Item = &'a [u8]>,
    origin: &Origin,
    path: &str,
) {
    let mut now = None;
    for v in set_cookies {
        if let Ok(v) = std::str::from_utf8(v) {
            let now = *now.get_or_insert_with(SystemTime::now);
            jar.store(v, &origin.host, path, origin.https, now);
        }
    }
}

/// The origin and `Host` header of the URLs a VU requests, kept for the last one: most
/// templated URLs of a run share a base, and parsing it on every request showed up.
#[derive(Default)]
pub(crate) struct Targets {
    last: Option<Target>,
}

pub(crate) struct Target {
    https: bool,
    authority: http::uri::Authority,
    pub origin: Origin,
    pub host: HeaderValue,
}

impl Targets {
    pub(crate) fn of(&mut self, uri: &Uri) -> Result<&Target, TransportError> {
        let https = uri.scheme_str() == Some("https");
        // Any scheme but http(s) misses, so that `Origin::of` refuses it.
        let http = https || uri.scheme_str() == Some("http");
        let same = self
            .last
            .as_ref()
            .is_some_and(|t| http && t.https == https && Some(&t.authority) == uri.authority());
        if !same {
            let origin = Origin::of(uri)?;
            // `Origin::of` has checked that there is one.
            let authority = uri.authority().cloned().expect("an absolute URL");
            let host = HeaderValue::from_str(authority.as_str()).map_err(|_| {
                TransportError::new(Category::Protocol, format!("`{uri}` has an invalid host"))
            })?;
            self.last = Some(Target {
                https,
                authority,
                origin,
                host,
            });
        }
        Ok(self.last.as_ref().expect("just set"))
    }
}

/// A pause drawn from a think time.
pub fn think_duration(t: &Think, rng: &mut impl Rng) -> Duration {
    match *t {
        Think::Fixed(d) => d,
        Think::Uniform { min, max } if max > min => {
            Duration::from_nanos(rng.random_range(min.as_nanos() as u64..=max.as_nanos() as u64))
        }
        Think::Uniform { min, .. } => min,
    }
}

pub(crate) struct StepResult {
    pub failed: bool,
    pub extracted: Vec<(String, Value)>,
}

impl Vu {
    pub fn new(id: u64, run_seed: u64, tls: &crate::tls::Tls) -> Vu {
        Vu {
            id,
            iteration: 0,
            scenario: 0,
            key: [id, 0],
            client: Client::new(Some(tls.clone())),
            jar: CookieJar::default(),
            targets: Targets::default(),
            at_step: 0,
            rng: SmallRng::seed_from_u64(seed(&[run_seed, id])),
            timer: None,
        }
    }

    fn pick<'p>(&mut self, program: &'p Program) -> &'p ScenarioPlan {
        if program.scenarios.len() == 1 {
            return &program.scenarios[0];
        }
        let mut r = self.rng.random_range(0..program.total_weight);
        for s in &program.scenarios {
            if r < s.weight as u64 {
                return s;
            }
            r -= s.weight as u64;
        }
        &program.scenarios[0]
    }

    /// Starts an iteration: counts it and reseeds the VU's randomness (scenario choice,
    /// random rows, think times) from the run seed and the global key.
    pub fn begin(&mut self, sh: &Shared, arrival: Option<u64>) {
        self.iteration += 1;
        self.key = match arrival {
            Some(k) => [u64::MAX, k],
            None => [self.id, self.iteration],
        };
        self.rng = SmallRng::seed_from_u64(seed(&[sh.run_seed, self.key[0], self.key[1]]));
    }

    /// The scenario an iteration will run, picked before it starts so an interrupted
    /// iteration can be attributed.
    pub fn choose(&mut self, sh: &Shared) -> usize {
        self.pick(&sh.program).index
    }

    /// Runs one iteration of scenario `scenario`; `intended` is when it should have started.
    pub async fn iteration(&mut self, sh: &Shared, scenario: usize, intended: Instant) -> IterEnd {
        let scen = &sh.program.scenarios[scenario];
        self.scenario = scenario;
        let mut vars = Vars {
            base: sh.program.fixed_vars.clone(),
            over: Vec::with_capacity(2 + sh.feeders.len() + sh.program.var_keys.len()),
        };
        vars.set(sh.program.key_vu.clone(), Value::from(self.id));
        vars.set(
            sh.program.key_iteration.clone(),
            Value::from(self.iteration),
        );
        for f in &sh.feeders {
            match f.next(&mut self.rng) {
                Some(row) => {
                    vars.set(Arc::from(f.name.as_str()), row);
                }
                None => {
                    sh.data_exhausted.store(true, Ordering::Relaxed);
                    sh.stop_new.store(true, Ordering::Relaxed);
                    return IterEnd::NoData;
                }
            }
        }
        throng_ir::template::reseed(seed(&[sh.run_seed, self.key[0], self.key[1], 0]));
        for ((k, j), key) in sh.program.vars.iter().zip(&sh.program.var_keys) {
            if matches!(j, crate::program::Json::Lit(_)) {
                continue;
            }
            let ctx = vars.ctx();
            match j.render_value(&ctx) {
                Ok(v) => {
                    vars.set(key.clone(), v);
                }
                Err(e) => {
                    let first = &scen.steps[0];
                    let msg = sh.program.secrets.message(
                        format!("variable `{k}`: {e}"),
                        &vars.ctx(),
                        &[],
                    );
                    if let Some(t) = &sh.trace {
                        let mut ev = self.event(sh, first, Duration::ZERO);
                        ev.failed = true;
                        ev.error = Some(crate::trace::TraceError {
                            category: Category::Template.as_str(),
                            message: msg.clone(),
                        });
                        t.emit(ev);
                    }
                    sh.shards.local().request(RequestRecord {
                        step: first.id,
                        service: Duration::ZERO,
                        error: Some((Category::Template, None, &msg)),
                        checks_passed: 0,
                        checks_failed: 0,
                        status: None,
                    });
                    sh.shards
                        .local()
                        .iteration(scen.index, intended.elapsed(), true, false);
                    return IterEnd::Done { failed: true };
                }
            }
        }
        self.jar.clear();
        self.at_step = scen.steps[0].id;
        let mut ctx = vars.ctx();
        let mut failed = false;
        let last = scen.steps.len().saturating_sub(1);
        for (i, step) in scen.steps.iter().enumerate() {
            throng_ir::template::reseed(seed(&[
                sh.run_seed,
                self.key[0],
                self.key[1],
                step.id as u64 + 1,
            ]));
            self.at_step = step.id;
            let r = self.step(sh, step, &ctx).await;
            if !r.extracted.is_empty() {
                for (k, v) in r.extracted {
                    vars.set(Arc::from(k), v);
                }
                ctx = vars.ctx();
            }
            if r.failed {
                failed = true;
                if step.on_fail == OnFail::Stop {
                    break;
                }
            }
            // No pause after the last step: it would only delay the next iteration's start
            // and inflate the iteration latency.
            if i < last && !sh.no_think {
                if let Some(t) = &step.think {
                    let d = think_duration(t, &mut self.rng);
                    if !d.is_zero() {
                        tokio::time::sleep(d).await;
                    }
                }
            }
        }
        sh.shards
            .local()
            .iteration(scen.index, intended.elapsed(), failed, false);
        IterEnd::Done { failed }
    }

    /// Ends an iteration that panicked: an `internal` error for the step it was in, the
    /// iteration failed, and the VU's connections dropped (one may be mid-exchange), so the
    /// VU can go on with its next iteration.
    pub(crate) fn crashed(
        &mut self,
        sh: &Shared,
        scenario: usize,
        intended: Instant,
        payload: &(dyn std::any::Any + Send),
    ) -> IterEnd {
        let step = sh
            .program
            .scenarios
            .iter()
            .flat_map(|s| &s.steps)
            .find(|st| st.id == self.at_step)
            .map_or("?", |st| st.name.as_str());
        let why = panic_message(payload);
        record_internal(
            sh,
            self.at_step,
            &format!(
                "throng panicked in step `{step}` and abandoned the iteration: {why} \
                 (a bug in throng, not in the target: please report it)"
            ),
        );
        self.client = Client::new(Some(sh.tls.clone()));
        self.targets = Targets::default();
        self.timer = None;
        sh.shards
            .local()
            .iteration(scenario, intended.elapsed(), true, false);
        IterEnd::Done { failed: true }
    }

    /// The step's headers: literal ones as compiled, templated ones rendered.
    pub(crate) fn render_headers(step: &StepPlan, ctx: &Value) -> Result<HeaderMap, String> {
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

    /// Adds `Host` (unless set) and the jar's cookies for `uri` to a request head.
    pub(crate) fn finish_head(&self, uri: &Uri, origin: &Origin, head: &mut HeaderMap) {
        add_host(uri, head);
        add_cookies(&self.jar, uri, origin, head);
    }

    pub(crate) fn build_uri(step: &StepPlan, ctx: &Value) -> Result<Uri, String> {
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

    fn build_body(
        step: &StepPlan,
        ctx: &Value,
        rng: &mut SmallRng,
    ) -> Result<(Bytes, Option<String>), String> {
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
                    crate::program::encode_component(&mut out, k);
                    out.push('=');
                    crate::program::encode_component(&mut out, &v.render(ctx)?);
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

    async fn step(&mut self, sh: &Shared, step: &StepPlan, ctx: &Value) -> StepResult {
        match &step.kind {
            KindPlan::Http => self.http_step(sh, step, ctx).await,
            KindPlan::Sse { events } => crate::sse::step(self, sh, step, ctx, *events).await,
            KindPlan::Ws(ws) => crate::ws::step(self, sh, step, ws, ctx).await,
        }
    }

    async fn http_step(&mut self, sh: &Shared, step: &StepPlan, ctx: &Value) -> StepResult {
        if step.inject_panic {
            panic!("injected by THRONG_TEST_PANIC_STEP for step `{}`", step.name);
        }
        let start = Instant::now();
        let mut usage = ConnUse::default();
        let mut received: u64 = 0;

        let prepared = (|| -> Result<(Uri, Option<HeaderMap>, Bytes), String> {
            let (uri, auth) = split_userinfo(Vu::build_uri(step, ctx)?)?;
            if let (Some(base), Some(_)) = (&step.fixed_base, &auth) {
                // A templated URL that carried credentials: the compiled head plus them.
                let mut headers = base.clone();
                add_basic_auth(&mut headers, auth);
                let body = match &step.body {
                    BodyPlan::Fixed(b, _) => b.clone(),
                    _ => Bytes::new(),
                };
                return Ok((uri, Some(headers), body));
            }
            if step.fixed_base.is_some() {
                // The head is the step's own, prepared at compile time.
                let body = match &step.body {
                    BodyPlan::Fixed(b, _) => b.clone(),
                    _ => Bytes::new(),
                };
                return Ok((uri, None, body));
            }
            let mut headers = Vu::render_headers(step, ctx)?;
            add_basic_auth(&mut headers, auth);
            let (body, ct) = Vu::build_body(step, ctx, &mut self.rng)?;
            if let Some(ct) = ct {
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(
                        CONTENT_TYPE,
                        HeaderValue::from_str(&ct).map_err(|e| e.to_string())?,
                    );
                }
            }
            Ok((uri, Some(headers), body))
        })();
        let (uri, headers, body) = match prepared {
            Ok(p) => p,
            Err(e) => {
                let msg =
                    sh.program
                        .secrets
                        .message(format!("cannot build the request: {e}"), ctx, &[]);
                if let Some(t) = &sh.trace {
                    let mut ev = self.event(sh, step, start.elapsed());
                    ev.failed = true;
                    ev.error = Some(crate::trace::TraceError {
                        category: Category::Template.as_str(),
                        message: msg.clone(),
                    });
                    t.emit(ev);
                }
                sh.shards.local().request(RequestRecord {
                    step: step.id,
                    service: start.elapsed(),
                    error: Some((Category::Template, None, &msg)),
                    checks_passed: 0,
                    checks_failed: step.checks.len() as u64,
                    status: None,
                });
                return StepResult {
                    failed: true,
                    extracted: Vec::new(),
                };
            }
        };

        let mut timer = self
            .timer
            .take()
            .unwrap_or_else(|| Box::pin(tokio::time::sleep(step.timeout)));
        timer
            .as_mut()
            .reset(tokio::time::Instant::now() + step.timeout);
        let mut capture = sh.trace.as_ref().map(|_| Capture::default());
        let exchange = self.exchange(
            step,
            uri,
            headers,
            body,
            &mut usage,
            &mut received,
            capture.as_mut(),
        );
        let outcome = tokio::select! {
            biased;
            r = exchange => r,
            _ = timer.as_mut() => Err(TransportError {
                category: Category::Timeout,
                message: format!(
                    "no complete response within {}",
                    throng_ir::format_duration(step.timeout)
                ),
            }),
        };
        self.timer = Some(timer);
        let elapsed = start.elapsed();

        let mut result = StepResult {
            failed: false,
            extracted: Vec::new(),
        };
        // Filled only when tracing.
        let mut t_checks: Vec<crate::trace::TraceCheck> = Vec::new();
        let mut t_extracts: Vec<crate::trace::TraceExtract> = Vec::new();
        let mut t_response: Option<(u16, HeaderMap, Option<Bytes>)> = None;
        let tracing = capture.is_some();
        let (error, status, checks_passed, checks_failed) = match outcome {
            Err(e) => {
                result.failed = true;
                (
                    Some((e.category, e.message)),
                    None,
                    0,
                    step.checks.len() as u64,
                )
            }
            Ok((resp_head, body_bytes, final_uri)) => {
                let status = resp_head.status;
                let host = final_uri
                    .host()
                    .unwrap_or_default()
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let mut seen = Seen {
                    status,
                    headers: &resp_head,
                    body: body_bytes.as_ref(),
                    elapsed,
                    json: None,
                    label: "body",
                    prune: step.prune.as_ref(),
                };
                let mut passed = 0;
                let mut failed_checks = 0;
                let mut first_fail: Option<(Category, String)> = None;
                let has_status_check = step
                    .checks
                    .iter()
                    .any(|c| matches!(c.check, Check::Status(_)));
                for c in &step.checks {
                    let verdict = respond::check(c, &mut seen, ctx);
                    if tracing {
                        t_checks.push(crate::trace::TraceCheck {
                            check: c.check.to_string(),
                            expected: respond::expected(&c.check),
                            passed: verdict.is_ok(),
                            actual: Some(respond::actual(&c.check, &mut seen)),
                            message: verdict.as_ref().err().cloned(),
                        });
                    }
                    match verdict {
                        Ok(()) => passed += 1,
                        Err(why) => {
                            failed_checks += 1;
                            if first_fail.is_none() {
                                let cat = match c.check {
                                    Check::Status(_) if status >= 500 => Category::Http5xx,
                                    Check::Status(_) if status >= 400 => Category::Http4xx,
                                    _ => Category::Check,
                                };
                                first_fail = Some((
                                    cat,
                                    format!("check {}: {why}{}", c.check, seen.snippet()),
                                ));
                            }
                        }
                    }
                }
                if first_fail.is_none() && !has_status_check && status >= 400 {
                    let cat = if status >= 500 {
                        Category::Http5xx
                    } else {
                        Category::Http4xx
                    };
                    first_fail = Some((cat, format!("status {status}{}", seen.snippet())));
                }
                if first_fail.is_none() || step.on_fail == OnFail::Continue {
                    for x in &step.extract {
                        match respond::extract(&x.name, &x.extractor, &mut seen, &self.jar, host) {
                            Ok(v) => {
                                if tracing {
                                    t_extracts.push(crate::trace::TraceExtract {
                                        name: x.name.clone(),
                                        value: Some(crate::redact::text_of(&v)),
                                        error: None,
                                    });
                                }
                                result.extracted.push((x.name.clone(), v))
                            }
                            Err(why) => {
                                if tracing {
                                    t_extracts.push(crate::trace::TraceExtract {
                                        name: x.name.clone(),
                                        value: None,
                                        error: Some(why.clone()),
                                    });
                                }
                                if first_fail.is_none() {
                                    first_fail = Some((Category::Extract, why));
                                }
                            }
                        }
                    }
                } else if tracing {
                    t_extracts.extend(step.extract.iter().map(|x| crate::trace::TraceExtract {
                        name: x.name.clone(),
                        value: None,
                        error: Some("not run: the step had already failed".into()),
                    }));
                }
                result.failed = first_fail.is_some();
                if tracing {
                    t_response = Some((status, resp_head.header_map(), body_bytes));
                }
                (first_fail, Some(status), passed, failed_checks)
            }
        };
        let error = error.map(|(c, m)| (c, sh.program.secrets.message(m, ctx, &result.extracted)));
        if let (Some(t), Some(capture)) = (&sh.trace, capture) {
            let mut ev = self.event(sh, step, elapsed);
            let mut r = sh.program.secrets.redactor(ctx, &result.extracted);
            for h in &capture.hops {
                crate::trace::hide_credentials(&h.headers, &mut r);
                if let Some((_, rh)) = &h.response {
                    crate::trace::hide_credentials(rh, &mut r);
                }
            }
            let mut hops = capture.hops;
            if let Some(last) = hops.pop() {
                for h in &hops {
                    ev.redirects.push(crate::trace::TraceRedirect {
                        method: h.method.to_string(),
                        url: r.string(h.url.clone()),
                        status: h.response.as_ref().map_or(0, |(s, _)| *s),
                        location: h
                            .response
                            .as_ref()
                            .and_then(|(_, rh)| rh.get(LOCATION))
                            .and_then(|l| l.to_str().ok())
                            .map(|l| r.string(l.to_string())),
                    });
                }
                ev.request = Some(crate::trace::TraceRequest {
                    method: last.method.to_string(),
                    url: r.string(last.url),
                    headers: crate::trace::headers(&last.headers, &r),
                    body: crate::trace::TraceBody::of(&last.body, &r),
                });
            }
            if let Some((status, rh, body)) = t_response {
                ev.response = Some(crate::trace::TraceResponse {
                    status,
                    headers: crate::trace::headers(&rh, &r),
                    body: body.and_then(|b| crate::trace::TraceBody::of(&b, &r)),
                });
            }
            ev.extracted = t_extracts
                .into_iter()
                .map(|mut x| {
                    let hidden = sh.program.secrets.is_secret(&x.name);
                    x.value = x.value.map(|v| {
                        if hidden {
                            format!("[redacted:{}]", x.name)
                        } else {
                            r.string(v)
                        }
                    });
                    x.error = x.error.map(|e| r.string(e));
                    x
                })
                .collect();
            ev.checks = t_checks
                .into_iter()
                .map(|mut c| {
                    c.actual = c.actual.map(|a| r.string(a));
                    c.message = c.message.map(|m| r.string(m));
                    c
                })
                .collect();
            ev.failed = result.failed;
            ev.error = error.as_ref().map(|(c, m)| crate::trace::TraceError {
                category: c.as_str(),
                message: r.string(m.clone()),
            });
            t.emit(ev);
        }
        let mut rec = sh.shards.local();
        rec.request(RequestRecord {
            step: step.id,
            service: elapsed,
            error: error.as_ref().map(|(c, m)| (*c, status, m.as_str())),
            checks_passed,
            checks_failed,
            status,
        });
        rec.bytes_sent += usage.sent;
        rec.bytes_received += received;
        rec.conn_opened += usage.opened;
        rec.conn_reused += usage.reused;
        result
    }

    /// Sends the request, following redirects, and reads the body if anything needs it.
    /// `headers` is the rendered head; None: the step's compiled one (`fixed_base`).
    /// Returns the response head, the body if kept, and the final URL.
    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &mut self,
        step: &StepPlan,
        mut uri: Uri,
        headers: Option<HeaderMap>,
        mut body: Bytes,
        usage: &mut ConnUse,
        received: &mut u64,
        mut capture: Option<&mut Capture>,
    ) -> Result<(crate::h1::Head, Option<Bytes>, Uri), TransportError> {
        let mut method = step.method.clone();
        let mut hops = 0;
        // The head the step rendered, else its compiled one; never copied: `Host` and the
        // jar's cookies go beside it into the request.
        let empty = HeaderMap::new();
        let base = headers
            .as_ref()
            .or(step.fixed_base.as_ref())
            .unwrap_or(&empty);
        let mut user_host = base.contains_key(HOST);
        // The head of a redirected request, when it differs from the step's (credentials kept
        // from another origin, body headers dropped with the body); None: the step's.
        let mut redirected: Option<HeaderMap> = None;
        let mut first_origin: Option<Origin> = None;
        loop {
            // The first request to a fixed URL uses what was computed at compile time.
            let fixed = match (hops, &headers) {
                (0, None) => step.fixed_target.as_ref(),
                _ => None,
            };
            let (origin, pq, head, host) = match fixed {
                Some(f) => (&f.origin, f.pq.clone(), &f.head, None),
                None => {
                    let target = self.targets.of(&uri)?;
                    let pq = uri
                        .path_and_query()
                        .cloned()
                        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
                    let host = (!user_host).then_some(&target.host);
                    (&target.origin, pq, redirected.as_ref().unwrap_or(base), host)
                }
            };
            if hops == 0 && step.follow_redirects {
                first_origin = Some(origin.clone());
            }
            let cookie = cookie_header(&self.jar, &uri, origin);
            if let Some(c) = capture.as_deref_mut() {
                let mut headers = head.clone();
                if let Some(v) = host {
                    headers.insert(HOST, v.clone());
                }
                if let Some(v) = &cookie {
                    headers.insert(COOKIE, v.clone());
                }
                c.hops.push(Hop {
                    method: method.clone(),
                    url: uri.to_string(),
                    headers,
                    body: body.clone(),
                    response: None,
                });
            }
            let request = crate::h1::Request {
                method: &method,
                target: pq.as_str(),
                host,
                head,
                cookie: cookie.as_ref(),
                body: &body,
            };
            let resp = self.client.send(origin, &request, usage).await?;
            let status = resp.status;
            *received += resp.len() as u64;
            store_cookies(&mut self.jar, resp.values("set-cookie"), origin, uri.path());
            if let Some(hop) = capture.as_deref_mut().and_then(|c| c.hops.last_mut()) {
                hop.response = Some((status, resp.header_map()));
            }
            let redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
            let location = resp
                .get("location")
                .and_then(|l| std::str::from_utf8(l).ok());
            if redirect && step.follow_redirects && hops < MAX_REDIRECTS {
                if let Some(next) = location.and_then(|l| resolve(&uri, l)) {
                    let (_, n) = self.client.read_body(origin, false, MAX_BODY_BYTES).await?;
                    *received += n;
                    hops += 1;
                    let redirect = Redirect::of(status, &method);
                    let foreign = Origin::of(&next).ok() != first_origin;
                    if redirect.to_get || foreign {
                        let mut h = redirected.take().unwrap_or_else(|| base.clone());
                        if redirect.to_get {
                            for name in BODY_HEADERS {
                                h.remove(name);
                            }
                        }
                        if foreign {
                            for name in CREDENTIAL_HEADERS {
                                h.remove(name);
                            }
                            // The step's own Host names the first origin, not this one.
                            h.remove(HOST);
                            user_host = false;
                        }
                        redirected = Some(h);
                    }
                    if redirect.to_get {
                        method = redirect.method;
                        body = Bytes::new();
                    }
                    uri = next;
                    continue;
                }
            }
            if redirect && step.follow_redirects && resp.get("location").is_some() {
                // One more hop was asked for than we follow: a loop, most likely.
                return Err(TransportError::new(
                    Category::TooManyRedirects,
                    format!(
                        "stopped after {MAX_REDIRECTS} redirects; the last one ({status}) points to {}",
                        location.unwrap_or("?")
                    ),
                ));
            }
            let status_fails = step
                .checks
                .iter()
                .any(|c| matches!(&c.check, Check::Status(s) if !s.accepts(status)));
            let keep = step.needs_body || status >= 400 || status_fails || capture.is_some();
            let (bytes, n) = self.client.read_body(origin, keep, MAX_BODY_BYTES).await?;
            *received += n;
            let bytes = match (bytes, resp.get("content-encoding")) {
                (Some(b), Some(coding)) => Some(decoded(coding, b, step.needs_body)?),
                (b, _) => b,
            };
            return Ok((resp, bytes, uri));
        }
    }
}

/// What a traced request sent and got, hop by hop (redirects, then the final request).
#[derive(Default)]
pub(crate) struct Capture {
    hops: Vec<Hop>,
}

struct Hop {
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Bytes,
    response: Option<(u16, HeaderMap)>,
}

impl Vu {
    /// A trace event for `step` of the running iteration, to be filled in.
    pub(crate) fn event(
        &self,
        sh: &Shared,
        step: &StepPlan,
        elapsed: Duration,
    ) -> crate::trace::TraceEvent {
        crate::trace::TraceEvent {
            vu: self.id,
            iteration: self.iteration,
            scenario: sh.program.scenarios[self.scenario].name.clone(),
            step: step.name.clone(),
            step_index: step.index,
            kind: step.kind.stream_name().unwrap_or("http"),
            source: step
                .source
                .as_ref()
                .map(|(har, entry)| crate::trace::TraceSource {
                    har: har.clone(),
                    entry: *entry,
                }),
            request: None,
            redirects: Vec::new(),
            response: None,
            elapsed_ms: elapsed.as_secs_f64() * 1000.0,
            extracted: Vec::new(),
            checks: Vec::new(),
            messages: None,
            failed: false,
            error: None,
        }
    }
}

/// A kept body as checks and extractors read it: decoded from its `Content-Encoding`
/// (bounded by [`MAX_BODY_BYTES`]; `received` has already counted the wire bytes). A body
/// that cannot be decoded fails the request only when something needs its content; kept
/// for a trace or a failure snippet, it stays as it came.
fn decoded(coding: &[u8], body: Bytes, needed: bool) -> Result<Bytes, TransportError> {
    match crate::decode::decode(coding, &body, MAX_BODY_BYTES) {
        Ok(Some(plain)) => Ok(plain),
        Ok(None) => Ok(body),
        Err(e @ crate::decode::DecodeError::TooLarge { .. }) => {
            Err(TransportError::new(Category::BodyTooLarge, e.to_string()))
        }
        Err(_) if !needed => Ok(body),
        Err(e) => Err(TransportError::new(Category::Protocol, e.to_string())),
    }
}

/// Headers that describe a request body, dropped with the body when a redirect turns the
/// request into a GET (as the Fetch standard's "request-body-header names").
const BODY_HEADERS: [http::HeaderName; 5] = [
    CONTENT_TYPE,
    http::header::CONTENT_LENGTH,
    http::header::CONTENT_ENCODING,
    http::header::CONTENT_LANGUAGE,
    http::header::CONTENT_LOCATION,
];

/// Headers that carry credentials for one origin: never sent on to another one by a
/// redirect (browsers and curl drop them; the jar's cookies follow its own domain rules).
const CREDENTIAL_HEADERS: [http::HeaderName; 3] = [
    http::header::AUTHORIZATION,
    http::header::PROXY_AUTHORIZATION,
    COOKIE,
];

/// What a redirect does to the request's method, as browsers and curl do it: 303 makes
/// anything but HEAD a GET; 301 and 302 turn a POST into a GET; 307 and 308 keep both the
/// method and the body.
struct Redirect {
    to_get: bool,
    method: Method,
}

impl Redirect {
    fn of(status: u16, method: &Method) -> Redirect {
        let to_get = match status {
            303 => *method != Method::GET && *method != Method::HEAD,
            301 | 302 => *method == Method::POST,
            _ => false,
        };
        Redirect {
            to_get,
            method: if to_get {
                Method::GET
            } else {
                method.clone()
            },
        }
    }
}

/// Resolves a `Location` header against the URL it came from, by RFC 3986 §5.2 (dot
/// segments removed); credentials in it are not kept.
fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    let base = url::Url::parse(&base.to_string()).ok()?;
    let mut next = base.join(location.trim()).ok()?;
    if !matches!(next.scheme(), "http" | "https") {
        return None;
    }
    let _ = next.set_username("");
    let _ = next.set_password(None);
    next.set_fragment(None);
    next.as_str().parse().ok()
}

/// Bytes of a request head and body on the wire, from its parts.
pub(crate) fn request_size(
    method: &Method,
    pq: &http::uri::PathAndQuery,
    headers: &HeaderMap,
    body_len: usize,
) -> usize {
    let line = method.as_str().len() + pq.as_str().len() + 11;
    let headers: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    line + headers + 2 + body_len
}

pub(crate) fn head_size(headers: &HeaderMap) -> usize {
    17 + headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_times_stay_in_range() {
        let mut rng = SmallRng::seed_from_u64(3);
        let t = Think::Uniform {
            min: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        let mut lo = Duration::MAX;
        let mut hi = Duration::ZERO;
        for _ in 0..2000 {
            let d = think_duration(&t, &mut rng);
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(300));
            lo = lo.min(d);
            hi = hi.max(d);
        }
        assert!(lo < Duration::from_millis(110) && hi > Duration::from_millis(290));
        assert_eq!(
            think_duration(&Think::Fixed(Duration::from_secs(2)), &mut rng),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn redirects_resolve_relative_locations() {
        let base: Uri = "http://h:8/a/b?x=1".parse().unwrap();
        assert_eq!(resolve(&base, "/c").unwrap().to_string(), "http://h:8/c");
        assert_eq!(
            resolve(&base, "c?y").unwrap().to_string(),
            "http://h:8/a/c?y"
        );
        assert_eq!(
            resolve(&base, "http://o/z").unwrap().to_string(),
            "http://o/z"
        );
        assert_eq!(resolve(&base, "//o2/z").unwrap().to_string(), "http://o2/z");
        // RFC 3986 §5.4's examples, from the base http://a/b/c/d;p?q.
        let base: Uri = "http://a/b/c/d;p?q".parse().unwrap();
        for (location, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("g/../h", "http://a/b/c/h"),
            ("./g/.", "http://a/b/c/g/"),
        ] {
            assert_eq!(resolve(&base, location).unwrap().to_string(), want, "{location}");
        }
        assert!(resolve(&base, "ftp://x/y").is_none());
        assert_eq!(
            resolve(&base, "http://u:p@o/z").unwrap().to_string(),
            "http://o/z"
        );
    }

    #[test]
    fn redirect_methods_follow_browsers() {
        let post = Method::POST;
        for (status, method, get) in [
            (301, &post, true),
            (302, &post, true),
            (303, &post, true),
            (303, &Method::PUT, true),
            (303, &Method::HEAD, false),
            (302, &Method::PUT, false),
            (307, &post, false),
            (308, &post, false),
        ] {
            let r = Redirect::of(status, method);
            assert_eq!(r.to_get, get, "{status} {method}");
            assert_eq!(r.method, if get { Method::GET } else { method.clone() });
        }
    }
}
