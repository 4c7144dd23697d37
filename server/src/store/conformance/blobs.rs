//! Conformance of documents (`store::blobs`, SYNC-PROTOCOL.md §6b): the quota holds for
//! chunks stored at once, a document goes with the last attachment that names it (on an
//! erasure, on arrival, on a release in recovery), and a sweep drops stale parts only.

use serde_json::{Value, json};
use sync_protocol::wire::PushStatus;
use sync_protocol::{RecordId, RecordState, ReplicaId};

use super::{PgDatabase, PgStore, SqliteStore, device, new_id, statuses};
use crate::store::blobs::{Chunk, Put};
use crate::store::{Conversation, Role, Store, unix_now};

conformance!(
    chunks_stored_at_once_never_pass_the_quota,
    a_document_goes_with_the_last_attachment_naming_it,
    an_attachment_erased_on_arrival_takes_its_document,
    a_released_edit_takes_the_document_it_stopped_naming,
);

/// An attachment naming `digest`, made by one edit of `replica`.
fn attachment(id: RecordId, digest: &str, replica: ReplicaId) -> RecordState {
    attachment_at(id, digest, replica, 1, json!({}))
}

/// An attachment naming `digest` with the other `fields` (name to value), every field
/// written by the edit `[replica, n]`.
fn attachment_at(
    id: RecordId,
    digest: &str,
    replica: ReplicaId,
    n: u64,
    fields: Value,
) -> RecordState {
    let entry = |value: &Value| json!([{"dot": [replica, n], "at": "2026-11-02T10:14:00Z", "value": value}]);
    let mut all = serde_json::Map::new();
    all.insert("sha256".into(), entry(&json!(digest)));
    for (name, value) in fields.as_object().unwrap() {
        all.insert(name.clone(), entry(value));
    }
    RecordState::from_value(&json!({
        "id": id, "kind": "attachment", "vv": {replica.to_string(): n}, "fields": all
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
/// deletes it; another organisation's copy stays. A sweep then finds nothing unnamed; it
/// keeps a part of an upload touched since its cutoff and drops one older than it.
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
    let held = async |org, digest: &str| store.blob(org, digest).await.unwrap();
    store.erase(marie.org, first).await.unwrap().unwrap();
    assert!(
        held(marie.org, &chunk.sha256).await.is_some(),
        "still named"
    );
    store.erase(marie.org, second).await.unwrap().unwrap();
    assert_eq!(held(marie.org, &chunk.sha256).await, None, "named no more");
    assert!(
        held(paul.org, &chunk.sha256).await.is_some(),
        "sud's own copy"
    );
    // Half of another document: a part of an upload, touched between the two times.
    let other = whole(b"another scanned page");
    let named = vec![attachment(new_id(), &other.sha256, marie.device)];
    store.push(marie, named, None).await.unwrap();
    let half = Chunk {
        data: other.data[..10].to_vec(),
        ..other.clone()
    };
    let before = unix_now();
    let put = store.put_blob_chunk(marie.org, half, 1 << 20).await;
    assert_eq!(put.unwrap(), Put::Received(10));
    let after = unix_now();
    let swept = store.sweep_blobs(before).await.unwrap();
    assert_eq!(
        (swept.stale, swept.unnamed),
        (0, 0),
        "nothing unnamed, and the part was touched since the cutoff"
    );
    assert!(
        held(marie.org, &other.sha256).await.is_some(),
        "the part stays"
    );
    let swept = store.sweep_blobs(after + 1).await.unwrap();
    assert_eq!(
        (swept.stale, swept.unnamed),
        (1, 0),
        "the part older than the cutoff goes, and only it"
    );
    assert_eq!(held(marie.org, &other.sha256).await, None);
    assert!(
        held(paul.org, &chunk.sha256).await.is_some(),
        "a whole document is never stale"
    );
}

/// An attachment edited to be about an erased person is erased as it arrives: its
/// document goes with it, in the push's transaction.
async fn an_attachment_erased_on_arrival_takes_its_document<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let (erased, kept, id) = (new_id(), new_id(), new_id());
    let person = |id: RecordId| {
        RecordState::from_value(&json!({
            "id": id, "kind": "person", "vv": {marie.device.to_string(): 1},
            "fields": {"family_name": [{"dot": [marie.device, 1], "at": "2026-11-02T10:14:00Z",
                                        "value": "Zqxw"}]}
        }))
        .unwrap()
    };
    let chunk = whole(b"a letter of the town hall");
    let about = |person: RecordId, n| {
        attachment_at(
            id,
            &chunk.sha256,
            marie.device,
            n,
            json!({"person_id": person}),
        )
    };
    let pushed = vec![person(erased), person(kept), about(kept, 1)];
    store.push(marie, pushed, None).await.unwrap();
    let put = store
        .put_blob_chunk(marie.org, chunk.clone(), 1 << 20)
        .await;
    assert_eq!(put.unwrap(), Put::Received(chunk.length));
    store.erase(marie.org, erased).await.unwrap().unwrap();
    assert!(
        store
            .blob(marie.org, &chunk.sha256)
            .await
            .unwrap()
            .is_some(),
        "still named by an attachment about another person"
    );
    let answer = store
        .push(marie, vec![about(erased, 2)], None)
        .await
        .unwrap();
    assert_eq!(statuses(&answer), [PushStatus::Merged]);
    assert!(!answer.edits.is_empty(), "erased on arrival");
    assert_eq!(
        store.blob(marie.org, &chunk.sha256).await.unwrap(),
        None,
        "the document went with its attachment"
    );
}

/// In recovery, another device holds Marie's edit of an attachment, which now names
/// another document: held, the old document stays; released by `recovery accept`, the
/// document it no longer names goes.
async fn a_released_edit_takes_the_document_it_stopped_naming<S: Store>(store: S) {
    let marie = device(&store, "nord", "marie", Role::Counsellor).await;
    let paul = device(&store, "nord", "paul", Role::Counsellor).await;
    let (old, new) = (whole(b"the first scan"), whole(b"the scan again, upright"));
    let id = new_id();
    let named = vec![attachment(id, &old.sha256, marie.device)];
    store.push(marie, named, None).await.unwrap();
    let put = store.put_blob_chunk(marie.org, old.clone(), 1 << 20).await;
    assert_eq!(put.unwrap(), Put::Received(old.length));
    let answer = store.pull_check(paul, 1000, None).await.unwrap();
    assert_eq!(
        answer,
        Conversation::Ahead,
        "the organisation enters recovery"
    );
    let edited = attachment_at(id, &new.sha256, marie.device, 2, json!({}));
    let answer = store.push(paul, vec![edited], None).await.unwrap();
    assert_eq!(statuses(&answer), [PushStatus::Held]);
    assert!(
        store.blob(marie.org, &old.sha256).await.unwrap().is_some(),
        "still named while the edit is held"
    );
    let (released, edits) = store.recovery_accept(marie.org, None).await.unwrap();
    assert_eq!(
        (released, edits.len()),
        (1, 0),
        "released, without a server's edit"
    );
    assert_eq!(
        store.blob(marie.org, &old.sha256).await.unwrap(),
        None,
        "named no more once released"
    );
}
