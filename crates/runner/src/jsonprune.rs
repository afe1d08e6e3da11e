//! Parsing only the parts of a JSON response a step looks at.
//!
//! When every JSON check and extractor of a step uses a simple path (`$.a.b[0].c`: member
//! names and non-negative indexes only) and nothing else needs the whole document (a schema),
//! the body is parsed once into a `serde_json::Value` that keeps only the subtrees those paths
//! reach: other members are skipped without being built (no `String` keys, no `IndexMap`
//! inserts), array elements before a wanted index become `null` placeholders so indexes keep
//! their meaning, and elements after the last wanted index are skipped. The whole body is
//! still checked for UTF-8 and JSON syntax, so a body that does not parse is reported as
//! before. Each simple path selects in the pruned document exactly what it selects in the
//! whole one. Failure messages that describe the document (its keys) re-parse it whole.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// What to keep of a JSON node.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Prune {
    /// A path ends here: keep the whole subtree.
    all: bool,
    fields: Vec<(String, Prune)>,
    /// Wanted indexes (sorted by insertion; looked up linearly: there are few).
    indexes: Vec<(usize, Prune)>,
}

impl Prune {
    /// The tree for a set of JSONPath sources; None when any is not simple, or when one is
    /// `$` itself (the whole document is needed anyway).
    pub fn of<'a>(paths: impl IntoIterator<Item = &'a str>) -> Option<Prune> {
        let mut root = Prune::default();
        for p in paths {
            let segs = simple_segments(p)?;
            if segs.is_empty() {
                return None;
            }
            let mut node = &mut root;
            for s in segs {
                if node.all {
                    break;
                }
                node = match s {
                    Seg::Name(n) => {
                        let i = match node.fields.iter().position(|(k, _)| *k == n) {
                            Some(i) => i,
                            None => {
                                node.fields.push((n, Prune::default()));
                                node.fields.len() - 1
                            }
                        };
                        &mut node.fields[i].1
                    }
                    Seg::Index(x) => {
                        let i = match node.indexes.iter().position(|(k, _)| *k == x) {
                            Some(i) => i,
                            None => {
                                node.indexes.push((x, Prune::default()));
                                node.indexes.len() - 1
                            }
                        };
                        &mut node.indexes[i].1
                    }
                };
            }
            node.all = true;
            node.fields.clear();
            node.indexes.clear();
        }
        Some(root)
    }

    /// Parses `body` keeping what the paths reach. Err: the body is not UTF-8 or not JSON
    /// (the caller re-parses whole for the usual error message).
    pub fn parse(&self, body: &[u8]) -> Result<Value, ()> {
        let text = std::str::from_utf8(body).map_err(|_| ())?;
        let mut de = serde_json::Deserializer::from_str(text);
        let v = self.deserialize(&mut de).map_err(|_| ())?;
        de.end().map_err(|_| ())?;
        Ok(v)
    }
}

enum Seg {
    Name(String),
    Index(usize),
}

/// `$`, then `.name` (letters, digits, `_`, non-ASCII; not starting with a digit) or `[N]`.
fn simple_segments(p: &str) -> Option<Vec<Seg>> {
    let rest = p.strip_prefix('$')?;
    let b = rest.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
                {
                    j += 1;
                }
                if j == start || b[start].is_ascii_digit() {
                    return None;
                }
                out.push(Seg::Name(rest[start..j].to_string()));
                i = j;
            }
            b'[' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j == start || j >= b.len() || b[j] != b']' || (j - start > 1 && b[start] == b'0')
                {
                    return None;
                }
                out.push(Seg::Index(rest[start..j].parse().ok()?));
                i = j + 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

impl<'de> DeserializeSeed<'de> for &Prune {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.all {
            return serde::Deserialize::deserialize(d);
        }
        d.deserialize_any(PruneVisitor(self))
    }
}

struct PruneVisitor<'p>(&'p Prune);

/// A member name: the index of the wanted field it is, if any.
struct KeySeed<'p>(&'p Prune);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<usize>, E> {
        Ok(self.0.fields.iter().position(|(k, _)| k == s))
    }
}

impl<'de> Visitor<'de> for PruneVisitor<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let last = self.0.indexes.iter().map(|(i, _)| *i).max();
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            if last.is_some_and(|l| i <= l) {
                match self.0.indexes.iter().find(|(x, _)| *x == i) {
                    Some((_, child)) => match seq.next_element_seed(child)? {
                        Some(v) => out.push(v),
                        None => break,
                    },
                    None => match seq.next_element::<IgnoredAny>()? {
                        Some(_) => out.push(Value::Null),
                        None => break,
                    },
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key_seed(KeySeed(self.0))? {
            match k {
                Some(i) => {
                    let (name, child) = &self.0.fields[i];
                    let v = map.next_value_seed(child)?;
                    out.insert(name.clone(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same(doc: &Value, paths: &[&str]) {
        let tree = Prune::of(paths.iter().copied()).expect("simple");
        let pruned = tree.parse(doc.to_string().as_bytes()).unwrap();
        for p in paths {
            let path = throng_ir::JsonPath::parse(p).unwrap();
            let a: Vec<&Value> = path.query(doc);
            let b: Vec<&Value> = path.query(&pruned);
            assert_eq!(a, b, "{p}");
        }
    }

    #[test]
    fn simple_paths_select_the_same_in_the_pruned_document() {
        let doc = json!({
            "token": "t", "user": {"email": "e", "x": [1, 2]},
            "products": [{"id": 1, "n": "a"}, {"id": 2}, {"id": 3}],
            "total": 3, "items": [], "nested": {"a": {"b": [[0, 1], [2, {"c": null}]]}},
            "f": 1.5, "neg": -4, "t": true, "s": "é\"\\"
        });
        same(
            &doc,
            &[
                "$.token",
                "$.user.email",
                "$.products[0].id",
                "$.products[1].id",
            ],
        );
        same(
            &doc,
            &[
                "$.products[2]",
                "$.products[7].id",
                "$.items[0].quantity",
                "$.total",
            ],
        );
        same(
            &doc,
            &["$.nested.a.b[1][1].c", "$.nested.a", "$.nested.a.b[0]"],
        );
        same(
            &doc,
            &[
                "$.f",
                "$.neg",
                "$.t",
                "$.s",
                "$.missing",
                "$.user.email.deeper",
            ],
        );
        same(&json!([{"a": 1}, {"a": 2}]), &["$[1].a", "$.a"]);
        same(&json!("str"), &["$.a", "$[0]"]);
    }

    #[test]
    fn only_simple_paths_are_pruned() {
        for p in [
            "$",
            "$..id",
            "$.a[*]",
            "$.a[-1]",
            "$['a']",
            "$.a[?@.b]",
            "$.0a",
            "$.a[01]",
            "a",
        ] {
            assert!(Prune::of([p]).is_none(), "{p}");
        }
        assert!(Prune::of(["$.a_b.c1[10]", "$.ünï"]).is_some());
    }

    #[test]
    fn bad_bodies_do_not_parse() {
        let t = Prune::of(["$.a"]).unwrap();
        assert!(t.parse(b"{\"a\": 1").is_err());
        assert!(t.parse(b"{\"a\": 1} x").is_err());
        assert!(t.parse(b"{\"b\": \"\xff\", \"a\": 1}").is_err());
        assert!(t.parse(b"{\"b\": [1,,2], \"a\": 1}").is_err());
        assert_eq!(
            t.parse(b" {\"b\": {\"c\": [1]}, \"a\": 1} ").unwrap(),
            json!({"a": 1})
        );
    }
}
