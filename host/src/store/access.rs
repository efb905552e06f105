//! Sign-in sessions and API tokens, both kept only as SHA-256 hashes of their values.

use serde::Serialize;
use sqlx::Row as _;

use super::{Role, Store, StoreError, new_id, now_ms, page_size, rfc3339, rfc3339_opt};

/// A signed-in browser session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who signed in.
    pub user_id: String,
}

/// What an API token lets its bearer do.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// The token's id.
    pub token_id: String,
    /// The one company it is scoped to.
    pub company_id: String,
    /// Who created it; the token acts as them.
    pub user_id: String,
    /// Its role, never above its creator's.
    pub role: Role,
}

/// An API token as its company's owners see it: never its value.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    /// Its id.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// When it was last used.
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<i64>,
    /// When it was revoked.
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<i64>,
}

fn token_of(row: &sqlx::any::AnyRow) -> Result<ApiToken, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(ApiToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).unwrap_or(Role::Member),
        created_by: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    /// Keeps a session whose value hashes to `hash` until `expires_at`.
    pub async fn create_session(
        &self,
        hash: &str,
        user: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(user)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live session whose value hashes to `hash`.
    pub async fn session(&self, hash: &str) -> Result<Option<Session>, StoreError> {
        let row =
            sqlx::query("SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_at > $2")
                .bind(hash)
                .bind(now_ms())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            Ok(Session {
                user_id: row.try_get("user_id")?,
            })
        })
        .transpose()
    }

    /// Ends a session.
    pub async fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Keeps an API token whose value hashes to `hash`.
    pub async fn create_token(
        &self,
        company: &str,
        user: &str,
        name: &str,
        role: Role,
        hash: &str,
    ) -> Result<ApiToken, StoreError> {
        let token = ApiToken {
            id: new_id("tok"),
            name: name.to_owned(),
            role,
            created_by: user.to_owned(),
            created_at: now_ms(),
            last_used_at: None,
            revoked_at: None,
        };
        sqlx::query(
            "INSERT INTO api_tokens (id, company_id, user_id, name, role, token_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&token.id)
        .bind(company)
        .bind(user)
        .bind(name)
        .bind(role.as_str())
        .bind(hash)
        .bind(token.created_at)
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// What the unrevoked token hashing to `hash` may do; notes its use. The token's role
    /// is capped by its creator's current role, and a creator who left the company takes
    /// their tokens' access with them.
    pub async fn token_grant(&self, hash: &str) -> Result<Option<TokenGrant>, StoreError> {
        let row = sqlx::query(
            "SELECT t.id, t.company_id, t.user_id, t.role, m.role AS member_role FROM api_tokens t \
             JOIN memberships m ON m.company_id = t.company_id AND m.user_id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let token_role = Role::parse(&row.try_get::<String, _>("role")?).unwrap_or(Role::Member);
        let member_role =
            Role::parse(&row.try_get::<String, _>("member_role")?).unwrap_or(Role::Member);
        let grant = TokenGrant {
            token_id: row.try_get("id")?,
            company_id: row.try_get("company_id")?,
            user_id: row.try_get("user_id")?,
            role: token_role.min(member_role),
        };
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(&grant.token_id)
            .execute(&self.pool)
            .await?;
        Ok(Some(grant))
    }

    /// A company's API tokens, after the token id `after`.
    pub async fn tokens(
        &self,
        company: &str,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, role, user_id, created_at, last_used_at, revoked_at FROM api_tokens \
             WHERE company_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(company)
        .bind(after.unwrap_or(""))
        .bind(page_size(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_of).collect()
    }

    /// Revokes a token; false when the company has no such token.
    pub async fn revoke_token(&self, company: &str, id: &str) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE company_id = $2 AND id = $3",
        )
        .bind(now_ms())
        .bind(company)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }
}
