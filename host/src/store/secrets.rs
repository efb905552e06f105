//! The vault's rows: each company's wrapped data keys and its encrypted secrets. Nothing
//! here ever holds a plaintext value.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row as _;

use super::{Store, StoreError, now_ms, page_size, rfc3339};
use crate::vault::WrappedDataKey;

/// A secret as the API shows it: its name and dates, never its value.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SecretInfo {
    /// Its name within the company.
    pub name: String,
    /// When it was first set.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// When its value last changed.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

/// A secret sealed again with a new data key, and what it was before: the swap happens
/// only if nothing changed it meanwhile.
#[derive(Debug, Clone)]
pub struct Resealed {
    /// The secret's name.
    pub name: String,
    /// Its ciphertext as read.
    pub before: Vec<u8>,
    /// Its ciphertext under the new data key.
    pub after: Vec<u8>,
}

fn data_key_of(row: &sqlx::any::AnyRow) -> Result<WrappedDataKey, StoreError> {
    let version: i64 = row.try_get("version")?;
    Ok(WrappedDataKey {
        version: u32::try_from(version).map_err(|_| {
            StoreError::Database(sqlx::Error::Decode(
                "a data key version out of range".into(),
            ))
        })?,
        sealed: row.try_get("wrapped")?,
    })
}

impl Store {
    /// A company's data keys.
    pub async fn data_keys(&self, company: &str) -> Result<Vec<WrappedDataKey>, StoreError> {
        let rows = sqlx::query("SELECT version, wrapped FROM data_keys WHERE company_id = $1")
            .bind(company)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(data_key_of).collect()
    }

    /// Every company's data keys, for rotation.
    pub async fn all_data_keys(&self) -> Result<Vec<(String, WrappedDataKey)>, StoreError> {
        let rows = sqlx::query("SELECT company_id, version, wrapped FROM data_keys")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("company_id")?, data_key_of(row)?)))
            .collect()
    }

    /// Replaces wrapped data keys in one transaction: all of them or none.
    pub async fn replace_data_keys(
        &self,
        keys: &[(String, WrappedDataKey)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (company, key) in keys {
            sqlx::query("UPDATE data_keys SET wrapped = $1 WHERE company_id = $2 AND version = $3")
                .bind(key.sealed.clone())
                .bind(company)
                .bind(i64::from(key.version))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds `key` as a company's newest data key and swaps each secret's ciphertext for
    /// its re-sealed one, in one transaction. Older data keys stay, so a value sealed with
    /// one at the same moment still opens. A conflict when another rotation added that
    /// version first or a secret changed meanwhile: nothing is kept then.
    pub async fn rotate_data_key(
        &self,
        company: &str,
        key: &WrappedDataKey,
        resealed: &[Resealed],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let added = sqlx::query(
            "INSERT INTO data_keys (company_id, version, wrapped, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (company_id, version) DO NOTHING",
        )
        .bind(company)
        .bind(i64::from(key.version))
        .bind(key.sealed.clone())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "another rotation of this company's data key finished first; rotate again".into(),
            ));
        }
        for secret in resealed {
            let swapped = sqlx::query(
                "UPDATE secrets SET ciphertext = $1 \
                 WHERE company_id = $2 AND name = $3 AND ciphertext = $4",
            )
            .bind(secret.after.clone())
            .bind(company)
            .bind(&secret.name)
            .bind(secret.before.clone())
            .execute(&mut *tx)
            .await?;
            if swapped.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "the secret `{}` changed during the rotation; rotate again",
                    secret.name
                )));
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets a secret's ciphertext; true when it is new.
    pub async fn put_secret(
        &self,
        company: &str,
        name: &str,
        ciphertext: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let existed =
            sqlx::query("SELECT 1 AS one FROM secrets WHERE company_id = $1 AND name = $2")
                .bind(company)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
                .is_some();
        sqlx::query(
            "INSERT INTO secrets (company_id, name, ciphertext, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (company_id, name) \
             DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
        )
        .bind(company)
        .bind(name)
        .bind(ciphertext)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(!existed)
    }

    /// Deletes a secret; false when the company has none by that name.
    pub async fn delete_secret(&self, company: &str, name: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM secrets WHERE company_id = $1 AND name = $2")
            .bind(company)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// A company's secrets by name, after the name `after`.
    pub async fn secrets(
        &self,
        company: &str,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<SecretInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, created_at, updated_at FROM secrets \
             WHERE company_id = $1 AND name > $2 ORDER BY name LIMIT $3",
        )
        .bind(company)
        .bind(after.unwrap_or(""))
        .bind(page_size(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SecretInfo {
                    name: row.try_get("name")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Whether the company has a secret called `name`.
    pub async fn secret_exists(&self, company: &str, name: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM secrets WHERE company_id = $1 AND name = $2")
                .bind(company)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// The ciphertext of one of a company's secrets.
    pub async fn secret_ciphertext(
        &self,
        company: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT ciphertext FROM secrets WHERE company_id = $1 AND name = $2")
            .bind(company)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("ciphertext")?),
            None => None,
        })
    }

    /// The ciphertexts of a company's secrets, by name.
    pub async fn secret_ciphertexts(
        &self,
        company: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
        let rows = sqlx::query("SELECT name, ciphertext FROM secrets WHERE company_id = $1")
            .bind(company)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("name")?, row.try_get("ciphertext")?)))
            .collect()
    }
}
