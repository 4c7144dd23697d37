//! passerelle-server: the office side of Passerelle's sync.
//!
//! Devices push the record states they changed and pull the states changed since their
//! checkpoint (`SYNC-PROTOCOL.md` §6); the server merges with `sync-protocol`, keeps one
//! copy of every record per organisation, and numbers every change with the
//! organisation's sequence. Storage is SQLite (one file) or PostgreSQL, behind one trait
//! ([`store::Store`]). The command line is §7's.
//!
//! Invariants: nothing of one organisation is ever visible to another; a pull never
//! skips a change; a refused push stores nothing; tokens and passwords are kept only as
//! hashes; logs hold ids and counts, never personal data.

#![forbid(unsafe_code)]

mod api;
mod auth;
mod config;
mod connections;
mod error;
mod invite;
mod journal;
mod rate;
mod serve;
mod store;

use std::io::BufRead;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use sync_protocol::{RecordId, ReplicaId};

use crate::journal::Journal;
use crate::serve::ServeOptions;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{DatabaseUrl, Role, Store, StoreError};

#[derive(Debug, Parser)]
#[command(
    name = "passerelle-server",
    version,
    about = "The central sync server of Passerelle."
)]
struct Cli {
    /// A configuration file (TOML) whose keys are these options' names with `_` for `-`
    /// (`database`, `listen`, `trusted_proxies`…); the command line and the environment
    /// win over it. The Debian package's is /etc/passerelle/server.toml.
    #[arg(long, global = true, env = "PASSERELLE_CONFIG")]
    config: Option<PathBuf>,
    /// Where the data lives: sqlite:PATH or postgres://USER@HOST/DATABASE.
    #[arg(
        long,
        global = true,
        env = "PASSERELLE_DATABASE",
        default_value = "sqlite:passerelle-server.db"
    )]
    database: DatabaseUrl,
    /// The journal of what a restore must not roll back (SYNC-PROTOCOL.md §6a); keep it
    /// on another disk than the database's backups. Default: beside a SQLite database
    /// (PATH.journal), or passerelle-server.journal for PostgreSQL.
    #[arg(long, global = true, env = "PASSERELLE_JOURNAL")]
    journal: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates the schema and the server id (serve does it by itself on an empty database).
    Init,
    /// Manages users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Invites, lists or revokes devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Erases records.
    Record {
        #[command(subcommand)]
        command: RecordCommand,
    },
    /// Erases persons (a person's right to erasure).
    Person {
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// Prints the persons whose file is past its retention (the organisation's settings,
    /// 24 months after the file is closed unless they say otherwise), one JSON object a
    /// line, {"id", "closed_on", "kept_until"}, the longest past first: erase them, or
    /// record a reason to keep them (keep_until, keep_reason) in the app.
    Retention {
        /// The organisation.
        #[arg(long)]
        org: String,
        /// The day to count from, YYYY-MM-DD (default: today, UTC).
        #[arg(long)]
        today: Option<String>,
    },
    /// Writes a consistent copy of the database (a SQLite file, whatever the database),
    /// while the server serves.
    Backup {
        /// The file to write; it must not exist. Readable by its owner alone: it holds
        /// every record.
        #[arg(long)]
        out: PathBuf,
    },
    /// Puts a backup into an empty database (a new SQLite file, or an empty PostgreSQL
    /// database): a new epoch, every organisation in recovery, then the journal applied.
    Restore {
        /// The backup file, as `backup` wrote it.
        #[arg(long)]
        from: PathBuf,
    },
    /// An organisation's recovery after a restore (SYNC-PROTOCOL.md §6a).
    Recovery {
        #[command(subcommand)]
        command: RecoveryCommand,
    },
    /// Prints an organisation's audit trail, oldest first, one JSON object a line: who
    /// enrolled, invited, revoked, disabled, pushed, erased and restored, and when. No
    /// personal data: users by number, records by an HMAC of their id.
    Audit {
        /// The organisation.
        #[arg(long)]
        org: String,
        /// Only this record's rows (its id, as the app shows it).
        #[arg(long)]
        record: Option<String>,
        /// Only rows at or after this time, RFC 3339 (e.g. 2026-11-30T09:00:00Z).
        #[arg(long)]
        since: Option<String>,
    },
    /// Documents (attachments' bytes) the organisations hold.
    Blobs {
        #[command(subcommand)]
        command: BlobsCommand,
    },
    /// Serves the sync API.
    Serve(ServeArgs),
}

