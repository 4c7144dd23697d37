//! The configuration file: what `serve` and the other commands read when they are given
//! `--config FILE` (or `PASSERELLE_CONFIG`), as the Debian package's systemd unit gives
//! `/etc/passerelle/server.toml`. Its keys are the long options' names with `_` for `-`
//! (`database`, `journal`, `listen`, `rate_limit`, `trusted_proxies`, …); an option on
//! the command line or in its environment variable wins over the file, and the file over
//! the defaults. An unknown key, or a value of the wrong type, is refused with the line
//! it is on: a typo must not silently serve with a default.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;

use crate::store::DatabaseUrl;
use crate::{BlobsCommand, Cli, Command, QuotaArg};

/// What the file may set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    database: Option<String>,
    journal: Option<PathBuf>,
    listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    allow_plain_http: Option<bool>,
    rate_limit: Option<f64>,
    blob_rate_limit: Option<f64>,
    blob_quota_mib: Option<u64>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    trusted_proxies: Option<Vec<IpAddr>>,
    max_connections: Option<usize>,
}

impl ConfigFile {
    /// Reads the file at `path`.
    ///
    /// Errors: the file cannot be read, is not TOML, or holds an unknown key or a value
    /// of the wrong type (the message names it and its line).
    pub(crate) fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("the configuration file {} is not valid", path.display()))
    }

    /// Sets in `cli` what the file holds and neither the command line nor the
    /// environment gave (`matches`: what clap read).
    pub(crate) fn apply(self, cli: &mut Cli, matches: &ArgMatches) -> anyhow::Result<()> {
        let database_from_file = self.database.is_some() && unset(matches, "database");
        if let Some(text) = self.database
            && database_from_file
        {
            cli.database = text
                .parse::<DatabaseUrl>()
                .map_err(|e| anyhow::anyhow!("database in the configuration file: {e}"))?;
        }
        // The file's journal goes with the file's database: another database named on the
        // command line (a restore into a test copy) keeps its own, never the service's.
        if self.journal.is_some() && database_from_file && unset(matches, "journal") {
            cli.journal = self.journal;
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            bail!("the configuration file must give both tls_cert and tls_key, or neither");
        }
        match &mut cli.command {
            Command::Serve(args) => {
                let m = matches
                    .subcommand_matches("serve")
                    .context("serve's arguments")?;
                set(m, "listen", &mut args.listen, self.listen);
                if self.tls_cert.is_some() && unset(m, "tls_cert") && unset(m, "tls_key") {
                    args.tls_cert = self.tls_cert;
                    args.tls_key = self.tls_key;
                }
                set(
                    m,
                    "allow_plain_http",
                    &mut args.allow_plain_http,
                    self.allow_plain_http,
                );
                set(m, "rate_limit", &mut args.rate_limit, self.rate_limit);
                set(
                    m,
                    "blob_rate_limit",
                    &mut args.blob_rate_limit,
                    self.blob_rate_limit,
                );
                quota(m, &mut args.blob_quota, self.blob_quota_mib);
                set(
                    m,
                    "header_timeout_secs",
                    &mut args.header_timeout_secs,
                    self.header_timeout_secs,
                );
                set(
                    m,
                    "body_timeout_secs",
                    &mut args.body_timeout_secs,
                    self.body_timeout_secs,
                );
                set(
                    m,
                    "trusted_proxies",
                    &mut args.trusted_proxies,
                    self.trusted_proxies,
                );
                set(
                    m,
                    "max_connections",
                    &mut args.max_connections,
                    self.max_connections,
                );
                if args.header_timeout_secs == 0
                    || args.body_timeout_secs == 0
                    || args.max_connections == 0
                {
                    bail!(
                        "the configuration file's header_timeout_secs, body_timeout_secs and \
                         max_connections must be 1 or more"
                    );
                }
            }
            Command::Blobs {
                command: BlobsCommand::Status { quota: q, .. },
            } => {
                let m = matches
                    .subcommand_matches("blobs")
                    .and_then(|m| m.subcommand_matches("status"))
                    .context("blobs status's arguments")?;
                quota(m, q, self.blob_quota_mib);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether neither the command line nor the environment gave the argument `id`.
fn unset(matches: &ArgMatches, id: &str) -> bool {
    !matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

fn set<T>(matches: &ArgMatches, id: &str, slot: &mut T, value: Option<T>) {
    if let Some(value) = value
        && unset(matches, id)
    {
        *slot = value;
    }
}

fn quota(matches: &ArgMatches, slot: &mut QuotaArg, mib: Option<u64>) {
    set(matches, "mib", &mut slot.mib, mib);
}
