//! Client networks: what per-client rate limits are keyed on. One person usually holds one IPv4
//! address but a whole IPv6 /64, so an IPv6 client is bucketed by its prefix, and an IPv4-mapped
//! IPv6 address counts as the IPv4 address it carries.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The IPv6 prefix length a client network spans by default: one /64, the smallest block a
/// network usually hands to one subscriber.
pub const DEFAULT_V6_PREFIX: u8 = 64;

/// The address as a limit should see it: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes
/// the IPv4 address; everything else is unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The client network of `ip`: the canonical IPv4 address, or the IPv6 address with every bit past
/// `v6_prefix` cleared, written as `addr/prefix`. `v6_prefix` is clamped to 32..=128.
pub fn network_of(ip: IpAddr, v6_prefix: u8) -> String {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = v6_prefix.clamp(32, 128);
            let bits = u128::from(v6);
            let mask = if prefix == 128 {
                u128::MAX
            } else {
                !(u128::MAX >> prefix)
            };
            format!("{}/{prefix}", Ipv6Addr::from(bits & mask))
        }
    }
}

/// A block of addresses: one address (`10.0.0.1`, `2001:db8::1`) or a CIDR block (`10.0.0.0/8`,
/// `2001:db8::/32`). Written as an IPv4-mapped IPv6 block (`::ffff:10.0.0.0/104`), it is the IPv4
/// block it maps; and [`IpNet::contains`] sees a mapped address as its IPv4 address, so one rule
/// covers a peer however the socket reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    base: IpAddr,
    prefix: u8,
}

/// Why a string is not an address or a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP address or a CIDR block like 10.0.0.0/8")]
pub struct IpNetError(String);

impl IpNet {
    /// The block of `addr` with `prefix` bits; `None` if the prefix is longer than the address.
    /// Host bits past the prefix are cleared.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        let base = match addr {
            IpAddr::V4(v4) if prefix <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) if prefix <= 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
            _ => return None,
        };
        Some(Self { base, prefix })
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counting as its IPv4 address) is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        IpNet::new(canonical_ip(ip), self.prefix).is_some_and(|n| n.base == self.base)
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IpNetError(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            None => {
                let addr: IpAddr = s.trim().parse().map_err(|_| err())?;
                let bits = if addr.is_ipv4() { 32 } else { 128 };
                (addr, bits)
            }
            Some((addr, prefix)) => {
                let addr: IpAddr = addr.parse().map_err(|_| err())?;
                // Digits only: `u8::from_str` would also take `+8`.
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err());
                }
                (addr, prefix.parse::<u8>().map_err(|_| err())?)
            }
        };
        IpNet::new(addr, prefix).ok_or_else(err)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_is_its_own_network() {
        assert_eq!(network_of(ip("198.51.100.7"), 64), "198.51.100.7");
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_ipv4() {
        assert_eq!(canonical_ip(ip("::ffff:198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(network_of(ip("::ffff:198.51.100.7"), 64), "198.51.100.7");
    }

    #[test]
    fn ipv6_addresses_of_one_slash_64_share_a_network() {
        let a = network_of(ip("2001:db8:1:2:aaaa::1"), 64);
        let b = network_of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), 64);
        let other = network_of(ip("2001:db8:1:3::1"), 64);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, other);
    }

    #[test]
    fn the_ipv6_prefix_is_configurable_and_clamped() {
        assert_eq!(network_of(ip("2001:db8:1:2::1"), 48), "2001:db8:1::/48");
        assert_eq!(
            network_of(ip("2001:db8:1:2::1"), 128),
            "2001:db8:1:2::1/128"
        );
        assert_eq!(network_of(ip("2001:db8:1:2::1"), 0), "2001:db8::/32");
    }

    #[test]
    fn blocks_parse_from_addresses_and_cidrs() {
        for (text, shown) in [
            ("10.0.0.1", "10.0.0.1/32"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("2001:db8::1", "2001:db8::1/128"),
            ("2001:db8:ffff::/32", "2001:db8::/32"),
            ("::/0", "::/0"),
            ("::ffff:10.0.0.1", "10.0.0.1/32"),
            ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
            (" 192.0.2.0/24 ", "192.0.2.0/24"),
        ] {
            assert_eq!(
                text.parse::<IpNet>().map(|n| n.to_string()),
                Ok(shown.to_owned()),
                "{text}"
            );
        }
        for bad in [
            "",
            "10.0.0.0/33",
            "2001:db8::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0/8",
            "example.com",
            "10.0.0.1:80",
            "[2001:db8::1]",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn blocks_contain_their_addresses_and_mapped_ones() {
        let cases = [
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.0.0.0/8", "::ffff:10.9.9.9", true),
            ("10.0.0.5", "10.0.0.5", true),
            ("10.0.0.5", "10.0.0.6", false),
            ("10.0.0.5", "::ffff:10.0.0.5", true),
            ("::ffff:10.0.0.5", "10.0.0.5", true),
            ("2001:db8::/32", "2001:db8:1::7", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("2001:db8::/32", "10.0.0.1", false),
            ("10.0.0.0/8", "2001:db8::1", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("::/0", "2001:db8::1", true),
            ("::/0", "203.0.113.9", false),
        ];
        for (net, addr, inside) in cases {
            let n: IpNet = net.parse().unwrap();
            assert_eq!(n.contains(ip(addr)), inside, "{net} contains {addr}");
        }
    }
}
