//! Bearer secrets: the developer's token, agents' session tokens, browser
//! terminals' tokens and Codex app-servers' capability tokens all come from
//! here; [`Secret`] holds one the launcher did not make (the forge's token).

/// A fresh 256-bit random token, hex-encoded (64 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}

/// A credential held in memory only: it has no `Display`, no `Serialize`,
/// and its `Debug` says `Secret(…)`, so no log line, audit field, API answer
/// or error message can carry it by accident. [`Secret::expose`] is the one
/// way to its text, for the request that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret's text, for the one request that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Whether a file's name looks like it holds a secret (`.env`, keys,
/// credentials): such a file copied into a department's worktree is named
/// in the trust prompt of a cloned configuration.
pub fn looks_secret_name(path: &str) -> bool {
    let name = path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase();
    const NAMES: &[&str] = &[
        ".env",
        ".npmrc",
        ".netrc",
        ".pypirc",
        ".pgpass",
        "id_rsa",
        "id_ed25519",
        "id_ecdsa",
    ];
    const EXTENSIONS: &[&str] = &[".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"];
    const WORDS: &[&str] = &["secret", "credential", "password", "token", "private"];
    NAMES
        .iter()
        .any(|n| name == *n || name.starts_with(&format!("{n}.")))
        || EXTENSIONS.iter().any(|e| name.ends_with(e))
        || WORDS.iter().any(|w| name.contains(w))
}

/// Whether a copy glob takes a file with a secret-looking name: the glob
/// itself looks like one, or it matches such a name in the folder it names.
pub fn glob_takes_secret_looking(glob: &str) -> bool {
    const SAMPLES: &[&str] = &[
        ".env",
        ".env.local",
        "id_rsa",
        "server.pem",
        "credentials.json",
        "secrets.yaml",
        ".npmrc",
    ];
    let compiled = crate::glob::Glob::new(glob);
    let start = compiled.literal_start();
    let folder = start.rfind('/').map_or("", |i| &start[..=i]);
    // A glob also takes what lies under a folder it names (`keys` copies
    // the whole folder): the folders keys are kept in are tried too.
    const FOLDERS: &[&str] = &[".ssh", "keys", "certs", "secrets", ".aws", ".gnupg"];
    looks_secret_name(glob.trim_end_matches(['*', '/']))
        || SAMPLES.iter().any(|s| {
            compiled.is_match(&format!("{folder}{s}"))
                || FOLDERS
                    .iter()
                    .any(|f| compiled.is_match(&format!("{folder}{f}/{s}")))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_names_and_the_globs_that_take_them() {
        for secret in [
            ".env",
            "app/.env.local",
            "deploy/server.pem",
            "aws_credentials",
            "id_rsa",
        ] {
            assert!(looks_secret_name(secret), "{secret}");
        }
        for plain in [
            "config.local.json",
            "node_modules",
            ".envrc-notes/readme.md",
        ] {
            assert!(!looks_secret_name(plain), "{plain}");
        }
        for glob in [
            ".env",
            ".env*",
            "*",
            "config/*",
            "keys/*.pem",
            "keys",
            ".ssh",
            "deploy/secrets/",
            "[.k]eys*",
            "[s.]ecrets*",
        ] {
            assert!(glob_takes_secret_looking(glob), "{glob}");
        }
        for glob in [
            "config/*.local.json",
            "fixtures/big.bin",
            "*.sqlite",
            "é.db",
            "node_modules",
            "target",
            ".venv",
        ] {
            assert!(!glob_takes_secret_looking(glob), "{glob}");
        }
    }

    #[test]
    fn tokens_are_long_and_fresh() {
        let (a, b) = (super::new_token(), super::new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let s = Secret::new("ghp_SECRETVALUE");
        let shown = format!("{s:?} {:?} {:#?}", Some(&s), vec![s.clone()]);
        assert!(!shown.contains("SECRETVALUE"), "{shown}");
        assert_eq!(s.expose(), "ghp_SECRETVALUE");
    }
}
