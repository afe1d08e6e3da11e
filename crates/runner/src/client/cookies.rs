//! A per-VU cookie jar that follows RFC 6265bis (draft-ietf-httpbis-rfc6265bis), with
//! Chrome's choices where the draft leaves room.
//!
//! **Parsing.** A `Set-Cookie` header is parsed by the `cookie` crate (`Cookie::parse`), after
//! the checks §5.6 makes on the raw text: a header with a control character is ignored, so is
//! one whose name and value together exceed 4096 bytes, and an attribute whose value exceeds
//! 1024 bytes is dropped (the attribute, not the cookie). A cookie may be nameless (`=v` or
//! `v`; sent back as `v`), which the crate refuses, so its attributes are parsed on their own.
//! Values are kept as sent, quotes included. `Max-Age` is read from the raw attributes, as
//! §5.6.2 says (the crate maps an empty value to the maximum age); it wins over `Expires`, a
//! value `<= 0` deletes, and both are clamped to 400 days. `Expires` dates the crate
//! cannot read go through the date algorithm of RFC 6265 §5.1.1, so every form browsers read
//! is read (asctime, dashes, two-digit years, no weekday, odd delimiters). All time arithmetic
//! is checked: no header can overflow or panic.
//!
//! **Storage (§5.7).** `Domain` must domain-match the request host, and must not be a public
//! suffix (the `psl` crate's list, with its implicit `*` rule, so `Domain=localhost` from
//! `localhost` gives a host-only cookie, as does any public suffix equal to the host). IP hosts
//! never domain-match anything but themselves, and their cookies are host-only. `Secure`
//! cookies are stored only from https responses, and an http response cannot overwrite or
//! shadow a `Secure` cookie of the same name. `__Secure-` and `__Host-` prefixes are enforced
//! (case-insensitively, as in §4.1.3). `SameSite=None` without `Secure` is refused, as Chrome
//! does. A cookie replacing one of the same name, domain, host-only flag and path keeps its
//! creation time.
//!
//! **Sending (§5.8.3).** Host-only cookies go to their host, domain cookies to it and its
//! subdomains, on matching paths, `Secure` ones only over https; longer paths first, then
//! earlier creation. `SameSite` is read and kept but changes nothing: a runner has no
//! cross-site context (every request is its own top-level, same-site navigation), and
//! `HttpOnly` has nothing to hide from. Nor is there a limit on cookies per domain: a jar lives
//! for one iteration.
//!
//! **Why the store is ours.** Each VU owns one jar and empties it at every iteration start, so
//! it needs no lock, no persistence and no URL type: `header_for` runs on every request and
//! walks a `Vec` kept in sending order, comparing strings in place, and allocates only the
//! header it returns. A general-purpose store (`cookie_store`, as reqwest uses) wants a parsed
//! `Url` for every lookup and is built to be shared behind a lock.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use throng_ir::calendar::days_from_civil;

/// §5.6: a name and value longer than this, together, make the header ignored.
const MAX_NAME_VALUE: usize = 4096;
/// §5.6: an attribute whose value is longer than this is ignored.
const MAX_ATTRIBUTE_VALUE: usize = 1024;
/// §5.6.1 and §5.6.2: the longest a cookie may live (400 days).
const MAX_AGE: Duration = Duration::from_secs(400 * 24 * 3600);

/// The `SameSite` attribute as received; `Default` when absent or unrecognised (§5.6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SameSite {
    Strict,
    Lax,
    None,
    Default,
}

#[derive(Debug, Clone, PartialEq)]
struct Cookie {
    /// Empty for a nameless cookie.
    name: String,
    value: String,
    /// Lower case, no leading dot.
    domain: String,
    host_only: bool,
    path: String,
    secure: bool,
    /// Kept, not enforced: the runner has no cross-site requests (see the module doc).
    #[cfg_attr(not(test), allow(dead_code))]
    same_site: SameSite,
    /// None for a session cookie.
    expires: Option<SystemTime>,
}

impl Cookie {
    fn alive(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|t| t > now)
    }

    fn host_matches(&self, host: &str) -> bool {
        if self.host_only {
            host.eq_ignore_ascii_case(&self.domain)
        } else {
            domain_matches(host, &self.domain)
        }
    }
}

/// The cookies of one VU, in sending order: longer paths first, then earlier creation.
#[derive(Debug, Default, Clone)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
}

/// §5.1.4: the directory of the request path.
fn default_path(request_path: &str) -> String {
    if !request_path.starts_with('/') {
        return "/".into();
    }
    match request_path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => request_path[..i].to_string(),
    }
}

fn is_ip(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok()
}

/// §5.1.3: `host` is `domain` or a name under it; an IP address matches only itself.
/// `domain` is lower case; `host` may not be.
fn domain_matches(host: &str, domain: &str) -> bool {
    let (h, d) = (host.as_bytes(), domain.as_bytes());
    h.eq_ignore_ascii_case(d)
        || (h.len() > d.len()
            && h[h.len() - d.len() - 1] == b'.'
            && h[h.len() - d.len()..].eq_ignore_ascii_case(d)
            && !is_ip(host))
}

