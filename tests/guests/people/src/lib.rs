//! Exercises the people interface: reports each configured GitHub login as seen, then looks
//! it up and emits whom the directory says it is, with their Slack id.

use serde::Deserialize;
use sluice_sdk::people::{self, Identity};
use sluice_sdk::{Connector, Result, Summary, config, json, records};

#[derive(Deserialize)]
struct Config {
    logins: Vec<String>,
}

#[derive(Default)]
struct People;

impl Connector for People {
    fn sync(&mut self) -> Result<Summary> {
        let Config { logins } = config::get()?;
        for login in logins {
            let github = Identity::github(&login);
            people::observe(
                &github,
                Some(&format!("{login}@acme.example")),
                Some(&login),
            );
            let person = people::find(&github);
            let lookup = json!({
                "person": person.as_ref().map(|p| p.id.clone()),
                "slack": person.as_ref().and_then(|p| p.identity("slack")),
            });
            records::emit_one("lookups", login, &lookup)?;
        }
        Ok(Summary::default())
    }
}

sluice_sdk::export_connector!(People);
