//! Correlation inference: the values a request sends that the server made earlier
//! (tokens, CSRF, ids) are found in the response where they first appeared, extracted
//! there and templated into every later request that sends them. Values nobody produced
//! become generators (`uuid()`, `timestamp()`), user inputs (`vars`) or secrets (`env()`).
//!
//! The rules follow `har-correlation.md` §8.7: origin producer (first response that
//! emitted the value after the client last lacked it), echo suppression, encoding-aware
//! matching, confidence scoring (weak links become comments, not templates), and the
//! narrowest extractor that returns exactly the recorded value.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;
use throng_ir::{Extractor, JsonPath, Pattern, Template};

use crate::draft::{Draft, DraftBody, DraftExtract, DraftPart, DraftStep, VarDef};
use crate::filter::Filtered;
use crate::har::{Entry, Har, Param};
use crate::util::{form_decode, form_encode, html_unescape, parse_form, percent_decode, Url};
use crate::{CompileOptions, Correlation, Suggestion};

/// Everything inference decided, for the emitter and the report.
pub struct Inferred {
    pub draft: Draft,
    pub env: Vec<(String, String)>,
    pub correlations: Vec<Correlation>,
    pub suggestions: Vec<Suggestion>,
    pub generated: Vec<String>,
    pub warnings: Vec<String>,
    pub collapsed_hops: usize,
}

/// Request headers the client computes itself or that only add noise to a replay.
/// `accept-encoding` is not one: kept as recorded, servers answer compressed as they did for
/// the browser (the runner decodes gzip, deflate, br and zstd).
const DROP_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "cookie",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-range",
    "if-unmodified-since",
    "cache-control",
    "pragma",
    "priority",
    "sec-gpc",
    "dnt",
    "upgrade-insecure-requests",
    "purpose",
    "x-client-data",
    "postman-token",
    "referer",
    "accept-language",
    "expect",
    "proxy-connection",
    "proxy-authorization",
];
/// Headers that may carry a server-made or secret value.
const API_KEY_HEADERS: &[&str] = &[
    "x-api-key",
    "api-key",
    "apikey",
    "x-goog-api-key",
    "x-auth-token",
    "x-access-token",
];
const SECRET_QUERY_KEYS: &[&str] = &[
    "key",
    "api_key",
    "apikey",
    "access_token",
    "token",
    "auth",
    "secret",
];
const USER_INPUT_KEYS: &[&str] = &[
    "q",
    "query",
    "search",
    "term",
    "keyword",
    "keywords",
    "s",
    "name",
    "first_name",
    "last_name",
    "firstname",
    "lastname",
    "full_name",
    "fullname",
    "email",
    "username",
    "login",
    "user",
    "phone",
    "address",
    "city",
    "zip",
    "postcode",
    "company",
    "title",
    "comment",
    "message",
    "text",
    "note",
    "description",
];

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        .expect("static regex")
});
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$").expect("static regex")
});
static HEX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9a-fA-F]{16,}$").expect("static regex"));
static ID_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(^|[_\-.\[])id\]?$|[a-z]Id$|^id$|uuid|guid|^pk$|(^|_)key$|number$")
        .expect("static regex")
});
static TOKEN_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)token|csrf|xsrf|session|sid$|nonce|state$|^code$|ticket|viewstate|auth|secret|signature")
        .expect("static regex")
});
static PASSWORD_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)pass(word|wd|code)?$|^pwd$|^otp$|^pin$|secret").expect("static regex")
});
static SIGNUP_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)/(register|registration|signup|sign-up|sign_up|users|accounts|join)/?$")
        .expect("static regex")
});
static HTML_INPUT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<input\b[^>]*>").expect("static regex"));
static HTML_META: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<meta\b[^>]*>").expect("static regex"));
static HTML_ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"([A-Za-z_:][-A-Za-z0-9_:.\[\]]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"#)
        .expect("static regex")
});

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone)]
enum Source {
    Json(Vec<Seg>),
    Header(String),
    Location,
    Cookie(String),
    Input(String),
    Meta(String),
    Text(String),
}

