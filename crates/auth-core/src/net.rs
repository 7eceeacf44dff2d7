//! Client networks: what per-client rate limits are keyed on. One person usually holds one IPv4
//! address but a whole IPv6 /64, so an IPv6 client is bucketed by its prefix, and an IPv4-mapped
//! IPv6 address counts as the IPv4 address it carries.

use std::net::{IpAddr, Ipv6Addr};

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
}
