//! What each fuzz target checks, one function per target. The integration tests replay
//! the seed corpus (`corpus/TARGET/`) through these same functions, so CI runs every
//! check on every seed without libFuzzer.

pub mod checks;
