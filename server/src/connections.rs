//! The cap on the connections the server holds (§6): slow or half-open clients never
//! starve the others of file descriptors and memory.
//!
//! [`ConnectionCap`] is an axum-server acceptor, the first to see an accepted TCP
//! connection (before TLS). It takes a permit from a semaphore, which the connection's
//! stream ([`Capped`]) holds until the connection is dropped; when none is left, it
//! closes the new connection at once, so a full server costs the client a quick retry
//! rather than a wait in the dark. Connections that hold a permit without using it are
//! closed by the header timeout.

use std::future::{Ready, ready};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::warn;

/// By default, the most connections the server holds at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How often, at most, a full server says so in the log.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Accepts a connection only while fewer than its cap are open.
#[derive(Debug, Clone)]
pub struct ConnectionCap {
    permits: Arc<Semaphore>,
    max: usize,
    refused: Arc<AtomicU64>,
    warned: Arc<Mutex<Option<Instant>>>,
}

impl ConnectionCap {
    /// At most `max` connections at once (at least one).
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
            refused: Arc::new(AtomicU64::new(0)),
            warned: Arc::new(Mutex::new(None)),
        }
    }

    /// Counts a refused connection, and logs the count now and then.
    fn refuse(&self) -> io::Error {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
        if warned.is_none_or(|at| now.duration_since(at) >= WARN_EVERY) {
            *warned = Some(now);
            warn!(
                max_connections = self.max,
                refused_in_all = refused,
                "connection refused: the server holds its maximum of connections \
                 (raise --max-connections if these are real clients)"
            );
        }
        io::Error::other("the server holds its maximum of connections")
    }
}

impl<I, S> Accept<I, S> for ConnectionCap {
    type Stream = Capped<I>;
    type Service = S;
    type Future = Ready<io::Result<(Capped<I>, S)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        ready(match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Ok((
                Capped {
                    inner: stream,
                    _permit: permit,
                },
                service,
            )),
            // Dropping `stream` closes the connection.
            Err(_) => Err(self.refuse()),
        })
    }
}

/// A connection's stream, holding its permit until the connection is dropped.
#[derive(Debug)]
pub struct Capped<I> {
    inner: I,
    _permit: OwnedSemaphorePermit,
}

impl<I: AsyncRead + Unpin> AsyncRead for Capped<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Capped<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The soft limit of open files of this process, when the system says (Linux).
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permit_is_held_while_the_stream_lives() {
        let cap = ConnectionCap::new(2);
        // Any value stands for the stream: the cap never reads it.
        let accept = |cap: &ConnectionCap| Accept::<(), ()>::accept(cap, (), ()).into_inner();
        let first = accept(&cap).unwrap();
        let second = accept(&cap).unwrap();
        assert!(accept(&cap).is_err(), "a third connection is refused");
        drop(first);
        let third = accept(&cap);
        assert!(third.is_ok(), "a closed connection frees its place");
        drop(second);
        assert_eq!(cap.refused.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn the_open_files_limit_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(open_files_limit().is_some_and(|n| n > 0));
        }
    }
}
