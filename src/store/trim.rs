//! Giving the heap a burst of changes freed back to the system.
//!
//! glibc's allocator keeps what it freed for the next allocation: after a
//! burst of thousands of reports (each parsed, validated, rendered into
//! audit lines and committed by threads of the runtime and the blocking
//! pool, each with an arena of its own) the launcher kept tens of megabytes
//! it no longer used, and the resident size stayed at its peak. Once the
//! changes stop for a moment, `malloc_trim` hands the free pages back.
//! Elsewhere (another C library, Windows) there is nothing to do.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long without a change before trimming.
const QUIET: Duration = Duration::from_secs(2);

/// Changes since the last trim: when the last one was made.
type Shared = (Mutex<Option<Instant>>, Condvar);

/// Trims the heap once changes pause; ends with its owner.
pub struct Trimmer {
    shared: Arc<Shared>,
}

impl Trimmer {
    pub fn start() -> Trimmer {
        let shared: Arc<Shared> = Arc::new((Mutex::new(None), Condvar::new()));
        if crate::platform::TRIMS_HEAP {
            let weak = Arc::downgrade(&shared);
            let _ = std::thread::Builder::new()
                .name("heap-trim".into())
                .stack_size(64 * 1024)
                .spawn(move || run(weak));
        }
        Trimmer { shared }
    }

    /// A change was made.
    pub fn changed(&self) {
        let (last, wake) = &*self.shared;
        *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        wake.notify_one();
    }
}

fn run(weak: Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let (last, wake) = &*shared;
        let mut guard = last.lock().unwrap_or_else(|p| p.into_inner());
        // Wake now and then to notice the owner is gone.
        let wait = match *guard {
            None => Duration::from_secs(5),
            Some(at) => QUIET.saturating_sub(at.elapsed()),
        };
        if !wait.is_zero() {
            guard = wake
                .wait_timeout(guard, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let due = guard.is_some_and(|at| at.elapsed() >= QUIET);
        if due {
            *guard = None;
        }
        drop(guard);
        drop(shared);
        if due {
            crate::platform::trim_heap();
        }
    }
}
