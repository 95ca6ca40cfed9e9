//! A `git daemon` serving a directory on a free loopback port.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `git daemon`; killed on drop.
pub struct GitDaemon {
    child: Option<Child>,
    root: PathBuf,
    port: u16,
}

impl GitDaemon {
    /// Serves every repository under `root` (as `git://127.0.0.1:PORT/<path>`).
    pub fn start(root: &Path) -> GitDaemon {
        for _ in 0..5 {
            let port = crate::free_port();
            let mut d = GitDaemon {
                child: None,
                root: root.to_path_buf(),
                port,
            };
            if d.spawn() {
                return d;
            }
        }
        panic!("git daemon did not start");
    }

    fn spawn(&mut self) -> bool {
        let child = Command::new("git")
            .arg("daemon")
            .arg("--export-all")
            .arg("--reuseaddr")
            .arg("--informative-errors")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={}", self.port))
            .arg(format!("--base-path={}", self.root.display()))
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn git daemon (is git-daemon installed?)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL, ending in `/`.
    pub fn base(&self) -> String {
        format!("git://127.0.0.1:{}/", self.port)
    }

    /// Kills the daemon; the port stays reserved for [`GitDaemon::restart`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the daemon again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn(),
            "git daemon did not restart on port {}",
            self.port
        );
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}
