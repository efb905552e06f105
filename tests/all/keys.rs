//! Master keys through the `sluice` binary, on SQLite and (when its URL is set)
//! PostgreSQL: a rotation re-wraps every data key with a new master key, and retiring
//! re-wraps what a host with the old key file wrapped meanwhile, then leaves only the
//! newest key in the key file while every secret still opens.

use std::path::Path;

use sluice::store::{Store, new_id};
use sluice::vault::MasterKeys;

use crate::harness::{TestDatabase, databases};
use crate::process::{bootstrap, line_value, storage_args};
use crate::support::sluice;

/// The store the binary used for `database` with its data in `data`.
async fn store_of(database: &TestDatabase, data: &Path) -> Store {
    let url = if database.label == "SQLite" {
        Store::sqlite_url(&data.join("sluice.db"))
    } else {
        database.url.clone()
    };
    Store::open(&url).await.expect("open the store")
}

/// `sluice admin rotate-keys` with `extra`; its stdout.
async fn rotate(data_args: &[String], extra: &[&str]) -> String {
    let mut args = vec!["admin".to_owned(), "rotate-keys".to_owned()];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args.extend(data_args.iter().cloned());
    let output = sluice(args).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn retiring_old_master_keys_leaves_the_newest_and_every_secret_still_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let label = database.label;
        let data = dir.path().join(format!("data-{label}"));
        let data_args = storage_args(&database, &data);
        let company = line_value(
            &bootstrap(&data_args, "ada@acme.test", "Acme").await,
            "company:",
        )
        .split(' ')
        .next()
        .expect("id")
        .to_owned();
        let key_file = data.join("master.key");
        let store = store_of(&database, &data).await;
        let (keys, _) = MasterKeys::load(None, &key_file).expect("the key file");
        let data_keys = store.data_keys(&company).await.expect("data keys");
        let sealed = keys
            .vault()
            .encrypt(&company, &data_keys, "token", "canary-value")
            .expect("encrypt");
        store
            .put_secret(&company, "token", sealed.clone())
            .await
            .expect("put");

        let before_rotation = keys.vault();
        assert_eq!(
            rotate(&data_args, &[]).await.trim(),
            "re-wrapped 1 data keys of 1 companies with master key version 2"
        );
        // A host still running with the old key file wraps a new company's data key with
        // the old master key; retiring re-wraps it first.
        let owner = store
            .user_by_email("ada@acme.test")
            .await
            .expect("read")
            .expect("ada");
        let late = new_id("co");
        let late_key = before_rotation.new_data_key(&late, 1).expect("data key");
        store
            .create_company(&late, "Late", &owner.id, late_key)
            .await
            .expect("company");
        let late_sealed = before_rotation
            .encrypt(
                &late,
                &store.data_keys(&late).await.expect("keys"),
                "token",
                "late-value",
            )
            .expect("encrypt");
        store
            .put_secret(&late, "token", late_sealed.clone())
            .await
            .expect("put");
        assert_eq!(
            rotate(&data_args, &["--retire-old"]).await.trim(),
            "re-wrapped 2 data keys of 2 companies with master key version 2\n\
             retired master key versions 1; only version 2 remains"
        );
        let text = std::fs::read_to_string(&key_file).expect("the key file");
        let entries: Vec<&str> = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .collect();
        assert_eq!(entries.len(), 1, "{label}: one key left");
        assert!(entries[0].starts_with("2:"), "{label}: the newest");

        let (keys, _) = MasterKeys::load(None, &key_file).expect("the key file");
        let data_keys = store.data_keys(&company).await.expect("data keys");
        let opened = keys
            .vault()
            .decrypt(&company, &data_keys, "token", &sealed)
            .expect("the secret opens with the newest key alone");
        assert_eq!(opened.as_str(), "canary-value");
        let late_opened = keys
            .vault()
            .decrypt(
                &late,
                &store.data_keys(&late).await.expect("keys"),
                "token",
                &late_sealed,
            )
            .expect("the late company's secret opens with the newest key alone");
        assert_eq!(late_opened.as_str(), "late-value");
        let audit = store.audit_log(&company, None, None).await.expect("audit");
        assert!(
            audit.iter().any(|e| e.action == "keys.retire"),
            "{label}: retiring is audited"
        );

        assert_eq!(
            rotate(&data_args, &["--retire-old"]).await.trim(),
            "re-wrapped 2 data keys of 2 companies with master key version 2\n\
             no older master key to retire: version 2 is the only one"
        );
        store.close().await;
        database.drop_schema().await;
    }
}
