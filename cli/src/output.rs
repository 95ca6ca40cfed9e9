//! Writing reports, and the checks that fail fast before a long scan starts.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use fleetscan_core::report::ReportFile;

use crate::InputError;

/// Fails unless `dir` exists (or can be made) and takes a file.
pub fn check_writable(dir: &Path) -> Result<()> {
    let bad = |e: std::io::Error| {
        InputError(format!(
            "cannot write to --out {}: {e}: choose a writable directory",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(bad)?;
    let probe = dir.join(".fleetscan-write-test");
    std::fs::write(&probe, b"").map_err(bad)?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Fails unless the host of `base` accepts a TCP connection, so a mistyped or dead
/// `--git-base` is one clear error instead of hundreds of failed repositories.
pub fn check_reachable(base: &str, timeout: Duration) -> Result<()> {
    let (scheme, rest) = base.split_once("://").ok_or_else(|| {
        InputError(format!(
            "--git-base {base:?} is not a URL: use git://, http:// or https://"
        ))
    })?;
    let default_port = match scheme {
        "git" => 9418,
        "http" => 80,
        "https" => 443,
        "ssh" => 22,
        "file" => return Ok(()),
        other => {
            return Err(
                InputError(format!("--git-base {base:?}: unsupported scheme {other:?}")).into(),
            )
        }
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let hostport = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    let unreachable = |why: String| {
        InputError(format!(
            "git base {base} is unreachable ({why}): check --git-base"
        ))
    };
    let addrs: Vec<_> = hostport
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?
        .collect();
    let mut last = String::from("no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(unreachable(last).into())
}

/// Writes every file under `dir`, each through a temporary name and a rename, so readers
/// never see half a report.
pub fn write_all(dir: &Path, files: &[ReportFile]) -> Result<()> {
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| InputError(format!("cannot create {}: {e}", parent.display())))?;
        }
        let tmp = path.with_extension("tmp-fleetscan");
        std::fs::write(&tmp, &f.contents)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| InputError(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}
