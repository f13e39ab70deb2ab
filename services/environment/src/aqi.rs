//! The Vietnamese air quality index, VN_AQI, exactly as Decision 1459/QĐ-TCMT (12/11/2019)
//! computes it: a sub-index per pollutant by linear interpolation between the breakpoints of
//! its Bảng 2 (every concentration in µg/m³, CO included), the index the largest sub-index,
//! dust (PM2.5, PM10) by the 12-hour NowCast for the hourly index and by the 24-hour mean for
//! the daily one, and no index at all without PM2.5 or PM10.
//!
//! Where the decision is silent we choose, and say so here: an index is rounded half up (its
//! printed examples all agree with that but one, whose 59.35 it prints as 60); a concentration
//! at or past the last breakpoint is 500, the top of the scale; the NowCast divides by the sum
//! of its weights in both of its cases (its w = ½ shorthand does not, which would make missing
//! hours read as cleaner air).

use serde::Serialize;
use utoipa::ToSchema;

use platform::text::Text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pollutant {
    Pm25,
    Pm10,
    O3,
    Co,
    So2,
    No2,
}

impl Pollutant {
    pub const ALL: [Pollutant; 6] = [
        Pollutant::Pm25,
        Pollutant::Pm10,
        Pollutant::O3,
        Pollutant::Co,
        Pollutant::So2,
        Pollutant::No2,
    ];

    /// The name OpenAQ and the database give it.
    pub fn code(self) -> &'static str {
        match self {
            Pollutant::Pm25 => "pm25",
            Pollutant::Pm10 => "pm10",
            Pollutant::O3 => "o3",
            Pollutant::Co => "co",
            Pollutant::So2 => "so2",
            Pollutant::No2 => "no2",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    pub fn is_dust(self) -> bool {
        matches!(self, Pollutant::Pm25 | Pollutant::Pm10)
    }

    /// Its molar mass in g/mol, to turn a gas's ppm into µg/m³ (at 25 °C and 1 atm).
    pub fn molar_mass(self) -> Option<f64> {
        match self {
            Pollutant::O3 => Some(48.00),
            Pollutant::Co => Some(28.01),
            Pollutant::So2 => Some(64.066),
            Pollutant::No2 => Some(46.0055),
            Pollutant::Pm25 | Pollutant::Pm10 => None,
        }
    }
}

/// The index values of Bảng 2's rows.
const INDEX: [f64; 8] = [0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0];

/// A column of Bảng 2: the concentration (µg/m³) at each row of `INDEX`.
struct Column(&'static [f64]);

const O3_1H: Column = Column(&[0.0, 160.0, 200.0, 300.0, 400.0, 800.0, 1000.0, 1200.0]);
/// Only to 400 µg/m³ (index 300): past it the daily O3 goes by the 1-hour column alone.
const O3_8H: Column = Column(&[0.0, 100.0, 120.0, 170.0, 210.0, 400.0]);
const CO: Column = Column(&[
    0.0, 10000.0, 30000.0, 45000.0, 60000.0, 90000.0, 120000.0, 150000.0,
]);
const SO2: Column = Column(&[0.0, 125.0, 350.0, 550.0, 800.0, 1600.0, 2100.0, 2630.0]);
const NO2: Column = Column(&[0.0, 100.0, 200.0, 700.0, 1200.0, 2350.0, 3100.0, 3850.0]);
const PM10: Column = Column(&[0.0, 50.0, 150.0, 250.0, 350.0, 420.0, 500.0, 600.0]);
const PM25: Column = Column(&[0.0, 25.0, 50.0, 80.0, 150.0, 250.0, 350.0, 500.0]);

impl Column {
    /// Công thức 1: the sub-index of `concentration`, unrounded; `None` past the column's end
    /// where the column stops short of 500 (O3 over 8 hours).
    fn sub_index(&self, concentration: f64) -> Option<f64> {
        let bp = self.0;
        let c = concentration.max(0.0);
        for i in 0..bp.len() - 1 {
            if c < bp[i + 1] {
                return Some(
                    (INDEX[i + 1] - INDEX[i]) / (bp[i + 1] - bp[i]) * (c - bp[i]) + INDEX[i],
                );
            }
        }
        (bp.len() == INDEX.len()).then_some(500.0)
    }
}

fn column(pollutant: Pollutant) -> &'static Column {
    match pollutant {
        Pollutant::Pm25 => &PM25,
        Pollutant::Pm10 => &PM10,
        Pollutant::O3 => &O3_1H,
        Pollutant::Co => &CO,
        Pollutant::So2 => &SO2,
        Pollutant::No2 => &NO2,
    }
}

/// An index as published: an integer, half up.
fn rounded(index: f64) -> u16 {
    index.round().clamp(0.0, 500.0) as u16
}

/// The NowCast of a dust's last 12 hourly means, newest first (`hours[0]` is the current
/// hour); `None` for a missing hour. No NowCast unless two of the three newest are present.
pub fn nowcast(hours: &[Option<f64>]) -> Option<f64> {
    let hours = &hours[..hours.len().min(12)];
    if hours.iter().take(3).flatten().count() < 2 {
        return None;
    }
    let present = hours.iter().flatten().copied();
    let (min, max) = present.fold((f64::INFINITY, 0.0_f64), |(lo, hi), c| {
        (lo.min(c), hi.max(c))
    });
    let w = if max > 0.0 { (min / max).max(0.5) } else { 1.0 };
    let (mut weighted, mut weights) = (0.0, 0.0);
    for (i, c) in hours.iter().enumerate() {
        if let Some(c) = c {
            let weight = w.powi(i as i32);
            weighted += weight * c;
            weights += weight;
        }
    }
    Some(weighted / weights)
}

/// One pollutant's part in an index.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubIndex {
    pollutant: Pollutant,
    /// The concentration the sub-index was computed from, in µg/m³: the NowCast or 24-hour mean
    /// for dust, the hour's (or the day's highest hourly or 8-hour) mean for gases.
    concentration: f64,
    index: u16,
}

