//! One pull request's survey: who is asked what, their answers, and the messages that ask
//! and reveal. Kept in the install's state under `survey:<owner/repo#number>` between the
//! runs that send it and the runs that take each answer, as long as it awaits an answer.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// An author or a reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Wrote the pull request.
    Author,
    /// Reviewed it.
    Reviewer,
}

impl Role {
    /// The question this role is asked.
    pub fn question(self) -> &'static str {
        match self {
            Self::Author => "How much of this pull request was AI-assisted?",
            Self::Reviewer => "How hard was the review?",
        }
    }

    /// The answers offered, as (value, label).
    pub fn options(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Author => &[
                ("none", "None"),
                ("some", "Some"),
                ("most", "Most"),
                ("all", "Nearly all"),
            ],
            Self::Reviewer => &[("easy", "Easy"), ("moderate", "Moderate"), ("hard", "Hard")],
        }
    }

    /// The label of `answer`, when it is one of this role's.
    pub fn label(self, answer: &str) -> Option<&'static str> {
        self.options()
            .iter()
            .find(|(value, _)| *value == answer)
            .map(|(_, label)| *label)
    }
}

/// Someone asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Participant {
    /// Their GitHub login.
    pub login: String,
    /// Author or reviewer.
    pub role: Role,
    /// Their Slack user id, from the directory.
    pub slack_user: String,
    /// The direct-message channel the survey went to.
    pub channel: String,
    /// The survey message's `ts`, which reveals are threaded under.
    pub ts: String,
    /// Their answer, once given.
    pub answer: Option<String>,
}

/// Someone who could not be asked, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unmatched {
    /// Their GitHub login.
    pub login: String,
    /// Author or reviewer.
    pub role: Role,
    /// Why they were not messaged.
    pub reason: String,
}

/// A merged pull request's survey.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Survey {
    /// `owner/repo#number`.
    pub pr: String,
    /// The pull request's title.
    pub title: String,
    /// Its page on GitHub.
    pub url: String,
    /// Who was asked.
    pub participants: Vec<Participant>,
    /// Who could not be.
    pub unmatched: Vec<Unmatched>,
    /// Whether the answers were revealed.
    pub revealed: bool,
}

impl Survey {
    /// Whether the author and at least one reviewer have answered.
    pub fn ready_to_reveal(&self) -> bool {
        let answered = |role| {
            self.participants
                .iter()
                .any(|p| p.role == role && p.answer.is_some())
        };
        answered(Role::Author) && answered(Role::Reviewer)
    }

    /// Whether someone asked has not answered yet: until then a button press can still
    /// come back for this survey.
    pub fn awaits_answers(&self) -> bool {
        self.participants.iter().any(|p| p.answer.is_none())
    }

    /// The record of the `surveys` stream.
    pub fn record(&self) -> Value {
        json!({
            "pr": self.pr,
            "title": self.title,
            "url": self.url,
            "asked": self.participants.iter().map(|p| json!({ "login": p.login, "role": p.role, "slack_user": p.slack_user })).collect::<Vec<_>>(),
            "unmatched": self.unmatched,
        })
    }

    /// The reveal: every answer given so far.
    pub fn reveal_text(&self) -> String {
        let mut text = format!("Answers for {} \"{}\":", self.pr, self.title);
        for p in &self.participants {
            let answer = p
                .answer
                .as_deref()
                .and_then(|a| p.role.label(a))
                .unwrap_or("not answered yet");
            text.push_str(&format!(
                "\n• {} ({}): {} — {}",
                p.login,
                role_name(p.role),
                p.role.question(),
                answer
            ));
        }
        text
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Author => "author",
        Role::Reviewer => "reviewer",
    }
}

/// What a button carries back in its `value`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ButtonValue {
    /// `owner/repo#number`.
    pub pr: String,
    /// The answer chosen.
    pub answer: String,
}

/// The survey message for `role`: the question and a button per answer.
pub fn ask_blocks(pr: &str, title: &str, url: &str, role: Role) -> Value {
    let buttons: Vec<Value> = role
        .options()
        .iter()
        .map(|(value, label)| {
            json!({
                "type": "button",
                "action_id": format!("survey_{value}"),
                "text": { "type": "plain_text", "text": label },
                "value": json!({ "pr": pr, "answer": value }).to_string(),
            })
        })
        .collect();
    json!([
        { "type": "section", "text": { "type": "mrkdwn",
            "text": format!("<{url}|{pr}> *{}* was merged. {}", escape(title), role.question()) } },
        { "type": "actions", "block_id": "survey", "elements": buttons }
    ])
}

