//! Which IP addresses a connector may reach without a private-host grant.
//!
//! Everything that is not a globally routable unicast address is private here: a plugin
//! that could reach loopback, the LAN or a cloud metadata service could read what the host
//! itself can.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not public, or `None` if it is.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() || a == 0 => "unspecified (\"this network\")",
        _ if ip.is_private() => "private network",
        (169, 254, _) => "link-local (includes the cloud metadata service 169.254.169.254)",
        (100, 64..=127, _) => "carrier-grade NAT",
        (192, 0, 0) => "IETF protocol assignments",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (192, 88, 99) => "6to4 relay anycast",
        _ if ip.is_multicast() => "multicast",
        _ if a >= 240 => "reserved or broadcast",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4).map(|_| "IPv4-mapped form of a non-public IPv4 address");
    }
    let segments = ip.segments();
    Some(match segments {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible (deprecated) address",
        [0x64, 0xff9b, ..] => "NAT64 (embeds an IPv4 address)",
        [0x2002, ..] => "6to4 (embeds an IPv4 address)",
        [0x2001, 0, ..] => "Teredo",
        [0x2001, 0xdb8, ..] => "documentation",
        [0x100, 0, 0, 0, ..] => "discard-only",
        [first, ..] if first & 0xfe00 == 0xfc00 => "unique local (private network)",
        [first, ..] if first & 0xffc0 == 0xfe80 => "link-local",
        [first, ..] if first & 0xffc0 == 0xfec0 => "site-local (deprecated)",
        _ if ip.is_multicast() => "multicast",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Option<&'static str> {
        non_public_reason(text.parse().expect("an IP address"))
    }

    #[test]
    fn non_public_addresses_are_named() {
        for (ip, expected) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private network"),
            ("172.16.0.1", "private network"),
            ("192.168.1.1", "private network"),
            (
                "169.254.169.254",
                "link-local (includes the cloud metadata service 169.254.169.254)",
            ),
            ("100.64.0.1", "carrier-grade NAT"),
            ("0.0.0.0", "unspecified (\"this network\")"),
            ("255.255.255.255", "reserved or broadcast"),
            ("::1", "loopback"),
            (
                "::ffff:127.0.0.1",
                "IPv4-mapped form of a non-public IPv4 address",
            ),
            ("fd00::1", "unique local (private network)"),
            ("fe80::1", "link-local"),
            ("64:ff9b::7f00:1", "NAT64 (embeds an IPv4 address)"),
        ] {
            assert_eq!(reason(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "140.82.112.6",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:140.82.112.6",
        ] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }
}
