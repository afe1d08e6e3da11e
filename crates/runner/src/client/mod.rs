//! Bytes on sockets: a VU's user agent. Per-VU keep-alive connections (`connections`) over
//! our HTTP/1.1 wire protocol (`h1`) and TLS (`tls`), the cookie jar (`cookies`), `Host`
//! and URL credentials (`target`), redirects (`redirect`), and body decoding (`decode`),
//! joined by [`Agent::fetch`]. It knows no step, check or metric: failures are
//! [`TransportError`]s of an [`ErrorKind`], which the step layer maps to its categories.
//!
//! Uses nothing else in the crate.

mod agent;
mod connections;
pub mod cookies;
mod decode;
pub(crate) mod h1;
mod redirect;
mod target;
mod tls;

pub(crate) use agent::{Agent, Capture, Fetch, MAX_BODY_BYTES};
pub(crate) use connections::{tcp_connect, Client, ConnUse, Origin};
pub use cookies::CookieJar;
pub(crate) use target::{add_basic_auth, add_host, split_userinfo, FixedTarget};
pub(crate) use tls::Tls;
pub use tls::TlsOptions;

/// What went wrong on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Connect,
    Dns,
    Tls,
    Protocol,
    Timeout,
    BodyTooLarge,
    /// A redirect chain longer than the agent follows (usually a loop).
    TooManyRedirects,
}

/// Why a request got no (complete) response.
#[derive(Debug, Clone)]
pub struct TransportError {
    pub kind: ErrorKind,
    pub message: String,
}

impl TransportError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> TransportError {
        TransportError {
            kind,
            message: message.into(),
        }
    }
}

/// The kind of an I/O error on a connection.
pub fn classify_io(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind::*;
    match e.kind() {
        TimedOut => ErrorKind::Timeout,
        // TLS reports a malformed record as invalid data.
        InvalidData | InvalidInput => ErrorKind::Protocol,
        _ => ErrorKind::Connect,
    }
}
