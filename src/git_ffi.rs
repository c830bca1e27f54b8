//! Every raw libgit2 call the launcher makes, in one place: the few that git2
//! does not wrap, or wraps only with writing. Each is safe to call: the
//! pointers are built and freed here, and errors come back as `git2::Error`.
//!
//! - a repository handle of one thread's own ([`RawRepo`]);
//! - whether a working-tree path is ignored, without a `Repository` (which
//!   would load and cache more than a scan needs);
//! - a working-tree file's blob id read through the repository's filters by
//!   the name of an open descriptor (the report: no file can take its place
//!   between the check and the read);
//! - a blob as checked out at a path (`git_blob_filter`: a worktree's files
//!   written by the launcher, not by libgit2's checkout);
//! - `git worktree add` without a checkout (the launcher fills it itself).

use std::ffi::{c_char, c_int, CStr};
use std::path::Path;

use git2::Oid;
use libgit2_sys as sys;

extern "C" {
    fn git_repository_hashfile(
        out: *mut sys::git_oid,
        repo: *mut sys::git_repository,
        path: *const c_char,
        kind: sys::git_object_t,
        as_path: *const c_char,
    ) -> c_int;

    fn git_blob_filter(
        out: *mut sys::git_buf,
        blob: *mut sys::git_blob,
        as_path: *const c_char,
        opts: *mut BlobFilterOptions,
    ) -> c_int;
}

/// `git_blob_filter_options`, version 1.
#[repr(C)]
struct BlobFilterOptions {
    version: c_int,
    flags: u32,
    commit_id: *mut sys::git_oid,
    attr_commit_id: sys::git_oid,
}

fn check(rc: c_int) -> Result<(), git2::Error> {
    if rc < 0 {
        return Err(git2::Error::last_error(rc));
    }
    Ok(())
}

fn c_path(path: &Path) -> Result<std::ffi::CString, git2::Error> {
    std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| git2::Error::from_str("a path holds a NUL byte"))
}

/// A repository handle of this thread's own, freed on drop.
pub struct RawRepo(*mut sys::git_repository);

impl Drop for RawRepo {
    fn drop(&mut self) {
        // SAFETY: opened by `open`, freed once.
        unsafe { sys::git_repository_free(self.0) }
    }
}

impl RawRepo {
    pub fn open(root: &Path) -> Result<RawRepo, git2::Error> {
        RawRepo::open_c(&c_path(root)?)
    }

    fn open_c(root: &CStr) -> Result<RawRepo, git2::Error> {
        sys::init();
        let mut raw = std::ptr::null_mut();
        // SAFETY: both pointers are valid for the call.
        check(unsafe { sys::git_repository_open(&mut raw, root.as_ptr()) })?;
        Ok(RawRepo(raw))
    }

    /// Whether the working tree's `path` is ignored (or inside an ignored folder).
    pub fn ignored(&self, path: &CStr) -> Result<bool, git2::Error> {
        let mut ignored: c_int = 0;
        // SAFETY: the repository is open; both pointers are valid.
        check(unsafe { sys::git_ignore_path_is_ignored(&mut ignored, self.0, path.as_ptr()) })?;
        Ok(ignored == 1)
    }

    /// The blob id of the file libgit2 opens by the name `on_disk`, read
    /// through the filters of the working tree's `as_path`.
    pub fn hash_file(&self, on_disk: &CStr, as_path: &CStr) -> Result<Oid, git2::Error> {
        let mut id = sys::git_oid { id: [0; 20] };
        // SAFETY: the repository is open; every pointer is valid for the call.
        check(unsafe {
            git_repository_hashfile(
                &mut id,
                self.0,
                on_disk.as_ptr(),
                sys::GIT_OBJECT_BLOB,
                as_path.as_ptr(),
            )
        })?;
        Oid::from_bytes(&id.id)
    }

    /// The blob `id` as checked out at `path`, into `out`; with `filters`
    /// false, as it is stored (no checkout filter can apply).
    pub fn blob_as_checked_out(
        &self,
        id: Oid,
        path: &CStr,
        filters: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), git2::Error> {
        let oid = sys::git_oid {
            id: id
                .as_bytes()
                .try_into()
                .map_err(|_| git2::Error::from_str("an object id of another length"))?,
        };
        let mut opts = BlobFilterOptions {
            version: 1,
            // No binary check, no HEAD: as libgit2's checkout loads filters.
            flags: 0,
            commit_id: std::ptr::null_mut(),
            attr_commit_id: sys::git_oid { id: [0; 20] },
        };
        let mut blob = std::ptr::null_mut();
        // SAFETY: the repository is open; every pointer is valid for its
        // call; the blob and the buffer are freed before returning.
        unsafe {
            check(sys::git_blob_lookup(&mut blob, self.0, &oid))?;
            if !filters {
                let size = sys::git_blob_rawsize(blob) as usize;
                out.clear();
                if size > 0 {
                    let bytes = sys::git_blob_rawcontent(blob) as *const u8;
                    out.extend_from_slice(std::slice::from_raw_parts(bytes, size));
                }
                sys::git_blob_free(blob);
                return Ok(());
            }
            let mut buf = sys::git_buf {
                ptr: std::ptr::null_mut(),
                reserved: 0,
                size: 0,
            };
            let rc = git_blob_filter(&mut buf, blob, path.as_ptr(), &mut opts);
            if rc == 0 {
                out.clear();
                if buf.size > 0 {
                    out.extend_from_slice(std::slice::from_raw_parts(
                        buf.ptr as *const u8,
                        buf.size,
                    ));
                }
            }
            sys::git_buf_dispose(&mut buf);
            sys::git_blob_free(blob);
            check(rc)
        }
    }
}

/// `git worktree add` of `branch` at `path` named `name`, checking nothing
/// out: its checkout would still compare the whole tree with the empty
/// folder (and write an index) to do nothing, so it is kept to one path no
/// tree holds (`.git`).
pub fn add_worktree_without_checkout(
    repo: &Path,
    name: &str,
    path: &Path,
    branch: &git2::Reference<'_>,
) -> Result<(), git2::Error> {
    let repo_c = c_path(repo)?;
    let name_c = std::ffi::CString::new(name.as_bytes())
        .map_err(|_| git2::Error::from_str("a name holds a NUL byte"))?;
    let path_c = c_path(path)?;
    let mut options = git2::WorktreeAddOptions::new();
    options.reference(Some(branch));
    // SAFETY: `raw()` points at the options' plain C struct; it is copied,
    // and the reference it names (`branch`) outlives the call below.
    let mut raw = unsafe { std::ptr::read(options.raw()) };
    raw.checkout_options.checkout_strategy = sys::GIT_CHECKOUT_NONE
        | sys::GIT_CHECKOUT_DONT_UPDATE_INDEX
        | sys::GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
    let mut nothing = [c".git".as_ptr().cast_mut()];
    raw.checkout_options.paths = sys::git_strarray {
        strings: nothing.as_mut_ptr(),
        count: 1,
    };
    let repo = RawRepo::open_c(&repo_c)?;
    let mut out = std::ptr::null_mut();
    // SAFETY: the repository is open; every pointer is valid for the call;
    // the worktree handed out is freed here.
    unsafe {
        check(sys::git_worktree_add(
            &mut out,
            repo.0,
            name_c.as_ptr(),
            path_c.as_ptr(),
            &raw,
        ))?;
        sys::git_worktree_free(out);
    }
    Ok(())
}
