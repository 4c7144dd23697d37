//! `serve`: binds, prints the address, serves until SIGTERM or Ctrl-C, then lets the
//! requests in flight finish (up to [`SHUTDOWN_GRACE`]) before it exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use tracing::{info, warn};

use crate::api::{App, PASSWORD_CHECKS, SHUTDOWN_GRACE, router};
use crate::rate::{ENROL_BURST, ENROL_RATE, RateLimiter};
use crate::store::Store;

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
}

/// Serves until a shutdown signal.
pub async fn serve<S: Store>(store: S, options: ServeOptions) -> anyhow::Result<()> {
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

    let app = Arc::new(App {
        store,
        limiter: RateLimiter::new(options.rate_limit),
        enrol_limiter: RateLimiter::with_burst(ENROL_RATE, ENROL_BURST),
        password_checks: tokio::sync::Semaphore::new(PASSWORD_CHECKS),
    });
    let service = router(app).into_make_service();
    let handle: Handle<SocketAddr> = Handle::new();
    tokio::spawn(shutdown_on_signal(handle.clone()));
    match tls {
        Some(config) => {
            axum_server::from_tcp_rustls(listener, config)
                .context("could not serve on the listener")?
                .handle(handle)
                .serve(service)
                .await
        }
        None => {
            axum_server::from_tcp(listener)
                .context("could not serve on the listener")?
                .handle(handle)
                .serve(service)
                .await
        }
    }
    .context("the server stopped on an error")?;
    info!("stopped");
    Ok(())
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
