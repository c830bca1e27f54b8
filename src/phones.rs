//! Paired phones (issue 54, tier 2): the page reached through the user's own
//! tailnet (`--allow-host`) takes only a phone's token, minted here when the
//! user pairs a phone from the desk. A phone's token reads, answers within
//! `notify.remote_decisions` and interrupts; it reaches no terminal, trust or
//! configuration (`policy::scopes`). Tokens are kept by their SHA-256 in an
//! owner-only file of the state folder (read without following a link), so a
//! pairing survives a restart and the file gives no token away; a pairing
//! lasts [`PAIRING_DAYS`] or until the user unpairs it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The pairings' file in the state folder (0600).
pub const PHONES_FILE: &str = "paired_phones.json";
/// How long a pairing lasts.
pub const PAIRING_DAYS: i64 = 30;
/// At most this many phones are paired at once.
pub const MAX_PHONES: usize = 8;
/// The longest label kept.
const MAX_LABEL: usize = 60;
/// At most this many event streams are open to phones at once: they share
/// the loopback peer with the desk's page (the proxy connects from there).
pub const MAX_STREAMS: usize = 4;

/// What a phone's token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneGrant {
    pub id: String,
    pub label: String,
}

/// A pairing as the page lists it (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pairing {
    pub id: String,
    pub label: String,
    pub paired_at: String,
    /// Unix seconds after which the token is refused.
    pub expires_unix: i64,
    /// The token's SHA-256, hex.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    digest: String,
}

/// Why a phone could not be paired or unpaired.
#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    #[error("{MAX_PHONES} phones are paired already: unpair one first")]
    Full,
    #[error("no paired phone {0:?}")]
    Unknown(String),
    #[error("cannot keep the pairing in {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The paired phones of one state folder.
#[derive(Debug)]
pub struct Phones {
    file: PathBuf,
    pairings: Mutex<Vec<Pairing>>,
    streams: std::sync::atomic::AtomicUsize,
}

/// One of the phones' open event streams; gives its place back when dropped.
#[derive(Debug)]
pub struct StreamPlace(std::sync::Arc<Phones>);

impl Drop for StreamPlace {
    fn drop(&mut self) {
        self.0
            .streams
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn now_unix() -> i64 {
    crate::clock::now().timestamp()
}

impl Phones {
    /// The pairings kept in `state_dir` (none when the file is missing, a
    /// link or not a list of pairings).
    pub fn load(state_dir: &Path) -> Phones {
        let file = state_dir.join(PHONES_FILE);
        let pairings = crate::files::read_tail(&file, 64 * 1024)
            .and_then(|(bytes, _)| serde_json::from_slice::<Vec<Pairing>>(&bytes).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.digest.len() == 64 && crate::ids::check_id("phone", &p.id).is_ok())
            // None lasts longer than a pairing made now would.
            .filter(|p| p.expires_unix <= now_unix() + PAIRING_DAYS * 24 * 60 * 60)
            .collect();
        Phones {
            file,
            pairings: Mutex::new(pairings),
            streams: Default::default(),
        }
    }

    /// A place for one more phone's event stream, while fewer than
    /// [`MAX_STREAMS`] are open.
    pub fn open_stream(self: &std::sync::Arc<Self>) -> Option<StreamPlace> {
        use std::sync::atomic::Ordering;
        self.streams
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < MAX_STREAMS).then_some(n + 1)
            })
            .ok()?;
        Some(StreamPlace(std::sync::Arc::clone(self)))
    }

    /// Pairs a phone: its pairing and a new token, shown to the user once.
    pub fn pair(&self, label: &str) -> Result<(Pairing, String), PairingError> {
        let mut list = self.pairings.lock().unwrap();
        let now = now_unix();
        list.retain(|p| p.expires_unix > now);
        if list.len() >= MAX_PHONES {
            return Err(PairingError::Full);
        }
        let token = crate::secret::new_token();
        let label: String = label
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_LABEL)
            .collect();
        let pairing = Pairing {
            id: format!("phone-{}", &crate::secret::new_token()[..12]),
            label: if label.trim().is_empty() {
                "phone".into()
            } else {
                label.trim().to_string()
            },
            paired_at: crate::clock::now_rfc3339(),
            expires_unix: now + PAIRING_DAYS * 86_400,
            digest: digest(&token),
        };
        let mut next = list.clone();
        next.push(pairing.clone());
        self.save(&next)?;
        *list = next;
        Ok((pairing.listed(), token))
    }

    /// Ends a pairing: its token is refused from now on.
    pub fn unpair(&self, id: &str) -> Result<Pairing, PairingError> {
        let mut list = self.pairings.lock().unwrap();
        let Some(at) = list.iter().position(|p| p.id == id) else {
            return Err(PairingError::Unknown(id.to_string()));
        };
        let mut next = list.clone();
        let gone = next.remove(at);
        self.save(&next)?;
        *list = next;
        Ok(gone.listed())
    }

    /// The phone a token belongs to, while its pairing lasts.
    pub fn resolve(&self, token: &str) -> Option<PhoneGrant> {
        let wanted = digest(token);
        let now = now_unix();
        self.pairings
            .lock()
            .unwrap()
            .iter()
            .find(|p| {
                p.expires_unix > now && bool::from(p.digest.as_bytes().ct_eq(wanted.as_bytes()))
            })
            .map(|p| PhoneGrant {
                id: p.id.clone(),
                label: p.label.clone(),
            })
    }

    /// The pairings that last, without their digests.
    pub fn list(&self) -> Vec<Pairing> {
        let now = now_unix();
        self.pairings
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.expires_unix > now)
            .map(Pairing::listed)
            .collect()
    }

    fn save(&self, list: &[Pairing]) -> Result<(), PairingError> {
        let bytes = serde_json::to_vec_pretty(list).expect("pairings serialize");
        crate::files::write_atomic(&self.file, &bytes).map_err(|source| PairingError::Write {
            path: self.file.display().to_string(),
            source,
        })
    }
}

