//! Did-you-mean for configuration words, one standard for every setting:
//! a value that is not allowed is said with what is allowed and the closest
//! allowed word. Shared by `config/` and the backends' own settings
//! (`agents/` imports nothing of `config/`).

/// The allowed word closest to `word` by edit distance, if close enough to
/// be a typo (at most a third of the word's letters, and at most 3).
pub fn closest<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let chars = word.chars().count();
    let limit = (chars / 3).clamp(1, 3);
    // A word far longer than any allowed one is no typo (and the distance
    // would cost its length times theirs).
    let longest = allowed.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    if chars > longest + limit {
        return None;
    }
    allowed
        .iter()
        .map(|k| (strsim::damerau_levenshtein(word, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Bytes of a value that is not allowed echoed in its error (on a character boundary).
const SHOWN_BYTES: usize = 64;

/// `"warm" is not allowed: one of warn, block (did you mean warn?)`: a
/// value outside a fixed set, with the set and the closest word (compared
/// without case, as a typo in case is a typo too).
pub fn one_of(value: &str, allowed: &[&str]) -> String {
    let lower = value.trim().to_lowercase();
    let mut said = format!(
        "{:?} is not allowed: one of {}",
        crate::text::head(value, SHOWN_BYTES),
        allowed.join(", ")
    );
    if let Some(c) = closest(&lower, allowed) {
        said.push_str(&format!(" (did you mean {c}?)"));
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_gets_the_closest_word_and_another_word_only_the_list() {
        assert_eq!(
            one_of("warm", &["warn", "block"]),
            "\"warm\" is not allowed: one of warn, block (did you mean warn?)"
        );
        assert_eq!(
            one_of("Squash ", &["squash", "history"]),
            "\"Squash \" is not allowed: one of squash, history (did you mean squash?)"
        );
        assert_eq!(
            one_of("rebase", &["squash", "history"]),
            "\"rebase\" is not allowed: one of squash, history"
        );
        // A huge value costs nothing and is echoed cut.
        let huge = "w".repeat(4 << 20);
        let said = one_of(&huge, &["warn", "block"]);
        assert!(said.len() < 200, "{}", said.len());
    }
}
