//! Which program a spawn really starts. Unix needs nothing: `exec` searches
//! PATH. Windows' `CreateProcess` only finds `name.exe`, so a bare `codex` from
//! npm (`codex.cmd` beside an extension-less shell script of the same name)
//! would not start. Here a bare name is looked up in PATH with PATHEXT, in
//! PATH's order; an npm shim (`codex.cmd`) is replaced by the `node <script>`
//! it would run, so arguments such as a multi-line prompt reach the program
//! intact; any other batch file runs through `cmd.exe` only with arguments
//! `cmd.exe` cannot misread.
//!
//! On every platform a bare name is looked up only in PATH's absolute
//! folders ([`find_program`]): a relative entry (`.`, or an empty one, which
//! means the current folder) would start a program written in the folder the
//! launcher or the child works in, which is a repository an agent can write.
//! Every program the launcher runs goes through here.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// What to start: a program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// Why a program cannot be started as asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LaunchError {
    #[error(
        "argument {index} for the batch file {script} holds {what}, which cmd.exe would \
         interpret: pass it in a file (the {{prompt_file}} placeholder) or name the program \
         the batch file runs"
    )]
    UnsafeBatchArgument {
        script: String,
        index: usize,
        what: String,
    },
    #[error("{script} runs {target} with node, and no node.exe is beside it or on PATH")]
    NoNode { script: String, target: String },
    #[error(transparent)]
    NotOnPath(#[from] NotOnPath),
}

/// A bare program name found in none of PATH's absolute folders. Why PATH's
/// relative entries were not searched is said only when PATH has some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOnPath {
    pub name: String,
    /// PATH has relative entries (`.`, an empty one), which are never searched.
    pub relative_entries: bool,
}

impl NotOnPath {
    /// `name`, searched for in `path` (this process's PATH when None).
    pub fn searched(name: &str, path: Option<&OsStr>) -> NotOnPath {
        let path = path
            .map(OsStr::to_os_string)
            .or_else(|| std::env::var_os("PATH"));
        let relative_entries =
            path.is_some_and(|p| std::env::split_paths(&p).any(|dir| !dir.is_absolute()));
        NotOnPath {
            name: name.to_string(),
            relative_entries,
        }
    }
}

impl std::fmt::Display for NotOnPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.relative_entries {
            write!(
                f,
                "`{}` is not in any absolute folder of PATH (its relative entries, such as `.` \
                 or an empty one, are never searched: they would find a program written in the \
                 current folder); install it there or name it by its full path",
                self.name
            )
        } else {
            write!(
                f,
                "`{}` is not installed, or not in a folder on PATH; install it or name it by its \
                 full path",
                self.name
            )
        }
    }
}

impl std::error::Error for NotOnPath {}

/// Whether `program` is a bare name (no folder): one PATH would be searched for.
pub fn is_bare_name(program: &Path) -> bool {
    let mut parts = program.components();
    matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(_)), None)
    ) && !program.as_os_str().to_string_lossy().contains(['/', '\\'])
}

/// The file the bare name `name` starts: the first of this process's PATH's
/// absolute folders that holds it as a program (Windows: with a PATHEXT
/// extension). None when no absolute folder has it, whatever a relative entry
/// would find.
pub fn find_program(name: &str) -> Option<PathBuf> {
    find_program_in(name, std::env::var_os("PATH").as_deref())
}

