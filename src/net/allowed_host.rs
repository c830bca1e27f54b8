//! `--allow-host NAME` (issue 54, tier 2): the one TLS host name, besides
//! loopback, that the page answers to, for the user's own `tailscale serve`
//! (which terminates TLS on the tailnet and proxies to the loopback port,
//! keeping the `Host` the phone asked for). It is a DNS name, never an
//! address, a wildcard or `localhost`; requests through it must be HTTPS as
//! the proxy says (`X-Forwarded-Proto`), never through Tailscale Funnel (the
//! proxy marks those `Tailscale-Funnel-Request`), and carry a paired phone's
//! token (`web::security`).

/// A host name the page is reached by through a TLS proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    name: String,
    /// The proxy's port when not 443.
    port: Option<u16>,
}

/// Why a `--allow-host` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--allow-host {given:?}: {why} (give the tailnet name `tailscale serve` serves, like desk.tail1234.ts.net)")]
pub struct AllowedHostError {
    given: String,
    why: &'static str,
}

impl AllowedHost {
    pub fn parse(given: &str) -> Result<AllowedHost, AllowedHostError> {
        let refuse = |why| AllowedHostError {
            given: given.to_string(),
            why,
        };
        let lower = given.trim().to_ascii_lowercase();
        if lower.contains("://") || lower.contains('/') {
            return Err(refuse("a host name only, without a scheme or path"));
        }
        let (name, port) = match lower.rsplit_once(':') {
            Some((name, port)) => {
                let port: u16 = port
                    .parse()
                    .map_err(|_| refuse("the port is not a number"))?;
                if port == 0 {
                    return Err(refuse("port 0 is not a port"));
                }
                (name.to_string(), (port != 443).then_some(port))
            }
            None => (lower, None),
        };
        let labels: Vec<&str> = name.split('.').collect();
        if name.len() > 253 || labels.len() < 2 {
            return Err(refuse("a full host name has at least two labels"));
        }
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !labels.iter().all(label_ok) {
            return Err(refuse("not a host name (letters, digits and hyphens)"));
        }
        if labels
            .last()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(refuse("an address is not a host name"));
        }
        if labels.last() == Some(&"localhost") {
            return Err(refuse("loopback is served already"));
        }
        Ok(AllowedHost { name, port })
    }

    /// Whether a lower-cased `Host` value names this host.
    pub fn names(&self, host: &str) -> bool {
        match self.port {
            None => host == self.name || host == format!("{}:443", self.name),
            Some(p) => host == format!("{}:{p}", self.name),
        }
    }

    /// The page's address on the phone: `https://NAME[:PORT]`, also the only
    /// `Origin` accepted through this host.
    pub fn origin(&self) -> String {
        match self.port {
            None => format!("https://{}", self.name),
            Some(p) => format!("https://{}:{p}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tls_host_name_is_allowed_and_nothing_like_an_address() {
        let host = AllowedHost::parse("Desk.Tail1234.ts.net").unwrap();
        assert!(host.names("desk.tail1234.ts.net"));
        assert!(host.names("desk.tail1234.ts.net:443"));
        assert!(!host.names("desk.tail1234.ts.net:8443"));
        assert!(!host.names("evil.tail1234.ts.net"));
        assert_eq!(host.origin(), "https://desk.tail1234.ts.net");
        let other = AllowedHost::parse("desk.tail1234.ts.net:8443").unwrap();
        assert!(other.names("desk.tail1234.ts.net:8443"));
        assert!(!other.names("desk.tail1234.ts.net"));
        assert_eq!(other.origin(), "https://desk.tail1234.ts.net:8443");
        for bad in [
            "desk",
            "10.0.0.7",
            "[::1]",
            "*.ts.net",
            "https://desk.ts.net",
            "desk.ts.net/x",
            "desk.ts.net:0",
            "desk.ts.net:http",
            "app.localhost",
            "-desk.ts.net",
            "desk..ts.net",
            "",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
        let why = AllowedHost::parse("10.0.0.7").unwrap_err().to_string();
        assert!(why.contains("tailscale serve"), "{why}");
    }
}
