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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_answers_first_then_by_login_at_most_ten_and_nothing_when_nobody_answered() {
        assert_eq!(text(&Tally::new()), None);
        let mut tally = Tally::new();
        for (n, answers) in [3, 1, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1].iter().enumerate() {
            tally.insert(
                format!("U{n:02}"),
                Count {
                    login: format!("p{n:02}"),
                    answers: *answers,
                },
            );
        }
        let board = text(&tally).expect("a leaderboard");
        let lines: Vec<&str> = board.lines().collect();
        assert_eq!(
            lines[0],
            "Pull-request survey leaderboard: 17 answers this week."
        );
        assert_eq!(lines[1], "1. <@U00> (p00): 3 answers");
        assert_eq!(lines[2], "2. <@U02> (p02): 3 answers");
        assert_eq!(lines[3], "3. <@U03> (p03): 2 answers");
        assert_eq!(lines[4], "4. <@U01> (p01): 1 answer");
        assert_eq!(lines.len(), 11, "ten places: {board}");
    }
}
