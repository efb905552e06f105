//! The pull-request survey connector: GitHub's `pull_request` and `pull_request_review`
//! events and Slack's `block_actions` interactions in, Slack messages out.
//!
//! A merged pull request → its author and reviewers are looked up in the company's
//! directory by GitHub login → each with a Slack identity gets the survey as a direct
//! message with buttons → a button press comes back as an interaction → the answer is
//! kept as a record and the message updated → once the author and a reviewer have
//! answered, every participant sees all answers in their thread. Reviewers are those
//! whose reviews arrived before the merge (`pull_request_review`) and those still
//! requested at the merge. A pull request is surveyed once, however often its merge is
//! delivered. `sync`, on the install's schedule, posts the week's leaderboard.
//!
//! State: `reviewers:<pr>` until the merge, `survey:<pr>` while someone asked has not
//! answered, then only the pull request's name in `finished`.

mod finished;
mod leaderboard;
mod survey;

use serde::Deserialize;
use serde_json::{Value, json};
use sluice_sdk::people::{self, Identity};
use sluice_sdk::{Connector, Error, Event, Result, Summary, config, log, records, state};

use finished::{FINISHED, Finished};
use leaderboard::{Count, TALLY, Tally};
use sluice_slack_web::Slack;
use survey::{ButtonValue, Participant, Role, Survey, Unmatched};

/// What an admin configures.
#[derive(Deserialize)]
struct Config {
    #[serde(default = "default_api_base_url")]
    slack_api_base_url: String,
    #[serde(default)]
    leaderboard_channel: Option<String>,
}

fn default_api_base_url() -> String {
    "https://slack.com/api".to_owned()
}

fn config() -> Result<Config> {
    config::get()
}

/// The state key of a pull request's survey.
fn survey_key(pr: &str) -> String {
    format!("survey:{pr}")
}

/// The state key of the reviewers seen before a pull request's merge.
fn reviewers_key(pr: &str) -> String {
    format!("reviewers:{pr}")
}

/// The connector.
#[derive(Default)]
struct SurveyConnector;

impl Connector for SurveyConnector {
    fn check(&mut self) -> Result<()> {
        let slack = Slack::new(&config()?.slack_api_base_url);
        let me = slack.call("auth.test", slack.get("auth.test"))?;
        log::info!("connected to Slack workspace {} as {}", me["team"], me["user"]; team = me["team"]);
        Ok(())
    }

    fn sync(&mut self) -> Result<Summary> {
        let config = config()?;
        let Some(channel) = config.leaderboard_channel else {
            return Ok(Summary::note(
                "no leaderboard_channel is configured, so no leaderboard was posted",
            ));
        };
        let tally: Tally = state::get_json(TALLY)?.unwrap_or_default();
        let Some(text) = leaderboard::text(&tally) else {
            return Ok(Summary::note(
                "nobody answered a survey since the last leaderboard",
            ));
        };
        Slack::new(&config.slack_api_base_url).post_message(&channel, &text, None, None)?;
        state::set_json(TALLY, &Tally::new())?;
        log::info!("posted the leaderboard of {} people to {channel}", tally.len(); people = tally.len());
        Ok(Summary::note(format!(
            "leaderboard of {} people posted",
            tally.len()
        )))
    }

    fn handle_event(&mut self, event: Event) -> Result<()> {
        match event.kind.as_str() {
            "github.pull_request" => pull_request(&event.payload()?),
            "github.pull_request_review" => review(&event.payload()?),
            "slack.block_actions" => button(&event.payload()?),
            other => Err(Error::Config(format!(
                "the survey does not handle `{other}` events"
            ))),
        }
    }
}

fn text_at<'a>(value: &'a Value, pointer: &str) -> Result<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Upstream(format!("the event has no `{pointer}`")))
}

/// `owner/repo#number` of a pull-request event.
fn pr_id(payload: &Value) -> Result<String> {
    let repo = text_at(payload, "/repository/full_name")?;
    let number = payload
        .pointer("/pull_request/number")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::Upstream("the event has no `/pull_request/number`".into()))?;
    Ok(format!("{repo}#{number}"))
}

