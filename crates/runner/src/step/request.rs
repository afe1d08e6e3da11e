//! An HTTP step as a pipeline: prepare the request from the plan, send it through the
//! user agent within the step's timeout, judge the response, trace it when asked, record it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::LOCATION;
use http::{HeaderMap, Uri};
use minijinja::Value;
use throng_ir::{Check, OnFail};

use super::respond::{self, Seen};
use super::{Env, Failure, StepResult, User};
use crate::client::h1::Head;
use crate::client::{Capture, ConnUse, Fetch};
use crate::plan::StepPlan;
use crate::report::metrics::{Category, RequestRecord};
use crate::trace::{TraceCheck, TraceExtract};

/// Runs one HTTP step.
pub(super) async fn step(
    user: &mut User,
    env: &Env<'_>,
    step: &StepPlan,
    ctx: &Value,
) -> StepResult {
    if step.inject_panic {
        panic!(
            "injected by THRONG_TEST_PANIC_STEP for step `{}`",
            step.name
        );
    }
    let start = Instant::now();
    let (uri, headers, body) = match step.prepare(ctx, &mut user.rng) {
        Ok(p) => p,
        Err(e) => return unbuildable(env, step, ctx, start, e),
    };
    let mut usage = ConnUse::default();
    let mut received: u64 = 0;
    let mut capture = env.trace.map(|_| Capture::default());
    let outcome = send(
        user,
        step,
        uri,
        headers,
        body,
        &mut usage,
        &mut received,
        capture.as_mut(),
    )
    .await;
    let elapsed = start.elapsed();
    let mut verdict = judge(user, step, ctx, outcome, elapsed, capture.is_some());
    let error = verdict
        .error
        .take()
        .map(|(c, m)| (c, env.secrets.message(m, ctx, &verdict.extracted)));
    if let (Some(capture), Some(traced)) = (capture, verdict.traced.take()) {
        emit_trace(env, step, ctx, elapsed, &verdict, &error, capture, *traced);
    }
    let mut rec = env.shards.local();
    rec.request(RequestRecord {
        step: step.id,
        service: elapsed,
        error: error
            .as_ref()
            .map(|(c, m)| (*c, verdict.status, m.as_str())),
        checks_passed: verdict.passed,
        checks_failed: verdict.failed_checks,
        status: verdict.status,
    });
    rec.bytes_sent += usage.sent;
    rec.bytes_received += received;
    rec.conn_opened += usage.opened;
    rec.conn_reused += usage.reused;
    StepResult {
        failed: error.is_some(),
        extracted: verdict.extracted,
    }
}

/// Records a step whose request could not be rendered (a template error): a `template`
/// failure, every check failed, nothing sent.
fn unbuildable(
    env: &Env<'_>,
    step: &StepPlan,
    ctx: &Value,
    start: Instant,
    e: String,
) -> StepResult {
    let msg = env
        .secrets
        .message(format!("cannot build the request: {e}"), ctx, &[]);
    if let Some(t) = env.trace {
        let mut ev = env.event(step, start.elapsed());
        ev.failed = true;
        ev.error = Some(crate::trace::TraceError {
            category: Category::Template.as_str(),
            message: msg.clone(),
        });
        t.emit(ev);
    }
    env.shards.local().request(RequestRecord {
        step: step.id,
        service: start.elapsed(),
        error: Some((Category::Template, None, &msg)),
        checks_passed: 0,
        checks_failed: step.checks.len() as u64,
        status: None,
    });
    StepResult {
        failed: true,
        extracted: Vec::new(),
    }
}

