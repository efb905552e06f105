//! Which non-public destinations the server's operator lets connectors reach.
//!
//! Anyone who signs in can create a company and administer it, so a company admin cannot
//! be trusted with the host's own network: only the operator opens it, with
//! `sluice serve --allow-private CIDR|HOST:PORT`, and a company's private grant can only
//! narrow what the operator allowed. Cloud metadata services hand out the host's own
//! credentials, so a range never covers them: the operator must name such an address
//! exactly.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::HostPattern;

/// One destination the operator allows on private addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivateEntry {
    /// Every address of a range, such as `10.0.0.0/8`; a bare address is a range of one.
    Range(IpNet),
    /// One host on one port, whatever it resolves to, such as `gitlab.internal:443`.
    Host(HostPattern),
}

/// An `--allow-private` value that is neither a CIDR nor a `HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not a private destination: {reason}; expected a CIDR such as 10.0.0.0/8, an address, or HOST:PORT such as gitlab.internal:443"
)]
pub struct PrivateEntryError {
    value: String,
    reason: String,
}

impl PrivateEntry {
    /// Parses `CIDR`, a bare IP address, or `HOST:PORT`.
    pub fn parse(value: &str) -> Result<Self, PrivateEntryError> {
        let error = |reason: String| PrivateEntryError {
            value: value.to_owned(),
            reason,
        };
        let cidr = value
            .split_once('/')
            .is_some_and(|(addr, _)| addr.parse::<IpAddr>().is_ok());
        if cidr {
            let net: IpNet = value.parse().map_err(|e| error(format!("{e}")))?;
            return Ok(Self::Range(net.trunc()));
        }
        if let Ok(ip) = value.parse::<IpAddr>() {
            return Ok(Self::Range(IpNet::from(ip)));
        }
        let pattern = HostPattern::parse(value).map_err(|e| error(e.to_string()))?;
        if pattern.is_wildcard() {
            return Err(error("name one host, not a wildcard".into()));
        }
        if pattern.port().is_none() {
            return Err(error("a host needs its port".into()));
        }
        Ok(Self::Host(pattern))
    }

    /// Whether this entry lets `host:port` be reached on `ip`; a metadata address only
    /// when the entry names it exactly.
    fn allows(&self, host: &str, port: u16, ip: IpAddr) -> bool {
        match self {
            Self::Range(net) => {
                net.contains(&ip) && (!is_metadata(ip) || net.prefix_len() == net.max_prefix_len())
            }
            Self::Host(pattern) => {
                pattern.matches(host, port, port)
                    && (!is_metadata(ip) || pattern.ip().map(canonical) == Some(ip))
            }
        }
    }
}

impl fmt::Display for PrivateEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Range(net) => write!(f, "{net}"),
            Self::Host(pattern) => write!(f, "{pattern}"),
        }
    }
}

/// Why the operator's list does not let an address be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateRefusal {
    /// No entry covers it.
    NotAllowed,
    /// A cloud metadata address that no entry names exactly.
    Metadata,
}

/// The operator's list of private destinations, and the flag that extends it.
#[derive(Debug, Clone)]
pub struct PrivateReach {
    entries: Vec<PrivateEntry>,
    flag: &'static str,
}

impl PrivateReach {
    /// What `sluice serve --allow-private` allows.
    pub const SERVE_FLAG: &'static str = "sluice serve --allow-private";

    /// `entries`, allowed with `flag` (named in refusals, so they say who can allow more).
    pub fn new(entries: Vec<PrivateEntry>, flag: &'static str) -> Self {
        Self { entries, flag }
    }

    /// Nothing private: a server whose operator allowed no private destination.
    pub fn none() -> Self {
        Self::new(Vec::new(), Self::SERVE_FLAG)
    }

