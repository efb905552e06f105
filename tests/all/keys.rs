//! Keys, on SQLite and (when its URL is set) PostgreSQL. Master keys through the `sluice`
//! binary: a rotation re-wraps every data key with a new master key, and retiring re-wraps
//! what a host with the old key file wrapped meanwhile, then leaves only the newest key in
//! the key file while every secret still opens. A company's data key through the API: an
//! owner rotates it, and every secret is sealed again with the new one.

use std::path::Path;

use axum::http::{Method, StatusCode};
use serde_json::json;
use sluice::store::{Resealed, Store, new_id};
use sluice::vault::{MasterKeys, key_version};

use crate::harness::{Harness, TestDatabase, databases, on_every_database};
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

/// The data-key version each of acme's secrets names, and its value, by name.
async fn acme_secrets(h: &Harness) -> Vec<(String, u32, String)> {
    let company = &h.acme.company;
    let keys = h.store.data_keys(company).await.expect("data keys");
    let mut secrets = Vec::new();
    for (name, sealed) in h.store.secret_ciphertexts(company).await.expect("secrets") {
        let version = key_version(&sealed).expect("a vault ciphertext");
        let value = h
            .state
            .vault
            .decrypt(company, &keys, &name, &sealed)
            .expect("the secret opens");
        secrets.push((name, version, value.as_str().to_owned()));
    }
    secrets
}

#[tokio::test]
async fn an_owner_rotates_the_data_key_and_every_secret_is_sealed_again_with_it() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        for (name, value) in [("github-token", "ghp_one"), ("slack-token", "xoxb_two")] {
            let put = h
                .call(
                    Method::PUT,
                    &format!("/api/companies/{company}/secrets/{name}"),
                    owner,
                    Some(json!({ "value": value })),
                )
                .await;
            assert_eq!(put.status, StatusCode::CREATED, "{}", put.text());
        }
        let rotate = format!("/api/companies/{company}/keys/rotate");
        let admin = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/tokens"),
                owner,
                Some(json!({ "name": "admin", "role": "admin" })),
            )
            .await
            .json();
        let refused = h
            .call(Method::POST, &rotate, admin["value"].as_str(), None)
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", h.label);
        assert_eq!(
            refused.json()["message"],
            "this needs the owner role in the company; this token has the admin role"
        );
        let elsewhere = h
            .call(Method::POST, &rotate, Some(&h.globex.token), None)
            .await;
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND, "another company's");

        let rotated = h.call(Method::POST, &rotate, owner, None).await;
        assert_eq!(
            rotated.status,
            StatusCode::OK,
            "{}: {}",
            h.label,
            rotated.text()
        );
        assert_eq!(rotated.json(), json!({ "version": 2, "resealed": 2 }));
        assert_eq!(
            acme_secrets(h).await,
            [
                ("github-token".to_owned(), 2, "ghp_one".to_owned()),
                ("slack-token".to_owned(), 2, "xoxb_two".to_owned()),
            ],
            "{}",
            h.label
        );
        let put = h
            .call(
                Method::PUT,
                &format!("/api/companies/{company}/secrets/jira-token"),
                owner,
                Some(json!({ "value": "jira_three" })),
            )
            .await;
        assert_eq!(put.status, StatusCode::CREATED);
        assert!(
            acme_secrets(h)
                .await
                .contains(&("jira-token".to_owned(), 2, "jira_three".to_owned())),
            "a new secret is sealed with the new data key"
        );
        let again = h.call(Method::POST, &rotate, owner, None).await.json();
        assert_eq!(again, json!({ "version": 3, "resealed": 3 }));
        assert!(
            acme_secrets(h)
                .await
                .iter()
                .all(|(_, version, _)| *version == 3)
        );
        assert!(
            h.audit_actions(company)
                .await
                .contains(&"keys.rotate_data".to_owned()),
            "rotation is audited"
        );
        let globex_keys = h.store.data_keys(&h.globex.company).await.expect("keys");
        assert_eq!(
            globex_keys.len(),
            1,
            "another company's data key is untouched"
        );

        // A secret that changed between reading and swapping fails the rotation whole.
        let vault = &h.state.vault;
        let key = vault.new_data_key(company, 4).expect("data key");
        let stale = Resealed {
            name: "github-token".into(),
            before: b"not what is stored".to_vec(),
            after: b"whatever".to_vec(),
        };
        let refused = h
            .store
            .rotate_data_key(company, &key, &[stale])
            .await
            .expect_err("a changed secret");
        assert_eq!(
            refused.to_string(),
            "the secret `github-token` changed during the rotation; rotate again"
        );
        let versions: Vec<u32> = h
            .store
            .data_keys(company)
            .await
            .expect("keys")
            .iter()
            .map(|k| k.version)
            .collect();
        assert!(
            !versions.contains(&4),
            "{}: nothing kept: {versions:?}",
            h.label
        );
        let taken = vault.new_data_key(company, 3).expect("data key");
        let raced = h
            .store
            .rotate_data_key(company, &taken, &[])
            .await
            .expect_err("version 3 exists");
        assert_eq!(
            raced.to_string(),
            "another rotation of this company's data key finished first; rotate again"
        );
    }
    on_every_database!(test);
}
