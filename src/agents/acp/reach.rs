//! What a confined agent's network reaches: its model, and nothing else.
//!
//! A confined agent runs in a network of its own
//! (`platform::net_fence`): its commands reach no host, the host's loopback
//! or its abstract sockets. Its model is reached through listeners in that
//! network which the launcher serves: a model on loopback (a local server,
//! a test's) at its own address and port, a model elsewhere through a
//! proxy on the agent's loopback that opens a tunnel (`CONNECT`) only to
//! the model's hosts. Those are read from where the agent reads them: its
//! base-URL variables, Codex's `base_url` settings, else the profile's
//! default host (an agent of no known profile has none), and the hosts the
//! user names in `launcher.acp_model_hosts`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where an agent of one profile finds its model.
#[derive(Debug, Clone, Copy)]
pub(super) struct ModelReach {
    /// The variable that moves its model elsewhere.
    pub variable: &'static str,
    /// Its model's host and port where nothing moves it.
    pub default_host: &'static str,
}

/// The model's places an agent may reach.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Reach {
    /// Ports on loopback (and the host name the URL gave), relayed to the
    /// same port on the host's loopback.
    pub loopback: Vec<(String, u16)>,
    /// Hosts elsewhere, `host:port`, through the tunnel.
    pub hosts: Vec<String>,
}

/// At most this many model ports on loopback (each is two listeners).
const MAX_LOOPBACK_PORTS: usize = 8;

/// The port of the tunnel on the agent's loopback (another if a model's
/// loopback port takes it).
const PROXY_PORT: u16 = 3128;

impl Reach {
    /// What an agent of `model` reaches, given its environment `env` and
    /// (Codex's adapter) the text of its Codex settings.
    pub fn of(
        model: Option<ModelReach>,
        env: &[(String, String)],
        codex_settings: Option<&str>,
        named: &[String],
    ) -> Reach {
        let variable = model.map(|m| m.variable);
        let mut urls: Vec<String> = env
            .iter()
            .filter(|(name, _)| name.ends_with("_BASE_URL") || Some(name.as_str()) == variable)
            .map(|(_, value)| value.clone())
            .collect();
        if let Some(text) = codex_settings {
            urls.extend(base_urls(text).into_iter().map(str::to_string));
        }
        let moved = env.iter().any(|(name, _)| Some(name.as_str()) == variable)
            || codex_settings.is_some_and(|t| !base_urls(t).is_empty());
        let mut reach = Reach::default();
        if let Some(model) = model.filter(|_| !moved) {
            reach.hosts.push(model.default_host.to_string());
        }
        urls.extend(named.iter().map(|place| format!("https://{place}")));
        for url in &urls {
            let Some((host, port)) = host_and_port(url) else {
                continue;
            };
            if is_loopback(&host) {
                let known = reach.loopback.iter().any(|(_, p)| *p == port);
                if !known && reach.loopback.len() < MAX_LOOPBACK_PORTS {
                    reach.loopback.push((host, port));
                }
            } else {
                let place = join(&host, port);
                if !reach.hosts.contains(&place) {
                    reach.hosts.push(place);
                }
            }
        }
        reach
    }

    /// The tunnel's port, where there is a host elsewhere.
    pub fn proxy_port(&self) -> Option<u16> {
        if self.hosts.is_empty() {
            return None;
        }
        (PROXY_PORT..).find(|port| !self.loopback.iter().any(|(_, p)| p == port))
    }

