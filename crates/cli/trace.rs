//! `throng run --trace` / `--trace-file`: renders the runner's trace events (already
//! redacted by the runner) as readable text on stderr and as JSON lines in a file.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use throng_runner::trace::{TraceBody, TraceEvent};
use throng_runner::TraceSink;

/// Body excerpts on stderr are cut at this many bytes.
pub const TEXT_BODY_MAX: usize = 2 * 1024;
/// Bodies in `--trace-file` lines are cut at this many bytes (`truncated: true`).
pub const FILE_BODY_MAX: usize = 64 * 1024;

/// Where trace events go: stderr as text, a file as JSON lines, or both.
pub struct Tracer {
    text: bool,
    file: Option<Mutex<BufWriter<File>>>,
    /// The first error writing the file, reported at the end.
    error: Mutex<Option<std::io::Error>>,
}

impl Tracer {
    /// Opens `file` (mode 0600: bodies may hold personal data) when given.
    pub fn new(text: bool, file: Option<&Path>) -> std::io::Result<Arc<Tracer>> {
        let file = match file {
            Some(p) => Some(Mutex::new(BufWriter::new(create_private(p)?))),
            None => None,
        };
        Ok(Arc::new(Tracer {
            text,
            file,
            error: Mutex::new(None),
        }))
    }

    pub fn sink(self: &Arc<Self>) -> TraceSink {
        let me = self.clone();
        TraceSink::new(move |e| me.event(e))
    }

    fn event(&self, e: TraceEvent) {
        if self.text {
            let text = render_text(&e);
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(text.as_bytes());
        }
        if let Some(f) = &self.file {
            let line = json_line(e);
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(err) = f.write_all(line.as_bytes()) {
                self.error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(err);
            }
        }
    }

    /// Flushes the file; reports the first write error, if any.
    pub fn finish(&self) -> std::io::Result<()> {
        if let Some(e) = self.error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(e);
        }
        if let Some(f) = &self.file {
            f.lock().unwrap_or_else(|p| p.into_inner()).flush()?;
        }
        Ok(())
    }
}

fn create_private(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// One event as one line of JSON, bodies cut at [`FILE_BODY_MAX`].
pub fn json_line(mut e: TraceEvent) -> String {
    let cut = |b: &mut Option<TraceBody>| {
        if let Some(b) = b {
            b.truncate(FILE_BODY_MAX);
        }
    };
    if let Some(r) = e.request.as_mut() {
        cut(&mut r.body);
    }
    if let Some(r) = e.response.as_mut() {
        cut(&mut r.body);
    }
    let mut line = serde_json::to_string(&e).unwrap_or_else(|err| {
        serde_json::json!({"error": format!("cannot serialize a trace event: {err}")}).to_string()
    });
    line.push('\n');
    line
}

fn body_text(out: &mut String, prefix: &str, b: &TraceBody) {
    let mut b = b.clone();
    b.truncate(TEXT_BODY_MAX);
    if b.encoding == "base64" {
        let _ = writeln!(out, "{prefix}[{} bytes, base64] {}", b.size, b.text);
    } else {
        for line in b.text.lines() {
            let _ = writeln!(out, "{prefix}{line}");
        }
    }
    if b.truncated {
        let _ = writeln!(out, "{prefix}… ({} bytes in all)", b.size);
    }
}

/// One event as readable text: the request, redirects, the response, extracted
/// variables and checks.
pub fn render_text(e: &TraceEvent) -> String {
    let mut out = String::new();
    let source = e
        .source
        .as_ref()
        .map(|s| format!(", from {} entry {}", s.har, s.entry))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "── vu {} iteration {} · {} · step {} `{}` ({}{source}) · {:.1}ms · {}",
        e.vu,
        e.iteration,
        e.scenario,
        e.step_index + 1,
        e.step,
        e.kind,
        e.elapsed_ms,
        if e.failed { "FAILED" } else { "ok" }
    );
    for r in &e.redirects {
        let _ = writeln!(
            out,
            "> {} {}\n< {}{}",
            r.method,
            r.url,
            r.status,
            r.location
                .as_ref()
                .map(|l| format!(" → {l}"))
                .unwrap_or_default()
        );
    }
    if let Some(r) = &e.request {
        let _ = writeln!(out, "> {} {}", r.method, r.url);
        for (k, v) in &r.headers {
            let _ = writeln!(out, "> {k}: {v}");
        }
        if let Some(b) = &r.body {
            let _ = writeln!(out, ">");
            body_text(&mut out, "> ", b);
        }
    }
    if let Some(r) = &e.response {
        let _ = writeln!(out, "< {}", r.status);
        for (k, v) in &r.headers {
            let _ = writeln!(out, "< {k}: {v}");
        }
        if let Some(b) = &r.body {
            let _ = writeln!(out, "<");
            body_text(&mut out, "< ", b);
        }
    }
    if let Some(m) = &e.messages {
        let _ = writeln!(out, "  messages: {} received, {} sent", m.received, m.sent);
    }
    for x in &e.extracted {
        match (&x.value, &x.error) {
            (Some(v), _) => {
                let v: String = if v.len() > 200 {
                    let mut cut = 200;
                    while !v.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    format!("{}…", &v[..cut])
                } else {
                    v.clone()
                };
                let _ = writeln!(out, "  extract {} = {v}", x.name);
            }
            (None, Some(err)) if err.starts_with("extract ") => {
                let _ = writeln!(out, "  ✗ {err}");
            }
            (None, Some(err)) => {
                let _ = writeln!(out, "  ✗ extract {}: {err}", x.name);
            }
            (None, None) => {}
        }
    }
    for c in &e.checks {
        let mark = if c.passed { "✓" } else { "✗" };
        let mut line = format!("  {mark} {}", c.check);
        match (&c.message, &c.actual) {
            (Some(m), _) if !c.passed => {
                let _ = write!(line, ": {m}");
            }
            (_, Some(a)) => {
                let _ = write!(line, " (got {a})");
            }
            _ => {}
        }
        let _ = writeln!(out, "{line}");
    }
    if let Some(err) = &e.error {
        let _ = writeln!(out, "  error {}: {}", err.category, err.message);
    }
    out.push('\n');
    out
}
