//! A structured trace of every executed step, for debugging a scenario
//! (`throng run --trace`, `--trace-file`).
//!
//! Tracing is off unless [`RunOptions::trace`](crate::RunOptions::trace) holds a
//! [`TraceSink`]; then each executed step produces one [`TraceEvent`] with the request as
//! sent, its redirects, the response, the extractions and the checks. Events own their
//! data and are redacted (see [`crate::redact`]) before they are handed to the sink.
//! When tracing is off nothing here is allocated or called.

use std::sync::Arc;

use base64::Engine as _;
use http::HeaderMap;
use serde::Serialize;

use crate::redact::Redactor;

/// Receives trace events; called from the VU's task, so it should return quickly.
#[derive(Clone)]
pub struct TraceSink(Arc<dyn Fn(TraceEvent) + Send + Sync>);

impl TraceSink {
    pub fn new(f: impl Fn(TraceEvent) + Send + Sync + 'static) -> TraceSink {
        TraceSink(Arc::new(f))
    }

    /// A sink that sends events to a channel (a receiver left alive but unread grows).
    pub fn channel() -> (TraceSink, std::sync::mpsc::Receiver<TraceEvent>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (
            TraceSink::new(move |e| {
                let _ = tx.send(e);
            }),
            rx,
        )
    }

    pub fn emit(&self, e: TraceEvent) {
        (self.0)(e)
    }
}

impl std::fmt::Debug for TraceSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TraceSink")
    }
}

/// One executed step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceEvent {
    /// The virtual user (1-based, global) and its iteration (1-based).
    pub vu: u64,
    pub iteration: u64,
    pub scenario: String,
    pub step: String,
    /// The step's position in its scenario (0-based).
    pub step_index: usize,
    /// `http`, `sse` or `ws`.
    pub kind: &'static str,
    /// The recording the step was compiled from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<TraceSource>,
    /// The request as finally sent (after redirects); None when it could not be built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<TraceRequest>,
    /// Redirects followed before the final request, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<TraceRedirect>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<TraceResponse>,
    pub elapsed_ms: f64,
    pub extracted: Vec<TraceExtract>,
    pub checks: Vec<TraceCheck>,
    /// Stream steps: messages received and sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<TraceMessages>,
    pub failed: bool,
    /// Why the step failed (as recorded in the results' failure samples).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TraceError>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceSource {
    pub har: String,
    pub entry: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<TraceBody>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceRedirect {
    pub method: String,
    pub url: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as read (up to the runner's body cap); None when it was not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<TraceBody>,
}

/// A body: UTF-8 as text, anything else base64.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceBody {
    /// `text` or `base64`.
    pub encoding: &'static str,
    pub text: String,
    /// Size in bytes of the body (before any truncation by a consumer).
    pub size: usize,
    /// Set by consumers that shorten `text`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl TraceBody {
    pub fn of(bytes: &[u8], r: &Redactor) -> Option<TraceBody> {
        if bytes.is_empty() {
            return None;
        }
        let b = r.bytes(bytes);
        Some(match std::str::from_utf8(&b) {
            Ok(t) => TraceBody {
                encoding: "text",
                text: t.to_string(),
                size: bytes.len(),
                truncated: false,
            },
            Err(_) => TraceBody {
                encoding: "base64",
                text: base64::engine::general_purpose::STANDARD.encode(&b),
                size: bytes.len(),
                truncated: false,
            },
        })
    }

    /// Shortens the text to at most `max` bytes (on a character boundary), marking it.
    pub fn truncate(&mut self, max: usize) {
        if self.text.len() > max {
            let mut cut = max;
            while !self.text.is_char_boundary(cut) {
                cut -= 1;
            }
            self.text.truncate(cut);
            self.truncated = true;
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceExtract {
    pub name: String,
    /// The value (text as is, anything else as JSON); None when extraction failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceCheck {
    /// The check as written, e.g. `status 201`, `json $.total gt 0`.
    pub check: String,
    /// What it expects, e.g. `201`, `gt 0`.
    pub expected: String,
    pub passed: bool,
    /// What the response had, e.g. `409`; None when not judged (a stream check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceMessages {
    pub received: u64,
    pub sent: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceError {
    /// The error category, as in the results' `errors` (`http_4xx`, `check`, `extract`, ...).
    pub category: &'static str,
    pub message: String,
}

/// Headers for an event: masked or redacted, in order.
pub(crate) fn headers(h: &HeaderMap, r: &Redactor) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes());
            (k.as_str().to_string(), r.header(k.as_str(), &v))
        })
        .collect()
}

/// Adds the credentials of `h`'s sensitive headers to `r`.
pub(crate) fn hide_credentials(h: &HeaderMap, r: &mut Redactor) {
    for (k, v) in h {
        if crate::redact::is_sensitive_header(k.as_str()) {
            if let Ok(v) = v.to_str() {
                r.hide_header(k.as_str(), v);
            }
        }
    }
}
