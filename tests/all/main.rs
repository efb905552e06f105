//! Sluice's integration tests: one binary, so the build stays fast.

mod cli;
mod copilot;
mod egress;
mod github;
mod grafana;
mod jira;
mod people;
mod sandbox;
mod slack;
mod support;
