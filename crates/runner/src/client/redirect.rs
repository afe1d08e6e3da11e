//! Following redirects as browsers and curl do: which method and body a hop keeps, which
//! headers never cross to another origin, and how a `Location` resolves (RFC 3986).

use http::header::{CONTENT_TYPE, COOKIE};
use http::{Method, Uri};

/// Headers that describe a request body, dropped with the body when a redirect turns the
/// request into a GET (as the Fetch standard's "request-body-header names").
pub(super) const BODY_HEADERS: [http::HeaderName; 5] = [
    CONTENT_TYPE,
    http::header::CONTENT_LENGTH,
    http::header::CONTENT_ENCODING,
    http::header::CONTENT_LANGUAGE,
    http::header::CONTENT_LOCATION,
];

/// Headers that carry credentials for one origin: never sent on to another one by a
/// redirect (browsers and curl drop them; the jar's cookies follow its own domain rules).
pub(super) const CREDENTIAL_HEADERS: [http::HeaderName; 3] = [
    http::header::AUTHORIZATION,
    http::header::PROXY_AUTHORIZATION,
    COOKIE,
];

/// What a redirect does to the request's method, as browsers and curl do it: 303 makes
/// anything but HEAD a GET; 301 and 302 turn a POST into a GET; 307 and 308 keep both the
/// method and the body.
pub(super) struct Redirect {
    pub to_get: bool,
    pub method: Method,
}

impl Redirect {
    pub(super) fn of(status: u16, method: &Method) -> Redirect {
        let to_get = match status {
            303 => *method != Method::GET && *method != Method::HEAD,
            301 | 302 => *method == Method::POST,
            _ => false,
        };
        Redirect {
            to_get,
            method: if to_get { Method::GET } else { method.clone() },
        }
    }
}

/// Resolves a `Location` header against the URL it came from, by RFC 3986 §5.2 (dot
/// segments removed); credentials in it are not kept.
pub(super) fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    let base = url::Url::parse(&base.to_string()).ok()?;
    let mut next = base.join(location.trim()).ok()?;
    if !matches!(next.scheme(), "http" | "https") {
        return None;
    }
    let _ = next.set_username("");
    let _ = next.set_password(None);
    next.set_fragment(None);
    next.as_str().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_resolve_relative_locations() {
        let base: Uri = "http://h:8/a/b?x=1".parse().unwrap();
        assert_eq!(resolve(&base, "/c").unwrap().to_string(), "http://h:8/c");
        assert_eq!(
            resolve(&base, "c?y").unwrap().to_string(),
            "http://h:8/a/c?y"
        );
        assert_eq!(
            resolve(&base, "http://o/z").unwrap().to_string(),
            "http://o/z"
        );
        assert_eq!(resolve(&base, "//o2/z").unwrap().to_string(), "http://o2/z");
        // RFC 3986 §5.4's examples, from the base http://a/b/c/d;p?q.
        let base: Uri = "http://a/b/c/d;p?q".parse().unwrap();
        for (location, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("g/../h", "http://a/b/c/h"),
            ("./g/.", "http://a/b/c/g/"),
        ] {
            assert_eq!(
                resolve(&base, location).unwrap().to_string(),
                want,
                "{location}"
            );
        }
        assert!(resolve(&base, "ftp://x/y").is_none());
        assert_eq!(
            resolve(&base, "http://u:p@o/z").unwrap().to_string(),
            "http://o/z"
        );
    }

    #[test]
    fn redirect_methods_follow_browsers() {
        let post = Method::POST;
        for (status, method, get) in [
            (301, &post, true),
            (302, &post, true),
            (303, &post, true),
            (303, &Method::PUT, true),
            (303, &Method::HEAD, false),
            (302, &Method::PUT, false),
            (307, &post, false),
            (308, &post, false),
        ] {
            let r = Redirect::of(status, method);
            assert_eq!(r.to_get, get, "{status} {method}");
            assert_eq!(r.method, if get { Method::GET } else { method.clone() });
        }
    }
}
