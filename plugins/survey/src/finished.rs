//! The pull requests whose surveys are over. A survey's own state (`survey:<pr>`) is let go
//! once nobody asked can answer any more; this one entry remembers the newest of their
//! pull requests, so a merge delivered again (an admin's replay, a second webhook) still
//! asks nobody twice without keeping an entry per pull request forever.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The state key of the finished pull requests.
pub const FINISHED: &str = "finished";

/// How many finished pull requests are remembered. A replay is an admin's action on a
/// recent delivery, and two thousand surveys are months of merges for most companies;
/// the entry, about 80 KB, is written with every run's state, so it stays small.
pub const REMEMBERED: usize = 2_000;

/// Finished pull requests as `owner/repo#number`, oldest first.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Finished(VecDeque<String>);

impl Finished {
    /// Whether `pr`'s survey is over.
    pub fn contains(&self, pr: &str) -> bool {
        self.0.iter().any(|finished| finished == pr)
    }

    /// Remembers that `pr`'s survey is over, forgetting the oldest beyond [`REMEMBERED`].
    pub fn add(&mut self, pr: &str) {
        if self.contains(pr) {
            return;
        }
        self.0.push_back(pr.to_owned());
        while self.0.len() > REMEMBERED {
            self.0.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_request_is_remembered_once_and_the_oldest_go_beyond_the_bound() {
        let mut finished = Finished::default();
        finished.add("acme/api#1");
        finished.add("acme/api#1");
        assert!(finished.contains("acme/api#1"));
        assert!(!finished.contains("acme/api#2"));
        assert_eq!(finished.0.len(), 1, "remembered once");
        for n in 2..=REMEMBERED + 1 {
            finished.add(&format!("acme/api#{n}"));
        }
        assert_eq!(finished.0.len(), REMEMBERED);
        assert!(!finished.contains("acme/api#1"), "the oldest is forgotten");
        assert!(finished.contains("acme/api#2"));
        assert!(finished.contains(&format!("acme/api#{}", REMEMBERED + 1)));
    }

    #[test]
    fn it_is_kept_as_a_plain_list_of_pull_requests() {
        let mut finished = Finished::default();
        finished.add("acme/api#7");
        let text = serde_json::to_string(&finished).expect("JSON");
        assert_eq!(text, r#"["acme/api#7"]"#);
        let back: Finished = serde_json::from_str(&text).expect("parsed");
        assert!(back.contains("acme/api#7"));
    }
}
