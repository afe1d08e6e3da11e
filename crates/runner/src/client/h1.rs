//! The HTTP/1.1 wire protocol of one client connection: writes a request, parses the response
//! head with `httparse`, and reads the body by its framing (length, chunked, or until close).
//!
//! This replaces hyper's client connection on the request path. hyper builds a `HeaderMap`
//! for every response, passes each request and response between the VU and a connection
//! task, and frames the body through a channel; with nginx's eight-header responses that was
//! half of throng's user-space instructions per request (callgrind, `bench/README.md`). Here a
//! response head stays the bytes it arrived as, with the offsets of its headers; a
//! `HeaderMap` is built only when a check, an extractor, a failure message or the trace
//! reads one, and the VU's own task does the reading.

use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::{classify_io, ErrorKind, TransportError};

/// Headers in one response head; more is refused (hyper's limit too).
const MAX_HEADERS: usize = 100;
/// Bytes in one response head.
const MAX_HEAD_BYTES: usize = 256 * 1024;
/// A chunk-size line (with extensions) or a trailer line.
const MAX_LINE_BYTES: usize = 4096;
const READ_CHUNK: usize = 8 * 1024;

/// A connected socket, plain or TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// What a request needs on the wire.
pub struct Request<'a> {
    pub method: &'a Method,
    pub target: &'a str,
    /// A `Host` header to write ahead of `head` (which then has none): the target's, kept
    /// apart like `cookie` so that a step's head is borrowed, not copied per request.
    pub host: Option<&'a HeaderValue>,
    pub head: &'a HeaderMap,
    /// The cookie jar's `Cookie` header, which replaces any in `head` (kept apart so that a
    /// step's compiled head is written as it is, not copied per request).
    pub cookie: Option<&'a HeaderValue>,
    pub body: &'a Bytes,
}

/// A response head as received: the bytes and where each header sits in them.
pub struct Head {
    pub status: u16,
    raw: Bytes,
    headers: Vec<(Range<usize>, Range<usize>)>,
}

impl Head {
    /// Bytes of the head on the wire, status line to blank line.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// The values of header `name` (any case), in order.
    pub fn values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| self.raw[n.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| &self.raw[v.clone()])
    }

    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a [u8]> {
        self.values(name).next()
    }

    /// The header names as they arrived, in order.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.headers.iter().map(|(n, _)| &self.raw[n.clone()])
    }

    /// The headers as a `HeaderMap`, for whatever reads them.
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.headers.len());
        for (n, v) in &self.headers {
            // httparse has checked the syntax; these conversions only fail on bytes it allows
            // and `http` does not (obs-text in names), which are dropped rather than fatal.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(&self.raw[n.clone()]),
                HeaderValue::from_maybe_shared(self.raw.slice(v.clone())),
            ) {
                map.append(name, value);
            }
        }
        map
    }
}

/// How the rest of the current response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// No response body is being read.
    Done,
    Length(u64),
    /// Chunked: in the size line, in a chunk's data, after a chunk's data, or in trailers.
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    UntilClose,
}

/// One HTTP/1.1 connection.
pub struct Conn {
    stream: Stream,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    body: Body,
    /// Between writing a request and reading the end of its response. A connection left
    /// like this (a timed-out or abandoned exchange) cannot carry another request.
    busy: bool,
    /// The server will close after this response (or already has).
    closing: bool,
    /// Bytes of the last request that reached the socket (0 until its write completed):
    /// what `bytes_sent` counts, not what was meant to be sent.
    written: u64,
}

/// Why a request on a reused connection may be sent again on a fresh one: the server closed
/// the idle connection as we wrote to it, before any byte of a response. As in browsers
/// (Chromium resends on a reused connection that fails before the response head, whatever
/// the method), the request is resent once: a keep-alive timeout on the server must not
/// fail every POST that follows an idle pause, at the rare cost of a request the server read
/// and then dropped the connection on without answering being sent twice.
pub enum SendError {
    Stale(TransportError),
    Failed(TransportError),
}

impl SendError {
    pub fn into_inner(self) -> TransportError {
        match self {
            SendError::Stale(e) | SendError::Failed(e) => e,
        }
    }
}

