//! Tables `blobs` and `blob_chunks`: documents (§6b, see [`crate::store::blobs`]). Every
//! write runs inside the caller's `BEGIN IMMEDIATE` transaction; deleted bytes are zeroed
//! in the file (`secure_delete`), and the caller empties the WAL once they are committed.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::store::blobs::{
    Blob, Chunk, ChunkPlan, Piece, Put, Read, Usage, hasher, hex_digest, to_sql, to_u64,
};
use crate::store::{OrgId, StoreError};

/// How many digests one look-up sends at most.
const LOOKUP_CHUNK: usize = 500;

/// The document's row, if the organisation has one.
pub(super) fn get(conn: &Connection, org: OrgId, sha256: &str) -> Result<Option<Blob>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT size, received, whole FROM blobs WHERE org_id = ?1 AND sha256 = ?2",
        )?
        .query_row(params![org, sha256], |r| {
            Ok(Blob {
                size: to_u64(r.get(0)?),
                received: to_u64(r.get(1)?),
                whole: r.get(2)?,
            })
        })
        .optional()?)
}

/// Whether a live attachment of the organisation names the document: an entry of its
/// field `sha256` with that value (the text is looked for first, the JSON read after).
pub(super) fn named(conn: &Connection, org: OrgId, sha256: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (
                 SELECT 1 FROM records r, json_each(r.state, '$.fields.sha256') e
                 WHERE r.org_id = ?1 AND r.kind = 'attachment' AND r.erased = 0
                   AND instr(r.state, ?2) > 0 AND json_extract(e.value, '$.value') = ?2)",
        )?
        .query_row(params![org, sha256], |r| r.get(0))?)
}

/// Every digest the organisation's live attachments name.
fn all_named(conn: &Connection, org: OrgId) -> Result<HashSet<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT json_extract(e.value, '$.value')
         FROM records r, json_each(r.state, '$.fields.sha256') e
         WHERE r.org_id = ?1 AND r.kind = 'attachment' AND r.erased = 0
           AND json_type(e.value, '$.value') = 'text'",
    )?;
    let rows = stmt.query_map([org], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The bytes the organisation holds: whole documents and parts of uploads under way.
fn used(conn: &Connection, org: OrgId) -> Result<u64, StoreError> {
    let used: i64 = conn
        .prepare_cached("SELECT coalesce(sum(received), 0) FROM blobs WHERE org_id = ?1")?
        .query_row([org], |r| r.get(0))?;
    Ok(to_u64(used))
}

/// Deletes every byte of a document and its row.
fn delete(conn: &Connection, org: OrgId, sha256: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM blob_chunks WHERE org_id = ?1 AND sha256 = ?2")?
        .execute(params![org, sha256])?;
    conn.prepare_cached("DELETE FROM blobs WHERE org_id = ?1 AND sha256 = ?2")?
        .execute(params![org, sha256])?;
    Ok(())
}

/// Stores a chunk as [`plan_chunk`](crate::store::blobs::plan_chunk) decides, at `now`.
/// Answers what it did, and whether bytes were deleted (a hash mismatch).
pub(super) fn put_chunk(
    conn: &Connection,
    org: OrgId,
    chunk: &Chunk,
    quota: u64,
    now: i64,
) -> Result<(Put, bool), StoreError> {
    let held = get(conn, org, &chunk.sha256)?;
    // A row is named (see `plan_chunk`): the names are read for a new upload only.
    let named = held.is_some() || named(conn, org, &chunk.sha256)?;
    let used = used(conn, org)?;
    let (create, completes) = match crate::store::blobs::plan_chunk(chunk, held, named, used, quota)
    {
        ChunkPlan::Answer(put) => return Ok((put, false)),
        ChunkPlan::Write { create, completes } => (create, completes),
    };
    if completes {
        let mut hasher = hasher();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT data FROM blob_chunks WHERE org_id = ?1 AND sha256 = ?2 ORDER BY start",
            )?;
            let mut rows = stmt.query(params![org, chunk.sha256])?;
            while let Some(row) = rows.next()? {
                let piece = row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
                sha2::Digest::update(&mut hasher, piece);
            }
        }
        sha2::Digest::update(&mut hasher, &chunk.data);
        if hex_digest(hasher) != chunk.sha256 {
            delete(conn, org, &chunk.sha256)?;
            return Ok((Put::HashMismatch, held.is_some()));
        }
    }
    if create {
        conn.prepare_cached(
            "INSERT INTO blobs (org_id, sha256, size, received, whole, created_at, touched_at)
             VALUES (?1, ?2, ?3, 0, 0, ?4, ?4)",
        )?
        .execute(params![org, chunk.sha256, to_sql(chunk.length), now])?;
    }
    if !chunk.data.is_empty() {
        conn.prepare_cached(
            "INSERT INTO blob_chunks (org_id, sha256, start, data) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![org, chunk.sha256, to_sql(chunk.offset), chunk.data])?;
    }
    conn.prepare_cached(
        "UPDATE blobs SET received = ?3, whole = ?4, touched_at = ?5
         WHERE org_id = ?1 AND sha256 = ?2",
    )?
    .execute(params![
        org,
        chunk.sha256,
        to_sql(chunk.end()),
        completes,
        now
    ])?;
    Ok((Put::Received(chunk.end()), false))
}