/// §5.1.4.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// Whether `domain` (lower case) is a public suffix: `com`, `co.uk`, `github.io`, and, by the
/// list's implicit `*` rule, any single label (`localhost`, `internal`).
fn is_public_suffix(domain: &str) -> bool {
    psl::suffix(domain.as_bytes()).is_some_and(|s| s.trim().as_bytes() == domain.as_bytes())
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Where the ASCII byte `b` first is in `s` (byte loops: faster than `str` patterns on
/// strings this short).
fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

/// `s` without leading and trailing SP and HTAB, as §5.6 trims.
fn trim_wsp(s: &str) -> &str {
    let wsp = |b: &u8| *b == b' ' || *b == b'\t';
    let bytes = s.as_bytes();
    let start = bytes.iter().position(|b| !wsp(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !wsp(b)).map_or(start, |i| i + 1);
    // Both ends sit next to ASCII bytes, so on character boundaries.
    &s[start..end]
}

/// The attributes after the name-value pair (`attrs` starts at its `;`), as
/// `(raw, name, value)`, trimmed as §5.6 trims them.
fn attributes(attrs: &str) -> impl Iterator<Item = (&str, &str, &str)> {
    let mut rest = attrs.strip_prefix(';');
    std::iter::from_fn(move || {
        let r = rest?;
        let raw = match find_byte(r, b';') {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                &r[..i]
            }
            None => {
                rest = None;
                r
            }
        };
        Some(match find_byte(raw, b'=') {
            Some(i) => (raw, trim_wsp(&raw[..i]), trim_wsp(&raw[i + 1..])),
            None => (raw, trim_wsp(raw), ""),
        })
    })
}

/// §5.6.2: `Max-Age` in seconds, negative as 0; None when the value is not an integer
/// (the attribute is then ignored). Saturates: huge values are clamped later anyway.
fn parse_max_age(v: &str) -> Option<u64> {
    let (negative, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if negative {
        return Some(0);
    }
    Some(digits.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// When a cookie with this `Max-Age` expires; `UNIX_EPOCH` (already past) for `<= 0`.
fn expiry_after(secs: u64, now: SystemTime) -> Option<SystemTime> {
    if secs == 0 {
        return Some(SystemTime::UNIX_EPOCH);
    }
    // now + 400 days cannot overflow a SystemTime; if it did, a session cookie is close enough
    // for a jar emptied every iteration.
    now.checked_add(Duration::from_secs(secs).min(MAX_AGE))
}

/// When a cookie with an `Expires` of `unix` seconds expires: clamped to 400 days from now,
/// `UNIX_EPOCH` when already past.
fn expiry_at(unix: i64, now: SystemTime) -> Option<SystemTime> {
    let at = if unix >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(unix.unsigned_abs()))
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(unix.unsigned_abs()))
    };
    match at.map(|t| t.duration_since(now)) {
        Some(Ok(ahead)) if !ahead.is_zero() => now.checked_add(ahead.min(MAX_AGE)),
        Some(_) => Some(SystemTime::UNIX_EPOCH),
        // Not representable: far past or far future.
        None if unix < 0 => Some(SystemTime::UNIX_EPOCH),
        None => now.checked_add(MAX_AGE),
    }
}

/// RFC 6265 §5.1.1 `delimiter`: `%x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E`.
const DATE_DELIMITER: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = matches!(b, 0x09 | 0x20..=0x2F | 0x3B..=0x40 | 0x5B..=0x60 | 0x7B..=0x7E);
        b += 1;
    }
    t
};

/// `min*max DIGIT [ non-digit *OCTET ]`: the number read, if the token is one.
fn date_number(token: &[u8], min: usize, max: usize) -> Option<u32> {
    let n = token
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n < min || token.get(n).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(
        token[..n]
            .iter()
            .fold(0, |v, d| v * 10 + u32::from(d - b'0')),
    )
}

/// `time = hms-time [ non-digit *OCTET ]`, `hms-time = time-field ":" time-field ":" time-field`.
fn date_time(token: &[u8]) -> Option<(u32, u32, u32)> {
    let mut fields = [0u32; 3];
    let mut rest = token;
    for (i, field) in fields.iter_mut().enumerate() {
        let n = rest
            .iter()
            .take(2)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n == 0 {
            return None;
        }
        *field = rest[..n]
            .iter()
            .fold(0, |v, d| v * 10 + u32::from(d - b'0'));
        rest = &rest[n..];
        if i < 2 {
            rest = rest.strip_prefix(b":")?;
        }
    }
    if rest.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((fields[0], fields[1], fields[2]))
}

