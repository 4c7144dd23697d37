//! A TCP proxy between devices and the server that injects faults: it cuts connections in
//! the middle of a request or of a response, delays them, and replays requests.
//!
//! It runs on its own thread with its own runtime, so plain (blocking) tests can use it.
//! Each accepted connection draws one [`Fault`] from a seeded generator while faults are
//! on; [`FaultProxy::set_faults`] turns them off so the last sync can settle.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards both ways untouched.
    Pass,
    /// Forwards the first `n` bytes of the request, then cuts both sides.
    CutRequest(usize),
    /// Forwards the whole request and the first `n` bytes of the response, then cuts.
    CutResponse(usize),
    /// Waits this long before forwarding anything.
    Delay(Duration),
    /// Forwards as usual and, once the server has started to answer, sends the request
    /// bytes seen so far again on a new upstream connection, dropping that answer: the
    /// server sees the request twice.
    Replay,
}

/// Counts of what the proxy did, to check that a test's faults really happened.
#[derive(Debug, Default)]
pub struct FaultCounts {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections cut during the request.
    pub cut_requests: AtomicU64,
    /// Connections cut during the response.
    pub cut_responses: AtomicU64,
    /// Connections delayed.
    pub delays: AtomicU64,
    /// Connections whose requests were replayed.
    pub replays: AtomicU64,
    /// Bytes from devices to the server (replays not counted).
    pub bytes_up: AtomicU64,
    /// Bytes from the server to devices.
    pub bytes_down: AtomicU64,
    /// HTTP/1.1 request lines seen going up (a line split across two reads is missed).
    pub requests: AtomicU64,
}

impl FaultCounts {
    /// (requests, bytes up, bytes down) so far.
    pub fn traffic(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.bytes_up.load(Ordering::Relaxed),
            self.bytes_down.load(Ordering::Relaxed),
        )
    }
}

/// A running proxy. Dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    /// Where devices connect.
    pub addr: SocketAddr,
    /// What it did so far.
    pub counts: Arc<FaultCounts>,
    faults_on: Arc<AtomicBool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How the proxy picks each connection's fault.
#[derive(Debug)]
enum Plan {
    Random(Rng),
    Fixed(Fault),
    Shaped(Link),
}

/// A slow link: each direction carries `bytes_per_second` and delays every byte by
/// `one_way_delay` (a round trip costs twice that), like a poor mobile connection.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// The delay of each direction.
    pub one_way_delay: Duration,
    /// The rate of each direction.
    pub bytes_per_second: f64,
}

/// A small deterministic generator (SplitMix64), so a failing run can be replayed from
/// its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

