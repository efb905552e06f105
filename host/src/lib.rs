//! Sluice: a multi-tenant host that runs data connectors as sandboxed WebAssembly
//! components.
//!
//! One module per concern (ARCHITECTURE.md draws the map): [`runtime`] runs components,
//! [`egress`] is their only way out, [`manifest`] reads what a connector asks for,
//! [`secrets`] keeps secret values out of every log line, [`vault`] encrypts stored
//! secrets, [`store`] holds all SQL, [`marketplace`] is the catalogue, [`scheduler`] is the
//! run queue and the schedules, [`worker`] runs one run, [`api`] is the REST API, [`web`] the console's
//! pages and the live log's event stream, [`log_feed`] the broadcast behind it,
//! [`access`] the credentials, and [`cli`] is the `sluice` command.

pub mod access;
pub mod api;
pub mod cli;
pub mod egress;
pub mod hooks;
pub mod log_feed;
pub mod manifest;
pub mod marketplace;
pub mod onboarding;
pub mod people;
pub mod runtime;
pub mod scheduler;
pub mod secrets;
pub mod store;
pub mod vault;
pub mod web;
pub mod worker;
