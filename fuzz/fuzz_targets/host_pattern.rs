//! Fuzzes `sluice_fuzz::checks::host_pattern`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::checks::host_pattern(data));
