//! Small text helpers the HAR front end needs and the workspace has no crate for:
//! URL splitting, percent and HTML decoding, RFC 3339 timestamps, char-boundary-safe cuts.

/// A URL split into the parts the compiler templates separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    /// `host[:port]`, lower-cased.
    pub authority: String,
    /// The path as recorded (still percent-encoded), at least `/`.
    pub path: String,
    /// The raw query string without `?`, if any.
    pub query: Option<String>,
}

impl Url {
    pub fn parse(text: &str) -> Option<Url> {
        let (scheme, rest) = text.split_once("://")?;
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return None;
        }
        let rest = rest.split('#').next().unwrap_or("");
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = rest[..auth_end]
            .rsplit('@')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let tail = &rest[auth_end..];
        let (path, query) = match tail.split_once('?') {
            Some((p, q)) => (p, Some(q.to_string())),
            None => (tail, None),
        };
        let path = if path.is_empty() {
            "/".to_string()
        } else {
            path.to_string()
        };
        Some(Url {
            scheme: scheme.to_ascii_lowercase(),
            authority,
            path,
            query,
        })
    }

    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    pub fn host(&self) -> &str {
        let a = self.authority.as_str();
        if a.starts_with('[') {
            return a.split(']').next().map(|h| &h[1..]).unwrap_or(a);
        }
        a.split(':').next().unwrap_or(a)
    }

    /// Path plus `?query`, as a browser would send it in the request line.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// Resolves a Location-style reference against this URL.
    pub fn join(&self, reference: &str) -> Option<Url> {
        if reference.contains("://") {
            return Url::parse(reference);
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme));
        }
        let full = if reference.starts_with('/') {
            format!("{}{reference}", self.origin())
        } else if reference.starts_with('?') {
            format!("{}{}{reference}", self.origin(), self.path)
        } else {
            let dir = &self.path[..self.path.rfind('/').map_or(0, |i| i + 1)];
            format!("{}{dir}{reference}", self.origin())
        };
        Url::parse(&full)
    }
}

/// `a=1&b=x%20y` into decoded pairs, order and duplicates kept.
pub fn parse_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// Percent-decoding with `+` as space, as forms and query strings use.
pub fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

/// Percent-decoding; invalid escapes stay as they are, invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encoding for a form field or query value (`application/x-www-form-urlencoded`).
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes the HTML entities that appear in attribute values.
pub fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        // An entity is short: look for its `;` in the next few bytes, cut on a character.
        let Some(end) = prefix_bytes(rest, 12).find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The largest character boundary of `s` at or below byte `i` (`str::floor_char_boundary`,
/// which is not stable yet); `s.len()` if `i` is past the end.
pub fn floor_char_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    // A UTF-8 character is at most 4 bytes, so a boundary is at most 3 bytes back.
    (i.saturating_sub(3)..=i)
        .rev()
        .find(|&j| s.is_char_boundary(j))
        .unwrap_or(0)
}

/// `s` cut to at most `max` bytes on a character boundary: the one way this crate truncates
/// user text by bytes (`&s[..max]` panics inside a multi-byte character).
pub fn prefix_bytes(s: &str, max: usize) -> &str {
    &s[..floor_char_boundary(s, max)]
}

/// Milliseconds since the epoch for an RFC 3339 / ISO 8601 timestamp such as
/// `2019-04-19T14:14:14.0141234+08:00`; any number of fractional digits.
pub fn parse_rfc3339_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<i64> { s.get(a..b)?.parse().ok() };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return Some(days_from_civil(y, mo, d) as f64 * 86_400_000.0);
    }
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = s.get(19..)?;
    let mut frac = 0f64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
        frac = format!("0.{digits}").parse().unwrap_or(0.0);
        rest = &r[digits.len()..];
    }
    let offset_min = match rest.as_bytes().first() {
        None | Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let t = rest[1..].replace(':', "");
            let oh: i64 = t.get(0..2)?.parse().ok()?;
            let om: i64 = t.get(2..4).and_then(|m| m.parse().ok()).unwrap_or(0);
            let m = oh * 60 + om;
            if *sign == b'-' {
                -m
            } else {
                m
            }
        }
        _ => 0,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some((secs as f64 + frac) * 1000.0)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The registrable domain, approximated without the Public Suffix List: the last two
