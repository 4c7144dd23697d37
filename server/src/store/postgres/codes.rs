//! Table `enrolment_codes`: one-time enrolment codes, by hash.

use deadpool_postgres::GenericClient;

use crate::store::{CODES_KEPT_SECONDS, Invite, StoreError};

/// Keeps a code, and forgets those expired long ago.
pub(super) async fn insert(db: &impl GenericClient, invite: &Invite) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM enrolment_codes WHERE expires_at < $1",
        &[&(invite.created_at - CODES_KEPT_SECONDS)],
    )
    .await?;
    db.execute(
        "INSERT INTO enrolment_codes (code_hash, user_id, org_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &&invite.code_hash[..],
            &invite.user_id,
            &invite.org,
            &invite.created_at,
            &invite.expires_at,
        ],
    )
    .await?;
    Ok(())
}

/// Marks the code used, if it is an unused code of `user_id` that has not expired at
/// `now`; answers whether it was. The row's lock is held until the transaction ends: a
/// concurrent enrolment with the same code waits, then finds it used.
pub(super) async fn use_code(
    db: &impl GenericClient,
    code_hash: &[u8; 32],
    user_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = db
        .execute(
            "UPDATE enrolment_codes SET used_at = $3
             WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL AND expires_at > $3",
            &[&&code_hash[..], &user_id, &now],
        )
        .await?;
    Ok(changed > 0)
}

/// Marks the code used whoever it is for (the journal's replay); answers whether it was
/// kept unused.
pub(super) async fn mark_used(
    db: &impl GenericClient,
    code_hash: &[u8; 32],
    now: i64,
) -> Result<bool, StoreError> {
    let changed = db
        .execute(
            "UPDATE enrolment_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL",
            &[&&code_hash[..], &now],
        )
        .await?;
    Ok(changed > 0)
}
