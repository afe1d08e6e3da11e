//! What `sse` and `ws` steps share: judging a stream and recording it.
//!
//! A streaming step is judged in three places: its opening response (`status` and
//! `header` checks, as for a request), each message (the body checks: `json`,
//! `body_contains`, `body_matches`, `schema`, and a WebSocket's echo), and its end
//! (`duration_under`, over the whole session). A check counts once per step, failed if it
//! failed on anything it saw, so check rates compare with those of HTTP steps. The step's
//! latency is the time to the opening response; message latencies go to their own
//! histograms through a [`MessageBatch`].

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use minijinja::Value;
use throng_ir::{Check, OnFail};

use super::respond::{self, Seen};
use super::Failure;
use super::{Env, StepResult, User};
use crate::client::ConnUse;
use crate::plan::StepPlan;
use crate::report::metrics::{Category, MessageBatch, RequestRecord};

/// Checks judged on the opening response.
fn on_head(c: &Check) -> bool {
    matches!(c, Check::Status(_) | Check::Header { .. })
}

/// The opening response of a stream.
pub struct Head {
    pub status: u16,
    pub headers: HeaderMap,
    /// Time from the start of the step to the response.
    pub latency: Duration,
    pub host: String,
}

/// A streaming step in progress: its verdicts and what it will record.
pub struct Session<'a> {
    step: &'a StepPlan,
    start: Instant,
    /// Per check (in step order): failed on something it saw.
    failed: Vec<bool>,
    echo_failed: bool,
    first_fail: Option<(Category, String)>,
    /// The stream itself broke (transport, timeout, early close): unjudged checks fail.
    broken: bool,
    head: Option<Head>,
    /// The last message, kept only when a body extractor will read it.
    pub last: Option<Bytes>,
    pub batch: MessageBatch,
    pub usage: ConnUse,
    pub sent: u64,
    pub received: u64,
    /// When tracing: the URL and headers of the opening request.
    pub traced: Option<(String, HeaderMap)>,
}

