//! Where a new department works (issue 76): in its worktree's own folder,
//! at the user's tree's path (issue 52), or on a host (issue 53). The start
//! gathers the facts; this decides, and says why it refuses.

use crate::platform::NamespaceError;

/// Why this machine keeps a department (or a landing's checks) from working
/// at the user's tree's path.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotShownThere {
    #[error(transparent)]
    Namespaces(#[from] NamespaceError),
    #[error("its program {0} lies in the tree its worktree is shown over")]
    ProgramInTree(String),
    #[error("{0} names a path in the tree its worktree is shown over")]
    SettingInTree(String),
    #[error("its agent cannot run commands outside itself")]
    NoExecServer,
}

/// What decides whether commands may run at the user's tree's path.
#[derive(Debug, Clone)]
pub struct BuildPlace {
    /// `launcher.worktree.caches` is not off.
    pub caches: bool,
    /// The user's tree is a Cargo project they built (a `target/` to copy).
    pub cargo_build: bool,
    /// Its backend can run commands outside its own process here (Codex's
    /// exec-server, found on this machine).
    pub exec_server_here: bool,
    /// Whether this machine shows a folder at another path for one program
    /// and the backend's exec-server can run there, or why not.
    pub namespaces: Result<(), NotShownThere>,
}

/// Whether commands may run at the user's tree's path (a worktree shown
/// there), where the user's incremental build caches apply; `Err` says why
/// not when only the machine refuses it: they then run in the worktree's
/// own folder, as before.
pub fn at_users_path(place: &BuildPlace) -> Result<bool, NotShownThere> {
    if !place.caches || !place.cargo_build || !place.exec_server_here {
        return Ok(false);
    }
    place.namespaces.clone().map(|()| true)
}

/// What the launcher knows when a department starts.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The host its assignment or its configuration names (`where: NAME`).
    pub host: Option<String>,
    /// It continues a worktree already made (a send back).
    pub handed_over: bool,
    /// It gets a worktree of its own (`launcher.isolation: worktree`).
    pub own_worktree: bool,
    /// Its backend's commands can run outside its own process, on another
    /// machine (a capability: Codex's exec-server).
    pub runs_elsewhere: bool,
    pub build: BuildPlace,
}

/// Where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chosen {
    /// Where the worktree it continues already is.
    Kept,
    /// Its worktree's own folder (or the shared tree, without one).
    Own,
    /// Its worktree shown at the user's tree's path.
    AtUsersPath,
    /// The host of that name.
    Host(String),
}

/// The choice, and, when only this machine kept it from the user's path,
/// why (said in the log: the department still starts).
#[derive(Debug, Clone)]
pub struct Choice {
    pub chosen: Chosen,
    pub not_at_users_path: Option<NotShownThere>,
}

/// Why a department cannot start where it was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementRefusal {
    #[error(
        "a department on another machine ({host}) needs an agent whose commands can run \
         there: the configured backend's cannot (Codex's can)"
    )]
    AgentStaysHere { host: String },
    #[error(
        "a department on another machine ({host}) needs its own worktree: set \
         launcher.isolation: worktree"
    )]
    NoWorktree { host: String },
}

impl From<PlacementRefusal> for super::Refusal {
    fn from(r: PlacementRefusal) -> Self {
        super::Refusal::Conflict(r.to_string())
    }
}