impl Pairing {
    /// This pairing without its digest.
    fn listed(&self) -> Pairing {
        Pairing {
            digest: String::new(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pairing_is_kept_by_digest_across_a_restart_until_unpaired() {
        let dir = tempfile::tempdir().unwrap();
        let phones = Phones::load(dir.path());
        let (pairing, token) = phones.pair("my\u{7}phone").unwrap();
        assert_eq!(pairing.label, "myphone");
        assert_eq!(phones.resolve(&token).unwrap().id, pairing.id);
        assert!(phones.resolve(&crate::secret::new_token()).is_none());
        let kept = std::fs::read_to_string(dir.path().join(PHONES_FILE)).unwrap();
        assert!(!kept.contains(&token), "the file holds no token");
        assert!(kept.contains(&digest(&token)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(PHONES_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Phones::load(dir.path());
        assert_eq!(again.resolve(&token).unwrap().id, pairing.id);
        assert_eq!(again.list(), vec![pairing.clone()]);
        again.unpair(&pairing.id).unwrap();
        assert!(again.resolve(&token).is_none());
        assert!(Phones::load(dir.path()).resolve(&token).is_none());
        assert!(matches!(
            again.unpair(&pairing.id),
            Err(PairingError::Unknown(_))
        ));
    }

    #[test]
    fn an_expired_pairing_is_refused_and_a_full_list_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let phones = Phones::load(dir.path());
        let (old, token) = phones.pair("old").unwrap();
        phones
            .pairings
            .lock()
            .unwrap()
            .iter_mut()
            .for_each(|p| p.expires_unix = now_unix() - 1);
        assert!(phones.resolve(&token).is_none(), "expired");
        assert!(phones.list().is_empty());
        for i in 0..MAX_PHONES {
            phones.pair(&format!("p{i}")).unwrap();
        }
        assert!(!phones.list().iter().any(|p| p.id == old.id));
        assert!(matches!(phones.pair("one more"), Err(PairingError::Full)));
    }

    #[test]
    fn phones_hold_at_most_a_few_event_streams_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let phones = std::sync::Arc::new(Phones::load(dir.path()));
        let places: Vec<_> = (0..MAX_STREAMS)
            .map(|_| phones.open_stream().unwrap())
            .collect();
        assert!(phones.open_stream().is_none());
        drop(places);
        assert!(phones.open_stream().is_some());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_in_place_of_the_file_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let phones = Phones::load(elsewhere.path());
        let (_, token) = phones.pair("p").unwrap();
        std::os::unix::fs::symlink(
            elsewhere.path().join(PHONES_FILE),
            dir.path().join(PHONES_FILE),
        )
        .unwrap();
        assert!(Phones::load(dir.path()).resolve(&token).is_none());
    }
}