#[derive(Debug, Clone)]
struct Prod {
    pos: usize,
    source: Source,
    number: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Addr {
    Url,
    Seg(usize),
    Query(usize),
    Header(usize),
    Form(usize),
    Json(String),
    Part(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Path,
    Query,
    Header,
    Form,
    Json,
    Part,
}

struct Slot {
    addr: Addr,
    kind: Kind,
    key: String,
    value: String,
    number: bool,
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    Text(String),
    Multipart(Vec<Param>),
}

struct Req {
    url: Url,
    segs: Vec<String>,
    /// Decoded query pairs; `None` when duplicate keys force the raw query to stay in the URL.
    query: Option<Vec<(String, String)>>,
    headers: Vec<(String, String)>,
    /// For an `Authorization: Bearer X` style header, the scheme prefix kept as text.
    header_prefix: HashMap<usize, String>,
    body: Body,
    repl: HashMap<Addr, String>,
    notes: Vec<String>,
}

struct Link {
    var: String,
    prod_value: String,
    consumer_pos: usize,
}

/// Runs inference over the kept entries and builds the draft scenario.
pub fn infer(
    har: &Har,
    filtered: &Filtered,
    opts: &CompileOptions,
    name: &str,
    har_label: &str,
) -> Inferred {
    let kept = &filtered.kept;
    let entries: Vec<&Entry> = kept.iter().map(|&i| &har.entries[i]).collect();
    let mut reqs: Vec<Req> = entries.iter().map(|e| build_req(e)).collect();
    let mut warnings = Vec::new();

    // What the client had sent by each kept position, for the echo rule.
    let mut order: Vec<usize> = (0..har.entries.len()).collect();
    order.sort_by(|&a, &b| {
        har.entries[a]
            .start_ms
            .total_cmp(&har.entries[b].start_ms)
            .then(a.cmp(&b))
    });
    let mut sent = String::new();
    let mut sent_len_by_entry = vec![0usize; har.entries.len()];
    for &i in &order {
        sent.push_str(&request_text(&har.entries[i]));
        sent.push('\u{1}');
        sent_len_by_entry[i] = sent.len();
    }
    let sent = RefCell::new(SentText::new(sent));
    let sent_before = |pos: usize, v: &str| {
        sent.borrow_mut()
            .first_end(v)
            .is_some_and(|end| end <= sent_len_by_entry[kept[pos]])
    };

    let rec_start = entries.iter().map(|e| e.start_ms).fold(f64::MAX, f64::min);
    let rec_end = entries.iter().map(|e| e.end_ms()).fold(f64::MIN, f64::max);

    // Chains: successor hops of a redirect are followed by the client, not correlated.
    let mut follows_from: HashMap<usize, usize> = HashMap::new();
    for chain in &filtered.chains {
        for w in chain.windows(2) {
            follows_from.insert(w[1], w[0]);
        }
    }

    // Sign-ups: identity fields get a fresh value per iteration so each iteration is a new user.
    let mut fixed: HashMap<String, String> = HashMap::new(); // recorded value -> var
    let mut vars: Vec<VarDef> = Vec::new();
    let mut used_names = Names {
        used: throng_ir::template::reserved_names()
            .chain(["base_url"])
            .map(str::to_string)
            .collect(),
        next: HashMap::new(),
    };
    for (pos, r) in reqs.iter().enumerate() {
        let e = entries[pos];
        if e.method != "POST"
            || !(200..300).contains(&e.status)
            || !SIGNUP_PATH.is_match(&r.url.path)
        {
            continue;
        }
        for slot in body_slots(r) {
            let key = leaf_key(&slot.key).to_ascii_lowercase();
            if slot.value.is_empty() || fixed.contains_key(&slot.value) {
                continue;
            }
            let value = if key.contains("email") && slot.value.contains('@') {
                let local = slot.value.split('@').next().unwrap_or("");
                // Recorders often made the address unique already (`pat.x7k2@`); keep the readable part.
                let local: String = local
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .take(20)
                    .collect();
                let local = if local.is_empty() {
                    "user".to_string()
                } else {
                    local.to_ascii_lowercase()
                };
                format!("{local}-{{{{ uuid() }}}}@example.com")
            } else if matches!(
                key.as_str(),
                "username" | "login" | "user" | "user_name" | "nickname" | "handle"
            ) {
                let prefix: String = slot
                    .value
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .take(12)
                    .collect();
                format!("{prefix}-{{{{ uuid()[:8] }}}}")
            } else {
                continue;
            };
            let var = unique_name(&mut used_names, &key);
            vars.push(VarDef {
                name: var.clone(),
                value: Value::String(value),
                comment: Some(format!(
                    "unique per iteration: the recording signs up at {} (recorded `{}`)",
                    r.url.path,
                    one_line(&slot.value)
                )),
            });
            fixed.insert(slot.value.clone(), var);
        }
    }

    // Producers are settled lazily, for the values some request actually sends: `emitted`
    // lists every response that offered a value (in order), `producers` memoizes the first
    // of them that was not an echo of what the client had already sent. Checking the echo
    // rule for every value of every response was quadratic in the recording's size.
    let mut producers: HashMap<String, Prod> = HashMap::new();
    let mut emitted: HashMap<String, Vec<Prod>> = HashMap::new();
    let mut locations: HashMap<String, Prod> = HashMap::new();
    let mut links: Vec<Link> = Vec::new();
    let mut suggestions: Vec<Suggestion> = Vec::new();
    let mut prod_var: HashMap<String, String> = HashMap::new(); // producer value -> var
    let mut generated: Vec<String> = Vec::new();
    let mut secrets: Vec<String> = Vec::new();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut secret_var: HashMap<String, String> = HashMap::new();
    let mut input_var: HashMap<String, String> = HashMap::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in &reqs {
        for s in all_slots(r) {
            *counts.entry(s.value).or_default() += 1;
        }
    }
    // What a producer can matter for: slot values and request targets (Location links).
    let targets: HashSet<String> = reqs.iter().map(|r| r.url.path_and_query()).collect();
    // Raw response text by token, built on first use by the text fallback, for the tokens
    // of the values it can be asked about.
    let body_tokens: OnceCell<HashMap<&str, Vec<usize>>> = OnceCell::new();
    let body_index = || {
        body_tokens.get_or_init(|| {
            let runs: HashSet<&str> = counts
                .keys()
                .filter(|v| (8..=400).contains(&v.len()))
                .flat_map(|v| tok_runs(v))
                .collect();
            index_body_tokens(&entries, &runs)
        })
    };
    let mut gen_var: HashMap<String, String> = HashMap::new();
    let mut preexisting_cookies: BTreeSet<String> = BTreeSet::new();
    let mut jar: HashSet<String> = HashSet::new();

    for pos in 0..reqs.len() {
        let e = entries[pos];
        // Cookies the browser had before the recording started cannot come from the jar.
        if let Some(c) = e.req_header("cookie") {
            for part in c.split(';') {
                let n = part.split('=').next().unwrap_or("").trim();
                if !n.is_empty() && !jar.contains(n) && !is_analytics_cookie(n) {
                    preexisting_cookies.insert(n.to_string());
                }
            }
        }

        // A request for exactly the URL an earlier Location named (not as a redirect follow).
        let worth =
            reqs[pos].url.query.is_some() || reqs[pos].segs.iter().any(|s| is_dynamic_segment(s));
        if let Some(p) = locations
            .get(&reqs[pos].url.path_and_query())
            .filter(|_| worth)
        {
            let is_follow = follows_from.get(&pos) == Some(&p.pos);
            if !is_follow && p.pos < pos {
                let key = reqs[pos].url.path_and_query();
                let var = var_for(&mut prod_var, &mut used_names, &key, p, &reqs, &entries);
                links.push(Link {
                    var: var.clone(),
                    prod_value: key.clone(),
                    consumer_pos: pos,
                });
                let same_origin = reqs[p.pos].url.origin() == reqs[pos].url.origin();
                let tpl = if same_origin {
                    format!("{{{{ base_url }}}}{{{{ {var} }}}}")
                } else {
                    format!("{{{{ {var} }}}}")
                };
                reqs[pos].repl.insert(Addr::Url, tpl);
            }
        }
        let url_taken = reqs[pos].repl.contains_key(&Addr::Url);

        let slots = all_slots(&reqs[pos]);
        for slot in slots {
            if url_taken && matches!(slot.kind, Kind::Path | Kind::Query) {
                continue;
            }
            if slot.value.is_empty() {
                continue;
            }
            let leaf = leaf_key(&slot.key).to_string();
            // 1. A value the server produced earlier.
            let found = settle(&slot.value, &mut producers, &emitted, &sent_before).or_else(|| {
                text_producer(&slot.value, pos, &entries, &body_index, &sent_before).inspect(|p| {
                    producers.insert(slot.value.clone(), p.clone());
                })
            });
            if let Some(p) = found.filter(|p| p.pos < pos) {
                let pkey = prod_key(&p.source);
                match strength(&slot.value, &leaf, &pkey, slot.kind, &p.source) {
                    Strength::Strong => {
                        let var = var_for(
                            &mut prod_var,
                            &mut used_names,
                            &slot.value,
                            &p,
                            &reqs,
                            &entries,
                        );
                        let expr = match (slot.kind, slot.number, p.number) {
                            (Kind::Json, true, false) => format!("{{{{ {var}|int }}}}"),
                            (Kind::Json, false, true) => format!("{{{{ {var}|string }}}}"),
                            (Kind::Path, _, _) if needs_encoding(&slot.value) => {
                                format!("{{{{ {var}|urlencode }}}}")
                            }
                            _ => format!("{{{{ {var} }}}}"),
                        };
                        reqs[pos].repl.insert(slot.addr.clone(), expr);
                        links.push(Link {
                            var,
                            prod_value: slot.value.clone(),
                            consumer_pos: pos,
                        });
                        continue;
                    }
                    Strength::Weak => {
                        let from = describe_producer(&p, &reqs, &entries);
                        let what = describe_slot(&slot);
                        reqs[pos].notes.push(format!(
                            "suggestion: {what} = `{}` also appears in the response of {from}; template it if it must follow the server",
                            one_line(&slot.value)
                        ));
                        suggestions.push(Suggestion {
                            value: one_line(&slot.value),
                            used_in: step_label(&entries[pos].method, &reqs[pos].url.path),
                            slot: what,
                            from,
                        });
                    }
                    Strength::Ignore => {}
                }
            }
            // 2. Identity fields of a sign-up, reused by the login that follows.
            if let Some(var) = fixed.get(&slot.value) {
                reqs[pos]
                    .repl
                    .insert(slot.addr.clone(), format!("{{{{ {var} }}}}"));
                continue;
            }
            // 3. Secrets: passwords, API keys, credentials no response produced.
            let is_auth_header = slot.kind == Kind::Header
                && (slot.key == "authorization" || API_KEY_HEADERS.contains(&slot.key.as_str()));
            let is_secret = is_auth_header
                || (matches!(slot.kind, Kind::Form | Kind::Json | Kind::Part)
                    && PASSWORD_KEY.is_match(&leaf)
                    && !slot.number)
                || (slot.kind == Kind::Query
                    && SECRET_QUERY_KEYS.contains(&leaf.to_ascii_lowercase().as_str())
                    && slot.value.len() >= 8);
            if is_secret {
                let var = match secret_var.get(&slot.value) {
                    Some(v) => v.clone(),
                    None => {
                        let base = if slot.kind == Kind::Header {
                            if reqs[pos]
                                .header_prefix
                                .contains_key(&header_index(&slot.addr))
                            {
                                "bearer_token".to_string()
                            } else {
                                slot.key.replace('-', "_")
                            }
                        } else {
                            leaf.clone()
                        };
                        let var = unique_name(&mut used_names, &base);
                        let env_name = var.to_ascii_uppercase();
                        vars.push(VarDef {
                            name: var.clone(),
                            value: Value::String(format!("{{{{ env('{env_name}') }}}}")),
                            comment: Some(format!(
                                "secret: recorded value kept in the sidecar .env as {env_name}"
                            )),
                        });
                        secrets.push(var.clone());
                        env.push((env_name, slot.value.clone()));
                        secret_var.insert(slot.value.clone(), var.clone());
                        if slot.kind == Kind::Header && slot.key == "authorization" {
                            let scheme = slot
                                .value
                                .split_whitespace()
                                .next()
                                .unwrap_or("")
                                .to_ascii_lowercase();
                            if matches!(
                                scheme.as_str(),
                                "digest" | "hawk" | "oauth" | "aws4-hmac-sha256"
                            ) {
                                warnings.push(format!(
                                    "{} {}: `Authorization: {scheme} ...` is computed per request; the recorded value will not replay",
                                    e.method, reqs[pos].url.path
                                ));
                            }
                        }
                        var
                    }
                };
                reqs[pos]
                    .repl
                    .insert(slot.addr.clone(), format!("{{{{ {var} }}}}"));
                continue;
            }
            // 4. Client-generated values: UUIDs and timestamps nobody sent back.
            if let Some(expr) = generator(&slot.value, rec_start, rec_end) {
                let tpl = if counts.get(&slot.value).copied().unwrap_or(0) > 1 {
                    let var = match gen_var.get(&slot.value) {
                        Some(v) => v.clone(),
                        None => {
                            let var = unique_name(&mut used_names, &leaf);
                            vars.push(VarDef {
                                name: var.clone(),
                                value: Value::String(format!("{{{{ {expr} }}}}")),
                                comment: Some(format!(
                                    "generated by the client (recorded `{}`)",
                                    slot.value
                                )),
                            });
                            gen_var.insert(slot.value.clone(), var.clone());
                            var
                        }
                    };
                    format!("{{{{ {var} }}}}")
                } else {
                    format!("{{{{ {expr} }}}}")
                };
                generated.push(format!(
                    "{} in {} {}",
                    describe_slot(&slot),
                    e.method,
                    reqs[pos].url.path
                ));
                reqs[pos].repl.insert(slot.addr.clone(), tpl);
                continue;
            }
            // 5. What the user typed: search terms, names, emails.
            let lk = leaf.to_ascii_lowercase();
            let typed = !slot.number
                && matches!(
                    slot.kind,
                    Kind::Form | Kind::Json | Kind::Query | Kind::Part
                )
                && (USER_INPUT_KEYS.contains(&lk.as_str())
                    || lk.ends_with("_name")
                    || lk.ends_with("email"))
                && (slot.kind != Kind::Query
                    || matches!(
                        lk.as_str(),
                        "q" | "query" | "search" | "term" | "keyword" | "keywords" | "s"
                    ));
            if typed && !slot.value.contains("{{") {
                let var = match input_var.get(&slot.value) {
                    Some(v) => v.clone(),
                    None => {
                        let var = unique_name(&mut used_names, &lk);
                        vars.push(VarDef {
                            name: var.clone(),
                            value: Value::String(
                                Template::literal(&slot.value).source().to_string(),
                            ),
                            comment: Some("typed by the user in the recording".into()),
                        });
                        input_var.insert(slot.value.clone(), var.clone());
                        var
                    }
                };
                reqs[pos]
                    .repl
                    .insert(slot.addr.clone(), format!("{{{{ {var} }}}}"));
            }
        }

        // This response's values become producers for later requests.
        let wanted = |v: &str| counts.contains_key(v) || targets.contains(v);
        for (value, prod) in response_producers(e, pos, &reqs[pos].url, &wanted) {
            jar.extend(e.set_cookies.iter().map(|(n, _)| n.clone()));
            if matches!(prod.source, Source::Location) {
                locations.entry(value).or_insert(prod);
                continue;
            }
            if !candidate(&value, prod.number) || !wanted(&value) {
                continue;
            }
            emitted.entry(value).or_default().push(prod);
        }
    }
    // A Location link may name a value a body produced too (`producer_of` prefers that).
    for l in &links {
        settle(&l.prod_value, &mut producers, &emitted, &sent_before);
    }
    if !preexisting_cookies.is_empty() {
        warnings.push(format!(
            "the recording started with existing cookies ({}); record from a fresh browser profile if the replay needs them",
            preexisting_cookies.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
        ));
    }

    // Redirect chains collapse into their head unless a value is extracted mid-chain.
    let mut step_of: Vec<usize> = (0..reqs.len()).collect();
    let mut hidden: HashSet<usize> = HashSet::new();
    let mut chain_tail: HashMap<usize, usize> = HashMap::new();
    let mut kept_hops: HashSet<usize> = HashSet::new();
    for chain in &filtered.chains {
        let inner_producer = links.iter().any(|l| {
            let p = producer_of(l, &producers, &locations);
            p.is_some_and(|p| {
                chain[..chain.len() - 1].contains(&p.pos) && !matches!(p.source, Source::Cookie(_))
            })
        });
        if inner_producer {
            kept_hops.extend(chain[..chain.len() - 1].iter().copied());
            continue;
        }
        let head = chain[0];
        for &p in &chain[1..] {
            step_of[p] = head;
            hidden.insert(p);
        }
        chain_tail.insert(head, *chain.last().unwrap_or(&head));
    }
    links.retain(|l| !hidden.contains(&l.consumer_pos));

    // Extractors for every applied link, on the step that runs the producing request.
    let mut extract: HashMap<usize, Vec<DraftExtract>> = HashMap::new();
    let mut correlations: Vec<Correlation> = Vec::new();
    let mut users_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for l in &links {
        users_of
            .entry(l.var.as_str())
            .or_default()
            .push(l.consumer_pos);
    }
    // The extractors, producer by producer, so that each body is parsed once.
    let mut firsts: Vec<(usize, Prod)> = Vec::new();
    let mut seen_vars: HashSet<&str> = HashSet::new();
    for (i, l) in links.iter().enumerate() {
        if seen_vars.insert(&l.var) {
            if let Some(p) = producer_of(l, &producers, &locations) {
                firsts.push((i, p));
            }
        }
    }
    firsts.sort_by_key(|(_, p)| p.pos);
    let mut parsed: Option<(usize, Option<Value>)> = None;
    let mut extractors: HashMap<usize, Extractor> = HashMap::new();
    for (i, p) in &firsts {
        if let Some(x) = synthesize(p, &links[*i].prod_value, entries[p.pos], &mut parsed) {
            extractors.insert(*i, x);
        }
    }
    drop(parsed);
    let mut seen_vars: HashSet<String> = HashSet::new();
    for (i, l) in links.iter().enumerate() {
        if !seen_vars.insert(l.var.clone()) {
            continue;
        }
        let Some(p) = producer_of(l, &producers, &locations) else {
            continue;
        };
        let users: Vec<usize> = {
            let mut u = users_of.get(l.var.as_str()).cloned().unwrap_or_default();
            u.dedup();
            u
        };
        let Some(extractor) = extractors.remove(&i) else {
            warnings.push(format!(
                "no reliable extractor for `{}`; it stays recorded",
                l.var
            ));
            for &u in &users {
                unreplace(&mut reqs[u], &l.var);
            }
            continue;
        };
        let producer_step = step_of[p.pos];
        let from = step_name(&reqs[producer_step], &entries[producer_step].method);
        let used: Vec<String> = users
            .iter()
            .map(|&u| step_name(&reqs[u], &entries[u].method))
            .collect();
        let mut used_short: Vec<String> = Vec::new();
        for u in &used {
            if !used_short.contains(u) {
                used_short.push(u.clone());
            }
        }
        let list = if used_short.len() > 3 {
            format!(
                "{} and {} more",
                used_short[..3].join(", "),
                used_short.len() - 3
            )
        } else {
            used_short.join(", ")
        };
        let comment = format!(
            "{} first appeared in this response ({}); used by {} request(s): {list}",
            l.var,
            extractor.describe(),
            users.len()
        );
        correlations.push(Correlation {
            var: l.var.clone(),
            from_step: from,
            extractor: extractor.describe(),
            uses: users.len(),
        });
        extract
            .entry(producer_step)
            .or_default()
            .push(DraftExtract {
                var: l.var.clone(),
                extractor,
                comment,
            });
    }

    // Steps, names, think times.
    let base_origin = most_common_origin(&reqs, &hidden);
    let mut steps: Vec<DraftStep> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    let visible: Vec<usize> = (0..reqs.len()).filter(|p| !hidden.contains(p)).collect();
    let mut max_end = f64::MIN;
    for (vi, &pos) in visible.iter().enumerate() {
        let e = entries[pos];
        let tail = chain_tail.get(&pos).copied().unwrap_or(pos);
        // Think is measured from the end of everything already sent, collapsed hops included.
        for hop in &entries[pos..=tail] {
            max_end = max_end.max(hop.end_ms());
        }
        let mut name = step_name(&reqs[pos], &e.method);
        if names.contains(&name) {
            let mut n = 2;
            while names.contains(&format!("{name} #{n}")) {
                n += 1;
            }
            name = format!("{name} #{n}");
        }
        names.insert(name.clone());
        let status = match entries[tail].status {
            304 => 200,
            s => s.clamp(100, 599) as u16,
        };
        let think_ms = visible.get(vi + 1).and_then(|&next| {
            let gap = entries[next].start_ms - max_end;
            if !opts.think || gap < 500.0 {
                return None;
            }
            let rounded = ((gap / 100.0).round() * 100.0) as u64;
            Some(rounded.min(opts.max_think.as_millis() as u64))
        });
        let mut notes = std::mem::take(&mut reqs[pos].notes);
        if kept_hops.contains(&pos) {
            notes.push("redirect kept as its own step: a value is extracted from it".into());
        }
        let (url, query) = render_url(&reqs[pos], base_origin.as_deref());
        let (mut headers, body) = render_request(&reqs[pos]);
        for (k, v) in headers.iter_mut() {
            if k == "origin" && Some(v.as_str()) == base_origin.as_deref() {
                *v = "{{ base_url }}".into();
            }
        }
        steps.push(DraftStep {
            name,
            har: har_label.to_string(),
            entry: e.index,
            method: e.method.clone(),
            url,
            query,
            headers,
            body,
            extract: extract.remove(&pos).unwrap_or_default(),
            status,
            think_ms,
            follow_redirects: kept_hops.contains(&pos).then_some(false),
            notes,
        });
    }

    // Headers every step sends alike move to `defaults.headers`.
    let mut default_headers = Vec::new();
    if steps.len() >= 2 {
        let first = steps[0].headers.clone();
        for (k, v) in first {
            let everywhere = steps
                .iter()
                .all(|s| s.headers.iter().any(|(k2, v2)| *k2 == k && *v2 == v));
            let only_vars = Template::parse(v.clone())
                .map(|t| t.references().iter().all(|r| r == "base_url"))
                .unwrap_or(false);
            if everywhere && only_vars {
                default_headers.push((k.clone(), v.clone()));
                for s in &mut steps {
                    s.headers.retain(|(k2, _)| *k2 != k);
                }
            }
        }
    }

    if let Some(origin) = &base_origin {
        vars.insert(
            0,
            VarDef {
                name: "base_url".into(),
                value: Value::String(origin.clone()),
                comment: None,
            },
        );
    }
    let collapsed_hops = hidden.len();
    Inferred {
        draft: Draft {
            name: name.to_string(),
            header_comments: Vec::new(),
            vars,
            secrets,
            default_headers,
            steps,
        },
        env,
        correlations,
        suggestions,
        generated,
        warnings,
        collapsed_hops,
    }
}

/// Everything the client sent, in time order, and where a value first appears in it.
///
/// The echo rule asks this for every correlated value, and the text grows with the
/// recording: a scan per question was quadratic. A 4-byte-gram index (built on first use)
/// finds the first occurrence from the positions of the value's rarest gram; values shorter
/// than a gram, and texts too big to index, are scanned. Answers are memoized.
struct SentText {
    text: String,
    grams: Option<HashMap<u32, Vec<u32>, GramHash>>,
    memo: HashMap<String, Option<usize>>,
}

/// Texts up to this size are indexed (4 bytes of index per byte of text).
const MAX_INDEXED_SENT: usize = 32 << 20;

impl SentText {
    fn new(text: String) -> Self {
        SentText {
            text,
            grams: None,
            memo: HashMap::new(),
        }
    }

    fn gram(b: &[u8]) -> u32 {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The end of the first occurrence of `v`, if any.
    fn first_end(&mut self, v: &str) -> Option<usize> {
        if let Some(end) = self.memo.get(v) {
            return *end;
        }
        let end = if v.len() >= 4 && self.text.len() <= MAX_INDEXED_SENT {
            self.indexed_first(v)
        } else {
            self.text.find(v)
        }
        .map(|i| i + v.len());
        self.memo.insert(v.to_string(), end);
        end
    }

    fn indexed_first(&mut self, v: &str) -> Option<usize> {
        let text = self.text.as_bytes();
        let grams = self.grams.get_or_insert_with(|| {
            let mut grams: HashMap<u32, Vec<u32>, GramHash> = HashMap::default();
            for (i, w) in text.windows(4).enumerate() {
                grams.entry(Self::gram(w)).or_default().push(i as u32);
            }
            grams
        });
        let v = v.as_bytes();
        let mut rarest: Option<(usize, &Vec<u32>)> = None;
        for (d, w) in v.windows(4).enumerate() {
            let list = grams.get(&Self::gram(w))?;
            if rarest.is_none_or(|(_, r)| list.len() < r.len()) {
                rarest = Some((d, list));
            }
        }
        let (d, list) = rarest?;
        list.iter()
            .filter_map(|&q| (q as usize).checked_sub(d))
            .find(|&start| text[start..].starts_with(v))
    }
}

/// A seeded multiply-xorshift hash for the gram index's `u32` keys (SipHash is slow here).
#[derive(Clone)]
struct GramHash(u64);

impl Default for GramHash {
    fn default() -> Self {
        use std::hash::BuildHasher;
        GramHash(std::collections::hash_map::RandomState::new().hash_one(0u8) | 1)
    }
}

impl std::hash::BuildHasher for GramHash {
    type Hasher = GramHasher;
    fn build_hasher(&self) -> GramHasher {
        GramHasher(self.0)
    }
}

struct GramHasher(u64);

impl std::hash::Hasher for GramHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b));
        }
    }
    fn write_u32(&mut self, i: u32) {
        // splitmix64's finalizer over the seeded key.
        let mut z = self.0 ^ u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = z ^ (z >> 31);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The producer of `v`: memoized, else the first response that offered it without echoing
/// what the client had sent by then.
fn settle(
    v: &str,
    producers: &mut HashMap<String, Prod>,
    emitted: &HashMap<String, Vec<Prod>>,
    sent_before: &dyn Fn(usize, &str) -> bool,
) -> Option<Prod> {
    if let Some(p) = producers.get(v) {
        return Some(p.clone());
    }
    let p = emitted.get(v)?.iter().find(|p| !sent_before(p.pos, v))?;
    producers.insert(v.to_string(), p.clone());
    Some(p.clone())
}

fn producer_of(
    l: &Link,
    producers: &HashMap<String, Prod>,
    locations: &HashMap<String, Prod>,
) -> Option<Prod> {
    producers
        .get(&l.prod_value)
        .or_else(|| locations.get(&l.prod_value))
        .cloned()
}

fn unreplace(r: &mut Req, var: &str) {
    let needle = format!("{{{{ {var}");
    r.repl.retain(|_, v| !v.contains(&needle));
}

fn header_index(a: &Addr) -> usize {
    match a {
        Addr::Header(i) => *i,
        _ => usize::MAX,
    }
}

fn needs_encoding(v: &str) -> bool {
    !v.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > 60 {
        format!("{}...", flat.chars().take(57).collect::<String>())
    } else {
        flat
    }
}

fn is_analytics_cookie(n: &str) -> bool {
    let n = n.to_ascii_lowercase();
    [
        "_ga",
        "_gid",
        "_gat",
        "__utm",
        "_fbp",
        "_uet",
        "ide",
        "muid",
        "_hj",
        "ajs_",
        "amplitude",
        "mp_",
        "_gcl",
    ]
    .iter()
    .any(|p| n.starts_with(p))
}

fn request_text(e: &Entry) -> String {
    let mut t = String::new();
    t.push_str(&e.url);
    t.push('\u{1}');
    t.push_str(&percent_decode(&e.url));
    for (k, v) in &e.req_headers {
        t.push('\u{1}');
        t.push_str(k);
        t.push(':');
        t.push_str(v);
    }
    if let Some(b) = &e.req_body {
        t.push('\u{1}');
        t.push_str(&b.text);
        t.push('\u{1}');
        t.push_str(&form_decode(&b.text));
        for p in &b.params {
            t.push('\u{1}');
            t.push_str(&p.value);
        }
    }
    t
}

fn build_req(e: &Entry) -> Req {
    let url = Url::parse(&e.url).unwrap_or(Url {
        scheme: "http".into(),
        authority: String::new(),
        path: "/".into(),
        query: None,
    });
    let segs: Vec<String> = url.path.split('/').skip(1).map(str::to_string).collect();
    let query = url.query.as_deref().map(parse_form).and_then(|pairs| {
        let keys: HashSet<&String> = pairs.iter().map(|(k, _)| k).collect();
        (keys.len() == pairs.len()).then_some(pairs.clone())
    });
    let mut headers = Vec::new();
    let mut header_prefix = HashMap::new();
    for (k, v) in &e.req_headers {
        let lk = k.to_ascii_lowercase();
        if lk.starts_with(':')
            || DROP_HEADERS.contains(&lk.as_str())
            || lk.starts_with("sec-")
            || lk.starts_with("proxy-")
        {
            continue;
        }
        if lk == "origin" && e.method == "GET" {
            continue;
        }
        if headers.iter().any(|(h, _): &(String, String)| *h == lk) {
            continue;
        }
        if lk == "authorization" || lk.ends_with("-authorization") {
            if let Some((scheme, rest)) = v.split_once(' ') {
                if matches!(
                    scheme.to_ascii_lowercase().as_str(),
                    "bearer" | "token" | "jwt"
                ) && !rest.trim().is_empty()
                {
                    header_prefix.insert(headers.len(), format!("{scheme} "));
                }
            }
        }
        headers.push((lk, v.clone()));
    }
    let body = match &e.req_body {
        None => Body::None,
        Some(_) if e.method == "GET" || e.method == "HEAD" => Body::None,
        Some(pd) => {
            let mime = pd.mime.to_ascii_lowercase();
            let json: Option<Value> = serde_json::from_str(&pd.text)
                .ok()
                .filter(|v: &Value| v.is_object() || v.is_array());
            if mime.contains("x-www-form-urlencoded") {
                if pd.text.is_empty() {
                    Body::Form(
                        pd.params
                            .iter()
                            .map(|p| (form_decode(&p.name), form_decode(&p.value)))
                            .collect(),
                    )
                } else {
                    Body::Form(parse_form(&pd.text))
                }
            } else if mime.contains("multipart/") && !pd.params.is_empty() {
                Body::Multipart(pd.params.clone())
            } else if let Some(j) = json {
                Body::Json(j)
            } else if pd.text.is_empty() && !pd.params.is_empty() {
                Body::Form(
                    pd.params
                        .iter()
                        .map(|p| (p.name.clone(), p.value.clone()))
                        .collect(),
                )
            } else {
                Body::Text(pd.text.clone())
            }
        }
    };
    if matches!(body, Body::Multipart(_)) {
        headers.retain(|(k, _)| k != "content-type");
    }
    Req {
        url,
        segs,
        query,
        headers,
        header_prefix,
        body,
        repl: HashMap::new(),
        notes: Vec::new(),
    }
}

fn leaf_key(key: &str) -> &str {
    // `user[email]` and `$.user.email` both name the field `email`.
    let k = key.trim_end_matches(']');
    let k = k.rsplit(['[', '.', '/']).next().unwrap_or(k);
    if k.is_empty() {
        key
    } else {
        k
    }
}

fn body_slots(r: &Req) -> Vec<Slot> {
    let mut out = Vec::new();
    match &r.body {
        Body::Json(v) => json_slots(v, "", "", &mut out),
        Body::Form(f) => {
            for (i, (k, v)) in f.iter().enumerate() {
                out.push(Slot {
                    addr: Addr::Form(i),
                    kind: Kind::Form,
                    key: k.clone(),
                    value: v.clone(),
                    number: false,
                });
            }
        }
        Body::Multipart(ps) => {
            for (i, p) in ps.iter().enumerate() {
                if p.file_name.is_none() {
                    out.push(Slot {
                        addr: Addr::Part(i),
                        kind: Kind::Part,
                        key: p.name.clone(),
                        value: p.value.clone(),
                        number: false,
                    });
                }
            }
        }
        Body::Text(_) | Body::None => {}
    }
    out
}

fn json_slots(v: &Value, pointer: &str, key: &str, out: &mut Vec<Slot>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                json_slots(c, &p, k, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                json_slots(c, &format!("{pointer}/{i}"), key, out);
            }
        }
        Value::String(s) => out.push(Slot {
            addr: Addr::Json(pointer.to_string()),
            kind: Kind::Json,
            key: key.to_string(),
            value: s.clone(),
            number: false,
        }),
        Value::Number(n) if n.is_i64() || n.is_u64() => out.push(Slot {
            addr: Addr::Json(pointer.to_string()),
            kind: Kind::Json,
            key: key.to_string(),
            value: n.to_string(),
            number: true,
        }),
        Value::Number(n) => out.push(Slot {
            addr: Addr::Json(pointer.to_string()),
            kind: Kind::Json,
            key: key.to_string(),
            value: n.to_string(),
            number: true,
        }),
        _ => {}
    }
}

