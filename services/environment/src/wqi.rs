//! The Vietnamese water quality index, VN_WQI, exactly as Decision 1460/QĐ-TCMT (12/11/2019)
//! computes it for surface water: a sub-index per parameter by linear interpolation between the
//! breakpoints of its table (Công thức 1 and 2, which draw the same line), Bảng 1 for the
//! pesticides, metals, organics, nutrients and microbes and a table each for pH and for DO, DO
//! going by its saturation at the water's temperature; a value per group, the geometric mean of
//! its sub-indices for the pesticides (II) and the metals (III) and the arithmetic mean for the
//! organics and nutrients (IV) and the microbes (V); and the index
//! (WQI_I/100)·(WQI_II/100)·(WQI_III/100)·[WQI_IV²·WQI_V]^⅓, or ·WQI_IV when group V is not
//! measured, rounded to an integer. The toxic groups multiply, so one bad metal pulls the whole
//! index down; a group that was not measured is left out of the product. There is no index from
//! fewer than three of the five groups, nor without three parameters of group IV.
//!
//! Bảng 1's last column holds a concentration for some parameters (the index falls on to 10 at
//! it) and only "> X" for others (As, N-NO3, N-NO2, the pesticides, Coliform, E. coli), which go
//! straight from 25, or from 100, to 10 past X. DDTs is the sum of p,p'-DDT, p,p'-DDD and
//! p,p'-DDE, and heptachlor that of heptachlor and heptachlor epoxide, as the decision lists them.
//!
//! Where the decision is silent, or its tables read two ways, we choose, and say so here: where
//! Bảng 1 gives one concentration to both 100 and 75 (Cd, Pb, Hg, N-NH4) a value under it is
//! 100 and the value itself 75, the start of the next segment; at the very ends of the pH and DO
//! tables (pH 5.5 and 9, 20 % and 200 % saturation) the table's own level holds and 10 only
//! strictly past them; the index is rounded half up; DO is taken as measured, in mg/L, with a
//! water temperature of 0–50 °C, the range the saturation polynomial is meant for; and a
//! parameter given twice, a negative concentration or a pH outside 0–14 is refused rather than
//! guessed at.

use std::fmt;

use serde::Serialize;

/// The decision's five groups of parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Group {
    I,
    II,
    III,
    IV,
    V,
}

impl Group {
    pub const ALL: [Group; 5] = [Group::I, Group::II, Group::III, Group::IV, Group::V];

    /// What the group measures, `(vi, en)`.
    pub fn name(self) -> (&'static str, &'static str) {
        match self {
            Group::I => ("pH", "pH"),
            Group::II => ("Thuốc bảo vệ thực vật", "Pesticides"),
            Group::III => ("Kim loại nặng", "Heavy metals"),
            Group::IV => ("Hữu cơ và dinh dưỡng", "Organics and nutrients"),
            Group::V => ("Vi sinh", "Microbiology"),
        }
    }
}

/// The parameters the decision scores, each measured in its [`Parameter::unit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Parameter {
    Ph,
    Aldrin,
    Bhc,
    Dieldrin,
    /// p,p'-DDT + p,p'-DDD + p,p'-DDE.
    Ddts,
    /// Heptachlor + heptachlor epoxide.
    Heptachlor,
    As,
    Cd,
    Pb,
    Cr6,
    Cu,
    Zn,
    Hg,
    /// Dissolved oxygen as measured, in mg/L; its sub-index goes by % saturation.
    Do,
    Bod5,
    Cod,
    Toc,
    NNh4,
    NNo3,
    NNo2,
    PPo4,
    Coliform,
    EColi,
}

impl Parameter {
    pub const ALL: [Parameter; 23] = [
        Parameter::Ph,
        Parameter::Aldrin,
        Parameter::Bhc,
        Parameter::Dieldrin,
        Parameter::Ddts,
        Parameter::Heptachlor,
        Parameter::As,
        Parameter::Cd,
        Parameter::Pb,
        Parameter::Cr6,
        Parameter::Cu,
        Parameter::Zn,
        Parameter::Hg,
        Parameter::Do,
        Parameter::Bod5,
        Parameter::Cod,
        Parameter::Toc,
        Parameter::NNh4,
        Parameter::NNo3,
        Parameter::NNo2,
        Parameter::PPo4,
        Parameter::Coliform,
        Parameter::EColi,
    ];

