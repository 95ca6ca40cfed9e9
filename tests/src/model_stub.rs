//! A stand-in for a language model server, the one mock the tests use since no model can run
//! here: minimal HTTP/1.1 on a free loopback port, every request recorded and answered by a
//! script. It knows nothing of the APIs; [`Reply::ollama`] and [`Reply::openai`] build their
//! answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `POST`.
    pub method: String,
    /// The path, such as `/api/generate`.
    pub path: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Request {
    /// The first header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// What the script answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status with this JSON body.
    Json(u16, Value),
    /// Read the request, then never answer (until the server is dropped).
    Hang,
}

impl Reply {
    /// Ollama's `/api/generate` answer carrying `text`.
    pub fn ollama(text: &str) -> Reply {
        Reply::Json(
            200,
            json!({"model": "stub", "response": text, "done": true}),
        )
    }

    /// An OpenAI-compatible `/chat/completions` answer carrying `text`.
    pub fn openai(text: &str) -> Reply {
        Reply::Json(
            200,
            json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}),
        )
    }
}

type Script = dyn Fn(&Request) -> Reply + Send + Sync;

/// The running server; stopped and joined on drop.
pub struct ModelStub {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ModelStub {
    /// Listens on 127.0.0.1 (a free port) and answers every request with `script`.
    pub fn start(script: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> ModelStub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let (reqs, halt) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (reqs, halt, script) = (reqs.clone(), halt.clone(), script.clone());
                std::thread::spawn(move || serve(stream, &reqs, &halt, &*script));
            }
        });
        ModelStub {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for ModelStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, requests: &Mutex<Vec<Request>>, stop: &AtomicBool, script: &Script) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(req) = read_request(&stream) else {
        return;
    };
    let reply = script(&req);
    requests.lock().unwrap().push(req);
    match reply {
        Reply::Hang => {
            let end = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Reply::Json(status, body) => {
            let body = body.to_string();
            let mut s = &stream;
            let _ = write!(
                s,
                "HTTP/1.1 {status} Stub\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.flush();
        }
    }
}

/// Reads one request: the request line, headers, then a body sized by Content-Length or
/// sent in chunks.
fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut req = Request {
        method,
        path,
        headers,
        body: String::new(),
    };
    let mut body = Vec::new();
    if let Some(n) = req.header("content-length") {
        body.resize(n.parse().ok()?, 0);
        r.read_exact(&mut body).ok()?;
    } else if req.header("transfer-encoding") == Some("chunked") {
        loop {
            line.clear();
            r.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim(), 16).ok()?;
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    req.body = String::from_utf8_lossy(&body).into_owned();
    Some(req)
}

/// How a narrative section starts in a team file.
pub const NARRATIVE_HEADING: &str = "\n### Narrative (generated by `";

/// A team file without its narrative sections: what it would be without a model.
pub fn strip_narratives(team_file: &str) -> String {
    let mut out = String::new();
    let mut rest = team_file;
    while let Some(start) = rest.find(NARRATIVE_HEADING) {
        out.push_str(&rest[..start]);
        let len = rest[start..]
            .find("\nOccurrences Found:")
            .expect("a narrative comes before the occurrences");
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}