/// A review submitted before the merge: its author is a reviewer to survey.
fn review(payload: &Value) -> Result<()> {
    if payload.get("action").and_then(Value::as_str) != Some("submitted") {
        return Ok(());
    }
    let pr = pr_id(payload)?;
    let reviewer = text_at(payload, "/review/user/login")?;
    let author = text_at(payload, "/pull_request/user/login")?;
    if reviewer == author {
        return Ok(());
    }
    let mut reviewers: Vec<String> = state::get_json(&reviewers_key(&pr))?.unwrap_or_default();
    if !reviewers.iter().any(|r| r == reviewer) {
        reviewers.push(reviewer.to_owned());
        state::set_json(&reviewers_key(&pr), &reviewers)?;
        log::info!("{reviewer} reviewed {pr}"; pr = pr);
    }
    Ok(())
}

/// A pull request closed: when merged and not yet surveyed, its people are asked.
fn pull_request(payload: &Value) -> Result<()> {
    let merged = payload.get("action").and_then(Value::as_str) == Some("closed")
        && payload
            .pointer("/pull_request/merged")
            .and_then(Value::as_bool)
            == Some(true);
    if !merged {
        return Ok(());
    }
    let pr = pr_id(payload)?;
    let finished: Finished = state::get_json(FINISHED)?.unwrap_or_default();
    if state::get(&survey_key(&pr)).is_some() || finished.contains(&pr) {
        log::info!("{pr} was already surveyed; nobody is asked twice"; pr = pr);
        return Ok(());
    }
    let title = text_at(payload, "/pull_request/title")?.to_owned();
    let url = text_at(payload, "/pull_request/html_url")?.to_owned();
    let author = text_at(payload, "/pull_request/user/login")?.to_owned();
    let mut people = vec![(author.clone(), Role::Author)];
    let seen: Vec<String> = state::get_json(&reviewers_key(&pr))?.unwrap_or_default();
    // A pull request is merged once: from here on its survey names its reviewers.
    state::delete(&reviewers_key(&pr));
    let requested = payload
        .pointer("/pull_request/requested_reviewers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("login").and_then(Value::as_str).map(str::to_owned));
    for login in seen.into_iter().chain(requested) {
        if login != author && !people.iter().any(|(l, _)| *l == login) {
            people.push((login, Role::Reviewer));
        }
    }
    let slack = Slack::new(&config()?.slack_api_base_url);
    let mut survey = Survey {
        pr: pr.clone(),
        title,
        url,
        participants: Vec::new(),
        unmatched: Vec::new(),
        revealed: false,
    };
    for (login, role) in people {
        match ask(&slack, &survey, &login, role) {
            Ok(participant) => survey.participants.push(participant),
            Err(reason) => {
                log::warn!("{login} ({pr}) was not asked: {reason}"; login = login);
                survey.unmatched.push(Unmatched {
                    login,
                    role,
                    reason,
                });
            }
        }
    }
    records::emit_one("surveys", &pr, &survey.record())?;
    keep(&survey)?;
    log::info!(
        "{pr}: asked {}, could not ask {}",
        survey.participants.len(),
        survey.unmatched.len();
        pr = pr
    );
    Ok(())
}

/// Finds `login` in the directory and sends them the survey; why not, when it could not.
fn ask(
    slack: &Slack,
    survey: &Survey,
    login: &str,
    role: Role,
) -> std::result::Result<Participant, String> {
    let person = people::find(&Identity::github(login)).ok_or_else(|| {
        "their GitHub login is not in the company's directory of people".to_owned()
    })?;
    let slack_user = person.identity("slack").ok_or_else(|| {
        format!(
            "{} is in the directory (person {}) but has no Slack identity",
            person.name.as_deref().unwrap_or(login),
            person.id
        )
    })?;
    let blocks = survey::ask_blocks(&survey.pr, &survey.title, &survey.url, role);
    let text = format!("{} was merged. {}", survey.pr, role.question());
    let (channel, ts) = slack
        .post_message(slack_user, &text, Some(blocks), None)
        .map_err(|e| format!("Slack did not take the message: {e}"))?;
    Ok(Participant {
        login: login.to_owned(),
        role,
        slack_user: slack_user.to_owned(),
        channel,
        ts,
        answer: None,
    })
}

/// A survey button pressed: the answer is kept, the message updated, and the answers
/// revealed once the author and a reviewer have answered.
fn button(payload: &Value) -> Result<()> {
    let user = text_at(payload, "/user/id")?;
    let Some(action) = payload
        .get("actions")
        .and_then(Value::as_array)
        .and_then(|actions| actions.first())
    else {
        return Err(Error::Upstream("the interaction has no `actions`".into()));
    };
    let action_id = action
        .get("action_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !action_id.starts_with("survey_") {
        log::debug!("ignoring the action `{action_id}`, not a survey's");
        return Ok(());
    }
    let value: ButtonValue = serde_json::from_str(text_at(action, "/value")?).map_err(|e| {
        Error::Upstream(format!("a survey button's value is not the survey's: {e}"))
    })?;
    let key = survey_key(&value.pr);
    let Some(mut survey) = state::get_json::<Survey>(&key)? else {
        let finished: Finished = state::get_json(FINISHED)?.unwrap_or_default();
        if finished.contains(&value.pr) {
            log::info!("{user} answered {} again after everyone asked had answered", value.pr; pr = value.pr);
        } else {
            log::warn!("an answer came for {}, which was never surveyed", value.pr; pr = value.pr);
        }
        return Ok(());
    };
    let Some(index) = survey
        .participants
        .iter()
        .position(|p| p.slack_user == user)
    else {
        log::warn!("{user} answered {}'s survey but was not asked", value.pr; pr = value.pr);
        return Ok(());
    };
    let participant = survey.participants[index].clone();
    if participant.answer.is_some() {
        log::info!("{} already answered {}", participant.login, value.pr; pr = value.pr);
        return Ok(());
    }
    let Some(label) = participant.role.label(&value.answer) else {
        log::warn!(
            "`{}` is not an answer to the {:?}'s question",
            value.answer,
            participant.role
        );
        return Ok(());
    };
    survey.participants[index].answer = Some(value.answer.clone());
    records::emit_one(
        "survey_responses",
        format!("{}/{}", value.pr, participant.login),
        &json!({
            "pr": value.pr,
            "login": participant.login,
            "slack_user": participant.slack_user,
            "role": participant.role,
            "question": participant.role.question(),
            "answer": value.answer,
            "answered_at": action.get("action_ts"),
        }),
    )?;
    let slack = Slack::new(&config()?.slack_api_base_url);
    let text = format!(
        "{} {} You answered {label}.",
        survey.pr,
        participant.role.question()
    );
    slack.update_message(
        &participant.channel,
        &participant.ts,
        &text,
        survey::answered_blocks(&survey, participant.role, label),
    )?;
    // Everyone sees the reveal once; whoever answers after it sees it in their own thread.
    let threads = |p: &Participant| (p.channel.clone(), p.ts.clone());
    let reveal_to: Vec<(String, String)> = if survey.revealed {
        vec![threads(&survey.participants[index])]
    } else if survey.ready_to_reveal() {
        survey
            .participants
            .iter()
            .filter(|p| p.answer.is_some())
            .map(threads)
            .collect()
    } else {
        Vec::new()
    };
    let reveal = survey.reveal_text();
    for (channel, ts) in &reveal_to {
        slack.post_message(channel, &reveal, None, Some(ts))?;
    }
    if !reveal_to.is_empty() {
        survey.revealed = true;
        log::info!("{}: answers revealed in {} threads", survey.pr, reveal_to.len(); pr = survey.pr);
    }
    let mut tally: Tally = state::get_json(TALLY)?.unwrap_or_default();
    let count = tally
        .entry(participant.slack_user.clone())
        .or_insert_with(|| Count {
            login: participant.login.clone(),
            answers: 0,
        });
    count.answers += 1;
    state::set_json(TALLY, &tally)?;
    keep(&survey)
}

/// Keeps `survey` while someone asked may still answer; once nobody can, only that its pull
/// request was surveyed is kept, so a survey that is over leaves no entry of its own.
///
/// That moment, not the leaderboard's: every press after it is by someone who already
/// answered, and the reveal went out if it ever will; whereas the leaderboard clears a
/// count of the week's answers, and a survey still waiting for someone must take their
/// answer whatever week it comes in.
fn keep(survey: &Survey) -> Result<()> {
    let key = survey_key(&survey.pr);
    if survey.awaits_answers() {
        return state::set_json(&key, survey);
    }
    let mut finished: Finished = state::get_json(FINISHED)?.unwrap_or_default();
    finished.add(&survey.pr);
    state::set_json(FINISHED, &finished)?;
    state::delete(&key);
    Ok(())
}

sluice_sdk::export_connector!(SurveyConnector);
