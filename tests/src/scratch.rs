//! A fresh PostgreSQL schema for one test or benchmark, so runs side by side on one
//! database never see each other's rows.

/// A schema created in the PostgreSQL at `base`, and a URL whose connections use it.
pub struct ScratchSchema {
    base: String,
    name: String,
    /// The URL to connect to: `base` with the schema as its search path.
    pub url: String,
}

impl ScratchSchema {
    /// Creates a schema named `prefix_<random>` in the PostgreSQL at `base`.
    pub async fn create(base: &str, prefix: &str) -> Result<Self, sqlx::Error> {
        let name = format!(
            "{prefix}_{}",
            sluice::store::new_id("s").trim_start_matches("s_")
        );
        let pool = sqlx::PgPool::connect(base).await?;
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&pool)
            .await?;
        pool.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        Ok(Self {
            url: format!("{base}{separator}options=-c%20search_path%3D{name}"),
            base: base.to_owned(),
            name,
        })
    }

    /// Drops the schema and everything in it.
    pub async fn drop(&self) -> Result<(), sqlx::Error> {
        let pool = sqlx::PgPool::connect(&self.base).await?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .execute(&pool)
            .await?;
        pool.close().await;
        Ok(())
    }
}

/// A benchmark's `main`: runs `measure` on a multi-threaded runtime with the URL of a fresh
/// SQLite file, then — when `SLUICE_TEST_DATABASE_URL` is set — of a fresh PostgreSQL
/// schema, dropped afterwards; each time with a scratch folder the benchmark may use.
pub fn measure_on_each_database<F, Fut>(mut measure: F) -> anyhow::Result<()>
where
    F: FnMut(&'static str, String, std::path::PathBuf) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir()?;
        let path = dir.path().to_owned();
        let sqlite = sluice::store::Store::sqlite_url(&path.join("bench.db"));
        measure("SQLite", sqlite, path.clone()).await?;
        if let Ok(base) = std::env::var("SLUICE_TEST_DATABASE_URL") {
            let schema = ScratchSchema::create(&base, "sluice_bench").await?;
            let measured = measure("PostgreSQL", schema.url.clone(), path).await;
            schema.drop().await?;
            measured?;
        }
        Ok(())
    })
}
