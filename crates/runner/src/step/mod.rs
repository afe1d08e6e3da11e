//! One step: render its request from the plan, send it through the VU's user agent, judge
//! the response (checks, then the single rule that extraction runs unless the step already
//! failed, or `on_fail: continue` says to go on), trace it, and record it. HTTP steps are
//! `request`; `sse` and `ws` stream, judged and recorded by `stream`; checks and extractors
//! are `respond`.
//!
//! Uses `plan`, `client`, `redact`, `trace` and `report::metrics`; never `vu` or `engine`.

mod request;
pub(crate) mod respond;
mod sse;
mod stream;
mod ws;

use std::pin::Pin;
use std::time::Duration;

use http::{HeaderMap, Method};
use minijinja::Value;
use rand::rngs::SmallRng;

use crate::client::{Agent, ErrorKind, TransportError};
use crate::plan::{KindPlan, StepPlan};
use crate::redact::Secrets;
use crate::report::metrics::{Category, Shards};
use crate::trace::{TraceEvent, TraceSink, TraceSource};

/// What a step hands back to its iteration.
pub(crate) struct StepResult {
    pub failed: bool,
    pub extracted: Vec<(String, Value)>,
}

/// The parts of a VU a step works with: its user agent (connections, jar), its request
/// timer and its randomness.
pub(crate) struct User {
    pub agent: Agent,
    /// The request timeout, one timer per VU reset per request (created on first use,
    /// inside the runtime): a later deadline only moves the registered entry lazily.
    pub timer: Option<Pin<Box<tokio::time::Sleep>>>,
    pub rng: SmallRng,
}

/// What a step reads of the run: the secrets to redact, where it records, where traces go,
/// and who is running it (for trace events).
pub(crate) struct Env<'a> {
    pub secrets: &'a Secrets,
    pub shards: &'a Shards,
    pub trace: Option<&'a TraceSink>,
    pub vu: u64,
    pub iteration: u64,
    pub scenario: &'a str,
}

/// Runs one step of any kind.
pub(crate) async fn run(
    user: &mut User,
    env: &Env<'_>,
    step: &StepPlan,
    ctx: &Value,
) -> StepResult {
    match &step.kind {
        KindPlan::Http => request::step(user, env, step, ctx).await,
        KindPlan::Sse { events } => sse::step(user, env, step, ctx, *events).await,
        KindPlan::Ws(ws) => ws::step(user, env, step, ws, ctx).await,
    }
}

impl Env<'_> {
    /// A trace event for `step` of the running iteration, to be filled in.
    pub(crate) fn event(&self, step: &StepPlan, elapsed: Duration) -> TraceEvent {
        TraceEvent {
            vu: self.vu,
            iteration: self.iteration,
            scenario: self.scenario.to_string(),
            step: step.name.clone(),
            step_index: step.index,
            kind: step.kind.stream_name().unwrap_or("http"),
            source: step.source.as_ref().map(|(har, entry)| TraceSource {
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

/// Why a step failed: the category it is counted in and what to tell the user.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub category: Category,
    pub message: String,
}

impl Failure {
    pub fn new(category: Category, message: impl Into<String>) -> Failure {
        Failure {
            category,
            message: message.into(),
        }
    }
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Failure {
        Failure {
            category: e.kind.into(),
            message: e.message,
        }
    }
}

impl From<ErrorKind> for Category {
    fn from(kind: ErrorKind) -> Category {
        match kind {
            ErrorKind::Connect => Category::Connect,
            ErrorKind::Dns => Category::Dns,
            ErrorKind::Tls => Category::Tls,
            ErrorKind::Protocol => Category::Protocol,
            ErrorKind::Timeout => Category::Timeout,
            ErrorKind::BodyTooLarge => Category::BodyTooLarge,
            ErrorKind::TooManyRedirects => Category::TooManyRedirects,
        }
    }
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