impl Fault {
    /// Draws a fault: about half the connections pass, the rest share the faults.
    pub fn draw(rng: &mut Rng) -> Fault {
        match rng.below(10) {
            0..=4 => Fault::Pass,
            5 => Fault::CutRequest(rng.below(2048) as usize),
            6 | 7 => Fault::CutResponse(rng.below(2048) as usize),
            8 => Fault::Delay(Duration::from_millis(rng.below(150))),
            _ => Fault::Replay,
        }
    }
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` in front of `upstream`, drawing faults from `seed`.
    pub fn start(upstream: SocketAddr, seed: u64) -> std::io::Result<FaultProxy> {
        Self::start_with(upstream, Plan::Random(Rng::new(seed)))
    }

    /// Starts a proxy that does the same `fault` to every connection while faults are on.
    pub fn start_fixed(upstream: SocketAddr, fault: Fault) -> std::io::Result<FaultProxy> {
        Self::start_with(upstream, Plan::Fixed(fault))
    }

    /// Starts a proxy that carries every connection over `link`, with no fault.
    pub fn start_shaped(upstream: SocketAddr, link: Link) -> std::io::Result<FaultProxy> {
        Self::start_with(upstream, Plan::Shaped(link))
    }

    fn start_with(upstream: SocketAddr, plan: Plan) -> std::io::Result<FaultProxy> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let counts = Arc::new(FaultCounts::default());
        let faults_on = Arc::new(AtomicBool::new(true));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let plan = Arc::new(Mutex::new(plan));
        let (c, f) = (counts.clone(), faults_on.clone());
        let thread = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(std_listener) else {
                    return;
                };
                tokio::select! {
                    _ = accept_loop(listener, upstream, plan, c, f) => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
        });
        Ok(FaultProxy {
            addr,
            counts,
            faults_on,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The base URL devices use: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Turns faults on or off; off, every connection passes untouched.
    pub fn set_faults(&self, on: bool) {
        self.faults_on.store(on, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    plan: Arc<Mutex<Plan>>,
    counts: Arc<FaultCounts>,
    faults_on: Arc<AtomicBool>,
) {
    while let Ok((client, _)) = listener.accept().await {
        counts.connections.fetch_add(1, Ordering::Relaxed);
        let mut link = None;
        let fault = if faults_on.load(Ordering::SeqCst) {
            match plan.lock().as_deref_mut() {
                Ok(Plan::Random(rng)) => Fault::draw(rng),
                Ok(Plan::Fixed(fault)) => *fault,
                Ok(Plan::Shaped(shape)) => {
                    link = Some(*shape);
                    Fault::Pass
                }
                Err(_) => Fault::Pass,
            }
        } else {
            Fault::Pass
        };
        let counts = counts.clone();
        tokio::spawn(async move {
            let _ = match link {
                Some(link) => shaped_relay(client, upstream, link, &counts).await,
                None => relay(client, upstream, fault, &counts).await,
            };
        });
    }
}

/// Copies `from` to `to`, at most `limit` bytes when given; answers the bytes copied.
/// When `keep` is set, keeps the bytes; when `first` is set, notifies it once bytes pass.
async fn copy(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    limit: Option<usize>,
    keep: Option<Arc<Mutex<Vec<u8>>>>,
    first: Option<Arc<tokio::sync::Notify>>,
    counts: (&AtomicU64, Option<&AtomicU64>),
) -> std::io::Result<usize> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let room = limit.map_or(buf.len(), |l| (l - total).min(buf.len()));
        if room == 0 {
            return Ok(total);
        }
        let n = from.read(&mut buf[..room]).await?;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(total);
        }
        to.write_all(&buf[..n]).await?;
        counts.0.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(requests) = counts.1 {
            let lines = buf[..n]
                .windows(11)
                .filter(|w| w == b" HTTP/1.1\r\n")
                .count();
            requests.fetch_add(lines as u64, Ordering::Relaxed);
        }
        if let Some(keep) = &keep
            && let Ok(mut kept) = keep.lock()
        {
            kept.extend_from_slice(&buf[..n]);
        }
        if total == 0
            && let Some(first) = &first
        {
            first.notify_one();
        }
        total += n;
    }
}

/// Carries one direction over `link`: bytes leave after their transmission time at the
/// link's rate, queued behind the bytes before them, and arrive `one_way_delay` later.
async fn shaped_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: Link,
    counts: (&AtomicU64, Option<&AtomicU64>),
) -> std::io::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let read = async move {
        let mut busy_until = tokio::time::Instant::now();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            let start = busy_until.max(tokio::time::Instant::now());
            busy_until = start + Duration::from_secs_f64(n as f64 / link.bytes_per_second);
            let _ = tx.send((busy_until + link.one_way_delay, buf[..n].to_vec()));
        }
    };
    let write = async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            to.write_all(&bytes).await?;
            counts.0.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            if let Some(requests) = counts.1 {
                let lines = bytes.windows(11).filter(|w| w == b" HTTP/1.1\r\n").count();
                requests.fetch_add(lines as u64, Ordering::Relaxed);
            }
        }
        to.shutdown().await
    };
    let (read, write) = tokio::join!(read, write);
    read.and(write)
}

async fn shaped_relay(
    client: TcpStream,
    upstream: SocketAddr,
    link: Link,
    counts: &FaultCounts,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = shaped_copy(
        client_read,
        server_write,
        link,
        (&counts.bytes_up, Some(&counts.requests)),
    );
    let down = shaped_copy(server_read, client_write, link, (&counts.bytes_down, None));
    let (up, down) = tokio::join!(up, down);
    up.and(down)
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    fault: Fault,
    counts: &FaultCounts,
) -> std::io::Result<()> {
    if let Fault::Delay(pause) = fault {
        counts.delays.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(pause).await;
    }
    let server = TcpStream::connect(upstream).await?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let request_limit = match fault {
        Fault::CutRequest(n) => Some(n),
        _ => None,
    };
    let response_limit = match fault {
        Fault::CutResponse(n) => Some(n),
        _ => None,
    };
    let kept = (fault == Fault::Replay).then(|| Arc::new(Mutex::new(Vec::new())));
    let answered = (fault == Fault::Replay).then(|| Arc::new(tokio::sync::Notify::new()));
    if let (Some(kept), Some(answered)) = (kept.clone(), answered.clone()) {
        counts.replays.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            answered.notified().await;
            let bytes = kept.lock().map(|k| k.clone()).unwrap_or_default();
            if let Ok(mut again) = TcpStream::connect(upstream).await {
                let _ = again.write_all(&bytes).await;
                let mut sink = Vec::new();
                let wait = again.read_to_end(&mut sink);
                let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
            }
        });
    }
    let up_counts = (&counts.bytes_up, Some(&counts.requests));
    let up = copy(
        &mut client_read,
        &mut server_write,
        request_limit,
        kept,
        None,
        up_counts,
    );
    let down_counts = (&counts.bytes_down, None);
    let down = copy(
        &mut server_read,
        &mut client_write,
        response_limit,
        None,
        answered,
        down_counts,
    );
    // Whichever direction hits its limit (or ends) first ends the connection.
    let cut = tokio::select! {
        up = up => matches!(fault, Fault::CutRequest(_)) && up.is_ok_and(|n| Some(n) == request_limit),
        down = down => matches!(fault, Fault::CutResponse(_)) && down.is_ok_and(|n| Some(n) == response_limit),
    };
    if cut {
        match fault {
            Fault::CutRequest(_) => counts.cut_requests.fetch_add(1, Ordering::Relaxed),
            _ => counts.cut_responses.fetch_add(1, Ordering::Relaxed),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::mpsc;

    use super::*;

    /// An upstream that reads one request (up to a blank line), records it and answers
    /// 1,000 bytes, then closes.
    fn upstream() -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut seen = Vec::new();
                let mut buf = [0u8; 256];
                while !seen.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let complete = seen.ends_with(b"\r\n\r\n");
                let _ = tx.send(seen);
                if complete {
                    let _ = stream.write_all(&[b'x'; 1000]);
                }
            }
        });
        (addr, rx)
    }

    fn exchange(proxy: &FaultProxy) -> Vec<u8> {
        let mut stream = std::net::TcpStream::connect(proxy.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        answer
    }

    #[test]
    fn passes_untouched() {
        let (addr, rx) = upstream();
        let proxy = FaultProxy::start_fixed(addr, Fault::Pass).unwrap();
        assert_eq!(exchange(&proxy).len(), 1000, "expected the whole answer");
        assert_eq!(
            proxy.counts.traffic(),
            (1, 18, 1000),
            "one request, its bytes both ways"
        );
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            b"GET / HTTP/1.1\r\n\r\n"
        );
    }

    #[test]
    fn cuts_the_response() {
        let (addr, _rx) = upstream();
        let proxy = FaultProxy::start_fixed(addr, Fault::CutResponse(100)).unwrap();
        assert_eq!(
            exchange(&proxy).len(),
            100,
            "expected the answer cut after 100 bytes"
        );
        assert_eq!(proxy.counts.cut_responses.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn cuts_the_request() {
        let (addr, rx) = upstream();
        let proxy = FaultProxy::start_fixed(addr, Fault::CutRequest(5)).unwrap();
        assert!(exchange(&proxy).is_empty(), "no answer to a cut request");
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            b"GET /",
            "the server must see 5 bytes"
        );
    }

    #[test]
    fn replays_the_request() {
        let (addr, rx) = upstream();
        let proxy = FaultProxy::start_fixed(addr, Fault::Replay).unwrap();
        assert_eq!(exchange(&proxy).len(), 1000);
        for _ in 0..2 {
            let seen = rx
                .recv_timeout(Duration::from_secs(5))
                .expect("the server must see the request twice");
            assert_eq!(seen, b"GET / HTTP/1.1\r\n\r\n");
        }
    }

    #[test]
    fn a_shaped_link_delays_and_limits_the_rate() {
        let (addr, _rx) = upstream();
        let link = Link {
            one_way_delay: Duration::from_millis(100),
            bytes_per_second: 10_000.0,
        };
        let proxy = FaultProxy::start_shaped(addr, link).unwrap();
        let start = std::time::Instant::now();
        assert_eq!(exchange(&proxy).len(), 1000);
        let took = start.elapsed();
        // Two one-way delays, and 1,000 bytes at 10 kB/s (0.1 s) plus the request.
        assert!(
            took >= Duration::from_millis(300),
            "expected at least 0.3 s, took {took:?}"
        );
        assert!(
            took < Duration::from_secs(3),
            "expected well under 3 s, took {took:?}"
        );
    }

    #[test]
    fn faults_can_be_turned_off() {
        let (addr, _rx) = upstream();
        let proxy = FaultProxy::start_fixed(addr, Fault::CutResponse(10)).unwrap();
        proxy.set_faults(false);
        assert_eq!(exchange(&proxy).len(), 1000);
    }
}
