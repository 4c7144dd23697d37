//! PostgreSQL over TLS, when the database URL asks for it.
//!
//! `sslmode=require` (or `verify-ca`, `verify-full`) connects with rustls and always
//! verifies the server's certificate and name: libpq's `require` alone would accept any
//! certificate, which protects from nobody on the path, so this server treats every TLS
//! mode as `verify-full`. The certificate authorities trusted are those of the file
//! `sslrootcert=PATH` (a private CA) when the URL names one, as libpq does, or the
//! system's otherwise (`sslrootcert=system` too). `sslmode=disable`, `prefer`, `allow` or
//! none: a plain connection, as before.
//!
//! tokio-postgres refuses options it does not know, `sslrootcert` among them: it is read
//! here and taken out of the URL before tokio-postgres parses it.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// How to reach the database.
pub(super) struct Target {
    /// The URL as tokio-postgres reads it.
    pub config: tokio_postgres::Config,
    /// The TLS connector, when the URL asks for TLS, and which roots it trusts (for
    /// error messages).
    pub tls: Option<(MakeRustlsConnect, String)>,
}

/// Reads the database URL: what tokio-postgres parses, and the TLS it asks for.
pub(super) fn target(url: &str) -> Result<Target, StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut root_file = None;
    let mut modes = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        // tokio-postgres decodes keys and values: so must this, or `sslm%6Fde=disable`
        // would slip past as another option.
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map(|t| t.into_owned())
                .map_err(|_| tls_error("the database URL's options are not valid UTF-8"))
        };
        match decode(key)?.as_str() {
            "sslrootcert" => root_file = Some(decode(value)?),
            "sslmode" => modes.push(decode(value)?),
            _ => kept.push(pair.to_owned()),
        }
    }
    let asks_tls = |mode: &String| matches!(mode.as_str(), "require" | "verify-ca" | "verify-full");
    let tls = modes.iter().any(asks_tls);
    if tls && !modes.iter().all(asks_tls) {
        return Err(tls_error(
            "the database URL names sslmode more than once, with and without TLS: keep one",
        ));
    }
    match (tls, modes.last()) {
        // tokio-postgres knows `require` only; the certificate is verified anyway.
        (true, _) => kept.push("sslmode=require".to_owned()),
        (false, Some(mode)) => kept.push(format!("sslmode={mode}")),
        (false, None) => {}
    }
    let url = match kept.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", kept.join("&")),
    };
    // tokio-postgres's parse errors name the faulty option, never the password.
    let config: tokio_postgres::Config = url.parse()?;
    // The last guard: whatever the URL's spelling, TLS asked for is TLS required.
    if tls && config.get_ssl_mode() != tokio_postgres::config::SslMode::Require {
        return Err(tls_error(
            "the database URL asks for TLS in a form this server cannot honour",
        ));
    }
    if !tls {
        if root_file.is_some() {
            return Err(tls_error(
                "the database URL names sslrootcert but does not ask for TLS: add sslmode=require",
            ));
        }
        return Ok(Target { config, tls: None });
    }
    let (roots, trusted) = match root_file.as_deref() {
        None | Some("system") => (
            system_roots()?,
            "the system's certificate authorities".into(),
        ),
        Some(path) => (
            file_roots(path)?,
            format!("the certificate authority of sslrootcert {path}"),
        ),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(&format!("could not set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Target {
        config,
        tls: Some((MakeRustlsConnect::new(client), trusted)),
    })
}

fn tls_error(message: &str) -> StoreError {
    StoreError::File(format!("PostgreSQL over TLS: {message}"))
}

/// The certificates of a PEM file (`sslrootcert`).
fn file_roots(path: &str) -> Result<RootCertStore, StoreError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| tls_error(&format!("could not read sslrootcert {path}: {e}")))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(tls_error(&format!(
            "sslrootcert {path} holds no usable certificate: give the PEM file of the \
             certificate authority that signed the database server's certificate"
        )));
    }
    Ok(roots)
}

/// The system's certificate authorities.
fn system_roots() -> Result<RootCertStore, StoreError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if roots.is_empty() {
        return Err(tls_error(
            "no certificate authority was found on this system: name the one that signed \
             the database server's certificate with sslrootcert=PATH",
        ));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_asked_for_cannot_be_turned_off_by_another_spelling() {
        for url in [
            "postgres://postgres@127.0.0.1/x?sslmode=require&sslmode=disable",
            "postgres://postgres@127.0.0.1/x?sslmode=verify-full&sslm%6Fde=prefer",
            "postgres://postgres@127.0.0.1/x?sslmode=disable&sslmode=require",
        ] {
            let error = target(url).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("sslmode more than once"), "{url}: {error}");
        }
        let target = target("postgres://postgres@127.0.0.1/x?ssl%6Dode=require&sslrootcert=system");
        // Either TLS with the system's roots, or no roots on this machine: never plain.
        match target {
            Ok(t) => assert!(
                t.tls.is_some(),
                "an encoded sslmode=require must ask for TLS"
            ),
            Err(e) => assert!(e.to_string().contains("certificate authorit"), "{e}"),
        }
    }

    #[test]
    fn plain_urls_stay_plain() {
        for url in [
            "postgres://postgres@127.0.0.1/x",
            "postgres://postgres@127.0.0.1/x?sslmode=disable",
            "postgres://postgres@127.0.0.1/x?sslmode=prefer&application_name=p",
        ] {
            assert!(target(url).unwrap().tls.is_none(), "{url}");
        }
    }

    #[test]
    fn sslrootcert_is_taken_out_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let url = format!(
            "postgres://u:secret@127.0.0.1/x?sslmode=require&sslrootcert={}",
            missing.display()
        );
        let error = target(&url).err().unwrap().to_string();
        assert!(error.contains("could not read sslrootcert"), "{error}");
        assert!(!error.contains("secret"), "never the password: {error}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let url = format!(
            "postgres://u@127.0.0.1/x?sslmode=verify-full&sslrootcert={}",
            empty.display()
        );
        let error = target(&url).err().unwrap().to_string();
        assert!(error.contains("no usable certificate"), "{error}");

        let error = target("postgres://u@127.0.0.1/x?sslrootcert=/ca.pem")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("sslmode=require"), "{error}");
    }
}