/// `month = ( "jan" / ... / "dec" ) *OCTET`, case-insensitively: 1 to 12.
fn date_month(token: &[u8]) -> Option<u32> {
    let [a, b, c, ..] = token else {
        return None;
    };
    // `| 0x20` lower-cases letters, and makes a letter of no byte but that letter's capital.
    Some(match [a | 0x20, b | 0x20, c | 0x20] {
        [b'j', b'a', b'n'] => 1,
        [b'f', b'e', b'b'] => 2,
        [b'm', b'a', b'r'] => 3,
        [b'a', b'p', b'r'] => 4,
        [b'm', b'a', b'y'] => 5,
        [b'j', b'u', b'n'] => 6,
        [b'j', b'u', b'l'] => 7,
        [b'a', b'u', b'g'] => 8,
        [b's', b'e', b'p'] => 9,
        [b'o', b'c', b't'] => 10,
        [b'n', b'o', b'v'] => 11,
        [b'd', b'e', b'c'] => 12,
        _ => return None,
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// RFC 6265 §5.1.1: a cookie date as Unix seconds (UTC), or None when it is not one. Tokens
/// are split on the delimiter set; the first time, day of month, month and year win; any
/// zone is ignored (cookie dates are GMT).
fn parse_cookie_date(s: &str) -> Option<i64> {
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for token in s
        .as_bytes()
        .split(|&b| DATE_DELIMITER[usize::from(b)])
        .filter(|t| !t.is_empty())
    {
        if time.is_none() {
            if let Some(t) = date_time(token) {
                time = Some(t);
                continue;
            }
        }
        if day.is_none() {
            if let Some(d) = date_number(token, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() {
            if let Some(m) = date_month(token) {
                month = Some(m);
                continue;
            }
        }
        if year.is_none() {
            if let Some(y) = date_number(token, 2, 4) {
                year = Some(y);
            }
        }
    }
    let ((hour, minute, second), day, month, mut year) = (time?, day?, month?, year?);
    match year {
        70..=99 => year += 1900,
        0..=69 => year += 2000,
        _ => {}
    }
    if !(1..=31).contains(&day) || year < 1601 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

/// §5.6 and §5.7: the cookie a `Set-Cookie` header makes, or None when it is to be ignored.
/// A cookie that deletes (expiry in the past) is returned with an expiry of `UNIX_EPOCH`.
fn parse(
    set_cookie: &str,
    host: &str,
    request_path: &str,
    secure_origin: bool,
    now: SystemTime,
) -> Option<Cookie> {
    // A fold, not `any`: without the early exit the scan vectorises.
    let control = set_cookie.bytes().fold(false, |seen, b| {
        seen | ((b < 0x20 && b != b'\t') | (b == 0x7f))
    });
    if control {
        return None;
    }
    let (pair, attrs) =
        set_cookie.split_at(find_byte(set_cookie, b';').unwrap_or(set_cookie.len()));
    let (name, value) = match find_byte(pair, b'=') {
        Some(i) => (trim_wsp(&pair[..i]), trim_wsp(&pair[i + 1..])),
        None => ("", trim_wsp(pair)),
    };
    if (name.is_empty() && value.is_empty()) || name.len() + value.len() > MAX_NAME_VALUE {
        return None;
    }

    // The raw pass: what the crate does not do, without allocating.
    let mut oversized = false;
    let mut max_age = None;
    let mut expires_attributes = 0;
    for (_, k, v) in attributes(attrs) {
        if v.len() > MAX_ATTRIBUTE_VALUE {
            oversized = true;
        } else if k.eq_ignore_ascii_case("max-age") {
            // The last valid one wins; invalid ones are ignored.
            max_age = parse_max_age(v).or(max_age);
        } else if k.eq_ignore_ascii_case("expires") {
            expires_attributes += 1;
        }
    }
    let attrs: Cow<str> = if oversized {
        Cow::Owned(
            attributes(attrs)
                .filter(|(_, _, v)| v.len() <= MAX_ATTRIBUTE_VALUE)
                .fold(String::new(), |mut s, (raw, _, _)| {
                    s.push(';');
                    s.push_str(raw);
                    s
                }),
        )
    } else {
        Cow::Borrowed(attrs)
    };
    let text: Cow<str> = match (name.is_empty(), &attrs) {
        (false, Cow::Borrowed(_)) => Cow::Borrowed(set_cookie),
        (false, Cow::Owned(a)) => Cow::Owned(format!("{pair}{a}")),
        // The crate refuses an empty name: give it a stand-in for the attributes.
        (true, a) => Cow::Owned(format!("x=x{a}")),
    };
    let parsed = cookie::Cookie::parse(text).ok()?;
    let (name, value) = if name.is_empty() {
        ("", value)
    } else {
        // Untrimmed: `q="v1"` is sent back as `q="v1"`.
        (parsed.name(), parsed.value())
    };

    let expires = match max_age {
        Some(secs) => expiry_after(secs, now),
        None if expires_attributes == 0 => None,
        None => {
            // The crate's reading when it has one (and there is only one to read), else
            // the §5.1.1 algorithm over every `Expires`, the last valid one winning.
            let by_crate = parsed
                .expires_datetime()
                .filter(|d| expires_attributes == 1 && d.year() >= 1601)
                .map(|d| d.unix_timestamp());
            by_crate
                .or_else(|| {
                    attributes(&attrs)
                        .filter(|(_, k, _)| k.eq_ignore_ascii_case("expires"))
                        .filter_map(|(_, _, v)| parse_cookie_date(v))
                        .last()
                })
                .and_then(|unix| expiry_at(unix, now))
        }
    };

    let (domain, host_only) = match parsed.domain().filter(|d| !d.is_empty()) {
        None => (host.to_ascii_lowercase(), true),
        Some(d) => {
            let d = d.to_ascii_lowercase();
            let public = is_public_suffix(&d);
            if d.eq_ignore_ascii_case(host) && (public || is_ip(host)) {
                // §5.7: a public suffix (or an IP) that is the host itself.
                (d, true)
            } else if public || !domain_matches(host, &d) {
                return None;
            } else {
                (d, false)
            }
        }
    };
    let path = match parsed.path() {
        Some(p) if p.starts_with('/') => p.to_string(),
        _ => default_path(request_path),
    };
    let secure = parsed.secure() == Some(true);
    if secure && !secure_origin {
        return None;
    }
    // §4.1.3 prefixes; a nameless cookie must not pass for one (§5.7).
    let prefixed = if name.is_empty() { value } else { name };
    let secure_prefix = starts_with_ignore_case(prefixed, "__Secure-");
    let host_prefix = starts_with_ignore_case(prefixed, "__Host-");
    if name.is_empty() && (secure_prefix || host_prefix) {
        return None;
    }
    if (secure_prefix && !secure) || (host_prefix && !(secure && host_only && path == "/")) {
        return None;
    }
    let same_site = match parsed.same_site() {
        Some(cookie::SameSite::Strict) => SameSite::Strict,
        Some(cookie::SameSite::Lax) => SameSite::Lax,
        // Chrome refuses `SameSite=None` without `Secure`.
        Some(cookie::SameSite::None) if !secure => return None,
        Some(cookie::SameSite::None) => SameSite::None,
        None => SameSite::Default,
    };
    Some(Cookie {
        name: name.to_string(),
        value: value.to_string(),
        domain,
        host_only,
        path,
        secure,
        same_site,
        expires,
    })
}

impl CookieJar {
    pub fn clear(&mut self) {
        self.cookies.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Stores one `Set-Cookie` header received from `host` for a request to `path`, over
    /// https when `secure`. Invalid, foreign-domain and refused cookies are ignored, as
    /// browsers ignore them; an expired one deletes the cookie it names.
    pub fn store(
        &mut self,
        set_cookie: &str,
        host: &str,
        path: &str,
        secure: bool,
        now: SystemTime,
    ) {
        let Some(cookie) = parse(set_cookie, host, path, secure, now) else {
            return;
        };
        // §5.7: an insecure response cannot overwrite, shadow or delete a Secure
        // cookie of the same name on an overlapping domain and path.
        if !secure
            && self.cookies.iter().any(|c| {
                c.secure
                    && c.name == cookie.name
                    && (domain_matches(&c.domain, &cookie.domain)
                        || domain_matches(&cookie.domain, &c.domain))
                    && path_matches(&cookie.path, &c.path)
            })
        {
            return;
        }
        self.cookies.retain(|c| c.alive(now));
        let same = self.cookies.iter().position(|c| {
            c.name == cookie.name
                && c.domain == cookie.domain
                && c.host_only == cookie.host_only
                && c.path == cookie.path
        });
        match (same, cookie.alive(now)) {
            // In place: the new cookie keeps the old one's creation time (§5.7).
            (Some(i), true) => self.cookies[i] = cookie,
            (Some(i), false) => {
                self.cookies.remove(i);
            }
            (None, true) => {
                let at = self
                    .cookies
                    .partition_point(|c| c.path.len() >= cookie.path.len());
                self.cookies.insert(at, cookie);
            }
            (None, false) => {}
        }
    }

    /// The `Cookie` header value for a request, or None when no cookie applies.
    pub fn header_for(
        &self,
        host: &str,
        path: &str,
        secure: bool,
        now: SystemTime,
    ) -> Option<String> {
        let mut out: Option<String> = None;
        // Already in sending order (§5.8.3 step 2): no sort, no list of matches.
        for c in &self.cookies {
            if !(c.host_matches(host)
                && path_matches(path, &c.path)
                && (secure || !c.secure)
                && c.alive(now))
            {
                continue;
            }
            let out = out.get_or_insert_with(|| {
                String::with_capacity(
                    self.cookies
                        .iter()
                        .map(|c| c.name.len() + c.value.len() + 3)
                        .sum(),
                )
            });
            if !out.is_empty() {
                out.push_str("; ");
            }
            if !c.name.is_empty() {
                out.push_str(&c.name);
                out.push('=');
            }
            out.push_str(&c.value);
        }
        out
    }

    /// The names of the cookies held, for failure messages.
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.cookies {
            if !out.contains(&c.name) {
                out.push(c.name.clone());
            }
        }
        out
    }

    /// The value of the cookie `name` that would be sent to `host`, for cookie extractors;
    /// failing that, of any live cookie of that name.
    pub fn value(&self, name: &str, host: &str, now: SystemTime) -> Option<String> {
        let live = || {
            self.cookies
                .iter()
                .filter(move |c| c.name == name && c.alive(now))
        };
        live()
            .find(|c| c.host_matches(host))
            .or_else(|| live().next())
            .map(|c| c.value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn jar_of(headers: &[&str], host: &str, secure: bool) -> CookieJar {
        let mut jar = CookieJar::default();
        for h in headers {
            jar.store(h, host, "/", secure, now());
        }
        jar
    }

    fn sent(jar: &CookieJar, host: &str, path: &str, secure: bool) -> Option<String> {
        jar.header_for(host, path, secure, now())
    }

    fn unix(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s
    }

    #[test]
    fn host_only_and_domain_cookies() {
        let mut jar = CookieJar::default();
        jar.store("a=1", "shop.example.com", "/", false, now());
        jar.store(
            "b=2; Domain=.example.com",
            "shop.example.com",
            "/",
            false,
            now(),
        );
        jar.store(
            "evil=3; Domain=other.com",
            "shop.example.com",
            "/",
            false,
            now(),
        );
        jar.store(
            "sub=4; Domain=api.shop.example.com",
            "shop.example.com",
            "/",
            false,
            now(),
        );
        assert_eq!(
            sent(&jar, "shop.example.com", "/", false).as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(
            sent(&jar, "SHOP.Example.com", "/", false).as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(
            sent(&jar, "api.example.com", "/", false).as_deref(),
            Some("b=2")
        );
        assert_eq!(
            sent(&jar, "sub.shop.example.com", "/", false).as_deref(),
            Some("b=2")
        );
        assert_eq!(sent(&jar, "notexample.com", "/", false), None);
        assert_eq!(sent(&jar, "other.com", "/", false), None);
        // A Domain equal to the host (not a public suffix) is a domain cookie.
        let jar = jar_of(&["d=1; Domain=Example.COM"], "example.com", false);
        assert_eq!(
            sent(&jar, "www.example.com", "/", false).as_deref(),
            Some("d=1")
        );
        // Hosts in any case are canonicalised to lower case.
        let jar = jar_of(
            &["d=1; Domain=example.com", "h=2"],
            "WWW.Example.com",
            false,
        );
        assert_eq!(jar.cookies[0].domain, "example.com");
        assert_eq!(jar.cookies[1].domain, "www.example.com");
        assert_eq!(
            sent(&jar, "www.example.COM", "/", false).as_deref(),
            Some("d=1; h=2")
        );
        let jar = jar_of(&["a=1; Domain=COM"], "Com", false);
        assert_eq!(
            (jar.cookies[0].domain.as_str(), jar.cookies[0].host_only),
            ("com", true)
        );
    }

    #[test]
    fn public_suffix_domains_are_refused_unless_they_are_the_host() {
        let jar = jar_of(
            &[
                "a=1; Domain=com",
                "b=2; Domain=co.uk",
                "c=3; Domain=github.io",
            ],
            "shop.example.com",
            false,
        );
        assert!(jar.is_empty());
        let jar = jar_of(&["c=3; Domain=github.io"], "me.github.io", false);
        assert!(jar.is_empty());
        // Equal to the host: stored host-only.
        let jar = jar_of(&["a=1; Domain=com"], "com", false);
        assert_eq!(sent(&jar, "com", "/", false).as_deref(), Some("a=1"));
        assert_eq!(sent(&jar, "x.com", "/", false), None);
    }

    #[test]
    fn loopback_hosts_keep_working() {
        // What psl says: single labels are suffixes by the implicit rule; 127.0.0.1 is not.
        assert!(is_public_suffix("localhost"));
        assert!(!is_public_suffix("127.0.0.1"));
        assert!(!is_public_suffix("example.com"));
        for host in ["localhost", "127.0.0.1", "::1", "intranet"] {
            let jar = jar_of(&["sid=1; Path=/; HttpOnly"], host, false);
            assert_eq!(
                sent(&jar, host, "/x", false).as_deref(),
                Some("sid=1"),
                "{host}"
            );
        }
        let jar = jar_of(&["a=1; Domain=localhost"], "localhost", false);
        assert_eq!(sent(&jar, "localhost", "/", false).as_deref(), Some("a=1"));
        assert_eq!(sent(&jar, "app.localhost", "/", false), None);
        assert!(jar_of(&["a=1; Domain=localhost"], "app.localhost", false).is_empty());
    }

    #[test]
    fn ip_hosts_never_domain_match() {
        let mut jar = CookieJar::default();
        jar.store("a=1; Domain=0.0.1", "127.0.0.1", "/", false, now());
        assert!(jar.is_empty());
        jar.store("a=1; Domain=127.0.0.1", "127.0.0.1", "/", false, now());
        assert_eq!(sent(&jar, "127.0.0.1", "/", false).as_deref(), Some("a=1"));
        assert_eq!(sent(&jar, "1.127.0.0.1", "/", false), None);
        assert!(domain_matches("127.0.0.1", "127.0.0.1"));
        assert!(!domain_matches("10.0.0.1", "0.0.1"));
    }

    #[test]
    fn path_rules_and_ordering() {
        let mut jar = CookieJar::default();
        jar.store("root=r; Path=/", "h", "/x", false, now());
        jar.store("deep=d; Path=/cart", "h", "/x", false, now());
        jar.store("dflt=x", "h", "/account/login", false, now());
        jar.store("rel=x; Path=cart", "h", "/x", false, now()); // not absolute: default path
        assert_eq!(
            sent(&jar, "h", "/cart/items", false).as_deref(),
            Some("deep=d; root=r; rel=x")
        );
        assert_eq!(
            sent(&jar, "h", "/cart", false).as_deref(),
            Some("deep=d; root=r; rel=x")
        );
        assert_eq!(
            sent(&jar, "h", "/cartoon", false).as_deref(),
            Some("root=r; rel=x")
        );
        assert_eq!(
            sent(&jar, "h", "/account/x", false).as_deref(),
            Some("dflt=x; root=r; rel=x")
        );
        assert_eq!(
            sent(&jar, "h", "/accounts", false).as_deref(),
            Some("root=r; rel=x")
        );
        // Same path: earlier creation first; a replacement keeps its place.
        let mut jar = jar_of(&["a=1", "b=2", "c=3"], "h", false);
        jar.store("a=9", "h", "/", false, now());
        assert_eq!(
            sent(&jar, "h", "/", false).as_deref(),
            Some("a=9; b=2; c=3")
        );
        assert_eq!(jar.names(), ["a", "b", "c"]);
    }

    #[test]
    fn every_rfc_6265_date_form_is_read() {
        let epoch = Some(0);
        for form in [
            "Thu, 01-Jan-1970 00:00:00 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Thursday, 01-Jan-70 00:00:00 GMT",
            "Thu Jan  1 00:00:00 1970",
            "01 Jan 1970 00:00:00 GMT",
            "1 jan 70 0:0:0",
            "Thu, 01/Jan/1970 00:00:00 UTC",
            "  Thu,, 01 JANUARY 1970 ;00:00:00+0000 ",
            "00:00:00 1970 Jan 01",
        ] {
            assert_eq!(parse_cookie_date(form), epoch, "{form}");
        }
        assert_eq!(
            parse_cookie_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(unix(2015, 10, 21, 7, 28, 0))
        );
        // Two-digit years: 70-99 are 19xx, 0-69 are 20xx.
        assert_eq!(
            parse_cookie_date("01-Jan-69 00:00:00"),
            Some(unix(2069, 1, 1, 0, 0, 0))
        );
        assert_eq!(
            parse_cookie_date("01-Jan-99 00:00:00"),
            Some(unix(1999, 1, 1, 0, 0, 0))
        );
        assert_eq!(
            parse_cookie_date("29 Feb 2024 23:59:59"),
            Some(unix(2024, 2, 29, 23, 59, 59))
        );
        assert_eq!(
            parse_cookie_date("01 Jan 1601 00:00:00"),
            Some(-11_644_473_600)
        );
        for bad in [
            "",
            "garbage",
            "01 Jan 1970",           // no time
            "Jan 1970 00:00:00",     // no day
            "01 1970 00:00:00",      // no month
            "01 Jan 00:00:00",       // no year
            "32 Jan 1970 00:00:00",  // day > 31
            "00 Jan 1970 00:00:00",  // day < 1
            "30 Feb 2024 00:00:00",  // no such date
            "29 Feb 2023 00:00:00",  // not a leap year
            "01 Jan 1600 00:00:00",  // before 1601
            "01 Jan 1970 24:00:00",  // hour
            "01 Jan 1970 00:60:00",  // minute
            "01 Jan 1970 00:00:60",  // second
            "01 Jan 19700 00:00:00", // five-digit year
            "01 Jan 1970 000:00:00", // three-digit time field
        ] {
            assert_eq!(parse_cookie_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn expires_in_any_form_sets_or_deletes() {
        for form in [
            "Thu, 01-Jan-1970 00:00:00 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Thursday, 01-Jan-70 00:00:00 GMT",
            "Thu Jan  1 00:00:00 1970",
            "01 Jan 1601 00:00:00 GMT",
        ] {
            let mut jar = jar_of(&["sid=abc"], "h", false);
            jar.store(&format!("sid=; Expires={form}"), "h", "/", false, now());
            assert!(jar.is_empty(), "{form}");
        }
        for form in [
            "Fri, 01-Jan-2100 00:00:00 GMT",
            "Friday, 01-Jan-2100 00:00:00 UTC",
            "Fri Jan  1 00:00:00 2100",
            "1 jan 2100 00:00:00",
            "Sat, 31 Dec 9999 23:59:59 GMT",
        ] {
            let jar = jar_of(&[&format!("sid=abc; Expires={form}")], "h", false);
            let c = &jar.cookies[0];
            // Clamped to 400 days.
            assert_eq!(c.expires, Some(now() + MAX_AGE), "{form}");
        }
        let jar = jar_of(&["e=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"], "h", false);
        assert!(jar.is_empty());
        let in_a_day = "Wed, 15 Nov 2023 22:13:20 GMT"; // now() + 1 day
        let jar = jar_of(&[&format!("e=1; Expires={in_a_day}")], "h", false);
        assert_eq!(
            jar.cookies[0].expires,
            Some(now() + Duration::from_secs(86_400))
        );
        assert_eq!(jar.value("e", "h", now()).as_deref(), Some("1"));
        assert_eq!(
            jar.value("e", "h", now() + Duration::from_secs(86_401)),
            None
        );
        // An unreadable Expires is ignored: a session cookie.
        let jar = jar_of(&["e=1; Expires=tomorrow"], "h", false);
        assert_eq!(jar.cookies[0].expires, None);
        // The last valid Expires wins.
        let jar = jar_of(
            &["e=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Expires=Fri, 01-Jan-2100 00:00:00 UTC"],
            "h",
            false,
        );
        assert_eq!(jar.cookies[0].expires, Some(now() + MAX_AGE));
    }

    #[test]
    fn max_age_wins_deletes_clamps_and_never_overflows() {
        let mut jar = CookieJar::default();
        jar.store("t=1; Max-Age=10", "h", "/", false, now());
        assert_eq!(sent(&jar, "h", "/", false).as_deref(), Some("t=1"));
        assert_eq!(
            jar.header_for("h", "/", false, now() + Duration::from_secs(11)),
            None
        );
        jar.store("t=2", "h", "/", false, now());
        assert_eq!(sent(&jar, "h", "/", false).as_deref(), Some("t=2"));
        jar.store("t=gone; Max-Age=0", "h", "/", false, now());
        assert!(jar.is_empty());
        jar.store("t=2", "h", "/", false, now());
        jar.store("t=gone; Max-Age=-5", "h", "/", false, now());
        assert!(jar.is_empty());

        // Max-Age wins over Expires in either order.
        for h in [
            "m=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=60",
            "m=1; Max-Age=60; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            let jar = jar_of(&[h], "h", false);
            assert_eq!(
                jar.cookies[0].expires,
                Some(now() + Duration::from_secs(60)),
                "{h}"
            );
        }
        let jar = jar_of(
            &["m=1; Max-Age=0; Expires=Fri, 01-Jan-2100 00:00:00 GMT"],
            "h",
            false,
        );
        assert!(jar.is_empty());

        for huge in ["9223372036854775807", "99999999999999999999999", "34560001"] {
            let jar = jar_of(&[&format!("m=1; Max-Age={huge}")], "h", false);
            assert_eq!(jar.cookies[0].expires, Some(now() + MAX_AGE), "{huge}");
        }
        let jar = jar_of(&["m=1; Max-Age=-99999999999999999999999"], "h", false);
        assert!(jar.is_empty());
        // Invalid Max-Age values are ignored (the cookie stays, Expires applies).
        for bad in ["", "-", "1x", "+5", " ", "1.5"] {
            let jar = jar_of(&[&format!("m=1; Max-Age={bad}")], "h", false);
            assert_eq!(jar.cookies[0].expires, None, "{bad:?}");
        }
        let jar = jar_of(&["m=1; Max-Age=30; Max-Age=oops"], "h", false);
        assert_eq!(
            jar.cookies[0].expires,
            Some(now() + Duration::from_secs(30))
        );
        // Near the ends of time: checked arithmetic only.
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 64);
        assert!(expiry_after(u64::MAX, far).is_some());
        assert_eq!(expiry_at(i64::MIN, now()), Some(SystemTime::UNIX_EPOCH));
        assert_eq!(expiry_at(i64::MAX, now()), Some(now() + MAX_AGE));
    }

    #[test]
    fn quoted_values_are_kept_as_sent() {
        let jar = jar_of(&["q=\"v1\"", "r=\"a b\"; Path=/"], "h", false);
        assert_eq!(
            sent(&jar, "h", "/", false).as_deref(),
            Some("q=\"v1\"; r=\"a b\"")
        );
        assert_eq!(jar.value("q", "h", now()).as_deref(), Some("\"v1\""));
        let jar = jar_of(&["  sp  =  v w  ; Path=/"], "h", false);
        assert_eq!(sent(&jar, "h", "/", false).as_deref(), Some("sp=v w"));
    }

    #[test]
    fn secure_cookies_need_https_both_ways() {
        let jar = jar_of(&["s=1; Secure"], "h", true);
        assert_eq!(sent(&jar, "h", "/", false), None);
        assert_eq!(sent(&jar, "h", "/", true).as_deref(), Some("s=1"));
        // Not stored from http.
        assert!(jar_of(&["s=1; Secure"], "h", false).is_empty());
        // http cannot overwrite, shadow or delete it.
        let mut jar = jar_of(&["s=1; Secure; Domain=example.com"], "example.com", true);
        jar.store("s=evil", "www.example.com", "/", false, now());
        jar.store("s=evil; Path=/deep", "example.com", "/", false, now());
        jar.store("s=; Max-Age=0", "example.com", "/", false, now());
        assert_eq!(jar.cookies.len(), 1);
        assert_eq!(jar.value("s", "example.com", now()).as_deref(), Some("1"));
        // https can.
        jar.store(
            "s=2; Secure; Domain=example.com",
            "example.com",
            "/",
            true,
            now(),
        );
        assert_eq!(jar.value("s", "example.com", now()).as_deref(), Some("2"));
        // An unrelated name from http is fine.
        jar.store("t=1", "example.com", "/", false, now());
        assert_eq!(
            sent(&jar, "example.com", "/", false).as_deref(),
            Some("t=1")
        );
    }

    #[test]
    fn cookie_prefixes_are_enforced() {
        for (header, secure, kept) in [
            ("__Secure-a=1", true, false),
            ("__Secure-a=1; Secure", false, false),
            ("__Secure-a=1; Secure", true, true),
            ("__secure-a=1", true, false),
            ("__Host-a=1; Secure; Path=/", true, true),
            ("__Host-a=1; Secure", true, true), // default path of "/" is "/"
            ("__Host-a=1; Path=/", true, false),
            ("__Host-a=1; Secure; Path=/x", true, false),
            (
                "__Host-a=1; Secure; Path=/; Domain=example.com",
                true,
                false,
            ),
            (
                "__HOST-a=1; Secure; Path=/; Domain=example.com",
                true,
                false,
            ),
            ("=__Secure-a=1; Secure", true, false),
            ("__Host-x", true, false),
        ] {
            let jar = jar_of(&[header], "example.com", secure);
            assert_eq!(!jar.is_empty(), kept, "{header} over https={secure}");
        }
        // The default path counts: from /dir/page it is /dir, not /.
        let mut jar = CookieJar::default();
        jar.store(
            "__Host-a=1; Secure",
            "example.com",
            "/dir/page",
            true,
            now(),
        );
        assert!(jar.is_empty());
    }

    #[test]
    fn same_site_is_read_and_kept() {
        let jar = jar_of(
            &[
                "a=1; SameSite=Strict",
                "b=1; SameSite=lax",
                "c=1; SameSite=None; Secure",
                "d=1; SameSite=whatever",
                "e=1",
            ],
            "h",
            true,
        );
        let kinds: Vec<SameSite> = jar.cookies.iter().map(|c| c.same_site).collect();
        assert_eq!(
            kinds,
            [
                SameSite::Strict,
                SameSite::Lax,
                SameSite::None,
                SameSite::Default,
                SameSite::Default
            ]
        );
        // Sending is unchanged by it.
        assert_eq!(
            sent(&jar, "h", "/", true).as_deref(),
            Some("a=1; b=1; c=1; d=1; e=1")
        );
        // None without Secure is refused, as Chrome refuses it.
        assert!(jar_of(&["n=1; SameSite=None"], "h", true).is_empty());
    }

    #[test]
    fn size_limits_and_nameless_cookies() {
        let big = "v".repeat(MAX_NAME_VALUE - 1);
        assert!(!jar_of(&[&format!("n={big}")], "h", false).is_empty());
        assert!(jar_of(&[&format!("nn={big}")], "h", false).is_empty());
        // An oversized attribute is dropped; the cookie stays.
        let long_domain = format!("{}.example.com", "a".repeat(MAX_ATTRIBUTE_VALUE));
        let jar = jar_of(
            &[&format!(
                "a=1; Path=/p; Domain={long_domain}; Path=/{}",
                "x".repeat(1100)
            )],
            "example.com",
            false,
        );
        assert_eq!(jar.cookies.len(), 1);
        assert!(jar.cookies[0].host_only);
        assert_eq!(jar.cookies[0].path, "/p");
        let jar = jar_of(
            &[&format!("a=1; Max-Age=0{}", "0".repeat(1100))],
            "h",
            false,
        );
        assert_eq!(jar.cookies[0].expires, None);
        // Nameless cookies, sent back as their value.
        let jar = jar_of(&["=v1", "v2; Path=/", "a=b"], "h", false);
        assert_eq!(sent(&jar, "h", "/", false).as_deref(), Some("v2; a=b"));
        assert_eq!(jar.value("", "h", now()).as_deref(), Some("v2"));
        let jar = jar_of(&["=only; Max-Age=0"], "h", false);
        assert!(jar.is_empty());
        // Nothing at all, or control characters: ignored.
        for h in [
            "",
            "=",
            " = ;Path=/",
            "a=b\u{1}",
            "a=b\r\nX: y",
            "a\u{7f}=b",
        ] {
            assert!(jar_of(&[h], "h", false).is_empty(), "{h:?}");
        }
        // A tab is not a control character here.
        assert!(!jar_of(&["a=b\tc"], "h", false).is_empty());
    }

    #[test]
    fn odd_attribute_syntax_and_non_ascii_text() {
        let jar = jar_of(
            &["a=1;;  ; Path = /x ;secure;HTTPONLY; Max-Age = 60 ;"],
            "h",
            true,
        );
        let c = &jar.cookies[0];
        assert_eq!((c.path.as_str(), c.secure), ("/x", true));
        assert_eq!(c.expires, Some(now() + Duration::from_secs(60)));
        assert_eq!(
            attributes("; k = v ;flag;=x; ").collect::<Vec<_>>(),
            [
                (" k = v ", "k", "v"),
                ("flag", "flag", ""),
                ("=x", "", "x"),
                (" ", "", "")
            ]
        );
        assert_eq!(trim_wsp(" \t x y\t "), "x y");
        assert_eq!(trim_wsp(" \t "), "");
        // Multi-byte text in values, paths and domains never splits a character.
        let jar = jar_of(
            &[
                "é=ü; Path=/ä/ö",
                "b=ß; Domain=ü.example",
                "c=€€; Expires=€ 1 Jan 2100 0:0:0",
            ],
            "h",
            false,
        );
        assert_eq!(jar.cookies.len(), 2);
        assert_eq!(jar.cookies[0].path, "/ä/ö");
        assert_eq!(jar.value("é", "h", now()).as_deref(), Some("ü"));
        assert_eq!(jar.cookies[1].expires, Some(now() + MAX_AGE));
    }

    #[test]
    fn expired_cookies_are_not_sent_and_clear_empties() {
        let mut jar = CookieJar::default();
        jar.store(
            "e=2; Expires=Wed, 21 Oct 2099 07:28:00 GMT",
            "h",
            "/",
            false,
            now(),
        );
        assert_eq!(jar.value("e", "h", now()).as_deref(), Some("2"));
        assert_eq!(jar.value("e", "elsewhere", now()).as_deref(), Some("2"));
        assert_eq!(jar.value("nope", "h", now()), None);
        jar.clear();
        assert!(jar.is_empty());
    }
}
