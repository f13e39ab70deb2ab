//! Vietnam's public holidays (Labour Code 2019, Article 112) and the Vietnamese lunar calendar
//! (âm lịch) that half of them follow. The calendar is computed astronomically for the UTC+7
//! meridian (which is why it differs from the Chinese calendar, on UTC+8, in some years): new
//! moons (Meeus, "Astronomical Algorithms", ch. 49) and the sun's apparent longitude (ch. 25).
//! A month starts on the local day of a new moon, month 11 holds the winter solstice and, in a
//! year of 13 months, the first month after month 11 without a major solar term (trung khí) is
//! the leap month, named after the month before it. Meaningful for roughly 1000–3000.

use chrono::{Datelike, Duration, NaiveDate};
use platform::text::Text;

/// Vietnam's time zone, in days east of Greenwich.
const ZONE: f64 = 7.0 / 24.0;
/// Julian day number minus chrono's days from the common era.
const JDN_OFFSET: i64 = 1_721_425;
/// Mean synodic month, in days.
const SYNODIC: f64 = 29.530588861;

/// A date of the Vietnamese lunar calendar; `leap` marks a leap month (tháng nhuận).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LunarDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub leap: bool,
}

/// A public holiday: a day off for workers with full pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: Text,
}

/// Periodic terms of the true new moon (Meeus table 49.A, the Ω term aside): coefficient, power
/// of E, multiples of M (sun's anomaly), M' (moon's anomaly) and F (moon's argument of latitude).
#[rustfmt::skip]
const NEW_MOON_TERMS: [(f64, i32, f64, f64, f64); 24] = [
    (-0.40720, 0, 0.0, 1.0, 0.0), (0.17241, 1, 1.0, 0.0, 0.0), (0.01608, 0, 0.0, 2.0, 0.0),
    (0.01039, 0, 0.0, 0.0, 2.0), (0.00739, 1, -1.0, 1.0, 0.0), (-0.00514, 1, 1.0, 1.0, 0.0),
    (0.00208, 2, 2.0, 0.0, 0.0), (-0.00111, 0, 0.0, 1.0, -2.0), (-0.00057, 0, 0.0, 1.0, 2.0),
    (0.00056, 1, 1.0, 2.0, 0.0), (-0.00042, 0, 0.0, 3.0, 0.0), (0.00042, 1, 1.0, 0.0, 2.0),
    (0.00038, 1, 1.0, 0.0, -2.0), (-0.00024, 1, -1.0, 2.0, 0.0), (-0.00007, 0, 2.0, 1.0, 0.0),
    (0.00004, 0, 0.0, 2.0, -2.0), (0.00004, 0, 3.0, 0.0, 0.0), (0.00003, 0, 1.0, 1.0, -2.0),
    (0.00003, 0, 0.0, 2.0, 2.0), (-0.00003, 0, 1.0, 1.0, 2.0), (0.00003, 0, -1.0, 1.0, 2.0),
    (-0.00002, 0, -1.0, 1.0, -2.0), (-0.00002, 0, 1.0, 3.0, 0.0), (0.00002, 0, 0.0, 4.0, 0.0),
];

/// Planetary corrections common to all phases (Meeus ch. 49, A1–A14): coefficient, argument at
/// k = 0 and its rate per lunation, in degrees (A1 also has a −0.009173·T² term).
#[rustfmt::skip]
const PLANETARY_TERMS: [(f64, f64, f64); 14] = [
    (0.000325, 299.77, 0.107408), (0.000165, 251.88, 0.016321), (0.000164, 251.83, 26.651886),
    (0.000126, 349.42, 36.412478), (0.000110, 84.66, 18.206239), (0.000062, 141.74, 53.303771),
    (0.000060, 207.14, 2.453732), (0.000056, 154.84, 7.306860), (0.000047, 34.52, 27.261239),
    (0.000042, 207.19, 0.121824), (0.000040, 291.34, 1.844379), (0.000037, 161.72, 24.198154),
    (0.000035, 239.56, 25.513099), (0.000023, 331.55, 3.592518),
];

/// Sine of an angle in degrees.
fn sin(degrees: f64) -> f64 {
    degrees.to_radians().sin()
}

