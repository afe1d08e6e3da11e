//! `sse` steps: a GET on the VU's own connection whose `text/event-stream` response is read
//! event by event, until the expected number of events, the end of the stream, or the
//! step's timeout. Each event's data is judged by the body checks; the gaps between events
//! (and the time to the first) are recorded per step.

use std::time::Instant;

use bytes::Bytes;
use http::Method;
use minijinja::Value;

use super::stream::{of, Head, Session};
use super::Failure;
use super::{Env, StepResult, User};
use crate::client::{Origin, MAX_BODY_BYTES};
use crate::plan::StepPlan;
use crate::report::metrics::Category;

/// Runs one `sse` step; `events` is how many to read (None: until the stream ends).
pub(crate) async fn step(
    user: &mut User,
    env: &Env<'_>,
    step: &StepPlan,
    ctx: &Value,
    events: Option<u64>,
) -> StepResult {
    let mut s = Session::new(step);
    if let Err(e) = read(user, env, step, ctx, events, &mut s).await {
        s.broke(e);
    }
    s.finish(user, env, ctx)
}

async fn read(
    user: &mut User,
    env: &Env<'_>,
    step: &StepPlan,
    ctx: &Value,
    events: Option<u64>,
    s: &mut Session<'_>,
) -> Result<(), Failure> {
    let deadline = s.deadline();
    let timeout = throng_ir::format_duration(step.timeout);
    let template =
        |e: String| Failure::new(Category::Template, format!("cannot build the request: {e}"));
    let (uri, auth) =
        crate::client::split_userinfo(step.build_uri(ctx).map_err(template)?).map_err(template)?;
    let mut head = step.render_headers(ctx).map_err(template)?;
    crate::client::add_basic_auth(&mut head, auth);
    let origin = Origin::of(&uri)?;
    user.agent.finish_head(&uri, &origin, &mut head);
    if env.trace.is_some() {
        s.traced = Some((uri.to_string(), head.clone()));
    }
    let pq = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
    let body = Bytes::new();
    let request = crate::client::h1::Request {
        method: &Method::GET,
        target: pq.as_str(),
        host: None,
        head: &head,
        cookie: None,
        body: &body,
    };
    let resp = tokio::time::timeout_at(
        deadline,
        user.agent.client.send(&origin, &request, &mut s.usage),
    )
    .await
    .map_err(|_| Failure::new(Category::Timeout, format!("no response within {timeout}")))??;
    let latency = s.start().elapsed();
    s.received += resp.len() as u64;
    user.agent
        .store_cookies(resp.values("set-cookie"), &origin, uri.path());
    let status = resp.status;
    let is_stream = resp
        .get("content-type")
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .map(str::to_ascii_lowercase);
    let head = Head {
        status,
        headers: resp.header_map(),
        latency,
        host: origin.host.clone(),
    };
    if !(200..300).contains(&status) {
        // Not a stream: read the (bounded) body so the failure shows what the server said.
        let read = user.agent.client.read_body(&origin, true, MAX_BODY_BYTES);
        let (bytes, n) = tokio::time::timeout_at(deadline, read)
            .await
            .unwrap_or(Ok((None, 0)))
            .unwrap_or((None, 0));
        s.received += n;
        s.head(head, bytes.as_ref(), ctx);
        return Ok(());
    }
    if !s.head(head, None, ctx) {
        user.agent.client.discard(&origin);
        return Ok(());
    }
    if is_stream.as_deref() != Some("text/event-stream") {
        user.agent.client.discard(&origin);
        return Err(Failure::new(
            Category::Protocol,
            format!(
                "expected an event stream, got content type {}",
                is_stream.as_deref().unwrap_or("(none)")
            ),
        ));
    }

    let mut parser = Parser::new(MAX_BODY_BYTES);
    let mut n: u64 = 0;
    let mut previous: Option<Instant> = None;
    let ended = loop {
        if events == Some(n) {
            break false;
        }
        let chunk =
            match tokio::time::timeout_at(deadline, user.agent.client.next_chunk(&origin)).await {
                Err(_) => {
                    user.agent.client.discard(&origin);
                    return Err(Failure::new(
                        Category::Timeout,
                        format!("{} events within {timeout}", of(n, events)),
                    ));
                }
                Ok(Err(e)) => {
                    return Err(Failure::new(
                        e.kind.into(),
                        format!(
                            "reading the stream after {} events: {}",
                            of(n, events),
                            e.message
                        ),
                    ));
                }
                Ok(Ok(None)) => break true,
                Ok(Ok(Some(chunk))) => chunk,
            };
        let now = Instant::now();
        s.received += chunk.len() as u64;
        parser.push(&chunk);
        while events != Some(n) {
            let data = match parser.next_event() {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) => {
                    user.agent.client.discard(&origin);
                    return Err(Failure::new(Category::BodyTooLarge, e));
                }
            };
            n += 1;
            s.arrived(env, previous, now);
            previous = Some(now);
            s.message(n, "event", data, ctx);
        }
    };
    if !ended {
        // Stopped reading a stream the server still holds open: the connection cannot
        // carry another request.
        user.agent.client.discard(&origin);
    }
    match events {
        Some(want) if n < want => Err(Failure::new(
            Category::StreamClosed,
            format!("the stream ended after {}", of(n, events)),
        )),
        _ => Ok(()),
    }
}

