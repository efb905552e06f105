//! The fuzz targets' seed corpus (`fuzz/corpus/TARGET/`) replayed through the same checks
//! the targets run, so every check runs on every seed in CI without libFuzzer.

// The checks are the fuzz crate's own file, compiled here too: one copy of each property.
#[path = "../../fuzz/src/checks.rs"]
mod checks;

use std::path::Path;

/// Runs `check` on every seed of `target`; returns how many there were. A seed that
/// breaks a property fails the test with its file name.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus folder") {
        let path = entry.expect("a corpus entry").path();
        let data = std::fs::read(&path).expect("a seed");
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "seed {} breaks the check", path.display());
        seeds += 1;
    }
    seeds
}

#[test]
fn manifest_seeds_pass_the_manifest_check() {
    assert!(replay("manifest", checks::manifest) >= 8);
}

#[test]
fn host_pattern_seeds_pass_the_host_pattern_check() {
    assert!(replay("host_pattern", checks::host_pattern) >= 26);
}

#[test]
fn address_seeds_pass_the_address_check() {
    assert!(replay("address", checks::address) >= 10);
}

#[test]
fn ciphertext_seeds_pass_the_ciphertext_check() {
    assert!(replay("ciphertext", checks::ciphertext) >= 7);
}

#[test]
fn webhook_signature_seeds_pass_the_webhook_signature_check() {
    assert!(replay("webhook_signature", checks::webhook_signature) >= 5);
}
