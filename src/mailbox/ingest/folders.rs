//! What a scan may do with one Zhongshu's mailbox folders, and which names in
//! `incoming/` are reports.
//!
//! Nothing in `incoming/` may sit there unexplained: a report whose name is not
//! UTF-8 is listed so it can be rejected (its name shown lossily), and when
//! `archive/` cannot take reports (a symbolic link, a file) every report is
//! rejected with that reason instead of waiting forever.

use std::fs;
use std::path::{Path, PathBuf};

use super::Ingest;
use crate::model::{AuditEvent, MailboxPaths};

/// The reason given for a report whose file name is not UTF-8.
pub const NOT_UTF8: &str =
    "file name is not UTF-8 (shown here lossily); name reports like <report-id>.json";

/// Whether a scan can use a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderCheck {
    Usable,
    /// Reports can be read and rejected, but not archived: reject them all.
    CannotArchive(String),
    /// Scanning would read or move files outside the state directory.
    Unusable(String),
}

/// Checks the folders of one mailbox without following links.
pub fn check(paths: &MailboxPaths) -> FolderCheck {
    let kind = |p: &Path| fs::symlink_metadata(p).map(|m| m.file_type());
    let describe = |name: &str, p: &Path| match kind(p) {
        Ok(t) if t.is_symlink() => Some(format!("{name} is a symbolic link")),
        Ok(t) if !t.is_dir() => Some(format!("{name} is not a directory")),
        Ok(_) => None,
        Err(_) => Some(format!("{name} is missing")),
    };
    let missing_ok = |name: &str, p: &Path| match kind(p) {
        Err(_) => None,
        Ok(_) => describe(name, p),
    };
    if let Some(problem) = describe("the mailbox folder", &paths.root)
        .or_else(|| describe("incoming/", &paths.incoming))
        .or_else(|| missing_ok("rejected/", &paths.rejected))
    {
        return FolderCheck::Unusable(problem);
    }
    match missing_ok("archive/", &paths.archive) {
        Some(problem) => FolderCheck::CannotArchive(format!(
            "{problem}: reports cannot be archived, so none is registered"
        )),
        None => FolderCheck::Usable,
    }
}

/// One report file found in `incoming/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dropped {
    pub name: String,
    pub path: PathBuf,
    /// The session whose own drop folder (`incoming/<session>/`) holds it;
    /// None for the shared `incoming/` (Python-era agents, hand drops).
    pub folder: Option<String>,
}

impl Dropped {
    /// How the file reached the launcher, for [`crate::policy::report::bind`].
    pub fn channel(&self) -> crate::policy::report::Channel<'_> {
        match &self.folder {
            Some(owner) => crate::policy::report::Channel::DropFolder(owner),
            None => crate::policy::report::Channel::SharedIncoming,
        }
    }
}

/// The files of `incoming/` and of the departments' drop folders in it that
/// are reports, sorted, and the report names that are not UTF-8 (lossy).
pub struct Listing {
    pub reports: Vec<Dropped>,
    pub bad_names: Vec<(String, PathBuf)>,
}

/// Lists `incoming/` and its drop folders (one level, real folders named
/// like session ids; links are not followed): names ending in `.json` and
/// not starting with a dot (files being written are hidden by convention).
pub fn list_incoming(dir: &Path) -> std::io::Result<Listing> {
    let mut listing = Listing {
        reports: Vec::new(),
        bad_names: Vec::new(),
    };
    list_into(dir, None, &mut listing)?;
    for entry in fs::read_dir(dir)?.filter_map(Result::ok) {
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let name = entry.file_name();
        let Some(session) = name
            .to_str()
            .filter(|n| crate::ids::check_id("folder", n).is_ok())
        else {
            continue;
        };
        if is_dir {
            // A folder that vanished meanwhile has nothing to list.
            let _ = list_into(&entry.path(), Some(session), &mut listing);
        }
    }
    listing.reports.sort();
    Ok(listing)
}

fn list_into(dir: &Path, folder: Option<&str>, listing: &mut Listing) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)?.filter_map(Result::ok) {
        let raw = entry.file_name();
        let bytes = raw.as_encoded_bytes();
        if !bytes.ends_with(b".json") || bytes.starts_with(b".") {
            continue;
        }
        match raw.to_str() {
            Some(name) => listing.reports.push(Dropped {
                name: name.to_string(),
                path: entry.path(),
                folder: folder.map(str::to_string),
            }),
            None => listing
                .bad_names
                .push((raw.to_string_lossy().into_owned(), entry.path())),
        }
    }
    Ok(())
}