/// [`find_program`] in the folders of `path` (a PATH value).
pub fn find_program_in(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = path
        .map(|p| {
            std::env::split_paths(p)
                .filter(|d| d.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    #[cfg(windows)]
    {
        let pathext = std::env::var("PATHEXT").unwrap_or_else(|_| ".COM;.EXE;.BAT;.CMD".into());
        Lookup::new(dirs, &pathext).find(name, Path::new("."))
    }
    #[cfg(not(windows))]
    {
        use std::os::unix::fs::PermissionsExt;
        dirs.into_iter().map(|d| d.join(name)).find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    }
}

/// The program to spawn for `program`: a path (it names a folder, as the
/// user wrote it) as it is; a bare name as [`find_program`] finds it.
pub fn program_path(program: &Path) -> Result<PathBuf, NotOnPath> {
    if !is_bare_name(program) {
        return Ok(program.to_path_buf());
    }
    let name = program.to_string_lossy();
    find_program(&name).ok_or_else(|| NotOnPath::searched(&name, None))
}

/// Where the program `program` is found, and how to start it with `args`.
/// `env` is what the child gets on top of this process's environment (PATH
/// and PATHEXT may come from there); relative paths are taken from `cwd`.
pub fn resolve(
    program: &str,
    args: &[String],
    env: &[(String, String)],
    cwd: &Path,
) -> Result<Launch, LaunchError> {
    #[cfg(windows)]
    {
        let lookup = Lookup::from_env(env);
        lookup.launch(program, args, cwd)
    }
    #[cfg(not(windows))]
    {
        let _ = cwd;
        let as_named = PathBuf::from(program);
        let program = if is_bare_name(&as_named) {
            let path = env
                .iter()
                .rev()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| std::ffi::OsString::from(v))
                .or_else(|| std::env::var_os("PATH"));
            find_program_in(program, path.as_deref())
                .ok_or_else(|| NotOnPath::searched(program, path.as_deref()))?
        } else {
            as_named
        };
        Ok(Launch {
            program,
            args: args.to_vec(),
        })
    }
}

/// Where `cmd /c` (or `/k`) starts its command line: the index in `args` of
/// the first word after the switch, when `program` is `cmd` or `cmd.exe`.
/// cmd.exe reads that part of its command line itself, not as C runtime
/// arguments, so the spawn passes it verbatim (as Node's
/// `windowsVerbatimArguments` and Rust's `raw_arg` do) instead of quoting it.
pub fn cmd_command_line_from(program: &str, args: &[String]) -> Option<usize> {
    let name = program.rsplit(['\\', '/']).next().unwrap_or(program);
    let is_cmd = name.eq_ignore_ascii_case("cmd") || name.eq_ignore_ascii_case("cmd.exe");
    if !is_cmd {
        return None;
    }
    args.iter()
        .position(|a| a.eq_ignore_ascii_case("/c") || a.eq_ignore_ascii_case("/k"))
        .map(|switch| switch + 1)
}

/// The first character of `value` that cmd.exe would act on in a command
/// line it reads verbatim, named for an error: a placeholder's value (a
/// prompt an agent wrote) must not become a command.
pub fn cmd_special_in(value: &str) -> Option<String> {
    value
        .chars()
        .find(|c| CMD_SPECIAL.contains(c))
        .map(|c| match c {
            '\r' | '\n' => "a line break".to_string(),
            '\0' => "a NUL character".to_string(),
            c => format!("`{c}`"),
        })
}

/// The extensions `CreateProcess` can start, directly or through `cmd.exe`.
const RUNNABLE: &[&str] = &[".exe", ".com", ".bat", ".cmd"];

/// PATH's folders and PATHEXT's runnable extensions (lower case, with the dot).
#[cfg_attr(not(windows), allow(dead_code))]
struct Lookup {
    dirs: Vec<PathBuf>,
    exts: Vec<String>,
    /// PATH had relative entries (left out of `dirs`).
    relative_entries: bool,
}

#[cfg_attr(not(windows), allow(dead_code))]
impl Lookup {
    /// PATH and PATHEXT as the child will see them (names compared as Windows
    /// does, without case).
    fn from_env(env: &[(String, String)]) -> Lookup {
        let var = |name: &str| {
            env.iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| std::ffi::OsString::from(v))
                .or_else(|| std::env::var_os(name))
        };
        let all: Vec<PathBuf> = var("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        let relative_entries = all.iter().any(|d| !d.is_absolute());
        let dirs = all.into_iter().filter(|d| d.is_absolute()).collect();
        let pathext = var("PATHEXT")
            .and_then(|v| v.into_string().ok())
            .unwrap_or_else(|| ".COM;.EXE;.BAT;.CMD".into());
        Lookup {
            relative_entries,
            ..Lookup::new(dirs, &pathext)
        }
    }

    fn new(dirs: Vec<PathBuf>, pathext: &str) -> Lookup {
        let exts = pathext
            .split(';')
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| RUNNABLE.contains(&e.as_str()))
            .collect();
        Lookup {
            dirs,
            exts,
            relative_entries: false,
        }
    }

    fn launch(&self, program: &str, args: &[String], cwd: &Path) -> Result<Launch, LaunchError> {
        let as_given = || Launch {
            program: PathBuf::from(program),
            args: args.to_vec(),
        };
        let Some(found) = self.find(program, cwd) else {
            // A bare name is never left to CreateProcess's own search (which
            // takes PATH's relative entries); a path says what failed itself.
            if is_bare_name(Path::new(program)) {
                return Err(NotOnPath {
                    name: program.to_string(),
                    relative_entries: self.relative_entries,
                }
                .into());
            }
            return Ok(as_given());
        };
        if !is_batch(&found) {
            return Ok(Launch {
                program: found,
                args: args.to_vec(),
            });
        }
        if let Some(target) = npm_shim_target(&found) {
            let node = found
                .parent()
                .map(|d| d.join("node.exe"))
                .filter(|n| n.is_file())
                .or_else(|| self.find("node", cwd).filter(|n| !is_batch(n)))
                .ok_or_else(|| LaunchError::NoNode {
                    script: found.display().to_string(),
                    target: target.display().to_string(),
                })?;
            let mut node_args = vec![target.display().to_string()];
            node_args.extend_from_slice(args);
            return Ok(Launch {
                program: node,
                args: node_args,
            });
        }
        check_batch_args(&found, args)?;
        Ok(Launch {
            program: found,
            args: args.to_vec(),
        })
    }

    /// The file `program` names: a path as it is (or with an extension added),
    /// a bare name in the first PATH folder that has it with a runnable extension.
    fn find(&self, program: &str, cwd: &Path) -> Option<PathBuf> {
        let has_folder = program.contains(['/', '\\', ':']);
        let bases: Vec<PathBuf> = if has_folder {
            vec![cwd.join(program)]
        } else {
            self.dirs.iter().map(|d| d.join(program)).collect()
        };
        bases.into_iter().find_map(|base| self.runnable(&base))
    }

    /// `base` itself when its extension is runnable, else `base` + the first
    /// PATHEXT extension that exists. An extension-less file is never taken:
    /// Windows cannot start it (npm puts a shell script by that name).
    fn runnable(&self, base: &Path) -> Option<PathBuf> {
        if has_runnable_extension(base) && base.is_file() {
            return Some(base.to_path_buf());
        }
        self.exts.iter().find_map(|ext| {
            let mut name = base.as_os_str().to_os_string();
            name.push(ext);
            let candidate = PathBuf::from(name);
            candidate.is_file().then_some(candidate)
        })
    }
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| format!(".{}", e.to_ascii_lowercase()))
}

