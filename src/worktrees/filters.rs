//! External filter drivers (Git LFS and the like), which libgit2 does not run.
//!
//! `git checkout` pipes a file through the `smudge` command of the driver its
//! `filter` attribute names, and `git add` pipes it back through `clean`
//! (for LFS: the pointer blob becomes the large file and back). An
//! integration must write what `git checkout` would, so it runs the driver
//! here as Git does: the command from the user's Git configuration (a
//! department can name a driver in `.gitattributes`, but only the user's
//! configuration defines one), `%f` replaced by the path, in the working
//! tree's root, the content on standard input. No shell: the command is
//! split into words. A driver the configuration does not define is passed by,
//! as Git passes it; one that fails stops the integration when
//! `filter.<name>.required` is set (LFS sets it), else the content goes
//! through unfiltered, as Git does.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use git2::{AttrCheckFlags, AttrValue, Repository};

use super::{io_error, WorktreeError};

/// One direction of a filter driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Blob to working tree file (checkout).
    Smudge,
    /// Working tree file to blob (add).
    Clean,
}

impl Direction {
    fn key(self) -> &'static str {
        match self {
            Direction::Smudge => "smudge",
            Direction::Clean => "clean",
        }
    }
}

/// The driver command `path` goes through in `direction`, if the user's
/// configuration defines one.
#[derive(Debug, Clone)]
pub struct Driver {
    name: String,
    command: String,
    required: bool,
}

/// The driver for `path` (its `filter` attribute) in `direction`; None when
/// the attribute is unset or names a driver the configuration lacks.
pub fn driver_for(
    git: &Repository,
    path: &str,
    direction: Direction,
) -> Result<Option<Driver>, WorktreeError> {
    let flags = AttrCheckFlags::FILE_THEN_INDEX;
    let name = match AttrValue::from_string(git.get_attr(Path::new(path), "filter", flags)?) {
        AttrValue::String(name) => name.to_string(),
        _ => return Ok(None),
    };
    let config = git.config()?.snapshot()?;
    let command = match config.get_string(&format!("filter.{name}.{}", direction.key())) {
        Ok(c) if !c.trim().is_empty() => c,
        _ => return Ok(None),
    };
    let required = config
        .get_bool(&format!("filter.{name}.required"))
        .unwrap_or(false);
    Ok(Some(Driver {
        name,
        command,
        required,
    }))
}

/// `input` run through `driver` for `path`, in the working tree `workdir`.
pub fn run(
    driver: &Driver,
    workdir: &Path,
    path: &str,
    input: Vec<u8>,
) -> Result<Vec<u8>, WorktreeError> {
    match run_command(&driver.command, workdir, path, &input) {
        Ok(out) => Ok(out),
        Err(why) if driver.required => Err(WorktreeError::Refused(format!(
            "{path}: the Git filter '{}' ({}) failed: {why}",
            driver.name, driver.command
        ))),
        Err(why) => {
            tracing::warn!(
                "{path}: the Git filter '{}' failed ({why}); used unfiltered, as Git does",
                driver.name
            );
            Ok(input)
        }
    }
}

/// Runs `path`'s smudge driver, if any, over `file` (what the checkout
/// wrote for it) in place: Git runs it after the line-ending conversion.
/// The file's mode (executable) stays. Returns whether a driver ran.
pub fn smudge_file(git: &Repository, file: &Path, path: &str) -> Result<bool, WorktreeError> {
    let Some(driver) = driver_for(git, path, Direction::Smudge)? else {
        return Ok(false);
    };
    let raw = std::fs::read(file).map_err(io_error(file))?;
    let workdir = git.workdir().unwrap_or(git.path());
    let out = run(&driver, workdir, path, raw)?;
    std::fs::write(file, out).map_err(io_error(file))?;
    Ok(true)
}

/// Whether the configuration defines any smudge driver at all (when not,
/// no file's attributes need reading for one).
pub fn any_smudge_driver(git: &Repository) -> Result<bool, WorktreeError> {
    let config = git.config()?.snapshot()?;
    let mut entries = config.entries(Some(r"^filter\..*\.smudge$"))?;
    while let Some(entry) = entries.next() {
        if entry?.value().is_some_and(|v| !v.trim().is_empty()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Why a filter command gave no content.
#[derive(Debug, thiserror::Error)]
enum FilterFailure {
    #[error("cannot read the command: {0}")]
    Words(#[from] shell_words::ParseError),
    #[error("the command is empty")]
    Empty,
    #[error(transparent)]
    NotOnPath(#[from] crate::platform::NotOnPath),
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{status}: {said}")]
    Exit {
        status: std::process::ExitStatus,
        said: String,
    },
}

/// Runs `command` (words, `%f` = `path`) with `input` on standard input;
/// its standard output.
fn run_command(
    command: &str,
    workdir: &Path,
    path: &str,
    input: &[u8],
) -> Result<Vec<u8>, FilterFailure> {
    let words = shell_words::split(command)?;
    let (program, args) = words.split_first().ok_or(FilterFailure::Empty)?;
    // The working tree is the child's folder: a bare name is never looked
    // up there (a `./git-lfs` a department committed).
    let program_file = crate::platform::program_path(Path::new(program))?;
    let mut child = Command::new(program_file)
        .args(args.iter().map(|a| a.replace("%f", path)))
        .current_dir(workdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| FilterFailure::Spawn {
            program: program.clone(),
            source,
        })?;
    let mut stdin = child.stdin.take().ok_or(FilterFailure::Empty)?;
    let owned = input.to_vec();
    // Written from another thread: a filter may answer before it has read all.
    let feeder = std::thread::spawn(move || stdin.write_all(&owned));
    let mut out = Vec::new();
    let mut err = Vec::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_end(&mut out)?;
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut err);
    }
    let status = child.wait()?;
    let fed = feeder.join();
    if !status.success() {
        let said = String::from_utf8_lossy(&err);
        let chars: Vec<char> = said.trim().chars().collect();
        let said = chars[chars.len().saturating_sub(300)..].iter().collect();
        return Err(FilterFailure::Exit { status, said });
    }
    if let Ok(Err(e)) = fed {
        return Err(FilterFailure::Io(e));
    }
    Ok(out)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_driver_runs_with_the_path_and_a_failing_one_stops_only_when_required() {
        let dir = tempfile::tempdir().unwrap();
        let git = Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join(".gitattributes"), "*.up filter=upper\n").unwrap();
        let mut config = git.config().unwrap();
        config.set_str("filter.upper.smudge", "tr a-z A-Z").unwrap();
        config.set_str("filter.upper.clean", "false %f").unwrap();
        let smudge = driver_for(&git, "x.up", Direction::Smudge)
            .unwrap()
            .unwrap();
        assert_eq!(
            run(&smudge, dir.path(), "x.up", b"abc\n".to_vec()).unwrap(),
            b"ABC\n"
        );
        assert!(driver_for(&git, "x.txt", Direction::Smudge)
            .unwrap()
            .is_none());
        let clean = driver_for(&git, "x.up", Direction::Clean).unwrap().unwrap();
        assert_eq!(
            run(&clean, dir.path(), "x.up", b"abc".to_vec()).unwrap(),
            b"abc"
        );
        config.set_bool("filter.upper.required", true).unwrap();
        let clean = driver_for(&git, "x.up", Direction::Clean).unwrap().unwrap();
        let err = run(&clean, dir.path(), "x.up", b"abc".to_vec()).unwrap_err();
        assert!(
            err.to_string().contains("'upper' (false %f) failed"),
            "{err}"
        );
    }
}