/// The message once answered: the question and the answer, without buttons.
pub fn answered_blocks(survey: &Survey, role: Role, label: &str) -> Value {
    json!([
        { "type": "section", "text": { "type": "mrkdwn",
            "text": format!("<{}|{}> *{}*: {} You answered *{label}*. Thank you!", survey.url, survey.pr, escape(&survey.title), role.question()) } }
    ])
}

/// Text for Slack's mrkdwn: `&`, `<` and `>` escaped as Slack asks.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey(answers: &[(Role, Option<&str>)]) -> Survey {
        Survey {
            pr: "acme/api#7".into(),
            title: "Retry <webhooks> & more".into(),
            url: "https://github.com/acme/api/pull/7".into(),
            participants: answers
                .iter()
                .enumerate()
                .map(|(n, (role, answer))| Participant {
                    login: format!("person{n}"),
                    role: *role,
                    slack_user: format!("U{n}"),
                    channel: format!("D{n}"),
                    ts: format!("1.{n}"),
                    answer: answer.map(str::to_owned),
                })
                .collect(),
            unmatched: Vec::new(),
            revealed: false,
        }
    }

    #[test]
    fn answers_are_revealed_once_the_author_and_a_reviewer_answered() {
        use Role::{Author, Reviewer};
        assert!(!survey(&[(Author, Some("most")), (Reviewer, None)]).ready_to_reveal());
        assert!(!survey(&[(Author, None), (Reviewer, Some("hard"))]).ready_to_reveal());
        assert!(!survey(&[(Reviewer, Some("easy")), (Reviewer, Some("hard"))]).ready_to_reveal());
        assert!(
            survey(&[
                (Author, Some("most")),
                (Reviewer, None),
                (Reviewer, Some("hard"))
            ])
            .ready_to_reveal()
        );
    }

    #[test]
    fn a_survey_awaits_answers_until_everyone_asked_has_answered() {
        use Role::{Author, Reviewer};
        assert!(survey(&[(Author, Some("most")), (Reviewer, None)]).awaits_answers());
        assert!(
            survey(&[
                (Author, Some("most")),
                (Reviewer, Some("easy")),
                (Reviewer, None)
            ])
            .awaits_answers(),
            "revealed, but a reviewer may still answer"
        );
        assert!(!survey(&[(Author, Some("most")), (Reviewer, Some("hard"))]).awaits_answers());
        assert!(!survey(&[(Author, Some("none"))]).awaits_answers());
        assert!(!survey(&[]).awaits_answers(), "nobody could be asked");
    }

    #[test]
    fn the_reveal_names_every_answer_and_who_has_not_answered() {
        let text = survey(&[(Role::Author, Some("all")), (Role::Reviewer, None)]).reveal_text();
        assert!(
            text.contains(
                "person0 (author): How much of this pull request was AI-assisted? — Nearly all"
            ),
            "{text}"
        );
        assert!(
            text.contains("person1 (reviewer): How hard was the review? — not answered yet"),
            "{text}"
        );
    }

    #[test]
    fn each_role_takes_only_its_own_answers_and_the_buttons_carry_them() {
        assert_eq!(Role::Author.label("most"), Some("Most"));
        assert_eq!(Role::Author.label("hard"), None);
        assert_eq!(Role::Reviewer.label("hard"), Some("Hard"));
        let blocks = ask_blocks(
            "acme/api#7",
            "Retry <webhooks> & more",
            "https://x",
            Role::Reviewer,
        );
        let buttons = blocks[1]["elements"].as_array().expect("buttons");
        assert_eq!(buttons.len(), 3);
        let value: ButtonValue =
            serde_json::from_str(buttons[2]["value"].as_str().expect("value")).expect("json");
        assert_eq!(
            (value.pr.as_str(), value.answer.as_str()),
            ("acme/api#7", "hard")
        );
        let text = blocks[0]["text"]["text"].as_str().expect("text");
        assert!(
            text.contains("Retry &lt;webhooks&gt; &amp; more"),
            "Slack's escapes: {text}"
        );
    }
}