/// An index with the pollutant that drives it and the band it falls in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Aqi {
    index: u16,
    /// The pollutant of the largest sub-index (Bảng 3 asks that it be shown).
    dominant: Pollutant,
    band: Band,
    sub_indices: Vec<SubIndex>,
}

impl Aqi {
    pub fn index(&self) -> u16 {
        self.index
    }

    pub fn dominant(&self) -> Pollutant {
        self.dominant
    }

    /// The largest of `sub_indices` (unrounded), or none without dust.
    fn of(sub_indices: Vec<(Pollutant, f64, f64)>) -> Option<Aqi> {
        if !sub_indices.iter().any(|(p, _, _)| p.is_dust()) {
            return None;
        }
        let (dominant, _, top) = sub_indices
            .iter()
            .copied()
            .max_by(|a, b| a.2.total_cmp(&b.2))?;
        let index = rounded(top);
        Some(Aqi {
            index,
            dominant,
            band: Band::of(index),
            sub_indices: sub_indices
                .into_iter()
                .map(|(pollutant, concentration, index)| SubIndex {
                    pollutant,
                    concentration: (concentration * 10.0).round() / 10.0,
                    index: rounded(index),
                })
                .collect(),
        })
    }
}

/// The hourly index (AQI giờ) from the last 12 hours of each pollutant, newest first: dust by
/// its NowCast, gases by the current hour's mean.
pub fn hourly(hours: &[(Pollutant, Vec<Option<f64>>)]) -> Option<Aqi> {
    let mut sub_indices = Vec::new();
    for (pollutant, values) in hours {
        let concentration = if pollutant.is_dust() {
            nowcast(values)
        } else {
            values.first().copied().flatten()
        };
        if let Some(c) = concentration
            && let Some(index) = column(*pollutant).sub_index(c)
        {
            sub_indices.push((*pollutant, c, index));
        }
    }
    Aqi::of(sub_indices)
}

/// Hours of a day a daily mean or maximum needs: the decision sets no minimum, and a day of a
/// few hours is not a day; three quarters, as the US EPA asks.
pub const DAY_HOURS_NEEDED: usize = 18;