fn all_slots(r: &Req) -> Vec<Slot> {
    let mut out = Vec::new();
    for (i, s) in r.segs.iter().enumerate() {
        let prev = if i > 0 {
            r.segs[i - 1].clone()
        } else {
            String::new()
        };
        out.push(Slot {
            addr: Addr::Seg(i),
            kind: Kind::Path,
            key: format!("{prev}/"),
            value: percent_decode(s),
            number: false,
        });
    }
    if let Some(q) = &r.query {
        for (i, (k, v)) in q.iter().enumerate() {
            out.push(Slot {
                addr: Addr::Query(i),
                kind: Kind::Query,
                key: k.clone(),
                value: v.clone(),
                number: false,
            });
        }
    }
    for (i, (k, v)) in r.headers.iter().enumerate() {
        let interesting = k == "authorization"
            || k.starts_with("x-")
            || TOKEN_KEY.is_match(k)
            || API_KEY_HEADERS.contains(&k.as_str());
        if !interesting
            || matches!(
                k.as_str(),
                "x-requested-with" | "x-forwarded-for" | "x-forwarded-proto"
            )
        {
            continue;
        }
        let value = match r.header_prefix.get(&i) {
            Some(p) => v[p.len()..].trim().to_string(),
            None => v.clone(),
        };
        out.push(Slot {
            addr: Addr::Header(i),
            kind: Kind::Header,
            key: k.clone(),
            value,
            number: false,
        });
    }
    out.extend(body_slots(r));
    out
}