/// Sends the request through the agent (redirects followed), within the step's timeout on
/// the VU's one timer.
#[allow(clippy::too_many_arguments)]
async fn send(
    user: &mut User,
    step: &StepPlan,
    uri: Uri,
    headers: Option<HeaderMap>,
    body: Bytes,
    usage: &mut ConnUse,
    received: &mut u64,
    capture: Option<&mut Capture>,
) -> Result<(Head, Option<Bytes>, Uri), Failure> {
    let mut timer = user
        .timer
        .take()
        .unwrap_or_else(|| Box::pin(tokio::time::sleep(step.timeout)));
    timer
        .as_mut()
        .reset(tokio::time::Instant::now() + step.timeout);
    let request = Fetch {
        method: &step.method,
        uri,
        head: headers,
        base: step.fixed_base.as_ref(),
        fixed: step.fixed_target.as_ref(),
        body,
        follow_redirects: step.follow_redirects,
        needs_body: step.needs_body,
    };
    // The body is read when a check or extractor needs it, and for the failure message of
    // an error status or a failed status check.
    let keep = |status: u16| {
        step.needs_body
            || status >= 400
            || step
                .checks
                .iter()
                .any(|c| matches!(&c.check, Check::Status(s) if !s.accepts(status)))
    };
    let exchange = user.agent.fetch(request, keep, usage, received, capture);
    let outcome = tokio::select! {
        biased;
        r = exchange => r.map_err(Failure::from),
        _ = timer.as_mut() => Err(Failure::new(
            Category::Timeout,
            format!(
                "no complete response within {}",
                throng_ir::format_duration(step.timeout)
            ),
        )),
    };
    user.timer = Some(timer);
    outcome
}

/// What judging a response decided.
struct Verdict {
    /// The first failure, its message not yet redacted.
    error: Option<(Category, String)>,
    status: Option<u16>,
    passed: u64,
    failed_checks: u64,
    extracted: Vec<(String, Value)>,
    /// Filled only when tracing.
    traced: Option<Box<Traced>>,
}

/// What a trace event shows of the judging.
#[derive(Default)]
struct Traced {
    checks: Vec<TraceCheck>,
    extracts: Vec<TraceExtract>,
    response: Option<(u16, HeaderMap, Option<Bytes>)>,
}

/// Judges the outcome: the checks in order (the first failure decides the category), an
/// error status when no check looks at the status, then extraction unless the step already
/// failed (or `on_fail: continue`).
fn judge(
    user: &User,
    step: &StepPlan,
    ctx: &Value,
    outcome: Result<(Head, Option<Bytes>, Uri), Failure>,
    elapsed: Duration,
    tracing: bool,
) -> Verdict {
    let mut traced = tracing.then(Box::<Traced>::default);
    let (resp_head, body_bytes, final_uri) = match outcome {
        Err(e) => {
            return Verdict {
                error: Some((e.category, e.message)),
                status: None,
                passed: 0,
                failed_checks: step.checks.len() as u64,
                extracted: Vec::new(),
                traced,
            }
        }
        Ok(r) => r,
    };
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
    let (passed, failed_checks, mut first_fail) =
        run_checks(step, ctx, &mut seen, status, traced.as_deref_mut());
    let mut extracted = Vec::new();
    if first_fail.is_none() || step.on_fail == OnFail::Continue {
        for x in &step.extract {
            let got = respond::extract(&x.name, &x.extractor, &mut seen, &user.agent.jar, host);
            if let Some(t) = traced.as_deref_mut() {
                t.extracts.push(TraceExtract {
                    name: x.name.clone(),
                    value: got.as_ref().ok().map(crate::redact::text_of),
                    error: got.as_ref().err().cloned(),
                });
            }
            match got {
                Ok(v) => extracted.push((x.name.clone(), v)),
                Err(why) => {
                    if first_fail.is_none() {
                        first_fail = Some((Category::Extract, why));
                    }
                }
            }
        }
    } else if let Some(t) = traced.as_deref_mut() {
        t.extracts.extend(step.extract.iter().map(|x| TraceExtract {
            name: x.name.clone(),
            value: None,
            error: Some("not run: the step had already failed".into()),
        }));
    }
    if let Some(t) = traced.as_deref_mut() {
        t.response = Some((status, resp_head.header_map(), body_bytes.clone()));
    }
    Verdict {
        error: first_fail,
        status: Some(status),
        passed,
        failed_checks,
        extracted,
        traced,
    }
}

