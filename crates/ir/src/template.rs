//! Templated strings and JSON values, and the one template environment every crate renders with.
//!
//! A scenario's templates are parsed when the scenario is loaded (syntax errors and
//! undefined variables surface at `throng validate`, not mid-run); the runner then
//! compiles each template exactly once into an [`environment`] and only renders per request.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::sync::{Arc, LazyLock};

use indexmap::IndexMap;
use minijinja::value::{Rest, Value};
use minijinja::{AutoEscape, Environment, Error as JinjaError, ErrorKind, UndefinedBehavior};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Functions every template may call.
pub const BUILTIN_FUNCTIONS: &[&str] = &["uuid", "timestamp", "random_int", "random_choice", "env"];
/// Variables every template may read: the VU number and its iteration count.
pub const BUILTIN_VARIABLES: &[&str] = &["vu", "iteration"];
/// minijinja's own globals, which are not scenario variables either.
const ENGINE_GLOBALS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "debug",
    "lipsum",
    "cycler",
    "joiner",
];
/// Words of the template language itself.
const KEYWORDS: &[&str] = &[
    "true", "false", "none", "null", "loop", "self", "super", "and", "or", "not", "in", "is", "if",
    "else",
];

/// Names a scenario variable must not take: builtins, engine globals and keywords.
pub fn reserved_names() -> impl Iterator<Item = &'static str> {
    BUILTIN_FUNCTIONS
        .iter()
        .chain(BUILTIN_VARIABLES)
        .chain(ENGINE_GLOBALS)
        .chain(KEYWORDS)
        .copied()
}

/// A string that may contain `{{ ... }}`; literal strings cost nothing to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    kind: TemplateKind,
    /// Variables the template reads, with nested lookups (`users.email`), builtins removed.
    references: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplateKind {
    Literal,
    /// The whole string is one `{{ expr }}`: inside a JSON body it becomes the expression's native value.
    Expression(String),
    Text,
}

