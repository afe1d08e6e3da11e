//! Sidecar `.env` files: secrets the compiler kept out of a scenario's YAML.
//!
//! `shop.yaml` reads `{{ env('SHOP_PASSWORD') }}`; the recorded value lives in `shop.env`
//! beside it (mode 0600), which `throng run` loads automatically.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The sidecar path for a scenario file: same folder and stem, `.env` extension.
pub fn sidecar_path(scenario: &Path) -> PathBuf {
    scenario.with_extension("env")
}

/// Parses `KEY=value` lines; `#` comments, blank lines and `export ` prefixes are allowed,
/// and values may be single- or double-quoted.
pub fn parse(text: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected KEY=value", i + 1))?;
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("line {}: invalid variable name `{k}`", i + 1));
        }
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            let inner = &v[1..v.len() - 1];
            if v.starts_with('"') {
                unescape(inner)
            } else {
                inner.to_string()
            }
        } else {
            v.to_string()
        };
        out.insert(k.to_string(), v);
    }
    Ok(out)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Renders variables as a `.env` file, double-quoting every value.
pub fn render(vars: &[(String, String)]) -> String {
    let mut out =
        String::from("# Secrets recorded by `throng compile`; kept out of the scenario YAML.\n");
    for (k, v) in vars {
        let escaped = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        out.push_str(&format!("{k}=\"{escaped}\"\n"));
    }
    out
}

/// Sidecar files larger than this are refused: they hold a few secrets.
pub const MAX_ENV_BYTES: u64 = 1024 * 1024;

/// Reads a sidecar file if it exists; a missing file is an empty map. The file must be a
/// regular file of at most [`MAX_ENV_BYTES`] (read with [`crate::source::read_bounded`]).
pub fn read_if_present(path: &Path) -> Result<HashMap<String, String>, String> {
    match crate::source::read_text_bounded(path, MAX_ENV_BYTES) {
        Ok(text) => parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.is_not_found() => Ok(HashMap::new()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let vars = vec![
            ("A".to_string(), "p\"w\\d\n2".to_string()),
            ("B_1".to_string(), "x".to_string()),
        ];
        let parsed = parse(&render(&vars)).unwrap();
        assert_eq!(parsed["A"], "p\"w\\d\n2");
        assert_eq!(parsed["B_1"], "x");
        assert!(parse("nonsense").is_err());
    }

    #[test]
    fn sidecars_are_read_within_bounds() {
        let dir = std::env::temp_dir().join(format!("throng-ir-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read_if_present(&dir.join("missing.env"))
            .unwrap()
            .is_empty());
        let ok = dir.join("ok.env");
        std::fs::write(&ok, "A=1\n").unwrap();
        assert_eq!(read_if_present(&ok).unwrap()["A"], "1");
        let big = dir.join("big.env");
        std::fs::write(&big, "A=".to_string() + &"x".repeat(MAX_ENV_BYTES as usize)).unwrap();
        let e = read_if_present(&big).unwrap_err();
        assert!(
            e.ends_with("big.env: file is 1048578 bytes; limited to 1048576"),
            "{e}"
        );
        let e = read_if_present(&dir).unwrap_err();
        assert!(e.ends_with(": not a regular file"), "{e}");
    }
}
