//! A `git daemon` serving a directory on a free loopback port.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use crate::server::Server;

/// The `git-daemon` program itself. `git daemon` would run it as a child of the `git`
/// wrapper, and killing the wrapper would leave the daemon running.
fn daemon_program() -> std::path::PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("run git (is it installed?)");
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::path::Path::new(&dir).join("git-daemon")
}

/// A running `git daemon`; killed on drop.
pub struct GitDaemon(Server);

impl GitDaemon {
    /// Serves every repository under `root` (as `git://127.0.0.1:PORT/<path>`).
    pub fn start(root: &Path) -> GitDaemon {
        let root = root.to_path_buf();
        let program = daemon_program();
        GitDaemon(Server::start(
            "git daemon (is git-daemon installed?)",
            move |port| {
                let mut c = Command::new(&program);
                c.arg("--export-all")
                    .arg("--reuseaddr")
                    .arg("--informative-errors")
                    .arg("--listen=127.0.0.1")
                    .arg(format!("--port={port}"))
                    .arg(format!("--base-path={}", root.display()))
                    .arg(&root);
                c
            },
            |port| TcpStream::connect(("127.0.0.1", port)).is_ok(),
        ))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.0.port()
    }

    /// The base URL, ending in `/`.
    pub fn base(&self) -> String {
        format!("git://127.0.0.1:{}/", self.0.port())
    }

    /// Kills the daemon; the port stays reserved for [`GitDaemon::restart`].
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Starts the daemon again on the same port.
    pub fn restart(&mut self) {
        self.0.restart();
    }
}