/// The daily index (AQI ngày) from a day's 24 hourly means of each pollutant, in order, with
/// the 7 hours before the day for O3's 8-hour means: dust by its 24-hour mean, O3 by the larger
/// of its highest hourly mean (1-hour column) and highest 8-hour mean (8-hour column, while at
/// most 400 µg/m³), other gases by their highest hourly mean.
pub fn daily(day: &[(Pollutant, Vec<Option<f64>>)], o3_before: &[Option<f64>]) -> Option<Aqi> {
    let mut sub_indices = Vec::new();
    for (pollutant, values) in day {
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        if present.len() < DAY_HOURS_NEEDED {
            continue;
        }
        let highest = present.iter().copied().fold(0.0, f64::max);
        let (concentration, index) = match pollutant {
            p if p.is_dust() => {
                let mean = present.iter().sum::<f64>() / present.len() as f64;
                (mean, column(*p).sub_index(mean))
            }
            Pollutant::O3 => {
                let hourly = (highest, O3_1H.sub_index(highest));
                let eight_hour = highest_8h_mean(o3_before, values)
                    .and_then(|mean| Some((mean, O3_8H.sub_index(mean)?)));
                match (hourly, eight_hour) {
                    ((_, Some(h)), Some((mean, e))) if e > h => (mean, Some(e)),
                    (hourly, _) => hourly,
                }
            }
            p => (highest, column(*p).sub_index(highest)),
        };
        if let Some(index) = index {
            sub_indices.push((*pollutant, concentration, index));
        }
    }
    Aqi::of(sub_indices)
}

/// The highest of the day's 8-hour means, each the mean of an hour and the 7 before it (those
/// of the day before included), counted where at least 6 of the 8 hours are present.
pub fn highest_8h_mean(before: &[Option<f64>], day: &[Option<f64>]) -> Option<f64> {
    let hours: Vec<Option<f64>> = before.iter().chain(day).copied().collect();
    let first = before.len();
    (first..hours.len())
        .filter(|&end| end >= 7)
        .filter_map(|end| {
            let window: Vec<f64> = hours[end - 7..=end].iter().flatten().copied().collect();
            (window.len() >= 6).then(|| window.iter().sum::<f64>() / window.len() as f64)
        })
        .max_by(f64::total_cmp)
}

/// One of Bảng 1's six bands, with Bảng 5's advice.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Band {
    /// 1 (good) to 6 (hazardous).
    level: u8,
    name: Text,
    /// The band's colour, as `#RRGGBB`.
    colour: &'static str,
    /// What the air does to health.
    health: Text,
    /// What everyone should do.
    advice: Text,
    /// What the elderly, children and people with heart or lung disease should do.
    advice_sensitive: Text,
}