#[derive(Debug, Subcommand)]
enum BlobsCommand {
    /// Prints, as one JSON object, how many whole documents the organisation holds, the
    /// bytes counted against its quota (whole documents and parts of uploads under way),
    /// how many uploads are under way, and the quota: {"documents", "bytes",
    /// "uploads_under_way", "quota_bytes"}.
    Status {
        /// The organisation.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        quota: QuotaArg,
    },
}

/// Each organisation's quota for documents.
#[derive(Debug, Clone, Copy, clap::Args)]
struct QuotaArg {
    /// Each organisation's storage for documents, in MiB: whole documents and parts of
    /// uploads under way; a chunk that would pass it is refused (507 quota_full).
    #[arg(long = "blob-quota-mib", env = "PASSERELLE_BLOB_QUOTA_MIB",
          default_value_t = store::blobs::DEFAULT_QUOTA_MIB)]
    mib: u64,
}

impl QuotaArg {
    /// The quota in bytes.
    fn bytes(self) -> u64 {
        self.mib.saturating_mul(1024 * 1024)
    }
}

#[derive(Debug, Subcommand)]
enum RecoveryCommand {
    /// Prints, as one JSON object, whether the organisation is in recovery, what is held
    /// and whose sync it waits on, the devices accepted, and what was discarded.
    Status {
        /// The organisation.
        #[arg(long)]
        org: String,
    },
    /// Releases what waits on a device that will never sync again (or, without --device,
    /// everything waiting); altered or dropped entries are still refused.
    Accept {
        /// The organisation.
        #[arg(long)]
        org: String,
        /// The device that will never come back (see recovery status and device list).
        #[arg(long)]
        device: Option<String>,
    },
    /// Ends recovery: what still waits is discarded, and listed.
    End {
        /// The organisation.
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Adds a user; the password is one line of standard input.
    Add {
        /// The organisation (created if new).
        #[arg(long)]
        org: String,
        /// The username, unique across the server.
        #[arg(long)]
        username: String,
        /// The user's role.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Disables a user: their devices are refused (they lock and keep their data) and
    /// they cannot enrol, until `user enable`.
    Disable {
        /// The username.
        #[arg(long)]
        username: String,
    },
    /// Enables a disabled user again: their devices sync, and they may enrol.
    Enable {
        /// The username.
        #[arg(long)]
        username: String,
    },
    /// Changes a user's password (one line of standard input). Devices already enrolled
    /// keep working; enrolling again takes the new password.
    Password {
        /// The username.
        #[arg(long)]
        username: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Counsellor,
    Coordinator,
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Issues a one-time enrolment code for a user: printed alone on the first line, then
    /// its validity, then as a QR code. The user enrols one device with it, with their
    /// password.
    Invite {
        /// The user's organisation.
        #[arg(long)]
        org: String,
        /// The user.
        #[arg(long)]
        username: String,
        /// How long the code serves: a whole number of s, m, h or d, at most 7d.
        #[arg(long, default_value = invite::DEFAULT_VALIDITY)]
        valid: String,
    },
    /// Prints the devices, one JSON object a line.
    List {
        /// Only this organisation's devices.
        #[arg(long)]
        org: Option<String>,
    },
    /// Revokes a device: its next request is refused (401 device_revoked), and its id cannot
    /// be enrolled again.
    Revoke {
        /// The device's id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum RecordCommand {
    /// Erases a record (a person's right to erasure): the same as POST /v1/erase.
    Erase {
        /// The record's organisation.
        #[arg(long)]
        org: String,
        /// The record's id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum PersonCommand {
    /// Erases a person and every record about them alone, takes them out of the records
    /// they share, and prints what went and what to read again, as one JSON object: the
    /// same as POST /v1/persons/erase (not capped).
    Erase {
        /// The person's organisation.
        #[arg(long)]
        org: String,
        /// The person record's id.
        id: String,
        /// Only print what would go: nothing is erased.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// PEM certificate chain: serve HTTPS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP beyond loopback, behind a reverse proxy that serves HTTPS.
    #[arg(long)]
    allow_plain_http: bool,
    /// Requests a device may make per second, sustained (bursts of three seconds' worth).
    #[arg(long, default_value_t = rate::DEFAULT_RATE)]
    rate_limit: f64,
    /// Documents' requests (HEAD, PUT, GET /v1/blobs) a device may make per second,
    /// sustained (bursts of three seconds' worth): a limit apart from --rate-limit.
    #[arg(long, default_value_t = rate::DEFAULT_RATE)]
    blob_rate_limit: f64,
    #[command(flatten)]
    blob_quota: QuotaArg,
    /// Seconds a client has to send a request's headers before it is disconnected (an
    /// idle kept-alive connection is closed after as long).
    #[arg(long, default_value_t = serve::DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_secs: u64,
    /// Seconds a client has to send a request's body before it is disconnected.
    #[arg(long, default_value_t = api::DEFAULT_BODY_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_secs: u64,
    /// A reverse proxy whose X-Forwarded-For header names the client's address (for the
    /// limits on failed enrolments); repeat for each proxy. From any other peer the header
    /// is ignored.
    #[arg(
        long = "trusted-proxy",
        value_name = "ADDR",
        env = "PASSERELLE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// The most connections held at once; more are closed as they arrive. Each takes an
    /// open file: keep the process's limit (ulimit -n, LimitNOFILE=) above it.
    #[arg(long, default_value_t = connections::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
}

fn main() -> anyhow::Result<()> {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(path) = cli.config.clone() {
        config::ConfigFile::read(&path)?.apply(&mut cli, &matches)?;
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tokio_postgres=warn")),
        )
        .init();
    let journal_path = cli
        .journal
        .clone()
        .unwrap_or_else(|| journal::default_path(&cli.database));
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    runtime.block_on(async {
        match cli.database.clone() {
            DatabaseUrl::Sqlite(path) => {
                let store = SqliteStore::open(&path).await.with_context(|| {
                    format!("could not open the SQLite database {}", path.display())
                })?;
                run(store, journal_path, cli.command).await
            }
            DatabaseUrl::Postgres(url) => {
                let store = PgStore::connect(&url)
                    .await
                    .context("could not open the PostgreSQL database")?;
                run(store, journal_path, cli.command).await
            }
        }
    })
}

/// Opens the journal at `path` with the database's key.
async fn open_journal<S: Store>(store: &S, path: &std::path::Path) -> anyhow::Result<Journal> {
    let key = store
        .journal_key()
        .await
        .context("could not read the journal key")?;
    Journal::open(path, key)
        .with_context(|| format!("could not open the journal {}", path.display()))
}

async fn run<S: Store>(store: S, journal_path: PathBuf, command: Command) -> anyhow::Result<()> {
    let journal_found = journal_path.exists();
    let journal = open_journal(&store, &journal_path).await?;
    match command {
        Command::Init => {
            println!("{}", store.server_id());
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    org,
                    username,
                    role,
                },
        } => add_user(&store, &org, &username, role).await,
        Command::User {
            command: UserCommand::Disable { username },
        } => set_disabled(&store, &journal, &username, true).await,
        Command::User {
            command: UserCommand::Enable { username },
        } => set_disabled(&store, &journal, &username, false).await,
        Command::User {
            command: UserCommand::Password { username },
        } => {
            let hash = read_password_hash().await?;
            if !store
                .set_password(&username, &hash)
                .await
                .context("could not change the password")?
            {
                bail!("there is no user {username:?}");
            }
            Ok(())
        }
        Command::Device {
            command:
                DeviceCommand::Invite {
                    org,
                    username,
                    valid,
                },
        } => invite_device(&store, &org, &username, &valid).await,
        Command::Device {
            command: DeviceCommand::List { org },
        } => {
            let devices = store
                .devices()
                .await
                .context("could not list the devices")?;
            for device in devices
                .into_iter()
                .filter(|d| org.as_deref().is_none_or(|o| o == d.org))
            {
                println!("{}", serde_json::to_string(&device)?);
            }
            Ok(())
        }
        Command::Device {
            command: DeviceCommand::Revoke { id },
        } => {
            let id: ReplicaId = id
                .parse()
                .context("the device id must be a UUID, as device list prints it")?;
            if !store
                .revoke(id)
                .await
                .context("could not revoke the device")?
            {
                bail!("there is no device {id}: see device list");
            }
            journal.append(journal::Entry::Revoked { device: id })?;
            Ok(())
        }
        Command::Record {
            command: RecordCommand::Erase { org, id },
        } => {
            let id: RecordId = id
                .parse()
                .context("the record id must be a UUID written lowercase with hyphens")?;
            let org_id = store
                .org_id(&org)
                .await
                .context("could not read the organisations")?
                .with_context(|| format!("there is no organisation {org:?}"))?;
            let erasure = store
                .erase(org_id, id)
                .await
                .context("could not erase the record")?
                .with_context(|| format!("the organisation {org:?} has no record {id}"))?;
            journal.append_edits(org_id, &erasure.edits)?;
            println!(
                "{}",
                serde_json::json!({ "server_seq": erasure.server_seq })
            );
            Ok(())
        }
        Command::Person {
            command: PersonCommand::Erase { org, id, dry_run },
        } => erase_person(&store, &journal, &org, &id, dry_run).await,
        Command::Retention { org, today } => retention(&store, &org, today.as_deref()).await,
        Command::Recovery { command } => recovery(&store, &journal, command).await,
        Command::Blobs {
            command: BlobsCommand::Status { org, quota },
        } => {
            let usage = store
                .blob_usage(org_named(&store, &org).await?)
                .await
                .context("could not read the organisation's documents")?;
            println!(
                "{}",
                serde_json::json!({
                    "documents": usage.documents,
                    "bytes": usage.bytes,
                    "uploads_under_way": usage.uploads_under_way,
                    "quota_bytes": quota.bytes(),
                })
            );
            Ok(())
        }
        Command::Audit { org, record, since } => {
            audit(&store, &org, record.as_deref(), since.as_deref()).await
        }
        Command::Backup { out } => {
            let copied = store.backup(&out).await.context("the backup failed")?;
            println!("{}", serde_json::to_string(&copied)?);
            Ok(())
        }
        Command::Restore { from } => {
            let copied = store.restore(&from).await.context("the restore failed")?;
            // The journal names users by an HMAC under the database's key, which the
            // restore has just replaced by the backup's: open it again under that key, or
            // no enrolment or disable of the journal would match its user.
            let journal = open_journal(&store, &journal_path).await?;
            let applied = journal
                .replay(&store)
                .await
                .context("could not apply the journal")?;
            println!(
                "{}",
                serde_json::json!({
                    "orgs": copied.orgs,
                    "records": copied.records,
                    "journal": journal_path,
                    "journal_found": journal_found,
                    "journal_applied": applied,
                    "epoch": store.epoch().await?,
                })
            );
            if !journal_found {
                eprintln!(
                    "warning: no journal was found at {}: what happened after the backup \
                     (enrolments, revocations, disables, erasures) was not applied. If the \
                     journal is elsewhere, restore again into an empty database with \
                     --journal FILE.",
                    journal_path.display()
                );
            }
            Ok(())
        }
        Command::Serve(args) => {
            journal
                .replay(&store)
                .await
                .context("could not apply the journal")?;
            serve::serve(
                store,
                journal,
                ServeOptions {
                    listen: args.listen,
                    tls_cert: args.tls_cert,
                    tls_key: args.tls_key,
                    allow_plain_http: args.allow_plain_http,
                    rate_limit: args.rate_limit,
                    blob_rate_limit: args.blob_rate_limit,
                    blob_quota: args.blob_quota.bytes(),
                    header_timeout: std::time::Duration::from_secs(args.header_timeout_secs),
                    body_timeout: std::time::Duration::from_secs(args.body_timeout_secs),
                    max_connections: args.max_connections,
                    trusted_proxies: args.trusted_proxies,
                },
            )
            .await
        }
    }
}

/// The organisation named `org`, or a clear error.
async fn org_named<S: Store>(store: &S, org: &str) -> anyhow::Result<store::OrgId> {
    store
        .org_id(org)
        .await
        .context("could not read the organisations")?
        .with_context(|| format!("there is no organisation {org:?}"))
}

/// `audit --org ORG [--record ID] [--since TIME]`: JSON lines, oldest first, read a page
/// at a time so a long trail never sits in memory whole.
async fn audit<S: Store>(
    store: &S,
    org: &str,
    record: Option<&str>,
    since: Option<&str>,
) -> anyhow::Result<()> {
    use std::io::Write;

    let record: Option<RecordId> = record
        .map(str::parse)
        .transpose()
        .context("--record must be a record id: a UUID written lowercase with hyphens")?;
    let since = since
        .map(|text| {
            sync_protocol::dates::parse_rfc3339(text)
                .map(|t| t.timestamp())
                .with_context(|| {
                    format!(
                        "--since must be a time in RFC 3339, e.g. 2026-11-30T09:00:00Z, not {text:?}"
                    )
                })
        })
        .transpose()?;
    let org = org_named(store, org).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut filter = store::audit::Filter {
        record,
        since,
        after: 0,
    };
    loop {
        let rows = store
            .audit(org, filter.clone())
            .await
            .context("could not read the audit trail")?;
        for row in &rows {
            writeln!(out, "{}", row.to_json())?;
        }
        match rows.last() {
            Some(last) if rows.len() >= store::audit::PAGE_ROWS as usize => filter.after = last.id,
            _ => break,
        }
    }
    out.flush()?;
    Ok(())
}

/// `device invite`: a one-time enrolment code for a user of `org` in service.
async fn invite_device<S: Store>(
    store: &S,
    org: &str,
    username: &str,
    valid: &str,
) -> anyhow::Result<()> {
    let validity = invite::parse_validity(valid).map_err(anyhow::Error::msg)?;
    let login = store
        .login(username)
        .await
        .context("could not read the users")?
        .with_context(|| format!("there is no user {username:?}: see user add"))?;
    if login.org_name != org {
        bail!("the user {username:?} is not of the organisation {org:?}");
    }
    if login.disabled {
        bail!("the user {username:?} is disabled: enable them first (user enable)");
    }
    let code = invite::new_code();
    let canonical = invite::canonical(&code)
        .map_err(|_| anyhow::anyhow!("a new enrolment code could not be read back"))?;
    let created_at = store::unix_now();
    let expires_at = created_at.saturating_add(i64::try_from(validity.as_secs()).unwrap_or(0));
    let qr = invite::qr(&code).context("could not draw the QR code")?;
    store
        .add_code(store::Invite {
            user_id: login.user_id,
            org: login.org,
            code_hash: invite::code_hash(&canonical),
            created_at,
            expires_at,
        })
        .await
        .context("could not keep the enrolment code")?;
    println!("{code}");
    println!(
        "valid until {} ({valid}), for one enrolment of {username}",
        store::rfc3339(expires_at)
    );
    println!("{qr}");
    Ok(())
}

/// `person erase --org ORG ID [--dry-run]`: the answer of `POST /v1/persons/erase`, as
/// JSON.
async fn erase_person<S: Store>(
    store: &S,
    journal: &Journal,
    org: &str,
    id: &str,
    dry_run: bool,
) -> anyhow::Result<()> {
    let id: RecordId = id
        .parse()
        .context("the person's id must be a UUID written lowercase with hyphens")?;
    let org_id = org_named(store, org).await?;
    let done = match store
        .erase_person(org_id, id, dry_run, None)
        .await
        .context("could not erase the person")?
    {
        store::Capped::Done(done) => done,
        store::Capped::NotFound | store::Capped::OverCap(_) => {
            bail!("the organisation {org:?} never had a person with this id: check the id")
        }
    };
    journal.append_edits(org_id, &done.edits)?;
    println!("{}", serde_json::to_string(&done.answer)?);
    Ok(())
}

/// `retention --org ORG [--today DATE]`: one JSON line per person past retention,
/// sorted by the day their file was to be kept until.
async fn retention<S: Store>(store: &S, org: &str, today: Option<&str>) -> anyhow::Result<()> {
    use sync_protocol::organisation::{
        SETTINGS_ID, SETTINGS_KIND, past_retention, retention_months,
    };
    let today = match today {
        Some(text) => sync_protocol::dates::parse_date(text)
            .with_context(|| format!("--today must be a date, YYYY-MM-DD, not {text:?}"))?,
        None => chrono::Utc::now().date_naive(),
    };
    let org_id = org_named(store, org).await?;
    let settings = store
        .records_of_kind(org_id, SETTINGS_KIND)
        .await
        .context("could not read the organisation's settings")?
        .into_iter()
        .find(|s| s.id() == SETTINGS_ID);
    let months = retention_months(settings.as_ref());
    let persons = store
        .records_of_kind(org_id, "person")
        .await
        .context("could not read the persons")?;
    // A file merged into another is kept as long as that one: not listed.
    let held: std::collections::BTreeSet<_> = persons.iter().map(|p| p.id()).collect();
    let survivors = sync_protocol::merges::Survivors::new(
        persons
            .iter()
            .filter_map(|p| sync_protocol::merges::merged_into(p).map(|into| (p.id(), into))),
        |id| held.contains(&id),
    );
    let mut past: Vec<_> = persons
        .iter()
        .filter(|person| !survivors.is_merged(person.id()))
        .filter_map(|person| past_retention(person, months, today).map(|p| (p, person.id())))
        .collect();
    past.sort_by_key(|(p, id)| (p.kept_until, *id));
    let day = sync_protocol::dates::date_text;
    for (p, id) in past {
        println!(
            "{}",
            serde_json::json!({
                "id": id,
                "closed_on": day(p.closed_on),
                "kept_until": day(p.kept_until),
            })
        );
    }
    Ok(())
}

/// `recovery status|accept|end`.
async fn recovery<S: Store>(
    store: &S,
    journal: &Journal,
    command: RecoveryCommand,
) -> anyhow::Result<()> {
    match command {
        RecoveryCommand::Status { org } => {
            let status = store
                .recovery_status(org_named(store, &org).await?)
                .await
                .context("could not read the recovery")?;
            println!("{}", serde_json::to_string(&status)?);
        }
        RecoveryCommand::Accept { org, device } => {
            let device: Option<ReplicaId> = device
                .map(|d| d.parse())
                .transpose()
                .context("the device id must be a UUID, as recovery status prints it")?;
            let org_id = org_named(store, &org).await?;
            if !store.recovery_status(org_id).await?.in_recovery {
                bail!("the organisation {org:?} is not in recovery: nothing waits");
            }
            let (released, edits) = store
                .recovery_accept(org_id, device)
                .await
                .context("could not release the held records")?;
            journal.append_edits(org_id, &edits)?;
            println!("{}", serde_json::json!({ "released": released }));
        }
        RecoveryCommand::End { org } => {
            let discarded = store
                .recovery_end(org_named(store, &org).await?)
                .await
                .context("could not end the recovery")?;
            println!("{}", serde_json::json!({ "discarded": discarded }));
        }
    }
    Ok(())
}

fn check_name(what: &str, text: &str) -> anyhow::Result<()> {
    let length = text.chars().count();
    if !(1..=64).contains(&length) || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("the {what} must be 1 to 64 characters, without spaces");
    }
    Ok(())
}

/// `user disable|enable`.
async fn set_disabled<S: Store>(
    store: &S,
    journal: &Journal,
    username: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    if !store
        .set_disabled(username, disabled)
        .await
        .context("could not change the user")?
    {
        bail!("there is no user {username:?}");
    }
    journal.append(journal::Entry::Disabled {
        user: journal.user(username),
        disabled,
    })?;
    Ok(())
}

async fn add_user<S: Store>(
    store: &S,
    org: &str,
    username: &str,
    role: RoleArg,
) -> anyhow::Result<()> {
    check_name("organisation", org)?;
    check_name("username", username)?;
    let hash = read_password_hash().await?;
    let role = match role {
        RoleArg::Counsellor => Role::Counsellor,
        RoleArg::Coordinator => Role::Coordinator,
    };
    match store.add_user(org, username, &hash, role).await {
        Err(StoreError::UsernameTaken) => bail!("the username {username:?} is already taken"),
        other => other.context("could not add the user"),
    }
}

/// Reads a password (one line of standard input) and hashes it.
async fn read_password_hash() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("could not read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.chars().count() < 8 {
        bail!("the password (one line of standard input) must have at least 8 characters");
    }
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .context("the password hashing task failed")?
        .map_err(|e| anyhow::anyhow!("could not hash the password: {e}"))
}
