//! Table `users`.

use deadpool_postgres::GenericClient;

use crate::store::{Login, OrgId, Role, StoreError};

/// Adds a user; `false` when the username is taken.
pub(super) async fn insert(
    db: &impl GenericClient,
    org: OrgId,
    username: &str,
    password_hash: &str,
    role: Role,
) -> Result<bool, StoreError> {
    let inserted = db
        .execute(
            "INSERT INTO users (org_id, username, password_hash, role)
             VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING",
            &[&org, &username, &password_hash, &role.as_str()],
        )
        .await?;
    Ok(inserted > 0)
}

/// Replaces a password hash; `false` when there is no such user.
pub(super) async fn set_password(
    db: &impl GenericClient,
    username: &str,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let changed = db
        .execute(
            "UPDATE users SET password_hash = $2 WHERE username = $1",
            &[&username, &password_hash],
        )
        .await?;
    Ok(changed > 0)
}

/// Disables or enables a user; `false` when there is no such user.
pub(super) async fn set_disabled(
    db: &impl GenericClient,
    username: &str,
    disabled: bool,
) -> Result<bool, StoreError> {
    let changed = db
        .execute(
            "UPDATE users SET disabled = $2 WHERE username = $1",
            &[&username, &disabled],
        )
        .await?;
    Ok(changed > 0)
}

/// The user with this username, locked until the transaction ends: row id,
/// organisation, and whether disabled.
pub(super) async fn lock_disabled(
    db: &impl GenericClient,
    username: &str,
) -> Result<Option<(i64, OrgId, bool)>, StoreError> {
    let row = db
        .query_opt(
            "SELECT id, org_id, disabled FROM users WHERE username = $1 FOR UPDATE",
            &[&username],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// The user with this username, with its organisation.
pub(super) async fn login(
    db: &impl GenericClient,
    username: &str,
) -> Result<Option<Login>, StoreError> {
    let row = db
        .query_opt(
            "SELECT users.id, users.org_id, orgs.name, users.password_hash, users.disabled
             FROM users JOIN orgs ON orgs.id = users.org_id
             WHERE users.username = $1",
            &[&username],
        )
        .await?;
    Ok(row.map(|r| Login {
        user_id: r.get(0),
        org: r.get(1),
        org_name: r.get(2),
        password_hash: r.get(3),
        disabled: r.get(4),
    }))
}
