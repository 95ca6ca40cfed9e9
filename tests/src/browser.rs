//! Headless Chromium (the Debian `chromium` package) loading pages from `file://`.
//!
//! Every run gets its own profile directory, and nothing can leave the machine: all host
//! names resolve to nothing and every request goes to a closed loopback proxy. Console
//! messages (errors included) are read from Chromium's log on stderr.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A loaded page.
pub struct Page {
    /// The DOM after the page's scripts ran, serialized.
    pub dom: String,
    /// Every console message the page caused (script errors, CSP violations, logs).
    pub console: Vec<String>,
}

/// The Chromium binary; panics naming the package when it is missing.
pub fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        for dir in ["/usr/bin", "/usr/local/bin"] {
            let p = Path::new(dir).join(name);
            if p.exists() {
                return p;
            }
        }
    }
    panic!("headless Chromium is needed: apt-get install -y chromium (.ci/run does)")
}

fn command(extra: &[&str], target: &str) -> (Command, tempfile::TempDir) {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(target);
    (cmd, profile)
}

/// The `file://` URL of `path`, with an optional fragment.
pub fn file_url(path: &Path, fragment: &str) -> String {
    let abs = std::fs::canonicalize(path).unwrap();
    let mut url = String::from("file://");
    for b in abs.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    if !fragment.is_empty() {
        url.push('#');
        url.push_str(fragment);
    }
    url
}

/// Loads `url` and returns its DOM and console messages.
pub fn load(url: &str) -> Page {
    let (mut cmd, _profile) = command(&["--dump-dom"], url);
    let out = cmd.output().expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    Page {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
    }
}

/// Writes a PNG screenshot of `url` at `width` x `height` to `png`.
pub fn screenshot(url: &str, png: &Path, width: u32, height: u32) {
    std::fs::create_dir_all(png.parent().unwrap()).unwrap();
    let shot = format!("--screenshot={}", png.display());
    let size = format!("--window-size={width},{height}");
    let (mut cmd, _profile) = command(&[&shot, &size], url);
    let out = cmd.output().expect("run chromium");
    assert!(
        out.status.success() && png.exists(),
        "no screenshot of {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
