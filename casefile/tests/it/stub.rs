//! A tiny HTTP server that answers what a test says, for the answers the real server
//! never gives: a 422 naming no record, a 413 for a batch within the limits, a failing
//! push followed by a pull, a page holding a state that breaks §2. Everything the real
//! server can produce is tested against it (`set_aside.rs`). `recovery.rs` builds on it a
//! small in-memory server that can be restored from a snapshot.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// One request as the stub read it: path and query, bearer token, JSON body (inflated).
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub token: Option<String>,
    pub body: Value,
}

/// The stub's answer: status and JSON body.
pub type Answer = (u16, Value);

/// A running stub; it stops with the test process.
pub struct Stub {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Stub {
    /// Serves on `127.0.0.1:0`, answering each request with `answer`.
    pub fn start(answer: impl Fn(&Request) -> Answer + Send + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read(&mut stream) else {
                    continue;
                };
                let (status, body) = answer(&request);
                seen.lock().unwrap().push(request);
                let body = body.to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Stub\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Stub { url, requests }
    }

    /// The requests to `path` (without query) so far.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.split('?').next() == Some(path))
            .cloned()
            .collect()
    }
}

fn read(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut length = 0;
    let mut gzip = false;
    let mut token = None;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "content-encoding" => gzip = value.trim() == "gzip",
            "authorization" => {
                token = value.trim().strip_prefix("Bearer ").map(str::to_owned);
            }
            _ => {}
        }
    }
    let mut bytes = vec![0; length];
    reader.read_exact(&mut bytes).ok()?;
    if gzip {
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut inflated)
            .ok()?;
        bytes = inflated;
    }
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Some(Request { path, token, body })
}