fn describe_slot(s: &Slot) -> String {
    match s.kind {
        Kind::Path => "path segment".into(),
        Kind::Query => format!("query `{}`", s.key),
        Kind::Header => format!("header `{}`", s.key),
        Kind::Form => format!("form field `{}`", s.key),
        Kind::Json => match &s.addr {
            Addr::Json(p) => format!("JSON `{}`", pointer_to_path(p)),
            _ => "JSON field".into(),
        },
        Kind::Part => format!("multipart field `{}`", s.key),
    }
}

fn pointer_to_path(p: &str) -> String {
    let mut out = "$".to_string();
    for seg in p.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            out.push_str(&key_path(&seg));
        }
    }
    out
}

fn key_path(k: &str) -> String {
    if !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit())
    {
        format!(".{k}")
    } else {
        format!("['{}']", k.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// Whether a response value is worth indexing as a producer at all.
fn candidate(v: &str, number: bool) -> bool {
    if matches!(
        v.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "undefined" | "none"
    ) {
        return false;
    }
    if number {
        return !v.contains('.') || v.len() >= 4;
    }
    // Beyond 400 characters only token-shaped values (JWTs, view states) are plausible.
    v.len() >= 4
        && (v.len() <= 400
            || JWT.is_match(v)
            || (v.len() <= 4096 && !v.contains(char::is_whitespace)))
}

#[derive(Debug, PartialEq)]
enum Strength {
    Strong,
    Weak,
    Ignore,
}

/// How sure we are that an equal value is a real dependency (§8.7 step 8).
fn strength(
    v: &str,
    consumer_key: &str,
    producer_key: &str,
    kind: Kind,
    source: &Source,
) -> Strength {
    let is_int = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    let id_like = ID_KEY.is_match(consumer_key)
        || ID_KEY.is_match(producer_key)
        || (kind == Kind::Path && is_int);
    let token_like = TOKEN_KEY.is_match(consumer_key) || TOKEN_KEY.is_match(producer_key);
    if matches!(
        v.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "undefined"
    ) {
        return Strength::Ignore;
    }
    if is_int {
        let n: u128 = v.parse().unwrap_or(u128::MAX);
        if n < 1000
            && !(ID_KEY.is_match(consumer_key) && ID_KEY.is_match(producer_key))
            && !(kind == Kind::Path && ID_KEY.is_match(producer_key))
        {
            return Strength::Ignore;
        }
        return if id_like || v.len() >= 6 {
            Strength::Strong
        } else {
            Strength::Weak
        };
    }
    if v.chars().count() < 4 {
        return Strength::Ignore;
    }
    let float = v.parse::<f64>().is_ok();
    if float {
        return Strength::Weak;
    }
    if v.contains(char::is_whitespace) {
        return if token_like {
            Strength::Strong
        } else {
            Strength::Weak
        };
    }
    let wordish = v
        .chars()
        .all(|c| c.is_alphabetic() || c == '-' || c == '_' || c == '.');
    let shape = UUID.is_match(v)
        || JWT.is_match(v)
        || HEX.is_match(v)
        || (v.len() >= 8
            && v.chars().any(|c| c.is_ascii_digit())
            && v.chars().any(|c| c.is_alphabetic()));
    if wordish && !token_like {
        return Strength::Ignore;
    }
    if v.contains("://") || v.starts_with('/') {
        return if matches!(source, Source::Location | Source::Header(_)) {
            Strength::Strong
        } else {
            Strength::Weak
        };
    }
    if token_like || id_like || shape || matches!(kind, Kind::Path | Kind::Header) {
        Strength::Strong
    } else {
        Strength::Weak
    }
}

fn prod_key(s: &Source) -> String {
    match s {
        Source::Json(path) => path
            .iter()
            .rev()
            .find_map(|seg| match seg {
                Seg::Key(k) => Some(k.clone()),
                Seg::Index(_) => None,
            })
            .unwrap_or_default(),
        Source::Header(h) => h.clone(),
        Source::Location => "location".into(),
        Source::Cookie(c) | Source::Input(c) | Source::Meta(c) => c.clone(),
        Source::Text(_) => String::new(),
    }
}

fn generator(v: &str, start: f64, end: f64) -> Option<&'static str> {
    if UUID.is_match(v) {
        return Some("uuid()");
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        let n: f64 = v.parse().ok()?;
        let day = 86_400_000.0;
        if v.len() == 13 && n >= start - day && n <= end + day {
            return Some("timestamp()");
        }
        if v.len() == 10 && n * 1000.0 >= start - day && n * 1000.0 <= end + day {
            return Some("timestamp() // 1000");
        }
    }
    None
}

fn singular(w: &str) -> String {
    let w = w.to_ascii_lowercase();
    if let Some(s) = w.strip_suffix("ies") {
        format!("{s}y")
    } else if w.ends_with("sses") || w.ends_with("xes") {
        w[..w.len() - 2].to_string()
    } else if let Some(s) = w
        .strip_suffix('s')
        .filter(|s| !s.ends_with('s') && !s.is_empty())
    {
        s.to_string()
    } else {
        w
    }
}

fn sanitize(name: &str) -> String {
    let mut out = String::new();
    let mut prev_us = true;
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 && chars[i - 1].is_ascii_lowercase() && !prev_us {
            out.push('_');
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            prev_us = false;
        } else if !prev_us {
            out.push('_');
            prev_us = true;
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("v_{out}")
    } else {
        out
    }
}

/// Variable names taken, and per base the suffix to try next, so that the n-th `token` of
/// a long recording does not try the n-1 taken ones again.
#[derive(Default)]
struct Names {
    used: HashSet<String>,
    next: HashMap<String, usize>,
}

fn unique_name(names: &mut Names, base: &str) -> String {
    let base = sanitize(base);
    let mut name = base.clone();
    let n = names.next.entry(base.clone()).or_insert(2);
    while names.used.contains(&name) {
        name = format!("{base}_{n}");
        *n += 1;
    }
    names.used.insert(name.clone());
    name
}

fn is_dynamic_segment(s: &str) -> bool {
    UUID.is_match(s)
        || HEX.is_match(s)
        || (s.len() >= 3 && s.bytes().all(|b| b.is_ascii_digit()))
        || (s.len() >= 12
            && s.chars().any(|c| c.is_ascii_digit())
            && s.chars().any(|c| c.is_ascii_alphabetic()))
}

fn collection(r: &Req) -> Option<String> {
    r.segs
        .iter()
        .rev()
        .find(|s| {
            !s.is_empty()
                && !is_dynamic_segment(s)
                && s.chars()
                    .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '_')
        })
        .map(|s| singular(s))
}