static FORBIDDEN_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{%-?\s*(include|import|extends|from)\b").expect("static regex"));

/// The syntax-checking environment: same configuration as a runtime one, no data.
static CHECK_ENV: LazyLock<Environment<'static>> =
    LazyLock::new(|| environment(Arc::new(HashMap::new())));

/// The expression when `source` is exactly one `{{ expr }}` on one line (whitespace control
/// dashes allowed), as the pattern `^\{\{-?\s*(.*?)\s*-?\}\}$` would take it, without the
/// cost of a regex per template.
fn single_expression(source: &str) -> Option<&str> {
    let inner = source.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains('\n') || inner.contains("{{") || inner.contains("}}") {
        return None;
    }
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    Some(inner.trim())
}

impl Template {
    /// Parses a template: checks its syntax, rejects file access, records what it reads.
    pub fn parse(source: impl Into<String>) -> Result<Template, String> {
        let source = source.into();
        if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
            return Ok(Template {
                source,
                kind: TemplateKind::Literal,
                references: Vec::new(),
            });
        }
        if let Some(m) = source
            .contains("{%")
            .then(|| FORBIDDEN_TAG.captures(&source))
            .flatten()
        {
            return Err(format!(
                "template tag `{}` is not allowed: scenarios cannot read other files through templates",
                &m[1]
            ));
        }
        let tmpl = CHECK_ENV
            .template_from_str(&source)
            .map_err(|e| format!("invalid template `{}`: {}", snippet(&source), describe(&e)))?;
        check_names(&source)?;
        let references = tmpl
            .undeclared_variables(true)
            .into_iter()
            .filter(|name| {
                let root = name.split('.').next().unwrap_or(name);
                !BUILTIN_FUNCTIONS.contains(&root)
                    && !BUILTIN_VARIABLES.contains(&root)
                    && !ENGINE_GLOBALS.contains(&root)
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let kind = match single_expression(&source) {
            Some(e) => TemplateKind::Expression(e.to_string()),
            None => TemplateKind::Text,
        };
        Ok(Template {
            source,
            kind,
            references,
        })
    }

    /// A template that renders to exactly `text`, escaping any template syntax in it.
    pub fn literal(text: &str) -> Template {
        if !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
            return Template {
                source: text.to_string(),
                kind: TemplateKind::Literal,
                references: Vec::new(),
            };
        }
        Template {
            source: format!(
                "{{% raw %}}{}{{% endraw %}}",
                text.replace("{% endraw %}", "{% endraw %}{{ '{% endraw %}' }}{% raw %}")
            ),
            kind: TemplateKind::Text,
            references: Vec::new(),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// `Some(text)` when the template has nothing to render.
    pub fn as_literal(&self) -> Option<&str> {
        match self.kind {
            TemplateKind::Literal => Some(&self.source),
            _ => None,
        }
    }

    /// `Some(expr)` when the whole template is a single `{{ expr }}`.
    pub fn as_expression(&self) -> Option<&str> {
        match &self.kind {
            TemplateKind::Expression(e) => Some(e),
            _ => None,
        }
    }

    /// Variables read, nested lookups spelt with dots (`users.email`); builtins excluded.
    pub fn references(&self) -> &[String] {
        &self.references
    }
}

/// Refuses a template that applies a filter or test the environment does not have: minijinja
/// looks them up only when it renders, so without this `{{ x | nosuch }}` would pass
/// `throng validate` and then fail every request.
fn check_names(source: &str) -> Result<(), String> {
    use minijinja::machinery::{parse, CodeGenerator, Instruction, Instructions};
    // A filter needs a `|` and a test the word `is`: most templates have neither, and a
    // scenario may hold tens of thousands of them.
    if !source.contains('|') && !source.contains("is") {
        return Ok(());
    }
    let Ok(ast) = parse(source, "<template>", Default::default()) else {
        // Syntax errors were reported by the compile that ran first.
        return Ok(());
    };
    let mut gen = CodeGenerator::new("<template>", source);
    gen.compile_stmt(&ast);
    let (main, blocks) = gen.finish();
    fn scan<'s>(code: &Instructions<'s>, used: &mut Vec<(&'static str, &'s str)>) {
        let mut i = 0;
        while let Some(instr) = code.get(i) {
            match instr {
                Instruction::ApplyFilter(name, ..) => used.push(("filter", name)),
                Instruction::PerformTest(name, ..) => used.push(("test", name)),
                _ => {}
            }
            i += 1;
        }
    }
    let mut used = Vec::new();
    scan(&main, &mut used);
    for code in blocks.values() {
        scan(code, &mut used);
    }
    for (kind, name) in used {
        if !has(kind, name) {
            let known: &[&str] = if kind == "filter" { FILTERS } else { TESTS };
            let hint = known
                .iter()
                .map(|k| (strsim::jaro_winkler(k, name), *k))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, k)| format!("; did you mean `{k}`?"))
                .unwrap_or_else(|| format!("; the {kind}s are listed in README (Templates)"));
            return Err(format!(
                "unknown {kind} `{}` in template `{}`{hint}",
                snippet(name),
                snippet(source)
            ));
        }
    }
    Ok(())
}

/// Whether the runtime environment has the filter or test `name`, asked of the environment
/// itself (`is filter` / `is test`), so the answer cannot drift from what renders.
fn has(kind: &str, name: &str) -> bool {
    let expr = if kind == "filter" {
        "n is filter"
    } else {
        "n is test"
    };
    CHECK_ENV
        .compile_expression(expr)
        .and_then(|e| e.eval(minijinja::context! { n => name }))
        .is_ok_and(|v| v.is_true())
}

/// The filters every template may apply: minijinja's builtins (with `urlencode` and
/// `tojson`). Kept for "did you mean" hints and README; [`has`] asks the environment.
pub const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
    "zip",
];

/// The tests every template may apply (`x is number`).
pub const TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "gt",
    "in",
    "int",
    "integer",
    "iterable",
    "le",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

fn describe(e: &JinjaError) -> String {
    match e.detail() {
        Some(d) => format!("{} ({})", e.kind(), snippet(d)),
        None => e.kind().to_string(),
    }
}

/// How much of a value or a template a message quotes, in characters.
pub const SNIPPET_CHARS: usize = 200;

/// `text` cut to [`SNIPPET_CHARS`] characters for quoting in a message, saying how long it
/// was: a message must not carry a multi-megabyte rendered value or template.
pub fn snippet(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(SNIPPET_CHARS) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}... ({} bytes)", &text[..end], text.len())),
    }
}

/// A render or evaluation error as one line: the kind, then the detail cut by [`snippet`].
pub fn describe_error(e: &JinjaError) -> String {
    let mut msg = e.kind().to_string();
    if e.kind() == ErrorKind::OutOfFuel {
        msg.push_str(&format!(
            " (a template may do about {TEMPLATE_FUEL} steps of work per render)"
        ));
    }
    if let Some(d) = e.detail() {
        msg.push_str(": ");
        msg.push_str(&snippet(d));
    }
    msg
}

