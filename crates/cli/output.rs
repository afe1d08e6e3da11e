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
        return Err(format!("{}: folder {} does not exist", path.display(), dir.display()));
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
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
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
