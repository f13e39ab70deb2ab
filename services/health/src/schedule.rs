//! The national immunisation schedule for children, kept as data
//! (`data/immunization-schedule.toml`), and the next dose of each series a child's history
//! leaves due.

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The schedule applies to children younger than this (years); older people get only what
/// their hospital recommends.
pub const SCHEDULE_AGE_LIMIT: u32 = 6;
/// A dose this many days past its date is overdue rather than just due.
const OVERDUE_AFTER_DAYS: u64 = 28;
/// A dose due within this many days is upcoming.
const UPCOMING_WITHIN_DAYS: u64 = 30;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub series: Vec<Series>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Series {
    pub id: String,
    pub vaccine_vi: String,
    pub vaccine_en: String,
    pub disease_vi: String,
    pub disease_en: String,
    /// The CVX codes that count as a dose of this series.
    pub cvx: Vec<String>,
    pub doses: Vec<Dose>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dose {
    #[serde(default)]
    pub age_months: u32,
    #[serde(default)]
    pub age_days: u64,
    /// Least days after the series' previous dose.
    #[serde(default)]
    pub interval_days: u64,
    /// Not given by this age (days): missed, not due.
    pub window_days: Option<u64>,
}

impl Schedule {
    /// The schedule shipped in the binary.
    pub fn national() -> anyhow::Result<Schedule> {
        let schedule: Schedule =
            toml::from_str(include_str!("../data/immunization-schedule.toml"))?;
        for series in &schedule.series {
            anyhow::ensure!(
                !series.doses.is_empty(),
                "series {} has no doses",
                series.id
            );
        }
        Ok(schedule)
    }

    /// The series a vaccine of this CVX code is a dose of.
    pub fn series_of(&self, cvx: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.cvx.iter().any(|c| c == cvx))
    }

    /// The next dose of each series a child born on `birth` has not finished, given the
    /// doses (CVX code, date) they had.
    pub fn next_doses(
        &self,
        birth: NaiveDate,
        given: &[(&str, NaiveDate)],
        today: NaiveDate,
    ) -> Vec<NextDose<'_>> {
        let mut due = Vec::new();
        for series in &self.series {
            let mut dates: Vec<NaiveDate> = given
                .iter()
                .filter(|(cvx, _)| series.cvx.iter().any(|c| c == cvx))
                .map(|(_, date)| *date)
                .collect();
            dates.sort_unstable();
            // One visit's record entered twice is one dose.
            dates.dedup();
            let Some(dose) = series.doses.get(dates.len()) else {
                continue;
            };
            let by_age = birth
                .checked_add_months(Months::new(dose.age_months))
                .and_then(|d| d.checked_add_days(Days::new(dose.age_days)));
            let after_previous = dates
                .last()
                .and_then(|last| last.checked_add_days(Days::new(dose.interval_days)));
            let Some(due_on) = by_age.max(after_previous) else {
                continue;
            };
            let closes = dose
                .window_days
                .and_then(|window| birth.checked_add_days(Days::new(window)));
            let status = if closes.is_some_and(|closes| today > closes) {
                DueStatus::Missed
            } else if due_on
                .checked_add_days(Days::new(OVERDUE_AFTER_DAYS))
                .is_some_and(|late| today > late)
            {
                DueStatus::Overdue
            } else if due_on <= today {
                DueStatus::Due
            } else if today
                .checked_add_days(Days::new(UPCOMING_WITHIN_DAYS))
                .is_some_and(|soon| due_on <= soon)
            {
                DueStatus::Upcoming
            } else {
                DueStatus::Scheduled
            };
            due.push(NextDose {
                series,
                dose: dates.len() as u32 + 1,
                due_on,
                status,
            });
        }
        due.sort_by_key(|d| d.due_on);
        due
    }
}

