//! `git http-backend` behind a minimal HTTP/1.1 server on a free loopback port, for the smart
//! HTTP transport. One thread per connection; each request runs the backend as a CGI program.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A running server; stops accepting on drop.
pub struct GitHttp {
    port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl GitHttp {
    /// Serves every repository under `root` as `http://127.0.0.1:PORT/<path>`.
    pub fn start(root: &Path) -> GitHttp {
        let root = root.to_path_buf();
        let (port, stop, accepted) = crate::proxy::accept_loop(move |client, _| {
            client.set_nonblocking(false).unwrap();
            let _ = serve(client, &root);
        });
        GitHttp {
            port,
            stop,
            accepted,
        }
    }

    /// Connections accepted so far (a client that keeps its connection alive makes several
    /// requests on one).
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for GitHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn backend() -> PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git");
    Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("git-http-backend")
}

/// Answers the requests of one connection until the client closes it.
fn serve(client: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut out = client;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request)? == 0 {
            return Ok(());
        }
        let mut parts = request.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (mut length, mut chunked, mut content_type) = (0, false, String::new());
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').unwrap_or((line, ""));
            match k.to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "transfer-encoding" => chunked = v.contains("chunked"),
                "content-type" => content_type = v.trim().to_string(),
                _ => {}
            }
        }
        let body = if chunked {
            read_chunked(&mut reader)?
        } else {
            let mut b = vec![0; length];
            reader.read_exact(&mut b)?;
            b
        };
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut child = Command::new(backend())
            .env("GIT_PROJECT_ROOT", root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query)
            .env("REQUEST_METHOD", method)
            .env("CONTENT_TYPE", &content_type)
            .env("CONTENT_LENGTH", body.len().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        child.stdin.take().unwrap().write_all(&body)?;
        let cgi = child.wait_with_output()?.stdout;
        let split = cgi
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(cgi.len());
        let head = String::from_utf8_lossy(&cgi[..split]).into_owned();
        let payload = cgi.get(split + 4..).unwrap_or_default();
        let mut status = "200 OK".to_string();
        let mut response = String::new();
        for line in head.lines() {
            match line.split_once(':') {
                Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
                Some(_) => response.push_str(&format!("{line}\r\n")),
                None => {}
            }
        }
        write!(
            out,
            "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\n\r\n",
            payload.len()
        )?;
        out.write_all(payload)?;
        out.flush()?;
    }
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let mut chunk = vec![0; size + 2];
        if size == 0 {
            let mut end = String::new();
            reader.read_line(&mut end)?;
            return Ok(body);
        }
        reader.read_exact(&mut chunk)?;
        body.extend_from_slice(&chunk[..size]);
    }
}
