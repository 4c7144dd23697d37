//! Table `enrolment_codes`: one-time enrolment codes, by hash.

use rusqlite::{Connection, params};

use crate::store::{CODES_KEPT_SECONDS, Invite, StoreError};

/// Keeps a code, and forgets those expired long ago.
pub(super) fn insert(conn: &Connection, invite: &Invite) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM enrolment_codes WHERE expires_at < ?1",
        [invite.created_at - CODES_KEPT_SECONDS],
    )?;
    conn.execute(
        "INSERT INTO enrolment_codes (code_hash, user_id, org_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            &invite.code_hash[..],
            invite.user_id,
            invite.org,
            invite.created_at,
            invite.expires_at
        ],
    )?;
    Ok(())
}

/// Marks the code used, if it is an unused code of `user_id` that has not expired at
/// `now`; answers whether it was.
pub(super) fn use_code(
    conn: &Connection,
    code_hash: &[u8; 32],
    user_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE enrolment_codes SET used_at = ?3
         WHERE code_hash = ?1 AND user_id = ?2 AND used_at IS NULL AND expires_at > ?3",
        params![&code_hash[..], user_id, now],
    )?;
    Ok(changed > 0)
}

/// Marks the code used whoever it is for (the journal's replay); answers whether it was
/// kept unused.
pub(super) fn mark_used(
    conn: &Connection,
    code_hash: &[u8; 32],
    now: i64,
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE enrolment_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL",
        params![&code_hash[..], now],
    )?;
    Ok(changed > 0)
}