    /// Parses `sluice serve --allow-private` values.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Self, PrivateEntryError> {
        let entries = values
            .into_iter()
            .map(PrivateEntry::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self::new(entries, Self::SERVE_FLAG))
    }

    /// The command line that allows more, such as `sluice serve --allow-private`.
    pub fn flag(&self) -> &'static str {
        self.flag
    }

    /// Whether `host:port` may be reached on the non-public address `ip`.
    pub fn check(&self, host: &str, port: u16, ip: IpAddr) -> Result<(), PrivateRefusal> {
        let ip = canonical(ip);
        if self.entries.iter().any(|e| e.allows(host, port, ip)) {
            Ok(())
        } else if is_metadata(ip) {
            Err(PrivateRefusal::Metadata)
        } else {
            Err(PrivateRefusal::NotAllowed)
        }
    }

    /// Whether a company may grant `pattern` as a private host, or the refusal. An address
    /// is checked now; a name is resolved at run time, so it needs an entry naming it or a
    /// range its addresses may fall in.
    pub fn admits_grant(&self, pattern: &HostPattern) -> Result<(), String> {
        let shown = pattern.to_string();
        if let Some(ip) = pattern.ip() {
            let Some(reason) = super::non_public_reason(ip) else {
                return Ok(());
            };
            let port = pattern.port().unwrap_or(80);
            let host = pattern_host(pattern);
            let subject = format!("`{shown}` is a");
            return self.check(&host, port, ip).map_err(|refusal| {
                let refused = Refused {
                    subject: &subject,
                    reason,
                    host: &host,
                    port,
                    ip,
                };
                self.refusal(refused, refusal)
            });
        }
        let named = self.entries.iter().any(|e| match e {
            PrivateEntry::Host(allowed) => allowed == pattern,
            PrivateEntry::Range(_) => false,
        });
        let ranges = self
            .entries
            .iter()
            .any(|e| matches!(e, PrivateEntry::Range(_)));
        if named || ranges {
            return Ok(());
        }
        let port = pattern.port().unwrap_or(443);
        Err(format!(
            "`{shown}` is not a host the server's operator allows on private addresses; only the server's operator can allow it ({} {}:{port})",
            self.flag,
            pattern_host(pattern),
        ))
    }

    /// The refusal of `host:port` on `ip`, `subject` saying how it got there (such as
    /// "`db.corp` resolves to 10.0.0.5, a") and `reason` what kind of address it is; it
    /// says who can allow it.
    pub fn refusal(&self, refused: Refused<'_>, refusal: PrivateRefusal) -> String {
        let Refused {
            subject,
            reason,
            host,
            port,
            ip,
        } = refused;
        match refusal {
            PrivateRefusal::NotAllowed => format!(
                "{subject} {reason} address; only the server's operator can allow it ({} {host}:{port}); a company's private grant alone does not",
                self.flag
            ),
            PrivateRefusal::Metadata => {
                let exact = match canonical(ip) {
                    IpAddr::V4(v4) => format!("{v4}:{port}"),
                    IpAddr::V6(v6) => format!("[{v6}]:{port}"),
                };
                format!(
                    "{subject} cloud metadata address; only the server's operator can allow it, by naming that address exactly ({} {exact}); a range does not cover it",
                    self.flag
                )
            }
        }
    }
}

/// A destination refused for its address, for [`PrivateReach::refusal`].
#[derive(Debug, Clone, Copy)]
pub struct Refused<'a> {
    /// How it got there: "`10.0.0.5` is a", or "`db.corp` resolves to 10.0.0.5, a".
    pub subject: &'a str,
    /// What kind of address it is, from [`super::non_public_reason`].
    pub reason: &'a str,
    /// The host as the URL names it.
    pub host: &'a str,
    /// The port.
    pub port: u16,
    /// The address.
    pub ip: IpAddr,
}

/// The host part of a pattern, as a URL would show it.
fn pattern_host(pattern: &HostPattern) -> String {
    let shown = pattern.to_string();
    match pattern.port() {
        Some(port) => shown
            .strip_suffix(&format!(":{port}"))
            .unwrap_or(&shown)
            .to_owned(),
        None => shown,
    }
}

/// The IPv4 address an IPv4-mapped IPv6 address stands for, so ranges and metadata rules
/// see one form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Whether `ip` is where a cloud answers for the host's own identity and credentials:
/// all of link-local 169.254.0.0/16 (AWS, Azure, GCP's metadata.google.internal,
/// OpenStack), Alibaba's 100.100.100.200, Oracle's 192.0.0.192, AWS's IPv6 fd00:ec2::254,
/// and those embedded in NAT64 addresses.
pub fn is_metadata(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_metadata_v4(v4),
        IpAddr::V6(v6) => {
            const AWS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
            let [a, b, _, _, _, _, g, h] = v6.segments();
            let nat64 = (a, b) == (0x64, 0xff9b)
                && is_metadata_v4(Ipv4Addr::from((u32::from(g) << 16) | u32::from(h)));
            v6 == AWS_V6 || nat64
        }
    }
}

