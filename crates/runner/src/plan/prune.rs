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
//!
//! A JSON Schema check prunes too when the schema only looks at the document's root: its
//! type, which members it has (`required`, `additionalProperties: false`, `minProperties`,
//! ...), and whole members named in `properties`. The root then keeps every member name,
//! with `null` for the values no schema keyword or path reads ([`Prune::for_schema`]).

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use throng_ir::pattern::Selector;
use throng_ir::JsonPath;

/// What to keep of a JSON node.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Prune {
    /// A path ends here: keep the whole subtree.
    all: bool,
    /// Keep every member name of this object, `null` standing for values nothing reads.
    keys: bool,
    fields: Vec<(String, Prune)>,
    /// Wanted indexes (sorted by insertion; looked up linearly: there are few).
    indexes: Vec<(usize, Prune)>,
}

impl Prune {
    /// The tree for a set of JSONPath sources; None when any is not simple, or when one is
    /// `$` itself (the whole document is needed anyway).
    pub fn of<'a>(paths: impl IntoIterator<Item = &'a JsonPath>) -> Option<Prune> {
        let mut root = Prune::default();
        for p in paths {
            let segs = p.selectors()?;
            if segs.is_empty() {
                return None;
            }
            let mut node = &mut root;
            for s in segs {
                if node.all {
                    break;
                }
                node = match s {
                    Selector::Name(n) => {
                        let i = match node.fields.iter().position(|(k, _)| k == n) {
                            Some(i) => i,
                            None => {
                                node.fields.push((n.clone(), Prune::default()));
                                node.fields.len() - 1
                            }
                        };
                        &mut node.fields[i].1
                    }
                    Selector::Index(x) => {
                        let i = match node.indexes.iter().position(|(k, _)| k == x) {
                            Some(i) => i,
                            None => {
                                node.indexes.push((*x, Prune::default()));
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

    /// The tree a JSON Schema needs, when it reads no deeper than the root's members; None
    /// when it may (or is not an object schema).
    pub fn for_schema(schema: &Value) -> Option<Prune> {
        let mut root = Prune::default();
        for (k, v) in schema.as_object()? {
            match k.as_str() {
                // Annotations, and keywords about the root's own type.
                "$schema" | "$id" | "$comment" | "title" | "description" | "examples"
                | "default" | "deprecated" | "readOnly" | "writeOnly" | "type" => {}
                // Keywords about which members the root has, not their values.
                "required" | "minProperties" | "maxProperties" | "propertyNames" => {
                    root.keys = true
                }
                "additionalProperties" if v.is_boolean() => root.keys = true,
                "properties" => {
                    for name in v.as_object()?.keys() {
                        root.fields.push((
                            name.clone(),
                            Prune {
                                all: true,
                                ..Prune::default()
                            },
                        ));
                    }
                }
                _ => return None,
            }
        }
        Some(root)
    }

    /// This tree and `other`'s: what either keeps.
    pub fn merge(mut self, other: Prune) -> Prune {
        if self.all || other.all {
            return Prune {
                all: true,
                ..Prune::default()
            };
        }
        self.keys |= other.keys;
        merge_children(&mut self.fields, other.fields);
        merge_children(&mut self.indexes, other.indexes);
        self
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

/// Adds `theirs` to `mine`, merging the trees of keys both have.
fn merge_children<K: PartialEq>(mine: &mut Vec<(K, Prune)>, theirs: Vec<(K, Prune)>) {
    for (key, child) in theirs {
        match mine.iter().position(|(k, _)| *k == key) {
            Some(i) => {
                let old = std::mem::take(&mut mine[i].1);
                mine[i].1 = old.merge(child);
            }
            None => mine.push((key, child)),
        }
    }
}

/// A member name: the wanted field it is, else the name itself when the node keeps names.
struct KeySeed<'p>(&'p Prune);

enum Key {
    Wanted(usize),
    Kept(String),
    Skipped,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
        Ok(match self.0.fields.iter().position(|(k, _)| k == s) {
            Some(i) => Key::Wanted(i),
            None if self.0.keys => Key::Kept(s.to_string()),
            None => Key::Skipped,
        })
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
                Key::Wanted(i) => {
                    let (name, child) = &self.0.fields[i];
                    let v = map.next_value_seed(child)?;
                    out.insert(name.clone(), v);
                }
                Key::Kept(name) => {
                    map.next_value::<IgnoredAny>()?;
                    out.insert(name, Value::Null);
                }
                Key::Skipped => {
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

    /// `Prune::of` over path sources.
    fn of(sources: &[&str]) -> Option<Prune> {
        let paths: Vec<JsonPath> = sources
            .iter()
            .map(|p| JsonPath::parse(p).unwrap())
            .collect();
        Prune::of(&paths)
    }

    fn same(doc: &Value, paths: &[&str]) {
        let tree = of(paths).expect("simple");
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
            assert!(
                JsonPath::parse(p).map_or(true, |p| Prune::of([&p]).is_none()),
                "{p}"
            );
        }
        assert!(of(&["$.a_b.c1[10]", "$.ünï"]).is_some());
    }

    #[test]
    fn bad_bodies_do_not_parse() {
        let t = of(&["$.a"]).unwrap();
        assert!(t.parse(b"{\"a\": 1").is_err());
        assert!(t.parse(b"{\"a\": 1} x").is_err());
        assert!(t.parse(b"{\"b\": \"\xff\", \"a\": 1}").is_err());
        assert!(t.parse(b"{\"b\": [1,,2], \"a\": 1}").is_err());
        assert_eq!(
            t.parse(b" {\"b\": {\"c\": [1]}, \"a\": 1} ").unwrap(),
            json!({"a": 1})
        );
    }

    #[test]
    fn root_level_schemas_judge_the_pruned_document_as_the_whole_one() {
        let docs = [
            json!({"id": "o-1", "status": "paid", "items": [{"sku": 1}], "total": 9.5}),
            json!({"id": "o-1", "items": []}),
            json!({"id": 7, "status": null, "extra": {"deep": [1, 2]}}),
            json!({}),
            json!([{"id": "x"}]),
            json!("text"),
        ];
        let schemas = [
            json!({"type": "object", "required": ["id", "status"]}),
            json!({"type": "object", "properties": {"id": {"type": "string"}, "items": {"type": "array", "minItems": 1}}}),
            json!({"required": ["id"], "additionalProperties": false, "properties": {"id": {}, "status": {}}}),
            json!({"minProperties": 2, "maxProperties": 3, "propertyNames": {"pattern": "^[a-z]+$"}}),
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "t", "type": ["object", "array"]}),
        ];
        for schema in &schemas {
            let tree = Prune::for_schema(schema).expect("a root-level schema");
            // Merged with a path, as a step with a schema and a JSON check has it.
            let tree = tree.merge(of(&["$.items[0].sku"]).unwrap());
            let validator = jsonschema::validator_for(schema).unwrap();
            for doc in &docs {
                let pruned = tree.parse(doc.to_string().as_bytes()).unwrap();
                // The same verdicts, for the same keywords at the same places (messages quote
                // the value, so the check quotes it from the whole document).
                let verdicts = |d: &Value| -> Vec<String> {
                    validator
                        .iter_errors(d)
                        .map(|e| format!("{} {}", e.schema_path(), e.instance_path()))
                        .collect()
                };
                assert_eq!(verdicts(doc), verdicts(&pruned), "{schema} on {doc}");
                let path = throng_ir::JsonPath::parse("$.items[0].sku").unwrap();
                assert_eq!(path.query(doc), path.query(&pruned), "{doc}");
            }
        }
        // Schemas that read deeper (or decide on values) need the whole document.
        for deep in [
            json!({"items": {"type": "string"}}),
            json!({"additionalProperties": {"type": "string"}}),
            json!({"enum": [{"id": 1}]}),
            json!({"allOf": [{"required": ["id"]}]}),
            json!({"$ref": "#/$defs/x", "$defs": {"x": {}}}),
            json!(true),
        ] {
            assert_eq!(Prune::for_schema(&deep), None, "{deep}");
        }
    }
}
