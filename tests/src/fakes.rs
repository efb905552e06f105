//! Fakes of the outside services connectors talk to: HTTP servers on 127.0.0.1 that answer
//! like the services' documented APIs, pagination and rate-limit headers included.

pub mod copilot;
pub mod github;
pub mod grafana;
pub mod jira;
pub mod slack;