impl<'a> Session<'a> {
    pub fn new(step: &'a StepPlan) -> Session<'a> {
        Session {
            step,
            start: Instant::now(),
            failed: vec![false; step.checks.len()],
            echo_failed: false,
            first_fail: None,
            broken: false,
            head: None,
            last: None,
            batch: MessageBatch::default(),
            usage: ConnUse::default(),
            sent: 0,
            received: 0,
            traced: None,
        }
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    /// The instant the step's timeout runs out.
    pub fn deadline(&self) -> tokio::time::Instant {
        (self.start + self.step.timeout).into()
    }

    pub fn failed(&self) -> bool {
        self.first_fail.is_some()
    }

    fn fail(&mut self, category: Category, message: String) {
        if self.first_fail.is_none() {
            self.first_fail = Some((category, message));
        }
    }

    /// The stream could not be opened or broke off: the step fails with this error.
    pub fn broke(&mut self, e: Failure) {
        self.broken = true;
        self.fail(e.category, e.message);
    }

    /// Judges the opening response (and `body`, an error response's, for the message).
    /// Returns whether the stream may be read: a 2xx (or 101) that passed its checks.
    pub fn head(&mut self, head: Head, body: Option<&Bytes>, ctx: &Value) -> bool {
        let status = head.status;
        let mut seen = Seen {
            status,
            headers: &head.headers,
            body,
            elapsed: head.latency,
            json: None,
            label: "body",
            prune: None,
        };
        let mut has_status_check = false;
        for (i, c) in self.step.checks.iter().enumerate() {
            if !on_head(&c.check) {
                continue;
            }
            has_status_check |= matches!(c.check, Check::Status(_));
            if let Err(why) = respond::check(c, &mut seen, ctx) {
                self.failed[i] = true;
                let cat = match c.check {
                    Check::Status(_) if status >= 500 => Category::Http5xx,
                    Check::Status(_) if status >= 400 => Category::Http4xx,
                    _ => Category::Check,
                };
                let msg = format!("check {}: {why}{}", c.check, seen.snippet());
                self.fail(cat, msg);
            }
        }
        if !has_status_check && status >= 400 {
            let cat = if status >= 500 {
                Category::Http5xx
            } else {
                Category::Http4xx
            };
            let msg = format!("status {status}{}", seen.snippet());
            self.fail(cat, msg);
        }
        let open = !self.failed() && ((200..300).contains(&status) || status == 101);
        if !open && !self.failed() {
            // A refusal the checks accept (`status: 404`, say): there is no stream, so the
            // body checks judge the response's body, as they would a request's.
            for (i, c) in self.step.checks.iter().enumerate() {
                if c.check.needs_body() {
                    if let Err(why) = respond::check(c, &mut seen, ctx) {
                        self.failed[i] = true;
                        let msg = format!("check {}: {why}{}", c.check, seen.snippet());
                        self.fail(Category::Check, msg);
                    }
                }
            }
        }
        // A stream refused against the checks was not read: checks on it cannot pass.
        self.broken |= self.failed();
        self.head = Some(head);
        open
    }

    /// Counts a message that arrived now; `since` is when its latency started (the
    /// previous event, or the message sent), None for a stream's first event.
    pub fn arrived(&mut self, env: &Env<'_>, since: Option<Instant>, now: Instant) {
        self.batch.received += 1;
        match since {
            Some(t) => self.batch.latencies_us.push(crate::report::metrics::micros(
                now.saturating_duration_since(t),
            )),
            None => self.batch.first = Some(now.saturating_duration_since(self.start)),
        }
        if self.batch.latencies_us.len() >= MessageBatch::FLUSH_AT {
            env.shards.local().messages(self.step.id, &mut self.batch);
        }
    }

    /// Judges message `n` (1-based; `what` names it: "event", "reply") with the body checks.
    pub fn message(&mut self, n: u64, what: &'static str, data: Bytes, ctx: &Value) {
        if !self.step.needs_body {
            return;
        }
        let Some(head) = self.head.as_ref() else {
            return;
        };
        let mut seen = Seen {
            status: head.status,
            headers: &head.headers,
            body: Some(&data),
            elapsed: self.start.elapsed(),
            json: None,
            label: if what == "event" { "data" } else { what },
            prune: None,
        };
        let mut fails = Vec::new();
        for (i, c) in self.step.checks.iter().enumerate() {
            if !c.check.needs_body() {
                continue;
            }
            if let Err(why) = respond::check(c, &mut seen, ctx) {
                fails.push((
                    i,
                    format!("check {}: {what} {n}: {why}{}", c.check, seen.snippet()),
                ));
            }
        }
        for (i, msg) in fails {
            self.failed[i] = true;
            self.fail(Category::Check, msg);
        }
        if self.step.extract.iter().any(|x| x.extractor.needs_body()) {
            self.last = Some(data);
        }
    }

    /// Records that reply `n` did not repeat its message.
    pub fn not_an_echo(&mut self, n: u64, sent: &str, got: &[u8]) {
        self.echo_failed = true;
        let got = String::from_utf8_lossy(got);
        self.fail(
            Category::Check,
            format!(
                "reply {n} is not an echo: sent {}, got {}",
                clip(sent),
                clip(&got)
            ),
        );
    }

    /// Judges the end, extracts, records the step and returns its result.
    pub fn finish(mut self, user: &User, env: &Env<'_>, ctx: &Value) -> StepResult {
        let elapsed = self.start.elapsed();
        let mut extracted = Vec::new();
        let mut checks_passed = 0;
        let mut checks_failed = 0;
        if self.head.is_none() {
            // Nothing was judged: like a request without a response, every check fails.
            checks_failed = self.step.check_count();
        } else {
            for (i, c) in self.step.checks.iter().enumerate() {
                let ok = match &c.check {
                    _ if self.failed[i] => false,
                    check if on_head(check) => true,
                    // A broken stream was not seen whole.
                    _ if self.broken => false,
                    Check::DurationUnder(d) if elapsed >= *d => {
                        let msg = format!(
                            "check {}: took {:.1}ms",
                            c.check,
                            elapsed.as_secs_f64() * 1000.0
                        );
                        self.fail(Category::Check, msg);
                        false
                    }
                    _ => true,
                };
                if ok {
                    checks_passed += 1;
                } else {
                    checks_failed += 1;
                }
            }
            if self.step.check_count() > self.step.checks.len() as u64 {
                if self.echo_failed || self.broken {
                    checks_failed += 1;
                } else {
                    checks_passed += 1;
                }
            }
        }
        let status = self.head.as_ref().map(|h| h.status);
        if let Some(head) = self
            .head
            .as_ref()
            .filter(|_| self.first_fail.is_none() || self.step.on_fail == OnFail::Continue)
        {
            let mut seen = Seen {
                status: head.status,
                headers: &head.headers,
                body: self.last.as_ref(),
                elapsed,
                json: None,
                label: "data",
                prune: None,
            };
            let mut missing = None;
            for x in &self.step.extract {
                match respond::extract(
                    &x.name,
                    &x.extractor,
                    &mut seen,
                    &user.agent.jar,
                    &head.host,
                ) {
                    Ok(v) => extracted.push((x.name.clone(), v)),
                    Err(why) if missing.is_none() => {
                        missing = Some(why);
                    }
                    Err(_) => {}
                }
            }
            if let Some(m) = missing {
                self.fail(Category::Extract, m);
            }
        }
        let first_fail = self
            .first_fail
            .take()
            .map(|(c, m)| (c, env.secrets.message(m, ctx, &extracted)));
        self.first_fail = first_fail;
        if let Some(t) = &env.trace {
            t.emit(self.event(env, ctx, &extracted, elapsed));
        }
        // The step's latency is the opening response's, or the time spent failing to get one.
        let service = self.head.as_ref().map_or(elapsed, |h| h.latency);
        let mut rec = env.shards.local();
        rec.request(RequestRecord {
            step: self.step.id,
            service,
            error: self
                .first_fail
                .as_ref()
                .map(|(c, m)| (*c, status, m.as_str())),
            checks_passed,
            checks_failed,
            status,
        });
        rec.messages(self.step.id, &mut self.batch);
        rec.bytes_sent += self.sent + self.usage.sent;
        rec.bytes_received += self.received;
        rec.conn_opened += self.usage.opened;
        rec.conn_reused += self.usage.reused;
        StepResult {
            failed: self.first_fail.is_some(),
            extracted,
        }
    }
}

impl Session<'_> {
    /// The step's trace event: the opening request and response, checks (pass or fail,
    /// without per-message values), extractions, message counts.
    fn event(
        &self,
        env: &Env<'_>,
        ctx: &Value,
        extracted: &[(String, Value)],
        elapsed: Duration,
    ) -> crate::trace::TraceEvent {
        use crate::trace::*;
        let mut r = env.secrets.redactor(ctx, extracted);
        if let Some((_, h)) = &self.traced {
            hide_credentials(h, &mut r);
        }
        if let Some(h) = &self.head {
            hide_credentials(&h.headers, &mut r);
        }
        let mut ev = env.event(self.step, elapsed);
        ev.request = self.traced.as_ref().map(|(url, h)| TraceRequest {
            method: "GET".into(),
            url: r.string(url.clone()),
            headers: headers(h, &r),
            body: None,
        });
        ev.response = self.head.as_ref().map(|h| TraceResponse {
            status: h.status,
            headers: headers(&h.headers, &r),
            body: None,
        });
        let judged = self.head.is_some();
        ev.checks = self
            .step
            .checks
            .iter()
            .enumerate()
            .map(|(i, c)| TraceCheck {
                check: c.check.to_string(),
                expected: respond::expected(&c.check),
                passed: judged && !self.failed[i] && (on_head(&c.check) || !self.broken),
                actual: None,
                message: None,
            })
            .collect();
        ev.extracted = extracted
            .iter()
            .map(|(k, v)| TraceExtract {
                name: k.clone(),
                value: Some(if env.secrets.is_secret(k) {
                    format!("[redacted:{k}]")
                } else {
                    r.string(crate::redact::text_of(v))
                }),
                error: None,
            })
            .collect();
        ev.messages = Some(TraceMessages {
            received: self.batch.received,
            sent: self.batch.sent,
        });
        ev.failed = self.first_fail.is_some();
        ev.error = self.first_fail.as_ref().map(|(c, m)| TraceError {
            category: c.as_str(),
            message: r.string(m.clone()),
        });
        ev
    }
}

/// A message shortened for a failure message.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    format!("{out:?}")
}

/// "5 of 10" when a count was expected, else just the number.
pub fn of(n: u64, expected: Option<u64>) -> String {
    match expected {
        Some(e) => format!("{n} of {e}"),
        None => n.to_string(),
    }
}
