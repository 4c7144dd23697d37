//! Tables `blobs` and `blob_chunks`: documents (§6b, see [`crate::store::blobs`]).
//!
//! Every write to an organisation's documents first takes a transaction-level advisory
//! lock of its own ([`lock`]), so that the quota is counted and the chunks appended one
//! transaction at a time, by every server process; it is not the organisation's row lock,
//! so uploads never wait on pushes or pulls. A transaction that deletes documents because
//! no attachment names them any more (an erasure, a push, the sweep) holds the
//! organisation's row lock first, then this one: the same order everywhere, and an upload
//! takes only this one.

use std::collections::HashSet;

use deadpool_postgres::GenericClient;

use crate::store::blobs::{
    Blob, Chunk, ChunkPlan, Piece, Put, Read, Usage, hasher, hex_digest, to_sql, to_u64,
};
use crate::store::{OrgId, StoreError};

/// The high half of the advisory lock keys of documents ("blob"); the low half is the
/// organisation's id.
const LOCK_CLASS: i64 = 0x626C_6F62;

/// Takes the organisation's lock of documents until the transaction ends.
pub(super) async fn lock(db: &impl GenericClient, org: OrgId) -> Result<(), StoreError> {
    let key = (LOCK_CLASS << 32) | (org & 0xFFFF_FFFF);
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
        .await?;
    Ok(())
}

/// The document's row, if the organisation has one.
pub(super) async fn get(
    db: &impl GenericClient,
    org: OrgId,
    sha256: &str,
) -> Result<Option<Blob>, StoreError> {
    Ok(db
        .query_opt(
            "SELECT size, received, whole FROM blobs WHERE org_id = $1 AND sha256 = $2",
            &[&org, &sha256],
        )
        .await?
        .map(|r| Blob {
            size: to_u64(r.get(0)),
            received: to_u64(r.get(1)),
            whole: r.get(2),
        }))
}

/// Whether a live attachment of the organisation names the document: an entry of its
/// field `sha256` with that value (the text is looked for first, the JSON read after).
pub(super) async fn named(
    db: &impl GenericClient,
    org: OrgId,
    sha256: &str,
) -> Result<bool, StoreError> {
    Ok(db
        .query_one(
            "SELECT EXISTS (
                 SELECT 1 FROM records r,
                     jsonb_array_elements(r.state::jsonb -> 'fields' -> 'sha256') e
                 WHERE r.org_id = $1 AND r.kind = 'attachment' AND NOT r.erased
                   AND strpos(r.state, $2) > 0 AND e ->> 'value' = $2)",
            &[&org, &sha256],
        )
        .await?
        .get(0))
}