impl Conn {
    pub fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: Vec::with_capacity(512),
            body: Body::Done,
            busy: false,
            written: 0,
            closing: false,
        }
    }

    /// Bytes of the last request written to the socket in full (0 when its write failed).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Ready for a request: the last response was read to its end and the server keeps the
    /// connection open.
    pub fn is_idle(&self) -> bool {
        // Bytes nobody asked for would be taken for the next response's head.
        !self.busy && !self.closing && self.rbuf.is_empty()
    }

    /// Writes `req` and reads the response head; the body is then read with
    /// [`Conn::read_body`] or [`Conn::next_chunk`].
    pub async fn send(&mut self, req: &Request<'_>) -> Result<Head, SendError> {
        self.busy = true;
        self.body = Body::Done;
        self.written = 0;
        encode(req, &mut self.wbuf);
        let size = (self.wbuf.len() + req.body.len()) as u64;
        let written = if req.body.len() <= 64 * 1024 {
            self.wbuf.extend_from_slice(req.body);
            self.stream.write_all(&self.wbuf).await
        } else {
            match self.stream.write_all(&self.wbuf).await {
                Ok(()) => self.stream.write_all(req.body).await,
                Err(e) => Err(e),
            }
        };
        // TLS may hold the end of the request in its buffer until flushed (a no-op on TCP).
        let written = match written {
            Ok(()) => self.stream.flush().await,
            e => e,
        };
        if let Err(e) = written {
            let err = TransportError::new(classify_io(&e), format!("sending the request: {e}"));
            return Err(if is_reset(&e) {
                SendError::Stale(err)
            } else {
                SendError::Failed(err)
            });
        }
        self.written = size;
        self.read_head(req.method).await
    }

    async fn read_head(&mut self, method: &Method) -> Result<Head, SendError> {
        let mut received_any = !self.rbuf.is_empty();
        loop {
            if !self.rbuf.is_empty() {
                if let Some(head) = self.parse_head(method).map_err(SendError::Failed)? {
                    return Ok(head);
                }
                if self.rbuf.len() > MAX_HEAD_BYTES {
                    return Err(SendError::Failed(TransportError::new(
                        ErrorKind::Protocol,
                        format!("response head over {} KiB", MAX_HEAD_BYTES / 1024),
                    )));
                }
            }
            self.rbuf.reserve(READ_CHUNK);
            match self.stream.read_buf(&mut self.rbuf).await {
                Ok(0) => {
                    self.closing = true;
                    let err = TransportError::new(
                        ErrorKind::Connect,
                        if received_any {
                            "connection closed in the middle of the response head"
                        } else {
                            "connection closed before a response"
                        },
                    );
                    return Err(if received_any {
                        SendError::Failed(err)
                    } else {
                        SendError::Stale(err)
                    });
                }
                Ok(_) => received_any = true,
                Err(e) => {
                    self.closing = true;
                    let err =
                        TransportError::new(classify_io(&e), format!("reading the response: {e}"));
                    return Err(if !received_any && is_reset(&e) {
                        SendError::Stale(err)
                    } else {
                        SendError::Failed(err)
                    });
                }
            }
        }
    }

    /// A complete head at the front of the read buffer, taken off it; None: incomplete.
    fn parse_head(&mut self, method: &Method) -> Result<Option<Head>, TransportError> {
        loop {
            let mut slots =
                [const { std::mem::MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut []);
            let parsed = httparse::ParserConfig::default()
                .allow_spaces_after_header_name_in_responses(true)
                .allow_obsolete_multiline_headers_in_responses(true)
                .parse_response_with_uninit_headers(&mut resp, &self.rbuf, &mut slots);
            let n = match parsed {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(TransportError::new(
                        ErrorKind::Protocol,
                        format!("response head with more than {MAX_HEADERS} headers"),
                    ))
                }
                Err(e) => {
                    return Err(TransportError::new(
                        ErrorKind::Protocol,
                        format!("malformed response head: {e}"),
                    ))
                }
            };
            let status = resp.code.unwrap_or(0);
            if (100..200).contains(&status) {
                if status == 101 {
                    return Err(TransportError::new(
                        ErrorKind::Protocol,
                        "unexpected 101 Switching Protocols",
                    ));
                }
                // An interim response (100 Continue, 103 Early Hints): the final one follows.
                self.rbuf.advance(n);
                continue;
            }
            let base = self.rbuf.as_ptr() as usize;
            let offset = |s: &[u8]| {
                let start = s.as_ptr() as usize - base;
                start..start + s.len()
            };
            let headers: Vec<(Range<usize>, Range<usize>)> = resp
                .headers
                .iter()
                .map(|h| (offset(h.name.as_bytes()), offset(h.value)))
                .collect();
            let http10 = resp.version == Some(0);
            let mut length: Option<u64> = None;
            let mut chunked = false;
            let mut encoded = false;
            let mut close = false;
            let mut keep_alive = false;
            for h in resp.headers.iter() {
                let name = h.name.as_bytes();
                if name.eq_ignore_ascii_case(b"content-length") {
                    let v = std::str::from_utf8(h.value)
                        .ok()
                        .map(str::trim)
                        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|v| v.parse::<u64>().ok())
                        .ok_or_else(|| {
                            TransportError::new(
                                ErrorKind::Protocol,
                                format!(
                                    "invalid content-length `{}`",
                                    String::from_utf8_lossy(h.value)
                                ),
                            )
                        })?;
                    if length.is_some_and(|l| l != v) {
                        return Err(TransportError::new(
                            ErrorKind::Protocol,
                            "conflicting content-length headers",
                        ));
                    }
                    length = Some(v);
                } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                    encoded = true;
                    // Chunked must be the last coding; anything after it is read until close.
                    chunked = h
                        .value
                        .rsplit(|b| *b == b',')
                        .next()
                        .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
                } else if name.eq_ignore_ascii_case(b"connection") {
                    for token in h.value.split(|b| *b == b',') {
                        let token = token.trim_ascii();
                        close |= token.eq_ignore_ascii_case(b"close");
                        keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                    }
                }
            }
            // Both framings at once is how request smuggling starts: read by the chunks and
            // do not trust the connection afterwards (RFC 9112, 6.3).
            self.closing =
                close || (http10 && (!keep_alive || encoded)) || (encoded && length.is_some());
            self.body = if *method == Method::HEAD || status == 204 || status == 304 {
                Body::Done
            } else if encoded {
                if chunked {
                    Body::ChunkSize
                } else {
                    Body::UntilClose
                }
            } else {
                match length {
                    Some(0) => Body::Done,
                    Some(l) => Body::Length(l),
                    None => Body::UntilClose,
                }
            };
            if self.body == Body::UntilClose {
                self.closing = true;
            }
            let raw = self.rbuf.split_to(n).freeze();
            if self.body == Body::Done {
                self.busy = false;
            }
            return Ok(Some(Head {
                status,
                raw,
                headers,
            }));
        }
    }

    /// The next piece of the body as it arrives; None at its end. With `keep` false the
    /// bytes are dropped and an empty piece of the right length is reported.
    pub async fn next_chunk(
        &mut self,
        keep: bool,
    ) -> Result<Option<(Bytes, usize)>, TransportError> {
        loop {
            match self.body {
                Body::Done => {
                    self.busy = false;
                    return Ok(None);
                }
                Body::Length(rest) | Body::ChunkData(rest) => {
                    if self.rbuf.is_empty() {
                        self.fill("the body").await?;
                        if self.rbuf.is_empty() {
                            return Err(TransportError::new(
                                ErrorKind::Connect,
                                format!(
                                    "connection closed {rest} bytes before the end of the body"
                                ),
                            ));
                        }
                    }
                    let n = rest.min(self.rbuf.len() as u64) as usize;
                    let piece = self.take(n, keep);
                    let left = rest - n as u64;
                    self.body = match (self.body, left) {
                        (Body::Length(_), 0) => Body::Done,
                        (Body::Length(_), l) => Body::Length(l),
                        (_, 0) => Body::ChunkEnd,
                        (_, l) => Body::ChunkData(l),
                    };
                    return Ok(Some((piece, n)));
                }
                Body::UntilClose => {
                    if self.rbuf.is_empty() {
                        self.fill("the body").await?;
                        if self.rbuf.is_empty() {
                            self.body = Body::Done;
                            continue;
                        }
                    }
                    let n = self.rbuf.len();
                    return Ok(Some((self.take(n, keep), n)));
                }
                Body::ChunkSize => {
                    let line = self.line().await?;
                    let digits = line
                        .split(|b| *b == b';')
                        .next()
                        .unwrap_or_default()
                        .trim_ascii();
                    let size = std::str::from_utf8(digits)
                        .ok()
                        .filter(|d| {
                            !d.is_empty()
                                && d.len() <= 16
                                && d.bytes().all(|b| b.is_ascii_hexdigit())
                        })
                        .and_then(|d| u64::from_str_radix(d, 16).ok())
                        .ok_or_else(|| {
                            TransportError::new(
                                ErrorKind::Protocol,
                                format!(
                                    "invalid chunk size line `{}`",
                                    String::from_utf8_lossy(&line).trim()
                                ),
                            )
                        })?;
                    self.body = if size == 0 {
                        Body::Trailers
                    } else {
                        Body::ChunkData(size)
                    };
                }
                Body::ChunkEnd => {
                    let line = self.line().await?;
                    if !line.is_empty() {
                        return Err(TransportError::new(
                            ErrorKind::Protocol,
                            "chunk data longer than its size",
                        ));
                    }
                    self.body = Body::ChunkSize;
                }
                Body::Trailers => {
                    if self.line().await?.is_empty() {
                        self.body = Body::Done;
                    }
                }
            }
        }
    }

    /// Reads the body up to `cap` bytes: the bytes (None when discarded) and the total size.
    /// A kept body over the cap is an error (`body_too_large`).
    pub async fn read_body(
        &mut self,
        keep: bool,
        cap: usize,
    ) -> Result<(Option<Bytes>, u64), TransportError> {
        let mut total: u64 = 0;
        let mut first: Option<Bytes> = None;
        let mut buf: Vec<u8> = Vec::new();
        while let Some((piece, n)) = self.next_chunk(keep).await? {
            total += n as u64;
            if !keep {
                continue;
            }
            if total as usize > cap {
                return Err(TransportError::new(
                    ErrorKind::BodyTooLarge,
                    format!("response body over the {} MiB limit", cap / (1024 * 1024)),
                ));
            }
            // The common case is a body that arrived in one piece: kept without copying.
            match first.take() {
                None if buf.is_empty() => first = Some(piece),
                f => {
                    if let Some(f) = f {
                        buf.extend_from_slice(&f);
                    }
                    buf.extend_from_slice(&piece);
                }
            }
        }
        if !keep {
            return Ok((None, total));
        }
        Ok((
            Some(if buf.is_empty() {
                first.unwrap_or_default()
            } else {
                Bytes::from(buf)
            }),
            total,
        ))
    }

    fn take(&mut self, n: usize, keep: bool) -> Bytes {
        if keep {
            self.rbuf.split_to(n).freeze()
        } else {
            self.rbuf.advance(n);
            Bytes::new()
        }
    }

    /// Reads more into the buffer; nothing added means the server closed the connection.
    async fn fill(&mut self, what: &str) -> Result<(), TransportError> {
        // Topped up only when nearly full: the head (and kept pieces) still share the buffer,
        // so growing it now would mean a new allocation instead of reusing it next request.
        if self.rbuf.capacity() - self.rbuf.len() < 1024 {
            self.rbuf.reserve(READ_CHUNK);
        }
        match self.stream.read_buf(&mut self.rbuf).await {
            Ok(0) => {
                self.closing = true;
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => {
                self.closing = true;
                Err(TransportError::new(
                    classify_io(&e),
                    format!("reading {what}: {e}"),
                ))
            }
        }
    }

    /// One CRLF-terminated line of chunked framing, without its line end.
    async fn line(&mut self) -> Result<Bytes, TransportError> {
        loop {
            if let Some(end) = self.rbuf.iter().position(|b| *b == b'\n') {
                let mut line = self.rbuf.split_to(end + 1).freeze();
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                return Ok(line);
            }
            if self.rbuf.len() > MAX_LINE_BYTES {
                return Err(TransportError::new(
                    ErrorKind::Protocol,
                    format!("chunked framing line over {MAX_LINE_BYTES} bytes"),
                ));
            }
            let before = self.rbuf.len();
            self.fill("the chunked body").await?;
            if self.rbuf.len() == before {
                return Err(TransportError::new(
                    ErrorKind::Connect,
                    "connection closed in the middle of a chunked body",
                ));
            }
        }
    }
}

