//! Table `users`.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::{Login, OrgId, Role, StoreError};

/// Whether the username is used.
pub(super) fn exists(conn: &Connection, username: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
        [username],
        |r| r.get(0),
    )?)
}

/// Adds a user.
pub(super) fn insert(
    conn: &Connection,
    org: OrgId,
    username: &str,
    password_hash: &str,
    role: Role,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO users (org_id, username, password_hash, role) VALUES (?1, ?2, ?3, ?4)",
        params![org, username, password_hash, role.as_str()],
    )?;
    Ok(())
}

/// Replaces a password hash; `false` when there is no such user.
pub(super) fn set_password(
    conn: &Connection,
    username: &str,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE username = ?1",
        params![username, password_hash],
    )?;
    Ok(changed > 0)
}

/// Disables or enables a user; `false` when there is no such user.
pub(super) fn set_disabled(
    conn: &Connection,
    username: &str,
    disabled: bool,
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE users SET disabled = ?2 WHERE username = ?1",
        params![username, disabled],
    )?;
    Ok(changed > 0)
}

/// The user with this username: row id, organisation, and whether disabled.
pub(super) fn disabled(
    conn: &Connection,
    username: &str,
) -> Result<Option<(i64, OrgId, bool)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, org_id, disabled FROM users WHERE username = ?1",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// The user with this username, with its organisation.
pub(super) fn login(conn: &Connection, username: &str) -> Result<Option<Login>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT users.id, users.org_id, orgs.name, users.password_hash, users.disabled
             FROM users JOIN orgs ON orgs.id = users.org_id
             WHERE users.username = ?1",
            [username],
            |r| {
                Ok(Login {
                    user_id: r.get(0)?,
                    org: r.get(1)?,
                    org_name: r.get(2)?,
                    password_hash: r.get(3)?,
                    disabled: r.get(4)?,
                })
            },
        )
        .optional()?)
}
