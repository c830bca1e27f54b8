//! Where a department's commands run (issue 76): in its worktree's own
//! folder, at the user's tree's path, or on a host. One value, so a
//! placement that says two things at once cannot be represented.
//!
//! On the wire (the store and the status) it keeps the two keys earlier
//! launchers wrote, `remote` and `at_users_path`: records written by them read
//! back unchanged, and the page reads what it always read. A record that
//! says both (never written, but readable) is on its host, as those
//! launchers treated it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::RemoteWork;

/// Where a department works.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Workplace {
    /// In its worktree's own folder, on this machine.
    #[default]
    Own,
    /// Its commands run at the user's tree's path, where the user's
    /// incremental build caches apply (issue 52): in a namespace of their
    /// own that shows its worktree there.
    AtUsersPath,
    /// On a host of `launcher.remotes` (issue 53): its worktree here holds
    /// what was last fetched back from there.
    Host(RemoteWork),
}

impl Workplace {
    /// Its work on a host, if that is where it is.
    pub fn host(&self) -> Option<&RemoteWork> {
        match self {
            Workplace::Host(work) => Some(work),
            Workplace::Own | Workplace::AtUsersPath => None,
        }
    }

    pub fn host_mut(&mut self) -> Option<&mut RemoteWork> {
        match self {
            Workplace::Host(work) => Some(work),
            Workplace::Own | Workplace::AtUsersPath => None,
        }
    }

    /// Its commands run at the user's tree's path.
    pub fn at_users_path(&self) -> bool {
        matches!(self, Workplace::AtUsersPath)
    }

    /// On this machine, in a folder of the launcher's making (its own or
    /// shown at the user's path).
    pub fn here(&self) -> bool {
        self.host().is_none()
    }
}

/// The two keys of earlier launchers.
#[derive(Serialize, Deserialize, Default)]
struct Wire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remote: Option<RemoteWork>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    at_users_path: bool,
}

impl Serialize for Workplace {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let wire = match self {
            Workplace::Own => Wire::default(),
            Workplace::AtUsersPath => Wire {
                remote: None,
                at_users_path: true,
            },
            Workplace::Host(work) => Wire {
                remote: Some(work.clone()),
                at_users_path: false,
            },
        };
        wire.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Workplace {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        Ok(match wire {
            Wire {
                remote: Some(work), ..
            } => Workplace::Host(work),
            Wire {
                remote: None,
                at_users_path: true,
            } => Workplace::AtUsersPath,
            Wire {
                remote: None,
                at_users_path: false,
            } => Workplace::Own,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Holder {
        name: String,
        #[serde(flatten)]
        workplace: Workplace,
    }

    fn work() -> RemoteWork {
        RemoteWork {
            host: "gpu1".into(),
            path: "/srv/r.worktrees/a-1".into(),
            branch: "governance/z-1/a-1".into(),
            fetched: None,
            removed: false,
            refused: None,
            container: None,
        }
    }

    #[test]
    fn each_place_keeps_the_keys_earlier_launchers_wrote() {
        let own = Holder {
            name: "a".into(),
            workplace: Workplace::Own,
        };
        assert_eq!(serde_json::to_string(&own).unwrap(), r#"{"name":"a"}"#);
        let at = Holder {
            name: "a".into(),
            workplace: Workplace::AtUsersPath,
        };
        assert_eq!(
            serde_json::to_string(&at).unwrap(),
            r#"{"name":"a","at_users_path":true}"#
        );
        let host = Holder {
            name: "a".into(),
            workplace: Workplace::Host(work()),
        };
        let text = serde_json::to_string(&host).unwrap();
        assert_eq!(
            text,
            r#"{"name":"a","remote":{"host":"gpu1","path":"/srv/r.worktrees/a-1","branch":"governance/z-1/a-1"}}"#
        );
        for h in [own, at, host] {
            let back: Holder = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
            assert_eq!(back, h);
        }
    }

    #[test]
    fn a_record_that_says_both_is_on_its_host_as_earlier_launchers_read_it() {
        let both = r#"{"name":"a","at_users_path":true,"remote":{"host":"gpu1","path":"/p","branch":"b"}}"#;
        let read: Holder = serde_json::from_str(both).unwrap();
        assert_eq!(read.workplace.host().map(|w| w.host.as_str()), Some("gpu1"));
        assert!(!read.workplace.at_users_path());
        let neither: Holder =
            serde_json::from_str(r#"{"name":"a","at_users_path":false}"#).unwrap();
        assert_eq!(neither.workplace, Workplace::Own);
    }
}