/// Deletes the organisation's documents that no live attachment names: among `only`
/// when given (digests a write stopped naming), else all of them. Answers how many.
pub(super) fn drop_unnamed(
    conn: &Connection,
    org: OrgId,
    only: Option<&[String]>,
) -> Result<u64, StoreError> {
    if only.is_some_and(<[String]>::is_empty) {
        return Ok(0);
    }
    let held: Vec<String> = match only {
        Some(digests) => {
            let mut held = Vec::new();
            for part in digests.chunks(LOOKUP_CHUNK) {
                let marks = (2..part.len() + 2)
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut stmt = conn.prepare(&format!(
                    "SELECT sha256 FROM blobs WHERE org_id = ?1 AND sha256 IN ({marks})"
                ))?;
                let values = std::iter::once(rusqlite::types::Value::Integer(org))
                    .chain(part.iter().map(|d| rusqlite::types::Value::Text(d.clone())));
                let rows = stmt.query_map(params_from_iter(values), |r| r.get(0))?;
                held.extend(rows.collect::<Result<Vec<String>, _>>()?);
            }
            let mut unnamed = Vec::with_capacity(held.len());
            for digest in held {
                if !named(conn, org, &digest)? {
                    unnamed.push(digest);
                }
            }
            unnamed
        }
        None => {
            let mut stmt = conn.prepare_cached("SELECT sha256 FROM blobs WHERE org_id = ?1")?;
            let held: Vec<String> = stmt
                .query_map([org], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            if held.is_empty() {
                return Ok(0);
            }
            let named = all_named(conn, org)?;
            held.into_iter().filter(|d| !named.contains(d)).collect()
        }
    };
    for digest in &held {
        delete(conn, org, digest)?;
    }
    Ok(held.len() as u64)
}

/// Deletes the organisation's parts of uploads last touched before `before`. Answers how
/// many.
pub(super) fn drop_stale(conn: &Connection, org: OrgId, before: i64) -> Result<u64, StoreError> {
    let stale: Vec<String> = conn
        .prepare_cached(
            "SELECT sha256 FROM blobs WHERE org_id = ?1 AND whole = 0 AND touched_at < ?2",
        )?
        .query_map(params![org, before], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for digest in &stale {
        delete(conn, org, digest)?;
    }
    Ok(stale.len() as u64)
}

/// The organisations that hold documents.
pub(super) fn orgs(conn: &Connection) -> Result<Vec<OrgId>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT org_id FROM blobs")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The stored pieces of a document, in order.
pub(super) fn pieces(
    conn: &Connection,
    org: OrgId,
    sha256: &str,
) -> Result<Vec<Piece>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT start, length(data) FROM blob_chunks WHERE org_id = ?1 AND sha256 = ?2
         ORDER BY start",
    )?;
    let rows = stmt.query_map(params![org, sha256], |r| {
        Ok(Piece {
            start: to_u64(r.get(0)?),
            len: to_u64(r.get(1)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Bytes of one piece of a whole document; `None` when the piece is gone or the document
/// is not whole (erased meanwhile, and maybe being sent again). SQLite reads the whole
/// value whatever part of it `substr` takes: the caller reads each piece at once (see
/// [`SqliteStore::READ_BYTES`](crate::store::Store::READ_BYTES)), so that each stored
/// byte is read once.
pub(super) fn read(
    conn: &Connection,
    org: OrgId,
    sha256: &str,
    read: Read,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT substr(c.data, ?4, ?5) FROM blob_chunks c
             JOIN blobs b ON b.org_id = c.org_id AND b.sha256 = c.sha256
             WHERE c.org_id = ?1 AND c.sha256 = ?2 AND c.start = ?3 AND b.whole",
        )?
        .query_row(
            params![
                org,
                sha256,
                to_sql(read.piece),
                to_sql(read.skip.saturating_add(1)),
                to_sql(read.take)
            ],
            |r| r.get(0),
        )
        .optional()?)
}

/// What the organisation holds.
pub(super) fn usage(conn: &Connection, org: OrgId) -> Result<Usage, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(sum(whole), 0), coalesce(sum(received), 0),
                    coalesce(sum(1 - whole), 0)
             FROM blobs WHERE org_id = ?1",
        )?
        .query_row([org], |r| {
            Ok(Usage {
                documents: to_u64(r.get(0)?),
                bytes: to_u64(r.get(1)?),
                uploads_under_way: to_u64(r.get(2)?),
            })
        })?)
}