fn var_for(
    memo: &mut HashMap<String, String>,
    used: &mut Names,
    value: &str,
    p: &Prod,
    reqs: &[Req],
    _entries: &[&Entry],
) -> String {
    if let Some(v) = memo.get(value) {
        return v.clone();
    }
    let base = match &p.source {
        Source::Json(path) => {
            let keys: Vec<&str> = path
                .iter()
                .filter_map(|s| match s {
                    Seg::Key(k) => Some(k.as_str()),
                    Seg::Index(_) => None,
                })
                .collect();
            match keys.last() {
                Some(k)
                    if matches!(
                        k.to_ascii_lowercase().as_str(),
                        "id" | "_id" | "uuid" | "pk" | "key"
                    ) =>
                {
                    let owner = if keys.len() >= 2 {
                        Some(singular(keys[keys.len() - 2]))
                    } else {
                        collection(&reqs[p.pos])
                    };
                    match owner {
                        Some(o)
                            if !matches!(
                                o.as_str(),
                                "data" | "result" | "response" | "payload"
                            ) =>
                        {
                            format!("{o}_id")
                        }
                        _ => collection(&reqs[p.pos])
                            .map(|c| format!("{c}_id"))
                            .unwrap_or_else(|| "id".into()),
                    }
                }
                Some(k) => k.to_string(),
                None => collection(&reqs[p.pos])
                    .map(|c| format!("{c}_id"))
                    .unwrap_or_else(|| "value".into()),
            }
        }
        Source::Header(h) => h.trim_start_matches("x-").to_string(),
        Source::Location => "location".into(),
        Source::Cookie(c) | Source::Input(c) | Source::Meta(c) => leaf_key(c).to_string(),
        Source::Text(_) => "value".into(),
    };
    let name = unique_name(used, &base);
    memo.insert(value.to_string(), name.clone());
    name
}