    /// The name the API and the database give it (and its serialised form).
    pub fn code(self) -> &'static str {
        match self {
            Parameter::Ph => "ph",
            Parameter::Aldrin => "aldrin",
            Parameter::Bhc => "bhc",
            Parameter::Dieldrin => "dieldrin",
            Parameter::Ddts => "ddts",
            Parameter::Heptachlor => "heptachlor",
            Parameter::As => "as",
            Parameter::Cd => "cd",
            Parameter::Pb => "pb",
            Parameter::Cr6 => "cr6",
            Parameter::Cu => "cu",
            Parameter::Zn => "zn",
            Parameter::Hg => "hg",
            Parameter::Do => "do",
            Parameter::Bod5 => "bod5",
            Parameter::Cod => "cod",
            Parameter::Toc => "toc",
            Parameter::NNh4 => "n_nh4",
            Parameter::NNo3 => "n_no3",
            Parameter::NNo2 => "n_no2",
            Parameter::PPo4 => "p_po4",
            Parameter::Coliform => "coliform",
            Parameter::EColi => "e_coli",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    /// What a resident reads, `(vi, en)`.
    pub fn name(self) -> (&'static str, &'static str) {
        match self {
            Parameter::Ph => ("pH", "pH"),
            Parameter::Aldrin => ("Aldrin", "Aldrin"),
            Parameter::Bhc => ("BHC", "BHC"),
            Parameter::Dieldrin => ("Dieldrin", "Dieldrin"),
            Parameter::Ddts => ("DDTs", "DDTs"),
            Parameter::Heptachlor => (
                "Heptachlor và Heptachlorepoxide",
                "Heptachlor and heptachlor epoxide",
            ),
            Parameter::As => ("Asen (As)", "Arsenic (As)"),
            Parameter::Cd => ("Cadimi (Cd)", "Cadmium (Cd)"),
            Parameter::Pb => ("Chì (Pb)", "Lead (Pb)"),
            Parameter::Cr6 => ("Crom VI (Cr6+)", "Chromium VI (Cr6+)"),
            Parameter::Cu => ("Đồng (Cu)", "Copper (Cu)"),
            Parameter::Zn => ("Kẽm (Zn)", "Zinc (Zn)"),
            Parameter::Hg => ("Thủy ngân (Hg)", "Mercury (Hg)"),
            Parameter::Do => ("Oxy hòa tan (DO)", "Dissolved oxygen (DO)"),
            Parameter::Bod5 => (
                "Nhu cầu oxy sinh hóa (BOD5)",
                "Biochemical oxygen demand (BOD5)",
            ),
            Parameter::Cod => ("Nhu cầu oxy hóa học (COD)", "Chemical oxygen demand (COD)"),
            Parameter::Toc => ("Tổng cacbon hữu cơ (TOC)", "Total organic carbon (TOC)"),
            Parameter::NNh4 => ("Amoni (N-NH4)", "Ammonium (N-NH4)"),
            Parameter::NNo3 => ("Nitrat (N-NO3)", "Nitrate (N-NO3)"),
            Parameter::NNo2 => ("Nitrit (N-NO2)", "Nitrite (N-NO2)"),
            Parameter::PPo4 => ("Phosphat (P-PO4)", "Phosphate (P-PO4)"),
            Parameter::Coliform => ("Coliform", "Coliforms"),
            Parameter::EColi => ("E. coli", "E. coli"),
        }
    }

    pub fn group(self) -> Group {
        match self {
            Parameter::Ph => Group::I,
            Parameter::Aldrin
            | Parameter::Bhc
            | Parameter::Dieldrin
            | Parameter::Ddts
            | Parameter::Heptachlor => Group::II,
            Parameter::As
            | Parameter::Cd
            | Parameter::Pb
            | Parameter::Cr6
            | Parameter::Cu
            | Parameter::Zn
            | Parameter::Hg => Group::III,
            Parameter::Do
            | Parameter::Bod5
            | Parameter::Cod
            | Parameter::Toc
            | Parameter::NNh4
            | Parameter::NNo3
            | Parameter::NNo2
            | Parameter::PPo4 => Group::IV,
            Parameter::Coliform | Parameter::EColi => Group::V,
        }
    }

    /// The unit the decision's tables take it in; pH has none.
    pub fn unit(self) -> &'static str {
        match self.group() {
            Group::I => "",
            Group::II => "µg/L",
            Group::III | Group::IV => "mg/L",
            Group::V => "MPN/100 mL",
        }
    }
}

/// A sub-index as a function of a value: straight lines between breakpoints.
struct Curve {
    /// (value, sub-index) in rising value; a value repeats where the table gives it to two levels.
    points: &'static [(f64, f64)],
    /// The sub-index under the first breakpoint.
    below: f64,
    /// The sub-index past the last breakpoint.
    past: f64,
}

impl Curve {
    fn at(&self, value: f64) -> f64 {
        let points = self.points;
        // The last breakpoint at or under the value, so a repeated one starts the lower segment.
        let Some(i) = points.iter().rposition(|&(bp, _)| bp <= value) else {
            return self.below;
        };
        let (bp, q) = points[i];
        match points.get(i + 1) {
            Some(&(next_bp, next_q)) => q + (next_q - q) * (value - bp) / (next_bp - bp),
            None if value == bp => q,
            None => self.past,
        }
    }
}

/// A row of Bảng 1: at the sub-indices 100, 75, 50, 25, 10 in turn, as far as the row goes;
/// 100 under its first concentration and 10 past its last.
const fn bang_1(points: &'static [(f64, f64)]) -> Curve {
    Curve {
        points,
        below: 100.0,
        past: 10.0,
    }
}

