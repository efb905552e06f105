//! Sluice's integration tests: one binary, so the build stays fast.

mod api;
mod cli;
mod copilot;
mod directory;
mod egress;
mod fleet;
mod github;
mod grafana;
mod harness;
mod jira;
mod people;
mod process;
mod queue;
mod sandbox;
mod server;
mod slack;
mod support;
