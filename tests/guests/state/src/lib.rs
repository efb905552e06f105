//! Sets, deletes and gets state in the order its configuration says, and notes what each
//! get answered (`[[key, value or null], …]`), so the tests see the run's own view of its
//! state next to what the host commits.

use serde::Deserialize;
use sluice_sdk::{Connector, Result, Summary, config, json, state};

/// One step of a run.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Step {
    Set(String, String),
    Delete(String),
    Get(String),
}

#[derive(Deserialize)]
struct Config {
    steps: Vec<Step>,
}

#[derive(Default)]
struct State;

impl Connector for State {
    fn sync(&mut self) -> Result<Summary> {
        let Config { steps } = config::get()?;
        let mut answers = Vec::new();
        for step in steps {
            match step {
                Step::Set(key, value) => state::set(&key, &value),
                Step::Delete(key) => state::delete(&key),
                Step::Get(key) => {
                    let value = state::get(&key);
                    answers.push(json!([key, value]));
                }
            }
        }
        Ok(Summary::note(json!(answers).to_string()))
    }
}

sluice_sdk::export_connector!(State);
