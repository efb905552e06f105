//! The weekly leaderboard: who answered how many surveys since the last one was posted.
//! Counted in the install's state under `tally`, and cleared when a leaderboard is posted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The state key of the tally.
pub const TALLY: &str = "tally";

/// One person's answers since the last leaderboard.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Count {
    /// Their GitHub login.
    pub login: String,
    /// Answers given.
    pub answers: u64,
}

/// Answers by Slack user id.
pub type Tally = BTreeMap<String, Count>;

/// The leaderboard's text, most answers first (then by login), at most ten lines; `None`
/// when nobody answered.
pub fn text(tally: &Tally) -> Option<String> {
    if tally.is_empty() {
        return None;
    }
    let mut ranked: Vec<(&String, &Count)> = tally.iter().collect();
    ranked.sort_by(|a, b| {
        b.1.answers
            .cmp(&a.1.answers)
            .then(a.1.login.cmp(&b.1.login))
    });
    let total: u64 = tally.values().map(|c| c.answers).sum();
    let mut text = format!("Pull-request survey leaderboard: {total} answers this week.");
    for (place, (user, count)) in ranked.iter().take(10).enumerate() {
        text.push_str(&format!(
            "\n{}. <@{user}> ({}): {} {}",
            place + 1,
            count.login,
            count.answers,
            if count.answers == 1 {
                "answer"
            } else {
                "answers"
            }
        ));
    }
    Some(text)
}
