//! Documents (SYNC-PROTOCOL.md §6b): `HEAD`, `PUT` and `GET /v1/blobs/{sha256}`, the
//! quota, what an erasure leaves of a document's bytes (in the SQLite files, in the
//! PostgreSQL tables), backups and restores, stale uploads, the rate limit of their own,
//! and `blobs status`.

use std::path::Path;
use std::time::Duration;

use rand::RngCore;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{Answer, Backend, Client, Database, Server, Setup, new_id, state};
use crate::on_both_backends;

on_both_backends!(
    documents_of_every_size_go_up_in_chunks_and_come_back,
    an_upload_resumes_where_the_server_stopped,
    a_document_with_the_wrong_hash_is_not_kept,
    requests_past_the_limits_or_of_the_wrong_shape_are_refused,
    another_organisations_document_is_not_found_and_names_are_per_organisation,
    an_edited_attachment_leaves_its_old_document_and_a_deleted_one_keeps_it,
    the_chunk_that_would_pass_the_quota_is_refused,
    an_erased_persons_documents_leave_no_byte,
    a_backup_carries_documents_and_a_restore_keeps_erased_ones_out,
    parts_of_uploads_untouched_for_7_days_are_dropped,
    documents_have_a_rate_limit_apart_from_the_sync,
);

const MIB: usize = 1024 * 1024;
const CHUNK: usize = 4 * MIB;

