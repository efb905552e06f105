//! The company's directory of people: one person across GitHub, Jira, Slack and email.
//!
//! ```ignore
//! people::observe(&Identity::github(&login), Some(&email), Some(&name));
//! let slack_user = people::find(&Identity::github("octocat"))
//!     .and_then(|person| person.identity("slack").map(str::to_owned));
//! ```

use crate::bindings::sluice::connector::people as host;

/// One identity of a person in one system.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The system: `github`, `jira`, `slack`, `email`, …
    pub system: String,
    /// The person's id in that system.
    pub id: String,
}

impl Identity {
    /// An identity in any system.
    pub fn new(system: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            system: system.into(),
            id: id.into(),
        }
    }

    /// A GitHub login.
    pub fn github(login: impl Into<String>) -> Self {
        Self::new("github", login)
    }

    /// A Jira account id.
    pub fn jira(account_id: impl Into<String>) -> Self {
        Self::new("jira", account_id)
    }

    /// A Slack user id.
    pub fn slack(user_id: impl Into<String>) -> Self {
        Self::new("slack", user_id)
    }

    /// An email address.
    pub fn email(address: impl Into<String>) -> Self {
        Self::new("email", address)
    }

    fn to_host(&self) -> host::Identity {
        host::Identity {
            system: self.system.clone(),
            id: self.id.clone(),
        }
    }
}

/// A person as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The directory's id for the person.
    pub id: String,
    /// Display name, if known.
    pub name: Option<String>,
    /// Every identity the directory knows for the person.
    pub identities: Vec<Identity>,
}

impl Person {
    /// The person's id in `system`, if the directory knows one.
    pub fn identity(&self, system: &str) -> Option<&str> {
        self.identities
            .iter()
            .find(|i| i.system == system)
            .map(|i| i.id.as_str())
    }
}

/// Reports an identity this connector saw, with the email the service verified for it.
pub fn observe(identity: &Identity, verified_email: Option<&str>, name: Option<&str>) {
    host::observe(&identity.to_host(), verified_email, name);
}

/// The person who has `identity`, if the directory knows them.
pub fn find(identity: &Identity) -> Option<Person> {
    host::find(&identity.to_host()).map(|person| Person {
        id: person.id,
        name: person.name,
        identities: person
            .identities
            .into_iter()
            .map(|i| Identity {
                system: i.system,
                id: i.id,
            })
            .collect(),
    })
}
