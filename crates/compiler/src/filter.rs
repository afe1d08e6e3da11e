//! Which recorded entries become steps: static assets, third-party hosts, browser noise,
//! preflights, failed requests and duplicates are dropped (each with a reason for the
//! report), and redirect chains are found so they can be collapsed later.

use std::collections::{BTreeMap, HashMap};

use crate::har::{Entry, Har};
use crate::util::{registrable_domain, Url};
use crate::CompileOptions;

/// The outcome of filtering: kept entries in time order, and why the others went.
#[derive(Debug, Default)]
pub struct Filtered {
    /// Indices into `Har::entries`, sorted by start time (stable).
    pub kept: Vec<usize>,
    pub dropped: BTreeMap<String, usize>,
    /// Third-party hosts dropped, with how many requests each.
    pub dropped_hosts: BTreeMap<String, usize>,
    /// Redirect chains as positions in `kept`: head, hops..., final response.
    pub chains: Vec<Vec<usize>>,
    /// Registrable domains (or hosts) treated as first-party.
    pub first_party: Vec<String>,
}

const STATIC_RESOURCE_TYPES: &[&str] = &[
    "image",
    "stylesheet",
    "font",
    "media",
    "script",
    "manifest",
    "texttrack",
    "imageset",
    "other-static",
];
const STATIC_DEST: &[&str] = &[
    "image", "style", "script", "font", "audio", "video", "track", "manifest",
];
const STATIC_EXT: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "avif", "bmp", "css", "js", "mjs", "map",
    "woff", "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3", "wav", "ogg",
];
/// Hosts a browser talks to on its own behalf, never the application.
const BROWSER_NOISE: &[&str] = &[
    "safebrowsing.googleapis.com",
    "update.googleapis.com",
    "optimizationguide-pa.googleapis.com",
    "detectportal.firefox.com",
    "services.mozilla.com",
    "telemetry.mozilla.org",
    "cdn.mozilla.net",
    "clients1.google.com",
    "clients2.google.com",
    "clientservices.googleapis.com",
    "ocsp.digicert.com",
    "ocsp.pki.goog",
    "ocsp.sectigo.com",
    "edge.microsoft.com",
];
/// Analytics and ad hosts: never first-party even when they dominate a recording.
const TRACKERS: &[&str] = &[
    "google-analytics.com",
    "googletagmanager.com",
    "doubleclick.net",
    "googlesyndication.com",
    "googleadservices.com",
    "facebook.com",
    "facebook.net",
    "hotjar.com",
    "segment.io",
    "segment.com",
    "sentry.io",
    "newrelic.com",
    "nr-data.net",
    "datadoghq.com",
    "browser-intake-datadoghq.com",
    "krxd.net",
    "quantserve.com",
    "scorecardresearch.com",
    "chartbeat.com",
    "chartbeat.net",
    "optimizely.com",
    "omtrdc.net",
    "demdex.net",
    "adnxs.com",
    "criteo.com",
    "criteo.net",
    "taboola.com",
    "outbrain.com",
    "amazon-adsystem.com",
    "clarity.ms",
    "mixpanel.com",
    "amplitude.com",
    "moatads.com",
    "rubiconproject.com",
    "pubmatic.com",
    "casalemedia.com",
    "bluekai.com",
    "everesttech.net",
    "agkn.com",
    "adsrvr.org",
    "yieldmo.com",
    "bing.com",
];

fn host_matches(host: &str, pattern: &str) -> bool {
    let pattern = pattern.trim_start_matches("*.").to_ascii_lowercase();
    host == pattern || host.ends_with(&format!(".{pattern}"))
}

/// Whether a GET would fetch a page asset rather than application data.
pub fn is_static(e: &Entry, url: &Url) -> bool {
    if !matches!(e.method.as_str(), "GET" | "HEAD") {
        return false;
    }
    let rt = e.resource_type.as_deref().unwrap_or("");
    let dest = e
        .req_header("sec-fetch-dest")
        .unwrap_or("")
        .to_ascii_lowercase();
    if matches!(rt, "xhr" | "fetch" | "document" | "eventsource")
        || e.req_header("x-requested-with").is_some()
        || matches!(dest.as_str(), "empty" | "document" | "iframe")
    {
        return false;
    }
    if STATIC_RESOURCE_TYPES.contains(&rt) || STATIC_DEST.contains(&dest.as_str()) {
        return true;
    }
    let last = url.path.rsplit('/').next().unwrap_or("");
    if let Some((_, ext)) = last.rsplit_once('.') {
        if STATIC_EXT.contains(&ext.to_ascii_lowercase().as_str()) {
            return true;
        }
    }
    let mime = e.resp_mime.to_ascii_lowercase();
    let mime = mime.split(';').next().unwrap_or("").trim();
    mime.starts_with("image/")
        || mime.starts_with("font/")
        || mime.starts_with("audio/")
        || mime.starts_with("video/")
        || matches!(
            mime,
            "text/css"
                | "application/javascript"
                | "text/javascript"
                | "application/x-javascript"
                | "application/wasm"
        )
    // A script response to a form POST is application flow (Rails UJS), but those are
    // non-GET and never reach here; a GET of a script is an asset.
}

