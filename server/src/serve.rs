//! `serve`: binds, prints the address, serves until SIGTERM or Ctrl-C, then lets the
//! requests in flight finish (up to [`SHUTDOWN_GRACE`]) before it exits.
//!
//! Connections are bounded (§6): HTTP/1.1 only, so that every connection is under
//! hyper's header timeout from its first byte (the HTTP/2 detection of hyper's automatic
//! mode reads without a timeout); a request's headers must arrive within the header
//! timeout (an idle kept-alive connection is closed after it too), its body within the
//! body timeout (checked where the body is read, in `api`), and at most
//! `max_connections` connections are held ([`ConnectionCap`]). TLS handshakes have
//! axum-server's own timeout (10 s).
//!
//! Documents (§6b) are swept on a task of their own, at start and every hour.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum_server::Handle;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use tracing::{info, warn};

use crate::api::{App, SHUTDOWN_GRACE, router};
use crate::connections::{ConnectionCap, open_files_limit};
use crate::journal::Journal;
use crate::store::Store;

/// By default, how long a client has to send a request's headers (§6: 30 seconds).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to bind.
    pub listen: SocketAddr,
    /// PEM certificate chain, for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key, for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback (behind a TLS reverse proxy).
    pub allow_plain_http: bool,
    /// Requests a device may make per second, sustained.
    pub rate_limit: f64,
    /// Documents' requests a device may make per second, sustained (a limit apart).
    pub blob_rate_limit: f64,
    /// Each organisation's quota for documents, in bytes.
    pub blob_quota: u64,
    /// How long a client has to send a request's headers.
    pub header_timeout: Duration,
    /// How long a client has to send a request's body.
    pub body_timeout: Duration,
    /// The most connections held at once.
    pub max_connections: usize,
    /// The reverse proxies whose `X-Forwarded-For` names the client's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// Serves until a shutdown signal.
pub async fn serve<S: Store>(
    store: S,
    journal: Journal,
    options: ServeOptions,
) -> anyhow::Result<()> {
    let tls = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => {
            // Only the ring provider is compiled in; installing it can only fail when
            // one is installed already, which is as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(
                RustlsConfig::from_pem_file(cert, key)
                    .await
                    .context("could not read the TLS certificate and key (PEM files)")?,
            )
        }
        (None, None) => None,
        _ => bail!("give both --tls-cert and --tls-key, or neither"),
    };
    if tls.is_none() && !options.listen.ip().is_loopback() {
        if !options.allow_plain_http {
            bail!(
                "refusing to serve plain HTTP on {}, which is not loopback: give --tls-cert \
                 and --tls-key, or --allow-plain-http behind a reverse proxy that serves HTTPS",
                options.listen
            );
        }
        warn!(
            listen = %options.listen,
            "serving plain HTTP beyond loopback: only do this behind a reverse proxy that serves HTTPS"
        );
    }
    let listener = std::net::TcpListener::bind(options.listen)
        .with_context(|| format!("could not listen on {}", options.listen))?;
    let address = listener
        .local_addr()
        .context("could not read the bound address")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{address}");
    info!(%address, scheme, server_id = %store.server_id(), "serving");

    if let Some(limit) = open_files_limit()
        && limit < options.max_connections as u64 + 64
    {
        warn!(
            max_connections = options.max_connections,
            open_files_limit = limit,
            "the process may open fewer files than --max-connections needs (one per \
             connection, and some for the database): raise the limit (LimitNOFILE= in a \
             systemd unit, ulimit -n) or lower --max-connections"
        );
    }

    let mut app = App::new(store, journal, options.rate_limit, options.body_timeout);
    app.trusted_proxies = options.trusted_proxies.clone();
    app.blob_limiter = crate::rate::RateLimiter::new(options.blob_rate_limit);
    app.blob_quota = options.blob_quota;
    let app = Arc::new(app);
    // The first sweep before the first request; then hourly.
    sweep_once(&app.store).await;
    tokio::spawn(sweep_blobs(Arc::clone(&app)));
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    let handle: Handle<SocketAddr> = Handle::new();
    tokio::spawn(shutdown_on_signal(handle.clone()));
    let cap = ConnectionCap::new(options.max_connections);
    let server = axum_server::from_tcp(listener).context("could not serve on the listener")?;
    match tls {
        Some(config) => {
            let acceptor = RustlsAcceptor::new(http1_only_alpn(&config)).acceptor(cap);
            let mut server = server.acceptor(acceptor).http1_only().handle(handle);
            server
                .http_builder()
                .http1()
                .header_read_timeout(options.header_timeout);
            server.serve(service).await
        }
        None => {
            let mut server = server.acceptor(cap).http1_only().handle(handle);
            server
                .http_builder()
                .http1()
                .header_read_timeout(options.header_timeout);
            server.serve(service).await
        }
    }
    .context("the server stopped on an error")?;
    info!("stopped");
    Ok(())
}

/// How often documents are swept (see [`Store::sweep_blobs`]): at start, then hourly.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Sweeps documents at start and every [`SWEEP_EVERY`]: parts of uploads untouched for 7
/// days, and documents no attachment names (which every erasure deletes already: this
/// is what any other path left). A failure is a warning; the next sweep tries again.
async fn sweep_blobs<S: Store>(app: Arc<App<S>>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    // The first tick is at once: that sweep ran before serving.
    every.tick().await;
    loop {
        every.tick().await;
        sweep_once(&app.store).await;
    }
}

/// One sweep of documents; a failure is a warning.
async fn sweep_once<S: Store>(store: &S) {
    let stale_before = crate::store::unix_now() - crate::store::blobs::STALE_UPLOAD_SECONDS;
    match store.sweep_blobs(stale_before).await {
        Ok(swept) if swept.stale + swept.unnamed > 0 => {
            info!(
                stale_uploads = swept.stale,
                unnamed_documents = swept.unnamed,
                "documents swept"
            );
        }
        Ok(_) => {}
        Err(error) => warn!(%error, "documents could not be swept: the next sweep will"),
    }
}

/// The same TLS configuration, offering HTTP/1.1 only in ALPN: the server speaks no
/// HTTP/2 (see the module doc), so a client must not be told it may.
fn http1_only_alpn(config: &RustlsConfig) -> RustlsConfig {
    let mut inner = (*config.get_inner()).clone();
    inner.alpn_protocols = vec![b"http/1.1".to_vec()];
    RustlsConfig::from_config(Arc::new(inner))
}

async fn shutdown_on_signal(handle: Handle<SocketAddr>) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    info!("shutting down: finishing the requests in flight");
    handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
}
