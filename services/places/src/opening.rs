//! Opening hours in OpenStreetMap's `opening_hours` syntax, evaluated in Vietnam's time with
//! Vietnam's public holidays (`PH`), the lunar ones included (Tết, Giỗ Tổ Hùng Vương), which
//! the `opening-hours` crate's own holiday list lacks.

use std::sync::Arc;

use chrono::{Datelike, NaiveDateTime};
use compact_calendar::CompactCalendar;
use opening_hours::{Context, ContextHolidays, OpeningHours, RuleKind};

use crate::holidays;

/// Whether a place is open at a time, and when that changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenState {
    /// `None` when its hours say "unknown" (as `off "by appointment"` or `unknown`).
    pub open: Option<bool>,
    /// When it opens or closes next, within a year.
    pub next_change: Option<NaiveDateTime>,
}

/// Evaluates opening hours against Vietnam's public holidays.
#[derive(Clone)]
pub struct Hours {
    context: Context,
}

impl Hours {
    /// Vietnam's public holidays from `first` to `last` year.
    pub fn vietnam(first: i32, last: i32) -> Self {
        let mut public = CompactCalendar::default();
        for year in first..=last {
            for holiday in holidays::public_holidays(year) {
                public.insert(holiday.date);
            }
        }
        let holidays = ContextHolidays::new(Arc::new(public), Arc::new(CompactCalendar::default()));
        Self {
            context: Context::default().with_holidays(holidays),
        }
    }

    /// Whether `raw` hours are valid OSM syntax.
    pub fn parses(raw: &str) -> bool {
        OpeningHours::parse(raw).is_ok()
    }

    /// The state of `raw` hours at `now`, Vietnam's wall-clock time; `None` when they do not
    /// parse.
    pub fn at(&self, raw: &str, now: NaiveDateTime) -> Option<OpenState> {
        let hours = OpeningHours::parse(raw)
            .ok()?
            .with_context(self.context.clone());
        let open = match hours.state(now) {
            RuleKind::Open => Some(true),
            RuleKind::Closed => Some(false),
            RuleKind::Unknown => None,
        };
        let next_change = hours
            .next_change(now)
            .filter(|change| change.year() <= now.year() + 1);
        Some(OpenState { open, next_change })
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(date: (i32, u32, u32), hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(date.0, date.1, date.2)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    #[test]
    fn a_museum_closed_on_public_holidays_is_closed_over_tet() {
        let hours = Hours::vietnam(2025, 2027);
        let museum = "Mo-Su 08:00-17:00; PH off";
        // Mùng 1 Tết Bính Ngọ: 17 February 2026, a Tuesday.
        let tet = hours.at(museum, at((2026, 2, 17), 10)).unwrap();
        assert_eq!(tet.open, Some(false));
        // The last of the five days off is 20 February; it opens on the 21st at 08:00.
        assert_eq!(tet.next_change, Some(at((2026, 2, 21), 8)));
        assert_eq!(
            hours.at(museum, at((2026, 2, 23), 10)).unwrap().open,
            Some(true)
        );
        // Giỗ Tổ Hùng Vương, 26 April 2026: closed.
        assert_eq!(
            hours.at(museum, at((2026, 4, 26), 10)).unwrap().open,
            Some(false)
        );
        assert_eq!(
            hours.at(museum, at((2026, 4, 27), 18)).unwrap().open,
            Some(false)
        );
    }

    #[test]
    fn round_the_clock_unknown_and_garbage() {
        let hours = Hours::vietnam(2026, 2026);
        assert_eq!(
            hours.at("24/7", at((2026, 12, 7), 3)).unwrap().open,
            Some(true)
        );
        assert_eq!(
            hours.at("unknown", at((2026, 12, 7), 3)).unwrap().open,
            None
        );
        assert!(
            hours
                .at("whenever we feel like it", at((2026, 12, 7), 3))
                .is_none()
        );
        assert!(!Hours::parses("Mo-Fr 25:00-26:00 banana"));
    }
}
