//! Which site a browser's request comes from, and whether the session cookie is `Secure`.
//!
//! A browser sends the session cookie with every request to this server, whichever page
//! made it, but names that page's site in `Origin` on every state-changing request. A
//! change signed in with the cookie must come from this server's own pages; scripts use
//! an API token, which no other site's page can send.

use std::net::SocketAddr;

use axum::http::{HeaderMap, Uri, header};
use url::{Host, Url};

use crate::api::ApiError;

/// This server's site, as browsers name it in `Origin`.
#[derive(Debug, Clone, Default)]
pub struct SiteOrigin {
    /// `scheme://host[:port]` of the address users open, when the operator gave it;
    /// otherwise a request's own `Host` is this server's site.
    public: Option<String>,
}

impl SiteOrigin {
    /// The site of `public_url`, the address users open (`--public-url`); none when the
    /// server is reached at the address it listens on.
    pub fn new(public_url: Option<&Url>) -> Self {
        Self {
            public: public_url.map(|url| url.origin().ascii_serialization()),
        }
    }

    /// Refuses a request whose `Origin` names another site. A request without `Origin`
    /// passes: browsers send it on every state-changing request, so only a script can
    /// leave it out, and a script cannot forge the CSRF token either.
    pub fn check(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), ApiError> {
        let Some(sent) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let sent = sent.to_str().unwrap_or_default();
        // A sandboxed page or a redirect across sites sends `null`, an opaque origin,
        // which is nobody's site.
        let named = Url::parse(sent).ok().filter(|url| url.origin().is_tuple());
        let (ours, same) = match &self.public {
            Some(public) => (
                public.clone(),
                named
                    .as_ref()
                    .is_some_and(|url| url.origin().ascii_serialization() == *public),
            ),
            None => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
                    .or_else(|| uri.authority().map(|a| a.as_str().to_owned()));
                // The request's own address, read with the scheme the page named, so
                // that default ports compare equal.
                let same = match (&named, &host) {
                    (Some(url), Some(host)) => Url::parse(&format!("{}://{host}", url.scheme()))
                        .is_ok_and(|ours| ours.origin() == url.origin()),
                    _ => false,
                };
                (
                    host.unwrap_or_else(|| "a host the request does not name".into()),
                    same,
                )
            }
        };
        if same {
            return Ok(());
        }
        Err(ApiError::Forbidden(format!(
            "this request comes from the site `{sent}`, not from this server's own pages \
             (`{ours}`): a change signed in with the session cookie must come from the \
             console; scripts use an API token. Behind a proxy, the operator sets \
             --public-url (SLUICE_PUBLIC_URL) to the address users open"
        )))
    }
}

/// Whether the session cookie is marked `Secure` (sent over HTTPS only): always, unless the
/// operator serves plain HTTP on loopback — `public_url` (the address users open) is
/// `http://` on a loopback host, or, without it, the server listens on a loopback address.
/// `forced` (`--secure-cookies`) marks it `Secure` whatever the addresses.
pub fn secure_cookies(listen: SocketAddr, public_url: Option<&Url>, forced: bool) -> bool {
    if forced {
        return true;
    }
    match public_url {
        Some(url) => {
            let loopback = match url.host() {
                Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                Some(Host::Ipv4(ip)) => ip.is_loopback(),
                Some(Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            let plain_loopback = url.scheme() == "http" && loopback;
            if url.scheme() == "http" && !plain_loopback {
                tracing::warn!(
                    %url,
                    "the public URL is plain HTTP on a host other than loopback: the session \
                     cookie stays Secure, so browsers will not send it there; serve HTTPS \
                     (a proxy in front) and give its https:// address"
                );
            }
            !plain_loopback
        }
        None => !listen.ip().is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        headers
    }

    fn refusal(result: Result<(), ApiError>) -> String {
        match result {
            Err(ApiError::Forbidden(message)) => message,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn without_a_public_url_the_origin_must_match_the_host_asked_for() {
        let site = SiteOrigin::new(None);
        let uri = Uri::from_static("/api/companies");
        let same = headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(site.check(&same, &uri).is_ok());
        assert!(site.check(&headers(&[("host", "a.test")]), &uri).is_ok());
        let other = headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert_eq!(
            refusal(site.check(&other, &uri)),
            "this request comes from the site `https://evil.example`, not from this server's \
             own pages (`127.0.0.1:8080`): a change signed in with the session cookie must \
             come from the console; scripts use an API token. Behind a proxy, the operator \
             sets --public-url (SLUICE_PUBLIC_URL) to the address users open"
        );
        let other_port = headers(&[
            ("origin", "http://127.0.0.1:9999"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(site.check(&other_port, &uri).is_err());
        let opaque = headers(&[("origin", "null"), ("host", "127.0.0.1:8080")]);
        assert!(
            site.check(&opaque, &uri).is_err(),
            "a sandboxed page's `null` is refused"
        );
    }

    #[test]
    fn with_a_public_url_only_its_site_passes() {
        let public = Url::parse("https://sluice.example.com/console").expect("url");
        let site = SiteOrigin::new(Some(&public));
        let uri = Uri::from_static("/api/logout");
        let console = headers(&[
            ("origin", "https://sluice.example.com"),
            ("host", "10.0.0.5:8080"),
        ]);
        assert!(
            site.check(&console, &uri).is_ok(),
            "the proxy's Host does not matter"
        );
        let plain = headers(&[
            ("origin", "http://sluice.example.com"),
            ("host", "sluice.example.com"),
        ]);
        assert!(
            refusal(site.check(&plain, &uri)).contains("(`https://sluice.example.com`)"),
            "another scheme is another site"
        );
    }

    #[test]
    fn cookies_are_secure_unless_plain_http_is_served_on_loopback() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().expect("address");
        let anywhere: SocketAddr = "0.0.0.0:8080".parse().expect("address");
        let url = |text: &str| Url::parse(text).expect("url");
        assert!(!secure_cookies(loopback, None, false));
        assert!(
            secure_cookies(loopback, None, true),
            "--secure-cookies forces it"
        );
        assert!(secure_cookies(anywhere, None, false));
        assert!(!secure_cookies(
            anywhere,
            Some(&url("http://localhost:8080")),
            false
        ));
        assert!(!secure_cookies(
            anywhere,
            Some(&url("http://[::1]:8080")),
            false
        ));
        assert!(secure_cookies(
            loopback,
            Some(&url("https://sluice.example.com")),
            false
        ));
        assert!(secure_cookies(
            loopback,
            Some(&url("http://sluice.example.com")),
            false
        ));
    }
}
