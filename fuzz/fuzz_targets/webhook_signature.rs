//! Fuzzes `sluice_fuzz::checks::webhook_signature`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::checks::webhook_signature(data));
