//! Companies, the people who sign in, and their memberships with roles.

use serde::Serialize;
use sqlx::Row as _;

use super::{Store, StoreError, new_id, now_ms, page_size, rfc3339};
use crate::access::ONE_TIME_PASSWORD_LIFETIME;
use crate::vault::WrappedDataKey;

/// What a member may do in a company. Ordered: each role may do what the ones below it may.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads installs, runs, records and logs.
    Member,
    /// Also installs, configures and runs connectors and sets secrets.
    Admin,
    /// Also manages members, API tokens and keys.
    Owner,
}

impl Role {
    /// The role's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// A role from its stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }
}

/// A company: a tenant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Company {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// A company as one of its members sees it in a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Membership {
    /// The company.
    #[serde(flatten)]
    pub company: Company,
    /// The member's role in it.
    pub role: Role,
}

/// Someone who signs in.
#[derive(Debug, Clone)]
pub struct User {
    /// Their id.
    pub id: String,
    /// Their email, lower case.
    pub email: String,
    /// Their argon2 password hash, if they have a password.
    pub password_hash: Option<String>,
    /// Whether the password works for one sign-in only.
    pub password_one_time: bool,
    /// When a one-time password stops working.
    pub password_expires_at: Option<i64>,
}

/// A member of a company.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    /// The user's id.
    pub user_id: String,
    /// Their email.
    pub email: String,
    /// Their role.
    pub role: Role,
    /// When they joined.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

fn role_of(row: &sqlx::any::AnyRow) -> Result<Role, StoreError> {
    let text: String = row.try_get("role")?;
    Role::parse(&text).ok_or_else(|| {
        StoreError::Database(sqlx::Error::Decode(
            format!("unknown role `{text}` in the database").into(),
        ))
    })
}

fn user_of(row: &sqlx::any::AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        password_one_time: row.try_get::<i64, _>("password_one_time")? != 0,
        password_expires_at: row.try_get("password_expires_at")?,
    })
}

