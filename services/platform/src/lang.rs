//! The language of texts a resident sees: Vietnamese first, English second.

use http::HeaderMap;
use http::header::ACCEPT_LANGUAGE;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// Picks the best supported language from `Accept-Language` (RFC 9110 §12.5.4), honouring
    /// q-values; Vietnamese when the header is missing or names nothing we speak.
    pub fn negotiate(headers: &HeaderMap) -> Lang {
        let Some(header) = headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()) else {
            return Lang::Vi;
        };
        let mut best: Option<(Lang, f32)> = None;
        for item in header.split(',').take(16) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or_default();
            let lang = if primary.eq_ignore_ascii_case("vi") {
                Lang::Vi
            } else if primary.eq_ignore_ascii_case("en") {
                Lang::En
            } else {
                continue;
            };
            // On a tie the earlier entry wins, as the client listed it first.
            if quality > 0.0 && best.is_none_or(|(_, q)| quality > q) {
                best = Some((lang, quality));
            }
        }
        best.map_or(Lang::Vi, |(lang, _)| lang)
    }

    /// Chooses between a Vietnamese and an English text.
    pub fn pick<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn negotiate(value: &str) -> Lang {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(value).unwrap());
        Lang::negotiate(&headers)
    }

    #[test]
    fn vietnamese_is_the_default() {
        assert_eq!(Lang::negotiate(&HeaderMap::new()), Lang::Vi);
        assert_eq!(negotiate("fr-FR, de"), Lang::Vi);
    }

    #[test]
    fn english_is_chosen_by_tag_or_quality() {
        assert_eq!(negotiate("en-US"), Lang::En);
        assert_eq!(negotiate("vi;q=0.4, en;q=0.9"), Lang::En);
        assert_eq!(negotiate("fr, en;q=0.5"), Lang::En);
        assert_eq!(negotiate("vi-VN, en;q=0.8"), Lang::Vi);
        assert_eq!(negotiate("en;q=0, vi;q=0.1"), Lang::Vi);
    }
}

/// An amount of VND as each language writes it: `487.350 ₫`, `487,350 VND`.
pub fn vnd(amount: i64, lang: Lang) -> String {
    let separator = match lang {
        Lang::Vi => '.',
        Lang::En => ',',
    };
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    if amount < 0 {
        grouped.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(separator);
        }
        grouped.push(c);
    }
    match lang {
        Lang::Vi => format!("{grouped} ₫"),
        Lang::En => format!("{grouped} VND"),
    }
}

#[cfg(test)]
mod vnd_tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_the_way_each_language_writes_them() {
        assert_eq!(vnd(487_350, Lang::Vi), "487.350 ₫");
        assert_eq!(vnd(1_234_567, Lang::En), "1,234,567 VND");
        assert_eq!(vnd(500, Lang::Vi), "500 ₫");
        assert_eq!(vnd(-1_000, Lang::En), "-1,000 VND");
    }
}
