//! Streaming step kinds: `sse` (read a Server-Sent Events stream) and `ws` (exchange
//! messages over a WebSocket).
//!
//! Both open with an HTTP request (the subscription GET, the upgrade handshake), so a
//! streaming step keeps that part in [`Step::request`](crate::Step::request): URL, query and
//! headers are templated, validated and given `defaults.headers` exactly like an HTTP step's.
//! What is specific to the stream lives here.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::template::{JsonTemplate, Template};

/// The variable a WebSocket message template may read: the message's number, from 1.
pub const MESSAGE_SEQ: &str = "seq";

/// How a step talks to the server.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum StepKind {
    /// One request, one response.
    #[default]
    Http,
    /// A Server-Sent Events stream, read event by event.
    Sse(Sse),
    /// A WebSocket: messages sent one at a time, each answered by one reply.
    Ws(Ws),
}

impl StepKind {
    /// The YAML key that introduces this kind: `request`, `sse` or `ws`.
    pub fn key(&self) -> &'static str {
        match self {
            StepKind::Http => "request",
            StepKind::Sse(_) => "sse",
            StepKind::Ws(_) => "ws",
        }
    }

    /// Templates of the stream itself (WebSocket messages), which may also read [`MESSAGE_SEQ`].
    pub fn message_templates(&self) -> Vec<&Template> {
        match self {
            StepKind::Ws(ws) => ws.send.iter().flat_map(JsonTemplate::templates).collect(),
            _ => Vec::new(),
        }
    }
}

/// What an `sse` step reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sse {
    /// Events to read before closing the stream; None reads until the server ends it.
    pub events: Option<u32>,
}

/// What a `ws` step sends and expects back.
#[derive(Debug, Clone, PartialEq)]
pub struct Ws {
    /// The messages, sent in order (cycling when `count` is larger). A string is sent as
    /// text as it renders; any other JSON value is sent as its JSON text.
    pub send: Vec<JsonTemplate>,
    /// How many messages to send, each awaited by its reply; None sends `send` once.
    pub count: Option<u32>,
    pub expect: Reply,
}

impl Ws {
    /// The number of messages the step sends.
    pub fn total(&self) -> u32 {
        self.count.unwrap_or(self.send.len() as u32)
    }
}

/// What each WebSocket reply must be, besides meeting the step's checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The reply repeats the message exactly.
    #[default]
    Echo,
    /// Any reply will do (the step's checks still apply to it).
    Any,
}

fn is_default_reply(r: &Reply) -> bool {
    *r == Reply::Echo
}

/// An `sse` step as written.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSse {
    /// The stream's URL (http:// or https://).
    pub url: Template,
    /// Query parameters appended to the URL.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub query: IndexMap<String, Template>,
    /// Request headers (`accept: text/event-stream` is sent unless set here).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Template>,
    /// Read this many events, then close; fewer before the server ends the stream fails
    /// the step. Without it, the stream is read until the server ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub events: Option<u32>,
}

/// A `ws` step as written.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWs {
    /// The socket's URL: ws:// (or http://, which means the same server).
    pub url: Template,
    /// Query parameters appended to the URL.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub query: IndexMap<String, Template>,
    /// Headers of the upgrade request.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Template>,
    /// A message, or a list of messages sent in order. Strings are templates sent as text
    /// (`{{ seq }}` is the message's number, from 1); other JSON values are sent as JSON.
    pub send: JsonTemplate,
    /// Messages to send, cycling through `send` (default: each of `send` once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub count: Option<u32>,
    /// `echo` (default): each reply must repeat its message; `any`: any reply.
    #[serde(default, skip_serializing_if = "is_default_reply")]
    pub expect: Reply,
}

impl RawSse {
    pub(crate) fn split(self) -> Result<(crate::request::Request, Sse), String> {
        if self.events == Some(0) {
            return Err("`events` must be at least 1".into());
        }
        check_scheme(&self.url, &["http://", "https://"])?;
        Ok((
            handshake(self.url, self.query, self.headers),
            Sse {
                events: self.events,
            },
        ))
    }

    pub(crate) fn join(request: crate::request::Request, sse: Sse) -> RawSse {
        RawSse {
            url: request.url,
            query: request.query,
            headers: request.headers,
            events: sse.events,
        }
    }
}

impl RawWs {
    pub(crate) fn split(self) -> Result<(crate::request::Request, Ws), String> {
        let send = match self.send {
            JsonTemplate::Array(list) => list,
            one => vec![one],
        };
        if send.is_empty() {
            return Err("`send` needs at least one message".into());
        }
        if self.count == Some(0) {
            return Err("`count` must be at least 1".into());
        }
        check_scheme(&self.url, &["ws://", "wss://", "http://", "https://"])?;
        Ok((
            handshake(self.url, self.query, self.headers),
            Ws {
                send,
                count: self.count,
                expect: self.expect,
            },
        ))
    }

    pub(crate) fn join(request: crate::request::Request, ws: Ws) -> RawWs {
        let send = match <[JsonTemplate; 1]>::try_from(ws.send) {
            // A lone array must stay wrapped, or it would read back as a list of messages.
            Ok([one]) if !matches!(one, JsonTemplate::Array(_)) => one,
            Ok([one]) => JsonTemplate::Array(vec![one]),
            Err(list) => JsonTemplate::Array(list),
        };
        RawWs {
            url: request.url,
            query: request.query,
            headers: request.headers,
            send,
            count: ws.count,
            expect: ws.expect,
        }
    }
}

fn handshake(
    url: Template,
    query: IndexMap<String, Template>,
    headers: IndexMap<String, Template>,
) -> crate::request::Request {
    crate::request::Request {
        method: crate::request::Method::default(),
        url,
        query,
        headers,
        body: None,
    }
}

/// A literal URL must use one of the kind's schemes; a templated one is checked when it runs.
fn check_scheme(url: &Template, schemes: &[&str]) -> Result<(), String> {
    let Some(u) = url.as_literal() else {
        return Ok(());
    };
    let lower = u.trim().to_ascii_lowercase();
    if schemes.iter().any(|s| lower.starts_with(s)) {
        return Ok(());
    }
    let (last, first) = schemes.split_last().unwrap_or((&"", &[]));
    Err(format!(
        "URL `{u}` must start with {} or {last}",
        first.join(", ")
    ))
}
