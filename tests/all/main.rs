//! Sluice's integration tests: one binary, so the build stays fast.

mod egress;
mod sandbox;
mod support;
