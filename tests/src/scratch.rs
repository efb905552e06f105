//! A fresh PostgreSQL schema for one test or benchmark, so runs side by side on one
//! database never see each other's rows.

/// A schema created in the PostgreSQL at `base`, and a URL whose connections use it.
/// Dropped with everything in it by [`ScratchSchema::drop`], or — when a failing test
/// unwinds past it — when the value is dropped, so no failure leaves a schema behind.
pub struct ScratchSchema {
    base: String,
    name: String,
    /// The URL to connect to: `base` with the schema as its search path.
    pub url: String,
    dropped: std::sync::atomic::AtomicBool,
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
            dropped: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Drops the schema and everything in it.
    pub async fn drop(&self) -> Result<(), sqlx::Error> {
        drop_schema(&self.base, &self.name).await?;
        self.dropped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

async fn drop_schema(base: &str, name: &str) -> Result<(), sqlx::Error> {
    let pool = sqlx::PgPool::connect(base).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        if self.dropped.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        // A test failed before dropping it. Drop may run inside the test's runtime, which
        // cannot be blocked on, so a thread of its own does the work; a failure to drop
        // is not worth a second panic while one unwinds.
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(drop_schema(&base, &name)).ok()
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test schema {}", self.name);
        }
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
