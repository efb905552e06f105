//! Sign-in sessions and API tokens, both kept only as SHA-256 hashes of their values.
//! A session ends at its absolute end or when idle; an API token when revoked, at its
//! expiry, or with the API token that created it.

use serde::Serialize;
use sqlx::Row as _;

use super::{Role, Store, StoreError, new_id, now_ms, page_size, rfc3339, rfc3339_opt};

/// A signed-in browser session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who signed in.
    pub user_id: String,
    /// When it was last used, to the minute.
    pub last_seen_at: i64,
}

/// How an API token ends, besides being revoked.
#[derive(Debug, Clone, Default)]
pub struct TokenEnds {
    /// When it stops working; never when none.
    pub expires_at: Option<i64>,
    /// The API token that created it: it ends when that one ends.
    pub parent_id: Option<String>,
}

/// What a bearer value is worth.
#[derive(Debug, Clone)]
pub enum TokenStatus {
    /// A live token, and what it may do.
    Live(TokenGrant),
    /// The token expired at this time.
    Expired(i64),
    /// The API token that created it (or one before that) was revoked or expired.
    ParentEnded,
    /// No such token, a revoked one, or one whose creator left its company: all look alike.
    Unknown,
}

/// How long a use of a session or an API token goes unrecorded after the last recorded
/// one, so that using them does not write to the database on every request.
pub const USE_RECORDED_EVERY_MS: i64 = 60_000;

/// How deep a chain of API tokens creating API tokens is followed; deeper ones are refused.
const MAX_TOKEN_CHAIN: i64 = 64;

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
    /// When it stops working; null when it does not expire.
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<i64>,
    /// The API token that created it, if one did: it ends when that token ends.
    pub created_by_token: Option<String>,
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
        expires_at: row.try_get("expires_at")?,
        created_by_token: row.try_get("parent_id")?,
    })
}

