//! A loopback TCP proxy that behaves like a wide-area link: every byte arrives a fixed one-way
//! delay after it was sent, each connection's direction carries at most a given rate, and a
//! new connection costs one round trip before its first byte gets through (the TCP
//! handshake). The benchmarks put it between fleetscan (or `git clone`) and `git daemon`.
//!
//! Loss, congestion control and the receive window are not modelled: a connection gets its
//! full rate from the first byte, which flatters many short connections a little.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The link's shape.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// Added to every byte, each way. Default 50 ms.
    pub delay: Duration,
    /// Bytes per second per connection and direction. Default 2 MB/s.
    pub rate: u64,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            delay: Duration::from_millis(50),
            rate: 2_000_000,
        }
    }
}

/// A running proxy; stops accepting on drop (open connections run to their end).
pub struct WanProxy {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl WanProxy {
    /// Forwards `127.0.0.1:PORT` to `127.0.0.1:target` through `link`.
    pub fn start(target: u16, link: Link) -> std::io::Result<WanProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(client) = client {
                    std::thread::spawn(move || connect(client, target, link));
                }
            }
        });
        Ok(WanProxy { port, stop })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for WanProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the blocking accept so that the loop sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn connect(client: TcpStream, target: u16, link: Link) {
    let accepted = Instant::now();
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    // The client's first bytes leave after the handshake's round trip.
    let up = std::thread::spawn(move || pipe(c2, s2, link, accepted + 2 * link.delay));
    pipe(server, client, link, accepted);
    let _ = up.join();
}

/// Copies `from` to `to` through the link: a reader stamps each chunk with the time it was
/// sent, a writer hands it on once the delay has passed and the connection's rate allows.
fn pipe(mut from: TcpStream, mut to: TcpStream, link: Link, earliest: Instant) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = std::thread::spawn(move || {
        let mut free = earliest;
        for (sent, chunk) in rx {
            // On the wire from when it was sent (or the link was free) for len/rate seconds,
            // then `delay` to arrive.
            let start = free.max(sent);
            free = start + Duration::from_secs_f64(chunk.len() as f64 / link.rate as f64);
            let arrive = free + link.delay;
            if let Some(wait) = arrive.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    // Small chunks keep the pacing smooth: 16 KiB is 8 ms at 2 MB/s.
    let mut buf = vec![0u8; 16 << 10];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes cross the link unchanged and in order, both ways, and the end of each direction
    /// is passed on.
    #[test]
    fn bytes_cross_unchanged_both_ways() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = echo.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = echo.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            got.reverse();
            s.write_all(&got).unwrap();
        });
        let link = Link {
            delay: Duration::from_millis(5),
            rate: 10_000_000,
        };
        let proxy = WanProxy::start(target, link).unwrap();
        let mut c = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        c.write_all(&sent).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        back.reverse();
        assert_eq!(back, sent);
    }
}
