//! The disk's own speed, the reference beside every figure that waits on a sync.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Times of `n` 4 KiB writes each followed by an fsync, in `dir`, sorted.
pub fn fsync_times(dir: &Path, n: usize) -> Vec<Duration> {
    let path = dir.join("fsync-probe.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0x5au8; 4096];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f.write_all(&block).unwrap();
        f.sync_all().unwrap();
        times.push(t.elapsed());
    }
    drop(f);
    let _ = std::fs::remove_file(&path);
    times.sort();
    times
}
