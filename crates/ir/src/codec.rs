//! The one percent codec every crate uses for URL components and form fields: what a
//! scenario's `query:` and `form:` mean on the wire (RFC 3986 unreserved characters kept,
//! every other byte `%XX` in upper case), and how recorded ones read back.

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Bytes escaped in a URL component or form field: all but RFC 3986's unreserved ones.
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Appends `s` to `out`, percent-encoded as a URL component or form field.
pub fn append_component(out: &mut String, s: &str) {
    out.extend(utf8_percent_encode(s, COMPONENT));
}

/// `s` percent-encoded as a URL component or form field.
pub fn encode_component(s: &str) -> Cow<'_, str> {
    utf8_percent_encode(s, COMPONENT).into()
}

/// `s` with `%XX` escapes decoded; invalid UTF-8 after decoding is replaced (lossy), and a
/// `%` not followed by two hex digits stays as it is.
pub fn percent_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// `s` with `%XX` escapes decoded, as bytes (a password in a URL need not be UTF-8).
pub fn percent_decode_bytes(s: &str) -> Vec<u8> {
    percent_decode_str(s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_round_trip() {
        let mut out = String::new();
        append_component(&mut out, "a b&c/é~-_.");
        assert_eq!(out, "a%20b%26c%2F%C3%A9~-_.");
        assert_eq!(encode_component("x=1"), "x%3D1");
        assert_eq!(percent_decode(&out), "a b&c/é~-_.");
        // Stray percent signs and a non-ASCII character after one are kept, never sliced.
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%aé"), "%aé");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
