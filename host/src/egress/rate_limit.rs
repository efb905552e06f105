//! How long a service asks us to wait, from the headers it signals rate limits with.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// How long to wait before asking again, if this response is a rate limit.
///
/// - `retry-after` (seconds or an HTTP date) on a 429 or 403, as GitHub's secondary limits,
///   Jira and Slack send it;
/// - else `x-ratelimit-remaining: 0` with `x-ratelimit-reset` (epoch seconds), as GitHub's
///   primary limit sends it;
/// - else a bare 429 means a minute.
pub fn wait(status: u16, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if status != 429 && status != 403 {
        return None;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = header("retry-after") {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(when) = httpdate::parse_http_date(value) {
            return Some(when.duration_since(now).unwrap_or_default());
        }
    }
    if header("x-ratelimit-remaining") == Some("0") {
        let reset = header("x-ratelimit-reset")?.parse::<u64>().ok()?;
        let now_secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        // The reset second itself may still be limited: wait until it has passed.
        return Some(Duration::from_secs(reset.saturating_sub(now_secs) + 1));
    }
    (status == 429).then_some(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    reqwest::header::HeaderName::from_static(name),
                    value.parse().expect("a header value"),
                )
            })
            .collect()
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            wait(403, &headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            wait(429, &headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn primary_limit_waits_until_the_reset() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000010"),
        ]);
        assert_eq!(wait(403, &h, now), Some(Duration::from_secs(11)));
    }

    #[test]
    fn a_plain_403_is_not_a_rate_limit() {
        let now = SystemTime::now();
        assert_eq!(
            wait(403, &headers(&[("x-ratelimit-remaining", "4999")]), now),
            None
        );
        assert_eq!(wait(200, &headers(&[("retry-after", "5")]), now), None);
    }
}