/// labels, or three under common two-level suffixes such as `co.uk`.
pub fn registrable_domain(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() || !host.contains('.') {
        return host;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    let two_level = n >= 3
        && matches!(
            labels[n - 2],
            "co" | "com" | "net" | "org" | "gov" | "edu" | "ac" | "ne" | "or"
        )
        && labels[n - 1].len() == 2;
    let take = if two_level { 3 } else { 2 };
    labels[n.saturating_sub(take)..].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_and_join() {
        let u = Url::parse("https://Shop.example:8443/a/b?x=1#f").unwrap();
        assert_eq!(u.origin(), "https://shop.example:8443");
        assert_eq!(u.host(), "shop.example");
        assert_eq!(u.path, "/a/b");
        assert_eq!(u.query.as_deref(), Some("x=1"));
        assert_eq!(u.join("/c").unwrap().path, "/c");
        assert_eq!(u.join("c?d=1").unwrap().path_and_query(), "/a/c?d=1");
        assert_eq!(Url::parse("http://h").unwrap().path, "/");
    }

    #[test]
    fn decodes() {
        assert_eq!(form_decode("a+b%20c%zz%"), "a b c%zz%");
        assert_eq!(html_unescape("a&amp;b&#39;c&#x41;&bogus;"), "a&b'cA&bogus;");
        assert_eq!(
            parse_form("a=1&a=2&b"),
            vec![
                ("a".into(), "1".into()),
                ("a".into(), "2".into()),
                ("b".into(), "".into())
            ]
        );
        assert_eq!(form_encode("a b&é"), "a+b%26%C3%A9");
    }

    #[test]
    fn html_entities_next_to_multibyte_characters() {
        // `&` and 10 letters, then `é` across the 12-byte window: was a panic.
        assert_eq!(html_unescape("&aaaaaaaaaaé;"), "&aaaaaaaaaaé;");
        assert_eq!(html_unescape("x&aaaaaaaaaaé;&amp;"), "x&aaaaaaaaaaé;&");
        assert_eq!(html_unescape("&éé&#233;&#x263A;"), "&ééé☺");
        assert_eq!(
            html_unescape("&\u{1F600}\u{1F600}\u{1F600};&lt;"),
            "&\u{1F600}\u{1F600}\u{1F600};<"
        );
        assert_eq!(html_unescape("caf&eacute;&"), "caf&eacute;&");
        // Every cut of a text full of entities and multi-byte characters.
        let text = "&amp;é&aaaaaaaaaaa☺;&#x1F600;ü&lt;&";
        for (i, _) in text.char_indices() {
            html_unescape(&text[i..]);
        }
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        let s = "aé☺\u{1F600}";
        assert_eq!(prefix_bytes(s, 0), "");
        assert_eq!(prefix_bytes(s, 1), "a");
        assert_eq!(prefix_bytes(s, 2), "a");
        assert_eq!(prefix_bytes(s, 3), "aé");
        assert_eq!(prefix_bytes(s, 5), "aé");
        assert_eq!(prefix_bytes(s, 6), "aé☺");
        assert_eq!(prefix_bytes(s, 9), "aé☺");
        assert_eq!(prefix_bytes(s, 10), s);
        assert_eq!(prefix_bytes(s, 100), s);
        for i in 0..=s.len() + 1 {
            let j = floor_char_boundary(s, i);
            assert!(j <= i.min(s.len()) && s.is_char_boundary(j), "{i} -> {j}");
        }
    }

    #[test]
    fn percent_decoding_leaves_broken_escapes_before_multibyte_characters() {
        assert_eq!(percent_decode("%aé"), "%aé");
        assert_eq!(percent_decode("%é"), "%é");
        assert_eq!(percent_decode("é%C3%A9%"), "éé%");
        assert_eq!(percent_decode("%+1"), "%+1");
        assert_eq!(percent_decode("%C3"), "\u{FFFD}");
    }

    #[test]
    fn urls_with_multibyte_characters() {
        let u = Url::parse("https://Bücher.example/straße/ü?q=é#frag").unwrap();
        assert_eq!(u.authority, "bücher.example");
        assert_eq!(u.path, "/straße/ü");
        assert_eq!(u.join("é").unwrap().path, "/straße/é");
        assert_eq!(Url::parse("é://x"), None);
        assert_eq!(Url::parse("http://[é]:1/").unwrap().host(), "é");
        assert_eq!(
            parse_rfc3339_ms("2019-04-19T14:14:14.é"),
            parse_rfc3339_ms("2019-04-19T14:14:14")
        );
        assert_eq!(parse_rfc3339_ms("2019-04-19T14:14:14+é"), None);
        assert_eq!(parse_rfc3339_ms("2019-0é-19"), None);
        assert_eq!(registrable_domain("a.bücher.co.uk"), "bücher.co.uk");
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.500Z"), Some(1500.0));
        let a = parse_rfc3339_ms("2019-04-19T14:14:14.0141234+08:00").unwrap();
        let b = parse_rfc3339_ms("2019-04-19T06:14:14.0141234Z").unwrap();
        assert!((a - b).abs() < 0.001);
        assert_eq!(parse_rfc3339_ms("garbage"), None);
    }

    #[test]
    fn registrable() {
        assert_eq!(registrable_domain("www.cnn.com"), "cnn.com");
        assert_eq!(registrable_domain("a.b.co.uk"), "b.co.uk");
        assert_eq!(registrable_domain("localhost"), "localhost");
        assert_eq!(registrable_domain("127.0.0.1"), "127.0.0.1");
    }
}

/// Why an input file could not be read within its bounds (the caller names the file).
#[derive(Debug)]
pub enum ReadCapped {
    Io(std::io::Error),
    /// A directory, device, FIFO or socket: its size says nothing and reading may never end.
    NotAFile,
    /// More than the cap (`Some(size)` when the size on disk said so).
    TooLarge(Option<u64>),
}

impl std::fmt::Display for ReadCapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadCapped::Io(e) => write!(f, "cannot read: {e}"),
            ReadCapped::NotAFile => write!(
                f,
                "not a regular file (a directory, device or FIFO); only regular files are read"
            ),
            ReadCapped::TooLarge(Some(size)) => write!(f, "file is {size} bytes"),
            ReadCapped::TooLarge(None) => write!(f, "file grew while it was read"),
        }
    }
}

/// Reads a regular file of at most `cap` bytes, through the IR's one bounded reader (regular
/// files only, checked before opening; the read stops at `cap + 1` bytes whatever the size on
/// disk claimed), with the compiler's own error wording.
pub fn read_capped(path: &std::path::Path, cap: u64) -> Result<Vec<u8>, ReadCapped> {
    throng_ir::read_bounded(path, cap).map_err(|e| match e {
        throng_ir::ReadError::Io { source, .. } => ReadCapped::Io(source),
        throng_ir::ReadError::NotAFile { .. } => ReadCapped::NotAFile,
        throng_ir::ReadError::TooLarge { size, .. } => ReadCapped::TooLarge(size),
        // Bytes are not decoded here; kept total for a future text variant.
        other @ throng_ir::ReadError::InvalidUtf8 { .. } => ReadCapped::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            other.to_string(),
        )),
    })
}