/// Applies every filter; `har.entries` must be non-empty.
pub fn filter(har: &Har, opts: &CompileOptions) -> Filtered {
    let mut out = Filtered::default();
    let mut order: Vec<usize> = (0..har.entries.len()).collect();
    order.sort_by(|&a, &b| {
        har.entries[a]
            .start_ms
            .total_cmp(&har.entries[b].start_ms)
            .then(a.cmp(&b))
    });
    let drop =
        |out: &mut Filtered, why: &str| *out.dropped.entry(why.to_string()).or_default() += 1;

    // First pass: reasons that do not depend on which hosts are first-party.
    let mut candidates: Vec<(usize, Url)> = Vec::new();
    for &i in &order {
        let e = &har.entries[i];
        let Some(url) = Url::parse(&e.url) else {
            drop(&mut out, "unparsable URL");
            continue;
        };
        let reason = if matches!(url.scheme.as_str(), "ws" | "wss") {
            Some("websocket (not supported yet)")
        } else if !matches!(url.scheme.as_str(), "http" | "https") {
            Some("browser-internal URL")
        } else if e.method == "CONNECT" {
            Some("CONNECT tunnel")
        } else if e.status <= 0 {
            Some("failed or canceled")
        } else if e.method == "OPTIONS" && e.req_header("access-control-request-method").is_some() {
            Some("CORS preflight")
        } else if BROWSER_NOISE.iter().any(|h| host_matches(url.host(), h)) {
            Some("browser-internal URL")
        } else if e
            .req_header("purpose")
            .or(e.req_header("sec-purpose"))
            .is_some_and(|p| p.contains("prefetch"))
        {
            Some("prefetch")
        } else if e.resource_type.as_deref() == Some("ping")
            || url.path.ends_with("/beacon")
            || url.path.ends_with("/collect")
            || url.path.starts_with("/b/ss/")
        {
            Some("beacon")
        } else if !opts.keep_static && is_static(e, &url) {
            Some("static asset")
        } else if opts
            .exclude_hosts
            .iter()
            .any(|h| host_matches(url.host(), h))
        {
            Some("excluded host")
        } else {
            None
        };
        match reason {
            Some(r) => drop(&mut out, r),
            None => candidates.push((i, url)),
        }
    }

    // First-party hosts: explicit, else the site of the first page, else the busiest site.
    let first_party: Vec<String> = if !opts.include_hosts.is_empty() {
        opts.include_hosts
            .iter()
            .map(|h| h.trim_start_matches("*.").to_ascii_lowercase())
            .collect()
    } else {
        let not_tracker = |u: &Url| !TRACKERS.iter().any(|t| host_matches(u.host(), t));
        let document = candidates.iter().find(|(i, u)| {
            let e = &har.entries[*i];
            not_tracker(u)
                && (e.resource_type.as_deref() == Some("document")
                    || (e.resource_type.is_none()
                        && e.method == "GET"
                        && e.resp_mime.contains("html")))
        });
        match document {
            Some((_, u)) => vec![registrable_domain(u.host())],
            None => {
                let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
                for (pos, (_, u)) in candidates
                    .iter()
                    .enumerate()
                    .filter(|(_, (_, u))| not_tracker(u))
                {
                    let c = counts
                        .entry(registrable_domain(u.host()))
                        .or_insert((0, pos));
                    c.0 += 1;
                }
                let best = counts
                    .into_iter()
                    .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1)));
                best.map(|(d, _)| vec![d]).unwrap_or_default()
            }
        }
    };
    out.first_party = first_party.clone();

    let mut last_seen: HashMap<(String, String, String), f64> = HashMap::new();
    let mut kept_urls: Vec<Url> = Vec::new();
    for (i, url) in candidates {
        let host = url.host().to_string();
        if !first_party.iter().any(|d| host_matches(&host, d)) {
            drop(&mut out, "third-party host");
            *out.dropped_hosts.entry(host).or_default() += 1;
            continue;
        }
        let e = &har.entries[i];
        // Double fetches (React StrictMode, retried prefetch) are one user action.
        let body = e
            .req_body
            .as_ref()
            .map(|b| b.text.clone())
            .unwrap_or_default();
        let key = (e.method.clone(), e.url.clone(), body);
        if e.method == "GET" {
            if let Some(prev) = last_seen.get(&key) {
                if e.start_ms - prev <= 100.0 {
                    drop(&mut out, "duplicate request");
                    continue;
                }
            }
        }
        last_seen.insert(key, e.start_ms);
        out.kept.push(i);
        kept_urls.push(url);
    }

    // Redirect chains: a 3xx whose Location is the next request of the expected method.
    let mut in_chain = vec![false; out.kept.len()];
    for start in 0..out.kept.len() {
        if in_chain[start] {
            continue;
        }
        let mut chain = vec![start];
        let mut cur = start;
        loop {
            let e = &har.entries[out.kept[cur]];
            if !(300..400).contains(&e.status) || e.status == 304 {
                break;
            }
            let location = e
                .resp_header("location")
                .map(str::to_string)
                .unwrap_or_else(|| e.redirect_url.clone());
            let Some(target) = (!location.is_empty())
                .then(|| kept_urls[cur].join(&location))
                .flatten()
            else {
                break;
            };
            let method = if matches!(e.status, 307 | 308) {
                e.method.as_str()
            } else {
                "GET"
            };
            let next = (cur + 1..out.kept.len()).find(|&j| {
                !in_chain[j]
                    && har.entries[out.kept[j]].method == method
                    && kept_urls[j].origin() == target.origin()
                    && kept_urls[j].path_and_query() == target.path_and_query()
            });
            match next {
                Some(j) => {
                    chain.push(j);
                    cur = j;
                }
                None => break,
            }
        }
        if chain.len() > 1 {
            for &p in &chain {
                in_chain[p] = true;
            }
            out.chains.push(chain);
        }
    }
    out
}