    /// The addresses to listen at in the agent's network.
    pub fn binds(&self) -> Vec<SocketAddr> {
        let mut binds = Vec::new();
        for (_, port) in &self.loopback {
            binds.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), *port));
            binds.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), *port));
        }
        if let Some(port) = self.proxy_port() {
            binds.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
        }
        binds
    }

    /// The variables that send the agent's requests elsewhere through the
    /// tunnel (and those to loopback straight to it).
    pub fn env(&self) -> Vec<(String, String)> {
        let Some(port) = self.proxy_port() else {
            return Vec::new();
        };
        let proxy = format!("http://127.0.0.1:{port}");
        let direct = "localhost,127.0.0.1,::1".to_string();
        ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
            .into_iter()
            .map(|name| (name.to_string(), proxy.clone()))
            .chain(
                ["NO_PROXY", "no_proxy"]
                    .into_iter()
                    .map(|name| (name.to_string(), direct.clone())),
            )
            .collect()
    }

    /// Where a connection to `bind` goes on the host: a loopback port's
    /// relay, or `None` for the tunnel.
    pub fn target(&self, bind: SocketAddr) -> Option<(String, u16)> {
        self.loopback
            .iter()
            .find(|(_, port)| *port == bind.port())
            .cloned()
    }

    /// Every place the tunnel opens to (the loopback ports too: an agent
    /// that sends those through the proxy reaches the same).
    pub fn allowed(&self) -> Vec<String> {
        self.hosts
            .iter()
            .cloned()
            .chain(self.loopback.iter().map(|(host, port)| join(host, *port)))
            .collect()
    }
}

/// A model's place as the user names it: an http(s) URL, `host:port`, or
/// a host (port 443).
pub(super) fn place_of(word: &str) -> Option<(String, u16)> {
    let word = word.trim();
    // No user part (`https://api.example@127.0.0.1:5432` is 127.0.0.1), and
    // one place per word.
    if word.is_empty() || word.contains(['@', ',']) || word.contains(char::is_whitespace) {
        return None;
    }
    if word.contains("://") {
        return host_and_port(word);
    }
    host_and_port(&format!("https://{word}")).filter(|_| !word.contains(['/', '?', '#']))
}