/// The next dose of a series.
#[derive(Debug)]
pub struct NextDose<'a> {
    pub series: &'a Series,
    /// 1 for the first.
    pub dose: u32,
    pub due_on: NaiveDate,
    pub status: DueStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueStatus {
    /// More than four weeks late.
    Overdue,
    /// Its date has come.
    Due,
    /// Due within 30 days.
    Upcoming,
    /// Later.
    Scheduled,
    /// Its window closed unused (the birth dose of hepatitis B after a day).
    Missed,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn national() -> Schedule {
        Schedule::national().unwrap_or_else(|e| panic!("the shipped schedule: {e}"))
    }

    fn due<'a>(doses: &'a [NextDose<'a>], series: &str) -> Option<&'a NextDose<'a>> {
        doses.iter().find(|d| d.series.id == series)
    }

    #[test]
    fn a_newborn_is_due_the_birth_doses_and_later_the_two_month_series() {
        let schedule = national();
        let birth = day(2026, 10, 1);
        let doses = schedule.next_doses(birth, &[], birth);
        let hepb = due(&doses, "hepb-birth").unwrap_or_else(|| panic!("hepatitis B"));
        assert_eq!(
            (hepb.dose, hepb.due_on, hepb.status),
            (1, birth, DueStatus::Due)
        );
        let penta = due(&doses, "dtp-hepb-hib").unwrap_or_else(|| panic!("pentavalent"));
        assert_eq!(
            (penta.due_on, penta.status),
            (day(2026, 12, 1), DueStatus::Scheduled)
        );
        // Days later, without the birth dose: missed, not due.
        let doses = schedule.next_doses(birth, &[], day(2026, 10, 4));
        assert_eq!(
            due(&doses, "hepb-birth").map(|d| d.status),
            Some(DueStatus::Missed)
        );
    }

    /// A child born on 2026-08-29 who had the birth doses and the first pentavalent and polio
    /// doses on 2026-10-30 (two months), seen on 2026-12-07.
    #[test]
    fn the_second_dose_waits_four_weeks_after_the_first_and_the_age() {
        let schedule = national();
        let birth = day(2026, 8, 29);
        let given = [
            ("08", birth),
            ("19", day(2026, 9, 1)),
            ("198", day(2026, 10, 30)),
            ("178", day(2026, 10, 30)),
        ];
        let today = day(2026, 12, 7);
        let doses = schedule.next_doses(birth, &given, today);
        assert!(due(&doses, "hepb-birth").is_none() && due(&doses, "bcg").is_none());
        let penta = due(&doses, "dtp-hepb-hib").unwrap_or_else(|| panic!("pentavalent"));
        // Three months of age is 2026-11-29; four weeks after 2026-10-30 is 2026-11-27.
        assert_eq!(
            (penta.dose, penta.due_on, penta.status),
            (2, day(2026, 11, 29), DueStatus::Due)
        );
        let ipv = due(&doses, "ipv").unwrap_or_else(|| panic!("IPV"));
        assert_eq!(
            (ipv.due_on, ipv.status),
            (day(2027, 1, 29), DueStatus::Scheduled)
        );

        // A dose given late pushes the next: four weeks after it, past the age.
        let late = [("198", day(2026, 11, 20))];
        let doses = schedule.next_doses(birth, &late, today);
        let penta = due(&doses, "dtp-hepb-hib").unwrap_or_else(|| panic!("pentavalent"));
        assert_eq!(
            (penta.due_on, penta.status),
            (day(2026, 12, 18), DueStatus::Upcoming)
        );

        // Six weeks after its date it is overdue.
        let doses = schedule.next_doses(birth, &given, day(2027, 1, 10));
        assert_eq!(
            due(&doses, "dtp-hepb-hib").map(|d| d.status),
            Some(DueStatus::Overdue)
        );
    }

    #[test]
    fn a_finished_series_asks_for_nothing_and_a_record_entered_twice_is_one_dose() {
        let schedule = national();
        let birth = day(2025, 1, 10);
        let given = [
            ("39", day(2026, 1, 12)),
            ("39", day(2026, 1, 12)),
            ("39", day(2026, 1, 20)),
        ];
        let doses = schedule.next_doses(birth, &given, day(2026, 12, 7));
        let je = due(&doses, "japanese-encephalitis").unwrap_or_else(|| panic!("JE"));
        // The third a year after the second.
        assert_eq!((je.dose, je.due_on), (3, day(2027, 1, 20)));
        let all = [
            ("39", day(2026, 1, 12)),
            ("39", day(2026, 1, 20)),
            ("134", day(2027, 1, 25)),
        ];
        let doses = schedule.next_doses(birth, &all, day(2027, 2, 1));
        assert!(due(&doses, "japanese-encephalitis").is_none());
    }

    #[test]
    fn every_code_belongs_to_one_series_at_most() {
        let schedule = national();
        let mut codes: Vec<&str> = schedule
            .series
            .iter()
            .flat_map(|s| s.cvx.iter().map(String::as_str))
            .collect();
        let count = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), count);
    }
}