/// An incremental `text/event-stream` parser (HTML Living Standard, "Server-sent events"):
/// lines end with CRLF, LF or CR; `data:` lines accumulate; a blank line dispatches the
/// event if it has data; comments (`:`) and other fields are skipped. Only data is kept:
/// it is what checks and extractors read.
pub struct Parser {
    /// Unparsed bytes: at most a partial line once `next_event` returns None.
    buf: Vec<u8>,
    pos: usize,
    data: Vec<u8>,
    has_data: bool,
    /// The last line ended with CR, so a leading LF in the next chunk ends nothing.
    after_cr: bool,
    at_start: bool,
    cap: usize,
}

impl Parser {
    /// `cap` bounds one event (and one line) in bytes.
    pub fn new(cap: usize) -> Parser {
        Parser {
            buf: Vec::new(),
            pos: 0,
            data: Vec::new(),
            has_data: false,
            after_cr: false,
            at_start: true,
            cap,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The data of the next complete event, or None until more input arrives.
    pub fn next_event(&mut self) -> Result<Option<Bytes>, String> {
        loop {
            if self.at_start {
                let bom = "\u{feff}".as_bytes();
                if self.buf.len() < bom.len() && bom.starts_with(&self.buf) {
                    return Ok(None);
                }
                if self.buf.starts_with(bom) {
                    self.pos = bom.len();
                }
                self.at_start = false;
            }
            if self.after_cr && self.pos < self.buf.len() {
                if self.buf[self.pos] == b'\n' {
                    self.pos += 1;
                }
                self.after_cr = false;
            }
            let rest = &self.buf[self.pos..];
            let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                if rest.len() + self.data.len() > self.cap {
                    return Err(format!(
                        "an event over the {} MiB limit",
                        self.cap / (1024 * 1024)
                    ));
                }
                return Ok(None);
            };
            let cr = rest[end] == b'\r';
            let line_start = self.pos;
            self.pos += end + 1;
            if cr {
                if self.pos < self.buf.len() {
                    if self.buf[self.pos] == b'\n' {
                        self.pos += 1;
                    }
                } else {
                    self.after_cr = true;
                }
            }
            let line = &self.buf[line_start..line_start + end];
            if line.is_empty() {
                if !self.has_data {
                    continue;
                }
                self.has_data = false;
                // The data buffer ends with the LF added after its last line.
                self.data.pop();
                return Ok(Some(Bytes::from(std::mem::take(&mut self.data))));
            }
            let (field, value) = match line.iter().position(|&b| b == b':') {
                Some(0) => continue,
                Some(i) => {
                    let v = &line[i + 1..];
                    (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
                }
                None => (line, &[][..]),
            };
            if field == b"data" {
                if self.data.len() + value.len() > self.cap {
                    return Err(format!(
                        "an event over the {} MiB limit",
                        self.cap / (1024 * 1024)
                    ));
                }
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
                self.has_data = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<String> {
        let mut p = Parser::new(1024);
        let mut out = Vec::new();
        for c in chunks {
            p.push(c);
            while let Some(d) = p.next_event().unwrap() {
                out.push(String::from_utf8(d.to_vec()).unwrap());
            }
        }
        out
    }

    #[test]
    fn events_split_anywhere_parse_the_same() {
        let text = b"\xef\xbb\xbf: comment\nid: 1\ndata: {\"a\":1}\n\nevent: x\ndata:two\r\ndata: lines\r\n\r\ndata\n\nretry: 5\n\n";
        let whole = all(&[text]);
        assert_eq!(whole, vec!["{\"a\":1}", "two\nlines", ""]);
        for cut in 1..text.len() {
            assert_eq!(all(&[&text[..cut], &text[cut..]]), whole, "cut at {cut}");
        }
        // Bare CR line endings, split between CR and LF of a CRLF too.
        assert_eq!(all(&[b"data: a\r\r"]), vec!["a"]);
        assert_eq!(all(&[b"data: a\r", b"\n\r", b"\n"]), vec!["a"]);
    }

    #[test]
    fn an_unterminated_event_is_not_dispatched_and_oversize_fails() {
        assert!(all(&[b"data: partial\n"]).is_empty());
        let mut p = Parser::new(8);
        p.push(b"data: 0123456789\n\n");
        assert!(p.next_event().is_err());
    }
}
