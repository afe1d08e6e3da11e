//! A VU's connections: one keep-alive connection per origin (the wire protocol is
//! [`super::h1`]), so connection counts are exact and no pool sits between the VU and the
//! socket. Closed connections are re-opened on the next request; a request that fails on a
//! reused connection before any byte of a response is retried once on a fresh one, because
//! the server may have closed the idle connection as we wrote to it.

use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;

use super::h1::{Conn, Head, Request, SendError, Stream};
use super::tls::Tls;
use super::{classify_io, ErrorKind, TransportError};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
                    ErrorKind::Protocol,
                    format!("unsupported scheme `{other}` in {uri}"),
                ))
            }
            None => {
                return Err(TransportError::new(
                    ErrorKind::Protocol,
                    format!("`{uri}` is not an absolute http:// URL"),
                ))
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| {
                TransportError::new(ErrorKind::Protocol, format!("`{uri}` has no host"))
            })?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }
}

struct Entry {
    origin: Origin,
    conn: Conn,
}

/// Connection accounting the VU reports after each request.
#[derive(Default, Debug, Clone, Copy)]
pub struct ConnUse {
    pub opened: u64,
    pub reused: u64,
    /// Request bytes written to sockets in full.
    pub sent: u64,
}

/// One VU's connections.
#[derive(Default)]
pub struct Client {
    conns: Vec<Entry>,
    /// The run's TLS client; without one, `https://` is refused.
    tls: Option<Tls>,
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
                        ErrorKind::Dns,
                        format!("cannot resolve {}: {e}", origin.host),
                    )
                })?;
            addrs.next().ok_or_else(|| {
                TransportError::new(ErrorKind::Dns, format!("{} has no address", origin.host))
            })?
        }
    };
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(TransportError::new(
                ErrorKind::Timeout,
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

/// Opens a connection to `origin`, TLS for https.
async fn connect(origin: &Origin, tls: Option<&Tls>) -> Result<Conn, TransportError> {
    let stream = tcp_connect(origin).await?;
    if !origin.https {
        return Ok(Conn::new(Stream::Plain(stream)));
    }
    let Some(tls) = tls else {
        return Err(TransportError::new(
            ErrorKind::Tls,
            "https needs a TLS client, and this runner was built without one",
        ));
    };
    let stream = tls.handshake(origin, stream).await?;
    Ok(Conn::new(Stream::Tls(Box::new(stream))))
}

impl Client {
    pub fn new(tls: Option<Tls>) -> Client {
        Client {
            conns: Vec::new(),
            tls,
        }
    }

    /// Sends a request to `origin` and returns the response head; the body is then read
    /// with [`Client::read_body`] or [`Client::next_chunk`] (the connection is busy until
    /// it is read to its end).
    pub async fn send(
        &mut self,
        origin: &Origin,
        req: &Request<'_>,
        usage: &mut ConnUse,
    ) -> Result<Head, TransportError> {
        let found = self.conns.iter().position(|c| &c.origin == origin);
        let (idx, reused) = match found {
            Some(i) if self.conns[i].conn.is_idle() => (i, true),
            Some(i) => {
                // Closing, or left in the middle of an exchange (a timeout, a body not read).
                self.conns.swap_remove(i);
                (self.open(origin, usage).await?, false)
            }
            None => (self.open(origin, usage).await?, false),
        };
        if reused {
            usage.reused += 1;
        }
        let sent = self.conns[idx].conn.send(req).await;
        usage.sent += self.conns[idx].conn.written();
        match sent {
            Ok(head) => Ok(head),
            Err(SendError::Stale(_)) if reused => {
                self.conns.swap_remove(idx);
                let idx = self.open(origin, usage).await?;
                let sent = self.conns[idx].conn.send(req).await;
                usage.sent += self.conns[idx].conn.written();
                sent.map_err(|e| {
                    self.conns.swap_remove(idx);
                    e.into_inner()
                })
            }
            Err(e) => {
                self.conns.swap_remove(idx);
                Err(e.into_inner())
            }
        }
    }

    /// Reads the body of the response just received from `origin`, up to `cap` bytes: the
    /// bytes (None when discarded) and the total size. A kept body over the cap is an error
    /// (`body_too_large`).
    pub async fn read_body(
        &mut self,
        origin: &Origin,
        keep: bool,
        cap: usize,
    ) -> Result<(Option<Bytes>, u64), TransportError> {
        let Some(i) = self.conns.iter().position(|c| &c.origin == origin) else {
            return Ok((keep.then(Bytes::new), 0));
        };
        let read = self.conns[i].conn.read_body(keep, cap).await;
        self.settle(i, read.is_ok());
        read
    }

    /// The next piece of the body of the response just received from `origin`, as it
    /// arrives; None at its end.
    pub async fn next_chunk(&mut self, origin: &Origin) -> Result<Option<Bytes>, TransportError> {
        let Some(i) = self.conns.iter().position(|c| &c.origin == origin) else {
            return Ok(None);
        };
        let read = self.conns[i].conn.next_chunk(true).await;
        if !matches!(read, Ok(Some(_))) {
            self.settle(i, read.is_ok());
        }
        read.map(|piece| piece.map(|(bytes, _)| bytes))
    }

    /// Drops connection `i` unless it can carry another request.
    fn settle(&mut self, i: usize, ok: bool) {
        if !ok || !self.conns[i].conn.is_idle() {
            self.conns.swap_remove(i);
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
        let conn = connect(origin, self.tls.as_ref()).await?;
        usage.opened += 1;
        self.conns.push(Entry {
            origin: origin.clone(),
            conn,
        });
        Ok(self.conns.len() - 1)
    }
}
