//! The client's address behind trusted proxies.
//!
//! When the peer is a trusted proxy (`trusted_proxies`), the client is the first address,
//! reading the header the proxies write (`trusted_proxy_header`: `X-Forwarded-For` or
//! RFC 7239 `Forwarded`, never both: proxies append to one and pass the other through
//! from the client) from the right, that is not a trusted proxy itself. A middleware puts that address in place of the peer address, so
//! every handler, rate limit and audit row sees the client, not the load balancer. Headers
//! from an untrusted peer are ignored: anyone can send them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::config::ProxyHeader;

/// Trusted proxy networks and the header they write.
#[derive(Clone)]
pub struct TrustedProxies(pub Arc<Vec<IpNet>>, pub ProxyHeader);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client address for a request from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers, self.1);
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) => {
                    client = *ip;
                    if !self.trusts(*ip) {
                        break;
                    }
                }
                // An entry we cannot read (`unknown`, a hidden name, garbage): the last
                // trusted hop is as far as we can see.
                None => break,
            }
        }
        client
    }
}

/// An IPv4-mapped IPv6 address as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses the proxies recorded in `header`, client first; `None` for an
/// unreadable entry.
fn forwarded_chain(headers: &HeaderMap, header: ProxyHeader) -> Vec<Option<IpAddr>> {
    let name = match header {
        ProxyHeader::Forwarded => "forwarded",
        ProxyHeader::XForwardedFor => "x-forwarded-for",
    };
    let elements = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    match header {
        ProxyHeader::XForwardedFor => elements.map(|s| parse_node(s.trim())).collect(),
        ProxyHeader::Forwarded => elements
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    if !k.trim().eq_ignore_ascii_case("for") {
                        return None;
                    }
                    parse_node(v.trim().trim_matches('"'))
                })
            })
            .collect(),
    }
}

/// `1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]`, `[2001:db8::1]:80` or `2001:db8::1`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    let inner = s.strip_prefix('[')?.split(']').next()?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

/// Middleware: replaces the peer address with the client's when the peer is trusted.
pub async fn resolve(State(proxies): State<TrustedProxies>, mut req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let client = proxies.client(peer.ip(), req.headers());
        if client != peer.ip() {
            req.extensions_mut().insert(ConnectInfo(SocketAddr::new(client, 0)));
        }
    }
    next.run(req).await
}
