//! Vietnamese mobile numbers, normalised to E.164 so `0912 345 678`, `+84912345678` and
//! `84912345678` are one person.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts the national form (`0912345678`), the international one with or without `+`, and
    /// the usual separators (spaces, dots, dashes, parentheses). Only mobile numbers (a
    /// nine-digit national number starting with 3, 5, 7, 8 or 9) receive SMS codes.
    pub fn parse(input: &str) -> Option<PhoneNumber> {
        if input.len() > 32 {
            return None;
        }
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
            .collect();
        let (plus, digits) = match compact.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, compact.as_str()),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let national = if let Some(n) = digits.strip_prefix("84").filter(|n| n.len() == 9) {
            n
        } else if plus {
            return None;
        } else {
            digits.strip_prefix('0')?
        };
        let mobile = national.len() == 9
            && matches!(national.as_bytes()[0], b'3' | b'5' | b'7' | b'8' | b'9');
        mobile.then(|| PhoneNumber(format!("+84{national}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `+8491****678`, for logs.
    pub fn masked(&self) -> String {
        let s = &self.0;
        format!("{}****{}", &s[..5], &s[s.len() - 3..])
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_usual_forms_are_one_number() {
        for input in [
            "0912 345 678",
            "+84912345678",
            "84912345678",
            "091.234.5678",
            "(+84) 912-345-678",
        ] {
            assert_eq!(
                PhoneNumber::parse(input).unwrap().as_str(),
                "+84912345678",
                "{input}"
            );
        }
    }

    #[test]
    fn invalid_and_non_mobile_numbers_are_refused() {
        for input in [
            "",
            "12345",
            "0912 345 67",
            "0912 345 6789",
            "+1 650 253 0000",
            "0241234567",
            "09123abc78",
            "+0912345678",
        ] {
            assert_eq!(PhoneNumber::parse(input), None, "{input}");
        }
    }

    #[test]
    fn masking_hides_the_middle() {
        assert_eq!(
            PhoneNumber::parse("0912345678").unwrap().masked(),
            "+8491****678"
        );
    }
}
