//! Which hosts a run may reach: what the manifest requests, intersected with what the admin
//! granted; and which of them may be on private addresses.

use std::collections::BTreeMap;
use std::fmt;

use url::{Host, Url};

/// A host a manifest requests or an admin grants: `host`, `host:port`, `[v6]:port` or
/// `*.domain`. Without a port it matches only the scheme's default port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    port: Option<u16>,
}

/// A host pattern that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("`{pattern}` is not a host: {reason}")]
pub struct HostPatternError {
    pattern: String,
    reason: String,
}

impl HostPattern {
    /// Parses `host`, `host:port`, `[v6]:port` or `*.domain`.
    pub fn parse(pattern: &str) -> Result<Self, HostPatternError> {
        let error = |reason: &str| HostPatternError {
            pattern: pattern.to_owned(),
            reason: reason.to_owned(),
        };
        let (wildcard, rest) = match pattern.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        // The port is split off by hand: the URL parser would drop one that equals the
        // scheme's default, and `host:80` must not also match `https://host`.
        let (host_part, port) = match rest.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty() && (!host.contains(':') || host.ends_with(']')) =>
            {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| error("the port must be a number from 0 to 65535"))?;
                (host, Some(port))
            }
            _ => (rest, None),
        };
        // No `%`: escapes have no place in a host name, and decoding them would make the
        // host something other than what the admin wrote.
        let only_a_host = !host_part.is_empty()
            && !host_part.contains(['/', '?', '#', '@', '%'])
            && !host_part.chars().any(char::is_whitespace);
        if !only_a_host {
            return Err(error("expected a host with an optional port, nothing else"));
        }
        // Let the URL parser normalise the host exactly as it normalises request URLs, so
        // `0x7f000001` and `127.0.0.1` are the same host on both sides.
        let url = Url::parse(&format!("http://{host_part}/")).map_err(|e| error(&e.to_string()))?;
        let host = url.host_str().ok_or_else(|| error("no host"))?.to_owned();
        // A `*` the URL parser let through (`*%2E…`, a full-width `＊`) would print as a
        // wildcard, and a stored grant would read it back as one.
        if host.contains('*') {
            return Err(error(
                "`*` may only begin a wildcard, as in `*.example.com`",
            ));
        }
        if wildcard && !matches!(url.host(), Some(Host::Domain(_))) {
            return Err(error("a wildcard needs a domain name after `*.`"));
        }
        Ok(Self {
            host: if wildcard { format!("*.{host}") } else { host },
            port,
        })
    }

    /// The host and explicit port of a URL.
    pub fn from_url(url: &Url) -> Result<Self, HostPatternError> {
        let refused = |reason: &str| HostPatternError {
            pattern: url.to_string(),
            reason: reason.into(),
        };
        let host = url
            .host_str()
            .ok_or_else(|| refused("the URL has no host"))?;
        // Only a pattern may be a wildcard; a URL's host is one host.
        if host.contains('*') {
            return Err(refused("a URL's host cannot hold `*`"));
        }
        Ok(Self {
            host: host.to_owned(),
            port: url.port(),
        })
    }

    /// Whether a request to `host` (as the URL parser normalised it) on `port` matches,
    /// `default_port` being its scheme's.
    pub fn matches(&self, host: &str, port: u16, default_port: u16) -> bool {
        let host_matches = match self.host.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
            None => self.host == host,
        };
        host_matches && self.port.unwrap_or(default_port) == port
    }
}

impl HostPattern {
    /// The explicit port, if the pattern names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether the pattern is `*.domain`.
    pub fn is_wildcard(&self) -> bool {
        self.host.starts_with("*.")
    }

    /// The address, when the host is an IP address rather than a name.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()
    }

    /// Whether every host this pattern matches is also one `wider` matches: how a grant
    /// is checked against what the manifest requests.
    pub fn within(&self, wider: &HostPattern) -> bool {
        if self == wider {
            return true;
        }
        if self.port != wider.port {
            return false;
        }
        let Some(domain) = wider.host.strip_prefix("*.") else {
            return false;
        };
        let host = self.host.strip_prefix("*.").unwrap_or(&self.host);
        host.strip_suffix(domain)
            .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1)
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// What an admin granted an install: hosts it may reach, the exact `host:port`s it may
/// reach even when they resolve to private addresses, and where its secrets may go when
/// narrower than its manifest says.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Hosts the install may reach on public addresses.
    pub hosts: Vec<HostPattern>,
    /// Hosts the install may reach on private addresses too (self-hosted services, test
    /// fakes), as far as the server's operator allows those addresses. A private grant is
    /// also a host grant.
    pub private_hosts: Vec<HostPattern>,
    /// For a secret, the hosts it may be sent to when the admin narrowed them; a secret
    /// absent here goes to every host its manifest binds it to.
    pub secret_hosts: BTreeMap<String, Vec<HostPattern>>,
}