impl Store {
    /// Creates the company `id` (from [`new_id`]`("co")`) with `owner` as its owner and
    /// `data_key` as its first data key.
    pub async fn create_company(
        &self,
        id: &str,
        name: &str,
        owner: &str,
        data_key: WrappedDataKey,
    ) -> Result<Company, StoreError> {
        let company = Company {
            id: id.to_owned(),
            name: name.to_owned(),
            created_at: now_ms(),
        };
        let key = data_key;
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO companies (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&company.id)
            .bind(&company.name)
            .bind(company.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO memberships (company_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&company.id)
        .bind(owner)
        .bind(Role::Owner.as_str())
        .bind(company.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO data_keys (company_id, version, wrapped, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&company.id)
        .bind(i64::from(key.version))
        .bind(key.sealed)
        .bind(company.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(company)
    }

    /// Whether any company exists: a server without one has no one who can sign in.
    pub async fn has_companies(&self) -> Result<bool, StoreError> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM (SELECT 1 FROM companies LIMIT 1) AS one")
                .fetch_one(&self.pool)
                .await?;
        Ok(count > 0)
    }

    /// The company with `id`.
    pub async fn company(&self, id: &str) -> Result<Option<Company>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM companies WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Company {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// The companies `user` belongs to, after the company id `after`.
    pub async fn companies_of(
        &self,
        user: &str,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<Membership>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.name, c.created_at, m.role FROM companies c \
             JOIN memberships m ON m.company_id = c.id \
             WHERE m.user_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3",
        )
        .bind(user)
        .bind(after.unwrap_or(""))
        .bind(page_size(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Membership {
                    company: Company {
                        id: row.try_get("id")?,
                        name: row.try_get("name")?,
                        created_at: row.try_get("created_at")?,
                    },
                    role: role_of(row)?,
                })
            })
            .collect()
    }

    /// `user`'s role in `company`, if they are a member.
    pub async fn role_in(&self, company: &str, user: &str) -> Result<Option<Role>, StoreError> {
        let row =
            sqlx::query("SELECT role FROM memberships WHERE company_id = $1 AND user_id = $2")
                .bind(company)
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(role_of).transpose()
    }

    /// Creates a user; a one-time password works for [`ONE_TIME_PASSWORD_LIFETIME`].
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        one_time: bool,
    ) -> Result<User, StoreError> {
        let user = User {
            id: new_id("usr"),
            email: email.to_lowercase(),
            password_hash: Some(password_hash.to_owned()),
            password_one_time: one_time,
            password_expires_at: one_time_expiry(one_time),
        };
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, password_hash, password_one_time, password_expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(password_hash)
        .bind(i64::from(one_time))
        .bind(user.password_expires_at)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "a user with the email {} already exists",
                user.email
            )));
        }
        Ok(user)
    }

    /// The user with `email` (any case).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, password_one_time, password_expires_at FROM users WHERE email = $1",
        )
        .bind(email.to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_of).transpose()
    }

    /// The user with `id`.
    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, password_one_time, password_expires_at FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_of).transpose()
    }

    /// Sets a user's password hash; `None` removes the password. A one-time password works
    /// for [`ONE_TIME_PASSWORD_LIFETIME`].
    pub async fn set_password(
        &self,
        user: &str,
        password_hash: Option<&str>,
        one_time: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET password_hash = $1, password_one_time = $2, password_expires_at = $3 \
             WHERE id = $4",
        )
        .bind(password_hash.map(str::to_owned))
        .bind(i64::from(one_time))
        .bind(one_time_expiry(one_time))
        .bind(user)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A company's members, after the user id `after`.
    pub async fn members(
        &self,
        company: &str,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<Member>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.id, u.email, m.role, m.created_at FROM memberships m \
             JOIN users u ON u.id = m.user_id \
             WHERE m.company_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3",
        )
        .bind(company)
        .bind(after.unwrap_or(""))
        .bind(page_size(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(member_of).collect()
    }

    /// One member of a company.
    pub async fn member(&self, company: &str, user: &str) -> Result<Option<Member>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.email, m.role, m.created_at FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.company_id = $1 AND u.id = $2",
        )
        .bind(company)
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(member_of).transpose()
    }

    /// Makes `user` a member of `company`.
    pub async fn add_member(
        &self,
        company: &str,
        user: &str,
        role: Role,
    ) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO memberships (company_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (company_id, user_id) DO NOTHING",
        )
        .bind(company)
        .bind(user)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "that user is already a member of this company".into(),
            ));
        }
        Ok(())
    }

    /// Changes a member's role; false when they are not a member.
    pub async fn set_role(
        &self,
        company: &str,
        user: &str,
        role: Role,
    ) -> Result<bool, StoreError> {
        let updated =
            sqlx::query("UPDATE memberships SET role = $1 WHERE company_id = $2 AND user_id = $3")
                .bind(role.as_str())
                .bind(company)
                .bind(user)
                .execute(&self.pool)
                .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Removes a member; false when they were not one.
    pub async fn remove_member(&self, company: &str, user: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM memberships WHERE company_id = $1 AND user_id = $2")
            .bind(company)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// How many owners a company has.
    pub async fn owner_count(&self, company: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM memberships WHERE company_id = $1 AND role = 'owner'",
        )
        .bind(company)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}

/// When a one-time password given now stops working; none for a chosen password.
fn one_time_expiry(one_time: bool) -> Option<i64> {
    let lifetime = i64::try_from(ONE_TIME_PASSWORD_LIFETIME.as_millis()).unwrap_or(i64::MAX);
    one_time.then(|| now_ms().saturating_add(lifetime))
}

fn member_of(row: &sqlx::any::AnyRow) -> Result<Member, StoreError> {
    Ok(Member {
        user_id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: role_of(row)?,
        created_at: row.try_get("created_at")?,
    })
}
