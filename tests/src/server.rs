//! A server child process on a free loopback port: started by a command, ready once a probe
//! answers, restartable on the same port, killed on drop. `git daemon` and `redis-server`
//! are both run this way.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server process.
pub struct Server {
    name: &'static str,
    child: Option<Child>,
    port: u16,
    command: Box<dyn Fn(u16) -> Command + Send>,
    ready: fn(u16) -> bool,
}

impl Server {
    /// Starts `command(port)` on a free port and waits until `ready(port)`.
    pub fn start(
        name: &'static str,
        command: impl Fn(u16) -> Command + Send + 'static,
        ready: fn(u16) -> bool,
    ) -> Server {
        let mut s = Server {
            name,
            child: None,
            port: 0,
            command: Box::new(command),
            ready,
        };
        for _ in 0..5 {
            s.port = crate::free_port();
            if s.spawn() {
                return s;
            }
        }
        panic!("{name} did not start (is it installed?)");
    }

    fn spawn(&mut self) -> bool {
        let child = (self.command)(self.port)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.name));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if (self.ready)(self.port) {
                return true;
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills it (SIGKILL); the port stays reserved for [`Server::restart`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn(),
            "{} did not restart on port {}",
            self.name,
            self.port
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