const ALDRIN: Curve = bang_1(&[(0.1, 100.0)]);
const BHC: Curve = bang_1(&[(0.02, 100.0)]);
const DIELDRIN: Curve = bang_1(&[(0.1, 100.0)]);
const DDTS: Curve = bang_1(&[(1.0, 100.0)]);
const HEPTACHLOR: Curve = bang_1(&[(0.2, 100.0)]);

const AS: Curve = bang_1(&[(0.01, 100.0), (0.02, 75.0), (0.05, 50.0), (0.1, 25.0)]);
const CD: Curve = bang_1(&[
    (0.005, 100.0),
    (0.005, 75.0),
    (0.008, 50.0),
    (0.01, 25.0),
    (0.1, 10.0),
]);
const PB: Curve = bang_1(&[
    (0.02, 100.0),
    (0.02, 75.0),
    (0.04, 50.0),
    (0.05, 25.0),
    (0.5, 10.0),
]);
const CR6: Curve = bang_1(&[
    (0.01, 100.0),
    (0.02, 75.0),
    (0.04, 50.0),
    (0.05, 25.0),
    (0.1, 10.0),
]);
const CU: Curve = bang_1(&[
    (0.1, 100.0),
    (0.2, 75.0),
    (0.5, 50.0),
    (1.0, 25.0),
    (2.0, 10.0),
]);
const ZN: Curve = bang_1(&[
    (0.5, 100.0),
    (1.0, 75.0),
    (1.5, 50.0),
    (2.0, 25.0),
    (3.0, 10.0),
]);
const HG: Curve = bang_1(&[
    (0.001, 100.0),
    (0.001, 75.0),
    (0.0015, 50.0),
    (0.002, 25.0),
    (0.01, 10.0),
]);

const BOD5: Curve = bang_1(&[
    (4.0, 100.0),
    (6.0, 75.0),
    (15.0, 50.0),
    (25.0, 25.0),
    (50.0, 10.0),
]);
const COD: Curve = bang_1(&[
    (10.0, 100.0),
    (15.0, 75.0),
    (30.0, 50.0),
    (50.0, 25.0),
    (150.0, 10.0),
]);
const TOC: Curve = bang_1(&[
    (4.0, 100.0),
    (6.0, 75.0),
    (15.0, 50.0),
    (25.0, 25.0),
    (50.0, 10.0),
]);
const N_NH4: Curve = bang_1(&[
    (0.3, 100.0),
    (0.3, 75.0),
    (0.6, 50.0),
    (0.9, 25.0),
    (5.0, 10.0),
]);
const N_NO3: Curve = bang_1(&[(2.0, 100.0), (5.0, 75.0), (10.0, 50.0), (15.0, 25.0)]);
/// Only the 100 and "> 0.05" columns are filled: nitrite is either within the limit or not.
const N_NO2: Curve = bang_1(&[(0.05, 100.0)]);
const P_PO4: Curve = bang_1(&[
    (0.1, 100.0),
    (0.2, 75.0),
    (0.3, 50.0),
    (0.5, 25.0),
    (4.0, 10.0),
]);

const COLIFORM: Curve = bang_1(&[
    (2500.0, 100.0),
    (5000.0, 75.0),
    (7500.0, 50.0),
    (10000.0, 25.0),
]);
const E_COLI: Curve = bang_1(&[(20.0, 100.0), (50.0, 75.0), (100.0, 50.0), (200.0, 25.0)]);

/// pH's table: best from 6 to 8.5, falling either side to 50 at 5.5 and at 9, 10 beyond.
const PH: Curve = Curve {
    points: &[(5.5, 50.0), (6.0, 100.0), (8.5, 100.0), (9.0, 50.0)],
    below: 10.0,
    past: 10.0,
};

/// DO's table, in % saturation: best from 88 to 112 %, and supersaturated water (algae) is
/// penalised as starved water is, down to 25 at 20 % and at 200 %, 10 beyond.
const DO: Curve = Curve {
    points: &[
        (20.0, 25.0),
        (50.0, 50.0),
        (75.0, 75.0),
        (88.0, 100.0),
        (112.0, 100.0),
        (125.0, 75.0),
        (150.0, 50.0),
        (200.0, 25.0),
    ],
    below: 10.0,
    past: 10.0,
};

fn curve(parameter: Parameter) -> &'static Curve {
    match parameter {
        Parameter::Ph => &PH,
        Parameter::Aldrin => &ALDRIN,
        Parameter::Bhc => &BHC,
        Parameter::Dieldrin => &DIELDRIN,
        Parameter::Ddts => &DDTS,
        Parameter::Heptachlor => &HEPTACHLOR,
        Parameter::As => &AS,
        Parameter::Cd => &CD,
        Parameter::Pb => &PB,
        Parameter::Cr6 => &CR6,
        Parameter::Cu => &CU,
        Parameter::Zn => &ZN,
        Parameter::Hg => &HG,
        Parameter::Do => &DO,
        Parameter::Bod5 => &BOD5,
        Parameter::Cod => &COD,
        Parameter::Toc => &TOC,
        Parameter::NNh4 => &N_NH4,
        Parameter::NNo3 => &N_NO3,
        Parameter::NNo2 => &N_NO2,
        Parameter::PPo4 => &P_PO4,
        Parameter::Coliform => &COLIFORM,
        Parameter::EColi => &E_COLI,
    }
}

