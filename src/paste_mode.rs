//! Whether a terminal program asked for bracketed paste. Programs switch it on
//! with `ESC [ ? 2004 h` and off with `ESC [ ? 2004 l`; text typed into one that
//! did not ask must be plain, or it shows `^[[200~` around every notice. The
//! sequences are found in the output as it streams, also when a read splits one.

const ON: &[u8] = b"\x1b[?2004h";
const OFF: &[u8] = b"\x1b[?2004l";

/// Follows the mode through a program's output.
#[derive(Debug, Default)]
pub struct PasteMode {
    on: bool,
    /// The end of the last chunk, in case a sequence continues in the next.
    tail: Vec<u8>,
}

impl PasteMode {
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Reads one chunk of output; the last switch in it wins. The chunk is
    /// scanned in place; only the few bytes where the last chunk ended and this
    /// one begins are copied, for a sequence a read split.
    pub fn feed(&mut self, chunk: &[u8]) {
        const KEEP: usize = ON.len() - 1;
        let mut seam = std::mem::take(&mut self.tail);
        seam.extend_from_slice(&chunk[..chunk.len().min(KEEP)]);
        // A sequence wholly in the chunk comes after one that spans the seam.
        if let Some(on) = last_switch(chunk).or_else(|| last_switch(&seam)) {
            self.on = on;
        }
        self.tail = if chunk.len() >= KEEP {
            chunk[chunk.len() - KEEP..].to_vec()
        } else {
            seam[seam.len().saturating_sub(KEEP)..].to_vec()
        };
    }
}

/// The last switch in `bytes`: Some(true) for on, Some(false) for off.
fn last_switch(bytes: &[u8]) -> Option<bool> {
    let last = |pat: &[u8]| bytes.windows(pat.len()).rposition(|w| w == pat);
    match (last(ON), last(OFF)) {
        (Some(on), Some(off)) => Some(on > off),
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_last_switch() {
        let mut m = PasteMode::default();
        assert!(!m.is_on());
        m.feed(b"hello \x1b[?2004h prompt> ");
        assert!(m.is_on());
        m.feed(b"\x1b[?2004l bye");
        assert!(!m.is_on());
        m.feed(b"\x1b[?2004l...\x1b[?2004h");
        assert!(m.is_on());
    }

    #[test]
    fn a_sequence_split_across_reads_counts() {
        let on = b"\x1b[?2004h";
        for cut in 1..on.len() {
            let mut m = PasteMode::default();
            m.feed(&on[..cut]);
            m.feed(&on[cut..]);
            assert!(m.is_on(), "split after {cut} bytes");
        }
        let mut m = PasteMode::default();
        m.feed(b"\x1b[?2004h");
        for b in b"\x1b[?2004l" {
            m.feed(&[*b]);
        }
        assert!(!m.is_on());
    }

    #[test]
    fn other_modes_do_not_count() {
        let mut m = PasteMode::default();
        m.feed(b"\x1b[?2004x\x1b[?1049h\x1b[?25h[?2004h");
        assert!(!m.is_on());
    }
}
