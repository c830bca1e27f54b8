//! Reading the log by seq without reading it from its start: seqs rise by one
//! per line, so the line after a given seq is found by bisecting byte offsets
//! and reading a line at each probe. A page costs the same however long the
//! log has grown.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::Value;

/// Below this many bytes the remaining range is scanned line by line.
const SCAN_BYTES: u64 = 64 * 1024;

/// Lines with `seq > since`, oldest first, at most `limit`.
pub fn read_since(path: &Path, since: u64, limit: usize) -> std::io::Result<Vec<Value>> {
    let mut file = File::open(path)?;
    let start = offset_after(&mut file, since)?;
    file.seek(SeekFrom::Start(start))?;
    let mut out = Vec::new();
    for line in BufReader::new(file).lines() {
        if out.len() >= limit {
            break;
        }
        let Ok(v) = serde_json::from_str::<Value>(&line?) else {
            continue;
        };
        if seq_of(&v) > since {
            out.push(v);
        }
    }
    Ok(out)
}

/// The `limit` lines just before `before` (`seq < before`), oldest first.
pub fn read_before(path: &Path, before: u64, limit: usize) -> std::io::Result<Vec<Value>> {
    let first = before.saturating_sub(limit as u64).max(1);
    let mut page = read_since(path, first - 1, limit)?;
    page.retain(|v| seq_of(v) < before);
    Ok(page)
}

fn seq_of(v: &Value) -> u64 {
    v.get("seq").and_then(Value::as_u64).unwrap_or(0)
}

/// Byte offset of the first whole line whose seq is above `after` (or the end).
fn offset_after(file: &mut File, after: u64) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    let (mut lo, mut hi) = (0u64, len);
    // `lo` is always a line start; every line before it has seq <= after.
    while hi - lo > SCAN_BYTES {
        let mid = lo + (hi - lo) / 2;
        let Some(start) = next_line_start(file, mid, hi)? else {
            break;
        };
        let (line, end) = read_line(file, start)?;
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            break; // not a line of ours: scan the rest
        };
        if seq_of(&v) <= after {
            lo = end;
        } else {
            hi = start;
        }
    }
    scan(file, lo, after)
}

/// The first line start in `(at - 1, hi)`, if any.
fn next_line_start(file: &mut File, at: u64, hi: u64) -> std::io::Result<Option<u64>> {
    file.seek(SeekFrom::Start(at - 1))?;
    let mut reader = BufReader::new((&mut *file).take(hi - (at - 1)));
    let mut skipped = Vec::new();
    let n = reader.read_until(b'\n', &mut skipped)?;
    let start = at - 1 + n as u64;
    Ok((skipped.last() == Some(&b'\n') && start < hi).then_some(start))
}

/// The line starting at `start` (without its newline) and the offset after it.
fn read_line(file: &mut File, start: u64) -> std::io::Result<(Vec<u8>, u64)> {
    file.seek(SeekFrom::Start(start))?;
    let mut line = Vec::new();
    let n = BufReader::new(&mut *file).read_until(b'\n', &mut line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok((line, start + n as u64))
}

/// From line start `from`, the offset of the first line with seq above `after`.
fn scan(file: &mut File, from: u64, after: u64) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(from))?;
    let mut reader = BufReader::new(&mut *file);
    let mut at = from;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(at);
        }
        let seq = serde_json::from_slice::<Value>(&line)
            .map(|v| seq_of(&v))
            .unwrap_or(0);
        if seq > after {
            return Ok(at);
        }
        at += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn log_of(lines: u64, pad: usize) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let filler = "x".repeat(pad);
        for seq in 1..=lines {
            writeln!(f, "{{\"seq\":{seq},\"event\":\"e\",\"pad\":\"{filler}\"}}").unwrap();
        }
        f.flush().unwrap();
        f
    }

    fn seqs(v: &[Value]) -> Vec<u64> {
        v.iter().map(seq_of).collect()
    }

    #[test]
    fn pages_from_any_seq_in_a_long_log() {
        // About 3 MB: the bisection, not the final scan, finds the place.
        let f = log_of(20_000, 140);
        let p = f.path();
        assert_eq!(seqs(&read_since(p, 0, 3).unwrap()), vec![1, 2, 3]);
        assert_eq!(
            seqs(&read_since(p, 12_345, 2).unwrap()),
            vec![12_346, 12_347]
        );
        assert_eq!(seqs(&read_since(p, 19_999, 10).unwrap()), vec![20_000]);
        assert!(read_since(p, 20_000, 10).unwrap().is_empty());
        assert!(read_since(p, 99_999, 10).unwrap().is_empty());
        assert_eq!(
            seqs(&read_before(p, 20_001, 2).unwrap()),
            vec![19_999, 20_000]
        );
        assert_eq!(seqs(&read_before(p, 101, 3).unwrap()), vec![98, 99, 100]);
        assert_eq!(seqs(&read_before(p, 3, 10).unwrap()), vec![1, 2]);
        assert!(read_before(p, 1, 10).unwrap().is_empty());
    }

    #[test]
    fn every_start_of_a_small_log_is_found() {
        let f = log_of(300, 3);
        for since in 0..=301 {
            let got = seqs(&read_since(f.path(), since, 1).unwrap());
            let want: Vec<u64> = (since + 1..=300).take(1).collect();
            assert_eq!(got, want, "since {since}");
        }
    }

    #[test]
    fn a_foreign_line_is_skipped_not_fatal() {
        let mut f = log_of(2_000, 200);
        writeln!(f, "not json").unwrap();
        writeln!(f, "{{\"seq\":2001,\"event\":\"e\"}}").unwrap();
        f.flush().unwrap();
        assert_eq!(
            seqs(&read_since(f.path(), 1_999, 5).unwrap()),
            vec![2_000, 2_001]
        );
    }
}