impl Store {
    /// Keeps a session whose value hashes to `hash` until `expires_at` at the latest.
    pub async fn create_session(
        &self,
        hash: &str,
        user: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $3)",
        )
        .bind(hash)
        .bind(user)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session whose value hashes to `hash`, if it has not reached its end and was
    /// used after `seen_since`.
    pub async fn session(
        &self,
        hash: &str,
        seen_since: i64,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, last_seen_at FROM sessions \
             WHERE token_hash = $1 AND expires_at > $2 AND last_seen_at > $3",
        )
        .bind(hash)
        .bind(now_ms())
        .bind(seen_since)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Session {
                user_id: row.try_get("user_id")?,
                last_seen_at: row.try_get("last_seen_at")?,
            })
        })
        .transpose()
    }

    /// Notes that a session was used now.
    pub async fn touch_session(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now_ms())
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a session.
    pub async fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of `user` but `keep`; how many ended.
    pub async fn end_other_sessions(
        &self,
        user: &str,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user)
            .bind(keep.unwrap_or_default())
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }

    /// Forgets the sessions of `user` that reached their end or were last used before
    /// `seen_since`: they can never be used again.
    pub async fn delete_ended_sessions(
        &self,
        user: &str,
        seen_since: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND (expires_at <= $2 OR last_seen_at <= $3)",
        )
        .bind(user)
        .bind(now_ms())
        .bind(seen_since)
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
        ends: TokenEnds,
    ) -> Result<ApiToken, StoreError> {
        let token = ApiToken {
            id: new_id("tok"),
            name: name.to_owned(),
            role,
            created_by: user.to_owned(),
            created_at: now_ms(),
            last_used_at: None,
            revoked_at: None,
            expires_at: ends.expires_at,
            created_by_token: ends.parent_id,
        };
        sqlx::query(
            "INSERT INTO api_tokens \
             (id, company_id, user_id, name, role, token_hash, created_at, expires_at, parent_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&token.id)
        .bind(company)
        .bind(user)
        .bind(name)
        .bind(role.as_str())
        .bind(hash)
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.created_by_token.clone())
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// What the token hashing to `hash` is worth; notes its use (to the minute). A live
    /// token's role is capped by its creator's current role, and a creator who left the
    /// company takes their tokens' access with them.
    pub async fn token_status(&self, hash: &str) -> Result<TokenStatus, StoreError> {
        let row = sqlx::query(
            "SELECT t.id, t.company_id, t.user_id, t.role, t.expires_at, t.parent_id, \
             t.last_used_at, m.role AS member_role FROM api_tokens t \
             JOIN memberships m ON m.company_id = t.company_id AND m.user_id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(TokenStatus::Unknown);
        };
        let now = now_ms();
        if let Some(expired) = row
            .try_get::<Option<i64>, _>("expires_at")?
            .filter(|at| *at <= now)
        {
            return Ok(TokenStatus::Expired(expired));
        }
        if let Some(parent) = row.try_get::<Option<String>, _>("parent_id")?
            && !self.token_chain_live(&parent, now).await?
        {
            return Ok(TokenStatus::ParentEnded);
        }
        let token_role = Role::parse(&row.try_get::<String, _>("role")?).unwrap_or(Role::Member);
        let member_role =
            Role::parse(&row.try_get::<String, _>("member_role")?).unwrap_or(Role::Member);
        let grant = TokenGrant {
            token_id: row.try_get("id")?,
            company_id: row.try_get("company_id")?,
            user_id: row.try_get("user_id")?,
            role: token_role.min(member_role),
        };
        let last_used: Option<i64> = row.try_get("last_used_at")?;
        if last_used.is_none_or(|at| now - at >= USE_RECORDED_EVERY_MS) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&grant.token_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(TokenStatus::Live(grant))
    }

    /// Whether the token `id` and every API token before it in the chain that created it
    /// are unrevoked and unexpired at `now`.
    async fn token_chain_live(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let rows = sqlx::query(
            "WITH RECURSIVE chain (id, parent_id, revoked_at, expires_at, depth) AS ( \
                 SELECT id, parent_id, revoked_at, expires_at, CAST(0 AS BIGINT) \
                 FROM api_tokens WHERE id = $1 \
                 UNION ALL \
                 SELECT t.id, t.parent_id, t.revoked_at, t.expires_at, c.depth + 1 \
                 FROM api_tokens t JOIN chain c ON t.id = c.parent_id WHERE c.depth < $2 \
             ) SELECT parent_id, revoked_at, expires_at, depth FROM chain",
        )
        .bind(id)
        .bind(MAX_TOKEN_CHAIN)
        .fetch_all(&self.pool)
        .await?;
        let mut live = !rows.is_empty();
        for row in &rows {
            let revoked: Option<i64> = row.try_get("revoked_at")?;
            let expires: Option<i64> = row.try_get("expires_at")?;
            let parent: Option<String> = row.try_get("parent_id")?;
            let depth: i64 = row.try_get("depth")?;
            let cut_short = parent.is_some() && depth >= MAX_TOKEN_CHAIN;
            live &= revoked.is_none() && expires.is_none_or(|at| at > now) && !cut_short;
        }
        Ok(live)
    }

    /// When the token `id` of `company` stops working, counting the API tokens that created
    /// it; none when it and they never expire.
    pub async fn token_expiry(&self, company: &str, id: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "WITH RECURSIVE chain (id, parent_id, expires_at, depth) AS ( \
                 SELECT id, parent_id, expires_at, CAST(0 AS BIGINT) \
                 FROM api_tokens WHERE company_id = $1 AND id = $2 \
                 UNION ALL \
                 SELECT t.id, t.parent_id, t.expires_at, c.depth + 1 \
                 FROM api_tokens t JOIN chain c ON t.id = c.parent_id WHERE c.depth < $3 \
             ) SELECT MIN(expires_at) AS expires_at FROM chain",
        )
        .bind(company)
        .bind(id)
        .bind(MAX_TOKEN_CHAIN)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("expires_at")?)
    }

    /// A company's API tokens, after the token id `after`.
    pub async fn tokens(
        &self,
        company: &str,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, role, user_id, created_at, last_used_at, revoked_at, expires_at, \
             parent_id FROM api_tokens WHERE company_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(company)
        .bind(after.unwrap_or(""))
        .bind(page_size(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_of).collect()
    }

    /// Revokes a token and every API token it created, and theirs in turn; false when the
    /// company has no such token.
    pub async fn revoke_token(&self, company: &str, id: &str) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) \
             WHERE company_id = $2 AND id IN ( \
                 WITH RECURSIVE tree (id, depth) AS ( \
                     SELECT id, CAST(0 AS BIGINT) FROM api_tokens WHERE company_id = $2 AND id = $3 \
                     UNION ALL \
                     SELECT t.id, tree.depth + 1 FROM api_tokens t \
                     JOIN tree ON t.parent_id = tree.id WHERE tree.depth < $4 \
                 ) SELECT id FROM tree)",
        )
        .bind(now_ms())
        .bind(company)
        .bind(id)
        .bind(MAX_TOKEN_CHAIN)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }
}