/// `n` random bytes.
fn random(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// The SHA-256 of `bytes`, as the protocol writes it.
fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An attachment of `person` naming the document `digest` of `size` bytes, as a device
/// creates it (one edit of `replica`).
fn attachment(id: &str, person: &str, digest: &str, size: usize, replica: &str) -> Value {
    state(
        id,
        "attachment",
        replica,
        1,
        json!({"person_id": person, "sha256": digest, "title": "Pièce d'identité",
               "size": size, "media_type": "application/pdf", "category": "identity"}),
    )
}

/// Pushes a person and an attachment of theirs naming `bytes`; answers the person's id,
/// the attachment's id and the digest.
async fn named(client: &Client, bytes: &[u8]) -> (String, String, String) {
    let (person, id, digest) = (new_id(), new_id(), sha256(bytes));
    let device = client.device().to_owned();
    client
        .push(&[
            state(
                &person,
                "person",
                &device,
                1,
                json!({"family_name": "Nom", "given_names": "Prénom"}),
            ),
            attachment(&id, &person, &digest, bytes.len(), &device),
        ])
        .await
        .expect_ok();
    (person, id, digest)
}

async fn head(client: &Client, digest: &str) -> Answer {
    Client::send(client.request(Method::HEAD, &format!("/v1/blobs/{digest}"))).await
}

async fn put(client: &Client, digest: &str, offset: usize, length: usize, chunk: &[u8]) -> Answer {
    Client::send(
        client
            .request(Method::PUT, &format!("/v1/blobs/{digest}?offset={offset}"))
            .header("Blob-Length", length.to_string())
            .header("Content-Type", "application/octet-stream")
            .body(chunk.to_vec()),
    )
    .await
}

/// Sends the chunks of `bytes` from `from` up to (not including) chunk `until`, each
/// answered 200 with the bytes held.
async fn upload_chunks(client: &Client, digest: &str, bytes: &[u8], from: usize, until: usize) {
    for (i, chunk) in bytes.chunks(CHUNK).enumerate().take(until).skip(from) {
        let offset = i * CHUNK;
        let answer = put(client, digest, offset, bytes.len(), chunk).await;
        assert_eq!(
            answer.expect_ok()["received"],
            json!(offset + chunk.len()),
            "chunk {i} answers the bytes held"
        );
    }
}

/// Sends every chunk of `bytes`.
async fn upload(client: &Client, digest: &str, bytes: &[u8]) {
    upload_chunks(client, digest, bytes, 0, usize::MAX).await;
}

/// `GET`, with a `Range` header if given: status, headers and the bytes.
async fn get(
    client: &Client,
    digest: &str,
    range: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = client.request(Method::GET, &format!("/v1/blobs/{digest}"));
    if let Some(range) = range {
        request = request.header("Range", range);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// Asserts the status of an answer without a body (`HEAD`).
#[track_caller]
fn assert_status(answer: &Answer, status: u16) {
    assert_eq!(
        answer.status.as_u16(),
        status,
        "expected {status}: {answer:?}"
    );
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("expected the header {name}: {headers:?}"))
        .to_str()
        .unwrap()
}

/// Asserts `HEAD` answers 200 with the document's length.
#[track_caller]
fn assert_whole(answer: &Answer, size: usize) {
    assert_eq!(answer.status, StatusCode::OK, "whole: {answer:?}");
    assert_eq!(header(&answer.headers, "content-length"), size.to_string());
    assert_eq!(header(&answer.headers, "blob-received"), size.to_string());
}

/// `blobs status --org ORG` (with more arguments if given), parsed.
fn blobs_status(db: &Database, org: &str, extra: &[&str]) -> Value {
    let mut args = vec!["blobs", "status", "--org", org];
    args.extend(extra);
    let out = db.cli_ok(&args, "");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("one JSON line, got {out:?}: {e}"))
}

/// A 1 KiB, a 4 MiB + 1 byte and a 20 MiB document go up in chunks; `HEAD` gives their
/// length, `GET` their bytes, a ranged `GET` the slice asked for.
async fn documents_of_every_size_go_up_in_chunks_and_come_back(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let mut total = 0;
    for size in [1024, CHUNK + 1, 20 * MIB] {
        let bytes = random(size);
        let (_, _, digest) = named(&marie, &bytes).await;
        assert_status(&head(&marie, &digest).await, 404);
        upload(&marie, &digest, &bytes).await;
        total += size;
        assert_whole(&head(&marie, &digest).await, size);
        // Another device of the organisation fetches it.
        let (status, headers, got) = get(&claire, &digest, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "content-type"), "application/octet-stream");
        assert_eq!(header(&headers, "content-length"), size.to_string());
        assert!(got == bytes, "GET gives back the {size} bytes sent");
        let (first, last) = (size / 3, size / 3 + size / 4);
        let (status, headers, slice) =
            get(&claire, &digest, Some(&format!("bytes={first}-{last}"))).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            header(&headers, "content-range"),
            format!("bytes {first}-{last}/{size}")
        );
        assert!(slice == bytes[first..=last], "the range gives its slice");
        let (status, _, tail) = get(&claire, &digest, Some(&format!("bytes={last}-"))).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert!(tail == bytes[last..], "an open range goes to the end");
        let (status, headers, _) = get(&claire, &digest, Some(&format!("bytes={size}-"))).await;
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(header(&headers, "content-range"), format!("bytes */{size}"));
        // A chunk of a whole document changes nothing and answers its length.
        let again = put(&marie, &digest, 0, size, &bytes[..size.min(10)]).await;
        assert_eq!(again.expect_ok()["received"], json!(size));
    }
    assert_eq!(
        blobs_status(&setup.db, "nord", &[]),
        json!({"documents": 3, "bytes": total, "uploads_under_way": 0,
               "quota_bytes": 10240u64 * 1024 * 1024}),
        "blobs status counts the three documents, with the default quota"
    );
    assert_eq!(
        blobs_status(&setup.db, "nord", &["--blob-quota-mib", "5"])["quota_bytes"],
        json!(5 * MIB)
    );
}

