//! Which `Host` values (and `Origin` hosts) requests may carry: the defence against DNS
//! rebinding, built once from the bind address and configuration.

use std::collections::HashSet;
use std::net::IpAddr;

/// Which `Host` values (and `Origin` hosts) are accepted on `/mcp` and `/admin`.
///
/// On a loopback bind only loopback names are accepted: that is where DNS rebinding bites.
/// On any other bind we accept IP literals, `localhost`, this machine's hostname (and names
/// whose first label is the hostname), the host of `MYMCP_PUBLIC_BASE_URL`, and
/// `MYMCP_ALLOWED_HOSTS` (`*` disables the check).
#[derive(Debug, Clone)]
pub(crate) struct HostPolicy {
    any: bool,
    loopback_only: bool,
    names: HashSet<String>,
    hostname: Option<String>,
}

impl HostPolicy {
    /// Build from the bind address and configuration.
    pub(crate) fn new(bind_host: &str, extra: &[String], public_base_url: &str) -> Self {
        let mut names: HashSet<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let any = extra.iter().any(|e| e == "*");
        for e in extra {
            names.insert(strip_port(&e.to_ascii_lowercase()).to_string());
        }
        if let Some(h) = url_host(public_base_url) {
            names.insert(h);
        }
        let loopback_only = match bind_host.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => bind_host.eq_ignore_ascii_case("localhost"),
        };
        let hostname = rustix::system::uname()
            .nodename()
            .to_str()
            .ok()
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| !s.is_empty());
        if !loopback_only {
            names.insert(bind_host.to_ascii_lowercase());
        }
        HostPolicy {
            any,
            loopback_only,
            names,
            hostname,
        }
    }

    /// Is this `Host` value (with or without a port) acceptable? A value that is not a
    /// well-formed `host[:port]` (such as `[::1]evil`) never is.
    pub(crate) fn allows(&self, host: &str) -> bool {
        let Some(h) = parse_host(host) else {
            return false;
        };
        if self.any {
            return true;
        }
        if self.names.contains(&h) {
            return true;
        }
        if self.loopback_only {
            return false;
        }
        if h.parse::<IpAddr>().is_ok() {
            return true;
        }
        match &self.hostname {
            Some(hn) => h == *hn || h.split('.').next() == Some(hn.as_str()),
            None => false,
        }
    }
}

/// Parse a `Host` header value strictly (RFC 3986 authority without userinfo): a DNS name or
/// IPv4 address, or an IPv6 address in brackets, each optionally followed by `:port`.
/// Returns the host in lower case, without brackets or port.
pub(crate) fn parse_host(value: &str) -> Option<String> {
    let v = value.to_ascii_lowercase();
    if v.parse::<std::net::Ipv6Addr>().is_ok() {
        // A bare IPv6 address: what `url_host` leaves of an Origin's `[v6]:port`.
        return Some(v);
    }
    let (host, port) = if let Some(rest) = v.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        addr.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (addr.to_string(), port)
    } else {
        let (name, port) = match v.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (v.as_str(), None),
        };
        let ok = !name.is_empty()
            && name.len() <= 253
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !ok {
            return None;
        }
        (name.to_string(), port)
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(host)
}

fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        // [v6]:port
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => h,
    }
}

pub(crate) fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let h = strip_port(&authority.to_ascii_lowercase()).to_string();
    (!h.is_empty()).then_some(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn loopback_bind_accepts_only_loopback_names() {
        let p = HostPolicy::new("127.0.0.1", &[], "");
        assert!(p.allows("127.0.0.1:8765"));
        assert!(p.allows("localhost"));
        assert!(p.allows("[::1]:80"));
        assert!(!p.allows("evil.example"));
        assert!(!p.allows("10.0.0.5"));
        // Malformed values are refused, not trimmed into something acceptable.
        for bad in [
            "[::1]evil",
            "[::1]:80x",
            "localhost:",
            "local host",
            "[::1",
            "127.0.0.1:99999x",
            "",
        ] {
            assert!(!p.allows(bad), "{bad:?}");
        }
        assert!(p.allows("[::1]"));
        assert_eq!(
            parse_host("Example.COM:8443").as_deref(),
            Some("example.com")
        );
    }

    #[test]
    fn wildcard_bind_accepts_ips_hostname_and_configured_names() {
        let p = HostPolicy::new(
            "0.0.0.0",
            &["mcp.corp.example".into()],
            "https://pub.example:8443/x",
        );
        assert!(p.allows("10.0.0.5:8765"));
        assert!(p.allows("mcp.corp.example"));
        assert!(p.allows("pub.example"));
        assert!(!p.allows("evil.example"));
        let any = HostPolicy::new("0.0.0.0", &["*".into()], "");
        assert!(any.allows("evil.example"));
    }

    #[test]
    fn this_machines_hostname_and_names_under_it_pass_only_off_loopback() {
        let hn = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .to_ascii_lowercase();
        let wide = HostPolicy::new("0.0.0.0", &[], "");
        assert!(wide.allows(&hn));
        assert!(!wide.allows(&format!("x{hn}.corp.example")));
        assert!(!wide.allows(&format!("corp.{hn}")));
        // A name whose first label is the hostname (only a dotless hostname can be a label).
        if !hn.contains('.') {
            assert!(wide.allows(&format!("{hn}.corp.example:8765")));
        }
        if hn != "localhost" {
            let lo = HostPolicy::new("127.0.0.1", &[], "");
            assert!(!lo.allows(&hn));
        }
    }

    #[test]
    fn parse_host_accepts_only_well_formed_authorities() {
        for (value, host) in [
            ("Example.COM:8443", "example.com"),
            ("a-b_c.d", "a-b_c.d"),
            ("[::1]:80", "::1"),
            ("::1", "::1"),
            ("10.0.0.5:1", "10.0.0.5"),
        ] {
            assert_eq!(parse_host(value).as_deref(), Some(host), "{value:?}");
        }
        let longest = "a".repeat(253);
        assert_eq!(parse_host(&longest).as_deref(), Some(longest.as_str()));
        for bad in [
            "a".repeat(254),
            "".into(),
            ":80".into(),
            "local host".into(),
            "evil.example/x".into(),
            "user@host".into(),
            "host:".into(),
            "host:123456".into(),
            "host:8a".into(),
            "[::1]x".into(),
            "[::1]:".into(),
            "[nope]:80".into(),
        ] {
            assert_eq!(parse_host(&bad), None, "{bad:?}");
        }
    }
}