fn has_runnable_extension(path: &Path) -> bool {
    extension(path).is_some_and(|e| RUNNABLE.contains(&e.as_str()))
}

fn is_batch(path: &Path) -> bool {
    matches!(extension(path).as_deref(), Some(".bat" | ".cmd"))
}

/// The script an npm shim (`codex.cmd`) runs with node, when it is one:
/// `"%dp0%\node_modules\...\codex.js" %*` (or `%~dp0`), and the script exists.
fn npm_shim_target(shim: &Path) -> Option<PathBuf> {
    let text = std::fs::read(shim).ok()?;
    if text.len() > 64 * 1024 {
        return None;
    }
    let text = String::from_utf8_lossy(&text);
    let dir = shim.parent()?;
    text.lines()
        .filter(|l| l.contains("%*"))
        .flat_map(|line| {
            ["\"%dp0%\\", "\"%~dp0\\"]
                .into_iter()
                .filter_map(move |marker| {
                    let start = line.rfind(marker)? + marker.len();
                    let end = start + line[start..].find('"')?;
                    Some(line[start..end].to_string())
                })
        })
        .filter(|rel| {
            let rel = rel.to_ascii_lowercase();
            [".js", ".cjs", ".mjs"].iter().any(|e| rel.ends_with(e))
        })
        .map(|rel| {
            rel.split(['\\', '/'])
                .filter(|part| !part.is_empty())
                .fold(dir.to_path_buf(), |p, part| p.join(part))
        })
        .find(|script| script.is_file())
}

/// Characters `cmd.exe` reads in a batch file's arguments whatever the quoting
/// a spawn gives them: `%` and `!` expand, `"` ends a quoted word, a line end
/// ends the command, and the operators act wherever they are left unquoted.
const CMD_SPECIAL: &[char] = &[
    '%', '!', '"', '\r', '\n', '\0', '&', '|', '<', '>', '^', '(', ')',
];