/// Two chunks of five are sent; `HEAD` says 8 MiB are held; a chunk at another offset is
/// 409 and changes nothing; the upload goes on from 8 MiB and completes.
async fn an_upload_resumes_where_the_server_stopped(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let bytes = random(20 * MIB);
    let (_, _, digest) = named(&marie, &bytes).await;
    upload_chunks(&marie, &digest, &bytes, 0, 2).await;
    let part = head(&marie, &digest).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT, "{part:?}");
    assert_eq!(
        header(&part.headers, "blob-received"),
        (8 * MIB).to_string()
    );
    let (status, _, _) = get(&marie, &digest, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a part is not served");
    for offset in [0, 4 * MIB, 12 * MIB] {
        let wrong = put(
            &marie,
            &digest,
            offset,
            bytes.len(),
            &bytes[offset..offset + CHUNK],
        )
        .await;
        wrong.expect_error(409, "wrong_offset");
        let message = wrong.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&(8 * MIB).to_string()),
            "says what it holds: {message}"
        );
    }
    assert_eq!(
        header(&head(&marie, &digest).await.headers, "blob-received"),
        (8 * MIB).to_string(),
        "a wrong offset changes nothing"
    );
    assert_eq!(
        blobs_status(&setup.db, "nord", &[])["uploads_under_way"],
        json!(1)
    );
    assert_eq!(
        blobs_status(&setup.db, "nord", &[])["bytes"],
        json!(8 * MIB)
    );
    upload_chunks(&marie, &digest, &bytes, 2, usize::MAX).await;
    assert_whole(&head(&marie, &digest).await, bytes.len());
    let (_, _, got) = get(&marie, &digest, None).await;
    assert!(got == bytes, "the resumed upload is the document");
}

/// Bytes that are not the document named: 422 on the last chunk, and nothing is kept.
async fn a_document_with_the_wrong_hash_is_not_kept(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let bytes = random(CHUNK + 1000);
    let (_, _, digest) = named(&marie, &bytes).await;
    let mut other = bytes.clone();
    other[CHUNK + 10] ^= 1;
    put(&marie, &digest, 0, other.len(), &other[..CHUNK])
        .await
        .expect_ok();
    put(&marie, &digest, CHUNK, other.len(), &other[CHUNK..])
        .await
        .expect_error(422, "hash_mismatch");
    assert_status(&head(&marie, &digest).await, 404);
    assert_eq!(
        blobs_status(&setup.db, "nord", &[]),
        json!({"documents": 0, "bytes": 0, "uploads_under_way": 0,
               "quota_bytes": 10240u64 * 1024 * 1024}),
        "nothing of it is kept"
    );
    // Sent again, right, from byte 0.
    upload(&marie, &digest, &bytes).await;
    assert_whole(&head(&marie, &digest).await, bytes.len());
}

/// 413 past 20 MiB or for a chunk past 4 MiB; 400 for what cannot be read; 401 and 400
/// as every call.
async fn requests_past_the_limits_or_of_the_wrong_shape_are_refused(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let bytes = random(CHUNK + 2);
    let (_, _, digest) = named(&marie, &bytes).await;
    let at = |path: String| marie.request(Method::PUT, &path);
    let path = format!("/v1/blobs/{digest}?offset=0");
    put(&marie, &digest, 0, 20 * MIB + 1, &bytes[..10])
        .await
        .expect_error(413, "too_large");
    let large = Client::send(
        at(path.clone())
            .header("Blob-Length", bytes.len().to_string())
            .body(bytes.clone()),
    )
    .await;
    large.expect_error(413, "too_large");
    Client::send(at(path.clone()).body(bytes[..10].to_vec()))
        .await
        .expect_error(400, "bad_request");
    Client::send(at(path.clone()).header("Blob-Length", "many").body(vec![1]))
        .await
        .expect_error(400, "bad_request");
    Client::send(
        at(format!("/v1/blobs/{digest}"))
            .header("Blob-Length", "10")
            .body(vec![1]),
    )
    .await
    .expect_error(400, "bad_request");
    for name in [
        digest.to_uppercase(),
        digest[..63].to_owned(),
        "x".repeat(64),
    ] {
        put(&marie, &name, 0, 10, &[1])
            .await
            .expect_error(400, "bad_request");
        assert_status(&head(&marie, &name).await, 400);
    }
    put(&marie, &digest, 0, 10, &bytes[..11])
        .await
        .expect_error(400, "bad_request");
    put(&marie, &digest, 0, bytes.len(), &bytes[..CHUNK])
        .await
        .expect_ok();
    let other_length = put(&marie, &digest, CHUNK, bytes.len() + 5, &bytes[CHUNK..]).await;
    other_length.expect_error(400, "bad_request");
    let gzip = Client::send(
        at(format!("/v1/blobs/{digest}?offset={CHUNK}"))
            .header("Blob-Length", bytes.len().to_string())
            .header("Content-Encoding", "gzip")
            .body(bytes[CHUNK..].to_vec()),
    )
    .await;
    gzip.expect_error(400, "bad_request");
    let anonymous = Client::new(&setup.server.base);
    assert_status(&head(&anonymous, &digest).await, 401);
    Client::send(marie.request_with_protocol(Method::GET, &format!("/v1/blobs/{digest}"), None))
        .await
        .expect_error(400, "bad_request");
    // None of it changed the upload under way.
    let part = head(&marie, &digest).await;
    assert_eq!(header(&part.headers, "blob-received"), CHUNK.to_string());
    put(&marie, &digest, CHUNK, bytes.len(), &bytes[CHUNK..])
        .await
        .expect_ok();
    assert_whole(&head(&marie, &digest).await, bytes.len());
}