/// Runs the step's checks: how many passed and failed, and the first failure (an error
/// status counts as one when no check looks at the status).
fn run_checks(
    step: &StepPlan,
    ctx: &Value,
    seen: &mut Seen<'_>,
    status: u16,
    mut traced: Option<&mut Traced>,
) -> (u64, u64, Option<(Category, String)>) {
    let mut passed = 0;
    let mut failed = 0;
    let mut first_fail: Option<(Category, String)> = None;
    let has_status_check = step
        .checks
        .iter()
        .any(|c| matches!(c.check, Check::Status(_)));
    for c in &step.checks {
        let verdict = respond::check(c, seen, ctx);
        if let Some(t) = traced.as_deref_mut() {
            t.checks.push(TraceCheck {
                check: c.check.to_string(),
                expected: respond::expected(&c.check),
                passed: verdict.is_ok(),
                actual: Some(respond::actual(&c.check, seen)),
                message: verdict.as_ref().err().cloned(),
            });
        }
        match verdict {
            Ok(()) => passed += 1,
            Err(why) => {
                failed += 1;
                if first_fail.is_none() {
                    let cat = match c.check {
                        Check::Status(_) => status_category(status),
                        _ => Category::Check,
                    };
                    first_fail = Some((cat, format!("check {}: {why}{}", c.check, seen.snippet())));
                }
            }
        }
    }
    if first_fail.is_none() && !has_status_check && status >= 400 {
        first_fail = Some((
            status_category(status),
            format!("status {status}{}", seen.snippet()),
        ));
    }
    (passed, failed, first_fail)
}

/// The category of a failed status: by its class, else a plain check failure.
fn status_category(status: u16) -> Category {
    match status {
        500.. => Category::Http5xx,
        400.. => Category::Http4xx,
        _ => Category::Check,
    }
}

/// Emits the step's trace event: every hop (redirects, then the final request), the
/// response, checks and extractions, all redacted.
#[allow(clippy::too_many_arguments)]
fn emit_trace(
    env: &Env<'_>,
    step: &StepPlan,
    ctx: &Value,
    elapsed: Duration,
    verdict: &Verdict,
    error: &Option<(Category, String)>,
    capture: Capture,
    traced: Traced,
) {
    use crate::trace::{
        headers, hide_credentials, TraceBody, TraceError, TraceRedirect, TraceRequest,
        TraceResponse,
    };
    let Some(t) = env.trace else { return };
    let mut ev = env.event(step, elapsed);
    let mut r = env.secrets.redactor(ctx, &verdict.extracted);
    for h in &capture.hops {
        hide_credentials(&h.headers, &mut r);
        if let Some((_, rh)) = &h.response {
            hide_credentials(rh, &mut r);
        }
    }
    let mut hops = capture.hops;
    if let Some(last) = hops.pop() {
        for h in &hops {
            ev.redirects.push(TraceRedirect {
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
        ev.request = Some(TraceRequest {
            method: last.method.to_string(),
            url: r.string(last.url),
            headers: headers(&last.headers, &r),
            body: TraceBody::of(&last.body, &r),
        });
    }
    if let Some((status, rh, body)) = traced.response {
        ev.response = Some(TraceResponse {
            status,
            headers: headers(&rh, &r),
            body: body.and_then(|b| TraceBody::of(&b, &r)),
        });
    }
    ev.extracted = traced
        .extracts
        .into_iter()
        .map(|mut x| {
            let hidden = env.secrets.is_secret(&x.name);
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
    ev.checks = traced
        .checks
        .into_iter()
        .map(|mut c| {
            c.actual = c.actual.map(|a| r.string(a));
            c.message = c.message.map(|m| r.string(m));
            c
        })
        .collect();
    ev.failed = error.is_some();
    ev.error = error.as_ref().map(|(c, m)| TraceError {
        category: c.as_str(),
        message: r.string(m.clone()),
    });
    t.emit(ev);
}
