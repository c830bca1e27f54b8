//! The tamper-evident audit log: one JSON object per line, hash-chained.
//!
//! Each line carries `seq`, `ts`, `event`, its fields, `prev_hash` and `hash`, where
//! `hash` is SHA-256 (hex) of `prev_hash` followed by the line's JSON without `hash`.
//! A line is written with one `write` and synced before the change it records is
//! acknowledged, so a crash leaves at worst a torn last line, which the next start
//! sets aside (the chain continues from the last whole line).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

mod seek;

pub const AUDIT_FILE: &str = "codex_governance_audit.jsonl";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One appended line, as written.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    pub line: Value,
}

struct Tail {
    file: File,
    seq: u64,
    hash: String,
}

/// Appends to the audit log; cheap to share behind an `Arc`.
pub struct AuditLog {
    path: PathBuf,
    tail: Mutex<Tail>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read {0}: {1}")]
    Io(String, std::io::Error),
    #[error("line {line}: {reason}")]
    Bad { line: usize, reason: String },
}

fn hash_line(prev_hash: &str, without_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(without_hash.as_bytes());
    hex::encode(h.finalize())
}

impl AuditLog {
    /// Opens (or creates) the log in `dir`, continuing its chain.
    pub fn open(dir: &Path) -> anyhow::Result<AuditLog> {
        let path = dir.join(AUDIT_FILE);
        let (seq, hash, valid_len) = scan_tail(&path)?;
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        let len = file.metadata()?.len();
        if valid_len < len {
            // A torn last line from a crash: cut it off so the next line starts clean.
            file.set_len(valid_len)?;
            file.sync_all()?;
        }
        Ok(AuditLog {
            path,
            tail: Mutex::new(Tail { file, seq, hash }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The seq of the last line written.
    pub fn last_seq(&self) -> u64 {
        self.tail.lock().unwrap().seq
    }

    /// Appends one event with the next seq, synced before returning.
    pub fn append(&self, event: &str, fields: Value) -> std::io::Result<Entry> {
        let seq = self.last_seq() + 1;
        let mut entries = self.append_numbered(&[(seq, event.to_string(), fields)])?;
        Ok(entries.remove(0))
    }

    /// Appends events whose seqs the outbox assigned, with one write and one sync
    /// (each line whole). Lines at or below the last written seq are skipped.
    pub fn append_numbered(&self, events: &[(u64, String, Value)]) -> std::io::Result<Vec<Entry>> {
        let mut tail = self.tail.lock().unwrap();
        let mut prev = tail.hash.clone();
        let mut last = tail.seq;
        let mut buf = Vec::new();
        let mut entries = Vec::with_capacity(events.len());
        for (seq, event, fields) in events.iter().filter(|e| e.0 > tail.seq) {
            let (line, hash) = render_line(*seq, event, fields, &prev)?;
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            entries.push(Entry {
                seq: *seq,
                line: serde_json::from_str(&line)?,
            });
            prev = hash;
            last = *seq;
        }
        let len = tail.file.metadata()?.len();
        if let Err(e) = tail
            .file
            .write_all(&buf)
            .and_then(|_| tail.file.sync_data())
        {
            // A partial write (a full disk) must not leave a torn line in the middle
            // of the log, where the next line would follow it: cut it off.
            let _ = tail.file.set_len(len);
            return Err(e);
        }
        tail.seq = last;
        tail.hash = prev;
        Ok(entries)
    }

    /// Lines with `seq > since`, oldest first, at most `limit`.
    pub fn read_since(&self, since: u64, limit: usize) -> std::io::Result<Vec<Value>> {
        seek::read_since(&self.path, since, limit)
    }

    /// The `limit` lines before `before`, oldest first (a page back in time).
    pub fn read_before(&self, before: u64, limit: usize) -> std::io::Result<Vec<Value>> {
        seek::read_before(&self.path, before, limit)
    }
}

/// One line's JSON and hash: `seq`, `ts`, `event`, the fields, `prev_hash`, `hash`.
fn render_line(
    seq: u64,
    event: &str,
    fields: &Value,
    prev: &str,
) -> std::io::Result<(String, String)> {
    let mut obj = Map::new();
    obj.insert("seq".into(), seq.into());
    obj.insert("ts".into(), crate::clock::now_rfc3339().into());
    obj.insert("event".into(), event.into());
    if let Value::Object(f) = fields {
        for (k, v) in f {
            if !matches!(k.as_str(), "seq" | "ts" | "event" | "prev_hash" | "hash") {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
    obj.insert("prev_hash".into(), prev.into());
    let without = serde_json::to_string(&obj)?;
    let hash = hash_line(prev, &without);
    obj.insert("hash".into(), hash.clone().into());
    Ok((serde_json::to_string(&obj)?, hash))
}

/// Finds the last whole, valid line: (seq, hash, byte length up to and including
/// it). Reads from the end, so opening costs the same however long the log is.
fn scan_tail(path: &Path) -> anyhow::Result<(u64, String, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((0, GENESIS.to_string(), 0))
        }
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata()?.len();
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        Read::by_ref(&mut file)
            .take(len - start)
            .read_to_end(&mut buf)?;
        // Whole lines of the window, last first (the first may be cut by the window).
        let mut end = buf.len();
        while let Some(nl) = buf[..end].iter().rposition(|b| *b == b'\n') {
            let line_start = buf[..nl].iter().rposition(|b| *b == b'\n').map(|i| i + 1);
            let Some(line_start) = line_start.or((start == 0).then_some(0)) else {
                break;
            };
            if let Ok(v) = serde_json::from_slice::<Value>(&buf[line_start..nl]) {
                if let (Some(seq), Some(hash)) = (
                    v.get("seq").and_then(Value::as_u64),
                    v.get("hash").and_then(Value::as_str),
                ) {
                    return Ok((seq, hash.to_string(), start + nl as u64 + 1));
                }
            }
            end = line_start.saturating_sub(1);
            if line_start == 0 {
                break;
            }
        }
        if start == 0 {
            return Ok((0, GENESIS.to_string(), 0));
        }
        window *= 4;
    }
}

/// Checks the chain; Ok(number of lines) or the first bad line.
pub fn verify(path: &Path) -> Result<usize, VerifyError> {
    let file = File::open(path).map_err(|e| VerifyError::Io(path.display().to_string(), e))?;
    let mut prev = GENESIS.to_string();
    let mut last_seq = 0u64;
    let mut count = 0;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let bad = |reason: String| VerifyError::Bad { line: n, reason };
        let line = line.map_err(|e| bad(format!("unreadable: {e}")))?;
        let mut obj: Map<String, Value> = match serde_json::from_str(&line) {
            Ok(Value::Object(o)) => o,
            _ => return Err(bad("not a JSON object".into())),
        };
        let Some(Value::String(hash)) = obj.remove("hash") else {
            return Err(bad("no hash".into()));
        };
        let claimed_prev = obj.get("prev_hash").and_then(Value::as_str).unwrap_or("");
        if claimed_prev != prev {
            return Err(bad(
                "prev_hash does not match the previous line's hash".into()
            ));
        }
        let seq = obj.get("seq").and_then(Value::as_u64).unwrap_or(0);
        if seq != last_seq + 1 {
            return Err(bad(format!("seq {seq} follows {last_seq}")));
        }
        let without = serde_json::to_string(&obj).map_err(|e| bad(e.to_string()))?;
        if hash_line(&prev, &without) != hash {
            return Err(bad("hash does not match the line's content".into()));
        }
        prev = hash;
        last_seq = seq;
        count = n;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chain_verifies_continues_and_detects_edits() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        log.append("launcher_started", json!({"pid": 1})).unwrap();
        log.append("session_started", json!({"session_id": "zhongshu-1"}))
            .unwrap();
        drop(log);
        let log = AuditLog::open(dir.path()).unwrap();
        let e = log.append("launcher_stopped", json!({})).unwrap();
        assert_eq!(e.seq, 3);
        let path = dir.path().join(AUDIT_FILE);
        assert_eq!(verify(&path).unwrap(), 3);
        assert_eq!(log.read_since(1, 10).unwrap().len(), 2);

        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("zhongshu-1", "zhongshu-2")).unwrap();
        match verify(&path) {
            Err(VerifyError::Bad { line: 2, .. }) => {}
            other => panic!("expected line 2 to fail, got {other:?}"),
        }
    }

    #[test]
    fn torn_line_is_cut_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        log.append("a", json!({})).unwrap();
        drop(log);
        let path = dir.path().join(AUDIT_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":2,\"ts\"").unwrap();
        drop(f);
        let log = AuditLog::open(dir.path()).unwrap();
        log.append("b", json!({})).unwrap();
        assert_eq!(verify(&path).unwrap(), 2);
    }
}