/// Another organisation's document is 404 as a missing one; an organisation uploads the
/// same digest only when one of its attachments names it, as a document of its own; a
/// digest nobody names is 404; a record's erasure (the command line) takes the document
/// of its organisation only.
async fn another_organisations_document_is_not_found_and_names_are_per_organisation(
    backend: Backend,
) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let paul = setup.client().enrolled("paul").await;
    let bytes = random(3000);
    let (_, attachment_id, digest) = named(&marie, &bytes).await;
    upload(&marie, &digest, &bytes).await;
    assert_status(&head(&paul, &digest).await, 404);
    let (status, _, _) = get(&paul, &digest, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let refused = put(&paul, &digest, 0, bytes.len(), &bytes).await;
    refused.expect_error(404, "not_found");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sync"),
        "says to sync the record first: {refused:?}"
    );
    let nobody = random(10);
    put(&marie, &sha256(&nobody), 0, 10, &nobody)
        .await
        .expect_error(404, "not_found");
    // Paul's organisation names the same digest: its own upload.
    named(&paul, &bytes).await;
    assert_status(&head(&paul, &digest).await, 404);
    upload(&paul, &digest, &bytes).await;
    assert_whole(&head(&paul, &digest).await, bytes.len());
    assert_eq!(blobs_status(&setup.db, "sud", &[])["documents"], json!(1));
    // Erasing nord's attachment takes nord's document, not sud's.
    setup
        .db
        .cli_ok(&["record", "erase", "--org", "nord", &attachment_id], "");
    assert_status(&head(&marie, &digest).await, 404);
    assert_whole(&head(&paul, &digest).await, bytes.len());
    let (_, _, got) = get(&paul, &digest, None).await;
    assert!(got == bytes);
}

/// The attachment `id` of `person` as its second edit made it: every field written again,
/// naming `bytes`.
fn edited_state(id: &str, person: &str, bytes: &[u8], device: &str) -> Value {
    let mut edited = attachment(id, person, &sha256(bytes), bytes.len(), device);
    edited["vv"] = json!({device: 2});
    for entries in edited["fields"].as_object_mut().unwrap().values_mut() {
        entries[0]["dot"] = json!([device, 2]);
    }
    edited
}

