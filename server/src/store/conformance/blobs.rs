//! Conformance of documents (`store::blobs`, SYNC-PROTOCOL.md §6b): the quota holds for
//! chunks stored at once, and a document goes with the last attachment that names it.

use serde_json::json;
use sync_protocol::{RecordId, RecordState, ReplicaId};

use super::{PgDatabase, PgStore, SqliteStore, device, new_id};
use crate::store::blobs::{Chunk, Put};
use crate::store::{Role, Store};

conformance!(
    chunks_stored_at_once_never_pass_the_quota,
    a_document_goes_with_the_last_attachment_naming_it,
);

/// An attachment naming `digest`, made by one edit of `replica`.
fn attachment(id: RecordId, digest: &str, replica: ReplicaId) -> RecordState {
    RecordState::from_value(&json!({
        "id": id, "kind": "attachment", "vv": {replica.to_string(): 1},
        "fields": {"sha256": [{"dot": [replica, 1], "at": "2026-11-02T10:14:00Z", "value": digest}]}
    }))
    .unwrap()
}

/// A whole document of `bytes`, as one chunk.
fn whole(bytes: &[u8]) -> Chunk {
    Chunk {
        sha256: crate::store::blobs::hex_digest({
            let mut hasher = crate::store::blobs::hasher();
            sha2::Digest::update(&mut hasher, bytes);
            hasher
        }),
        offset: 0,
        length: bytes.len() as u64,
        data: bytes.to_vec(),
    }
}

/// Eight documents of 600 bytes stored at once within a quota of 1500 bytes: exactly two
/// fit, whichever process or connection stores them.
async fn chunks_stored_at_once_never_pass_the_quota<S: Store + Clone>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let chunks: Vec<Chunk> = (0..8u8).map(|i| whole(&[i; 600])).collect();
    let named: Vec<RecordState> = chunks
        .iter()
        .map(|c| attachment(new_id(), &c.sha256, marie.device))
        .collect();
    store.push(marie, named, None).await.unwrap();
    let puts = chunks.into_iter().map(|chunk| {
        let store = store.clone();
        tokio::spawn(async move { store.put_blob_chunk(marie.org, chunk, 1500).await })
    });
    let mut stored = 0;
    for put in puts.collect::<Vec<_>>() {
        match put.await.unwrap().unwrap() {
            Put::Received(600) => stored += 1,
            Put::QuotaFull { quota: 1500, .. } => {}
            other => panic!("expected stored or quota_full, got {other:?}"),
        }
    }
    assert_eq!(stored, 2, "exactly the documents that fit");
    let usage = store.blob_usage(marie.org).await.unwrap();
    assert_eq!((usage.documents, usage.bytes), (2, 1200));
}

/// Two attachments name one document: erasing the first keeps it, erasing the second
/// deletes it; another organisation's copy stays.
async fn a_document_goes_with_the_last_attachment_naming_it<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let paul = device(&store, "sud", "paul", Role::Counsellor).await;
    let chunk = whole(b"a scanned page");
    let (first, second, theirs) = (new_id(), new_id(), new_id());
    let ours = vec![
        attachment(first, &chunk.sha256, marie.device),
        attachment(second, &chunk.sha256, marie.device),
    ];
    store.push(marie, ours, None).await.unwrap();
    let sud = vec![attachment(theirs, &chunk.sha256, paul.device)];
    store.push(paul, sud, None).await.unwrap();
    for caller in [marie, paul] {
        let put = store.put_blob_chunk(caller.org, chunk.clone(), 1 << 20);
        assert_eq!(put.await.unwrap(), Put::Received(14));
    }
    let held = |org| store.blob(org, &chunk.sha256);
    store.erase(marie.org, first).await.unwrap().unwrap();
    assert!(held(marie.org).await.unwrap().is_some(), "still named");
    store.erase(marie.org, second).await.unwrap().unwrap();
    assert_eq!(held(marie.org).await.unwrap(), None, "named no more");
    assert!(held(paul.org).await.unwrap().is_some(), "sud's own copy");
    let swept = store.sweep_blobs(0).await.unwrap();
    assert_eq!(
        (swept.stale, swept.unnamed),
        (0, 0),
        "nothing left to sweep"
    );
}
