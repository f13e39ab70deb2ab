//! Who a request really came from when proxies (the ingress) stand in front of the gateway.
//!
//! Anyone can send `X-Forwarded-For`; only a proxy we were told about is believed. The client is
//! the first address, read from the right, that is not one of our proxies: each proxy appends
//! the address it saw, so the entries left of the last untrusted one may be made up.

use std::net::IpAddr;

use http::HeaderMap;
use sqlx::types::ipnetwork::IpNetwork;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNetwork>);

impl TrustedProxies {
    /// From `gateway.trusted_proxies` (CIDRs, or single addresses).
    pub fn parse(cidrs: &[String]) -> anyhow::Result<Self> {
        cidrs
            .iter()
            .map(|cidr| {
                cidr.trim().parse::<IpNetwork>().map_err(|e| {
                    anyhow::anyhow!("gateway.trusted_proxies: {cidr:?} is not a CIDR: {e}")
                })
            })
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|network| network.contains(ip))
    }

    /// The client's address: `peer` itself unless it is a trusted proxy; then the rightmost
    /// `X-Forwarded-For` entry that is not one (or the leftmost, if all of them are).
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return canonical(peer);
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map_while(|entry| entry.trim().parse::<IpAddr>().ok())
            .collect();
        let mut client = canonical(peer);
        for ip in forwarded.into_iter().rev() {
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket reports) is
/// that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in xff {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn only_a_trusted_proxy_is_believed_about_the_client() {
        let proxies =
            TrustedProxies::parse(&["10.0.0.0/8".into(), "2001:db8:ffff::/48".into()]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // A client that claims to be someone else is itself.
        assert_eq!(
            proxies.client_address(ip("198.51.100.9"), &headers(&["203.0.113.5"])),
            ip("198.51.100.9")
        );
        // Through the ingress: the address the ingress saw, not what the client claimed.
        assert_eq!(
            proxies.client_address(
                ip("10.1.2.3"),
                &headers(&["1.1.1.1, 203.0.113.5", "10.9.9.9"])
            ),
            ip("203.0.113.5")
        );
        assert_eq!(
            proxies.client_address(ip("::ffff:10.1.2.3"), &headers(&["2001:db8::7"])),
            ip("2001:db8::7")
        );
        // A proxy with nothing to say is the client.
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &headers(&[])),
            ip("10.1.2.3")
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
    }
}