/// The request line and head, ready for the body.
fn encode(req: &Request<'_>, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(req.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut line = |name: &http::HeaderName, value: &HeaderValue| {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    if let Some(host) = req.host {
        line(&http::header::HOST, host);
    }
    for (name, value) in req.head {
        // The framing is the body's own, whatever the head says: a stale `content-length`
        // (kept across a redirect that dropped the body, say) would desynchronize the
        // connection, and bodies are never sent chunked.
        let framing =
            name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING;
        if !framing && (req.cookie.is_none() || name != http::header::COOKIE) {
            line(name, value);
        }
    }
    if let Some(cookie) = req.cookie {
        line(&http::header::COOKIE, cookie);
    }
    // A body's length, and an explicit zero where a body is expected (servers may answer
    // 411 Length Required without one).
    let expects_body = matches!(*req.method, Method::POST | Method::PUT | Method::PATCH);
    if !req.body.is_empty() || expects_body {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(req.body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The ways a connection the server closed while it sat idle fails: a reset, a broken pipe,
/// or (TLS without `close_notify`) an unexpected end of stream.
fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A one-connection loopback server: answers each request it reads with the next canned
    /// response (byte by byte when `trickle`), then closes. Returns the requests it read.
    fn serve(
        responses: Vec<&'static [u8]>,
        trickle: bool,
    ) -> (std::net::SocketAddr, std::thread::JoinHandle<Vec<Vec<u8>>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut requests = Vec::new();
            for response in responses {
                let mut req = Vec::new();
                let mut byte = [0u8; 1];
                while !req.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                    req.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&req).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                let mut body = vec![0u8; length];
                conn.read_exact(&mut body).unwrap();
                req.extend_from_slice(&body);
                requests.push(req);
                if trickle {
                    for b in response {
                        conn.write_all(&[*b]).unwrap();
                        conn.flush().unwrap();
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                } else {
                    conn.write_all(response).unwrap();
                }
            }
            requests
        });
        (addr, server)
    }

    async fn connect(addr: std::net::SocketAddr) -> Conn {
        Conn::new(Stream::Plain(TcpStream::connect(addr).await.unwrap()))
    }

    fn head(host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, HeaderValue::from_str(host).unwrap());
        h
    }

    fn get<'a>(head: &'a HeaderMap, body: &'a Bytes) -> Request<'a> {
        Request {
            method: &Method::GET,
            target: "/",
            host: None,
            head,
            cookie: None,
            body,
        }
    }

    async fn exchange(
        conn: &mut Conn,
        method: Method,
        body: &'static [u8],
    ) -> Result<(u16, Option<Bytes>), TransportError> {
        let h = head("t");
        let body = Bytes::from_static(body);
        let req = Request {
            method: &method,
            target: "/x?y=1",
            host: None,
            head: &h,
            cookie: None,
            body: &body,
        };
        let head = conn.send(&req).await.map_err(SendError::into_inner)?;
        let (bytes, _) = conn.read_body(true, 1 << 20).await?;
        Ok((head.status, bytes))
    }

    #[tokio::test]
    async fn keep_alive_length_and_chunked_bodies_share_one_connection() {
        let (addr, server) = serve(
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\nhello",
                b"HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-trailer: y\r\n\r\n",
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
            ],
            false,
        );
        let mut conn = connect(addr).await;
        let h = head("t");
        let body = Bytes::from_static(b"abc");
        let req = Request {
            method: &Method::POST,
            target: "/x?y=1",
            host: None,
            head: &h,
            cookie: None,
            body: &body,
        };
        let first = conn
            .send(&req)
            .await
            .map_err(SendError::into_inner)
            .unwrap();
        assert_eq!(first.status, 200);
        assert_eq!(
            first.values("set-cookie").collect::<Vec<_>>(),
            [b"a=1", b"b=2"]
        );
        assert_eq!(first.header_map().get_all("set-cookie").iter().count(), 2);
        assert_eq!(first.len(), 17 + 19 + 17 + 17 + 2);
        let (bytes, n) = conn.read_body(true, 1 << 20).await.unwrap();
        assert_eq!((bytes.as_deref(), n), (Some(&b"hello"[..]), 5));
        assert!(conn.is_idle());

        assert_eq!(
            exchange(&mut conn, Method::GET, b"").await.unwrap(),
            (201, Some(Bytes::from_static(b"abcde")))
        );
        assert!(conn.is_idle(), "trailers read to the end");
        // An interim 100 is skipped; a 204 has no body whatever its headers say.
        assert_eq!(exchange(&mut conn, Method::GET, b"").await.unwrap().0, 204);
        assert!(conn.is_idle());
        // Nor has the response to a HEAD.
        assert_eq!(
            exchange(&mut conn, Method::HEAD, b"").await.unwrap(),
            (200, Some(Bytes::new()))
        );
        assert!(conn.is_idle());

        let requests = server.join().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&requests[0]),
            "POST /x?y=1 HTTP/1.1\r\nhost: t\r\ncontent-length: 3\r\n\r\nabc"
        );
        assert_eq!(
            String::from_utf8_lossy(&requests[1]),
            "GET /x?y=1 HTTP/1.1\r\nhost: t\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn the_body_frames_the_request_whatever_the_head_says() {
        let (addr, server) = serve(vec![b"HTTP/1.1 204 No Content\r\n\r\n"], false);
        let mut conn = connect(addr).await;
        let mut h = head("t");
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("1"));
        h.insert(
            http::header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        let body = Bytes::from_static(b"abc");
        let req = Request {
            method: &Method::POST,
            target: "/",
            host: None,
            head: &h,
            cookie: None,
            body: &body,
        };
        let head = conn
            .send(&req)
            .await
            .map_err(SendError::into_inner)
            .unwrap();
        assert_eq!(head.status, 204);
        assert_eq!(
            String::from_utf8_lossy(&server.join().unwrap()[0]),
            "POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 3\r\n\r\nabc"
        );
    }

    #[tokio::test]
    async fn a_head_and_body_arriving_byte_by_byte_are_assembled() {
        let (addr, _server) = serve(
            vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\n\r\n"],
            true,
        );
        let mut conn = connect(addr).await;
        assert_eq!(
            exchange(&mut conn, Method::GET, b"").await.unwrap(),
            (200, Some(Bytes::from_static(b"wiki")))
        );
        assert!(conn.is_idle());
    }

    #[tokio::test]
    async fn a_body_until_close_connection_close_and_http_1_0_end_the_connection() {
        for (response, body) in [
            (&b"HTTP/1.1 200 OK\r\n\r\nto the end"[..], &b"to the end"[..]),
            (b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nok", b"ok"),
            // HTTP/1.0 without keep-alive, or with a transfer coding.
            (b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok", b"ok"),
            (
                b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                b"ok",
            ),
            // Both framings: read by the chunks, then not trusted.
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                b"ok",
            ),
        ] {
            let (addr, _server) = serve(vec![response], false);
            let mut conn = connect(addr).await;
            assert_eq!(
                exchange(&mut conn, Method::GET, b"").await.unwrap(),
                (200, Some(Bytes::copy_from_slice(body)))
            );
            assert!(!conn.is_idle(), "{}", String::from_utf8_lossy(response));
        }
    }

    #[tokio::test]
    async fn malformed_framing_is_a_protocol_error_and_a_short_body_a_connect_error() {
        for (response, kind, says) in [
            (
                &b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok"[..],
                ErrorKind::Protocol,
                "conflicting content-length",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
                ErrorKind::Protocol,
                "invalid content-length",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nok",
                ErrorKind::Protocol,
                "invalid content-length",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n+2\r\nok\r\n0\r\n\r\n",
                ErrorKind::Protocol,
                "invalid chunk size line `+2`",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
                ErrorKind::Protocol,
                "invalid chunk size line `zz`",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokay\r\n",
                ErrorKind::Protocol,
                "chunk data longer than its size",
            ),
            (
                b"not http\r\n\r\n",
                ErrorKind::Protocol,
                "malformed response head",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
                ErrorKind::Connect,
                "5 bytes before the end of the body",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-le",
                ErrorKind::Connect,
                "middle of the response head",
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                ErrorKind::Protocol,
                "unexpected 101",
            ),
        ] {
            let (addr, _server) = serve(vec![response], false);
            let mut conn = connect(addr).await;
            let e = exchange(&mut conn, Method::GET, b"").await.unwrap_err();
            assert_eq!(e.kind, kind, "{}", e.message);
            assert!(e.message.contains(says), "{} lacks {says}", e.message);
        }
    }

    #[tokio::test]
    async fn a_kept_body_over_the_cap_is_refused_and_a_discarded_one_counted() {
        let (addr, _server) = serve(
            vec![
                b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n123456",
                b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n123456",
            ],
            false,
        );
        let mut conn = connect(addr).await;
        let (h, body) = (head("t"), Bytes::new());
        let req = get(&h, &body);
        conn.send(&req)
            .await
            .map_err(SendError::into_inner)
            .unwrap();
        assert_eq!(conn.read_body(false, 4).await.unwrap(), (None, 6));
        conn.send(&req)
            .await
            .map_err(SendError::into_inner)
            .unwrap();
        let e = conn.read_body(true, 4).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::BodyTooLarge);
    }

    #[tokio::test]
    async fn a_connection_closed_before_any_response_is_stale() {
        let (addr, server) = serve(vec![], false);
        let mut conn = connect(addr).await;
        server.join().unwrap();
        let (h, body) = (head("t"), Bytes::new());
        let req = get(&h, &body);
        assert!(matches!(conn.send(&req).await, Err(SendError::Stale(_))));
    }
}
