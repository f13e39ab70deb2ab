//! Việt Nam's time: UTC+7 all year (Asia/Ho_Chi_Minh keeps no daylight saving). It decides a
//! resident's days: quotas, ages, due dates, opening hours, the dates on receipts.

use chrono::{FixedOffset, NaiveDate, Utc};

/// UTC+7.
pub const OFFSET: FixedOffset = match FixedOffset::east_opt(7 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+7 is an offset"),
};

/// Today in Việt Nam.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&OFFSET).date_naive()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_day_in_viet_nam_starts_at_17_00_utc() {
        let day = |h| {
            Utc.with_ymd_and_hms(2026, 12, 6, h, 0, 0)
                .single()
                .map(|t| t.with_timezone(&OFFSET).date_naive())
        };
        assert_eq!(day(16), NaiveDate::from_ymd_opt(2026, 12, 6));
        assert_eq!(day(17), NaiveDate::from_ymd_opt(2026, 12, 7));
    }
}
