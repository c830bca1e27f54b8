//! Did-you-mean for configuration words, one standard for every setting:
//! a value that is not allowed is said with what is allowed and the closest
//! allowed word. Shared by `config/` and the backends' own settings
//! (`agents/` imports nothing of `config/`).

/// The allowed word closest to `word` by edit distance, if close enough to
/// be a typo (at most a third of the word's letters, and at most 3).
pub fn closest<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    allowed
        .iter()
        .map(|k| (strsim::damerau_levenshtein(word, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// `"warm" is not allowed: one of warn, block (did you mean warn?)`: a
/// value outside a fixed set, with the set and the closest word (compared
/// without case, as a typo in case is a typo too).
pub fn one_of(value: &str, allowed: &[&str]) -> String {
    let lower = value.trim().to_lowercase();
    let mut said = format!("{value:?} is not allowed: one of {}", allowed.join(", "));
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
    }
}