/// A user's list of places as a trust prompt shows it: each normalized, one
/// on this machine said so.
pub(super) fn in_words(words: &[String]) -> String {
    words
        .iter()
        .map(|word| match place_of(word) {
            Some((host, port)) if is_loopback(&host) => {
                format!("{} (a port of this machine)", join(&host, port))
            }
            Some((host, port)) => join(&host, port),
            None => format!("{word:?} (not a place)"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `host:port`, with an IPv6 host in brackets.
pub(super) fn join(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The `base_url` values of a Codex settings file (its top level and its
/// model providers'), as written.
fn base_urls(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            let value = value.split(" #").next().unwrap_or(value);
            let key = key.trim().trim_matches('"');
            key.ends_with("base_url")
                .then(|| value.trim().trim_matches('"').trim_matches('\''))
        })
        .collect()
}

/// The host (lowercase, IPv6 without brackets) and port of an http(s) URL.
fn host_and_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, tail) = v6.split_once(']')?;
        (host, tail.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok().filter(|&p| p != 0)?,
        None => default,
    };
    // An IPv6 address without brackets, or digits that are no IPv4 address
    // (`127.1`, which a resolver reads as one), name no place faithfully.
    let digits = host.chars().all(|c| c.is_ascii_digit() || c == '.');
    let bracketed = authority.starts_with('[');
    if host.is_empty()
        || (host.contains(':') && !bracketed)
        || (digits && host.parse::<std::net::Ipv4Addr>().is_err())
    {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

/// Whether `host` is this machine (a loopback or an unspecified address,
/// which connects here too).
pub(super) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback() || ip.is_unspecified())
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAUDE: ModelReach = ModelReach {
        variable: "ANTHROPIC_BASE_URL",
        default_host: "api.anthropic.com:443",
    };

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_agent_reaches_its_default_host_through_the_tunnel_only() {
        let reach = Reach::of(Some(CLAUDE), &env(&[("HOME", "/home/u")]), None, &[]);
        assert_eq!(reach.hosts, ["api.anthropic.com:443"]);
        assert!(reach.loopback.is_empty());
        assert_eq!(reach.proxy_port(), Some(3128));
        assert_eq!(reach.binds(), ["127.0.0.1:3128".parse().unwrap()]);
        let vars = reach.env();
        assert!(vars.contains(&("HTTPS_PROXY".into(), "http://127.0.0.1:3128".into())));
        assert!(vars.contains(&("NO_PROXY".into(), "localhost,127.0.0.1,::1".into())));
    }

    #[test]
    fn a_model_on_loopback_is_relayed_at_its_own_port_and_no_tunnel_is_made() {
        let reach = Reach::of(
            Some(CLAUDE),
            &env(&[("ANTHROPIC_BASE_URL", "http://127.0.0.1:3128/v1")]),
            None,
            &[],
        );
        assert_eq!(reach.loopback, [("127.0.0.1".to_string(), 3128)]);
        assert!(reach.hosts.is_empty());
        assert_eq!(reach.proxy_port(), None);
        assert!(reach.env().is_empty());
        let bind: SocketAddr = "127.0.0.1:3128".parse().unwrap();
        assert_eq!(reach.target(bind), Some(("127.0.0.1".into(), 3128)));
        assert_eq!(reach.binds().len(), 2, "IPv4 and IPv6 loopback");
    }

    #[test]
    fn codexs_base_urls_and_other_base_url_variables_are_its_model_too() {
        let settings =
            "model = \"m\"\n[model_providers.scripted]\nbase_url = \"http://localhost:9000/v1\"\n\
                        openai_base_url = 'https://Gateway.Example:8443/v1'\n";
        let codex = ModelReach {
            variable: "OPENAI_BASE_URL",
            default_host: "api.openai.com:443",
        };
        let reach = Reach::of(
            Some(codex),
            &env(&[
                ("EXTRA_BASE_URL", "https://[::1]:3128/"),
                ("PAGE", "https://x.example/"),
            ]),
            Some(settings),
            &[],
        );
        assert_eq!(
            reach.loopback,
            [("::1".to_string(), 3128), ("localhost".to_string(), 9000)]
        );
        assert_eq!(
            reach.hosts,
            ["gateway.example:8443"],
            "a variable not a base URL is not"
        );
        assert_eq!(reach.proxy_port(), Some(3129), "3128 is a model's");
        assert!(reach.allowed().contains(&"[::1]:3128".to_string()));
    }

    #[test]
    fn an_agent_of_no_known_profile_reaches_only_the_hosts_it_is_given() {
        let nothing = Reach::of(None, &env(&[("HOME", "/h")]), None, &[]);
        assert_eq!(nothing, Reach::default());
        assert!(nothing.binds().is_empty() && nothing.env().is_empty());
        let named = [
            "models.example:443".to_string(),
            "localhost:11434".to_string(),
        ];
        let reach = Reach::of(None, &[], None, &named);
        assert_eq!(reach.hosts, ["models.example:443"]);
        assert_eq!(reach.loopback, [("localhost".to_string(), 11434)]);
        assert_eq!(
            place_of("https://h.example:8443/v1"),
            Some(("h.example".into(), 8443))
        );
        assert_eq!(place_of("h.example"), Some(("h.example".into(), 443)));
        assert_eq!(place_of("[::1]:9"), Some(("::1".into(), 9)));
        for bad in [
            "h.example/x",
            "u@h.example",
            "https://api.openai.com@127.0.0.1:5432",
            "a, b",
            "a b",
            "ftp://h",
            "wss://h",
            "::1",
            "2001:db8::1",
            "h.example:0",
            "127.1",
            "",
        ] {
            assert_eq!(place_of(bad), None, "{bad}");
        }
        assert_eq!(
            in_words(&["localhost:11434".into(), "API.example".into()]),
            "localhost:11434 (a port of this machine), api.example:443"
        );
        assert!(is_loopback("0.0.0.0") && is_loopback("::1") && !is_loopback("10.0.0.1"));
    }

    #[test]
    fn a_url_of_another_scheme_or_without_a_host_is_no_place() {
        for url in [
            "file:///etc",
            "ftp://h/",
            "https://",
            "http://h:port/",
            "nothing",
        ] {
            assert_eq!(host_and_port(url), None, "{url}");
        }
        assert_eq!(
            host_and_port("https://user@Host.Example/p"),
            Some(("host.example".into(), 443))
        );
    }
}