/// The hosts one run may reach.
#[derive(Debug, Clone)]
pub struct Allowlist {
    requested: Vec<HostPattern>,
    grants: Grants,
}

/// Whether a destination is allowed, and on which addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Only public addresses.
    PublicOnly,
    /// Any address the server's operator allows: the admin granted this exact host:port
    /// as private.
    AnyAddress,
}

impl Allowlist {
    /// The manifest's requested hosts intersected with the grants.
    pub fn new(requested: Vec<HostPattern>, grants: Grants) -> Self {
        Self { requested, grants }
    }

    /// Whether a request to `host:port` may go out, or why not.
    pub fn check(&self, host: &str, port: u16, default_port: u16) -> Result<Reach, String> {
        let shown = if port == default_port {
            host.to_owned()
        } else {
            format!("{host}:{port}")
        };
        if !self
            .requested
            .iter()
            .any(|p| p.matches(host, port, default_port))
        {
            let requested: Vec<String> = self.requested.iter().map(ToString::to_string).collect();
            return Err(format!(
                "`{shown}` is not among the hosts this connector's manifest requests ({})",
                if requested.is_empty() {
                    "none".to_owned()
                } else {
                    requested.join(", ")
                }
            ));
        }
        let exact_private = self
            .grants
            .private_hosts
            .iter()
            .any(|p| p.matches(host, port, default_port));
        if exact_private {
            return Ok(Reach::AnyAddress);
        }
        if self
            .grants
            .hosts
            .iter()
            .any(|p| p.matches(host, port, default_port))
        {
            return Ok(Reach::PublicOnly);
        }
        Err(format!(
            "`{shown}` was not granted to this install; an admin grants it with `--allow-host {shown}` (or in the install's grants)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> HostPattern {
        HostPattern::parse(text).expect("a host pattern")
    }

    #[test]
    fn a_grant_fits_a_request_only_when_it_is_narrower() {
        assert!(pattern("api.github.com").within(&pattern("api.github.com")));
        assert!(pattern("acme.atlassian.net").within(&pattern("*.atlassian.net")));
        assert!(pattern("*.eu.atlassian.net").within(&pattern("*.atlassian.net")));
        assert!(!pattern("*.atlassian.net").within(&pattern("acme.atlassian.net")));
        assert!(!pattern("atlassian.net").within(&pattern("*.atlassian.net")));
        assert!(!pattern("api.github.com:8443").within(&pattern("api.github.com")));
        assert!(!pattern("evil.com").within(&pattern("api.github.com")));
    }

    #[test]
    fn odd_spellings_normalise_to_the_same_host() {
        assert_eq!(pattern("0x7f000001:80").to_string(), "127.0.0.1:80");
        assert_eq!(pattern("API.GitHub.com").to_string(), "api.github.com");
        assert_eq!(pattern("[::1]:8080").to_string(), "[::1]:8080");
    }

    #[test]
    fn ports_must_match_and_default_to_the_scheme() {
        assert!(pattern("api.github.com").matches("api.github.com", 443, 443));
        assert!(!pattern("api.github.com").matches("api.github.com", 8443, 443));
        assert!(pattern("127.0.0.1:9000").matches("127.0.0.1", 9000, 80));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let p = pattern("*.atlassian.net");
        assert!(p.matches("acme.atlassian.net", 443, 443));
        assert!(!p.matches("atlassian.net", 443, 443));
        assert!(!p.matches("evilatlassian.net", 443, 443));
    }

    #[test]
    fn the_allowlist_is_request_intersect_grant() {
        let allowlist = Allowlist::new(
            vec![pattern("api.github.com"), pattern("127.0.0.1:9000")],
            Grants {
                hosts: vec![pattern("api.github.com"), pattern("example.com")],
                private_hosts: vec![pattern("127.0.0.1:9000")],
                ..Grants::default()
            },
        );
        assert_eq!(
            allowlist.check("api.github.com", 443, 443),
            Ok(Reach::PublicOnly)
        );
        assert_eq!(
            allowlist.check("127.0.0.1", 9000, 80),
            Ok(Reach::AnyAddress)
        );
        let refused = allowlist
            .check("example.com", 443, 443)
            .expect_err("not requested");
        assert!(
            refused.contains("not among the hosts this connector's manifest requests"),
            "{refused}"
        );
        let empty = Allowlist::new(vec![pattern("api.github.com")], Grants::default());
        let refused = empty
            .check("api.github.com", 443, 443)
            .expect_err("not granted");
        assert!(
            refused.contains("was not granted to this install"),
            "{refused}"
        );
    }
}