/// An attachment edited to name another document leaves the old one unnamed: it goes. A
/// deleted attachment still names its document (it may be restored): it stays.
async fn an_edited_attachment_leaves_its_old_document_and_a_deleted_one_keeps_it(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let device = marie.device().to_owned();
    let (old, new) = (random(2000), random(3000));
    let (person, id, old_digest) = named(&marie, &old).await;
    upload(&marie, &old_digest, &old).await;
    marie
        .push(&[edited_state(&id, &person, &new, &device)])
        .await
        .expect_ok();
    assert_status(&head(&marie, &old_digest).await, 404);
    upload(&marie, &sha256(&new), &new).await;
    // Deleted (the whole state, with `_deleted` written over nothing): still named.
    let mut deleted = edited_state(&id, &person, &new, &device);
    deleted["vv"] = json!({&device: 3});
    deleted["fields"]["_deleted"] = json!([{"dot": [&device, 3], "at": "2026-11-03T10:00:00Z",
                                            "value": {"seen": {&device: 2}}}]);
    let answer = marie.push(&[deleted]).await;
    assert_eq!(answer.expect_ok()["results"][0]["status"], json!("merged"));
    assert_whole(&head(&marie, &sha256(&new)).await, new.len());
}

/// With a quota of 1 MiB: the chunk that would pass it is 507, and nothing of it is
/// stored; exactly the quota fits.
async fn the_chunk_that_would_pass_the_quota_is_refused(backend: Backend) {
    let setup = Setup::with_args(backend, &["--blob-quota-mib", "1"]);
    let marie = setup.client().enrolled("marie").await;
    let small = random(1024);
    let (_, _, digest) = named(&marie, &small).await;
    upload(&marie, &digest, &small).await;
    let large = random(CHUNK + 1);
    let (_, _, large_digest) = named(&marie, &large).await;
    let full = put(&marie, &large_digest, 0, large.len(), &large[..CHUNK]).await;
    full.expect_error(507, "quota_full");
    let message = full.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("of 1 MiB") && message.contains("quota"),
        "says how full and what to do: {message}"
    );
    assert_status(&head(&marie, &large_digest).await, 404);
    let rest = random(MIB - 1024);
    let (_, _, rest_digest) = named(&marie, &rest).await;
    let one_more = random(MIB - 1023);
    let (_, _, over_digest) = named(&marie, &one_more).await;
    put(&marie, &over_digest, 0, one_more.len(), &one_more)
        .await
        .expect_error(507, "quota_full");
    upload(&marie, &rest_digest, &rest).await;
    assert_eq!(
        blobs_status(&setup.db, "nord", &["--blob-quota-mib", "1"]),
        json!({"documents": 2, "bytes": MIB, "uploads_under_way": 0, "quota_bytes": MIB}),
        "exactly the quota is held"
    );
}

/// The rows of the blob tables holding `pattern`, on PostgreSQL.
async fn pg_rows_holding(url: &str, pattern: &[u8]) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query_one(
            "SELECT count(*) FROM blob_chunks WHERE position($1::bytea IN data) > 0",
            &[&pattern],
        )
        .await
        .unwrap()
        .get(0)
}

/// Whether the SQLite database's files (the database and its WAL) hold `pattern`.
fn sqlite_files_hold(db: &Database, pattern: &[u8]) -> bool {
    let path = db.url.strip_prefix("sqlite:").unwrap();
    ["", "-wal"].iter().any(|suffix| {
        std::fs::read(format!("{path}{suffix}"))
            .map(|bytes| bytes.windows(pattern.len()).any(|w| w == pattern))
            .unwrap_or(false)
    })
}

/// Whether the database holds `pattern`: in a byte of the SQLite files, or in a row of a
/// blob table of PostgreSQL.
async fn holds(backend: Backend, db: &Database, pattern: &[u8]) -> bool {
    match backend {
        Backend::Sqlite => sqlite_files_hold(db, pattern),
        Backend::Postgres => pg_rows_holding(&db.url, pattern).await > 0,
    }
}

