//! Where a request goes: the origin and `Host` of its URL (cached for the last one), the
//! credentials a URL carries, and the jar's cookies for it.

use std::time::SystemTime;

use http::header::{HeaderValue, HOST};
use http::{HeaderMap, Uri};

use super::cookies::CookieJar;
use super::{ErrorKind, Origin, TransportError};

/// What a request to a fixed URL needs, computed once per step: its origin, path and the
/// head with `Host`.
pub struct FixedTarget {
    pub origin: Origin,
    pub pq: http::uri::PathAndQuery,
    pub head: HeaderMap,
}

/// Takes credentials out of a URL's authority (`http://user:pw@host/`): the URL without
/// them, and the `Authorization: Basic` value they make (percent-decoded, as curl sends
/// them). They never reach `Host`, the connection's origin or a trace's URL.
pub fn split_userinfo(uri: Uri) -> Result<(Uri, Option<HeaderValue>), String> {
    let Some(authority) = uri.authority() else {
        return Ok((uri, None));
    };
    let Some((userinfo, host)) = authority.as_str().rsplit_once('@') else {
        return Ok((uri, None));
    };
    let (userinfo, host) = (userinfo.to_string(), host.to_string());
    let decode = throng_ir::codec::percent_decode_bytes;
    let (user, password) = userinfo.split_once(':').unwrap_or((&userinfo, ""));
    let mut plain = decode(user);
    plain.push(b':');
    plain.extend(decode(password));
    use base64::Engine as _;
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(plain)
    );
    let mut parts = uri.into_parts();
    parts.authority = Some(
        host.parse()
            .map_err(|_| format!("invalid host `{host}` after the credentials in a URL"))?,
    );
    let uri = Uri::from_parts(parts).map_err(|e| format!("invalid URL: {e}"))?;
    let value = HeaderValue::from_str(&value).map_err(|e| e.to_string())?;
    Ok((uri, Some(value)))
}

/// Adds a URL's credentials as `Authorization` unless the step sets one itself.
pub fn add_basic_auth(head: &mut HeaderMap, auth: Option<HeaderValue>) {
    if let Some(v) = auth {
        head.entry(http::header::AUTHORIZATION).or_insert(v);
    }
}

/// Adds `Host` for `uri` to a request head unless it has one.
pub fn add_host(uri: &Uri, head: &mut HeaderMap) {
    if !head.contains_key(HOST) {
        if let Some(a) = uri.authority() {
            if let Ok(v) = HeaderValue::from_str(a.as_str()) {
                head.insert(HOST, v);
            }
        }
    }
}

/// The jar's `Cookie` header for `uri`, if it has cookies for it.
pub(super) fn cookie_header(jar: &CookieJar, uri: &Uri, origin: &Origin) -> Option<HeaderValue> {
    if jar.is_empty() {
        return None;
    }
    let c = jar.header_for(&origin.host, uri.path(), origin.https, SystemTime::now())?;
    HeaderValue::from_str(&c).ok()
}

/// Keeps the cookies a response sets.
pub(super) fn store_cookies<'a>(
    jar: &mut CookieJar,
    set_cookies: impl Iterator<Item = &'a [u8]>,
    origin: &Origin,
    path: &str,
) {
    let mut now = None;
    for v in set_cookies {
        if let Ok(v) = std::str::from_utf8(v) {
            let now = *now.get_or_insert_with(SystemTime::now);
            jar.store(v, &origin.host, path, origin.https, now);
        }
    }
}

/// The origin and `Host` header of the URLs a VU requests, kept for the last one: most
/// templated URLs of a run share a base, and parsing it on every request showed up.
#[derive(Default)]
pub(super) struct Targets {
    last: Option<Target>,
}

pub(super) struct Target {
    https: bool,
    authority: http::uri::Authority,
    pub origin: Origin,
    pub host: HeaderValue,
}

impl Targets {
    pub(super) fn of(&mut self, uri: &Uri) -> Result<&Target, TransportError> {
        let https = uri.scheme_str() == Some("https");
        // Any scheme but http(s) misses, so that `Origin::of` refuses it.
        let http = https || uri.scheme_str() == Some("http");
        let same = self
            .last
            .as_ref()
            .is_some_and(|t| http && t.https == https && Some(&t.authority) == uri.authority());
        if !same {
            let origin = Origin::of(uri)?;
            // `Origin::of` has checked that there is one.
            let authority = uri.authority().cloned().expect("an absolute URL");
            let host = HeaderValue::from_str(authority.as_str()).map_err(|_| {
                TransportError::new(ErrorKind::Protocol, format!("`{uri}` has an invalid host"))
            })?;
            self.last = Some(Target {
                https,
                authority,
                origin,
                host,
            });
        }
        Ok(self.last.as_ref().expect("just set"))
    }
}