impl Band {
    pub fn of(index: u16) -> Band {
        let (level, name, colour, health, advice, sensitive) = match index {
            0..=50 => (
                1,
                ("Tốt", "Good"),
                "#00E400",
                (
                    "Chất lượng không khí tốt, không ảnh hưởng tới sức khỏe.",
                    "The air is clean and does not affect health.",
                ),
                ("Tự do hoạt động ngoài trời.", "Enjoy outdoor activities."),
                ("Tự do hoạt động ngoài trời.", "Enjoy outdoor activities."),
            ),
            51..=100 => (
                2,
                ("Trung bình", "Moderate"),
                "#FFFF00",
                (
                    "Chất lượng không khí chấp nhận được; người nhạy cảm có thể chịu một số ảnh hưởng tới sức khỏe.",
                    "The air is acceptable; sensitive people may feel some effects.",
                ),
                ("Tự do hoạt động ngoài trời.", "Enjoy outdoor activities."),
                (
                    "Theo dõi các triệu chứng như ho hoặc khó thở, nhưng vẫn có thể hoạt động ngoài trời.",
                    "Watch for coughing or shortness of breath; outdoor activity is still fine.",
                ),
            ),
            101..=150 => (
                3,
                ("Kém", "Poor"),
                "#FF7E00",
                (
                    "Người nhạy cảm gặp vấn đề về sức khỏe; người bình thường ít bị ảnh hưởng.",
                    "Sensitive people have health problems; others are little affected.",
                ),
                (
                    "Nếu đau mắt, ho hoặc đau họng, hãy giảm hoạt động ngoài trời. Học sinh nên giảm tập thể dục kéo dài.",
                    "If you have sore eyes, a cough or a sore throat, spend less time outdoors. Pupils should cut down long exercise.",
                ),
                (
                    "Giảm hoạt động mạnh và thời gian ở ngoài trời. Người bị hen suyễn có thể cần dùng thuốc thường xuyên hơn.",
                    "Cut down strenuous activity and time outdoors. People with asthma may need their medicine more often.",
                ),
            ),
            151..=200 => (
                4,
                ("Xấu", "Unhealthy"),
                "#FF0000",
                (
                    "Mọi người bắt đầu bị ảnh hưởng tới sức khỏe; người nhạy cảm có thể gặp vấn đề nghiêm trọng hơn.",
                    "Everyone begins to feel health effects; sensitive people may have serious ones.",
                ),
                (
                    "Giảm hoạt động mạnh ngoài trời, tránh tập thể dục kéo dài, nghỉ ngơi nhiều hơn trong nhà.",
                    "Cut down strenuous outdoor activity, avoid long exercise and rest more indoors.",
                ),
                (
                    "Ở trong nhà và giảm hoạt động mạnh. Nếu phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
                    "Stay indoors and cut down strenuous activity. If you must go out, wear a proper mask.",
                ),
            ),
            201..=300 => (
                5,
                ("Rất xấu", "Very unhealthy"),
                "#8F3F97",
                (
                    "Cảnh báo sức khỏe: mọi người bị ảnh hưởng nghiêm trọng hơn.",
                    "Health warning: everyone is more seriously affected.",
                ),
                (
                    "Hạn chế tối đa hoạt động ngoài trời, chuyển mọi hoạt động vào trong nhà. Nếu phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
                    "Keep outdoor activity to a minimum and move everything indoors. If you must go out, wear a proper mask.",
                ),
                (
                    "Ở trong nhà và giảm hoạt động mạnh.",
                    "Stay indoors and cut down strenuous activity.",
                ),
            ),
            _ => (
                6,
                ("Nguy hại", "Hazardous"),
                "#7E0023",
                (
                    "Cảnh báo khẩn cấp về sức khỏe: toàn bộ dân số bị ảnh hưởng nghiêm trọng.",
                    "Health emergency: everyone is seriously affected.",
                ),
                (
                    "Ở trong nhà, đóng cửa ra vào và cửa sổ. Nếu phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
                    "Stay indoors with doors and windows closed. If you must go out, wear a proper mask.",
                ),
                (
                    "Ở trong nhà, đóng cửa ra vào và cửa sổ. Nếu phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
                    "Stay indoors with doors and windows closed. If you must go out, wear a proper mask.",
                ),
            ),
        };
        Band {
            level,
            name: Text::new(name.0, name.1),
            colour,
            health: Text::new(health.0, health.1),
            advice: Text::new(advice.0, advice.1),
            advice_sensitive: Text::new(sensitive.0, sensitive.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decision's example (§2.3.a): PM2.5 from 20:00 back to 09:00.
    const EXAMPLE_PM25: [f64; 12] = [
        20.6, 19.6, 22.4, 20.3, 16.5, 19.0, 16.5, 19.5, 23.5, 20.5, 24.7, 26.9,
    ];

    fn sub(aqi: &Aqi, pollutant: Pollutant) -> u16 {
        aqi.sub_indices
            .iter()
            .find(|s| s.pollutant == pollutant)
            .unwrap()
            .index
    }

    #[test]
    fn the_decisions_nowcast_example_is_20_3() {
        let hours: Vec<Option<f64>> = EXAMPLE_PM25.iter().copied().map(Some).collect();
        let value = nowcast(&hours).unwrap();
        assert_eq!((value * 10.0).round() / 10.0, 20.3);
    }

    #[test]
    fn the_decisions_hourly_example() {
        // §2.3.b: O3 136.1, NO2 118.7, NowCast PM2.5 20.3. The decision prints O3 43, PM2.5 41
        // and NO2 60, though its formula gives 59.35 for NO2, which is 59 half up.
        let pm25: Vec<Option<f64>> = EXAMPLE_PM25.iter().copied().map(Some).collect();
        let aqi = hourly(&[
            (Pollutant::O3, vec![Some(136.1)]),
            (Pollutant::No2, vec![Some(118.7)]),
            (Pollutant::Pm25, pm25),
        ])
        .unwrap();
        assert_eq!(sub(&aqi, Pollutant::O3), 43);
        assert_eq!(sub(&aqi, Pollutant::Pm25), 41);
        assert_eq!(sub(&aqi, Pollutant::No2), 59);
        assert_eq!(aqi.index(), 59);
        assert_eq!(aqi.dominant(), Pollutant::No2);
        assert_eq!(aqi.band.level, 2);
    }

    #[test]
    fn the_decisions_daily_example_is_110() {
        // §2.3.c: O3 8-hour max 89.3 and 1-hour max 114.6, NO2 1-hour max 130.8, PM2.5 mean 55.7.
        assert_eq!(rounded(O3_8H.sub_index(89.3).unwrap()), 45);
        assert_eq!(rounded(O3_1H.sub_index(114.6).unwrap()), 36);
        assert_eq!(rounded(NO2.sub_index(130.8).unwrap()), 65);
        assert_eq!(rounded(PM25.sub_index(55.7).unwrap()), 110);
        let day = |value: f64| vec![Some(value); 24];
        let mut no2 = day(100.0);
        no2[14] = Some(130.8);
        let aqi = daily(&[(Pollutant::Pm25, day(55.7)), (Pollutant::No2, no2)], &[]).unwrap();
        assert_eq!(aqi.index(), 110);
        assert_eq!(aqi.dominant(), Pollutant::Pm25);
        assert_eq!(sub(&aqi, Pollutant::No2), 65);
        assert_eq!(aqi.band.level, 3);
        assert_eq!(aqi.band.colour, "#FF7E00");
    }

    #[test]
    fn the_decisions_8_hour_ozone_example_peaks_at_74_4() {
        // §2.2.2.a: 18:00 to 00:00 of the day before, then 01:00 to 00:00.
        let before = [15.7, 14.2, 17.7, 18.9, 19.3, 15.7, 19.7].map(Some);
        let day = [
            22.6, 27.1, 29.0, 31.9, 25.3, 34.7, 35.2, 41.6, 45.7, 49.2, 55.8, 69.6, 78.3, 91.5,
            97.7, 81.2, 71.8, 43.5, 34.3, 21.5, 20.5, 19.4, 20.4, 21.3,
        ]
        .map(Some);
        let highest = highest_8h_mean(&before, &day).unwrap();
        assert_eq!((highest * 10.0).round() / 10.0, 74.4);
    }

    #[test]
    fn no_index_without_dust_and_no_nowcast_without_two_of_the_last_three_hours() {
        assert!(hourly(&[(Pollutant::No2, vec![Some(50.0)])]).is_none());
        let mut hours: Vec<Option<f64>> = EXAMPLE_PM25.iter().copied().map(Some).collect();
        hours[0] = None;
        assert!(nowcast(&hours).is_some(), "two of three are enough");
        hours[1] = None;
        assert!(nowcast(&hours).is_none(), "one of three is not");
        assert!(
            hourly(&[(Pollutant::Pm25, hours)]).is_none(),
            "no data is not clean air"
        );
    }

    #[test]
    fn a_missing_hour_weighs_nothing_rather_than_counting_as_clean_air() {
        let full = vec![Some(40.0); 12];
        let mut gappy = full.clone();
        gappy[5] = None;
        gappy[9] = None;
        assert_eq!(nowcast(&gappy), nowcast(&full));
    }

    #[test]
    fn breakpoints_are_continuous_and_the_scale_ends_at_500() {
        assert_eq!(rounded(PM25.sub_index(25.0).unwrap()), 50);
        assert_eq!(rounded(PM25.sub_index(24.999).unwrap()), 50);
        assert_eq!(rounded(PM25.sub_index(600.0).unwrap()), 500);
        assert_eq!(rounded(CO.sub_index(10_000.0).unwrap()), 50);
        assert_eq!(
            O3_8H.sub_index(401.0),
            None,
            "past 400 µg/m³ the 1-hour column decides"
        );
        assert_eq!(Band::of(50).level, 1);
        assert_eq!(Band::of(51).level, 2);
        assert_eq!(Band::of(301).colour, "#7E0023");
    }

    #[test]
    fn a_day_of_too_few_hours_has_no_daily_index() {
        let mut pm25 = vec![Some(30.0); 24];
        for hour in pm25.iter_mut().take(7) {
            *hour = None;
        }
        assert!(daily(&[(Pollutant::Pm25, pm25)], &[]).is_none());
    }
}