fn step_label(method: &str, path: &str) -> String {
    format!("{method} {path}")
}

fn describe_producer(p: &Prod, reqs: &[Req], entries: &[&Entry]) -> String {
    let what = match &p.source {
        Source::Json(path) => json_path_plain(path),
        Source::Header(h) => format!("header {h}"),
        Source::Location => "header location".into(),
        Source::Cookie(c) => format!("cookie {c}"),
        Source::Input(n) => format!("input {n}"),
        Source::Meta(n) => format!("meta {n}"),
        Source::Text(_) => "body text".into(),
    };
    format!(
        "{} {} ({what})",
        entries[p.pos].method, reqs[p.pos].url.path
    )
}

fn json_path_plain(path: &[Seg]) -> String {
    let mut out = "$".to_string();
    for s in path {
        match s {
            Seg::Key(k) => out.push_str(&key_path(k)),
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn step_name(r: &Req, method: &str) -> String {
    let path: Vec<String> = r
        .segs
        .iter()
        .enumerate()
        .map(|(i, s)| match r.repl.get(&Addr::Seg(i)) {
            Some(t) => {
                let var = t.trim_start_matches("{{").trim_end_matches("}}").trim();
                format!("{{{}}}", var.split('|').next().unwrap_or(var).trim())
            }
            None if is_dynamic_segment(s) => "{id}".into(),
            None => percent_decode(s),
        })
        .collect();
    if r.repl.contains_key(&Addr::Url) {
        return format!("{method} {{location}}");
    }
    format!("{method} /{}", path.join("/"))
}

fn most_common_origin(reqs: &[Req], hidden: &HashSet<usize>) -> Option<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        if hidden.contains(&i) {
            continue;
        }
        let o = r.url.origin();
        match counts.iter_mut().find(|(k, _)| *k == o) {
            Some(c) => c.1 += 1,
            None => counts.push((o, 1)),
        }
    }
    let max = counts.iter().map(|c| c.1).max()?;
    counts.into_iter().find(|c| c.1 == max).map(|c| c.0)
}

fn lit(s: &str) -> String {
    Template::literal(s).source().to_string()
}

fn render_url(r: &Req, base: Option<&str>) -> (String, Vec<(String, String)>) {
    if let Some(t) = r.repl.get(&Addr::Url) {
        return (t.clone(), Vec::new());
    }
    let origin = r.url.origin();
    let mut url = if Some(origin.as_str()) == base {
        "{{ base_url }}".to_string()
    } else {
        lit(&origin)
    };
    for (i, s) in r.segs.iter().enumerate() {
        url.push('/');
        match r.repl.get(&Addr::Seg(i)) {
            Some(t) => url.push_str(t),
            None => url.push_str(&lit(s)),
        }
    }
    if r.segs.is_empty() {
        url.push('/');
    }
    let mut query = Vec::new();
    match (&r.query, &r.url.query) {
        (Some(q), _) => {
            for (i, (k, v)) in q.iter().enumerate() {
                let v = r
                    .repl
                    .get(&Addr::Query(i))
                    .cloned()
                    .unwrap_or_else(|| lit(v));
                query.push((k.clone(), v));
            }
        }
        (None, Some(raw)) => {
            url.push('?');
            url.push_str(&lit(raw));
        }
        (None, None) => {}
    }
    (url, query)
}

fn render_request(r: &Req) -> (Vec<(String, String)>, DraftBody) {
    let headers = r
        .headers
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let rendered = match r.repl.get(&Addr::Header(i)) {
                Some(t) => format!(
                    "{}{t}",
                    r.header_prefix.get(&i).map(|p| lit(p)).unwrap_or_default()
                ),
                None => lit(v),
            };
            (k.clone(), rendered)
        })
        .collect();
    let body = match &r.body {
        Body::None => DraftBody::None,
        Body::Text(t) => DraftBody::Text(lit(t)),
        Body::Json(v) => DraftBody::Json(render_json(v, "", &r.repl)),
        Body::Form(f) => {
            let keys: HashSet<&String> = f.iter().map(|(k, _)| k).collect();
            if keys.len() == f.len() {
                DraftBody::Form(
                    f.iter()
                        .enumerate()
                        .map(|(i, (k, v))| {
                            (
                                k.clone(),
                                r.repl
                                    .get(&Addr::Form(i))
                                    .cloned()
                                    .unwrap_or_else(|| lit(v)),
                            )
                        })
                        .collect(),
                )
            } else {
                // Duplicate names (Rails' hidden `remember_me=0` before the checkbox) do not
                // fit a map, so the body stays raw text with templated values urlencoded.
                let text = f
                    .iter()
                    .enumerate()
                    .map(|(i, (k, v))| {
                        let value = match r.repl.get(&Addr::Form(i)) {
                            Some(t) => t
                                .replace("}}", "|urlencode }}")
                                .replace(" |urlencode", "|urlencode"),
                            None => lit(&form_encode(v)),
                        };
                        format!("{}={value}", lit(&form_encode(k)))
                    })
                    .collect::<Vec<_>>()
                    .join("&");
                DraftBody::Text(text)
            }
        }
        Body::Multipart(ps) => DraftBody::Multipart(
            ps.iter()
                .enumerate()
                .map(|(i, p)| {
                    let part = match &p.file_name {
                        Some(f) => DraftPart::File {
                            content: lit(&p.value),
                            filename: f.clone(),
                            content_type: p.content_type.clone(),
                        },
                        None => DraftPart::Text(
                            r.repl
                                .get(&Addr::Part(i))
                                .cloned()
                                .unwrap_or_else(|| lit(&p.value)),
                        ),
                    };
                    (p.name.clone(), part)
                })
                .collect(),
        ),
    };
    (headers, body)
}

fn render_json(v: &Value, pointer: &str, repl: &HashMap<Addr, String>) -> Value {
    if let Some(t) = repl.get(&Addr::Json(pointer.to_string())) {
        return Value::String(t.clone());
    }
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, c)| {
                    (
                        k.clone(),
                        render_json(
                            c,
                            &format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1")),
                            repl,
                        ),
                    )
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, c)| render_json(c, &format!("{pointer}/{i}"), repl))
                .collect(),
        ),
        Value::String(s) => Value::String(lit(s)),
        other => other.clone(),
    }
}

