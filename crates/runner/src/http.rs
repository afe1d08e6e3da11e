//! HTTP/1.1 transport: each VU owns one keep-alive connection per origin, built on hyper's
//! `client::conn::http1` so connection counts are exact and no pool sits between the VU
//! and the socket. Closed connections are re-opened on the next request; a request that
//! fails on a reused connection before any response is retried once on a fresh one,
//! because the server may have closed the idle connection as we wrote to it.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::metrics::Category;
use crate::tls::Tls;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request got no (complete) response.
#[derive(Debug, Clone)]
pub struct TransportError {
    pub category: Category,
    pub message: String,
}

impl TransportError {
    pub fn new(category: Category, message: impl Into<String>) -> TransportError {
        TransportError {
            category,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(uri: &http::Uri) -> Result<Origin, TransportError> {
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(TransportError::new(
                    Category::Protocol,
                    format!("unsupported scheme `{other}` in {uri}"),
                ))
            }
            None => {
                return Err(TransportError::new(
                    Category::Protocol,
                    format!("`{uri}` is not an absolute http:// URL"),
                ))
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| TransportError::new(Category::Protocol, format!("`{uri}` has no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }
}

struct Conn {
    origin: Origin,
    sender: SendRequest<Full<Bytes>>,
}

/// Connection accounting the VU reports after each request.
#[derive(Default, Debug, Clone, Copy)]
pub struct ConnUse {
    pub opened: u64,
    pub reused: u64,
}

/// One VU's connections.
#[derive(Default)]
pub struct Client {
    conns: Vec<Conn>,
    /// The run's TLS client; without one, `https://` is refused.
    tls: Option<Tls>,
}

pub fn classify_io(e: &std::io::Error) -> Category {
    use std::io::ErrorKind::*;
    match e.kind() {
        TimedOut => Category::Timeout,
        // hyper reports malformed framing (a bad chunk size line, say) as invalid data.
        InvalidData | InvalidInput => Category::Protocol,
        _ => Category::Connect,
    }
}

pub fn classify_hyper(e: &hyper::Error) -> (Category, String) {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return (classify_io(io), format!("{e}: {io}"));
        }
        source = s.source();
    }
    if e.is_timeout() {
        (Category::Timeout, e.to_string())
    } else if e.is_canceled() || e.is_closed() || e.is_incomplete_message() {
        (Category::Connect, e.to_string())
    } else {
        (Category::Protocol, e.to_string())
    }
}

/// Opens a TCP connection to `origin` (resolving its host, within [`CONNECT_TIMEOUT`]).
pub async fn tcp_connect(origin: &Origin) -> Result<TcpStream, TransportError> {
    let addr = match origin.host.parse::<std::net::IpAddr>() {
        Ok(ip) => std::net::SocketAddr::new(ip, origin.port),
        Err(_) => {
            let mut addrs = tokio::net::lookup_host((origin.host.as_str(), origin.port))
                .await
                .map_err(|e| {
                    TransportError::new(
                        Category::Dns,
                        format!("cannot resolve {}: {e}", origin.host),
                    )
                })?;
            addrs.next().ok_or_else(|| {
                TransportError::new(Category::Dns, format!("{} has no address", origin.host))
            })?
        }
    };
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(TransportError::new(
                Category::Timeout,
                format!("connect to {addr} timed out"),
            ))
        }
        Ok(Err(e)) => {
            return Err(TransportError::new(
                classify_io(&e),
                format!("connect to {addr}: {e}"),
            ))
        }
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Opens a connection to `origin` (TLS for https) and starts its HTTP/1.1 driver task.
async fn connect(
    origin: &Origin,
    tls: Option<&Tls>,
) -> Result<SendRequest<Full<Bytes>>, TransportError> {
    let stream = tcp_connect(origin).await?;
    if !origin.https {
        return drive(origin, stream).await;
    }
    let Some(tls) = tls else {
        return Err(TransportError::new(
            Category::Tls,
            "https needs a TLS client, and this runner was built without one",
        ));
    };
    drive(origin, tls.handshake(origin, stream).await?).await
}

/// The HTTP/1.1 handshake on a connected stream, its driver spawned as a task.
async fn drive<S>(origin: &Origin, stream: S) -> Result<SendRequest<Full<Bytes>>, TransportError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| {
            TransportError::new(
                Category::Protocol,
                format!("handshake with {}:{}: {e}", origin.host, origin.port),
            )
        })?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

impl Client {
    pub fn new(tls: Option<Tls>) -> Client {
        Client {
            conns: Vec::new(),
            tls,
        }
    }

    /// Sends a request to `origin` and returns the response head; the body is the caller's
    /// to read (the connection is busy until it is read or dropped).
    pub async fn send(
        &mut self,
        origin: &Origin,
        mut make: impl FnMut() -> Request<Full<Bytes>>,
        usage: &mut ConnUse,
    ) -> Result<Response<Incoming>, TransportError> {
        let idx = self.conns.iter().position(|c| &c.origin == origin);
        let mut reused = false;
        let idx = match idx {
            Some(i) if !self.conns[i].sender.is_closed() => {
                // A keep-alive connection whose previous body was not fully read is not ready yet.
                if self.conns[i].sender.ready().await.is_ok() {
                    reused = true;
                    i
                } else {
                    self.conns.swap_remove(i);
                    self.open(origin, usage).await?
                }
            }
            Some(i) => {
                self.conns.swap_remove(i);
                self.open(origin, usage).await?
            }
            None => self.open(origin, usage).await?,
        };
        if reused {
            usage.reused += 1;
            match self.conns[idx].sender.send_request(make()).await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_canceled() || e.is_incomplete_message() || is_reset(&e) => {
                    self.conns.swap_remove(idx);
                    let idx = self.open(origin, usage).await?;
                    return self.conns[idx]
                        .sender
                        .send_request(make())
                        .await
                        .map_err(|e| {
                            let (c, m) = classify_hyper(&e);
                            TransportError::new(c, m)
                        });
                }
                Err(e) => {
                    self.conns.swap_remove(idx);
                    let (c, m) = classify_hyper(&e);
                    return Err(TransportError::new(c, m));
                }
            }
        }
        match self.conns[idx].sender.send_request(make()).await {
            Ok(r) => Ok(r),
            Err(e) => {
                self.conns.swap_remove(idx);
                let (c, m) = classify_hyper(&e);
                Err(TransportError::new(c, m))
            }
        }
    }

    /// Closes the connection to `origin`, if any: for a response abandoned before its end
    /// (an event stream read far enough), which leaves the connection unusable.
    pub fn discard(&mut self, origin: &Origin) {
        self.conns.retain(|c| &c.origin != origin);
    }

    async fn open(
        &mut self,
        origin: &Origin,
        usage: &mut ConnUse,
    ) -> Result<usize, TransportError> {
        let sender = connect(origin, self.tls.as_ref()).await?;
        usage.opened += 1;
        self.conns.push(Conn {
            origin: origin.clone(),
            sender,
        });
        Ok(self.conns.len() - 1)
    }
}

fn is_reset(e: &hyper::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
            );
        }
        source = s.source();
    }
    false
}

/// Reads a body up to `cap` bytes. Returns the bytes read (None when discarded) and the
/// total size; a body over the cap is an error (`body_too_large`).
pub async fn read_body(
    body: Incoming,
    keep: bool,
    cap: usize,
) -> Result<(Option<Bytes>, u64), TransportError> {
    let mut body = body;
    let mut total: u64 = 0;
    let mut first: Option<Bytes> = None;
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let (c, m) = classify_hyper(&e);
            TransportError::new(c, format!("reading body: {m}"))
        })?;
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
            if keep {
                if total as usize > cap {
                    return Err(TransportError::new(
                        Category::BodyTooLarge,
                        format!("response body over the {} MiB limit", cap / (1024 * 1024)),
                    ));
                }
                // The common case is a single frame: keep it without copying.
                match (&first, buf.is_empty()) {
                    (None, true) => first = Some(data),
                    _ => {
                        if let Some(f) = first.take() {
                            buf.extend_from_slice(&f);
                        }
                        buf.extend_from_slice(&data);
                    }
                }
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
