//! A real `redis-server` on a free loopback port, with AOF persistence in a temporary
//! directory, that tests can stop, restart, or restart with its data wiped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::server::Server;

/// A running `redis-server`; killed on drop.
pub struct RedisServer {
    server: Server,
    dir: tempfile::TempDir,
}

fn binary() -> PathBuf {
    for p in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    "redis-server".into()
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 64];
    // Without the password a protected server answers NOAUTH: it is up all the same.
    s.write_all(b"PING\r\n").is_ok()
        && s.read(&mut buf)
            .map(|n| buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH"))
            .unwrap_or(false)
}

impl RedisServer {
    /// Starts a server with `appendonly yes` and `appendfsync always`, so a stop loses nothing.
    pub fn start() -> RedisServer {
        RedisServer::start_with_password(None)
    }

    /// [`RedisServer::start`], with `requirepass` when a password is given.
    pub fn start_with_password(password: Option<&str>) -> RedisServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let password = password.map(String::from);
        let data = dir.path().to_path_buf();
        let server = Server::start(
            "redis-server",
            move |port| {
                let mut c = Command::new(binary());
                c.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                    .args([
                        "--appendonly",
                        "yes",
                        "--appendfsync",
                        "always",
                        "--save",
                        "",
                    ])
                    .arg("--dir")
                    .arg(&data)
                    .args(["--daemonize", "no", "--logfile", "redis.log"]);
                if let Some(p) = &password {
                    c.args(["--requirepass", p]);
                }
                c
            },
            ping,
        );
        RedisServer { server, dir }
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.server.port())
    }

    /// Kills the server (SIGKILL: the AOF, fsynced at every write, keeps everything).
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Starts it again on the same port and data directory.
    pub fn restart(&mut self) {
        self.server.restart();
    }

    /// Restarts it with its data gone, as a server without persistence would come back.
    pub fn restart_empty(&mut self) {
        self.server.stop();
        for e in std::fs::read_dir(self.dir.path())
            .expect("redis dir")
            .flatten()
        {
            if e.file_name() != "redis.log" {
                let p = e.path();
                let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            }
        }
        self.server.restart();
    }
}