/// A document holding `pattern` many times over (so that some copy lies whole within a
/// page of the SQLite file, whatever the page boundaries): 5 MiB, two chunks.
fn with_pattern(pattern: &[u8]) -> Vec<u8> {
    let mut bytes = random(5 * MIB);
    for at in (0..bytes.len() - pattern.len()).step_by(8192) {
        bytes[at..at + pattern.len()].copy_from_slice(pattern);
    }
    bytes
}

/// A person's erasure takes their attachments' documents: `HEAD` is 404, and no byte of
/// them is left in the SQLite files (after the server's checkpoint) or in a row of
/// PostgreSQL. Another person's document stays.
async fn an_erased_persons_documents_leave_no_byte(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let pattern = random(64);
    let bytes = with_pattern(&pattern);
    let (person, _, digest) = named(&marie, &bytes).await;
    let kept = random(5000);
    let (_, _, kept_digest) = named(&marie, &kept).await;
    upload(&marie, &digest, &bytes).await;
    upload(&marie, &kept_digest, &kept).await;
    assert!(
        holds(backend, &setup.db, &pattern).await,
        "the document's bytes are in the database before the erasure"
    );
    let erased = Client::send(
        claire
            .request(Method::POST, "/v1/persons/erase")
            .json(&json!({"id": person})),
    )
    .await;
    erased.expect_ok();
    assert_status(&head(&marie, &digest).await, 404);
    assert_whole(&head(&marie, &kept_digest).await, kept.len());
    assert!(
        !holds(backend, &setup.db, &pattern).await,
        "no byte of the erased person's document is left"
    );
    assert_eq!(blobs_status(&setup.db, "nord", &[])["documents"], json!(1));
}