/// Where a new department works: a send back stays where its worktree is;
/// a named host takes it when its agent can run commands there and it has
/// a worktree to carry; otherwise the user's path when everything allows
/// it, or its own folder.
pub fn choose(f: &Facts) -> Result<Choice, PlacementRefusal> {
    let chosen = |chosen| Choice {
        chosen,
        not_at_users_path: None,
    };
    if f.handed_over {
        return Ok(chosen(Chosen::Kept));
    }
    if let Some(host) = &f.host {
        if !f.runs_elsewhere {
            return Err(PlacementRefusal::AgentStaysHere { host: host.clone() });
        }
        if !f.own_worktree {
            return Err(PlacementRefusal::NoWorktree { host: host.clone() });
        }
        return Ok(chosen(Chosen::Host(host.clone())));
    }
    if !f.own_worktree {
        return Ok(chosen(Chosen::Own));
    }
    Ok(match at_users_path(&f.build) {
        Ok(true) => chosen(Chosen::AtUsersPath),
        Ok(false) => chosen(Chosen::Own),
        Err(why) => Choice {
            chosen: Chosen::Own,
            not_at_users_path: Some(why),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build() -> BuildPlace {
        BuildPlace {
            caches: true,
            cargo_build: true,
            exec_server_here: true,
            namespaces: Ok(()),
        }
    }

    fn facts() -> Facts {
        Facts {
            host: None,
            handed_over: false,
            own_worktree: true,
            runs_elsewhere: true,
            build: build(),
        }
    }

    #[test]
    fn commands_run_at_the_users_path_only_where_everything_allows_it() {
        assert!(matches!(at_users_path(&build()), Ok(true)));
        for not in [
            BuildPlace {
                caches: false,
                ..build()
            },
            BuildPlace {
                cargo_build: false,
                ..build()
            },
            BuildPlace {
                exec_server_here: false,
                ..build()
            },
        ] {
            assert!(matches!(at_users_path(&not), Ok(false)), "{not:?}");
        }
        // The machine refuses namespaces: its own folder, and the reason.
        let refused = BuildPlace {
            namespaces: Err(NamespaceError::NotLinux.into()),
            ..build()
        };
        assert!(matches!(
            at_users_path(&refused),
            Err(NotShownThere::Namespaces(NamespaceError::NotLinux))
        ));
        let refused_off = BuildPlace {
            caches: false,
            ..refused
        };
        assert!(
            matches!(at_users_path(&refused_off), Ok(false)),
            "nothing to say"
        );
    }

    #[test]
    fn a_send_back_stays_where_its_worktree_is() {
        let f = Facts {
            handed_over: true,
            host: Some("gpu1".into()),
            runs_elsewhere: false,
            ..facts()
        };
        assert_eq!(choose(&f).unwrap().chosen, Chosen::Kept);
    }

    #[test]
    fn a_named_host_takes_a_department_that_can_work_there() {
        let f = Facts {
            host: Some("gpu1".into()),
            ..facts()
        };
        assert_eq!(choose(&f).unwrap().chosen, Chosen::Host("gpu1".into()));
        // The user's path is never also chosen: a host's department is there.
        let c = choose(&f).unwrap();
        assert!(c.not_at_users_path.is_none());
    }

    #[test]
    fn a_host_is_refused_to_an_agent_that_cannot_run_commands_there() {
        let f = Facts {
            host: Some("gpu1".into()),
            runs_elsewhere: false,
            ..facts()
        };
        let refused = choose(&f).unwrap_err();
        assert_eq!(
            refused,
            PlacementRefusal::AgentStaysHere {
                host: "gpu1".into()
            }
        );
        assert!(refused.to_string().contains("(gpu1) needs an agent"));
    }

    #[test]
    fn a_host_is_refused_without_a_worktree_to_carry() {
        let f = Facts {
            host: Some("gpu1".into()),
            own_worktree: false,
            ..facts()
        };
        let refused = choose(&f).unwrap_err();
        assert!(matches!(refused, PlacementRefusal::NoWorktree { .. }));
        assert!(refused.to_string().contains("launcher.isolation: worktree"));
    }

    #[test]
    fn without_a_worktree_it_works_in_the_shared_tree() {
        let f = Facts {
            own_worktree: false,
            ..facts()
        };
        assert_eq!(choose(&f).unwrap().chosen, Chosen::Own);
    }

    #[test]
    fn the_users_path_when_everything_allows_it_else_its_own_folder() {
        assert_eq!(choose(&facts()).unwrap().chosen, Chosen::AtUsersPath);
        let no_cargo = Facts {
            build: BuildPlace {
                cargo_build: false,
                ..build()
            },
            ..facts()
        };
        let c = choose(&no_cargo).unwrap();
        assert_eq!(c.chosen, Chosen::Own);
        assert!(c.not_at_users_path.is_none(), "nothing to say");
        let refused = Facts {
            build: BuildPlace {
                namespaces: Err(NotShownThere::NoExecServer),
                ..build()
            },
            ..facts()
        };
        let c = choose(&refused).unwrap();
        assert_eq!(c.chosen, Chosen::Own);
        assert!(matches!(
            c.not_at_users_path,
            Some(NotShownThere::NoExecServer)
        ));
    }
}
