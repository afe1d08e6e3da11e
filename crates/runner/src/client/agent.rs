//! A VU's user agent: its connections, cookie jar and origin cache, and [`Agent::fetch`],
//! which sends one request and follows its redirects as a browser does.

use bytes::Bytes;
use http::header::{COOKIE, HOST};
use http::{HeaderMap, Method, Uri};

use super::cookies::CookieJar;
use super::h1::Head;
use super::redirect::{resolve, Redirect, BODY_HEADERS, CREDENTIAL_HEADERS};
use super::target::{cookie_header, store_cookies, Targets};
use super::{Client, ConnUse, ErrorKind, FixedTarget, Origin, Tls, TransportError};

/// Response bodies read for checks and extractors are capped; bigger ones fail the step.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Redirects followed per request before giving up.
pub const MAX_REDIRECTS: usize = 10;

/// One request for [`Agent::fetch`], as a step rendered it.
pub struct Fetch<'a> {
    pub method: &'a Method,
    pub uri: Uri,
    /// The rendered head; None: `base`, the step's compiled one.
    pub head: Option<HeaderMap>,
    pub base: Option<&'a HeaderMap>,
    /// The first request's origin, path and head, computed once for a fixed URL.
    pub fixed: Option<&'a FixedTarget>,
    pub body: Bytes,
    pub follow_redirects: bool,
    /// The body's content is read (a check or extractor): a body that cannot be decoded
    /// then fails the request.
    pub needs_body: bool,
}

/// A VU's connections, cookie jar and the origin of the last URL it requested.
pub struct Agent {
    pub client: Client,
    pub jar: CookieJar,
    targets: Targets,
}

impl Agent {
    pub fn new(tls: Tls) -> Agent {
        Agent {
            client: Client::new(Some(tls)),
            jar: CookieJar::default(),
            targets: Targets::default(),
        }
    }

    /// Drops every connection and the origin cache: after a panic, one may be mid-exchange.
    pub fn reset(&mut self, tls: Tls) {
        self.client = Client::new(Some(tls));
        self.targets = Targets::default();
    }

    /// Keeps the cookies a response from `origin` for `path` sets.
    pub fn store_cookies<'a>(
        &mut self,
        set_cookies: impl Iterator<Item = &'a [u8]>,
        origin: &Origin,
        path: &str,
    ) {
        store_cookies(&mut self.jar, set_cookies, origin, path);
    }

    /// Adds `Host` (unless set) and the jar's cookies for `uri` to a request head.
    pub fn finish_head(&self, uri: &Uri, origin: &Origin, head: &mut HeaderMap) {
        super::add_host(uri, head);
        if let Some(v) = cookie_header(&self.jar, uri, origin) {
            head.insert(COOKIE, v);
        }
    }

    /// Sends a request, following redirects as browsers do, and reads the body when
    /// `keep(status)` asks for it (decoded from its `Content-Encoding`). Returns the final
    /// response's head, the body if kept, and the final URL; `usage` and `received` count
    /// connections and wire bytes; `capture` (tracing) gets every hop.
    pub async fn fetch(
        &mut self,
        req: Fetch<'_>,
        keep: impl Fn(u16) -> bool,
        usage: &mut ConnUse,
        received: &mut u64,
        mut capture: Option<&mut Capture>,
    ) -> Result<(Head, Option<Bytes>, Uri), TransportError> {
        let Fetch {
            method,
            mut uri,
            head: headers,
            base: fixed_base,
            fixed: fixed_target,
            mut body,
            follow_redirects,
            needs_body,
        } = req;
        let mut method = method.clone();
        let mut hops = 0;
        // The head the step rendered, else its compiled one; never copied: `Host` and the
        // jar's cookies go beside it into the request.
        let empty = HeaderMap::new();
        let base = headers.as_ref().or(fixed_base).unwrap_or(&empty);
        let mut user_host = base.contains_key(HOST);
        // The head of a redirected request, when it differs from the step's (credentials kept
        // from another origin, body headers dropped with the body); None: the step's.
        let mut redirected: Option<HeaderMap> = None;
        let mut first_origin: Option<Origin> = None;
        loop {
            // The first request to a fixed URL uses what was computed at compile time.
            let fixed = match (hops, &headers) {
                (0, None) => fixed_target,
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
                    (
                        &target.origin,
                        pq,
                        redirected.as_ref().unwrap_or(base),
                        host,
                    )
                }
            };
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
            let request = super::h1::Request {
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
            if redirect && follow_redirects && hops < MAX_REDIRECTS {
                if let Some(next) = location.and_then(|l| resolve(&uri, l)) {
                    let (_, n) = self.client.read_body(origin, false, MAX_BODY_BYTES).await?;
                    *received += n;
                    if hops == 0 {
                        // Kept only once there is a redirect: no copy on the request path.
                        first_origin = Some(origin.clone());
                    }
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
            if redirect && follow_redirects && resp.get("location").is_some() {
                // One more hop was asked for than we follow: a loop, most likely.
                return Err(TransportError::new(
                    ErrorKind::TooManyRedirects,
                    format!(
                        "stopped after {MAX_REDIRECTS} redirects; the last one ({status}) points to {}",
                        location.unwrap_or("?")
                    ),
                ));
            }
            let kept = keep(status) || capture.is_some();
            let (bytes, n) = self.client.read_body(origin, kept, MAX_BODY_BYTES).await?;
            *received += n;
            let bytes = match (bytes, resp.get("content-encoding")) {
                (Some(b), Some(coding)) => Some(decoded(coding, b, needs_body)?),
                (b, _) => b,
            };
            return Ok((resp, bytes, uri));
        }
    }
}

/// What a traced request sent and got, hop by hop (redirects, then the final request).
#[derive(Default)]
pub struct Capture {
    pub hops: Vec<Hop>,
}

pub struct Hop {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub response: Option<(u16, HeaderMap)>,
}

/// A kept body as checks and extractors read it: decoded from its `Content-Encoding`
/// (bounded by [`MAX_BODY_BYTES`]; `received` has already counted the wire bytes). A body
/// that cannot be decoded fails the request only when something needs its content; kept
/// for a trace or a failure snippet, it stays as it came.
fn decoded(coding: &[u8], body: Bytes, needed: bool) -> Result<Bytes, TransportError> {
    match super::decode::decode(coding, &body, MAX_BODY_BYTES) {
        Ok(Some(plain)) => Ok(plain),
        Ok(None) => Ok(body),
        Err(e @ super::decode::DecodeError::TooLarge { .. }) => {
            Err(TransportError::new(ErrorKind::BodyTooLarge, e.to_string()))
        }
        Err(_) if !needed => Ok(body),
        Err(e) => Err(TransportError::new(ErrorKind::Protocol, e.to_string())),
    }
}
