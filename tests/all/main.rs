//! Sluice's integration tests: one binary, so the build stays fast.

mod api;
mod browser;
mod cli;
mod console;
mod copilot;
mod directory;
mod egress;
mod fleet;
mod github;
mod grafana;
mod harness;
mod jira;
mod keys;
mod live_log;
mod newcomer;
mod operator;
mod people;
mod process;
mod queue;
mod sandbox;
mod secret_binding;
mod server;
mod signin;
mod slack;
mod store;
mod support;
