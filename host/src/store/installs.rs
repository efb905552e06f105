//! Installs: a connector put into a company, with its configuration, its grants and the
//! state (cursor) its runs committed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::{
    HOOK_SOURCES, Store, StoreError, hook_secret_name, new_id, now_ms, page_size, rfc3339,
};

/// What an admin granted an install.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallGrants {
    /// Hosts it may reach on public addresses: `host`, `host:port` or `*.domain`.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Exact `host:port`s it may reach even on private addresses (self-hosted services),
    /// within what the server's operator allows with `sluice serve --allow-private`.
    #[serde(default)]
    pub private_hosts: Vec<String>,
    /// For each secret the connector requests, the company secret that fills it.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// For a secret, the hosts it may be sent to, narrower than where the connector's
    /// manifest binds it (which a secret absent here keeps).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_hosts: BTreeMap<String, Vec<String>>,
}

/// An install as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Install {
    /// Its id.
    pub id: String,
    /// The connector's name in the marketplace.
    pub plugin: String,
    /// The connector's version.
    pub version: String,
    /// Its configuration, valid against the connector's schema.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// What the admin granted it.
    pub grants: InstallGrants,
    /// When it was installed.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// When it was last changed.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

/// What installing (or changing an install) writes.
#[derive(Debug, Clone)]
pub struct NewInstall {
    /// The connector's name.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// Its validated configuration.
    pub config: serde_json::Value,
    /// Its checked grants.
    pub grants: InstallGrants,
}

fn decode_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::Database(sqlx::Error::Decode(
            format!("an install's stored {what} is not valid: {e}").into(),
        ))
    })
}

fn install_of(row: &sqlx::any::AnyRow) -> Result<Install, StoreError> {
    Ok(Install {
        id: row.try_get("id")?,
        plugin: row.try_get("plugin")?,
        version: row.try_get("version")?,
        config: decode_json(&row.try_get::<String, _>("config")?, "configuration")?,
        grants: decode_json(&row.try_get::<String, _>("grants")?, "grants")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const INSTALL_COLUMNS: &str = "id, plugin, version, config, grants, created_at, updated_at";

fn encode(install: &NewInstall) -> (String, String) {
    // Serializing a JSON value and a struct of strings cannot fail.
    (
        install.config.to_string(),
        serde_json::to_string(&install.grants).unwrap_or_else(|_| "{}".into()),
    )
}

impl Store {
    /// Installs a connector into a company.
    pub async fn create_install(
        &self,
        company: &str,
        install: NewInstall,
    ) -> Result<Install, StoreError> {
        let id = new_id("inst");
        let now = now_ms();
        let (config, grants) = encode(&install);
        sqlx::query(
            "INSERT INTO installs (id, company_id, plugin, version, config, grants, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, '{}', $7, $7)",
        )
        .bind(&id)
        .bind(company)
        .bind(&install.plugin)
        .bind(&install.version)
        .bind(config)
        .bind(grants)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(Install {
            id,
            plugin: install.plugin,
            version: install.version,
            config: install.config,
            grants: install.grants,
            created_at: now,
            updated_at: now,
        })
    }

    /// One of a company's installs.
    pub async fn install(&self, company: &str, id: &str) -> Result<Option<Install>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {INSTALL_COLUMNS} FROM installs WHERE company_id = $1 AND id = $2"
        ))
        .bind(company)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(install_of).transpose()
    }

    /// An install found by its id alone, with its company: what a webhook's address names.
    pub async fn install_by_id(&self, id: &str) -> Result<Option<(String, Install)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {INSTALL_COLUMNS}, company_id FROM installs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((row.try_get("company_id")?, install_of(&row)?)))
            .transpose()
    }

    /// An install with the state its last committed run left, in one read: what a run
    /// of it starts from.
    pub async fn install_with_state(
        &self,
        company: &str,
        id: &str,
    ) -> Result<Option<(Install, BTreeMap<String, String>)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {INSTALL_COLUMNS}, state FROM installs WHERE company_id = $1 AND id = $2"
        ))
        .bind(company)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let state = decode_json(&row.try_get::<String, _>("state")?, "state")?;
            Ok((install_of(&row)?, state))
        })
        .transpose()
    }

    /// A company's installs, after the install id `after`.
    pub async fn installs(
        &self,
        company: &str,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<Install>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INSTALL_COLUMNS} FROM installs WHERE company_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(company)
        .bind(after.unwrap_or(""))
        .bind(page_size(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(install_of).collect()
    }

    /// Changes an install's version, configuration and grants; false when there is none.
    pub async fn update_install(
        &self,
        company: &str,
        id: &str,
        install: &NewInstall,
    ) -> Result<bool, StoreError> {
        let (config, grants) = encode(install);
        let updated = sqlx::query(
            "UPDATE installs SET version = $1, config = $2, grants = $3, updated_at = $4 \
             WHERE company_id = $5 AND id = $6",
        )
        .bind(&install.version)
        .bind(config)
        .bind(grants)
        .bind(now_ms())
        .bind(company)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Uninstalls: the install, its records, its state, its schedule and its webhooks'
    /// signing secrets go; its runs, logs and deliveries stay as history. False when there
    /// was no such install.
    pub async fn delete_install(&self, company: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM installs WHERE company_id = $1 AND id = $2")
            .bind(company)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM records WHERE company_id = $1 AND install_id = $2")
            .bind(company)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM schedules WHERE company_id = $1 AND install_id = $2")
            .bind(company)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for source in HOOK_SOURCES {
            sqlx::query("DELETE FROM secrets WHERE company_id = $1 AND name = $2")
                .bind(company)
                .bind(hook_secret_name(source, id))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// The state an install's runs committed.
    pub async fn install_state(
        &self,
        company: &str,
        id: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let row = sqlx::query("SELECT state FROM installs WHERE company_id = $1 AND id = $2")
            .bind(company)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => decode_json(&row.try_get::<String, _>("state")?, "state"),
            None => Ok(BTreeMap::new()),
        }
    }
}
