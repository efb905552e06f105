//! The directory of people: one person across GitHub, Jira, Slack and email. Connectors
//! report the identities they see and look people up by any of them.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One identity of a person in one system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// `github`, `jira`, `slack`, `email`, …
    pub system: String,
    /// The person's id in that system.
    pub id: String,
}

impl Identity {
    /// Whether two identities are the same: logins and email addresses ignore case, as
    /// GitHub and mail do; other ids are exact.
    pub fn same_as(&self, other: &Identity) -> bool {
        self.system == other.system
            && match self.system.as_str() {
                "github" | "email" => self.id.eq_ignore_ascii_case(&other.id),
                _ => self.id == other.id,
            }
    }
}

/// A person as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The directory's id for the person.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Every identity of the person, email addresses included.
    pub identities: Vec<Identity>,
}

/// An identity a connector reported seeing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// The identity.
    pub identity: Identity,
    /// The email address the service verified for it.
    pub verified_email: Option<String>,
    /// The display name the service shows.
    pub name: Option<String>,
}

/// Looks people up for a run.
pub trait Directory: Send + Sync {
    /// The person who has `identity`.
    fn find(&self, identity: &Identity) -> Option<Person>;
}

/// A directory read from a list: `sluice plugin run --people FILE`, and runs without one.
#[derive(Debug, Clone, Default)]
pub struct StaticDirectory {
    people: Vec<Person>,
}

/// A people file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the people file {path}: {reason}")]
pub struct PeopleFileError {
    path: String,
    reason: String,
}

impl StaticDirectory {
    /// A directory of these people.
    pub fn new(people: Vec<Person>) -> Self {
        Self { people }
    }

    /// Reads a JSON list of people: `[{"id", "name", "identities": [{"system", "id"}]}]`.
    pub fn load(path: &Path) -> Result<Self, PeopleFileError> {
        let error = |reason: String| PeopleFileError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let people = serde_json::from_str(&text).map_err(|e| {
            error(format!(
                "{e}; expected a JSON list of {{\"id\", \"name\", \"identities\": [{{\"system\", \"id\"}}]}}"
            ))
        })?;
        Ok(Self::new(people))
    }
}

impl Directory for StaticDirectory {
    fn find(&self, identity: &Identity) -> Option<Person> {
        self.people
            .iter()
            .find(|person| person.identities.iter().any(|i| i.same_as(identity)))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(system: &str, id: &str) -> Identity {
        Identity {
            system: system.into(),
            id: id.into(),
        }
    }

    #[test]
    fn finds_a_person_by_any_identity() {
        let directory = StaticDirectory::new(vec![Person {
            id: "p1".into(),
            name: Some("Ada".into()),
            identities: vec![identity("github", "Ada-L"), identity("slack", "U042"), identity("email", "ada@acme.example")],
        }]);
        assert_eq!(directory.find(&identity("github", "ada-l")).map(|p| p.id), Some("p1".into()));
        assert_eq!(directory.find(&identity("email", "ADA@acme.example")).map(|p| p.id), Some("p1".into()));
        assert_eq!(directory.find(&identity("slack", "u042")), None, "Slack ids are exact");
        assert_eq!(directory.find(&identity("jira", "Ada-L")), None, "the system must match");
    }
}
