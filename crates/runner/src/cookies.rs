//! A per-VU cookie jar with the RFC 6265 rules that matter to a load test: host-only vs
//! domain cookies, path matching, `Secure`, `Max-Age`/`Expires`, and deletion.
//!
//! Each VU owns one jar and empties it at every iteration start, so no locking is needed.

use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, PartialEq)]
struct Cookie {
    name: String,
    value: String,
    /// Lower case, no leading dot.
    domain: String,
    host_only: bool,
    path: String,
    secure: bool,
    expires: Option<SystemTime>,
}

#[derive(Debug, Default, Clone)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
}

fn default_path(request_path: &str) -> String {
    if !request_path.starts_with('/') {
        return "/".into();
    }
    match request_path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => request_path[..i].to_string(),
    }
}

fn domain_matches(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
            && host.parse::<std::net::IpAddr>().is_err())
}

fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

impl CookieJar {
    pub fn clear(&mut self) {
        self.cookies.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Stores one `Set-Cookie` header received from `host` for `path`; invalid or
    /// foreign-domain cookies are ignored, as browsers do.
    pub fn store(&mut self, set_cookie: &str, host: &str, path: &str, now: SystemTime) {
        let host = host.to_ascii_lowercase();
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let name = name.trim();
        if name.is_empty() {
            return;
        }
        let mut cookie = Cookie {
            name: name.to_string(),
            value: value.trim().trim_matches('"').to_string(),
            domain: host.clone(),
            host_only: true,
            path: default_path(path),
            secure: false,
            expires: None,
        };
        let mut max_age: Option<i64> = None;
        for attr in parts {
            let (k, v) = match attr.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (attr.trim(), ""),
            };
            match k.to_ascii_lowercase().as_str() {
                "domain" => {
                    let d = v.trim_start_matches('.').to_ascii_lowercase();
                    if d.is_empty() {
                        continue;
                    }
                    if !domain_matches(&host, &d) {
                        return;
                    }
                    cookie.domain = d;
                    cookie.host_only = false;
                }
                "path" if v.starts_with('/') => cookie.path = v.to_string(),
                "secure" => cookie.secure = true,
                "max-age" => max_age = v.parse().ok(),
                "expires" if max_age.is_none() => {
                    if let Ok(t) = httpdate::parse_http_date(v) {
                        cookie.expires = Some(t);
                    }
                }
                _ => {}
            }
        }
        // Max-Age wins over Expires regardless of order (RFC 6265 5.3 step 3).
        if let Some(secs) = max_age {
            cookie.expires = Some(if secs <= 0 {
                SystemTime::UNIX_EPOCH
            } else {
                now + Duration::from_secs(secs as u64)
            });
        }
        self.cookies.retain(|c| {
            !(c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path)
        });
        if cookie.expires.is_none_or(|t| t > now) {
            self.cookies.push(cookie);
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
        let host = host.to_ascii_lowercase();
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| {
                (if c.host_only {
                    host == c.domain
                } else {
                    domain_matches(&host, &c.domain)
                }) && path_matches(path, &c.path)
                    && (!c.secure || secure)
                    && c.expires.is_none_or(|t| t > now)
            })
            .collect();
        if matching.is_empty() {
            return None;
        }
        // Longer paths first, as browsers send them (RFC 6265 5.4 step 2).
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let mut out = String::new();
        for c in matching {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&c.name);
            out.push('=');
            out.push_str(&c.value);
        }
        Some(out)
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

