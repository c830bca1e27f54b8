//! The server name a TLS client asks for, read from its first record (the
//! ClientHello), so the tunnel to a model's host carries only a session with
//! that host: a shared front end (a CDN) routes by this name, not by the
//! address it was reached at. A hello that hides its name (Encrypted Client
//! Hello) or spans records is refused rather than guessed at.

/// What the first bytes of a tunnel say.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Hello {
    /// More bytes are needed.
    Partial,
    /// A ClientHello naming this server (lowercase, no trailing dot).
    Names(String),
    /// Not a ClientHello this tunnel carries, and why.
    Refused(&'static str),
}

/// The TLS extension of a server's name, and of an encrypted hello.
const SERVER_NAME: u16 = 0;
const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;

/// Reads the server name of the ClientHello at the start of `bytes`.
pub(super) fn server_name(bytes: &[u8]) -> Hello {
    if bytes.len() < 5 {
        return Hello::Partial;
    }
    if bytes[0] != 0x16 {
        return Hello::Refused("not a TLS handshake");
    }
    let record = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
    if bytes.len() < 5 + record {
        return Hello::Partial;
    }
    match names(&bytes[5..5 + record]) {
        Ok(name) => Hello::Names(name),
        Err(why) => Hello::Refused(why),
    }
}

/// A cursor over a hello's bytes; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("a ClientHello cut short (it spans records)");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn number(&mut self, width: usize) -> Result<usize, &'static str> {
        Ok(self
            .take(width)?
            .iter()
            .fold(0usize, |n, b| (n << 8) | usize::from(*b)))
    }

    fn vector(&mut self, width: usize) -> Result<&'a [u8], &'static str> {
        let n = self.number(width)?;
        self.take(n)
    }
}

fn names(handshake: &[u8]) -> Result<String, &'static str> {
    let mut r = Reader(handshake);
    if r.number(1)? != 1 {
        return Err("not a ClientHello");
    }
    let length = r.number(3)?;
    let mut r = Reader(r.take(length)?);
    r.take(2 + 32)?; // version, random
    r.vector(1)?; // session id
    r.vector(2)?; // cipher suites
    r.vector(1)?; // compression methods
    let mut extensions = Reader(r.vector(2)?);
    let mut name = None;
    while !extensions.0.is_empty() {
        let kind = extensions.number(2)? as u16;
        let mut data = Reader(extensions.vector(2)?);
        match kind {
            ENCRYPTED_CLIENT_HELLO => return Err("an encrypted ClientHello hides its server"),
            SERVER_NAME => {
                let mut list = Reader(data.vector(2)?);
                while !list.0.is_empty() {
                    let name_type = list.number(1)?;
                    let host = list.vector(2)?;
                    if name_type == 0 {
                        if name.is_some() {
                            return Err("a ClientHello naming two servers");
                        }
                        let host =
                            std::str::from_utf8(host).map_err(|_| "a server name not ASCII")?;
                        name = Some(host.trim_end_matches('.').to_ascii_lowercase());
                    }
                }
            }
            _ => {}
        }
    }
    name.ok_or("a ClientHello naming no server")
}

/// The first bytes rustls sends to `host` (for tests).
#[cfg(test)]
pub(super) fn hello_to(host: &str) -> Vec<u8> {
    use std::sync::Arc;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut bytes = Vec::new();
    client.write_tls(&mut bytes).unwrap();
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hello_names_its_server() {
        let bytes = hello_to("API.Anthropic.com");
        assert_eq!(
            server_name(&bytes),
            Hello::Names("api.anthropic.com".into())
        );
        assert_eq!(server_name(&bytes[..40]), Hello::Partial);
        assert_eq!(server_name(&bytes[..3]), Hello::Partial);
    }

    #[test]
    fn a_hello_that_hides_or_lacks_its_name_is_refused() {
        assert!(matches!(
            server_name(b"GET / HTTP/1.1\r\n\r\n"),
            Hello::Refused("not a TLS handshake")
        ));
        // An IP address is sent without a server name.
        let bytes = hello_to("192.0.2.7");
        assert_eq!(
            server_name(&bytes),
            Hello::Refused("a ClientHello naming no server")
        );
        // The same hello with an encrypted-hello extension added first.
        let mut bytes = hello_to("api.openai.com");
        let ech = [0xfe, 0x0d, 0x00, 0x01, 0x00];
        let at = extensions_start(&bytes);
        bytes.splice(at..at, ech);
        grow(&mut bytes, ech.len());
        assert_eq!(
            server_name(&bytes),
            Hello::Refused("an encrypted ClientHello hides its server")
        );
        // Lengths that run past the record.
        let mut cut = hello_to("api.openai.com");
        let len = cut.len();
        cut[3] = 0;
        cut[4] = 60;
        cut.truncate(len.min(65));
        assert!(
            matches!(server_name(&cut), Hello::Refused(_)),
            "{:?}",
            server_name(&cut)
        );
    }

    /// Where a hello's extensions begin (after their length).
    fn extensions_start(bytes: &[u8]) -> usize {
        let mut at = 5 + 4 + 2 + 32;
        at += 1 + usize::from(bytes[at]);
        at += 2 + usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
        at += 1 + usize::from(bytes[at]);
        at + 2
    }

    /// Adds `n` to the record's, the handshake's and the extensions' lengths.
    fn grow(bytes: &mut [u8], n: usize) {
        let add16 = |b: &mut [u8], at: usize| {
            let v = u16::from_be_bytes([b[at], b[at + 1]]) as usize + n;
            b[at..at + 2].copy_from_slice(&(v as u16).to_be_bytes());
        };
        add16(bytes, 3);
        let v =
            (usize::from(bytes[6]) << 16 | usize::from(bytes[7]) << 8 | usize::from(bytes[8])) + n;
        bytes[6] = (v >> 16) as u8;
        bytes[7] = (v >> 8) as u8;
        bytes[8] = v as u8;
        let at = extensions_start(bytes) - 2;
        add16(bytes, at);
    }
}