/// A backup taken while serving carries documents: restored into an empty database, they
/// come back byte for byte; the journal's erasure of a person that followed the backup
/// keeps their documents out of the restored database, as soon as `restore` is done
/// (before any server's sweep).
async fn a_backup_carries_documents_and_a_restore_keeps_erased_ones_out(backend: Backend) {
    let setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let claire = setup.client().enrolled("claire").await;
    let pattern = random(64);
    let erased_bytes = with_pattern(&pattern);
    let (person, _, erased_digest) = named(&marie, &erased_bytes).await;
    let kept = random(6 * MIB);
    let (_, _, kept_digest) = named(&marie, &kept).await;
    upload(&marie, &erased_digest, &erased_bytes).await;
    upload(&marie, &kept_digest, &kept).await;
    let backup = setup.db.dir.path().join("backup.db");
    setup
        .db
        .cli_ok(&["backup", "--out", backup.to_str().unwrap()], "");
    Client::send(
        claire
            .request(Method::POST, "/v1/persons/erase")
            .json(&json!({"id": person})),
    )
    .await
    .expect_ok();
    for target in [Backend::Sqlite, Backend::Postgres] {
        let restored = Database::new(target);
        let journal = setup.db.journal();
        restored.cli_ok(
            &[
                "restore",
                "--from",
                backup.to_str().unwrap(),
                "--journal",
                journal.to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(
            blobs_status(&restored, "nord", &[]),
            json!({"documents": 1, "bytes": kept.len(), "uploads_under_way": 0,
                   "quota_bytes": 10_240 * MIB}),
            "{target:?}: the journal's erasure took the document as the restore applied it"
        );
        assert!(
            !holds(target, &restored, &pattern).await,
            "{target:?}: no byte of the erased person's document is left after the restore"
        );
        let server = Server::start(&restored, &["--journal", journal.to_str().unwrap()]);
        let device = marie.on(&server);
        let (status, _, got) = get(&device, &kept_digest, None).await;
        assert_eq!(status, StatusCode::OK, "{target:?}");
        assert!(
            got == kept,
            "{target:?}: the restored document is byte for byte"
        );
        assert_status(&head(&device, &erased_digest).await, 404);
        assert!(
            !holds(target, &restored, &pattern).await,
            "{target:?}: the erased person's document is not brought back"
        );
    }
}

/// Sets when the organisation's parts of uploads were last touched, in the database.
async fn touch_uploads(db: &Database, at: i64) {
    match db.url.strip_prefix("sqlite:") {
        Some(path) => {
            let conn = rusqlite::Connection::open(Path::new(path)).unwrap();
            conn.execute("UPDATE blobs SET touched_at = ?1 WHERE whole = 0", [at])
                .unwrap();
        }
        None => {
            let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .execute("UPDATE blobs SET touched_at = $1 WHERE NOT whole", &[&at])
                .await
                .unwrap();
        }
    }
}

/// A part of an upload untouched for 7 days is dropped when the server starts; a recent
/// one and a whole document stay.
async fn parts_of_uploads_untouched_for_7_days_are_dropped(backend: Backend) {
    let mut setup = Setup::new(backend);
    let marie = setup.client().enrolled("marie").await;
    let (stale, recent, whole) = (random(CHUNK + 10), random(CHUNK + 20), random(100));
    let (_, _, stale_digest) = named(&marie, &stale).await;
    let (_, _, recent_digest) = named(&marie, &recent).await;
    let (_, _, whole_digest) = named(&marie, &whole).await;
    upload_chunks(&marie, &stale_digest, &stale, 0, 1).await;
    upload(&marie, &whole_digest, &whole).await;
    setup.server.stop();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    touch_uploads(&setup.db, now - 8 * 86_400).await;
    setup.server = Server::start(&setup.db, &[]);
    let marie = marie.on(&setup.server);
    upload_chunks(&marie, &recent_digest, &recent, 0, 1).await;
    setup.server.stop();
    touch_uploads(&setup.db, now - 6 * 86_400).await;
    // The stale part is dropped at this start; the one 6 days old is not.
    setup.server = Server::start(&setup.db, &[]);
    let marie = marie.on(&setup.server);
    assert_status(&head(&marie, &stale_digest).await, 404);
    let part = head(&marie, &recent_digest).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT, "{part:?}");
    assert_whole(&head(&marie, &whole_digest).await, whole.len());
    // The stale upload starts again from 0.
    upload(&marie, &stale_digest, &stale).await;
    assert_whole(&head(&marie, &stale_digest).await, stale.len());
}

/// Requests until one is refused 429 (at most 100); answers whether one was.
async fn flood(mut send: impl AsyncFnMut() -> Answer) -> bool {
    for _ in 0..100 {
        let answer = send().await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            if !answer.body.is_null() {
                // A HEAD answer has no body.
                answer.expect_error(429, "slow_down");
            }
            assert!(answer.headers.contains_key("retry-after"), "{answer:?}");
            return true;
        }
    }
    false
}

/// The documents' rate limit is a bucket apart: a device that used it up still syncs,
/// and one that used up its sync limit still sends documents.
async fn documents_have_a_rate_limit_apart_from_the_sync(backend: Backend) {
    let setup = Setup::with_args(backend, &["--rate-limit", "2", "--blob-rate-limit", "2"]);
    let marie = setup.client().enrolled("marie").await;
    let bytes = random(100);
    let (person, _, digest) = named(&marie, &bytes).await;
    assert!(
        flood(async || head(&marie, &digest).await).await,
        "a flood of documents' requests is refused in the end"
    );
    marie.pull(0, None).await.expect_ok();
    let device = marie.device().to_owned();
    marie
        .push(&[state(
            &new_id(),
            "step",
            &device,
            1,
            json!({"person_id": person}),
        )])
        .await
        .expect_ok();
    // Both buckets full again (bursts of 6, 2 a second).
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        flood(async || marie.pull(0, None).await).await,
        "a flood of pulls is refused in the end"
    );
    let answer = put(&marie, &digest, 0, bytes.len(), &bytes).await;
    answer.expect_ok();
    assert_whole(&head(&marie, &digest).await, bytes.len());
    let (status, _, got) = get(&marie, &digest, None).await;
    assert_eq!((status, got), (StatusCode::OK, bytes));
}