impl Ingest {
    /// The reports of a mailbox a scan may judge, after rejecting what can never
    /// be accepted (names that are not UTF-8; everything, when `archive/` cannot
    /// take reports). None when the mailbox cannot be scanned at all.
    pub(super) fn usable_listing(
        &self,
        zhongshu_id: &str,
        paths: &MailboxPaths,
    ) -> Option<Listing> {
        let problem = match check(paths) {
            FolderCheck::Usable => None,
            FolderCheck::CannotArchive(reason) => Some(reason),
            FolderCheck::Unusable(reason) => {
                // Scanning through a link would read or move files outside the
                // state directory: refuse, visibly.
                tracing::warn!("mailbox of {zhongshu_id}: {reason}; not scanned");
                self.ctx.store.audit_or_log(AuditEvent::MailboxUnusable {
                    parent_session_id: zhongshu_id.to_string(),
                    error: reason.to_string(),
                });
                return None;
            }
        };
        let listing = list_incoming(&paths.incoming).ok()?;
        for (name, path) in &listing.bad_names {
            self.reject(zhongshu_id, paths, name, path, NOT_UTF8);
        }
        match problem {
            None => Some(listing),
            Some(reason) => {
                for d in &listing.reports {
                    self.reject(zhongshu_id, paths, &d.name, &d.path, &reason);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox() -> (tempfile::TempDir, MailboxPaths) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("zhongshu-1");
        let paths = MailboxPaths {
            incoming: root.join("incoming"),
            archive: root.join("archive"),
            rejected: root.join("rejected"),
            root,
        };
        fs::create_dir_all(&paths.incoming).unwrap();
        (dir, paths)
    }

    #[cfg(unix)]
    fn name_from_bytes(name: &[u8]) -> &std::ffi::OsStr {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(name)
    }

    #[cfg(not(unix))]
    fn name_from_bytes(name: &[u8]) -> std::ffi::OsString {
        String::from_utf8_lossy(name).into_owned().into()
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Windows names are UTF-16: bytes that are not UTF-8 cannot be written"
    )]
    fn lists_reports_and_names_that_are_not_utf8() {
        let (_dir, paths) = mailbox();
        for name in [
            &b"b.json"[..],
            b"a.json",
            b".hidden.json",
            b"notes.txt",
            b"r\xff.json",
        ] {
            fs::write(paths.incoming.join(name_from_bytes(name)), b"{}").unwrap();
        }
        let own = paths.incoming.join("lingyubu-1");
        fs::create_dir(&own).unwrap();
        fs::write(own.join("c.json"), b"{}").unwrap();
        fs::write(own.join(".c.json"), b"{}").unwrap();
        crate::platform::symlink_for_tests(&own, paths.incoming.join("linked-1")).unwrap();
        fs::create_dir(paths.incoming.join("not an id")).unwrap();
        fs::write(paths.incoming.join("not an id/d.json"), b"{}").unwrap();
        let l = list_incoming(&paths.incoming).unwrap();
        let names: Vec<(&str, Option<&str>)> = l
            .reports
            .iter()
            .map(|d| (d.name.as_str(), d.folder.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("a.json", None),
                ("b.json", None),
                ("c.json", Some("lingyubu-1"))
            ]
        );
        assert_eq!(l.bad_names.len(), 1);
        assert_eq!(l.bad_names[0].0, "r\u{fffd}.json");
        assert!(l.bad_names[0].1.exists());
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine makes no symbolic links (its CreateSymbolicLinkW is a stub)"
    )]
    fn an_archive_link_or_file_means_cannot_archive() {
        let (dir, paths) = mailbox();
        assert_eq!(check(&paths), FolderCheck::Usable);
        crate::platform::symlink_for_tests(dir.path(), &paths.archive).unwrap();
        let got = check(&paths);
        assert!(
            matches!(&got, FolderCheck::CannotArchive(r) if r.contains("archive/ is a symbolic link")),
            "{got:?}"
        );
        fs::remove_file(&paths.archive).unwrap();
        fs::write(&paths.archive, b"").unwrap();
        assert!(matches!(check(&paths), FolderCheck::CannotArchive(_)));
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine makes no symbolic links (its CreateSymbolicLinkW is a stub)"
    )]
    fn linked_incoming_or_rejected_is_unusable() {
        let (dir, paths) = mailbox();
        crate::platform::symlink_for_tests(dir.path(), &paths.rejected).unwrap();
        assert_eq!(
            check(&paths),
            FolderCheck::Unusable("rejected/ is a symbolic link".into())
        );
        fs::remove_file(&paths.rejected).unwrap();
        fs::remove_dir(&paths.incoming).unwrap();
        crate::platform::symlink_for_tests(dir.path(), &paths.incoming).unwrap();
        assert_eq!(
            check(&paths),
            FolderCheck::Unusable("incoming/ is a symbolic link".into())
        );
    }
}
