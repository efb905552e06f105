//! A connector built against interface 0.1.0 itself (`wit/0.1.0/`), not through the SDK,
//! which always follows the newest interface: what a connector published before 0.1.1 is.
//! Each sync counts its runs in state, looks octocat up in the directory and emits both.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "connector",
});

use sluice::connector::types::Item;
use sluice::connector::{people, records, state};

/// The state key of the run count.
const RUNS: &str = "runs";

struct Api010;

impl Guest for Api010 {
    fn check() -> Result<(), ConnectorError> {
        Ok(())
    }

    fn sync() -> Result<Summary, ConnectorError> {
        let runs = state::get(RUNS)
            .map(|text| text.parse::<u64>())
            .transpose()
            .map_err(|e| ConnectorError::Internal(format!("state `{RUNS}`: {e}")))?
            .unwrap_or(0)
            + 1;
        state::set(RUNS, &runs.to_string());
        let octocat = people::find(&people::Identity {
            system: "github".into(),
            id: "octocat".into(),
        });
        let record = serde_json::json!({ "runs": runs, "octocat": octocat.map(|p| p.id) });
        records::emit(
            "runs",
            &[Item {
                key: RUNS.into(),
                json: record.to_string(),
            }],
        )
        .map_err(ConnectorError::Internal)?;
        Ok(Summary {
            records: 1,
            note: None,
        })
    }

    fn handle_event(event: Event) -> Result<(), ConnectorError> {
        Err(ConnectorError::Config(format!(
            "this connector handles no events, not `{}`",
            event.kind
        )))
    }
}

export!(Api010);