fn check_batch_args(script: &Path, args: &[String]) -> Result<(), LaunchError> {
    for (i, arg) in args.iter().enumerate() {
        if let Some(what) = cmd_special_in(arg) {
            return Err(LaunchError::UnsafeBatchArgument {
                script: script.display().to_string(),
                index: i + 1,
                what,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// npm's layout: `codex` (a shell script), `codex.cmd`, `codex.ps1`, the script.
    fn npm_prefix(root: &Path) -> PathBuf {
        let bin = root.join("npm");
        touch(
            &bin.join("codex"),
            "#!/bin/sh\nexec node \"$basedir/x.js\" \"$@\"\n",
        );
        touch(
            &bin.join("codex.cmd"),
            "@ECHO off\r\nGOTO start\r\n:find_dp0\r\nSET dp0=%~dp0\r\nEXIT /b\r\n:start\r\n\
             SETLOCAL\r\nCALL :find_dp0\r\n\r\nIF EXIST \"%dp0%\\node.exe\" (\r\n  \
             SET \"_prog=%dp0%\\node.exe\"\r\n) ELSE (\r\n  SET \"_prog=node\"\r\n  \
             SET PATHEXT=%PATHEXT:;.JS;=;%\r\n)\r\n\r\nendLocal & goto #_undefined_# 2>NUL || \
             title %COMSPEC% & \"%_prog%\"  \"%dp0%\\node_modules\\@openai\\codex\\bin\\codex.js\" %*\r\n",
        );
        touch(&bin.join("codex.ps1"), "# powershell\n");
        touch(
            &bin.join("node_modules/@openai/codex/bin/codex.js"),
            "console.log('codex')\n",
        );
        bin
    }

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn an_npm_shim_runs_its_script_with_node_and_keeps_every_argument() {
        let dir = tempfile::tempdir().unwrap();
        let npm = npm_prefix(dir.path());
        let node_dir = dir.path().join("nodejs");
        touch(&node_dir.join("node.exe"), "MZ");
        let lookup = Lookup::new(
            vec![npm.clone(), node_dir.clone()],
            ".COM;.EXE;.BAT;.CMD;.JS",
        );
        let prompt = "line one\nline \"two\" & 100% done";
        let launch = lookup
            .launch("codex", &words(&["-m", "gpt", prompt]), dir.path())
            .unwrap();
        assert_eq!(launch.program, node_dir.join("node.exe"));
        let script = ["node_modules", "@openai", "codex", "bin", "codex.js"]
            .iter()
            .fold(npm.clone(), |p, part| p.join(part));
        assert_eq!(
            launch.args,
            words(&[&script.display().to_string(), "-m", "gpt", prompt])
        );
        // A node.exe beside the shim wins, as the shim itself decides.
        touch(&npm.join("node.exe"), "MZ");
        let launch = lookup.launch("codex", &[], dir.path()).unwrap();
        assert_eq!(launch.program, npm.join("node.exe"));
    }

    #[test]
    fn a_shim_without_node_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let npm = npm_prefix(dir.path());
        let lookup = Lookup::new(vec![npm], ".EXE;.CMD");
        let err = lookup.launch("codex", &[], dir.path()).unwrap_err();
        assert!(matches!(err, LaunchError::NoNode { .. }), "{err}");
        assert!(err.to_string().contains("codex.js"), "{err}");
    }

    #[test]
    fn bare_names_follow_path_order_and_pathext_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        touch(&a.join("tool.cmd"), "@echo a\r\n");
        touch(&b.join("tool.exe"), "MZ");
        touch(&b.join("tool.bat"), "@echo b\r\n");
        let lookup = Lookup::new(vec![a.clone(), b.clone()], ".COM;.EXE;.BAT;.CMD");
        // The first folder that has the name wins; within it, PATHEXT's order.
        assert_eq!(lookup.find("tool", dir.path()), Some(a.join("tool.cmd")));
        let lookup = Lookup::new(vec![b.clone(), a.clone()], ".COM;.EXE;.BAT;.CMD");
        assert_eq!(lookup.find("tool", dir.path()), Some(b.join("tool.exe")));
        // A name with its extension, a path, and what is not there.
        assert_eq!(
            lookup.find("tool.bat", dir.path()),
            Some(b.join("tool.bat"))
        );
        assert_eq!(
            lookup.find(&a.join("tool").display().to_string(), dir.path()),
            Some(a.join("tool.cmd"))
        );
        assert_eq!(lookup.find("nothing", dir.path()), None);
        let err = lookup
            .launch("nothing", &words(&["x"]), dir.path())
            .unwrap_err();
        let missing = NotOnPath {
            name: "nothing".into(),
            relative_entries: false,
        };
        assert_eq!(err, LaunchError::NotOnPath(missing));
        // Extensions PATHEXT does not list, or Windows cannot start, are skipped.
        let lookup = Lookup::new(vec![a.clone()], ".EXE;.JS");
        assert_eq!(lookup.find("tool", dir.path()), None);
    }

    #[test]
    fn a_plain_batch_file_gets_only_arguments_cmd_reads_literally() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        touch(&bin.join("agent.cmd"), "@\"%~dp0\\agent.exe\" %*\r\n");
        let lookup = Lookup::new(vec![bin.clone()], ".EXE;.CMD");
        let ok = words(&["--session", "zhongshu-1", "--prompt-file", "C:\\x y\\p.txt"]);
        let launch = lookup.launch("agent", &ok, dir.path()).unwrap();
        assert_eq!(launch.program, bin.join("agent.cmd"));
        assert_eq!(launch.args, ok);
        for (bad, what) in [
            ("a & calc", "`&`"),
            ("%PATH%", "`%`"),
            ("say \"hi\"", "`\"`"),
            ("two\nlines", "a line break"),
            ("a|b", "`|`"),
        ] {
            let err = lookup
                .launch("agent", &words(&["--prompt", bad]), dir.path())
                .unwrap_err();
            let text = err.to_string();
            assert!(text.contains("argument 2"), "{text}");
            assert!(text.contains(what), "{bad:?}: {text}");
            assert!(text.contains("{prompt_file}"), "{text}");
        }
    }

    #[test]
    fn cmd_reads_what_follows_its_c_or_k_switch_itself() {
        let args = words(&["/d", "/C", "\"C:\\a b\\x.exe\" --say \"hi\"", "more"]);
        assert_eq!(cmd_command_line_from("cmd", &args), Some(2));
        assert_eq!(
            cmd_command_line_from(r"C:\Windows\system32\CMD.EXE", &args),
            Some(2)
        );
        assert_eq!(
            cmd_command_line_from("cmd.exe", &words(&["/k", "x"])),
            Some(1)
        );
        assert_eq!(cmd_command_line_from("cmd", &words(&["/d", "x"])), None);
        assert_eq!(cmd_command_line_from("cmdx", &args), None);
        assert_eq!(cmd_command_line_from("/usr/bin/node", &args), None);
        assert_eq!(cmd_special_in("plain words"), None);
        assert_eq!(cmd_special_in("a & calc").as_deref(), Some("`&`"));
        assert_eq!(
            cmd_special_in("two\nlines").as_deref(),
            Some("a line break")
        );
    }

    #[cfg(unix)]
    fn executable(path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        touch(path, "#!/bin/sh\nexit 0\n");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_bare_name_is_found_only_in_the_absolute_folders_of_path() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        executable(&bin.join("tool"));
        // Relative entries: `.`, empty (the current folder), `bin`.
        let relative = std::env::join_paths([".", "", "bin", "./bin"]).unwrap();
        assert_eq!(find_program_in("tool", Some(&relative)), None);
        let mixed = std::env::join_paths([Path::new("."), Path::new(""), bin.as_path()]).unwrap();
        assert_eq!(
            find_program_in("tool", Some(&mixed)),
            Some(bin.join("tool"))
        );
        // A file that cannot run is passed by, as exec would.
        touch(&dir.path().join("plain/tool"), "x");
        let plain = std::env::join_paths([dir.path().join("plain"), bin.clone()]).unwrap();
        assert_eq!(
            find_program_in("tool", Some(&plain)),
            Some(bin.join("tool"))
        );
        assert!(is_bare_name(Path::new("gh")));
        assert!(!is_bare_name(Path::new("./gh")));
        assert!(!is_bare_name(Path::new("/usr/bin/gh")));
        assert!(!is_bare_name(Path::new("a/gh")));
    }

    #[cfg(unix)]
    #[test]
    fn a_spawn_starts_a_bare_name_from_an_absolute_folder_or_refuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        executable(&bin.join("codex"));
        // The child's PATH (the spawn's env) is the one searched.
        let path = std::env::join_paths([Path::new("."), bin.as_path()]).unwrap();
        let env = vec![("PATH".to_string(), path.into_string().unwrap())];
        let launch = resolve("codex", &words(&["a b"]), &env, dir.path()).unwrap();
        assert_eq!(launch.program, bin.join("codex"));
        assert_eq!(launch.args, words(&["a b"]));
        // Only in the current folder, through `.`: refused, with the reason.
        executable(&dir.path().join("agent"));
        let env = vec![("PATH".to_string(), ".:".to_string())];
        let err = resolve("agent", &[], &env, dir.path()).unwrap_err();
        let missing = NotOnPath {
            name: "agent".into(),
            relative_entries: true,
        };
        assert_eq!(err, LaunchError::NotOnPath(missing));
        assert!(err.to_string().contains("absolute folder of PATH"), "{err}");
        // Without relative entries, no word about them.
        let env = vec![("PATH".to_string(), bin.display().to_string())];
        let err = resolve("agent", &[], &env, dir.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`agent` is not installed, or not in a folder on PATH; install it or name it by its full path"
        );
        // A path is the user's own choice, started as written.
        let launch = resolve("./agent", &[], &env, dir.path()).unwrap();
        assert_eq!(launch.program, PathBuf::from("./agent"));
    }
}