/// Every value a response offers, best source first so the first insert wins.
/// JSON leaves are kept only when `wanted`: a body's other values can produce nothing.
fn response_producers(
    e: &Entry,
    pos: usize,
    url: &Url,
    wanted: &dyn Fn(&str) -> bool,
) -> Vec<(String, Prod)> {
    let mut out: Vec<(String, Prod)> = Vec::new();
    for (n, v) in &e.set_cookies {
        out.push((
            v.clone(),
            Prod {
                pos,
                source: Source::Cookie(n.clone()),
                number: false,
            },
        ));
    }
    for (k, v) in &e.resp_headers {
        let lk = k.to_ascii_lowercase();
        if lk == "location" {
            if let Some(target) = url.join(v.trim()) {
                let key = if target.origin() == url.origin() {
                    target.path_and_query()
                } else {
                    v.trim().to_string()
                };
                out.push((
                    key,
                    Prod {
                        pos,
                        source: Source::Location,
                        number: false,
                    },
                ));
            }
        } else if (lk.starts_with("x-")
            && !matches!(
                lk.as_str(),
                "x-powered-by"
                    | "x-frame-options"
                    | "x-content-type-options"
                    | "x-xss-protection"
                    | "x-cache"
                    | "x-served-by"
                    | "x-timer"
            ))
            || TOKEN_KEY.is_match(&lk)
        {
            out.push((
                v.clone(),
                Prod {
                    pos,
                    source: Source::Header(lk),
                    number: false,
                },
            ));
        }
    }
    let Some(body) = &e.resp_body else { return out };
    let trimmed = body.trim_start();
    let mime = e.resp_mime.to_ascii_lowercase();
    if mime.contains("json") || trimmed.starts_with('{') || trimmed.starts_with('[') {
        let leaves = match json_leaves_streamed(body, wanted) {
            Streamed::Leaves(leaves) => Some(leaves),
            Streamed::NotJson => None,
            // A repeated key: the parsed document's rule (the last one wins) decides.
            Streamed::RepeatedKey => serde_json::from_str::<Value>(body).ok().map(|v| {
                let mut leaves = Vec::new();
                json_leaves(&v, &mut Vec::new(), wanted, &mut leaves);
                leaves
            }),
        };
        if let Some(leaves) = leaves {
            // The same value at several paths: prefer no array index, then the shortest path.
            let mut best: HashMap<String, (usize, Vec<Seg>, bool)> = HashMap::new();
            let mut order: Vec<String> = Vec::new();
            for (val, path, number) in leaves {
                let score =
                    path.iter().filter(|s| matches!(s, Seg::Index(_))).count() * 100 + path.len();
                match best.get(&val) {
                    Some((s, _, _)) if *s <= score => {}
                    _ => {
                        if !best.contains_key(&val) {
                            order.push(val.clone());
                        }
                        best.insert(val, (score, path, number));
                    }
                }
            }
            for val in order {
                if let Some((_, path, number)) = best.remove(&val) {
                    out.push((
                        val,
                        Prod {
                            pos,
                            source: Source::Json(path),
                            number,
                        },
                    ));
                }
            }
            return out;
        }
    }
    if mime.contains("html") || trimmed.starts_with('<') {
        for m in HTML_INPUT.find_iter(body) {
            let attrs = attrs(m.as_str());
            let (Some(name), Some(value)) = (attrs.get("name"), attrs.get("value")) else {
                continue;
            };
            let hidden = attrs
                .get("type")
                .is_some_and(|t| t.eq_ignore_ascii_case("hidden"));
            if hidden || TOKEN_KEY.is_match(name) {
                out.push((
                    value.clone(),
                    Prod {
                        pos,
                        source: Source::Input(name.clone()),
                        number: false,
                    },
                ));
            }
        }
        for m in HTML_META.find_iter(body) {
            let attrs = attrs(m.as_str());
            let name = attrs.get("name").or_else(|| attrs.get("property"));
            if let (Some(name), Some(content)) = (name, attrs.get("content")) {
                out.push((
                    content.clone(),
                    Prod {
                        pos,
                        source: Source::Meta(name.clone()),
                        number: false,
                    },
                ));
            }
        }
    }
    out
}

fn attrs(tag: &str) -> HashMap<String, String> {
    let inner = tag.trim_start_matches('<');
    let inner = inner
        .split_once(char::is_whitespace)
        .map(|x| x.1)
        .unwrap_or("");
    HTML_ATTR
        .captures_iter(inner)
        .map(|c| {
            let v = c
                .get(2)
                .or(c.get(3))
                .or(c.get(4))
                .map(|m| m.as_str())
                .unwrap_or("");
            (c[1].to_ascii_lowercase(), html_unescape(v))
        })
        .collect()
}

enum Streamed {
    Leaves(Vec<(String, Vec<Seg>, bool)>),
    NotJson,
    RepeatedKey,
}

/// [`json_leaves`] of a JSON text, walked while it is parsed: no `Value` is built for the
/// (large, many) response bodies. Gives up on an object that repeats a key, where the
/// parsed document keeps only the last value.
fn json_leaves_streamed(text: &str, wanted: &dyn Fn(&str) -> bool) -> Streamed {
    use serde::de::DeserializeSeed;
    let mut state = LeafWalk {
        path: Vec::new(),
        wanted,
        out: Vec::new(),
        repeated: false,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let done = Walk(&mut state)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    match done {
        Ok(()) => Streamed::Leaves(state.out),
        Err(_) if state.repeated => Streamed::RepeatedKey,
        Err(_) => Streamed::NotJson,
    }
}

struct LeafWalk<'w, 'de> {
    path: Vec<(Option<std::borrow::Cow<'de, str>>, usize)>,
    wanted: &'w dyn Fn(&str) -> bool,
    out: Vec<(String, Vec<Seg>, bool)>,
    repeated: bool,
}

impl LeafWalk<'_, '_> {
    fn leaf(&mut self, v: &str, number: bool) {
        if (self.wanted)(v) {
            let path = self
                .path
                .iter()
                .map(|(k, i)| match k {
                    Some(k) => Seg::Key(k.to_string()),
                    None => Seg::Index(*i),
                })
                .collect();
            self.out.push((v.to_string(), path, number));
        }
    }
}

struct Walk<'s, 'w, 'de>(&'s mut LeafWalk<'w, 'de>);

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        self.0.leaf(&serde_json::Number::from(n).to_string(), true);
        Ok(())
    }
    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        self.0.leaf(&serde_json::Number::from(n).to_string(), true);
        Ok(())
    }
    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        if let Some(n) = serde_json::Number::from_f64(f) {
            self.0.leaf(&n.to_string(), true);
        }
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.leaf(v, false);
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            self.0.path.push((None, i));
            let more = seq.next_element_seed(Walk(&mut *self.0));
            self.0.path.pop();
            if more?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: HashSet<std::borrow::Cow<'de, str>> = HashSet::new();
        while let Some(k) = map.next_key_seed(KeySeed)? {
            if !keys.insert(k.clone()) {
                self.0.repeated = true;
                return Err(serde::de::Error::custom("repeated key"));
            }
            self.0.path.push((Some(k), 0));
            let done = map.next_value_seed(Walk(&mut *self.0));
            self.0.path.pop();
            done?;
        }
        Ok(())
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeySeed)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v))
    }
}

/// The `wanted` leaves of a JSON document: (value, path, is a number).
fn json_leaves<'a>(
    v: &'a Value,
    path: &mut Vec<(Option<&'a str>, usize)>,
    wanted: &dyn Fn(&str) -> bool,
    out: &mut Vec<(String, Vec<Seg>, bool)>,
) {
    let owned = |path: &[(Option<&str>, usize)]| -> Vec<Seg> {
        path.iter()
            .map(|(k, i)| match k {
                Some(k) => Seg::Key(k.to_string()),
                None => Seg::Index(*i),
            })
            .collect()
    };
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                path.push((Some(k), 0));
                json_leaves(c, path, wanted, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                path.push((None, i));
                json_leaves(c, path, wanted, out);
                path.pop();
            }
        }
        Value::String(s) if wanted(s) => out.push((s.clone(), owned(path), false)),
        Value::Number(n) => {
            let n = n.to_string();
            if wanted(&n) {
                out.push((n, owned(path), true));
            }
        }
        _ => {}
    }
}

fn is_tok_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Maximal runs of token characters (`[A-Za-z0-9_-]`), the unit `boundary_regex` matches at.
fn tok_runs(s: &str) -> impl Iterator<Item = &str> {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() && !is_tok_byte(b[i]) {
            i += 1;
        }
        let start = i;
        while i < b.len() && is_tok_byte(b[i]) {
            i += 1;
        }
        // Runs are ASCII, so both ends are character boundaries.
        (start < i).then(|| &s[start..i])
    })
}

/// Token → the positions (ascending) of the responses whose body holds it as a whole run,
/// for the tokens in `runs`.
fn index_body_tokens<'a>(
    entries: &[&'a Entry],
    runs: &HashSet<&str>,
) -> HashMap<&'a str, Vec<usize>> {
    let mut lengths = [false; 401];
    for r in runs {
        lengths[r.len().min(400)] = true;
    }
    let mut index: HashMap<&'a str, Vec<usize>> = HashMap::new();
    for (pos, e) in entries.iter().enumerate() {
        let Some(body) = e.resp_body.as_deref() else {
            continue;
        };
        for t in tok_runs(body) {
            if t.len() > 400 || !lengths[t.len()] || !runs.contains(t) {
                continue;
            }
            let list = index.entry(t).or_default();
            if list.last() != Some(&pos) {
                list.push(pos);
            }
        }
    }
    index
}

/// Fallback: a high-entropy value found in an earlier response's raw text.
///
/// Only an occurrence with a non-token character (or nothing) on each side counts
/// (`boundary_regex`), so each token run of `v` is a whole run of that body: the token
/// index narrows the bodies to search to the few holding `v`'s rarest run.
fn text_producer<'a>(
    v: &str,
    before: usize,
    entries: &[&Entry],
    body_index: &dyn Fn() -> &'a HashMap<&'a str, Vec<usize>>,
    sent_before: &dyn Fn(usize, &str) -> bool,
) -> Option<Prod> {
    let strong = v.len() >= 8
        && v.len() <= 400
        && (UUID.is_match(v)
            || JWT.is_match(v)
            || HEX.is_match(v)
            || (v.chars().any(|c| c.is_ascii_digit())
                && v.chars().any(|c| c.is_ascii_alphabetic())));
    if !strong || v.contains(char::is_whitespace) || before == 0 {
        return None;
    }
    let index = body_index();
    let mut rarest: Option<&Vec<usize>> = None;
    for run in tok_runs(v) {
        let list = index.get(run)?;
        if rarest.is_none_or(|r| list.len() < r.len()) {
            rarest = Some(list);
        }
    }
    for &pos in rarest? {
        if pos >= before {
            break;
        }
        let Some(body) = &entries[pos].resp_body else {
            continue;
        };
        if !body.contains(v) || sent_before(pos, v) {
            continue;
        }
        if let Some(re) = boundary_regex(body, v) {
            return Some(Prod {
                pos,
                source: Source::Text(re),
                number: false,
            });
        }
    }
    None
}