/// Julian day number of a date.
fn jdn(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) + JDN_OFFSET
}

/// Date of a Julian day number, if chrono can represent it.
fn date_of(jdn: i64) -> Option<NaiveDate> {
    i32::try_from(jdn - JDN_OFFSET)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// Julian day number of 31 December of a (proleptic gregorian) year.
fn december_31(year: i64) -> i64 {
    365 * year + year.div_euclid(4) - year.div_euclid(100) + year.div_euclid(400) + JDN_OFFSET
}

/// ΔT = TT − UT in days at Julian day `jd` (Espenak–Meeus fits, long-term parabola elsewhere).
fn delta_t(jd: f64) -> f64 {
    let y = 2000.0 + (jd - 2_451_545.0) / 365.25;
    let u = (y - 1820.0) / 100.0;
    let long_term = -20.0 + 32.0 * u * u;
    let seconds = if !(1961.0..2150.0).contains(&y) {
        long_term
    } else if y < 1986.0 {
        let t = y - 1975.0;
        45.45 + 1.067 * t - t * t / 260.0 - t * t * t / 718.0
    } else if y < 2050.0 {
        let t = y - 2000.0;
        62.92 + 0.32217 * t + 0.005589 * t * t
    } else {
        long_term - 0.5628 * (2150.0 - y)
    };
    seconds / 86_400.0
}

/// Moment (Julian day, UT) of the k-th new moon counted from the one of 6 January 2000.
fn new_moon(k: i64) -> f64 {
    let k = k as f64;
    let t = k / 1236.85;
    let (t2, t3, t4) = (t * t, t * t * t, t * t * t * t);
    let mean =
        2451550.09766 + SYNODIC * k + 0.00015437 * t2 - 0.000000150 * t3 + 0.00000000073 * t4;
    let e = 1.0 - 0.002516 * t - 0.0000074 * t2;
    let m = 2.5534 + 29.10535670 * k - 0.0000014 * t2 - 0.00000011 * t3;
    let mp = 201.5643 + 385.81693528 * k + 0.0107582 * t2 + 0.00001238 * t3 - 0.000000058 * t4;
    let f = 160.7108 + 390.67050284 * k - 0.0016118 * t2 - 0.00000227 * t3 + 0.000000011 * t4;
    let omega = 124.7746 - 1.56375588 * k + 0.0020672 * t2 + 0.00000215 * t3;
    let periodic: f64 = NEW_MOON_TERMS
        .iter()
        .map(|&(c, p, a, b, g)| c * e.powi(p) * sin(a * m + b * mp + g * f))
        .sum::<f64>()
        - 0.00017 * sin(omega);
    let planetary: f64 = PLANETARY_TERMS
        .iter()
        .enumerate()
        .map(|(i, &(c, a0, rate))| {
            c * sin(a0 + rate * k - if i == 0 { 0.009173 * t2 } else { 0.0 })
        })
        .sum();
    let jde = mean + periodic + planetary;
    jde - delta_t(jde)
}

/// Apparent ecliptic longitude of the sun in degrees, in [0, 360), at Julian day `jd` (UT).
fn sun_longitude(jd: f64) -> f64 {
    let t = (jd + delta_t(jd) - 2_451_545.0) / 36_525.0;
    let l0 = 280.46646 + 36000.76983 * t + 0.0003032 * t * t;
    let m = 357.52911 + 35999.05029 * t - 0.0001537 * t * t;
    let center = (1.914602 - 0.004817 * t - 0.000014 * t * t) * sin(m)
        + (0.019993 - 0.000101 * t) * sin(2.0 * m)
        + 0.000289 * sin(3.0 * m);
    let omega = 125.04 - 1934.136 * t;
    (l0 + center - 0.00569 - 0.00478 * sin(omega)).rem_euclid(360.0)
}

/// Which 30° arc (0–11) the sun is in at the local midnight that starts day `jdn`.
fn solar_arc(jdn: i64) -> i64 {
    (sun_longitude(jdn as f64 - 0.5 - ZONE) / 30.0).floor() as i64
}

/// Julian day number of the local (UTC+7) day of the k-th new moon: a lunar month's first day.
fn month_start(k: i64) -> i64 {
    (new_moon(k) + 0.5 + ZONE).floor() as i64
}

/// Index of the lunar month holding day `jdn`.
fn lunation_at(jdn: i64) -> i64 {
    let mut k = ((jdn as f64 - 2_451_550.1) / SYNODIC).floor() as i64;
    while month_start(k) > jdn {
        k -= 1;
    }
    while month_start(k + 1) <= jdn {
        k += 1;
    }
    k
}

/// Index of month 11, the lunar month holding the winter solstice of gregorian `year`.
fn month_11(year: i64) -> i64 {
    let k = lunation_at(december_31(year));
    // At the start of a month beginning after the solstice, the sun is already past 270°.
    if solar_arc(month_start(k)) >= 9 {
        k - 1
    } else {
        k
    }
}

/// Offset from month 11 (index `a11`) of the leap month before the next month 11 (`b11`), if any.
fn leap_offset(a11: i64, b11: i64) -> Option<i64> {
    if b11 - a11 != 13 {
        return None;
    }
    (1..13).find(|&i| solar_arc(month_start(a11 + i)) == solar_arc(month_start(a11 + i + 1)))
}

/// The lunar date of a gregorian date.
pub fn solar_to_lunar(date: NaiveDate) -> LunarDate {
    let day = jdn(date);
    let k = lunation_at(day);
    let mut y0 = i64::from(date.year()) - 1;
    let (mut a11, mut b11) = (month_11(y0), month_11(y0 + 1));
    if k >= b11 {
        y0 += 1;
        (a11, b11) = (b11, month_11(y0 + 1));
    }
    let mut offset = k - a11;
    let mut leap = false;
    if let Some(l) = leap_offset(a11, b11).filter(|&l| offset >= l) {
        leap = offset == l;
        offset -= 1;
    }
    LunarDate {
        // Months 11 and 12 (offsets 0 and 1) still belong to the lunar year of the solstice.
        year: (if offset >= 2 { y0 + 1 } else { y0 }) as i32,
        month: ((offset + 10) % 12 + 1) as u32,
        day: (day - month_start(k) + 1) as u32,
        leap,
    }
}

/// The gregorian date of a lunar date; `None` when that date does not exist (a day past the end
/// of the month, a leap month the year does not have) or is out of range.
pub fn lunar_to_solar(year: i32, month: u32, day: u32, leap: bool) -> Option<NaiveDate> {
    if !(1..=12).contains(&month) || !(1..=30).contains(&day) {
        return None;
    }
    let y0 = i64::from(year) - i64::from(month < 11);
    let (a11, b11) = (month_11(y0), month_11(y0 + 1));
    let mut offset = (i64::from(month) + 1) % 12;
    match leap_offset(a11, b11) {
        Some(l) if leap && offset == l - 1 => offset = l,
        _ if leap => return None,
        Some(l) if offset >= l => offset += 1,
        _ => {}
    }
    let start = month_start(a11 + offset);
    if i64::from(day) > month_start(a11 + offset + 1) - start {
        return None;
    }
    date_of(start + i64::from(day) - 1)
}

/// Vietnam's public holidays in gregorian `year` (Labour Code 2019, Article 112), by date.
pub fn public_holidays(year: i32) -> Vec<Holiday> {
    let mut days: Vec<Holiday> = [
        (1, 1, "Tết Dương lịch", "New Year's Day"),
        (4, 30, "Ngày Chiến thắng", "Victory Day (Reunification Day)"),
        (5, 1, "Ngày Quốc tế Lao động", "International Labour Day"),
        // The law gives 2 September and one day next to it, before or after; the day before is
        // the default here.
        (9, 1, "Nghỉ lễ Quốc khánh", "National Day holiday"),
        (9, 2, "Quốc khánh", "National Day"),
    ]
    .into_iter()
    .filter_map(|(m, d, vi, en)| {
        NaiveDate::from_ymd_opt(year, m, d).map(|date| Holiday {
            date,
            name: Text::new(vi, en),
        })
    })
    .collect();
    if let Some(date) = lunar_to_solar(year, 3, 10, false) {
        let name = Text::new("Giỗ Tổ Hùng Vương", "Hung Kings' Commemoration Day");
        days.push(Holiday { date, name });
    }
    // Tết: the last day of the lunar year and the first four of the next. The government fixes
    // the actual days off each year and may shift them; this is the default. Tết days may cross
    // 1 January in rare years, so the new years starting around `year` are all looked at.
    for lunar_year in year.saturating_sub(1)..=year.saturating_add(1) {
        let Some(new_year) = lunar_to_solar(lunar_year, 1, 1, false) else {
            continue;
        };
        for offset in -1..=3 {
            let date = new_year + Duration::days(offset);
            if date.year() == year {
                let name = Text::new("Tết Âm lịch", "Lunar New Year (Tết)");
                days.push(Holiday { date, name });
            }
        }
    }
    days.sort_by_key(|holiday| holiday.date);
    days.dedup_by_key(|holiday| holiday.date);
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn lunar(year: i32, month: u32, day: u32, leap: bool) -> LunarDate {
        LunarDate {
            year,
            month,
            day,
            leap,
        }
    }

    #[test]
    fn new_moon_matches_meeus_example() {
        // Meeus example 49.a: the new moon of February 1977 at JDE 2443192.65118.
        let jde = new_moon(-283) + delta_t(2443192.65);
        assert!((jde - 2443192.65118).abs() < 0.0001, "{jde}");
    }

    #[test]
    fn lunar_new_years() {
        let days = [
            (2024, 2, 10),
            (2025, 1, 29),
            (2026, 2, 17),
            (2027, 2, 6),
            (2028, 1, 26),
        ];
        for (y, m, d) in days.into_iter().chain([(2030, 2, 2)]) {
            assert_eq!(lunar_to_solar(y, 1, 1, false), Some(ymd(y, m, d)), "{y}");
            assert_eq!(solar_to_lunar(ymd(y, m, d)), lunar(y, 1, 1, false));
        }
    }

    #[test]
    fn vietnam_differs_from_china() {
        // China (UTC+8): 2007-02-18, 1985-02-20 and 2030-02-03 (new moon 2030-02-02 16:07 UT,
        // 23:07 in Vietnam but 00:07 the next day in China).
        assert_eq!(lunar_to_solar(2007, 1, 1, false), Some(ymd(2007, 2, 17)));
        assert_eq!(lunar_to_solar(1985, 1, 1, false), Some(ymd(1985, 1, 21)));
        assert_eq!(lunar_to_solar(2030, 1, 1, false), Some(ymd(2030, 2, 2)));
    }

    #[test]
    fn hung_kings() {
        for date in [ymd(2024, 4, 18), ymd(2025, 4, 7), ymd(2026, 4, 26)] {
            assert_eq!(lunar_to_solar(date.year(), 3, 10, false), Some(date));
        }
    }

    #[test]
    fn leap_sixth_month_of_2025() {
        assert_eq!(lunar_to_solar(2025, 6, 1, true), Some(ymd(2025, 7, 25)));
        assert_eq!(solar_to_lunar(ymd(2025, 7, 25)), lunar(2025, 6, 1, true));
        assert_eq!(solar_to_lunar(ymd(2025, 7, 24)), lunar(2025, 6, 30, false));
        assert_eq!(lunar_to_solar(2025, 5, 1, true), None);
        assert_eq!(lunar_to_solar(2024, 6, 1, true), None);
    }

    #[test]
    fn round_trip_2020_to_2035() {
        let mut date = ymd(2020, 1, 1);
        while date <= ymd(2035, 12, 31) {
            let l = solar_to_lunar(date);
            assert_eq!(
                lunar_to_solar(l.year, l.month, l.day, l.leap),
                Some(date),
                "{l:?}"
            );
            date += Duration::days(1);
        }
    }

    #[test]
    fn holidays_2026() {
        let days: Vec<NaiveDate> = public_holidays(2026).into_iter().map(|h| h.date).collect();
        let tet = (16..=20).map(|d| (2, d));
        let fixed = [(4, 26), (4, 30), (5, 1), (9, 1), (9, 2)];
        let expected: Vec<NaiveDate> = [(1, 1)]
            .into_iter()
            .chain(tet)
            .chain(fixed)
            .map(|(m, d)| ymd(2026, m, d))
            .collect();
        assert_eq!(days, expected);
    }
}
