//! Scenario YAML output: the draft laid out through `templates/scenario.yaml.j2`.
//!
//! The template owns the layout and comments; this module only turns values into YAML
//! scalars (quoted exactly when YAML would otherwise misread them), so the output is
//! deterministic and reads like a hand-written scenario.

use minijinja::{context, Environment};
use serde::Serialize;

use crate::draft::{Draft, DraftBody, DraftPart};

const TEMPLATE: &str = include_str!("../../../templates/scenario.yaml.j2");

#[derive(Debug, Clone, Serialize)]
struct Pair {
    key: String,
    value: String,
    comment: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct StepCtx {
    notes: Vec<String>,
    name: String,
    method: String,
    url: String,
    query: Vec<Pair>,
    headers: Vec<Pair>,
    body_kind: &'static str,
    body: String,
    extract: Vec<Pair>,
    status: u16,
    think: Option<String>,
    follow_redirects: Option<bool>,
    har: String,
    entry: usize,
}

/// Renders the draft as scenario YAML.
pub fn render(d: &Draft) -> Result<String, String> {
    let mut env = Environment::new();
    // Block tags sit on their own lines in the template; they must not leave blank lines.
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| format!("template syntax: {e}"))?;
    env.set_syntax(syntax);
    // Values arrive already quoted for YAML; the `.yaml` name would otherwise turn on JSON escaping.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_template("scenario.yaml.j2", TEMPLATE)
        .map_err(|e| format!("template: {e}"))?;
    let vars: Vec<Pair> = d
        .vars
        .iter()
        .map(|v| Pair {
            key: scalar(&v.name),
            value: json_inline(&v.value),
            comment: v.comment.clone().map(|c| comment(&c)),
        })
        .collect();
    let steps: Vec<StepCtx> = d
        .steps
        .iter()
        .map(|s| {
            let (body_kind, body) = match &s.body {
                DraftBody::None => ("", String::new()),
                DraftBody::Json(v) => ("json", block(v)),
                DraftBody::Text(t) => ("body", format!(" {}", scalar(t))),
                DraftBody::Form(f) => ("form", map_block(f)),
                DraftBody::Multipart(parts) => {
                    let v: serde_json::Map<String, serde_json::Value> = parts
                        .iter()
                        .map(|(k, p)| {
                            let v = match p {
                                DraftPart::Text(t) => serde_json::Value::String(t.clone()),
                                DraftPart::File {
                                    content,
                                    filename,
                                    content_type,
                                } => {
                                    let mut m = serde_json::Map::new();
                                    m.insert("content".into(), content.clone().into());
                                    m.insert("filename".into(), filename.clone().into());
                                    if let Some(ct) = content_type {
                                        m.insert("content_type".into(), ct.clone().into());
                                    }
                                    serde_json::Value::Object(m)
                                }
                            };
                            (k.clone(), v)
                        })
                        .collect();
                    ("multipart", block(&serde_json::Value::Object(v)))
                }
            };
            StepCtx {
                notes: s.notes.iter().map(|n| comment(n)).collect(),
                name: scalar(&s.name),
                method: s.method.clone(),
                url: scalar(&s.url),
                query: pairs(&s.query),
                headers: pairs(&s.headers),
                body_kind,
                body,
                extract: s
                    .extract
                    .iter()
                    .map(|x| {
                        let raw = throng_ir::extract::RawExtractor::from(x.extractor.clone());
                        let json = serde_json::to_value(&raw).unwrap_or_default();
                        Pair {
                            key: scalar(&x.var),
                            value: flow_map(&json),
                            comment: Some(comment(&x.comment)),
                        }
                    })
                    .collect(),
                status: s.status,
                think: s
                    .think_ms
                    .map(|ms| throng_ir::format_duration(std::time::Duration::from_millis(ms))),
                follow_redirects: s.follow_redirects,
                har: scalar(&s.har),
                entry: s.entry,
            }
        })
        .collect();
    let tmpl = env
        .get_template("scenario.yaml.j2")
        .map_err(|e| e.to_string())?;
    tmpl.render(context! {
        header_comments => d.header_comments.iter().map(|c| comment(c)).collect::<Vec<_>>(),
        name => scalar(&d.name),
        scenario_name => scalar(&d.name),
        vars => minijinja::Value::from(minijinja::value::Serde(&vars)),
        secrets => d.secrets.iter().map(|s| scalar(s)).collect::<Vec<_>>(),
        default_headers => minijinja::Value::from(minijinja::value::Serde(pairs(&d.default_headers))),
        steps => minijinja::Value::from(minijinja::value::Serde(&steps)),
    })
    .map_err(|e| format!("rendering: {e:#}"))
}

fn pairs(list: &[(String, String)]) -> Vec<Pair> {
    list.iter()
        .map(|(k, v)| Pair {
            key: scalar(k),
            value: scalar(v),
            comment: None,
        })
        .collect()
}

/// Comment text on one line.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

const RESERVED_WORDS: &[&str] = &[
    "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~",
];

/// A string as a YAML scalar: plain when unambiguous, else JSON-style double quoted.
pub fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.len() <= 200
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '$' || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _./$-()@+=".contains(c))
        && !s.ends_with(' ')
        && !s.contains("  ")
        && !RESERVED_WORDS.contains(&s.to_ascii_lowercase().as_str())
        && s.parse::<f64>().is_err();
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

/// A JSON value on one line as YAML (flow style is valid YAML).
fn json_inline(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => scalar(s),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// `{json: $.token}` style: keys plain, values quoted when needed.
fn flow_map(v: &serde_json::Value) -> String {
    let Some(m) = v.as_object() else {
        return json_inline(v);
    };
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| {
            let val = match v {
                serde_json::Value::String(s) if flow_safe(s) => s.clone(),
                serde_json::Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
                other => serde_json::to_string(other).unwrap_or_default(),
            };
            format!("{k}: {val}")
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn flow_safe(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '$' || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.$-".contains(c))
        && !RESERVED_WORDS.contains(&s.to_ascii_lowercase().as_str())
}

/// A JSON value as an indented YAML block (the template indents it further).
fn block(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) if m.is_empty() => " {}".into(),
        serde_json::Value::Array(a) if a.is_empty() => " []".into(),
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
            let y = yaml_serde::to_string(v).unwrap_or_default();
            format!("\n{}", y.trim_end())
        }
        other => format!(" {}", json_inline(other)),
    }
}

fn map_block(list: &[(String, String)]) -> String {
    if list.is_empty() {
        return " {}".into();
    }
    let lines: Vec<String> = list
        .iter()
        .map(|(k, v)| format!("{}: {}", scalar(k), scalar(v)))
        .collect();
    format!("\n{}", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_when_needed() {
        assert_eq!(scalar("POST /cart/items"), "POST /cart/items");
        assert_eq!(scalar("{{ base_url }}/x"), "\"{{ base_url }}/x\"");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("123"), "\"123\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(
            flow_map(&serde_json::json!({"json": "$.a[0].id"})),
            "{json: \"$.a[0].id\"}"
        );
        assert_eq!(
            flow_map(&serde_json::json!({"json": "$.token"})),
            "{json: $.token}"
        );
    }
}