/// Every digest the organisation's live attachments name.
async fn all_named(db: &impl GenericClient, org: OrgId) -> Result<HashSet<String>, StoreError> {
    Ok(db
        .query(
            "SELECT DISTINCT e ->> 'value' FROM records r,
                 jsonb_array_elements(r.state::jsonb -> 'fields' -> 'sha256') e
             WHERE r.org_id = $1 AND r.kind = 'attachment' AND NOT r.erased
               AND jsonb_typeof(e -> 'value') = 'string'",
            &[&org],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The bytes the organisation holds: whole documents and parts of uploads under way.
async fn used(db: &impl GenericClient, org: OrgId) -> Result<u64, StoreError> {
    let used: i64 = db
        .query_one(
            "SELECT coalesce(sum(received), 0)::bigint FROM blobs WHERE org_id = $1",
            &[&org],
        )
        .await?
        .get(0);
    Ok(to_u64(used))
}

/// Deletes every byte of a document and its row.
async fn delete(db: &impl GenericClient, org: OrgId, sha256: &str) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM blob_chunks WHERE org_id = $1 AND sha256 = $2",
        &[&org, &sha256],
    )
    .await?;
    db.execute(
        "DELETE FROM blobs WHERE org_id = $1 AND sha256 = $2",
        &[&org, &sha256],
    )
    .await?;
    Ok(())
}

/// Stores a chunk as [`plan_chunk`](crate::store::blobs::plan_chunk) decides, at `now`,
/// under the organisation's lock of documents. Answers what it did, and whether bytes
/// were deleted (a hash mismatch).
pub(super) async fn put_chunk(
    db: &impl GenericClient,
    org: OrgId,
    chunk: &Chunk,
    quota: u64,
    now: i64,
) -> Result<(Put, bool), StoreError> {
    lock(db, org).await?;
    let sha256 = chunk.sha256.as_str();
    let held = get(db, org, sha256).await?;
    // A row is named (see `plan_chunk`): the names are read for a new upload only.
    let named = held.is_some() || named(db, org, sha256).await?;
    let used = used(db, org).await?;
    let (create, completes) = match crate::store::blobs::plan_chunk(chunk, held, named, used, quota)
    {
        ChunkPlan::Answer(put) => return Ok((put, false)),
        ChunkPlan::Write { create, completes } => (create, completes),
    };
    if completes {
        let mut hasher = hasher();
        // One piece at a time: at most one chunk of the document in memory.
        for piece in pieces(db, org, sha256).await? {
            let row = db
                .query_one(
                    "SELECT data FROM blob_chunks WHERE org_id = $1 AND sha256 = $2 AND start = $3",
                    &[&org, &sha256, &to_sql(piece.start)],
                )
                .await?;
            sha2::Digest::update(&mut hasher, row.get::<_, &[u8]>(0));
        }
        sha2::Digest::update(&mut hasher, &chunk.data);
        if hex_digest(hasher) != chunk.sha256 {
            delete(db, org, sha256).await?;
            return Ok((Put::HashMismatch, held.is_some()));
        }
    }
    if create {
        db.execute(
            "INSERT INTO blobs (org_id, sha256, size, received, whole, created_at, touched_at)
             VALUES ($1, $2, $3, 0, FALSE, $4, $4)",
            &[&org, &sha256, &to_sql(chunk.length), &now],
        )
        .await?;
    }
    if !chunk.data.is_empty() {
        db.execute(
            "INSERT INTO blob_chunks (org_id, sha256, start, data) VALUES ($1, $2, $3, $4)",
            &[&org, &sha256, &to_sql(chunk.offset), &chunk.data],
        )
        .await?;
    }
    db.execute(
        "UPDATE blobs SET received = $3, whole = $4, touched_at = $5
         WHERE org_id = $1 AND sha256 = $2",
        &[&org, &sha256, &to_sql(chunk.end()), &completes, &now],
    )
    .await?;
    Ok((Put::Received(chunk.end()), false))
}

/// Deletes the organisation's documents that no live attachment names: among `only`
/// when given (digests a write stopped naming), else all of them. Takes the lock of
/// documents; the caller holds the organisation's row lock, so no push changes what is
/// named meanwhile. Answers how many.
pub(super) async fn drop_unnamed(
    db: &impl GenericClient,
    org: OrgId,
    only: Option<&[String]>,
) -> Result<u64, StoreError> {
    if only.is_some_and(<[String]>::is_empty) {
        return Ok(0);
    }
    // Before reading what is held: an upload that checked the names before this
    // transaction's erasure was committed has then committed its chunk, seen here.
    lock(db, org).await?;
    let held: Vec<String> = match only {
        Some(digests) => {
            let digests: Vec<&str> = digests.iter().map(String::as_str).collect();
            db.query(
                "SELECT sha256 FROM blobs WHERE org_id = $1 AND sha256 = ANY($2)",
                &[&org, &digests],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect()
        }
        None => db
            .query("SELECT sha256 FROM blobs WHERE org_id = $1", &[&org])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect(),
    };
    if held.is_empty() {
        return Ok(0);
    }
    let unnamed: Vec<String> = match only {
        Some(_) => {
            let mut unnamed = Vec::with_capacity(held.len());
            for digest in held {
                if !named(db, org, &digest).await? {
                    unnamed.push(digest);
                }
            }
            unnamed
        }
        None => {
            let named = all_named(db, org).await?;
            held.into_iter().filter(|d| !named.contains(d)).collect()
        }
    };
    for digest in &unnamed {
        delete(db, org, digest).await?;
    }
    Ok(unnamed.len() as u64)
}

/// Deletes the organisation's parts of uploads last touched before `before`, under its
/// lock of documents. Answers how many.
pub(super) async fn drop_stale(
    db: &impl GenericClient,
    org: OrgId,
    before: i64,
) -> Result<u64, StoreError> {
    lock(db, org).await?;
    let stale: Vec<String> = db
        .query(
            "SELECT sha256 FROM blobs WHERE org_id = $1 AND NOT whole AND touched_at < $2",
            &[&org, &before],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for digest in &stale {
        delete(db, org, digest).await?;
    }
    Ok(stale.len() as u64)
}

/// The organisations that hold documents.
pub(super) async fn orgs(db: &impl GenericClient) -> Result<Vec<OrgId>, StoreError> {
    Ok(db
        .query("SELECT DISTINCT org_id FROM blobs", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The stored pieces of a document, in order.
pub(super) async fn pieces(
    db: &impl GenericClient,
    org: OrgId,
    sha256: &str,
) -> Result<Vec<Piece>, StoreError> {
    Ok(db
        .query(
            "SELECT start, octet_length(data)::bigint FROM blob_chunks
             WHERE org_id = $1 AND sha256 = $2 ORDER BY start",
            &[&org, &sha256],
        )
        .await?
        .iter()
        .map(|r| Piece {
            start: to_u64(r.get(0)),
            len: to_u64(r.get(1)),
        })
        .collect())
}

/// Bytes of one piece of a whole document; `None` when the piece is gone or the document
/// is not whole (erased meanwhile, and maybe being sent again). Stored EXTERNAL, so only
/// the slices asked for are read.
pub(super) async fn read(
    db: &impl GenericClient,
    org: OrgId,
    sha256: &str,
    read: Read,
) -> Result<Option<Vec<u8>>, StoreError> {
    let too_large = || StoreError::Corrupt("a document's piece is larger than a chunk".into());
    let from = i32::try_from(read.skip.saturating_add(1)).map_err(|_| too_large())?;
    let take = i32::try_from(read.take).map_err(|_| too_large())?;
    Ok(db
        .query_opt(
            "SELECT substring(c.data FROM $4 FOR $5) FROM blob_chunks c
             JOIN blobs b ON b.org_id = c.org_id AND b.sha256 = c.sha256
             WHERE c.org_id = $1 AND c.sha256 = $2 AND c.start = $3 AND b.whole",
            &[&org, &sha256, &to_sql(read.piece), &from, &take],
        )
        .await?
        .map(|r| r.get(0)))
}

/// What the organisation holds.
pub(super) async fn usage(db: &impl GenericClient, org: OrgId) -> Result<Usage, StoreError> {
    let row = db
        .query_one(
            "SELECT count(*) FILTER (WHERE whole), coalesce(sum(received), 0)::bigint,
                    count(*) FILTER (WHERE NOT whole)
             FROM blobs WHERE org_id = $1",
            &[&org],
        )
        .await?;
    Ok(Usage {
        documents: to_u64(row.get(0)),
        bytes: to_u64(row.get(1)),
        uploads_under_way: to_u64(row.get(2)),
    })
}