fn is_metadata_v4(ip: Ipv4Addr) -> bool {
    let octets = ip.octets();
    matches!(
        octets,
        [169, 254, _, _] | [100, 100, 100, 200] | [192, 0, 0, 192]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach(values: &[&str]) -> PrivateReach {
        PrivateReach::parse(values.iter().copied()).expect("valid entries")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an IP address")
    }

    #[test]
    fn cidrs_addresses_and_host_ports_parse() {
        let shown: Vec<String> = [
            "10.1.2.3/8",
            "127.0.0.1",
            "fd12::/16",
            "gitlab.internal:443",
            "[::1]:8080",
        ]
        .into_iter()
        .map(|v| PrivateEntry::parse(v).expect("a valid entry").to_string())
        .collect();
        assert_eq!(
            shown,
            [
                "10.0.0.0/8",
                "127.0.0.1/32",
                "fd12::/16",
                "gitlab.internal:443",
                "[::1]:8080"
            ]
        );
    }

    #[test]
    fn values_that_are_neither_are_refused_precisely() {
        for (value, reason) in [
            ("10.0.0.0/33", "invalid IP address syntax"),
            ("gitlab.internal", "a host needs its port"),
            ("*.corp.internal:443", "name one host, not a wildcard"),
            (
                "http://gitlab.internal:443/",
                "expected a host with an optional port",
            ),
        ] {
            let error = PrivateEntry::parse(value).expect_err(value).to_string();
            assert!(
                error.starts_with(&format!("`{value}` is not a private destination: ")),
                "{error}"
            );
            assert!(error.contains(reason), "{value}: {error}");
        }
    }

    #[test]
    fn a_range_covers_its_addresses_on_any_port() {
        let reach = reach(&["10.0.0.0/8"]);
        assert_eq!(reach.check("10.9.8.7", 22, ip("10.9.8.7")), Ok(()));
        assert_eq!(reach.check("db.corp", 5432, ip("10.0.0.1")), Ok(()));
        assert_eq!(reach.check("db.corp", 443, ip("::ffff:10.0.0.1")), Ok(()));
        assert_eq!(
            reach.check("192.168.1.1", 80, ip("192.168.1.1")),
            Err(PrivateRefusal::NotAllowed)
        );
    }

    #[test]
    fn a_host_entry_covers_that_host_and_port_only() {
        let reach = reach(&["gitlab.internal:443"]);
        assert_eq!(reach.check("gitlab.internal", 443, ip("10.0.0.5")), Ok(()));
        assert_eq!(
            reach.check("gitlab.internal", 80, ip("10.0.0.5")),
            Err(PrivateRefusal::NotAllowed)
        );
        assert_eq!(
            reach.check("other.internal", 443, ip("10.0.0.5")),
            Err(PrivateRefusal::NotAllowed)
        );
    }

    #[test]
    fn metadata_addresses_are_recognised_in_every_form() {
        for text in [
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "192.0.0.192",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_metadata(ip(text)), "{text}");
        }
        for text in [
            "10.0.0.1",
            "127.0.0.1",
            "100.100.100.201",
            "fd00:ec2::255",
            "140.82.112.6",
        ] {
            assert!(!is_metadata(ip(text)), "{text}");
        }
    }

    #[test]
    fn a_range_never_covers_a_metadata_address() {
        let wide = reach(&[
            "0.0.0.0/0",
            "169.254.0.0/16",
            "::/0",
            "metadata.google.internal:80",
        ]);
        for text in ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"] {
            assert_eq!(
                wide.check("metadata.google.internal", 80, ip(text)),
                Err(PrivateRefusal::Metadata),
                "{text}"
            );
        }
        assert_eq!(wide.check("10.0.0.1", 80, ip("10.0.0.1")), Ok(()));
    }

    #[test]
    fn a_metadata_address_named_exactly_is_allowed() {
        let exact = reach(&["169.254.169.254/32", "[fd00:ec2::254]:80"]);
        assert_eq!(
            exact.check("169.254.169.254", 80, ip("169.254.169.254")),
            Ok(())
        );
        assert_eq!(
            exact.check("[fd00:ec2::254]", 80, ip("fd00:ec2::254")),
            Ok(())
        );
        assert_eq!(
            exact.check("[fd00:ec2::254]", 8080, ip("fd00:ec2::254")),
            Err(PrivateRefusal::Metadata)
        );
        let by_port = reach(&["169.254.169.254:80"]);
        assert_eq!(
            by_port.check("169.254.169.254", 80, ip("169.254.169.254")),
            Ok(())
        );
    }

    #[test]
    fn a_company_grant_must_fit_the_operators_list() {
        let pattern = |text: &str| HostPattern::parse(text).expect("a host pattern");
        let none = PrivateReach::none();
        let refused = none
            .admits_grant(&pattern("127.0.0.1:9000"))
            .expect_err("not allowed");
        assert_eq!(
            refused,
            "`127.0.0.1:9000` is a loopback address; only the server's operator can allow it (sluice serve --allow-private 127.0.0.1:9000); a company's private grant alone does not"
        );
        let refused = none
            .admits_grant(&pattern("gitlab.internal:443"))
            .expect_err("not allowed");
        assert_eq!(
            refused,
            "`gitlab.internal:443` is not a host the server's operator allows on private addresses; only the server's operator can allow it (sluice serve --allow-private gitlab.internal:443)"
        );
        assert_eq!(none.admits_grant(&pattern("140.82.112.6")), Ok(()));
        let loopback = reach(&["127.0.0.0/8"]);
        assert_eq!(loopback.admits_grant(&pattern("127.0.0.1:9000")), Ok(()));
        assert_eq!(
            loopback.admits_grant(&pattern("gitlab.internal:443")),
            Ok(())
        );
        let wide = reach(&["169.254.0.0/16"]);
        let refused = wide
            .admits_grant(&pattern("169.254.169.254"))
            .expect_err("metadata");
        assert_eq!(
            refused,
            "`169.254.169.254` is a cloud metadata address; only the server's operator can allow it, by naming that address exactly (sluice serve --allow-private 169.254.169.254:80); a range does not cover it"
        );
    }
}
