//! Onboarding: a company with its first owner, an owner API token and a one-time password,
//! so a new user is never stuck (`sluice admin bootstrap`).

use crate::access::{TOKEN_PREFIX, hash_password, new_bearer, new_one_time_password};
use crate::store::{Company, Role, Store, TokenEnds, new_id};
use crate::vault::Vault;

/// What onboarding hands over, once.
#[derive(Debug)]
pub struct Onboarded {
    /// The new company.
    pub company: Company,
    /// The owner's user id.
    pub owner_id: String,
    /// An owner API token's value.
    pub token: String,
    /// A password that signs the owner in once.
    pub one_time_password: String,
}

/// Creates `company` with `email` as its owner. Someone who already has an account gets a
/// new one-time password in place of their password.
pub async fn onboard(
    store: &Store,
    vault: &Vault,
    email: &str,
    company: &str,
) -> anyhow::Result<Onboarded> {
    let email = email.trim().to_lowercase();
    if !email.contains('@') {
        anyhow::bail!("`{email}` is not an email address");
    }
    let name = company.trim();
    if name.is_empty() {
        anyhow::bail!("the company needs a name");
    }
    let password = new_one_time_password();
    let hash = hash_password(&password)?;
    let user = match store.user_by_email(&email).await? {
        Some(user) => {
            store.set_password(&user.id, Some(&hash), true).await?;
            user
        }
        None => store.create_user(&email, &hash, true).await?,
    };
    let id = new_id("co");
    let key = vault.new_data_key(&id, 1)?;
    let company = store.create_company(&id, name, &user.id, key).await?;
    let (token, token_hash) = new_bearer(TOKEN_PREFIX);
    let created = store
        .create_token(
            &company.id,
            &user.id,
            "bootstrap",
            Role::Owner,
            &token_hash,
            TokenEnds::default(),
        )
        .await?;
    store
        .audit(&company.id, "cli", "company.bootstrap", &email)
        .await?;
    store
        .audit(&company.id, "cli", "token.create", &created.id)
        .await?;
    Ok(Onboarded {
        company,
        owner_id: user.id,
        token,
        one_time_password: password,
    })
}
