//! Misbehaving servers on loopback: a TCP proxy that holds every new connection for a while
//! before forwarding it, so that jobs take long enough for a test to kill something in the
//! middle of them, and a server that accepts and then stalls (silent, or trickling bytes).

use std::io::copy;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A running proxy; stops accepting on drop.
pub struct SlowProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl SlowProxy {
    /// Forwards `127.0.0.1:PORT` to `127.0.0.1:target` after `delay` per connection.
    pub fn start(target: u16, delay: Duration) -> SlowProxy {
        let (port, stop, accepted) = accept_loop(move |client, _| {
            client.set_nonblocking(false).unwrap();
            forward(client, target, delay)
        });
        SlowProxy {
            port,
            stop,
            accepted,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// `git://127.0.0.1:PORT/`.
    pub fn base(&self) -> String {
        format!("git://127.0.0.1:{}/", self.port)
    }
}

/// Accepts connections on a free loopback port until the returned flag is set, handling each
/// on its own thread with `handle(connection, flag)`. Also returns the count of connections
/// accepted so far.
pub(crate) fn accept_loop(
    handle: impl Fn(TcpStream, Arc<AtomicBool>) + Send + Sync + 'static,
) -> (u16, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let handle = Arc::new(handle);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (s, count) = (stop.clone(), accepted.clone());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((client, _)) => {
                    count.fetch_add(1, Ordering::SeqCst);
                    let (s, handle) = (s.clone(), handle.clone());
                    std::thread::spawn(move || handle(client, s));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (port, stop, accepted)
}

fn forward(client: TcpStream, target: u16, delay: Duration) {
    std::thread::sleep(delay);
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = copy(&mut c2, &mut s2);
        let _ = s2.shutdown(Shutdown::Write);
    });
    let (mut s, mut c) = (server, client);
    let _ = copy(&mut s, &mut c);
    let _ = c.shutdown(Shutdown::Write);
    let _ = up.join();
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How a [`StallServer`] treats the connections it accepts.
#[derive(Debug, Clone, Copy)]
pub enum Stall {
    /// Accepts and never sends a byte.
    Silent,
    /// Sends one byte of a never-ending ref advertisement every `interval`.
    Trickle(Duration),
}

/// A git server that accepts connections and then stalls, so tests can check that a scan's
/// time budget holds while connecting and listing refs. Stops on drop.
pub struct StallServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl StallServer {
    /// Listens on a free loopback port.
    pub fn start(stall: Stall) -> StallServer {
        let (port, stop, _) = accept_loop(move |client, stop| hold(client, stall, &stop));
        StallServer { port, stop }
    }

    /// `git://127.0.0.1:PORT/`.
    pub fn base(&self) -> String {
        format!("git://127.0.0.1:{}/", self.port)
    }
}

fn hold(mut client: TcpStream, stall: Stall, stop: &AtomicBool) {
    use std::io::Write;
    // The start of a plausible advertisement: a pkt-line length that promises more bytes.
    let advert = b"00ff".iter().chain(std::iter::repeat(&b'a'));
    let mut advert = advert.copied();
    while !stop.load(Ordering::Relaxed) {
        match stall {
            Stall::Silent => std::thread::sleep(Duration::from_millis(50)),
            Stall::Trickle(every) => {
                std::thread::sleep(every);
                let byte = advert.next().unwrap_or(b'a');
                if client.write_all(&[byte]).is_err() {
                    return;
                }
            }
        }
    }
}

impl Drop for StallServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
