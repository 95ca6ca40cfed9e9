//! A `git daemon` serving a directory on a free loopback port.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use crate::server::Server;

/// A running `git daemon`; killed on drop.
pub struct GitDaemon(Server);

impl GitDaemon {
    /// Serves every repository under `root` (as `git://127.0.0.1:PORT/<path>`).
    pub fn start(root: &Path) -> GitDaemon {
        let root = root.to_path_buf();
        GitDaemon(Server::start(
            "git daemon (is git-daemon installed?)",
            move |port| {
                let mut c = Command::new("git");
                c.arg("daemon")
                    .arg("--export-all")
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