/// Fuel for one render or expression evaluation (minijinja's `set_fuel`): one unit pays for
/// an instruction or about 64 bytes of data made. Real templates use a few hundred; this
/// allows loops of many thousand iterations and tens of megabytes of intermediate data,
/// and stops `{{ "x" * 100000000 }}`, `{{ (0,) * 99000000 }}` or runaway loops before they
/// allocate (estimated sizes are checked before the allocation).
pub const TEMPLATE_FUEL: u64 = 1_000_000;

/// Rendered text, or a value an expression evaluates to, larger than this is an error
/// ([`render_bounded`], [`eval_bounded`]).
pub const MAX_RENDERED_BYTES: usize = 1 << 20;

/// Renders a compiled template, failing once the output passes [`MAX_RENDERED_BYTES`]
/// (writing stops there) or the render runs out of fuel; errors are [`describe_error`]d.
pub fn render_bounded(t: &minijinja::Template<'_, '_>, ctx: &Value) -> Result<String, String> {
    let mut out = CappedWriter {
        buf: Vec::new(),
        over: false,
    };
    match t.render_captured_to(ctx, &mut out) {
        Ok(_) => {}
        Err(_) if out.over => return Err(too_large("rendered text")),
        Err(e) => return Err(describe_error(&e)),
    }
    String::from_utf8(out.buf).map_err(|_| "rendered text is not UTF-8".to_string())
}

/// Evaluates a compiled expression, failing when its value is larger than
/// [`MAX_RENDERED_BYTES`] (as text, or its items counted), without materializing it: a
/// lazy `[0] * 99000000` is refused before anything walks it.
pub fn eval_bounded(e: &minijinja::Expression<'_, '_>, ctx: &Value) -> Result<Value, String> {
    let v = e.eval(ctx).map_err(|e| describe_error(&e))?;
    check_value_size(&v)?;
    Ok(v)
}

/// Refuses a value whose text, or whose items and their text, pass [`MAX_RENDERED_BYTES`];
/// walks at most that much of it.
pub fn check_value_size(v: &Value) -> Result<(), String> {
    let mut budget = MAX_RENDERED_BYTES;
    if fits(v, &mut budget, 0) {
        Ok(())
    } else {
        Err(too_large("value"))
    }
}

fn too_large(what: &str) -> String {
    format!("{what} is larger than {MAX_RENDERED_BYTES} bytes")
}

/// Charges `v` against `budget` (string bytes, 8 per item); false once it runs out.
fn fits(v: &Value, budget: &mut usize, depth: usize) -> bool {
    use minijinja::value::ValueKind;
    fn charge(budget: &mut usize, n: usize) -> bool {
        match budget.checked_sub(n) {
            Some(left) => {
                *budget = left;
                true
            }
            None => false,
        }
    }
    if depth > 500 {
        return false;
    }
    match v.kind() {
        ValueKind::String | ValueKind::Bytes => charge(
            budget,
            v.as_str()
                .map_or_else(|| v.as_bytes().map_or(0, <[u8]>::len), str::len),
        ),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable | ValueKind::Plain => {
            if v.len().is_some_and(|n| n.saturating_mul(8) > *budget) {
                return false;
            }
            let Ok(items) = v.try_iter() else {
                return charge(budget, 8);
            };
            let map = v.kind() == ValueKind::Map;
            for item in items {
                if !charge(budget, 8) || !fits(&item, budget, depth + 1) {
                    return false;
                }
                if map {
                    let Ok(value) = v.get_item(&item) else {
                        continue;
                    };
                    if !fits(&value, budget, depth + 1) {
                        return false;
                    }
                }
            }
            true
        }
        _ => charge(budget, 8),
    }
}

/// An `io::Write` into memory that refuses to grow past [`MAX_RENDERED_BYTES`].
struct CappedWriter {
    buf: Vec<u8>,
    over: bool,
}

impl io::Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > MAX_RENDERED_BYTES {
            self.over = true;
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "rendered text is too large",
            ));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Scalars are accepted and read as text so `page: 1` in a query works as `page: "1"`.
        let v = ScalarText::deserialize(d)?;
        Template::parse(v.0).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Template {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Template".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Text, optionally with minijinja `{{ expressions }}`",
            "type": ["string", "number", "boolean"]
        })
    }
}

struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(i64),
            Float(f64),
            Bool(bool),
        }
        Ok(ScalarText(
            match Raw::deserialize(d).map_err(|_| {
                serde::de::Error::custom("expected a string (a template), not a list or a map")
            })? {
                Raw::Text(t) => t,
                Raw::Int(i) => i.to_string(),
                Raw::Float(f) => f.to_string(),
                Raw::Bool(b) => b.to_string(),
            },
        ))
    }
}

/// A JSON value whose strings are templates (request bodies, variables, expected values).
///
/// A string that is exactly one `{{ expr }}` renders to the expression's native value,
/// so `{"qty": "{{ n }}"}` sends a number when `n` is a number.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Template),
    Array(Vec<JsonTemplate>),
    Object(IndexMap<String, JsonTemplate>),
}

impl JsonTemplate {
    pub fn from_json(value: serde_json::Value) -> Result<JsonTemplate, String> {
        Ok(match value {
            serde_json::Value::Null => JsonTemplate::Null,
            serde_json::Value::Bool(b) => JsonTemplate::Bool(b),
            serde_json::Value::Number(n) => JsonTemplate::Number(n),
            serde_json::Value::String(s) => JsonTemplate::String(Template::parse(s)?),
            serde_json::Value::Array(a) => JsonTemplate::Array(
                a.into_iter()
                    .map(JsonTemplate::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(o) => JsonTemplate::Object(
                o.into_iter()
                    .map(|(k, v)| Ok((k, JsonTemplate::from_json(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }

    /// The JSON value with each template's source text in place of its result.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            JsonTemplate::Null => serde_json::Value::Null,
            JsonTemplate::Bool(b) => serde_json::Value::Bool(*b),
            JsonTemplate::Number(n) => serde_json::Value::Number(n.clone()),
            JsonTemplate::String(t) => serde_json::Value::String(t.source().to_string()),
            JsonTemplate::Array(a) => {
                serde_json::Value::Array(a.iter().map(Self::to_json).collect())
            }
            JsonTemplate::Object(o) => {
                serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// Every template inside, depth first.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Template>) {
        match self {
            JsonTemplate::String(t) => out.push(t),
            JsonTemplate::Array(a) => a.iter().for_each(|v| v.collect(out)),
            JsonTemplate::Object(o) => o.values().for_each(|v| v.collect(out)),
            _ => {}
        }
    }

    /// True when nothing inside needs rendering.
    pub fn is_literal(&self) -> bool {
        self.templates().iter().all(|t| t.as_literal().is_some())
    }
}

impl Serialize for JsonTemplate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for JsonTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        JsonTemplate::from_json(v).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for JsonTemplate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "JsonTemplate".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Any JSON value; strings may be templates, and a string that is exactly one `{{ expr }}` becomes the expression's native value"
        })
    }
}

thread_local! {
    static RNG: RefCell<SmallRng> = RefCell::new(SmallRng::seed_from_u64(0x7468726f6e67));
}

/// Reseeds this thread's template randomness; the runner keys seeds by global VU and
/// iteration so `uuid()` and `random_*()` do not depend on how the load was split.
pub fn reseed(seed: u64) {
    RNG.with(|r| *r.borrow_mut() = SmallRng::seed_from_u64(seed));
}

fn with_rng<T>(f: impl FnOnce(&mut SmallRng) -> T) -> T {
    RNG.with(|r| f(&mut r.borrow_mut()))
}

/// A v4 UUID drawn from the template RNG.
pub fn random_uuid() -> String {
    let bytes: [u8; 16] = with_rng(|r| r.random());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Builds the template environment with throng's builtins.
///
/// Every render and expression evaluation in it is limited to [`TEMPLATE_FUEL`]; render
/// with [`render_bounded`] and [`eval_bounded`] to bound the result's size as well.
///
/// `env_overlay` holds variables from a scenario's sidecar `.env` file, consulted
/// before the process environment by `env(name, default)`.
pub fn environment(env_overlay: Arc<HashMap<String, String>>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // A printed value is measured before it is formatted: minijinja writes a sequence's
    // whole text before the capped output can refuse it, so `{{ ((s,(s,0)*1010)*102000) }}`
    // would build a gigabyte of text in one instruction that fuel cannot stop.
    env.set_formatter(|out, state, value| {
        check_value_size(value).map_err(|e| JinjaError::new(ErrorKind::InvalidOperation, e))?;
        minijinja::escape_formatter(out, state, value)
    });
    env.add_function("uuid", random_uuid);
    env.add_function("timestamp", || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    });
    env.add_function("random_int", |a: i64, b: i64| -> Result<i64, JinjaError> {
        if a > b {
            return Err(JinjaError::new(
                ErrorKind::InvalidOperation,
                format!("random_int({a}, {b}): the lower bound is above the upper"),
            ));
        }
        Ok(with_rng(|r| r.random_range(a..=b)))
    });
    env.add_function(
        "random_choice",
        |list: Value| -> Result<Value, JinjaError> {
            let len = list.len().unwrap_or(0);
            if len == 0 {
                return Err(JinjaError::new(
                    ErrorKind::InvalidOperation,
                    "random_choice() needs a non-empty list",
                ));
            }
            let i = with_rng(|r| r.random_range(0..len));
            list.get_item_by_index(i)
        },
    );
    env.add_function(
        "env",
        move |name: String, rest: Rest<Value>| -> Result<Value, JinjaError> {
            if let Some(v) = env_overlay.get(&name) {
                return Ok(Value::from(v.clone()));
            }
            if let Ok(v) = std::env::var(&name) {
                return Ok(Value::from(v));
            }
            match rest.first() {
                Some(default) => Ok(default.clone()),
                None => Err(JinjaError::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "environment variable {} is not set and env() was given no default",
                        snippet(&name)
                    ),
                )),
            }
        },
    );
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_and_references() {
        let t = Template::parse("plain").unwrap();
        assert_eq!(t.as_literal(), Some("plain"));
        let t = Template::parse("{{ base_url }}/p/{{ users.email }}?u={{ uuid() }}&v={{ vu }}")
            .unwrap();
        assert_eq!(t.references(), ["base_url", "users.email"]);
        assert!(t.as_expression().is_none());
        let t = Template::parse("{{ qty }}").unwrap();
        assert_eq!(t.as_expression(), Some("qty"));
        assert!(Template::parse("{{ a }} and {{ b }}")
            .unwrap()
            .as_expression()
            .is_none());
        assert!(Template::parse("{{ broken ").is_err());
        assert!(Template::parse("{% include 'x' %}")
            .unwrap_err()
            .contains("not allowed"));
    }

    #[test]
    fn unknown_filters_and_tests_are_refused_at_parse() {
        let e = Template::parse("{{ x | nosuch }}").unwrap_err();
        assert!(e.contains("unknown filter `nosuch`"), "{e}");
        let e = Template::parse("{{ x | urlencod }}").unwrap_err();
        assert!(e.contains("did you mean `urlencode`"), "{e}");
        let e = Template::parse("{% if x is nosuchtest %}y{% endif %}").unwrap_err();
        assert!(e.contains("unknown test `nosuchtest`"), "{e}");
        let e = Template::parse("{% for a in b %}{{ a | zzz }}{% endfor %}").unwrap_err();
        assert!(e.contains("`zzz`"), "{e}");
        for ok in [
            "{{ x | urlencode }}",
            "{{ x | tojson }}",
            "{{ x | default('a') | upper }}",
            "{% if x is number %}n{% endif %}",
        ] {
            Template::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        // Every listed name is one the environment has, and the other way round is asked of it.
        for f in FILTERS {
            assert!(has("filter", f), "filter {f}");
        }
        for t in TESTS {
            assert!(has("test", t), "test {t}");
        }
        let env = environment(Arc::new(HashMap::new()));
        assert_eq!(
            env.render_str("{{ 'a b&c' | urlencode }}", ()).unwrap(),
            "a%20b%26c"
        );
    }

    #[test]
    fn single_expressions_are_recognized() {
        for (source, expr) in [
            ("{{ qty }}", Some("qty")),
            ("{{qty}}", Some("qty")),
            ("{{- qty -}}", Some("qty")),
            ("{{ a - b }}", Some("a - b")),
            ("{{ a - }}", Some("a -")),
            ("{{ -1 }}", Some("-1")),
            ("{{ a }}{{ b }}", None),
            ("x{{ a }}", None),
            ("{{ a }} ", None),
            ("{{ a\n }}", None),
        ] {
            assert_eq!(single_expression(source), expr, "{source}");
        }
    }

    #[test]
    fn literal_escapes_template_syntax() {
        let env = environment(Arc::new(HashMap::new()));
        let t = Template::literal("a {{ b }} {% c %}");
        let out = env.render_str(t.source(), ()).unwrap();
        assert_eq!(out, "a {{ b }} {% c %}");
    }

    #[test]
    fn builtins_render() {
        let mut overlay = HashMap::new();
        overlay.insert("SHOP_PASSWORD".to_string(), "s3cret".to_string());
        let env = environment(Arc::new(overlay));
        reseed(7);
        let out = env
            .render_str(
                "{{ env('SHOP_PASSWORD') }} {{ env('THRONG_NOPE_X', 'dflt') }} {{ random_int(3, 3) }} {{ random_choice([5]) }} {{ uuid()|length }}",
                (),
            )
            .unwrap();
        assert_eq!(out, "s3cret dflt 3 5 36");
        assert!(env.render_str("{{ env('THRONG_NOPE_X') }}", ()).is_err());
        assert!(env.render_str("{{ undefined_thing }}", ()).is_err());
    }

    fn env() -> Environment<'static> {
        environment(Arc::new(HashMap::new()))
    }

    #[test]
    fn fuel_stops_runaway_templates_before_they_allocate() {
        let env = env();
        let started = std::time::Instant::now();
        for source in [
            "{{ (0,) * 99000000 }}",
            "{{ 'x' * 100000000 }}",
            "{{ ([0] * 99000000) | list | length }}",
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            "{{ range(100000)|list|string * 1000 }}",
            "{{1*(20100000008,097091021*(02,),range) }}",
        ] {
            let t = env.template_from_str(source).unwrap();
            let e = render_bounded(&t, &Value::UNDEFINED).unwrap_err();
            assert!(
                e.contains("out of fuel") || e.contains("too large"),
                "{source}: {e}"
            );
            assert!(e.len() < 400, "{source}: {e}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    #[test]
    fn real_templates_have_fuel_to_spare() {
        let env = env();
        let t = env
            .template_from_str(
                "[{% for i in range(5000) %}{\"id\": {{ i }}, \"n\": \"{{ 'item-' ~ i }}\"}{% if not loop.last %},{% endif %}{% endfor %}]",
            )
            .unwrap();
        let out = render_bounded(&t, &Value::UNDEFINED).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&out).unwrap()[4999]["id"],
            4999
        );
    }

    #[test]
    fn rendered_text_and_values_are_capped() {
        let env = env();
        // 2 MiB of output from a loop: within fuel, past the output cap.
        let t = env
            .template_from_str("{% for i in range(2048) %}{{ 'x' * 1024 }}{% endfor %}")
            .unwrap();
        assert_eq!(
            render_bounded(&t, &Value::UNDEFINED).unwrap_err(),
            format!("rendered text is larger than {MAX_RENDERED_BYTES} bytes")
        );
        let t = env.template_from_str("{{ 'x' * 1000 }}").unwrap();
        assert_eq!(render_bounded(&t, &Value::UNDEFINED).unwrap().len(), 1000);
        // A lazily repeated list costs no fuel until walked: eval_bounded refuses it.
        let e = env.compile_expression("[0] * 99000000").unwrap();
        assert_eq!(
            eval_bounded(&e, &Value::UNDEFINED).unwrap_err(),
            format!("value is larger than {MAX_RENDERED_BYTES} bytes")
        );
        let e = env
            .compile_expression("{'a': [1, 2, 'three'] * 10}")
            .unwrap();
        assert_eq!(eval_bounded(&e, &Value::UNDEFINED).unwrap().len(), Some(1));
    }

    #[test]
    fn messages_quote_at_most_a_snippet() {
        assert_eq!(snippet("short"), "short");
        let long = "é".repeat(1000);
        let cut = snippet(&long);
        assert!(cut.starts_with(&"é".repeat(SNIPPET_CHARS)), "{cut}");
        assert!(cut.ends_with("... (2000 bytes)"), "{cut}");
        let env = env();
        let t = env.template_from_str("{{ env('X' * 100000) }}").unwrap();
        let e = render_bounded(&t, &Value::UNDEFINED).unwrap_err();
        assert!(e.len() < 600, "{} bytes: {e}", e.len());
        let e = Template::parse(format!("{{{{ {} ", "y".repeat(100_000))).unwrap_err();
        assert!(e.len() < 600, "{} bytes", e.len());
    }
}