    /// The value of the cookie `name` that would be sent to `host`, for cookie extractors.
    pub fn value(&self, name: &str, host: &str, now: SystemTime) -> Option<String> {
        let host = host.to_ascii_lowercase();
        self.cookies
            .iter()
            .filter(|c| c.name == name && c.expires.is_none_or(|t| t > now))
            .find(|c| {
                if c.host_only {
                    host == c.domain
                } else {
                    domain_matches(&host, &c.domain)
                }
            })
            .or_else(|| {
                self.cookies
                    .iter()
                    .find(|c| c.name == name && c.expires.is_none_or(|t| t > now))
            })
            .map(|c| c.value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn host_only_and_domain_cookies() {
        let mut jar = CookieJar::default();
        jar.store("a=1", "shop.example.com", "/", now());
        jar.store("b=2; Domain=.example.com", "shop.example.com", "/", now());
        jar.store("evil=3; Domain=other.com", "shop.example.com", "/", now());
        assert_eq!(
            jar.header_for("shop.example.com", "/", false, now())
                .as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(
            jar.header_for("api.example.com", "/", false, now())
                .as_deref(),
            Some("b=2")
        );
        assert_eq!(
            jar.header_for("sub.shop.example.com", "/", false, now())
                .as_deref(),
            Some("b=2")
        );
        assert_eq!(jar.header_for("notexample.com", "/", false, now()), None);
        assert_eq!(jar.header_for("other.com", "/", false, now()), None);
    }

    #[test]
    fn path_rules_and_ordering() {
        let mut jar = CookieJar::default();
        jar.store("root=r; Path=/", "h", "/x", now());
        jar.store("deep=d; Path=/cart", "h", "/x", now());
        jar.store("dflt=x", "h", "/account/login", now());
        assert_eq!(
            jar.header_for("h", "/cart/items", false, now()).as_deref(),
            Some("deep=d; root=r")
        );
        assert_eq!(
            jar.header_for("h", "/cart", false, now()).as_deref(),
            Some("deep=d; root=r")
        );
        assert_eq!(
            jar.header_for("h", "/cartoon", false, now()).as_deref(),
            Some("root=r")
        );
        assert_eq!(
            jar.header_for("h", "/account/x", false, now()).as_deref(),
            Some("dflt=x; root=r")
        );
        assert_eq!(
            jar.header_for("h", "/accounts", false, now()).as_deref(),
            Some("root=r")
        );
    }

    #[test]
    fn secure_expiry_replacement_and_deletion() {
        let mut jar = CookieJar::default();
        jar.store("s=1; Secure", "h", "/", now());
        assert_eq!(jar.header_for("h", "/", false, now()), None);
        assert_eq!(
            jar.header_for("h", "/", true, now()).as_deref(),
            Some("s=1")
        );

        jar.store("t=1; Max-Age=10", "h", "/", now());
        assert!(jar
            .header_for("h", "/", false, now())
            .unwrap()
            .contains("t=1"));
        assert_eq!(
            jar.header_for("h", "/", false, now() + Duration::from_secs(11)),
            None
        );

        jar.store("t=2", "h", "/", now());
        assert_eq!(
            jar.header_for("h", "/", false, now()).as_deref(),
            Some("t=2")
        );
        jar.store("t=gone; Max-Age=0", "h", "/", now());
        assert_eq!(jar.header_for("h", "/", false, now()), None);

        jar.store(
            "e=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            "h",
            "/",
            now(),
        );
        assert_eq!(jar.header_for("h", "/", false, now()), None);
        jar.store(
            "e=2; Expires=Wed, 21 Oct 2099 07:28:00 GMT",
            "h",
            "/",
            now(),
        );
        assert_eq!(jar.value("e", "h", now()).as_deref(), Some("2"));
        jar.clear();
        assert!(jar.is_empty());
    }

    #[test]
    fn ip_hosts_never_domain_match() {
        let mut jar = CookieJar::default();
        jar.store("a=1; Domain=0.0.1", "127.0.0.1", "/", now());
        assert!(jar.is_empty());
        jar.store("a=1; Domain=127.0.0.1", "127.0.0.1", "/", now());
        assert_eq!(
            jar.header_for("127.0.0.1", "/", false, now()).as_deref(),
            Some("a=1")
        );
    }
}
