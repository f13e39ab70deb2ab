//! Checks of what residents and staff send, worded as the shared problems.

use platform::ApiError;
use platform::error::SharedError;

/// A text field, trimmed: 1 to `max` characters (0 to `max` when `optional`). Control
/// characters never reach here (`JsonBody` refuses them), but line breaks do.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars == 0 || chars > max {
        return Err(SharedError::InvalidField {
            field,
            rule_vi: format!("từ 1 đến {max} ký tự"),
            rule_en: format!("1 to {max} characters"),
        }
        .into());
    }
    Ok(value.to_owned())
}

/// A jurisdiction id from a path: one that cannot be one (it would be spliced into another
/// service's path) is no jurisdiction, 404.
pub fn jurisdiction(id: &str) -> Result<(), ApiError> {
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::jurisdiction_not_found())
    }
}

/// A page size: `limit` or `default`, at most `max`.
pub fn limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    match limit {
        None => Ok(default),
        Some(limit) if (1..=max).contains(&limit) => Ok(limit),
        Some(_) => Err(SharedError::InvalidQuery {
            reason: format!("limit must be 1 to {max}"),
        }
        .into()),
    }
}