/// The sub-index (WQI_SI, unrounded) of a parameter's value in its unit; `None` for DO, whose
/// sub-index needs the water temperature (see [`do_saturation`] and [`do_sub_index`]).
pub fn sub_index(parameter: Parameter, value: f64) -> Option<f64> {
    (parameter != Parameter::Do).then(|| curve(parameter).at(value))
}

/// The water temperatures (°C) the saturation polynomial is used over.
const TEMPERATURES: std::ops::RangeInclusive<f64> = 0.0..=50.0;

/// The DO (mg/L) of fresh water saturated with air at `temperature` °C, by the decision's
/// polynomial.
pub fn do_saturation(temperature: f64) -> f64 {
    let t = temperature;
    14.652 - 0.41022 * t + 0.0079910 * t.powi(2) - 0.000077774 * t.powi(3)
}

/// DO's sub-index from its % saturation (measured DO over [`do_saturation`], times 100).
pub fn do_sub_index(saturation_percent: f64) -> f64 {
    DO.at(saturation_percent)
}

/// Why a sample has no index.
#[derive(Debug, Clone, PartialEq)]
pub enum WqiError {
    /// The same parameter twice in one sample: which one is meant cannot be told.
    Duplicate(Parameter),
    /// A negative or non-finite value, or a pH outside 0–14.
    InvalidValue { parameter: Parameter, value: f64 },
    /// DO without the water temperature its saturation depends on.
    DoWithoutTemperature,
    /// A water temperature outside 0–50 °C, or not a number.
    InvalidTemperature(f64),
    /// Fewer than the three group IV parameters the decision requires.
    TooFewOrganics { measured: usize },
    /// Fewer than the three of the five groups the decision requires.
    TooFewGroups { measured: usize },
}

impl fmt::Display for WqiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WqiError::Duplicate(p) => write!(f, "{} is given more than once", p.code()),
            WqiError::InvalidValue { parameter, value } => {
                write!(f, "{value} is not a valid value of {}", parameter.code())
            }
            WqiError::DoWithoutTemperature => {
                write!(f, "DO needs the water temperature to give its saturation")
            }
            WqiError::InvalidTemperature(t) => {
                write!(f, "a water temperature of {t} °C is outside 0–50 °C")
            }
            WqiError::TooFewOrganics { measured } => write!(
                f,
                "VN_WQI needs at least 3 organic and nutrient (group IV) parameters, not {measured}"
            ),
            WqiError::TooFewGroups { measured } => write!(
                f,
                "VN_WQI needs at least 3 of its 5 parameter groups, not {measured}"
            ),
        }
    }
}

impl std::error::Error for WqiError {}

/// One parameter's part in an index.
#[derive(Debug, Clone, Serialize)]
pub struct SubIndex {
    pub parameter: Parameter,
    /// As measured, in the parameter's unit.
    pub value: f64,
    /// For DO, the % saturation its sub-index went by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saturation_percent: Option<f64>,
    /// To one decimal; the index is computed from the unrounded one.
    pub index: f64,
}

/// One group's value in an index: the mean of its sub-indices.
#[derive(Debug, Clone, Serialize)]
pub struct GroupIndex {
    pub group: Group,
    /// To one decimal; the index is computed from the unrounded one.
    pub index: f64,
}

/// An index, with the band it falls in and what it was made of: the groups left out are the
/// groups that were not measured, never counted as clean.
#[derive(Debug, Clone, Serialize)]
pub struct Wqi {
    index: u8,
    band: Band,
    groups: Vec<GroupIndex>,
    sub_indices: Vec<SubIndex>,
}

impl Wqi {
    pub fn index(&self) -> u8 {
        self.index
    }

    pub fn band(&self) -> &Band {
        &self.band
    }

    /// The groups measured, in the decision's order.
    pub fn groups(&self) -> &[GroupIndex] {
        &self.groups
    }

    /// Each parameter's part, in the order given.
    pub fn sub_indices(&self) -> &[SubIndex] {
        &self.sub_indices
    }

    /// The group's value (one decimal), or `None` if it was not measured.
    pub fn group_index(&self, group: Group) -> Option<f64> {
        self.groups
            .iter()
            .find(|g| g.group == group)
            .map(|g| g.index)
    }

    /// The parameter's sub-index (one decimal), or `None` if it was not measured.
    pub fn sub_index(&self, parameter: Parameter) -> Option<f64> {
        self.sub_indices
            .iter()
            .find(|s| s.parameter == parameter)
            .map(|s| s.index)
    }
}

