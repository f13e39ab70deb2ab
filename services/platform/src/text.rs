//! Text from outside refused when it carries control characters: a NUL byte reaches PostgreSQL
//! (which refuses it in `text`, a 500), and the others hide in logs, names and notices. Every
//! entry checks with this one rule: the URI (path and query, decoded) in every service's layers,
//! JSON bodies in `JsonBody`, form bodies where they are parsed. Tab, line feed and carriage
//! return stay allowed in bodies, where multi-line text is normal.

use serde::Serialize;

use crate::error::{ApiError, SharedError};

/// A text a resident reads, in Vietnamese and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Text {
    pub vi: String,
    pub en: String,
}

impl Text {
    pub fn new(vi: &str, en: &str) -> Self {
        Self {
            vi: vi.to_owned(),
            en: en.to_owned(),
        }
    }
}

/// A control character other than the whitespace that multi-line text uses.
fn forbidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

pub fn invalid_text() -> ApiError {
    SharedError::InvalidText.into()
}

/// Refuses `text` (already decoded) when it has a forbidden control character.
pub fn check(text: &str) -> Result<(), ApiError> {
    if text.chars().any(forbidden) {
        Err(invalid_text())
    } else {
        Ok(())
    }
}

/// Refuses a JSON document whose strings hold a forbidden control character. JSON carries them
/// only as `\u` escapes (raw ones are invalid JSON) or raw C1/DEL, so the bytes are scanned
/// without parsing.
pub fn check_json(json: &[u8]) -> Result<(), ApiError> {
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'\\' => {
                if json.get(i + 1) == Some(&b'u')
                    && let Some(hex) = json.get(i + 2..i + 6)
                    && let Ok(hex) = std::str::from_utf8(hex)
                    && let Ok(code) = u32::from_str_radix(hex, 16)
                    && char::from_u32(code).is_some_and(forbidden)
                {
                    return Err(invalid_text());
                }
                i += 2;
            }
            0x7f => return Err(invalid_text()),
            // C1 controls, U+0080..U+009F, are 0xC2 0x80..0x9F in UTF-8.
            0xc2 if json.get(i + 1).is_some_and(|b| (0x80..=0x9f).contains(b)) => {
                return Err(invalid_text());
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Whether a request's path or query, percent-decoded, holds any control character (such a
/// request is refused with `invalid_text`).
pub fn has_control_characters(uri: &http::Uri) -> bool {
    let decoded = |part: &str| {
        percent_decoded(part)
            .iter()
            .any(|b| *b < 0x20 || *b == 0x7f)
    };
    decoded(uri.path()) || uri.query().is_some_and(decoded)
}

fn percent_decoded(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_with_control_escapes_are_refused_and_multiline_text_is_not() {
        assert!(check_json(br#"{"description":"a\u0000b"}"#).is_err());
        assert!(check_json(br#"{"name":"\u001B[31m"}"#).is_err());
        assert!(check_json("{\"name\":\"a\u{7f}\"}".as_bytes()).is_err());
        assert!(check_json("{\"name\":\"a\u{85}\"}".as_bytes()).is_err());
        assert!(check_json(br#"{"description":"line one\nline two\tand\r\n"}"#).is_ok());
        // An escaped backslash followed by the letters u0000 is text, not a NUL.
        assert!(check_json(br#"{"path":"C:\\u0000"}"#).is_ok());
        assert!(check_json("{\"name\":\"Nguyễn Thị Hoa\"}".as_bytes()).is_ok());
    }

    #[test]
    fn percent_encoded_controls_are_found() {
        assert!(percent_decoded("q=a%00b").contains(&0));
        assert_eq!(percent_decoded("q=ph%E1%BA%A3n"), "q=phản".as_bytes());
    }
}
