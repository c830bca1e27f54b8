//! A provider's containers as the launcher makes and removes them (issue
//! 76): `provider.create` and `provider.destroy` lines, one container for
//! the host or one per department (`{session}` in the lines), `warm: N`
//! made ahead. The lines run on this machine as the user, after the user
//! trusted the file; what the launcher fills in is an id it made.

use serde::Serialize;

/// The placeholder a per-department container's lines name it by.
pub const SESSION: &str = "{session}";

/// Whom one container serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Each {
    /// One container for the host, made before its first check.
    Host,
    /// One per department (its lines name `{session}`), removed when its
    /// work is settled.
    Department,
}

/// What the launcher runs to make and remove a provider's containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    /// Makes a container; `{session}` still in it for one per department.
    pub create: Vec<String>,
    /// Removes one; empty when the file names none (the container stays).
    pub destroy: Vec<String>,
    pub each: Each,
    /// Per-department containers made ahead.
    pub warm: usize,
}

impl Lifecycle {
    /// `line` with container `id` for `{session}`.
    pub fn filled(line: &[String], id: &str) -> Vec<String> {
        line.iter().map(|w| w.replace(SESSION, id)).collect()
    }
}

/// Why a provider's lines do not make a lifecycle: the key at fault and why.
pub type Fault = (&'static str, String);

/// The lifecycle of a provider whose `exec` is `exec` (already checked),
/// from the file's `create`, `destroy` and `warm`; None when it names no
/// `create` (the user keeps the container).
pub fn resolve(
    exec: &[String],
    create: Option<Vec<String>>,
    destroy: Option<Vec<String>>,
    warm: Option<usize>,
) -> Result<Option<Lifecycle>, Fault> {
    let Some(create) = create else {
        return without_create(exec, destroy.is_some(), warm);
    };
    if let Some(why) = bad_line(&create) {
        return Err(("provider.create", why));
    }
    let destroy = destroy.unwrap_or_default();
    if !destroy.is_empty() {
        if let Some(why) = bad_line(&destroy) {
            return Err(("provider.destroy", why));
        }
    }
    let each = each_of(exec, &create)?;
    if !destroy.is_empty() && each == Each::Department && !names(&destroy) {
        return Err((
            "provider.destroy",
            "would remove the same thing for every department: name the container with \
             {session}, as create does"
                .into(),
        ));
    }
    let warm = warm.unwrap_or(0);
    if warm > 0 && each == Each::Host {
        return Err((
            "warm",
            "makes per-department containers ahead, and this create makes one for the host: \
             put {session} in create and exec, or leave warm out"
                .into(),
        ));
    }
    Ok(Some(Lifecycle {
        create,
        destroy,
        each,
        warm,
    }))
}

/// Why `argv` cannot run here as one of a provider's lines, if it cannot: a
/// program here (a name found on PATH, or an absolute path) and words with
/// no control characters. (A cloned file's line waits for the user's trust.)
pub(super) fn bad_line(argv: &[String]) -> Option<String> {
    let Some(program) = argv.first() else {
        return Some(
            "missing: the program and its words, such as [podman, exec, -i, cg-{name}]".into(),
        );
    };
    if argv.iter().any(|word| word.chars().any(char::is_control)) {
        return Some("a word holds a control character".into());
    }
    let bare = !program.contains('/');
    let fine =
        !program.is_empty() && !program.starts_with('-') && (bare || program.starts_with('/'));
    (!fine).then(|| {
        format!(
            "{program:?} is not a program the launcher runs: a name on your PATH or an \
             absolute path, such as podman or /usr/bin/kubectl"
        )
    })
}

/// Whether `line` names a per-department container.
fn names(line: &[String]) -> bool {
    line.iter().any(|w| w.contains(SESSION))
}

/// A provider without `create`: the user keeps its container, so nothing
/// may ask the launcher to make or remove one.
fn without_create(
    exec: &[String],
    destroy: bool,
    warm: Option<usize>,
) -> Result<Option<Lifecycle>, Fault> {
    if destroy {
        return Err((
            "provider.destroy",
            "removes what create makes: add provider.create, or leave destroy out".into(),
        ));
    }
    if names(exec) {
        return Err((
            "provider.exec",
            "{session} names a container the launcher makes per department: add \
             provider.create, which makes it"
                .into(),
        ));
    }
    match warm {
        Some(n) if n > 0 => Err((
            "warm",
            "makes containers ahead: add provider.create, with {session} in it".into(),
        )),
        _ => Ok(None),
    }
}

/// One container per department when both lines name `{session}`, one for
/// the host when neither does.
fn each_of(exec: &[String], create: &[String]) -> Result<Each, Fault> {
    match (names(create), names(exec)) {
        (true, true) => Ok(Each::Department),
        (false, false) => Ok(Each::Host),
        (true, false) => Err((
            "provider.exec",
            "create makes one container per department ({session}): exec must name it \
             too, such as [podman, exec, -i, cg-{session}]"
                .into(),
        )),
        (false, true) => Err((
            "provider.create",
            "exec reaches one container per department ({session}): create must make \
             it, such as [podman, run, -d, --name, cg-{session}, image]"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &[&str]) -> Vec<String> {
        line.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_session_in_both_lines_is_one_container_per_department() {
        let made = resolve(
            &words(&["podman", "exec", "-i", "cg-{session}"]),
            Some(words(&[
                "podman",
                "run",
                "-d",
                "--name",
                "cg-{session}",
                "img",
            ])),
            Some(words(&["podman", "rm", "-f", "cg-{session}"])),
            Some(1),
        )
        .unwrap()
        .unwrap();
        assert_eq!(made.each, Each::Department);
        assert_eq!(made.warm, 1);
        assert_eq!(
            Lifecycle::filled(&made.destroy, "gong-1"),
            words(&["podman", "rm", "-f", "cg-gong-1"])
        );
        let host = resolve(
            &words(&["podman", "exec", "-i", "cg-box"]),
            Some(words(&["podman", "run", "-d", "--name", "cg-box", "img"])),
            None,
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!((host.each, host.destroy.len()), (Each::Host, 0));
        assert_eq!(
            resolve(&words(&["podman", "exec", "-i", "x"]), None, None, Some(0)),
            Ok(None)
        );
    }

    /// Each case: exec, create, destroy, warm, the key at fault, its words.
    type Case<'a> = (
        &'a [&'a str],
        Option<&'a [&'a str]>,
        Option<&'a [&'a str]>,
        Option<usize>,
        &'a str,
        &'a str,
    );

    fn refused(cases: &[Case]) {
        for (exec, create, destroy, warm, key, said) in cases {
            let line = |l: &Option<&[&str]>| l.map(words);
            let (k, why) = resolve(&words(exec), line(create), line(destroy), *warm).unwrap_err();
            assert_eq!(k, *key, "{why}");
            assert!(why.contains(said), "{key}: {why}");
        }
    }

    const EXEC_EACH: &[&str] = &["podman", "exec", "-i", "cg-{session}"];
    const EXEC_ONE: &[&str] = &["podman", "exec", "-i", "cg-box"];
    const CREATE_EACH: &[&str] = &["podman", "run", "--name", "cg-{session}"];
    const CREATE_ONE: &[&str] = &["podman", "run", "--name", "cg-box"];

    #[test]
    fn what_only_create_makes_sense_of_is_refused_without_it() {
        refused(&[
            (
                EXEC_ONE,
                None,
                Some(&["x"]),
                None,
                "provider.destroy",
                "add provider.create",
            ),
            (
                EXEC_EACH,
                None,
                None,
                None,
                "provider.exec",
                "add provider.create",
            ),
            (EXEC_ONE, None, None, Some(2), "warm", "add provider.create"),
            (
                EXEC_ONE,
                Some(&["--x"]),
                None,
                None,
                "provider.create",
                "not a program",
            ),
            (
                EXEC_ONE,
                Some(&[]),
                None,
                None,
                "provider.create",
                "missing",
            ),
        ]);
    }

    #[test]
    fn lines_that_cannot_serve_each_other_are_refused_naming_the_key() {
        let rm_one: &[&str] = &["podman", "rm", "-f", "cg-box"];
        refused(&[
            (
                EXEC_ONE,
                Some(CREATE_EACH),
                None,
                None,
                "provider.exec",
                "exec must name it",
            ),
            (
                EXEC_EACH,
                Some(CREATE_ONE),
                None,
                None,
                "provider.create",
                "create must make it",
            ),
            (
                EXEC_ONE,
                Some(CREATE_ONE),
                None,
                Some(1),
                "warm",
                "leave warm out",
            ),
            (
                EXEC_EACH,
                Some(CREATE_EACH),
                Some(rm_one),
                None,
                "provider.destroy",
                "{session}",
            ),
        ]);
    }
}