fn boundary_regex(body: &str, v: &str) -> Option<String> {
    let is_tok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let at = body.match_indices(v).find(|(i, _)| {
        let before = body[..*i].chars().next_back();
        let after = body[i + v.len()..].chars().next();
        !before.is_some_and(is_tok) && !after.is_some_and(is_tok)
    })?;
    let idx = at.0;
    let class = if v.chars().all(is_tok) {
        "[A-Za-z0-9_-]+".to_string()
    } else {
        "[A-Za-z0-9_.~+/=:-]+".to_string()
    };
    for ctx in [12usize, 24, 40] {
        let left: String = body[..idx]
            .chars()
            .rev()
            .take(ctx)
            .take_while(|c| *c != '\n')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if left.is_empty() {
            continue;
        }
        let pattern = format!("{}({class})", regex::escape(&left));
        if let Ok(re) = Regex::new(&pattern) {
            if re
                .captures(body)
                .and_then(|c| c.get(1))
                .is_some_and(|m| m.as_str() == v)
            {
                return Some(pattern);
            }
        }
    }
    None
}

/// The narrowest extractor that returns exactly the recorded value from the recorded response.
/// `parsed` caches the last JSON body parsed (by position).
fn synthesize(
    p: &Prod,
    value: &str,
    e: &Entry,
    parsed: &mut Option<(usize, Option<Value>)>,
) -> Option<Extractor> {
    match &p.source {
        Source::Header(h) => Some(Extractor::Header(h.clone())),
        Source::Location => Some(Extractor::Header("location".into())),
        Source::Cookie(c) => Some(Extractor::Cookie(c.clone())),
        Source::Input(name) => {
            let sel = format!("input[name=\"{}\"]", name.replace('"', "\\\""));
            Some(Extractor::Css {
                selector: sel,
                attr: Some("value".into()),
            })
        }
        Source::Meta(name) => {
            let body = e.resp_body.as_deref().unwrap_or("");
            let attr_name = if body.contains(&format!("property=\"{name}\"")) {
                "property"
            } else {
                "name"
            };
            Some(Extractor::Css {
                selector: format!("meta[{attr_name}=\"{}\"]", name.replace('"', "\\\"")),
                attr: Some("content".into()),
            })
        }
        Source::Text(re) => Pattern::parse(re)
            .ok()
            .map(|pattern| Extractor::Regex { pattern, group: 1 }),
        Source::Json(path) => {
            if !matches!(parsed, Some((pos, _)) if *pos == p.pos) {
                let doc = e
                    .resp_body
                    .as_deref()
                    .and_then(|b| serde_json::from_str::<Value>(b).ok());
                *parsed = Some((p.pos, doc));
            }
            let doc = parsed.as_ref()?.1.as_ref()?;
            let candidates = [json_path_predicated(doc, path), Some(json_path_plain(path))];
            for c in candidates.into_iter().flatten() {
                let Ok(jp) = JsonPath::parse(&c) else {
                    continue;
                };
                let first = jp.query(doc).into_iter().next();
                let matches = match first {
                    Some(Value::String(s)) => s == value,
                    Some(Value::Number(n)) => n.to_string() == value,
                    _ => false,
                };
                if matches {
                    return Some(Extractor::Json {
                        path: jp,
                        all: false,
                    });
                }
            }
            None
        }
    }
}

/// Replaces array indexes by a filter on a sibling key with a unique, stable value, so the
/// extractor still finds the right element when the list's order or length differs.
fn json_path_predicated(doc: &Value, path: &[Seg]) -> Option<String> {
    if !path.iter().any(|s| matches!(s, Seg::Index(_))) {
        return None;
    }
    let mut out = "$".to_string();
    let mut node = doc;
    for (i, seg) in path.iter().enumerate() {
        match seg {
            Seg::Key(k) => {
                out.push_str(&key_path(k));
                node = node.get(k)?;
            }
            Seg::Index(idx) => {
                let arr = node.as_array()?;
                let elem = arr.get(*idx)?;
                let next_key = match path.get(i + 1) {
                    Some(Seg::Key(k)) => Some(k.as_str()),
                    _ => None,
                };
                let pred = elem.as_object().and_then(|obj| {
                    let preferred = [
                        "name",
                        "slug",
                        "sku",
                        "code",
                        "title",
                        "email",
                        "username",
                        "label",
                        "key",
                        "loanNumber",
                    ];
                    let mut keys: Vec<&String> = obj.keys().collect();
                    keys.sort_by_key(|k| {
                        preferred
                            .iter()
                            .position(|p| p.eq_ignore_ascii_case(k))
                            .unwrap_or(usize::MAX)
                    });
                    keys.into_iter().find_map(|k| {
                        if Some(k.as_str()) == next_key {
                            return None;
                        }
                        let s = obj.get(k)?.as_str()?;
                        let stable = !s.is_empty()
                            && s.len() <= 60
                            && !s.contains(['\'', '\\', '\n'])
                            && !is_dynamic_segment(s)
                            && !UUID.is_match(s);
                        let simple_key = k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                            && !k.starts_with(|c: char| c.is_ascii_digit());
                        let unique = || {
                            arr.iter()
                                .filter(|o| o.get(k).and_then(Value::as_str) == Some(s))
                                .count()
                                == 1
                        };
                        (stable && simple_key && unique()).then(|| format!("[?@.{k}=='{s}']"))
                    })
                });
                match pred {
                    Some(p) => out.push_str(&p),
                    None => out.push_str(&format!("[{idx}]")),
                }
                node = elem;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_text_finds_the_first_occurrence_like_a_scan() {
        // A small alphabet makes many partial and overlapping matches.
        let mut seed = 7u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let text: String = (0..20_000)
            .map(|_| ['a', 'b', 'c', '\u{1}', 'é'][(next() % 5) as usize])
            .collect();
        let mut sent = SentText::new(text.clone());
        for _ in 0..2_000 {
            let chars: Vec<char> = text.chars().collect();
            let start = (next() as usize) % chars.len();
            let len = 1 + (next() as usize) % 12;
            let mut v: String = chars[start..(start + len).min(chars.len())]
                .iter()
                .collect();
            if next() % 3 == 0 {
                v.push('d'); // absent
            }
            let expect = text.find(&v).map(|i| i + v.len());
            assert_eq!(sent.first_end(&v), expect, "{v:?}");
            assert_eq!(sent.first_end(&v), expect, "{v:?} (memoized)");
        }
    }

    #[test]
    fn streamed_leaves_match_the_parsed_document() {
        let all = |_: &str| true;
        let text = r#"{"a": [1, -2, 3.5, 1e3, 18446744073709551615, "x\/y", "\u00e9t\u00e9"],
            "b\"k": {"c": null, "d": true, "e": [[{"f": "g"}]]}, "": ""}"#;
        let Streamed::Leaves(got) = json_leaves_streamed(text, &all) else {
            panic!("not streamed");
        };
        let doc: Value = serde_json::from_str(text).unwrap();
        let mut want = Vec::new();
        json_leaves(&doc, &mut Vec::new(), &all, &mut want);
        assert_eq!(got, want);
        assert!(matches!(
            json_leaves_streamed(r#"{"a": 1, "a": 2}"#, &all),
            Streamed::RepeatedKey
        ));
        assert!(matches!(
            json_leaves_streamed("[1,", &all),
            Streamed::NotJson
        ));
        assert!(matches!(
            json_leaves_streamed("[1] x", &all),
            Streamed::NotJson
        ));
        let only_g = |v: &str| v == "g";
        let Streamed::Leaves(got) = json_leaves_streamed(text, &only_g) else {
            panic!("not streamed");
        };
        assert_eq!(got.len(), 1);
        assert_eq!(json_path_plain(&got[0].1), "$['b\"k'].e[0][0].f");
    }

    #[test]
    fn unique_names_skip_taken_suffixes() {
        let mut names = Names::default();
        names.used.insert("token_3".into());
        let got: Vec<String> = (0..4).map(|_| unique_name(&mut names, "token")).collect();
        assert_eq!(got, ["token", "token_2", "token_4", "token_5"]);
        assert_eq!(unique_name(&mut names, "token_6"), "token_6");
        assert_eq!(unique_name(&mut names, "token"), "token_7");
    }

    #[test]
    fn tok_runs_split_at_non_token_characters() {
        let runs: Vec<&str> = tok_runs("a.b-c_d é=x1 ").collect();
        assert_eq!(runs, ["a", "b-c_d", "x1"]);
        assert_eq!(tok_runs("").count(), 0);
        assert_eq!(tok_runs("...").count(), 0);
    }
}
