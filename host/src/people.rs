//! The directory of people: one person across GitHub, Jira, Slack and email. Connectors
//! report the identities they see and look people up by any of them.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One identity of a person in one system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
        self.system == other.system && self.match_key() == other.match_key()
    }

    /// The id as identities are compared: lower-cased where the system ignores case.
    pub fn match_key(&self) -> std::borrow::Cow<'_, str> {
        match self.system.as_str() {
            "github" | "email" => self.id.to_lowercase().into(),
            _ => self.id.as_str().into(),
        }
    }
}

/// A person as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Person {
    /// The directory's id for the person.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Every identity of the person, email addresses included.
    pub identities: Vec<Identity>,
}

impl Person {
    /// The person's identities as `system:id`, in order.
    pub fn identity_ids(&self) -> Vec<String> {
        self.identities
            .iter()
            .map(|i| format!("{}:{}", i.system, i.id))
            .collect()
    }
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

/// An admin's adjustment that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdjustError {
    /// No person has that id.
    #[error("no person `{0}` in the directory")]
    UnknownPerson(String),
    /// No person has that identity.
    #[error("no person has the {0} identity `{1}`")]
    UnknownIdentity(String, String),
}

/// A company's directory built from what connectors observe: identities with the same
/// verified email are one person. An admin can move an identity to another person or split
/// it off; identities an admin placed are never moved by later observations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleBook {
    people: Vec<Person>,
    placed_by_admin: Vec<Identity>,
}

impl PeopleBook {
    /// A directory as it was kept: its people, and the identities an admin placed.
    pub fn from_parts(people: Vec<Person>, placed_by_admin: Vec<Identity>) -> Self {
        Self {
            people,
            placed_by_admin,
        }
    }

    /// Everyone in the directory.
    pub fn people(&self) -> &[Person] {
        &self.people
    }

    fn index_of(&self, identity: &Identity) -> Option<usize> {
        self.people
            .iter()
            .position(|p| p.identities.iter().any(|i| i.same_as(identity)))
    }

    fn new_person(&mut self, name: Option<String>, identities: Vec<Identity>) -> usize {
        self.people.push(Person {
            id: crate::store::new_id("per"),
            name,
            identities,
        });
        self.people.len() - 1
    }

    fn take_identity(&mut self, identity: &Identity) -> Option<Identity> {
        let index = self.index_of(identity)?;
        let person = &mut self.people[index];
        let position = person.identities.iter().position(|i| i.same_as(identity))?;
        let taken = person.identities.remove(position);
        if person.identities.is_empty() {
            self.people.remove(index);
        }
        Some(taken)
    }

    /// Takes in one observation: a known identity keeps its person (its name filled in if
    /// missing); a new one joins the person with the same verified email, or becomes a new
    /// person carrying that email.
    pub fn observe(&mut self, observation: &Observation) {
        let email = observation.verified_email.as_ref().map(|address| Identity {
            system: "email".into(),
            id: address.clone(),
        });
        let index = match (self.index_of(&observation.identity), &email) {
            (Some(index), _) => index,
            (None, Some(email)) => match self.index_of(email) {
                Some(index) => {
                    self.people[index]
                        .identities
                        .push(observation.identity.clone());
                    index
                }
                None => self.new_person(
                    observation.name.clone(),
                    vec![observation.identity.clone(), email.clone()],
                ),
            },
            (None, None) => {
                self.new_person(observation.name.clone(), vec![observation.identity.clone()])
            }
        };
        let person = &mut self.people[index];
        if person.name.is_none() {
            person.name.clone_from(&observation.name);
        }
        // A verified email seen on a known identity belongs to its person, unless the
        // address is someone else's already.
        if let Some(email) = email
            && self.index_of(&email).is_none()
        {
            self.people[index].identities.push(email);
        }
    }

    /// An admin moves `identity` to the person `person_id`.
    pub fn link(&mut self, identity: &Identity, person_id: &str) -> Result<(), AdjustError> {
        if !self.people.iter().any(|p| p.id == person_id) {
            return Err(AdjustError::UnknownPerson(person_id.to_owned()));
        }
        let taken = self
            .take_identity(identity)
            .unwrap_or_else(|| identity.clone());
        let index = self
            .people
            .iter()
            .position(|p| p.id == person_id)
            .ok_or_else(|| AdjustError::UnknownPerson(person_id.to_owned()))?;
        self.people[index].identities.push(taken);
        self.mark_placed(identity);
        Ok(())
    }

