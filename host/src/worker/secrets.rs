//! The secrets a run is given: the company secrets its install maps, opened with the
//! vault under the names the connector requests.

use std::collections::BTreeMap;

use super::internal;
use crate::secrets::SecretSet;
use crate::store::{Install, Store};
use crate::vault::Vault;

/// The secrets an install maps, decrypted, by the names the connector requests; the
/// admin's words for what is missing or cannot be opened.
pub(super) async fn open(
    store: &Store,
    vault: &Vault,
    company: &str,
    install: &Install,
) -> Result<SecretSet, String> {
    // Most runs of a busy host map no secret: the keys are not read for nothing.
    if install.grants.secrets.is_empty() {
        return Ok(SecretSet::new(BTreeMap::new()));
    }
    let ciphertexts = store
        .secret_ciphertexts(company)
        .await
        .map_err(|e| internal(&e))?;
    let keys = store.data_keys(company).await.map_err(|e| internal(&e))?;
    let mut values = BTreeMap::new();
    for (requested, name) in &install.grants.secrets {
        let Some(sealed) = ciphertexts.get(name) else {
            return Err(format!(
                "the install maps the secret `{requested}` to the company secret `{name}`, which does not exist; set it with PUT /api/companies/{company}/secrets/{name}"
            ));
        };
        let value = vault
            .decrypt(company, &keys, name, sealed)
            .map_err(|e| format!("the company secret `{name}` cannot be opened: {e}"))?;
        values.insert(requested.clone(), value.as_str().to_owned());
    }
    Ok(SecretSet::new(values))
}
