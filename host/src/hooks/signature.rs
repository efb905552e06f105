//! Webhook signatures: GitHub's `X-Hub-Signature-256` and Slack's `v0` signature, both
//! HMAC-SHA256 with a secret the service and the install share, compared in constant time.

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// How far a Slack request's timestamp may be from now: Slack's documented five minutes.
pub const SLACK_WINDOW_SECS: i64 = 300;

/// Why a signature was refused. The text goes to the service's delivery log and to ours;
/// it never contains the body or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The install has no signing secret yet; the text says how an admin sets one.
    #[error("this install's hook has no signing secret yet: {0}")]
    NoSecret(&'static str),
    /// The header that carries the signature is absent.
    #[error("the request has no `{0}` header")]
    Missing(&'static str),
    /// The header is not of the form the service sends.
    #[error("the `{header}` header is not of the form `{form}`")]
    Malformed {
        /// The header.
        header: &'static str,
        /// What it should look like.
        form: &'static str,
    },
    /// The signature does not match the body under the install's secret.
    #[error("the signature does not match the body: the secret differs or the body was changed")]
    Mismatch,
    /// Slack's timestamp is outside the window, so the request may be a replay.
    #[error(
        "the request was signed {0} s away from now, outside Slack's {SLACK_WINDOW_SECS}-second window: it may be a replay"
    )]
    Stale(i64),
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length; this cannot fail.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of every length"),
    }
}

/// Hex digits to bytes, or `None` when the text is not even-length lower- or upper-case hex.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}

/// Checks GitHub's `X-Hub-Signature-256: sha256=<hex>` over the raw body.
pub fn verify_github(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    const HEADER: &str = "X-Hub-Signature-256";
    let header = header.ok_or(SignatureError::Missing(HEADER))?;
    let expected =
        header
            .strip_prefix("sha256=")
            .and_then(hex_bytes)
            .ok_or(SignatureError::Malformed {
                header: HEADER,
                form: "sha256=<64 hex digits>",
            })?;
    let mut mac = mac(secret);
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// Checks Slack's `X-Slack-Signature: v0=<hex>` over `v0:{timestamp}:{body}`, and that
/// `X-Slack-Request-Timestamp` is within five minutes of `now_secs`.
pub fn verify_slack(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    const TIMESTAMP: &str = "X-Slack-Request-Timestamp";
    const SIGNATURE: &str = "X-Slack-Signature";
    let timestamp = timestamp.ok_or(SignatureError::Missing(TIMESTAMP))?;
    let signature = signature.ok_or(SignatureError::Missing(SIGNATURE))?;
    let at: i64 = timestamp.parse().map_err(|_| SignatureError::Malformed {
        header: TIMESTAMP,
        form: "<seconds since 1970>",
    })?;
    let skew = at.saturating_sub(now_secs);
    if skew.abs() > SLACK_WINDOW_SECS {
        return Err(SignatureError::Stale(skew));
    }
    let expected =
        signature
            .strip_prefix("v0=")
            .and_then(hex_bytes)
            .ok_or(SignatureError::Malformed {
                header: SIGNATURE,
                form: "v0=<64 hex digits>",
            })?;
    let mut mac = mac(secret);
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `sha256=<hex>` GitHub would send for `body` under `secret`: what a test or a
/// connector author's script signs with.
pub fn github_signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The `v0=<hex>` Slack would send for `body` at `timestamp` under `secret`.
pub fn slack_signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented example: "Validating webhook deliveries".
    const GITHUB_SECRET: &[u8] = b"It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    /// Slack's documented example: "Verifying requests from Slack".
    const SLACK_SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TIMESTAMP: i64 = 1_531_420_618;
    const SLACK_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn githubs_published_example_verifies_and_signs_the_same() {
        assert_eq!(
            verify_github(GITHUB_SECRET, Some(GITHUB_SIGNATURE), GITHUB_BODY),
            Ok(())
        );
        assert_eq!(
            github_signature(GITHUB_SECRET, GITHUB_BODY),
            GITHUB_SIGNATURE
        );
    }

    #[test]
    fn github_refuses_a_changed_body_another_secret_and_a_malformed_or_missing_header() {
        assert_eq!(
            verify_github(GITHUB_SECRET, Some(GITHUB_SIGNATURE), b"Hello, World?"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github(b"another secret", Some(GITHUB_SIGNATURE), GITHUB_BODY),
            Err(SignatureError::Mismatch)
        );
        let sha1 = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";
        assert!(matches!(
            verify_github(GITHUB_SECRET, Some(sha1), GITHUB_BODY),
            Err(SignatureError::Malformed { .. })
        ));
        assert_eq!(
            verify_github(GITHUB_SECRET, None, GITHUB_BODY),
            Err(SignatureError::Missing("X-Hub-Signature-256"))
        );
        // A signature cut short is a mismatch, not a prefix match.
        assert_eq!(
            verify_github(GITHUB_SECRET, Some(&GITHUB_SIGNATURE[..41]), GITHUB_BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn slacks_published_example_verifies_and_signs_the_same() {
        let at = SLACK_TIMESTAMP.to_string();
        assert_eq!(
            verify_slack(
                SLACK_SECRET,
                Some(&at),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                SLACK_TIMESTAMP + 10
            ),
            Ok(())
        );
        assert_eq!(
            slack_signature(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_BODY),
            SLACK_SIGNATURE
        );
    }

    #[test]
    fn slack_refuses_timestamps_301_seconds_away_either_side_and_accepts_300() {
        let at = SLACK_TIMESTAMP.to_string();
        let check = |now| {
            verify_slack(
                SLACK_SECRET,
                Some(&at),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                now,
            )
        };
        assert_eq!(
            check(SLACK_TIMESTAMP + 301),
            Err(SignatureError::Stale(-301))
        );
        assert_eq!(
            check(SLACK_TIMESTAMP - 301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(check(SLACK_TIMESTAMP + 300), Ok(()));
        assert_eq!(check(SLACK_TIMESTAMP - 300), Ok(()));
    }

    #[test]
    fn slack_refuses_a_changed_body_timestamp_or_secret() {
        let at = SLACK_TIMESTAMP.to_string();
        let now = SLACK_TIMESTAMP;
        let mut tampered = SLACK_BODY.to_vec();
        tampered[6] = b'X';
        assert_eq!(
            verify_slack(
                SLACK_SECRET,
                Some(&at),
                Some(SLACK_SIGNATURE),
                &tampered,
                now
            ),
            Err(SignatureError::Mismatch)
        );
        let other = (SLACK_TIMESTAMP + 1).to_string();
        assert_eq!(
            verify_slack(
                SLACK_SECRET,
                Some(&other),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                now
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(b"wrong", Some(&at), Some(SLACK_SIGNATURE), SLACK_BODY, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(SLACK_SECRET, None, Some(SLACK_SIGNATURE), SLACK_BODY, now),
            Err(SignatureError::Missing("X-Slack-Request-Timestamp"))
        );
        assert!(matches!(
            verify_slack(
                SLACK_SECRET,
                Some("yesterday"),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                now
            ),
            Err(SignatureError::Malformed { .. })
        ));
    }
}