fn one_decimal(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The index of one sample: each parameter with its value in its unit (DO in mg/L, with the
/// `water_temperature` in °C it was measured at).
pub fn wqi(samples: &[(Parameter, f64)], water_temperature: Option<f64>) -> Result<Wqi, WqiError> {
    let mut scored: Vec<(Parameter, f64, Option<f64>, f64)> = Vec::with_capacity(samples.len());
    for &(parameter, value) in samples {
        if scored.iter().any(|s| s.0 == parameter) {
            return Err(WqiError::Duplicate(parameter));
        }
        let valid =
            value.is_finite() && value >= 0.0 && (parameter != Parameter::Ph || value <= 14.0);
        if !valid {
            return Err(WqiError::InvalidValue { parameter, value });
        }
        let (saturation, index) = if parameter == Parameter::Do {
            let t = water_temperature.ok_or(WqiError::DoWithoutTemperature)?;
            if !TEMPERATURES.contains(&t) {
                return Err(WqiError::InvalidTemperature(t));
            }
            let percent = value / do_saturation(t) * 100.0;
            (Some(percent), do_sub_index(percent))
        } else {
            (None, curve(parameter).at(value))
        };
        scored.push((parameter, value, saturation, index));
    }

    let in_group = |group: Group| -> Vec<f64> {
        scored
            .iter()
            .filter(|s| s.0.group() == group)
            .map(|s| s.3)
            .collect()
    };
    let organics = in_group(Group::IV).len();
    if organics < 3 {
        return Err(WqiError::TooFewOrganics { measured: organics });
    }
    let groups: Vec<(Group, f64)> = Group::ALL
        .into_iter()
        .filter_map(|group| {
            let indices = in_group(group);
            if indices.is_empty() {
                return None;
            }
            let n = indices.len() as f64;
            let mean = match group {
                // The toxic groups by the geometric mean, so one bad parameter weighs more.
                Group::II | Group::III => indices.iter().product::<f64>().powf(1.0 / n),
                Group::I | Group::IV | Group::V => indices.iter().sum::<f64>() / n,
            };
            Some((group, mean))
        })
        .collect();
    if groups.len() < 3 {
        return Err(WqiError::TooFewGroups {
            measured: groups.len(),
        });
    }

    let of = |group: Group| groups.iter().find(|g| g.0 == group).map(|g| g.1);
    let toxic: f64 = [Group::I, Group::II, Group::III]
        .into_iter()
        .filter_map(of)
        .map(|index| index / 100.0)
        .product();
    let organic = of(Group::IV).unwrap_or(0.0);
    let rest = match of(Group::V) {
        Some(microbial) => (organic.powi(2) * microbial).cbrt(),
        None => organic,
    };
    let index = (toxic * rest).round().clamp(0.0, 100.0) as u8;

    Ok(Wqi {
        index,
        band: Band::of(index),
        groups: groups
            .into_iter()
            .map(|(group, index)| GroupIndex {
                group,
                index: one_decimal(index),
            })
            .collect(),
        sub_indices: scored
            .into_iter()
            .map(|(parameter, value, saturation, index)| SubIndex {
                parameter,
                value,
                saturation_percent: saturation.map(one_decimal),
                index: one_decimal(index),
            })
            .collect(),
    })
}

/// One of the decision's six bands, with the use water of that quality suits.
#[derive(Debug, Clone, Serialize)]
pub struct Band {
    /// 1 (very good) to 6 (very heavily polluted).
    level: u8,
    name: (&'static str, &'static str),
    colour_name: (&'static str, &'static str),
    /// The decision's RGB, as `#RRGGBB`.
    colour: &'static str,
    suitable_use: (&'static str, &'static str),
}

impl Band {
    /// The band of a published (rounded) index.
    pub fn of(index: u8) -> Band {
        let (level, name, colour_name, colour, suitable_use) = match index {
            91.. => (
                1,
                ("Rất tốt", "Very good"),
                ("Xanh nước biển", "Blue"),
                "#3333FF",
                (
                    "Sử dụng tốt cho mục đích cấp nước sinh hoạt",
                    "Good for the drinking water supply",
                ),
            ),
            76..=90 => (
                2,
                ("Tốt", "Good"),
                ("Xanh lá cây", "Green"),
                "#00E400",
                (
                    "Sử dụng cho mục đích cấp nước sinh hoạt nhưng cần các biện pháp xử lý phù hợp",
                    "Fit for the drinking water supply, with suitable treatment",
                ),
            ),
            51..=75 => (
                3,
                ("Trung bình", "Fair"),
                ("Vàng", "Yellow"),
                "#FFFF00",
                (
                    "Sử dụng cho mục đích tưới tiêu và các mục đích tương đương khác",
                    "Fit for irrigation and similar uses",
                ),
            ),
            26..=50 => (
                4,
                ("Xấu", "Poor"),
                ("Da cam", "Orange"),
                "#FF7E00",
                (
                    "Sử dụng cho giao thông thủy và các mục đích tương đương khác",
                    "Fit for navigation and similar uses",
                ),
            ),
            10..=25 => (
                5,
                ("Kém", "Bad"),
                ("Đỏ", "Red"),
                "#FF0000",
                (
                    "Nước ô nhiễm nặng, cần các biện pháp xử lý trong tương lai",
                    "Heavily polluted; treatment will be needed",
                ),
            ),
            0..=9 => (
                6,
                ("Ô nhiễm rất nặng", "Very heavily polluted"),
                ("Nâu", "Brown"),
                "#7E0023",
                (
                    "Nước nhiễm độc, cần có biện pháp khắc phục, xử lý",
                    "Toxic; needs remediation and treatment",
                ),
            ),
        };
        Band {
            level,
            name,
            colour_name,
            colour,
            suitable_use,
        }
    }

    pub fn level(&self) -> u8 {
        self.level
    }

    /// `(vi, en)`.
    pub fn name(&self) -> (&'static str, &'static str) {
        self.name
    }

    /// `(vi, en)`.
    pub fn colour_name(&self) -> (&'static str, &'static str) {
        self.colour_name
    }

    /// `#RRGGBB`.
    pub fn colour(&self) -> &'static str {
        self.colour
    }

    /// `(vi, en)`.
    pub fn suitable_use(&self) -> (&'static str, &'static str) {
        self.suitable_use
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-9
    }

    fn si(parameter: Parameter, value: f64) -> f64 {
        sub_index(parameter, value).unwrap()
    }

    #[test]
    fn codes_are_unique_and_round_trip() {
        for p in Parameter::ALL {
            assert_eq!(Parameter::from_code(p.code()), Some(p));
        }
        assert_eq!(Parameter::from_code("e_coli"), Some(Parameter::EColi));
        assert_eq!(Parameter::from_code("n_nh4"), Some(Parameter::NNh4));
        assert_eq!(Parameter::from_code("no2"), None);
        assert_eq!(Parameter::Aldrin.unit(), "µg/L");
        assert_eq!(Parameter::Hg.unit(), "mg/L");
        assert_eq!(Parameter::EColi.unit(), "MPN/100 mL");
    }

    #[test]
    fn pesticides_and_nitrite_are_within_the_limit_or_10() {
        assert!(close(si(Parameter::Aldrin, 0.1), 100.0));
        assert!(close(si(Parameter::Aldrin, 0.11), 10.0));
        assert!(close(si(Parameter::Bhc, 0.02), 100.0));
        assert!(close(si(Parameter::Bhc, 0.021), 10.0));
        assert!(close(si(Parameter::Ddts, 0.0), 100.0));
        assert!(close(si(Parameter::Heptachlor, 0.3), 10.0));
        assert!(close(si(Parameter::NNo2, 0.05), 100.0));
        assert!(close(si(Parameter::NNo2, 0.051), 10.0));
    }

    #[test]
    fn metals_interpolate_between_breakpoints() {
        assert!(close(si(Parameter::As, 0.01), 100.0));
        assert!(close(si(Parameter::As, 0.015), 87.5));
        assert!(close(si(Parameter::As, 0.02), 75.0));
        assert!(close(si(Parameter::As, 0.035), 62.5));
        assert!(close(si(Parameter::As, 0.1), 25.0));
        assert!(
            close(si(Parameter::As, 0.11), 10.0),
            "past '> 0.1' is 10 at once"
        );
        assert!(close(si(Parameter::Cu, 1.5), 17.5));
        assert!(close(si(Parameter::Cu, 2.0), 10.0));
        assert!(close(si(Parameter::Cu, 3.0), 10.0));
        assert!(close(si(Parameter::Zn, 0.75), 87.5));
        assert!(close(si(Parameter::Cr6, 0.075), 17.5));
    }

    #[test]
    fn a_concentration_given_to_two_levels_is_100_only_below_it() {
        assert!(close(si(Parameter::Cd, 0.004), 100.0));
        assert!(close(si(Parameter::Cd, 0.005), 75.0));
        assert!(close(si(Parameter::Cd, 0.0065), 62.5));
        assert!(close(si(Parameter::Pb, 0.03), 62.5));
        assert!(close(si(Parameter::Hg, 0.001), 75.0));
        assert!(close(si(Parameter::NNh4, 0.29), 100.0));
        assert!(close(si(Parameter::NNh4, 0.3), 75.0));
        assert!(close(si(Parameter::NNh4, 0.45), 62.5));
    }

    #[test]
    fn organics_and_nutrients_interpolate_between_breakpoints() {
        assert!(close(si(Parameter::Bod5, 4.0), 100.0));
        assert!(close(si(Parameter::Bod5, 5.0), 87.5));
        assert!(close(si(Parameter::Bod5, 15.0), 50.0));
        assert!(close(si(Parameter::Bod5, 37.5), 17.5));
        assert!(close(si(Parameter::Bod5, 50.0), 10.0));
        assert!(close(si(Parameter::Bod5, 80.0), 10.0));
        assert!(close(si(Parameter::Cod, 22.5), 62.5));
        assert!(close(si(Parameter::Toc, 20.0), 37.5));
        assert!(close(si(Parameter::NNo3, 15.0), 25.0));
        assert!(
            close(si(Parameter::NNo3, 15.1), 10.0),
            "past '> 15' is 10 at once"
        );
        assert!(close(si(Parameter::PPo4, 0.25), 62.5));
        assert!(close(si(Parameter::PPo4, 2.25), 17.5));
    }

    #[test]
    fn microbes_interpolate_between_breakpoints() {
        assert!(close(si(Parameter::Coliform, 2500.0), 100.0));
        assert!(close(si(Parameter::Coliform, 3750.0), 87.5));
        assert!(close(si(Parameter::Coliform, 10000.0), 25.0));
        assert!(close(si(Parameter::Coliform, 10001.0), 10.0));
        assert!(close(si(Parameter::EColi, 150.0), 37.5));
        assert!(close(si(Parameter::EColi, 201.0), 10.0));
    }

    #[test]
    fn ph_is_100_from_6_to_8_5_and_10_outside_5_5_to_9() {
        assert!(close(si(Parameter::Ph, 5.49), 10.0));
        assert!(close(si(Parameter::Ph, 5.5), 50.0));
        assert!(close(si(Parameter::Ph, 5.75), 75.0));
        assert!(close(si(Parameter::Ph, 6.0), 100.0));
        assert!(close(si(Parameter::Ph, 7.2), 100.0));
        assert!(close(si(Parameter::Ph, 8.5), 100.0));
        assert!(close(si(Parameter::Ph, 8.75), 75.0));
        assert!(close(si(Parameter::Ph, 9.0), 50.0));
        assert!(close(si(Parameter::Ph, 9.01), 10.0));
    }

    #[test]
    fn do_saturation_and_its_sub_index() {
        // 14.652 − 0.41022·25 + 0.0079910·625 − 0.000077774·15625
        // = 14.652 − 10.2555 + 4.994375 − 1.21521875 = 8.17565625 mg/L
        assert!(close(do_saturation(25.0), 8.17565625));
        assert!(close(do_saturation(20.0), 9.021808));
        assert_eq!(sub_index(Parameter::Do, 7.0), None);
        assert!(close(do_sub_index(19.9), 10.0));
        assert!(close(do_sub_index(20.0), 25.0));
        assert!(close(do_sub_index(35.0), 37.5));
        assert!(close(do_sub_index(81.5), 87.5));
        assert!(close(do_sub_index(88.0), 100.0));
        assert!(close(do_sub_index(112.0), 100.0));
        assert!(close(do_sub_index(137.5), 62.5));
        assert!(close(do_sub_index(200.0), 25.0));
        assert!(close(do_sub_index(200.1), 10.0));
        // Saturated water at 25 °C is 100 % and scores 100.
        let index = wqi(
            &[
                (Parameter::Do, 8.17565625),
                (Parameter::Bod5, 4.0),
                (Parameter::Cod, 10.0),
                (Parameter::Ph, 7.0),
                (Parameter::Coliform, 1000.0),
            ],
            Some(25.0),
        )
        .unwrap();
        let do_part = index
            .sub_indices
            .iter()
            .find(|s| s.parameter == Parameter::Do)
            .unwrap();
        assert_eq!(do_part.saturation_percent, Some(100.0));
        assert_eq!(index.index(), 100);
    }

    /// A sample worked by hand (the decision prints none):
    /// - I: pH 8.7 → 100 + (50 − 100)·(8.7 − 8.5)/(9 − 8.5) = 80
    /// - II: Aldrin 0.05, DDTs 0.5 µg/L → 100 and 100 → 100
    /// - III: As 0.03 → 75 + (50 − 75)·(0.03 − 0.02)/(0.05 − 0.02) = 66.667; Cd 0.002 → 100;
    ///   √(66.667·100) = 81.650
    /// - IV: DO 8.0 mg/L at 25 °C → 8.0/8.17566·100 = 97.85 % → 100; BOD5 10 → 75 − 25·4/9
    ///   = 63.889; COD 20 → 75 − 25·5/15 = 66.667; N-NH4 0.45 → 75 − 25·0.15/0.3 = 62.5;
    ///   (100 + 63.889 + 66.667 + 62.5)/4 = 73.264
    /// - V: Coliform 6000 → 75 − 25·1000/2500 = 65
    ///
    /// (80/100)·(100/100)·(81.650/100)·(73.264²·65)^⅓ = 0.8·0.81650·70.399 = 45.98 → 46.
    fn worked_sample() -> Vec<(Parameter, f64)> {
        vec![
            (Parameter::Ph, 8.7),
            (Parameter::Aldrin, 0.05),
            (Parameter::Ddts, 0.5),
            (Parameter::As, 0.03),
            (Parameter::Cd, 0.002),
            (Parameter::Do, 8.0),
            (Parameter::Bod5, 10.0),
            (Parameter::Cod, 20.0),
            (Parameter::NNh4, 0.45),
            (Parameter::Coliform, 6000.0),
        ]
    }

    #[test]
    fn the_worked_sample_is_46_poor() {
        let index = wqi(&worked_sample(), Some(25.0)).unwrap();
        assert_eq!(index.group_index(Group::I), Some(80.0));
        assert_eq!(index.group_index(Group::II), Some(100.0));
        assert_eq!(index.group_index(Group::III), Some(81.6));
        assert_eq!(index.group_index(Group::IV), Some(73.3));
        assert_eq!(index.group_index(Group::V), Some(65.0));
        assert_eq!(index.sub_index(Parameter::As), Some(66.7));
        assert_eq!(index.sub_index(Parameter::Do), Some(100.0));
        assert_eq!(index.index(), 46);
        assert_eq!(index.band().level(), 4);
        assert_eq!(index.band().name(), ("Xấu", "Poor"));
        assert_eq!(index.band().colour(), "#FF7E00");
    }

    #[test]
    fn without_microbes_group_iv_stands_alone_and_unmeasured_groups_are_left_out() {
        // 0.8·0.81650·73.264 = 47.86 → 48
        let mut sample = worked_sample();
        sample.retain(|(p, _)| *p != Parameter::Coliform);
        let index = wqi(&sample, Some(25.0)).unwrap();
        assert_eq!(index.group_index(Group::V), None);
        assert_eq!(index.index(), 48);
        // Without pesticides the metals, pH and group IV still make three groups, and the
        // pesticides are not counted as clean: they are absent.
        sample.retain(|(p, _)| p.group() != Group::II);
        let index = wqi(&sample, Some(25.0)).unwrap();
        assert_eq!(index.group_index(Group::II), None);
        assert_eq!(index.index(), 48);
    }

    #[test]
    fn one_bad_pesticide_pulls_its_group_down_geometrically() {
        // Aldrin and DDTs 100, BHC 10: (100·100·10)^⅓ = 46.42, where their mean would be 70;
        // 0.8·0.46416·0.81650·70.399 = 21.34, less than half of the 46 without BHC.
        let mut sample = worked_sample();
        sample.push((Parameter::Bhc, 0.05));
        let index = wqi(&sample, Some(25.0)).unwrap();
        assert_eq!(index.group_index(Group::II), Some(46.4));
        assert_eq!(index.index(), 21);
        assert_eq!(index.band().level(), 5);
    }

    #[test]
    fn too_little_data_is_refused_not_taken_for_clean_water() {
        let organics = [
            (Parameter::Bod5, 3.0),
            (Parameter::Cod, 8.0),
            (Parameter::PPo4, 0.05),
        ];
        // Group IV and pH: two groups of five.
        let mut sample = organics.to_vec();
        sample.push((Parameter::Ph, 7.0));
        assert_eq!(
            wqi(&sample, None).unwrap_err(),
            WqiError::TooFewGroups { measured: 2 }
        );
        // A third group is enough.
        sample.push((Parameter::EColi, 10.0));
        assert_eq!(wqi(&sample, None).unwrap().index(), 100);
        // But not with only two group IV parameters, however many other groups.
        sample.retain(|(p, _)| *p != Parameter::PPo4);
        sample.push((Parameter::Zn, 0.1));
        assert_eq!(
            wqi(&sample, None).unwrap_err(),
            WqiError::TooFewOrganics { measured: 2 }
        );
        assert_eq!(
            wqi(&[], None).unwrap_err(),
            WqiError::TooFewOrganics { measured: 0 }
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let mut sample = worked_sample();
        assert_eq!(
            wqi(&sample, None).unwrap_err(),
            WqiError::DoWithoutTemperature
        );
        assert_eq!(
            wqi(&sample, Some(60.0)).unwrap_err(),
            WqiError::InvalidTemperature(60.0)
        );
        sample.push((Parameter::Cod, 5.0));
        assert_eq!(
            wqi(&sample, Some(25.0)).unwrap_err(),
            WqiError::Duplicate(Parameter::Cod)
        );
        sample.pop();
        sample.push((Parameter::Toc, -1.0));
        assert!(matches!(
            wqi(&sample, Some(25.0)),
            Err(WqiError::InvalidValue {
                parameter: Parameter::Toc,
                ..
            })
        ));
        sample.pop();
        sample[0] = (Parameter::Ph, 15.0);
        assert!(matches!(
            wqi(&sample, Some(25.0)),
            Err(WqiError::InvalidValue {
                parameter: Parameter::Ph,
                ..
            })
        ));
        sample[0] = (Parameter::Ph, f64::NAN);
        assert!(wqi(&sample, Some(25.0)).is_err());
    }

    #[test]
    fn the_bands_edges() {
        let level = |index| Band::of(index).level();
        assert_eq!(level(100), 1);
        assert_eq!(level(91), 1);
        assert_eq!(level(90), 2);
        assert_eq!(level(76), 2);
        assert_eq!(level(75), 3);
        assert_eq!(level(51), 3);
        assert_eq!(level(50), 4);
        assert_eq!(level(26), 4);
        assert_eq!(level(25), 5);
        assert_eq!(level(10), 5);
        assert_eq!(level(9), 6);
        assert_eq!(level(0), 6);
        assert_eq!(Band::of(95).colour(), "#3333FF");
        assert_eq!(Band::of(80).colour(), "#00E400");
        assert_eq!(Band::of(60).colour(), "#FFFF00");
        assert_eq!(Band::of(20).colour(), "#FF0000");
        assert_eq!(Band::of(5).colour(), "#7E0023");
        assert_eq!(
            Band::of(5).name(),
            ("Ô nhiễm rất nặng", "Very heavily polluted")
        );
        assert_eq!(Band::of(95).colour_name(), ("Xanh nước biển", "Blue"));
        assert_eq!(
            Band::of(95).suitable_use().0,
            "Sử dụng tốt cho mục đích cấp nước sinh hoạt"
        );
    }
}
