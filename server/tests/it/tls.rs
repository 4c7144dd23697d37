//! PostgreSQL over TLS: a private cluster of this machine's PostgreSQL on a free port,
//! with `ssl = on`, a certificate signed by a test certificate authority, and a
//! `pg_hba.conf` that accepts only `hostssl`. The real `passerelle-server` serves on it
//! with `sslmode=require&sslrootcert=ca.pem`; a plain URL is refused by the database, and
//! a URL trusting another authority is refused by the server, with the cause named.
//!
//! PostgreSQL refuses to run as root: when the tests run as root, the cluster runs as the
//! `postgres` user (`runuser`).

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::json;

use crate::harness::{Database, Server, new_id, state};

/// The folder of PostgreSQL's server programs, if this machine has them.
fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL program, run as `postgres` when the tests run as root.
fn pg(bin: &Path, program: &str) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(bin.join(program));
        command
    } else {
        Command::new(bin.join(program))
    }
}

fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Gives `path` to the cluster's user (when the tests run as root).
fn give(path: &Path) {
    if running_as_root() {
        let mut chown = Command::new("chown");
        chown.args(["-R", "postgres:postgres"]).arg(path);
        run(chown, "chown to postgres");
    }
}

/// A certificate authority of the test.
fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A cluster that accepts only TLS connections (`hostssl`), stopped when dropped.
struct TlsCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// The PEM file of the authority that signed the cluster's certificate.
    ca: PathBuf,
}

impl TlsCluster {
    fn start(bin: PathBuf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        give(dir.path());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let data = dir.path().join("data");
        let mut initdb = pg(&bin, "initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb");

        let ca = authority("Passerelle test CA");
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let certificate = params.signed_by(&key, &ca).unwrap();
        std::fs::write(data.join("server.crt"), certificate.pem()).unwrap();
        let key_file = data.join("server.key");
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        std::fs::set_permissions(
            &key_file,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();

        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             fsync = off\nshared_buffers = 16MB\n",
            dir.path().display()
        );
        let mut settings = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(&mut settings, conf.as_bytes()).unwrap();
        // TLS or nothing over the network.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        give(dir.path());

        let cluster = Self {
            bin,
            dir,
            port,
            ca: ca_file,
        };
        let mut ctl = pg(&cluster.bin, "pg_ctl");
        ctl.arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(cluster.dir.path().join("log"))
            .args(["-w", "start"]);
        run(ctl, "pg_ctl start");
        cluster
    }

    /// The URL of its `postgres` database, with `query`.
    fn url(&self, query: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres{query}",
            self.port
        )
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let mut ctl = pg(&self.bin, "pg_ctl");
        ctl.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"]);
        let _ = ctl.output();
    }
}

/// `init` on `url`; answers whether it succeeded and its standard error.
fn init(url: &str) -> (bool, String) {
    let out = Command::new(crate::harness::BIN)
        .args(["init", "--database", url])
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_talks_to_postgresql_over_tls_and_verifies_its_certificate() {
    let Some(bin) = pg_bin() else {
        println!(
            "SKIPPED: PostgreSQL's server programs (initdb, pg_ctl under /usr/lib/postgresql) \
             are not installed"
        );
        return;
    };
    let cluster = TlsCluster::start(bin);
    let ca = cluster.ca.display().to_string();

    // The database refuses a plain connection: pg_hba.conf has only hostssl.
    let (ok, stderr) = init(&cluster.url(""));
    assert!(!ok, "a plain connection must be refused");
    assert!(
        stderr.contains("pg_hba.conf") && stderr.contains("no encryption"),
        "the database's refusal is shown: {stderr}"
    );
    let (ok, stderr) = init(&cluster.url("?sslmode=disable"));
    assert!(!ok, "{stderr}");

    // Another authority: the server refuses the certificate and says so.
    let other = tempfile::tempdir().unwrap();
    let wrong = other.path().join("other-ca.pem");
    std::fs::write(&wrong, authority("Another CA").pem()).unwrap();
    let url = format!(
        "postgres://postgres:n0t-a-secret@127.0.0.1:{}/postgres?sslmode=require&sslrootcert={}",
        cluster.port,
        wrong.display()
    );
    let (ok, stderr) = init(&url);
    println!("the refusal of a certificate of another authority:\n{stderr}");
    assert!(!ok, "a certificate of another authority must be refused");
    for cause in ["TLS", "certificate", "UnknownIssuer", "sslrootcert"] {
        assert!(
            stderr.contains(cause),
            "the cause ({cause}) is named: {stderr}"
        );
    }
    assert!(
        !stderr.contains("n0t-a-secret"),
        "never the password: {stderr}"
    );
    // The system's authorities do not know the test's either.
    let (ok, stderr) = init(&cluster.url("?sslmode=require"));
    assert!(!ok && stderr.contains("UnknownIssuer"), "{stderr}");

    // With the right authority: the real server serves, enrols and stores a push.
    let db = Database::at(cluster.url(&format!("?sslmode=require&sslrootcert={ca}")));
    db.add_user("nord", "marie", "counsellor");
    let server = Server::start(&db, &[]);
    let health = server.client().health().await;
    health.expect_ok();
    let marie = server.client().enrolled("marie").await;
    let id = new_id();
    let answer = marie
        .push(&[state(
            &id,
            "person",
            marie.device(),
            1,
            json!({"notes": "x"}),
        )])
        .await;
    assert_eq!(answer.expect_ok()["results"][0]["status"], json!("created"));
    let (pulled, _) = server
        .client()
        .enrolled("marie")
        .await
        .pull_all(0, 100)
        .await;
    assert_eq!(pulled.len(), 1, "the record is stored and served");
    // verify-full is read as require: the certificate and the name are checked anyway.
    let (ok, stderr) = init(&cluster.url(&format!("?sslmode=verify-full&sslrootcert={ca}")));
    assert!(ok, "{stderr}");
}