    /// An admin splits `identity` off into a person of its own; returns that person's id.
    pub fn unlink(&mut self, identity: &Identity) -> Result<String, AdjustError> {
        let taken = self.take_identity(identity).ok_or_else(|| {
            AdjustError::UnknownIdentity(identity.system.clone(), identity.id.clone())
        })?;
        let index = self.new_person(None, vec![taken]);
        self.mark_placed(identity);
        Ok(self.people[index].id.clone())
    }

    fn mark_placed(&mut self, identity: &Identity) {
        if !self.placed_by_admin(identity) {
            self.placed_by_admin.push(identity.clone());
        }
    }

    /// Whether an admin placed this identity.
    pub fn placed_by_admin(&self, identity: &Identity) -> bool {
        self.placed_by_admin.iter().any(|i| i.same_as(identity))
    }
}

impl Directory for PeopleBook {
    fn find(&self, identity: &Identity) -> Option<Person> {
        self.index_of(identity)
            .map(|index| self.people[index].clone())
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

    fn seen(system: &str, id: &str, email: Option<&str>) -> Observation {
        Observation {
            identity: identity(system, id),
            verified_email: email.map(str::to_owned),
            name: Some(id.to_owned()),
        }
    }

    #[test]
    fn identities_with_one_verified_email_are_one_person() {
        let mut book = PeopleBook::default();
        book.observe(&seen("github", "mona", Some("mona@acme.example")));
        book.observe(&seen("slack", "U042", Some("MONA@acme.example")));
        book.observe(&seen("jira", "5b10", None));
        assert_eq!(book.people().len(), 2);
        let mona = book.find(&identity("github", "mona")).expect("mona");
        assert_eq!(
            mona.identity_ids(),
            ["github:mona", "email:mona@acme.example", "slack:U042"]
        );
        assert_eq!(
            book.find(&identity("jira", "5b10"))
                .map(|p| p.identities.len()),
            Some(1)
        );
    }

    #[test]
    fn an_admin_links_and_unlinks_and_observations_do_not_undo_it() {
        let mut book = PeopleBook::default();
        book.observe(&seen("github", "mona", Some("mona@acme.example")));
        book.observe(&seen("jira", "5b10", None));
        let mona = book.find(&identity("github", "mona")).expect("mona").id;
        book.link(&identity("jira", "5b10"), &mona).expect("link");
        assert_eq!(book.people().len(), 1, "the Jira-only person is gone");
        assert_eq!(
            book.find(&identity("jira", "5b10")).map(|p| p.id),
            Some(mona.clone())
        );

        let split = book.unlink(&identity("github", "mona")).expect("unlink");
        assert_ne!(split, mona);
        book.observe(&seen("github", "mona", Some("mona@acme.example")));
        assert_eq!(
            book.find(&identity("github", "mona")).map(|p| p.id),
            Some(split),
            "the admin's split stands"
        );
        assert!(book.placed_by_admin(&identity("github", "MONA")));
        assert_eq!(
            book.link(&identity("slack", "U1"), "person-99"),
            Err(AdjustError::UnknownPerson("person-99".into()))
        );
    }

    #[test]
    fn finds_a_person_by_any_identity() {
        let directory = StaticDirectory::new(vec![Person {
            id: "p1".into(),
            name: Some("Ada".into()),
            identities: vec![
                identity("github", "Ada-L"),
                identity("slack", "U042"),
                identity("email", "ada@acme.example"),
            ],
        }]);
        assert_eq!(
            directory.find(&identity("github", "ada-l")).map(|p| p.id),
            Some("p1".into())
        );
        assert_eq!(
            directory
                .find(&identity("email", "ADA@acme.example"))
                .map(|p| p.id),
            Some("p1".into())
        );
        assert_eq!(
            directory.find(&identity("slack", "u042")),
            None,
            "Slack ids are exact"
        );
        assert_eq!(
            directory.find(&identity("jira", "Ada-L")),
            None,
            "the system must match"
        );
    }
}
