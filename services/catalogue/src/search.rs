//! Accent-insensitive Vietnamese search: text is folded to lower-case letters without
//! diacritics (`Phản ánh` -> `phan anh`, `Đường` -> `duong`) both when the catalogue is seeded
//! and when a resident searches, and every word of the query must appear.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
/// Words of a query that are used; the rest are ignored.
const MAX_QUERY_WORDS: usize = 8;

/// Lower-case, diacritics removed, punctuation turned into single spaces.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_alphanumeric() {
            if pending_space && !folded.is_empty() {
                folded.push(' ');
            }
            pending_space = false;
            folded.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    folded
}

/// `LIKE` patterns, one per word of the query; a row matches when it matches them all.
pub fn like_patterns(query: &str) -> Vec<String> {
    fold(query)
        .split(' ')
        .filter(|w| !w.is_empty())
        .take(MAX_QUERY_WORDS)
        .map(|word| format!("%{}%", escape_like(word)))
        .collect()
}

fn escape_like(word: &str) -> String {
    word.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_diacritics_and_case_are_folded_away() {
        assert_eq!(fold("Phản ánh hiện trường"), "phan anh hien truong");
        assert_eq!(fold("ĐƯỜNG dây nóng, 1022!"), "duong day nong 1022");
        assert_eq!(fold("Học phí"), "hoc phi");
    }

    #[test]
    fn a_query_becomes_one_pattern_per_word() {
        assert_eq!(like_patterns("  phản  ANH "), vec!["%phan%", "%anh%"]);
        assert!(like_patterns("...").is_empty());
    }
}
