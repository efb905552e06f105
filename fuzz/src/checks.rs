//! The properties the fuzz targets check. Each takes any bytes and panics only when a
//! property breaks: input from outside gets an answer or a precise error, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sluice::egress::{HostPattern, PrivateEntry, non_public_reason};
use sluice::manifest::Manifest;
use sluice::vault::{SecretKey, Vault};

/// A manifest parses or is refused with a message; one that parses resolves its hosts and
/// secret bindings for an empty configuration, and compiles its schema, without panicking.
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Manifest::from_toml(text) {
        Ok(manifest) => {
            let config = serde_json::json!({});
            let _ = manifest.requested_hosts(&config);
            let _ = manifest.secret_bindings(&config);
            let _ = manifest.config_validator();
        }
        Err(error) => assert!(!error.to_string().is_empty(), "an error says what is wrong"),
    }
}

/// A host pattern or private destination that parses prints as text that parses back to
/// the same pattern: what an admin granted is what is stored and shown.
pub fn host_pattern(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pattern) = HostPattern::parse(text) {
        let printed = pattern.to_string();
        match HostPattern::parse(&printed) {
            Ok(again) => assert_eq!(again, pattern, "`{text}` printed as `{printed}`"),
            Err(error) => panic!("`{text}` printed as `{printed}`, which is refused: {error}"),
        }
    }
    if let Ok(entry) = PrivateEntry::parse(text) {
        let printed = entry.to_string();
        match PrivateEntry::parse(&printed) {
            Ok(again) => assert_eq!(again, entry, "`{text}` printed as `{printed}`"),
            Err(error) => panic!("`{text}` printed as `{printed}`, which is refused: {error}"),
        }
    }
}

/// Every spelling of an address gets one verdict: an IPv4 address and its IPv4-mapped
/// IPv6 form are public or not together, and an IPv6 address that embeds an IPv4 one
/// (NAT64, 6to4, IPv4-compatible) is never public. The first 4 and 16 bytes of `data`
/// (zero-padded) are the addresses.
pub fn address(data: &[u8]) {
    let mut bytes = [0u8; 16];
    for (slot, byte) in bytes.iter_mut().zip(data) {
        *slot = *byte;
    }
    let v4 = Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]);
    let public_v4 = non_public_reason(IpAddr::V4(v4)).is_none();
    let public_mapped = non_public_reason(IpAddr::V6(v4.to_ipv6_mapped())).is_none();
    assert_eq!(public_v4, public_mapped, "{v4} and its mapped form");
    let v6 = Ipv6Addr::from(bytes);
    let segments = v6.segments();
    let embeds_v4 = segments[..2] == [0x64, 0xff9b]
        || segments[0] == 0x2002
        || segments[..6] == [0, 0, 0, 0, 0, 0];
    if embeds_v4 {
        assert!(
            non_public_reason(IpAddr::V6(v6)).is_some(),
            "{v6} embeds an IPv4 address"
        );
    }
}

/// A fixed master key, base64: the fuzzer explores ciphertexts, not keys.
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Bytes the vault did not seal are refused, and a sealed value decrypts only while
/// untouched: `data` XORed into a real ciphertext leaves it decrypting only when that
/// changes no byte.
pub fn ciphertext(data: &[u8]) {
    let master = SecretKey::from_base64(MASTER_KEY).expect("the fixed master key");
    let vault = Vault::new(1, master);
    let keys = [vault.new_data_key("co_fuzz", 1).expect("a data key")];
    assert!(
        vault.decrypt("co_fuzz", &keys, "token", data).is_err(),
        "bytes the vault never sealed decrypted"
    );
    let sealed = vault
        .encrypt("co_fuzz", &keys, "token", "s3cret-value")
        .expect("sealed");
    let mut changed = sealed.clone();
    let len = changed.len();
    for (i, byte) in data.iter().enumerate() {
        changed[i % len] ^= byte;
    }
    let opened = vault.decrypt("co_fuzz", &keys, "token", &changed);
    if changed == sealed {
        assert_eq!(opened.as_deref().map(String::as_str), Ok("s3cret-value"));
    } else {
        assert!(opened.is_err(), "a changed ciphertext decrypted");
    }
}

/// A webhook's signature check answers any header and body without panicking; a body
/// signed with the hook's secret verifies, and the same signature over a body changed in one
/// byte, or a Slack signature a second past the five-minute window, does not. The first 16
/// bytes of `data` (or fewer) are the secret, the rest the body.
pub fn webhook_signature(data: &[u8]) {
    use sluice::hooks::{
        SignatureError, github_signature, slack_signature, verify_github, verify_slack,
    };
    let (secret, body) = data.split_at(data.len().min(16));
    let text = String::from_utf8_lossy(body);
    let _ = verify_github(secret, Some(&text), body);
    let _ = verify_slack(secret, Some(&text), Some(&text), body, 1_700_000_000);
    let signed = github_signature(secret, body);
    assert_eq!(verify_github(secret, Some(&signed), body), Ok(()));
    let at = 1_700_000_000;
    let slack = slack_signature(secret, at, body);
    let stamp = at.to_string();
    assert_eq!(
        verify_slack(secret, Some(&stamp), Some(&slack), body, at),
        Ok(())
    );
    assert!(matches!(
        verify_slack(secret, Some(&stamp), Some(&slack), body, at + 301),
        Err(SignatureError::Stale(_))
    ));
    if let Some(first) = body.first() {
        let mut changed = body.to_vec();
        changed[0] = first ^ 1;
        assert_eq!(
            verify_github(secret, Some(&signed), &changed),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(secret, Some(&stamp), Some(&slack), &changed, at),
            Err(SignatureError::Mismatch)
        );
    }
}
