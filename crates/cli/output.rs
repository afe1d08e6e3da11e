//! Result outputs shared by `run`, `report`, `merge` and `demo`: checking that a path can be
//! written before a run starts, and writing the HTML report atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use throng_runner::results::RunResults;

/// Fails when a file cannot be created at `path` (missing folder, no permission, full disk).
pub fn check_writable(path: &Path) -> Result<(), String> {
    let dir = folder_of(path);
    if !dir.is_dir() {
        return Err(format!(
            "{}: folder {} does not exist",
            path.display(),
            dir.display()
        ));
    }
    let probe = dir.join(format!(".throng-write-check-{}", std::process::id()));
    let result = std::fs::File::create(&probe).and_then(|mut f| {
        // A byte, not an empty file: a full disk only refuses actual data.
        f.write_all(b"x")?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    result.map_err(|e| format!("{}: cannot write here: {e}", path.display()))
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Renders the HTML report and writes it through a temporary file and a rename.
pub fn write_html(results: &RunResults, path: &Path) -> anyhow::Result<()> {
    let html = throng_runner::html::render(results)?;
    write_atomically(path, html.as_bytes())
}

/// Writes `bytes` so that readers see the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = folder_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes a file only its owner can read (mode 0600): sidecar `.env` files hold secrets.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    // An existing file keeps its old mode on open; secrets must not stay world-readable.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())
}

/// Writes a JUnit XML report: one test case per threshold, and one per step whose checks
/// (and extractions) must all pass, so CI systems show what failed by name.
pub fn write_junit(results: &RunResults, path: &Path) -> anyhow::Result<()> {
    write_atomically(path, junit_xml(results).as_bytes())
}

fn junit_xml(r: &RunResults) -> String {
    use std::fmt::Write as _;
    let mut thresholds = String::new();
    let mut threshold_failures = 0;
    for t in &r.thresholds {
        let actual = t
            .actual
            .map_or("no data".to_string(), |a| format!("actual {a:.3}"));
        let _ = write!(
            thresholds,
            r#"    <testcase classname="thresholds" name="{}" time="0">"#,
            xml(&t.expr)
        );
        if !t.ok {
            threshold_failures += 1;
            let _ = write!(
                thresholds,
                r#"<failure message="{}" type="threshold">{} breached: {}</failure>"#,
                xml(&actual),
                xml(&t.expr),
                xml(&actual)
            );
        }
        thresholds.push_str("</testcase>\n");
    }
    // A run that failed apart from its thresholds (nothing succeeded, throng crashed) gets a
    // failing case of its own, so CI shows it by name even with no threshold set.
    let problems = r.verdict_problems();
    if !problems.is_empty() {
        threshold_failures += 1;
        let _ = writeln!(
            thresholds,
            "    <testcase classname=\"run\" name=\"the run\" time=\"0\"><failure message=\"{}\" type=\"run\">{}</failure></testcase>",
            xml(&problems[0]),
            xml(&problems.join("\n"))
        );
    }
    let threshold_cases = r.thresholds.len() + usize::from(!problems.is_empty());
    let mut steps = String::new();
    let mut step_failures = 0;
    for s in &r.steps {
        let time = s.latency_ms.mean * s.requests as f64 / 1000.0;
        let _ = write!(
            steps,
            r#"    <testcase classname="{}" name="{}" time="{time:.3}">"#,
            xml(&s.scenario),
            xml(&s.step)
        );
        if s.failed > 0 {
            step_failures += 1;
            let mut detail = format!("{} of {} requests failed", s.failed, s.requests);
            for (category, n) in &s.errors {
                let _ = write!(detail, "\n{category}: {n}");
            }
            for f in &s.failures {
                let _ = write!(detail, "\n{}x {}", f.count, f.message);
            }
            let _ = write!(
                steps,
                r#"<failure message="{} of {} requests failed" type="step">{}</failure>"#,
                s.failed,
                s.requests,
                xml(&detail)
            );
        }
        steps.push_str("</testcase>\n");
    }
    let tests = threshold_cases + r.steps.len();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"throng: {name}\" tests=\"{tests}\" failures=\"{f}\" time=\"{d:.3}\">\n  <testsuite name=\"thresholds\" tests=\"{tn}\" failures=\"{threshold_failures}\" time=\"0\">\n{thresholds}  </testsuite>\n  <testsuite name=\"steps\" tests=\"{sn}\" failures=\"{step_failures}\" time=\"{d:.3}\">\n{steps}  </testsuite>\n</testsuites>\n",
        name = xml(&r.name),
        f = threshold_failures + step_failures,
        d = r.duration_s,
        tn = threshold_cases,
        sn = r.steps.len(),
    )
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}
