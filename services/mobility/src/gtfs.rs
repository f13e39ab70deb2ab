//! Reads and checks a GTFS Schedule feed, the static timetable format of gtfs.org/schedule:
//! a zip of CSV files (or the files themselves), read into plain structs with the fields a
//! passenger app uses, and checked as the reference requires: the required files, fields and
//! columns, unique ids, references between files, stop positions, route types, one time zone,
//! dates, and the order of each trip's stops and times. Every problem found is collected, up to
//! [`MAX_PROBLEMS`], so a feed can be fixed in one go; a feed with any problem is refused whole.
//!
//! A zip is a bomb until shown otherwise: the declared sizes of the files we read must fit
//! [`Limits::max_uncompressed_bytes`], and the bytes are counted again while they inflate, so a
//! header that lies stops the reading at the limit.
//!
//! Where the reference is silent, or allows more than we read, we choose, and say so here:
//! - Only the files we read are inflated: agency, stops, routes, trips, stop_times, calendar and
//!   calendar_dates. Others (feed_info, shapes, fares, …), files in subfolders of the zip and
//!   unknown columns are ignored, as the reference allows extra files and columns; but a feed
//!   with frequencies.txt is refused, as its trips by frequency would be shown as one trip.
//! - Values and column names are trimmed of spaces; a UTF-8 BOM opening a file is skipped; blank
//!   lines are skipped. A row with more or fewer fields than the header is a problem (RFC 4180
//!   says every line should have the same number), not padded.
//! - The rows of a trip may come in any order in stop_times.txt: we sort them by stop_sequence,
//!   so "increasing along the trip" can only fail by a stop_sequence given twice.
//! - Times are seconds since noon minus 12 h of the service day, as the reference defines them;
//!   the hours go past 24 (25:10:00 is the next morning), up to 72, past which a time is taken
//!   for a typo. A time missing on a stop
//!   between the first and the last is kept as `None`, not interpolated.
//! - route_type is valid when it is one of the basic types (0–7, 11, 12) or in the range of the
//!   extended types, 100–1702, taken as a whole rather than code by code.
//! - A time zone is checked for the shape of an IANA name (`Area/Place`, or a single name such
//!   as `UTC`), not against a copy of the database.
//! - Colours are six hex digits and stay `None` when not given (the reference's defaults are
//!   white for the route and black for its text).
//! - Stops lying at a station (location types 1–4) are checked as the reference says: a station
//!   has no parent, an entrance, a node or a boarding area has one, the parent of a stop, an
//!   entrance or a node is a station and that of a boarding area is a stop; stop_times name
//!   stops (type 0) only. GTFS-Flex (location groups, booking rules) is not read, so a
//!   stop_time needs its stop_id.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{Cursor, Read};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The most problems listed; past it the last entry says how many more were found.
pub const MAX_PROBLEMS: usize = 100;

/// A feed that read and checked without a problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub agencies: Vec<Agency>,
    pub stops: Vec<Stop>,
    pub routes: Vec<Route>,
    pub trips: Vec<Trip>,
    /// Sorted by trip_id, then stop_sequence: each trip's stops in the order it calls at them.
    pub stop_times: Vec<StopTime>,
    pub calendars: Vec<Calendar>,
    pub calendar_dates: Vec<CalendarDate>,
    /// The agencies' time zone (they all have the same), in which the times are given.
    pub timezone: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agency {
    /// Required only when the feed has more than one agency.
    pub agency_id: Option<String>,
    pub agency_name: String,
    pub agency_url: String,
    pub agency_timezone: String,
    pub agency_lang: Option<String>,
    pub agency_phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    pub stop_id: String,
    /// The short code printed at the stop, for passengers.
    pub stop_code: Option<String>,
    /// Required for stops, stations and entrances; optional for nodes and boarding areas.
    pub stop_name: Option<String>,
    /// Required, with `stop_lon`, for stops, stations and entrances.
    pub stop_lat: Option<f64>,
    pub stop_lon: Option<f64>,
    pub location_type: LocationType,
    pub parent_station: Option<String>,
}

/// stops.location_type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationType {
    /// 0 or empty: where passengers board or alight.
    Stop,
    /// 1: a station holding stops.
    Station,
    /// 2: an entrance or exit of a station.
    Entrance,
    /// 3: a point inside a station used to describe paths.
    GenericNode,
    /// 4: a place on a platform where passengers board.
    BoardingArea,
}

impl LocationType {
    fn from_code(code: &str) -> Option<Self> {
        match code {
            "0" => Some(Self::Stop),
            "1" => Some(Self::Station),
            "2" => Some(Self::Entrance),
            "3" => Some(Self::GenericNode),
            "4" => Some(Self::BoardingArea),
            _ => None,
        }
    }

    /// Whether the reference requires a name and a position.
    fn is_on_the_map(self) -> bool {
        matches!(self, Self::Stop | Self::Station | Self::Entrance)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub route_id: String,
    /// Required when the feed has more than one agency.
    pub agency_id: Option<String>,
    /// At least one of the short and the long name is given.
    pub route_short_name: Option<String>,
    pub route_long_name: Option<String>,
    /// 3 is a bus; see the reference for the others.
    pub route_type: u16,
    /// Six hex digits, without `#`.
    pub route_color: Option<String>,
    pub route_text_color: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trip {
    pub trip_id: String,
    pub route_id: String,
    pub service_id: String,
    pub trip_headsign: Option<String>,
    /// 0 or 1, the two directions of travel in the feed's own sense (outbound and inbound, say).
    pub direction_id: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopTime {
    pub trip_id: String,
    /// Seconds since noon minus 12 h of the service day; past 86 400 on the next day.
    pub arrival_time: Option<u32>,
    pub departure_time: Option<u32>,
    pub stop_id: String,
    pub stop_sequence: u32,
    pub pickup_type: PickupDropOff,
    pub drop_off_type: PickupDropOff,
    /// `Some(false)` when the feed says the times are approximate (0), `Some(true)` when it says
    /// they are exact (1); exact too when not given, by the reference.
    pub timepoint: Option<bool>,
}

/// stop_times.pickup_type and drop_off_type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickupDropOff {
    /// 0 or empty.
    Regular,
    /// 1: no pickup, or no drop-off, here.
    NotAvailable,
    /// 2: phone the agency to arrange it.
    PhoneAgency,
    /// 3: ask the driver.
    CoordinateWithDriver,
}

impl PickupDropOff {
    fn from_code(code: &str) -> Option<Self> {
        match code {
            "0" => Some(Self::Regular),
            "1" => Some(Self::NotAvailable),
            "2" => Some(Self::PhoneAgency),
            "3" => Some(Self::CoordinateWithDriver),
            _ => None,
        }
    }
}

/// The weekdays a service runs on between two dates, both included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub service_id: String,
    pub monday: bool,
    pub tuesday: bool,
    pub wednesday: bool,
    pub thursday: bool,
    pub friday: bool,
    pub saturday: bool,
    pub sunday: bool,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
}

impl Calendar {
    pub fn runs_on(&self, weekday: Weekday) -> bool {
        match weekday {
            Weekday::Mon => self.monday,
            Weekday::Tue => self.tuesday,
            Weekday::Wed => self.wednesday,
            Weekday::Thu => self.thursday,
            Weekday::Fri => self.friday,
            Weekday::Sat => self.saturday,
            Weekday::Sun => self.sunday,
        }
    }
}

/// A day a service runs although its calendar says not, or does not although it says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDate {
    pub service_id: String,
    pub date: NaiveDate,
    pub exception_type: ExceptionType,
}

/// calendar_dates.exception_type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionType {
    /// 1: the service runs on the date.
    Added,
    /// 2: the service does not run on the date.
    Removed,
}

impl Feed {
    /// The service_ids running on `date`: those whose calendar covers it on its weekday, plus
    /// those calendar_dates add on it, less those it removes.
    pub fn services_on(&self, date: NaiveDate) -> HashSet<&str> {
        let mut running: HashSet<&str> = self
            .calendars
            .iter()
            .filter(|c| c.start_date <= date && date <= c.end_date && c.runs_on(date.weekday()))
            .map(|c| c.service_id.as_str())
            .collect();
        for exception in self.calendar_dates.iter().filter(|d| d.date == date) {
            match exception.exception_type {
                ExceptionType::Added => running.insert(&exception.service_id),
                ExceptionType::Removed => running.remove(exception.service_id.as_str()),
            };
        }
        running
    }
}

/// How much of a feed we are willing to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The files we read, uncompressed, all together.
    pub max_uncompressed_bytes: u64,
    pub max_rows_per_file: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_uncompressed_bytes: 200_000_000,
            max_rows_per_file: 5_000_000,
        }
    }
}

/// Something wrong with a feed, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, such as `stops.txt`, or `feed` for the feed as a whole.
    pub file: String,
    /// 1 is the header; None when the problem is with the whole file.
    pub line: Option<u64>,
    pub field: Option<String>,
    /// A stable name for the kind of problem, such as `foreign_key_violation`.
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, " {field}")?;
        }
        write!(f, ": {} ({})", self.message, self.code)
    }
}

/// Why a feed was refused: every problem found, up to [`MAX_PROBLEMS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

const AGENCY: &str = "agency.txt";
const STOPS: &str = "stops.txt";
const ROUTES: &str = "routes.txt";
const TRIPS: &str = "trips.txt";
const STOP_TIMES: &str = "stop_times.txt";
const CALENDAR: &str = "calendar.txt";
const CALENDAR_DATES: &str = "calendar_dates.txt";
/// Trips run by frequency: not read, so a feed with them is refused rather than shown with
/// only its template trips.
const FREQUENCIES: &str = "frequencies.txt";
/// The latest time of a service day we take, 72:00:00: later is a typo, not a bus.
const MAX_HOURS: u32 = 72;
/// The files we read; any other is ignored, and never inflated.
const FILES_READ: [&str; 7] = [
    AGENCY,
    STOPS,
    ROUTES,
    TRIPS,
    STOP_TIMES,
    CALENDAR,
    CALENDAR_DATES,
];
/// Problems with the zip or the feed as a whole.
const WHOLE_FEED: &str = "feed";

/// Reads a zipped feed: the files at the root of the zip, inflated within `limits`.
pub fn read_zip(bytes: &[u8], limits: &Limits) -> Result<Feed, Problems> {
    let refuse = |code, message: String| {
        Problems(vec![Problem {
            file: WHOLE_FEED.to_string(),
            line: None,
            field: None,
            code,
            message,
        }])
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| refuse("invalid_zip", format!("not a readable zip: {e}")))?;

    // First the headers: which entries we read, and whether what they declare fits.
    let mut wanted = Vec::new();
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| refuse("invalid_zip", format!("entry {index}: {e}")))?;
        let Ok(name) = entry.name() else { continue };
        // Only files at the root count; `FILES_READ` has no folder in it.
        if entry.is_file() && (FILES_READ.contains(&name.as_ref()) || name == FREQUENCIES) {
            declared = declared.saturating_add(entry.size());
            wanted.push((index, name.into_owned()));
        }
    }
    if declared > limits.max_uncompressed_bytes {
        return Err(refuse(
            "feed_too_large",
            format!(
                "the files declare {declared} bytes uncompressed, over the limit of {}",
                limits.max_uncompressed_bytes
            ),
        ));
    }

    // Then the bytes, counted as they inflate: the headers may lie.
    let mut budget = limits.max_uncompressed_bytes;
    let mut files = Vec::with_capacity(wanted.len());
    for (index, name) in wanted {
        let entry = archive
            .by_index(index)
            .map_err(|e| refuse("zip_entry_unreadable", format!("{name}: {e}")))?;
        let declared_size = entry.size();
        let content = match read_capped(entry, budget, declared_size) {
            Ok(Some(content)) => content,
            Ok(None) => {
                return Err(refuse(
                    "feed_too_large",
                    format!(
                        "{name} inflates past the limit of {} bytes",
                        limits.max_uncompressed_bytes
                    ),
                ));
            }
            Err(e) => return Err(refuse("zip_entry_unreadable", format!("{name}: {e}"))),
        };
        budget -= content.len() as u64;
        files.push((name, content));
    }
    let files: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(name, content)| (name.as_str(), content.as_slice()))
        .collect();
    read_files(&files, limits)
}

/// All of `reader`, or None if it has more than `budget` bytes; never reads more than one byte
/// past the budget, whatever `size_hint` (the size the zip declares) says.
fn read_capped(reader: impl Read, budget: u64, size_hint: u64) -> std::io::Result<Option<Vec<u8>>> {
    let capacity = usize::try_from(size_hint.min(budget)).unwrap_or(0);
    let mut content = Vec::with_capacity(capacity);
    reader
        .take(budget.saturating_add(1))
        .read_to_end(&mut content)?;
    if content.len() as u64 > budget {
        return Ok(None);
    }
    Ok(Some(content))
}

/// Reads a feed from its files, by name (`stops.txt`, …); names we do not read are ignored.
pub fn read_files(files: &[(&str, &[u8])], limits: &Limits) -> Result<Feed, Problems> {
    let mut problems = Collector::default();
    let mut by_name: HashMap<&str, &[u8]> = HashMap::new();
    let mut total: u64 = 0;
    for &(name, content) in files {
        if name == FREQUENCIES {
            problems.add(
                name,
                None,
                None,
                "frequencies_not_supported",
                "trips run by frequency are not read: give each trip's times in stop_times.txt"
                    .into(),
            );
            continue;
        }
        if !FILES_READ.contains(&name) {
            continue;
        }
        if by_name.insert(name, content).is_some() {
            problems.add(
                name,
                None,
                None,
                "duplicate_file",
                "the file is given twice".into(),
            );
        }
        total = total.saturating_add(content.len() as u64);
    }
    if total > limits.max_uncompressed_bytes {
        problems.add(
            WHOLE_FEED,
            None,
            None,
            "feed_too_large",
            format!(
                "the files hold {total} bytes, over the limit of {}",
                limits.max_uncompressed_bytes
            ),
        );
        return Err(problems.finish());
    }

    for name in [AGENCY, STOPS, ROUTES, TRIPS, STOP_TIMES] {
        if !by_name.contains_key(name) {
            problems.add(
                name,
                None,
                None,
                "missing_required_file",
                "the file is required".into(),
            );
        }
    }
    if !by_name.contains_key(CALENDAR) && !by_name.contains_key(CALENDAR_DATES) {
        problems.add(
            CALENDAR,
            None,
            None,
            "missing_required_file",
            "calendar.txt or calendar_dates.txt is required".into(),
        );
    }

    let mut reading = Reading {
        problems,
        limits: *limits,
        ..Reading::default()
    };
    let file = |name: &str| by_name.get(name).copied();
    if let Some(bytes) = file(AGENCY) {
        reading.agencies(bytes);
    }
    if let Some(bytes) = file(STOPS) {
        reading.stops(bytes);
    }
    if let Some(bytes) = file(ROUTES) {
        reading.routes(bytes);
    }
    if let Some(bytes) = file(TRIPS) {
        reading.trips(bytes);
    }
    if let Some(bytes) = file(STOP_TIMES) {
        reading.stop_times(bytes);
    }
    if let Some(bytes) = file(CALENDAR) {
        reading.calendars(bytes);
    }
    if let Some(bytes) = file(CALENDAR_DATES) {
        reading.calendar_dates(bytes);
    }
    reading.check_agencies();
    reading.check_stops();
    reading.check_routes();
    reading.check_trips();
    reading.check_stop_times();
    reading.into_feed()
}

/// Collects problems, keeping the first [`MAX_PROBLEMS`].
#[derive(Default)]
struct Collector {
    problems: Vec<Problem>,
    /// All that were found, listed or not.
    found: u64,
}

impl Collector {
    fn add(
        &mut self,
        file: &str,
        line: Option<u64>,
        field: Option<&str>,
        code: &'static str,
        message: String,
    ) {
        self.found += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                file: file.to_string(),
                line,
                field: field.map(str::to_string),
                code,
                message,
            });
        }
    }

    fn is_empty(&self) -> bool {
        self.found == 0
    }

    fn finish(mut self) -> Problems {
        let listed = self.problems.len() as u64;
        if self.found > listed {
            // The last place says how many went unlisted, itself included.
            self.problems.pop();
            let unlisted = self.found - listed + 1;
            self.problems.push(Problem {
                file: WHOLE_FEED.to_string(),
                line: None,
                field: None,
                code: "too_many_problems",
                message: format!("{unlisted} more problems are not listed"),
            });
        }
        Problems(self.problems)
    }
}

/// A row being read, for its problems.
struct At<'a> {
    problems: &'a mut Collector,
    file: &'static str,
    line: u64,
    /// Required columns absent from the file, said once for the file rather than on each row.
    missing_columns: &'a [&'static str],
    /// Whether the row had a problem; such a row is left out of the feed (its id still counts).
    faulty: bool,
}

impl At<'_> {
    fn problem(&mut self, field: &str, code: &'static str, message: String) {
        self.faulty = true;
        self.problems
            .add(self.file, Some(self.line), Some(field), code, message);
    }

    /// Says that a required field is empty, unless its whole column is missing.
    fn missing(&mut self, field: &'static str) {
        if self.missing_columns.contains(&field) {
            self.faulty = true;
        } else {
            self.problem(
                field,
                "missing_required_field",
                format!("{field} is required"),
            );
        }
    }

    fn required(&mut self, field: &'static str, value: Option<String>) -> Option<String> {
        if value.is_none() {
            self.missing(field);
        }
        value
    }

    /// An optional value read by `parse`; one it cannot read is a problem with `code`.
    fn parsed<T>(
        &mut self,
        field: &'static str,
        value: Option<&str>,
        code: &'static str,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let value = value?;
        let parsed = parse(value);
        if parsed.is_none() {
            self.problem(field, code, format!("{value:?} is not {expected}"));
        }
        parsed
    }

    fn required_parsed<T>(
        &mut self,
        field: &'static str,
        value: Option<&str>,
        code: &'static str,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        if value.is_none() {
            self.missing(field);
        }
        self.parsed(field, value, code, expected, parse)
    }

    /// Whether `id` was not seen before in this file; a repeat is a problem.
    fn first_time(&mut self, field: &'static str, id: &str, seen: &mut HashSet<String>) -> bool {
        if seen.insert(id.to_string()) {
            return true;
        }
        self.problem(field, "duplicate_key", format!("{id:?} is given twice"));
        false
    }
}

/// Reads one CSV file by its header names, calling `each_row` with each row that has as many
/// fields as the header.
fn read_table<Row: DeserializeOwned>(
    problems: &mut Collector,
    file: &'static str,
    bytes: &[u8],
    required_columns: &[&'static str],
    limits: &Limits,
    mut each_row: impl FnMut(&mut At<'_>, Row),
) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes);
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(e) => {
            problems.add(
                file,
                Some(1),
                None,
                csv_code(&e),
                format!("the header: {e}"),
            );
            return;
        }
    };
    let mut columns = HashSet::new();
    for column in &headers {
        if !columns.insert(column) {
            problems.add(
                file,
                Some(1),
                Some(column),
                "duplicate_column",
                format!("the column {column:?} is given twice"),
            );
            // Which of the two is meant cannot be told; the rows are not read.
            return;
        }
    }
    let missing_columns: Vec<&'static str> = required_columns
        .iter()
        .copied()
        .filter(|column| !columns.contains(column))
        .collect();
    for column in &missing_columns {
        problems.add(
            file,
            None,
            Some(column),
            "missing_required_column",
            format!("the column {column} is required"),
        );
    }

    let mut record = csv::StringRecord::new();
    let mut rows: u64 = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map(csv::Position::line);
                problems.add(file, line, None, csv_code(&e), e.to_string());
                // A bad UTF-8 row has been read past; anything else leaves the reader lost.
                if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    continue;
                }
                break;
            }
        }
        rows += 1;
        if rows > limits.max_rows_per_file {
            problems.add(
                file,
                None,
                None,
                "too_many_rows",
                format!("more than {} rows", limits.max_rows_per_file),
            );
            break;
        }
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != headers.len() {
            problems.add(
                file,
                Some(line),
                None,
                "wrong_field_count",
                format!("{} fields for {} columns", record.len(), headers.len()),
            );
            continue;
        }
        // Every field is an optional string, so this fails only on what csv itself refuses.
        let row: Row = match record.deserialize(Some(&headers)) {
            Ok(row) => row,
            Err(e) => {
                problems.add(file, Some(line), None, "invalid_csv", e.to_string());
                continue;
            }
        };
        let mut at = At {
            problems,
            file,
            line,
            missing_columns: &missing_columns,
            faulty: false,
        };
        each_row(&mut at, row);
    }
    if rows == 0 && [AGENCY, STOPS, ROUTES, TRIPS, STOP_TIMES].contains(&file) {
        problems.add(
            file,
            None,
            None,
            "empty_file",
            "the file has no rows".into(),
        );
    }
}

fn csv_code(error: &csv::Error) -> &'static str {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid_utf8",
        _ => "invalid_csv",
    }
}

// The rows as the files give them: every field an optional string, to be checked by hand.

#[derive(Deserialize)]
struct AgencyRow {
    agency_id: Option<String>,
    agency_name: Option<String>,
    agency_url: Option<String>,
    agency_timezone: Option<String>,
    agency_lang: Option<String>,
    agency_phone: Option<String>,
}

#[derive(Deserialize)]
struct StopRow {
    stop_id: Option<String>,
    stop_code: Option<String>,
    stop_name: Option<String>,
    stop_lat: Option<String>,
    stop_lon: Option<String>,
    location_type: Option<String>,
    parent_station: Option<String>,
}

#[derive(Deserialize)]
struct RouteRow {
    route_id: Option<String>,
    agency_id: Option<String>,
    route_short_name: Option<String>,
    route_long_name: Option<String>,
    route_type: Option<String>,
    route_color: Option<String>,
    route_text_color: Option<String>,
}

#[derive(Deserialize)]
struct TripRow {
    trip_id: Option<String>,
    route_id: Option<String>,
    service_id: Option<String>,
    trip_headsign: Option<String>,
    direction_id: Option<String>,
}

#[derive(Deserialize)]
struct StopTimeRow {
    trip_id: Option<String>,
    arrival_time: Option<String>,
    departure_time: Option<String>,
    stop_id: Option<String>,
    stop_sequence: Option<String>,
    pickup_type: Option<String>,
    drop_off_type: Option<String>,
    timepoint: Option<String>,
}

#[derive(Deserialize)]
struct CalendarRow {
    service_id: Option<String>,
    monday: Option<String>,
    tuesday: Option<String>,
    wednesday: Option<String>,
    thursday: Option<String>,
    friday: Option<String>,
    saturday: Option<String>,
    sunday: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
}

#[derive(Deserialize)]
struct CalendarDateRow {
    service_id: Option<String>,
    date: Option<String>,
    exception_type: Option<String>,
}

/// A feed being read: the rows that read well, each with its line, and every id seen (a faulty
/// row's too, so that a reference to it is not a second problem).
#[derive(Default)]
struct Reading {
    problems: Collector,
    limits: Limits,
    agencies: Vec<(u64, Agency)>,
    stops: Vec<(u64, Stop)>,
    routes: Vec<(u64, Route)>,
    trips: Vec<(u64, Trip)>,
    stop_times: Vec<(u64, StopTime)>,
    calendars: Vec<(u64, Calendar)>,
    calendar_dates: Vec<(u64, CalendarDate)>,
    agency_ids: HashSet<String>,
    stop_ids: HashSet<String>,
    route_ids: HashSet<String>,
    trip_ids: HashSet<String>,
    /// From calendar and calendar_dates both.
    service_ids: HashSet<String>,
    /// Trips with a faulty stop_time, whose order is not checked (it would mislead).
    trips_with_faulty_stop_times: HashSet<String>,
}

impl Reading {
    fn agencies(&mut self, bytes: &[u8]) {
        let Self {
            problems,
            limits,
            agencies,
            agency_ids,
            ..
        } = self;
        let required = ["agency_name", "agency_url", "agency_timezone"];
        read_table(
            problems,
            AGENCY,
            bytes,
            &required,
            limits,
            |at, row: AgencyRow| {
                if let Some(id) = &row.agency_id {
                    at.first_time("agency_id", id, agency_ids);
                }
                let name = at.required("agency_name", row.agency_name);
                let url = at.required("agency_url", row.agency_url);
                if let Some(url) = &url
                    && !is_url(url)
                {
                    at.problem(
                        "agency_url",
                        "invalid_url",
                        format!("{url:?} is not an http(s) URL"),
                    );
                }
                let timezone = at.required("agency_timezone", row.agency_timezone);
                if let Some(timezone) = &timezone
                    && !looks_like_timezone(timezone)
                {
                    at.problem(
                        "agency_timezone",
                        "invalid_timezone",
                        format!("{timezone:?} is not an IANA time zone name"),
                    );
                }
                if let (Some(agency_name), Some(agency_url), Some(agency_timezone), false) =
                    (name, url, timezone, at.faulty)
                {
                    agencies.push((
                        at.line,
                        Agency {
                            agency_id: row.agency_id,
                            agency_name,
                            agency_url,
                            agency_timezone,
                            agency_lang: row.agency_lang,
                            agency_phone: row.agency_phone,
                        },
                    ));
                }
            },
        );
    }

    fn stops(&mut self, bytes: &[u8]) {
        let Self {
            problems,
            limits,
            stops,
            stop_ids,
            ..
        } = self;
        read_table(
            problems,
            STOPS,
            bytes,
            &["stop_id"],
            limits,
            |at, row: StopRow| {
                let id = at.required("stop_id", row.stop_id);
                if let Some(id) = &id {
                    at.first_time("stop_id", id, stop_ids);
                }
                let location_type = at
                    .parsed(
                        "location_type",
                        row.location_type.as_deref(),
                        "invalid_value",
                        "0, 1, 2, 3 or 4",
                        LocationType::from_code,
                    )
                    .unwrap_or(LocationType::Stop);
                let lat = at.parsed(
                    "stop_lat",
                    row.stop_lat.as_deref(),
                    "invalid_number",
                    "a number",
                    parse_number,
                );
                let lon = at.parsed(
                    "stop_lon",
                    row.stop_lon.as_deref(),
                    "invalid_number",
                    "a number",
                    parse_number,
                );
                if let Some(lat) = lat
                    && !(-90.0..=90.0).contains(&lat)
                {
                    at.problem(
                        "stop_lat",
                        "coordinate_out_of_range",
                        format!("{lat} is not within -90..90"),
                    );
                }
                if let Some(lon) = lon
                    && !(-180.0..=180.0).contains(&lon)
                {
                    at.problem(
                        "stop_lon",
                        "coordinate_out_of_range",
                        format!("{lon} is not within -180..180"),
                    );
                }
                if location_type.is_on_the_map() {
                    if row.stop_name.is_none() {
                        at.missing("stop_name");
                    }
                    if row.stop_lat.is_none() {
                        at.missing("stop_lat");
                    }
                    if row.stop_lon.is_none() {
                        at.missing("stop_lon");
                    }
                }
                if let (Some(stop_id), false) = (id, at.faulty) {
                    stops.push((
                        at.line,
                        Stop {
                            stop_id,
                            stop_code: row.stop_code,
                            stop_name: row.stop_name,
                            stop_lat: lat,
                            stop_lon: lon,
                            location_type,
                            parent_station: row.parent_station,
                        },
                    ));
                }
            },
        );
    }

    fn routes(&mut self, bytes: &[u8]) {
        let Self {
            problems,
            limits,
            routes,
            route_ids,
            ..
        } = self;
        let required = ["route_id", "route_type"];
        read_table(
            problems,
            ROUTES,
            bytes,
            &required,
            limits,
            |at, row: RouteRow| {
                let id = at.required("route_id", row.route_id);
                if let Some(id) = &id {
                    at.first_time("route_id", id, route_ids);
                }
                let route_type = at.required_parsed(
                    "route_type",
                    row.route_type.as_deref(),
                    "invalid_route_type",
                    "a route type (0-7, 11, 12 or 100-1702)",
                    parse_route_type,
                );
                if row.route_short_name.is_none() && row.route_long_name.is_none() {
                    at.problem(
                        "route_short_name",
                        "missing_route_name",
                        "a route needs a short or a long name".into(),
                    );
                }
                for (field, color) in [
                    ("route_color", &row.route_color),
                    ("route_text_color", &row.route_text_color),
                ] {
                    if let Some(color) = color
                        && !is_color(color)
                    {
                        at.problem(
                            field,
                            "invalid_color",
                            format!("{color:?} is not six hex digits"),
                        );
                    }
                }
                if let (Some(route_id), Some(route_type), false) = (id, route_type, at.faulty) {
                    routes.push((
                        at.line,
                        Route {
                            route_id,
                            agency_id: row.agency_id,
                            route_short_name: row.route_short_name,
                            route_long_name: row.route_long_name,
                            route_type,
                            route_color: row.route_color,
                            route_text_color: row.route_text_color,
                        },
                    ));
                }
            },
        );
    }

    fn trips(&mut self, bytes: &[u8]) {
        let Self {
            problems,
            limits,
            trips,
            trip_ids,
            ..
        } = self;
        let required = ["route_id", "service_id", "trip_id"];
        read_table(
            problems,
            TRIPS,
            bytes,
            &required,
            limits,
            |at, row: TripRow| {
                let id = at.required("trip_id", row.trip_id);
                if let Some(id) = &id {
                    at.first_time("trip_id", id, trip_ids);
                }
                let route_id = at.required("route_id", row.route_id);
                let service_id = at.required("service_id", row.service_id);
                let direction_id = at.parsed(
                    "direction_id",
                    row.direction_id.as_deref(),
                    "invalid_value",
                    "0 or 1",
                    |value| match value {
                        "0" => Some(0),
                        "1" => Some(1),
                        _ => None,
                    },
                );
                if let (Some(trip_id), Some(route_id), Some(service_id), false) =
                    (id, route_id, service_id, at.faulty)
                {
                    trips.push((
                        at.line,
                        Trip {
                            trip_id,
                            route_id,
                            service_id,
                            trip_headsign: row.trip_headsign,
                            direction_id,
                        },
                    ));
                }
            },
        );
    }

    fn stop_times(&mut self, bytes: &[u8]) {
        let Self {
            problems,
            limits,
            stop_times,
            trips_with_faulty_stop_times,
            ..
        } = self;
        let required = ["trip_id", "stop_id", "stop_sequence"];
        read_table(
            problems,
            STOP_TIMES,
            bytes,
            &required,
            limits,
            |at, row: StopTimeRow| {
                let trip_id = at.required("trip_id", row.trip_id);
                let stop_id = at.required("stop_id", row.stop_id);
                let stop_sequence = at.required_parsed(
                    "stop_sequence",
                    row.stop_sequence.as_deref(),
                    "invalid_integer",
                    "a non-negative integer",
                    |value| value.parse::<u32>().ok(),
                );
                let time = "a time H:MM:SS or HH:MM:SS";
                let arrival = at.parsed(
                    "arrival_time",
                    row.arrival_time.as_deref(),
                    "invalid_time",
                    time,
                    parse_time,
                );
                let departure = at.parsed(
                    "departure_time",
                    row.departure_time.as_deref(),
                    "invalid_time",
                    time,
                    parse_time,
                );
                let pickup_drop_off = "0, 1, 2 or 3";
                let pickup_type = at
                    .parsed(
                        "pickup_type",
                        row.pickup_type.as_deref(),
                        "invalid_value",
                        pickup_drop_off,
                        PickupDropOff::from_code,
                    )
                    .unwrap_or(PickupDropOff::Regular);
                let drop_off_type = at
                    .parsed(
                        "drop_off_type",
                        row.drop_off_type.as_deref(),
                        "invalid_value",
                        pickup_drop_off,
                        PickupDropOff::from_code,
                    )
                    .unwrap_or(PickupDropOff::Regular);
                let timepoint = at.parsed(
                    "timepoint",
                    row.timepoint.as_deref(),
                    "invalid_value",
                    "0 or 1",
                    parse_flag,
                );

                match (&row.arrival_time, &row.departure_time) {
                    (Some(_), None) | (None, Some(_)) => at.problem(
                        if row.arrival_time.is_none() {
                            "arrival_time"
                        } else {
                            "departure_time"
                        },
                        "only_arrival_or_departure",
                        "a stop with a time needs both arrival_time and departure_time".into(),
                    ),
                    (None, None) if timepoint == Some(true) => at.problem(
                        "arrival_time",
                        "timepoint_without_time",
                        "timepoint is 1 but the stop has no times".into(),
                    ),
                    _ => {}
                }
                if let (Some(arrival), Some(departure)) = (arrival, departure)
                    && arrival > departure
                {
                    at.problem(
                        "departure_time",
                        "arrival_after_departure",
                        format!(
                            "departs at {} before it arrives at {}",
                            format_time(departure),
                            format_time(arrival)
                        ),
                    );
                }
                match (trip_id, stop_id, stop_sequence, at.faulty) {
                    (Some(trip_id), Some(stop_id), Some(stop_sequence), false) => {
                        stop_times.push((
                            at.line,
                            StopTime {
                                trip_id,
                                arrival_time: arrival,
                                departure_time: departure,
                                stop_id,
                                stop_sequence,
                                pickup_type,
                                drop_off_type,
                                timepoint,
                            },
                        ))
                    }
                    (Some(trip_id), ..) => {
                        trips_with_faulty_stop_times.insert(trip_id);
                    }
                    _ => {}
                }
            },
        );
    }

    fn calendars(&mut self, bytes: &[u8]) {
        let Self {
            problems,
            limits,
            calendars,
            service_ids,
            ..
        } = self;
        let required = [
            "service_id",
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
            "start_date",
            "end_date",
        ];
        // Unique within calendar.txt; calendar_dates may name the same services again.
        let mut seen = HashSet::new();
        read_table(
            problems,
            CALENDAR,
            bytes,
            &required,
            limits,
            |at, row: CalendarRow| {
                let id = at.required("service_id", row.service_id);
                if let Some(id) = &id {
                    at.first_time("service_id", id, &mut seen);
                    service_ids.insert(id.clone());
                }
                let mut day = |field, value: Option<String>| {
                    at.required_parsed(
                        field,
                        value.as_deref(),
                        "invalid_value",
                        "0 or 1",
                        parse_flag,
                    )
                    .unwrap_or(false)
                };
                let monday = day("monday", row.monday);
                let tuesday = day("tuesday", row.tuesday);
                let wednesday = day("wednesday", row.wednesday);
                let thursday = day("thursday", row.thursday);
                let friday = day("friday", row.friday);
                let saturday = day("saturday", row.saturday);
                let sunday = day("sunday", row.sunday);
                let date = "a date YYYYMMDD";
                let start = at.required_parsed(
                    "start_date",
                    row.start_date.as_deref(),
                    "invalid_date",
                    date,
                    parse_date,
                );
                let end = at.required_parsed(
                    "end_date",
                    row.end_date.as_deref(),
                    "invalid_date",
                    date,
                    parse_date,
                );
                if let (Some(start), Some(end)) = (start, end)
                    && end < start
                {
                    at.problem(
                        "end_date",
                        "end_before_start",
                        format!("ends on {end}, before it starts on {start}"),
                    );
                }
                if let (Some(service_id), Some(start_date), Some(end_date), false) =
                    (id, start, end, at.faulty)
                {
                    calendars.push((
                        at.line,
                        Calendar {
                            service_id,
                            monday,
                            tuesday,
                            wednesday,
                            thursday,
                            friday,
                            saturday,
                            sunday,
                            start_date,
                            end_date,
                        },
                    ));
                }
            },
        );
    }

    fn calendar_dates(&mut self, bytes: &[u8]) {
        let Self {
            problems,
            limits,
            calendar_dates,
            service_ids,
            ..
        } = self;
        let required = ["service_id", "date", "exception_type"];
        let mut seen = HashSet::new();
        read_table(
            problems,
            CALENDAR_DATES,
            bytes,
            &required,
            limits,
            |at, row: CalendarDateRow| {
                let id = at.required("service_id", row.service_id);
                if let Some(id) = &id {
                    service_ids.insert(id.clone());
                }
                let date = at.required_parsed(
                    "date",
                    row.date.as_deref(),
                    "invalid_date",
                    "a date YYYYMMDD",
                    parse_date,
                );
                let exception_type = at.required_parsed(
                    "exception_type",
                    row.exception_type.as_deref(),
                    "invalid_value",
                    "1 or 2",
                    |value| match value {
                        "1" => Some(ExceptionType::Added),
                        "2" => Some(ExceptionType::Removed),
                        _ => None,
                    },
                );
                if let (Some(id), Some(date)) = (&id, date) {
                    at.first_time("date", &format!("{id} on {date}"), &mut seen);
                }
                if let (Some(service_id), Some(date), Some(exception_type), false) =
                    (id, date, exception_type, at.faulty)
                {
                    calendar_dates.push((
                        at.line,
                        CalendarDate {
                            service_id,
                            date,
                            exception_type,
                        },
                    ));
                }
            },
        );
    }

    fn check_agencies(&mut self) {
        let several = self.agencies.len() > 1;
        let first_timezone = self
            .agencies
            .first()
            .map(|(_, a)| a.agency_timezone.clone());
        for (line, agency) in &self.agencies {
            if several && agency.agency_id.is_none() {
                self.problems.add(
                    AGENCY,
                    Some(*line),
                    Some("agency_id"),
                    "missing_required_field",
                    "agency_id is required when there is more than one agency".into(),
                );
            }
            if let Some(timezone) = &first_timezone
                && &agency.agency_timezone != timezone
            {
                self.problems.add(
                    AGENCY,
                    Some(*line),
                    Some("agency_timezone"),
                    "inconsistent_timezone",
                    format!(
                        "{:?} differs from the first agency's {timezone:?}; all agencies share one",
                        agency.agency_timezone
                    ),
                );
            }
        }
    }

    fn check_stops(&mut self) {
        let types: HashMap<&str, LocationType> = self
            .stops
            .iter()
            .map(|(_, s)| (s.stop_id.as_str(), s.location_type))
            .collect();
        for (line, stop) in &self.stops {
            let Some(parent) = &stop.parent_station else {
                if matches!(
                    stop.location_type,
                    LocationType::Entrance | LocationType::GenericNode | LocationType::BoardingArea
                ) {
                    self.problems.add(
                        STOPS,
                        Some(*line),
                        Some("parent_station"),
                        "missing_parent_station",
                        "an entrance, a node or a boarding area needs its parent_station".into(),
                    );
                }
                continue;
            };
            if stop.location_type == LocationType::Station {
                self.problems.add(
                    STOPS,
                    Some(*line),
                    Some("parent_station"),
                    "station_with_parent",
                    "a station has no parent_station".into(),
                );
                continue;
            }
            if !self.stop_ids.contains(parent) {
                self.problems.add(
                    STOPS,
                    Some(*line),
                    Some("parent_station"),
                    "foreign_key_violation",
                    format!("no stop {parent:?} in stops.txt"),
                );
                continue;
            }
            let wanted = match stop.location_type {
                LocationType::BoardingArea => LocationType::Stop,
                _ => LocationType::Station,
            };
            if let Some(&parent_type) = types.get(parent.as_str())
                && parent_type != wanted
            {
                self.problems.add(
                    STOPS,
                    Some(*line),
                    Some("parent_station"),
                    "wrong_parent_location_type",
                    format!("the parent {parent:?} is a {parent_type:?}, not a {wanted:?}"),
                );
            }
        }
    }

    fn check_routes(&mut self) {
        let several = self.agencies.len() > 1;
        for (line, route) in &self.routes {
            match &route.agency_id {
                None if several => self.problems.add(
                    ROUTES,
                    Some(*line),
                    Some("agency_id"),
                    "missing_required_field",
                    "agency_id is required when there is more than one agency".into(),
                ),
                Some(agency_id) if !self.agency_ids.contains(agency_id) => self.problems.add(
                    ROUTES,
                    Some(*line),
                    Some("agency_id"),
                    "foreign_key_violation",
                    format!("no agency {agency_id:?} in agency.txt"),
                ),
                _ => {}
            }
        }
    }

    fn check_trips(&mut self) {
        for (line, trip) in &self.trips {
            if !self.route_ids.contains(&trip.route_id) {
                self.problems.add(
                    TRIPS,
                    Some(*line),
                    Some("route_id"),
                    "foreign_key_violation",
                    format!("no route {:?} in routes.txt", trip.route_id),
                );
            }
            if !self.service_ids.contains(&trip.service_id) {
                self.problems.add(
                    TRIPS,
                    Some(*line),
                    Some("service_id"),
                    "foreign_key_violation",
                    format!(
                        "no service {:?} in calendar.txt or calendar_dates.txt",
                        trip.service_id
                    ),
                );
            }
        }
    }

    fn check_stop_times(&mut self) {
        let types: HashMap<&str, LocationType> = self
            .stops
            .iter()
            .map(|(_, s)| (s.stop_id.as_str(), s.location_type))
            .collect();
        for (line, stop_time) in &self.stop_times {
            if !self.trip_ids.contains(&stop_time.trip_id) {
                self.problems.add(
                    STOP_TIMES,
                    Some(*line),
                    Some("trip_id"),
                    "foreign_key_violation",
                    format!("no trip {:?} in trips.txt", stop_time.trip_id),
                );
            }
            if !self.stop_ids.contains(&stop_time.stop_id) {
                self.problems.add(
                    STOP_TIMES,
                    Some(*line),
                    Some("stop_id"),
                    "foreign_key_violation",
                    format!("no stop {:?} in stops.txt", stop_time.stop_id),
                );
            } else if let Some(&location_type) = types.get(stop_time.stop_id.as_str())
                && location_type != LocationType::Stop
            {
                self.problems.add(
                    STOP_TIMES,
                    Some(*line),
                    Some("stop_id"),
                    "wrong_stop_location_type",
                    format!(
                        "{:?} is a {location_type:?}; a trip calls at stops (location_type 0)",
                        stop_time.stop_id
                    ),
                );
            }
        }

        self.stop_times.sort_by(|(_, a), (_, b)| {
            (a.trip_id.as_str(), a.stop_sequence).cmp(&(b.trip_id.as_str(), b.stop_sequence))
        });
        let mut stop_time_counts: HashMap<&str, usize> = HashMap::new();
        for trip in self
            .stop_times
            .chunk_by(|(_, a), (_, b)| a.trip_id == b.trip_id)
        {
            let trip_id = trip[0].1.trip_id.as_str();
            stop_time_counts.insert(trip_id, trip.len());
            if self.trips_with_faulty_stop_times.contains(trip_id) {
                continue;
            }
            check_trip_order(&mut self.problems, trip);
        }
        for (line, trip) in &self.trips {
            let count = stop_time_counts
                .get(trip.trip_id.as_str())
                .copied()
                .unwrap_or(0);
            if count < 2 && !self.trips_with_faulty_stop_times.contains(&trip.trip_id) {
                self.problems.add(
                    TRIPS,
                    Some(*line),
                    Some("trip_id"),
                    "too_few_stop_times",
                    format!("the trip has {count} stop_times; it needs at least two"),
                );
            }
        }
    }

    fn into_feed(self) -> Result<Feed, Problems> {
        if !self.problems.is_empty() {
            return Err(self.problems.finish());
        }
        let timezone = self
            .agencies
            .first()
            .map(|(_, a)| a.agency_timezone.clone())
            .unwrap_or_default();
        Ok(Feed {
            agencies: rows(self.agencies),
            stops: rows(self.stops),
            routes: rows(self.routes),
            trips: rows(self.trips),
            stop_times: rows(self.stop_times),
            calendars: rows(self.calendars),
            calendar_dates: rows(self.calendar_dates),
            timezone,
        })
    }
}

/// The rows without the lines they were read from.
fn rows<T>(lined: Vec<(u64, T)>) -> Vec<T> {
    lined.into_iter().map(|(_, row)| row).collect()
}

/// One trip's stop_times, sorted by stop_sequence: a sequence given once, times at both ends,
/// and times that never go back.
fn check_trip_order(problems: &mut Collector, trip: &[(u64, StopTime)]) {
    let mut previous: Option<&StopTime> = None;
    // The last time the vehicle was seen at, skipping stops without times.
    let mut last_time: Option<u32> = None;
    for (i, (line, stop_time)) in trip.iter().enumerate() {
        let line = Some(*line);
        if let Some(previous) = previous
            && previous.stop_sequence == stop_time.stop_sequence
        {
            problems.add(
                STOP_TIMES,
                line,
                Some("stop_sequence"),
                "duplicate_stop_sequence",
                format!(
                    "trip {:?} has stop_sequence {} twice",
                    stop_time.trip_id, stop_time.stop_sequence
                ),
            );
        }
        previous = Some(stop_time);

        let at_an_end = i == 0 || i == trip.len() - 1;
        if at_an_end && (stop_time.arrival_time.is_none() || stop_time.departure_time.is_none()) {
            problems.add(
                STOP_TIMES,
                line,
                Some(if stop_time.arrival_time.is_none() {
                    "arrival_time"
                } else {
                    "departure_time"
                }),
                "missing_trip_edge_time",
                format!(
                    "the {} stop of trip {:?} needs its arrival and departure times",
                    if i == 0 { "first" } else { "last" },
                    stop_time.trip_id
                ),
            );
        }

        if let Some(arrival) = stop_time.arrival_time.or(stop_time.departure_time)
            && let Some(last) = last_time
            && arrival < last
        {
            problems.add(
                STOP_TIMES,
                line,
                Some("arrival_time"),
                "decreasing_time",
                format!(
                    "trip {:?} arrives at {} after leaving the stop before at {}",
                    stop_time.trip_id,
                    format_time(arrival),
                    format_time(last)
                ),
            );
        }
        last_time = stop_time
            .departure_time
            .or(stop_time.arrival_time)
            .or(last_time);
    }
}

/// "H:MM:SS" or "HH:MM:SS", the hours possibly past 24, as seconds.
fn parse_time(text: &str) -> Option<u32> {
    let mut parts = text.split(':');
    let (hours, minutes, seconds) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || hours.is_empty() || minutes.len() != 2 || seconds.len() != 2 {
        return None;
    }
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if !(digits(hours) && digits(minutes) && digits(seconds)) {
        return None;
    }
    let (hours, minutes, seconds): (u32, u32, u32) = (
        hours.parse().ok()?,
        minutes.parse().ok()?,
        seconds.parse().ok()?,
    );
    if minutes > 59 || seconds > 59 {
        return None;
    }
    let time = hours
        .checked_mul(3600)?
        .checked_add(minutes * 60 + seconds)?;
    (time <= MAX_HOURS * 3600).then_some(time)
}

/// A time as the feed writes it, for messages.
fn format_time(seconds: u32) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// "YYYYMMDD".
fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = text[0..4].parse().ok()?;
    let month = text[4..6].parse().ok()?;
    let day = text[6..8].parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn parse_flag(text: &str) -> Option<bool> {
    match text {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// A finite decimal number (Rust would also take "NaN" and "inf").
fn parse_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// The basic route types, and the extended ones taken as a range.
fn parse_route_type(text: &str) -> Option<u16> {
    let route_type: u16 = text.parse().ok()?;
    match route_type {
        0..=7 | 11 | 12 | 100..=1702 => Some(route_type),
        _ => None,
    }
}

fn is_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["http://", "https://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
}

fn is_color(text: &str) -> bool {
    text.len() == 6 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `Area/Place[/More]` or a single name such as `UTC`, in the characters tzdb uses.
fn looks_like_timezone(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const AGENCY_TXT: &str = "agency_id,agency_name,agency_url,agency_timezone,agency_lang\n\
        HUE,Xe buýt Huế,https://example.vn,Asia/Ho_Chi_Minh,vi\n";
    const STOPS_TXT: &str = "stop_id,stop_code,stop_name,stop_lat,stop_lon,location_type,parent_station\n\
        STA,,Bến xe phía Bắc,16.4922,107.5706,1,\n\
        A,101,\"Bến xe phía Bắc, cổng chính\",16.4920,107.5708,0,STA\n\
        B,102,Chợ Đông Ba,16.4728,107.5877,,\n\
        C,103,Ga Huế,16.4565,107.5771,0,\n";
    const ROUTES_TXT: &str = "route_id,agency_id,route_short_name,route_long_name,route_type,route_color,route_text_color\n\
        R1,HUE,1,Bến xe phía Bắc - Ga Huế,3,0055A4,FFFFFF\n";
    const TRIPS_TXT: &str = "route_id,service_id,trip_id,trip_headsign,direction_id,shape_id\n\
        R1,WD,T1,Ga Huế,0,S1\n\
        R1,WE,T2,Ga Huế,0,S1\n";
    const STOP_TIMES_TXT: &str = "trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type,drop_off_type,timepoint\n\
        T1,06:00:00,06:00:00,A,1,0,1,1\n\
        T1,,,B,2,,,0\n\
        T1,6:20:00,06:21:00,C,3,1,0,1\n\
        T2,23:50:00,23:50:00,A,1,,,\n\
        T2,24:05:00,24:06:30,B,5,,,\n\
        T2,25:10:00,25:10:00,C,9,,,\n";
    const CALENDAR_TXT: &str = "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n\
        WD,1,1,1,1,1,0,0,20260101,20271231\n\
        WE,0,0,0,0,0,1,1,20260101,20271231\n";
    const CALENDAR_DATES_TXT: &str = "service_id,date,exception_type\n\
        WD,20270430,2\n\
        WE,20270430,1\n";

    fn valid_files() -> Vec<(&'static str, String)> {
        vec![
            (AGENCY, AGENCY_TXT.to_string()),
            (STOPS, STOPS_TXT.to_string()),
            (ROUTES, ROUTES_TXT.to_string()),
            (TRIPS, TRIPS_TXT.to_string()),
            (STOP_TIMES, STOP_TIMES_TXT.to_string()),
            (CALENDAR, CALENDAR_TXT.to_string()),
            (CALENDAR_DATES, CALENDAR_DATES_TXT.to_string()),
        ]
    }

    fn read(files: &[(&'static str, String)]) -> Result<Feed, Problems> {
        let files: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_bytes())).collect();
        read_files(&files, &Limits::default())
    }

    /// The valid feed with one file replaced (or, given None, left out).
    fn with(name: &'static str, content: Option<&str>) -> Vec<(&'static str, String)> {
        let mut files: Vec<_> = valid_files()
            .into_iter()
            .filter(|(n, _)| *n != name)
            .collect();
        if let Some(content) = content {
            files.push((name, content.to_string()));
        }
        files
    }

    fn codes(files: &[(&'static str, String)]) -> Vec<&'static str> {
        match read(files) {
            Ok(_) => Vec::new(),
            Err(Problems(problems)) => problems.iter().map(|p| p.code).collect(),
        }
    }

    /// Asserts that `files` break the rule reported as `code`, and no other (a reference to a
    /// row left out for it aside).
    fn breaks(code: &str, files: Vec<(&'static str, String)>) {
        let found = codes(&files);
        let only_it = found
            .iter()
            .all(|c| *c == code || *c == "foreign_key_violation");
        assert!(
            found.contains(&code) && only_it,
            "expected {code}, found {found:?}"
        );
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in files {
            writer.start_file(*name, options).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn a_valid_feed_reads() {
        let feed = read(&valid_files()).unwrap();
        assert_eq!(feed.timezone, "Asia/Ho_Chi_Minh");
        assert_eq!(feed.agencies.len(), 1);
        assert_eq!(feed.agencies[0].agency_lang.as_deref(), Some("vi"));
        assert_eq!(feed.stops.len(), 4);
        let a = &feed.stops[1];
        assert_eq!(a.stop_name.as_deref(), Some("Bến xe phía Bắc, cổng chính"));
        assert_eq!(a.parent_station.as_deref(), Some("STA"));
        assert_eq!(a.stop_code.as_deref(), Some("101"));
        assert_eq!(feed.stops[0].location_type, LocationType::Station);
        assert_eq!(feed.stops[2].location_type, LocationType::Stop);
        assert_eq!(feed.routes[0].route_type, 3);
        assert_eq!(feed.routes[0].route_color.as_deref(), Some("0055A4"));
        assert_eq!(feed.trips[0].direction_id, Some(0));
        assert_eq!(feed.stop_times.len(), 6);
        let t1: Vec<&StopTime> = feed
            .stop_times
            .iter()
            .filter(|s| s.trip_id == "T1")
            .collect();
        assert_eq!(t1[0].arrival_time, Some(6 * 3600));
        assert_eq!(t1[0].drop_off_type, PickupDropOff::NotAvailable);
        // An intermediate stop without times is kept as it is.
        assert_eq!(t1[1].arrival_time, None);
        assert_eq!(t1[1].timepoint, Some(false));
        assert_eq!(t1[2].arrival_time, Some(6 * 3600 + 20 * 60));
        assert_eq!(t1[2].departure_time, Some(6 * 3600 + 21 * 60));
        assert_eq!(feed.calendars[0].start_date, date(2026, 1, 1));
        assert_eq!(
            feed.calendar_dates[0].exception_type,
            ExceptionType::Removed
        );
    }

    #[test]
    fn trips_by_frequency_are_refused_not_shown_as_one_trip() {
        let mut files = valid_files();
        files.push((
            FREQUENCIES,
            "trip_id,start_time,end_time,headway_secs\nT1,06:00:00,09:00:00,600\n".to_string(),
        ));
        assert_eq!(codes(&files), ["frequencies_not_supported"]);
    }

    #[test]
    fn times_past_midnight_count_on() {
        let feed = read(&valid_files()).unwrap();
        let t2: Vec<&StopTime> = feed
            .stop_times
            .iter()
            .filter(|s| s.trip_id == "T2")
            .collect();
        assert_eq!(t2[1].arrival_time, Some(24 * 3600 + 5 * 60));
        assert_eq!(t2[1].departure_time, Some(24 * 3600 + 6 * 60 + 30));
        assert_eq!(t2[2].arrival_time, Some(25 * 3600 + 10 * 60));
        assert_eq!(parse_time("7:05:09"), Some(7 * 3600 + 5 * 60 + 9));
        assert_eq!(parse_time("72:00:00"), Some(72 * 3600));
        for bad in [
            "72:01:00",
            "100:00:00",
            "999999:00:00",
            "07:5:00",
            "07:60:00",
            "07:00:60",
            "07:00",
            "a7:00:00",
            ":00:00",
            "-1:00:00",
            "07:00:00:00",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        assert_eq!(format_time(25 * 3600 + 10 * 60), "25:10:00");
    }

    #[test]
    fn a_zip_reads_like_its_files() {
        let files = valid_files();
        let mut entries: Vec<(&str, &[u8])> =
            files.iter().map(|(n, c)| (*n, c.as_bytes())).collect();
        // Files in a folder, and files we do not read, are ignored.
        entries.push(("old/stops.txt", b"not,a,feed\n"));
        entries.push(("shapes.txt", b"shape_id\nS1\n"));
        entries.push(("feed_info.txt", b"feed_publisher_name\nHue\n"));
        let zipped = zip_of(&entries);
        assert_eq!(read_zip(&zipped, &Limits::default()), read(&files));
        assert!(read_zip(&zipped, &Limits::default()).is_ok());
    }

    #[test]
    fn not_a_zip_is_refused() {
        let Problems(problems) =
            read_zip(b"agency_id,agency_name\n", &Limits::default()).unwrap_err();
        assert_eq!(problems[0].code, "invalid_zip");
    }

    #[test]
    fn a_bom_and_columns_in_any_order_are_read() {
        // Also CRLF line ends, a blank line and a quoted field over two lines.
        let stops = "\u{FEFF}stop_lon , stop_name,stop_id,extra_column,stop_lat\r\n\
            107.5708,Bến xe phía Bắc,A,x,16.4920\r\n\
            \r\n\
            107.5877,Chợ Đông Ba,B,\"y\r\nz\",16.4728\r\n\
            107.5771,\"Ga \"\"Huế\"\"\",C,z,16.4565\r\n\
            107.5706,Bến xe phía Bắc (ga),STA,,16.4922\r\n";
        let agency = format!("\u{FEFF}{AGENCY_TXT}");
        let mut files = with(STOPS, Some(stops));
        files.retain(|(n, _)| *n != AGENCY);
        files.push((AGENCY, agency));
        let feed = read(&files).unwrap();
        let b = feed.stops.iter().find(|s| s.stop_id == "B").unwrap();
        assert_eq!(b.stop_name.as_deref(), Some("Chợ Đông Ba"));
        assert_eq!(b.stop_lat, Some(16.4728));
        assert_eq!(b.stop_lon, Some(107.5877));
        let c = feed.stops.iter().find(|s| s.stop_id == "C").unwrap();
        assert_eq!(c.stop_name.as_deref(), Some("Ga \"Huế\""));
        assert_eq!(feed.agencies[0].agency_id.as_deref(), Some("HUE"));
    }

    #[test]
    fn services_run_by_weekday_less_holidays_plus_added_days() {
        let feed = read(&valid_files()).unwrap();
        // Friday 30 April 2027: the weekday service is removed, the weekend one added.
        assert_eq!(feed.services_on(date(2027, 4, 30)), HashSet::from(["WE"]));
        assert_eq!(feed.services_on(date(2027, 4, 29)), HashSet::from(["WD"]));
        assert_eq!(feed.services_on(date(2027, 5, 1)), HashSet::from(["WE"]));
        // Outside the calendar's dates nothing runs.
        assert!(feed.services_on(date(2028, 1, 3)).is_empty());
        assert!(feed.services_on(date(2025, 12, 31)).is_empty());
        assert_eq!(feed.services_on(date(2026, 1, 1)), HashSet::from(["WD"]));
    }

    /// Each rule, broken once, with the code it is reported under.
    #[test]
    fn each_rule_has_its_code() {
        let agency_header = "agency_id,agency_name,agency_url,agency_timezone\n";
        let stops_header = "stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station\n";
        let stops_abc = "A,a,16.49,107.57,,\nB,b,16.47,107.58,,\nC,c,16.45,107.57,,\n";
        let routes_header = "route_id,agency_id,route_short_name,route_long_name,route_type\n";
        let trips_header = "route_id,service_id,trip_id\n";
        let times_header = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n";
        let calendar_header = "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n";
        let two_times = |rows: &str| {
            format!("{times_header}T2,23:50:00,23:50:00,A,1\nT2,24:05:00,24:05:00,C,2\n{rows}")
        };
        breaks("missing_required_file", with(STOPS, None));
        breaks("missing_required_file", {
            let mut files = with(CALENDAR, None);
            files.retain(|(n, _)| *n != CALENDAR_DATES);
            files
        });
        breaks("empty_file", with(AGENCY, Some(agency_header)));
        breaks(
            "missing_required_column",
            with(ROUTES, Some("route_id,route_short_name\nR1,1\n")),
        );
        breaks(
            "missing_required_field",
            with(
                AGENCY,
                Some(&format!(
                    "{agency_header}HUE,,https://x.vn,Asia/Ho_Chi_Minh\n"
                )),
            ),
        );
        breaks(
            "invalid_url",
            with(
                AGENCY,
                Some(&format!(
                    "{agency_header}HUE,Huế,www.x.vn,Asia/Ho_Chi_Minh\n"
                )),
            ),
        );
        breaks(
            "invalid_timezone",
            with(
                AGENCY,
                Some(&format!("{agency_header}HUE,Huế,https://x.vn,UTC+07:00\n")),
            ),
        );
        breaks(
            "inconsistent_timezone",
            with(
                AGENCY,
                Some(&format!(
                    "{agency_header}HUE,Huế,https://x.vn,Asia/Ho_Chi_Minh\nDN,Đà Nẵng,https://y.vn,Asia/Bangkok\n"
                )),
            ),
        );
        // A second agency makes agency_id required, in agency.txt and routes.txt.
        breaks(
            "missing_required_field",
            with(
                AGENCY,
                Some(&format!(
                    "{agency_header}HUE,Huế,https://x.vn,Asia/Ho_Chi_Minh\n,Đà Nẵng,https://y.vn,Asia/Ho_Chi_Minh\n"
                )),
            ),
        );
        breaks("missing_required_field", with(ROUTES, Some(&format!("{routes_header}R1,,1,,3\n")))
                .into_iter()
                .filter(|(n, _)| *n != AGENCY)
                .chain([(AGENCY, format!(
                    "{agency_header}HUE,Huế,https://x.vn,Asia/Ho_Chi_Minh\nDN,Đà Nẵng,https://y.vn,Asia/Ho_Chi_Minh\n"
                ))])
                .collect());
        breaks(
            "foreign_key_violation",
            with(ROUTES, Some(&format!("{routes_header}R1,DANANG,1,,3\n"))),
        );
        breaks(
            "duplicate_key",
            with(
                ROUTES,
                Some(&format!("{routes_header}R1,HUE,1,,3\nR1,HUE,2,,3\n")),
            ),
        );
        breaks(
            "duplicate_key",
            with(
                STOPS,
                Some(&format!("{stops_header}{stops_abc}A,a2,16.4,107.5,,\n")),
            ),
        );
        breaks(
            "duplicate_key",
            with(
                TRIPS,
                Some(&format!("{trips_header}R1,WD,T1\nR1,WD,T1\nR1,WE,T2\n")),
            ),
        );
        breaks(
            "duplicate_key",
            with(
                CALENDAR,
                Some(&format!(
                    "{calendar_header}WD,1,1,1,1,1,0,0,20260101,20271231\n\
                    WD,1,1,1,1,1,0,0,20260101,20271231\n\
                    WE,0,0,0,0,0,1,1,20260101,20271231\n"
                )),
            ),
        );
        breaks(
            "duplicate_key",
            with(
                CALENDAR_DATES,
                Some("service_id,date,exception_type\nWD,20270430,2\nWD,20270430,2\n"),
            ),
        );
        breaks(
            "invalid_route_type",
            with(ROUTES, Some(&format!("{routes_header}R1,HUE,1,,8\n"))),
        );
        breaks(
            "invalid_route_type",
            with(ROUTES, Some(&format!("{routes_header}R1,HUE,1,,1800\n"))),
        );
        breaks(
            "missing_route_name",
            with(ROUTES, Some(&format!("{routes_header}R1,HUE,,,3\n"))),
        );
        breaks(
            "invalid_color",
            with(
                ROUTES,
                Some("route_id,route_short_name,route_type,route_color\nR1,1,3,#0055A4\n"),
            ),
        );
        breaks(
            "missing_required_field",
            with(
                STOPS,
                Some(&format!("{stops_header}{stops_abc}D,d,,107.5,0,\n")),
            ),
        );
        breaks(
            "missing_required_field",
            with(
                STOPS,
                Some(&format!("{stops_header}{stops_abc}D,,16.4,107.5,,\n")),
            ),
        );
        breaks(
            "coordinate_out_of_range",
            with(
                STOPS,
                Some(&format!("{stops_header}{stops_abc}D,d,96.4,107.5,,\n")),
            ),
        );
        breaks(
            "coordinate_out_of_range",
            with(
                STOPS,
                Some(&format!("{stops_header}{stops_abc}D,d,16.4,187.5,,\n")),
            ),
        );
        breaks(
            "invalid_number",
            with(
                STOPS,
                Some(&format!("{stops_header}{stops_abc}D,d,NaN,107.5,,\n")),
            ),
        );
        breaks(
            "invalid_value",
            with(
                STOPS,
                Some(&format!("{stops_header}{stops_abc}D,d,16.4,107.5,7,\n")),
            ),
        );
        breaks(
            "foreign_key_violation",
            with(
                STOPS,
                Some(&format!(
                    "{stops_header}{stops_abc}D,d,16.4,107.5,0,NOWHERE\n"
                )),
            ),
        );
        breaks(
            "station_with_parent",
            with(
                STOPS,
                Some(&format!(
                    "{stops_header}{stops_abc}S,s,16.4,107.5,1,\nS2,s2,16.4,107.5,1,S\n"
                )),
            ),
        );
        breaks(
            "missing_parent_station",
            with(
                STOPS,
                Some(&format!("{stops_header}{stops_abc}E,e,16.4,107.5,2,\n")),
            ),
        );
        breaks(
            "wrong_parent_location_type",
            with(
                STOPS,
                Some(&format!("{stops_header}{stops_abc}D,d,16.4,107.5,0,A\n")),
            ),
        );
        breaks(
            "wrong_stop_location_type",
            with(
                STOPS,
                Some(&format!(
                    "{stops_header}B,b,16.47,107.58,,\nC,c,16.45,107.57,,\nA,a,16.49,107.57,1,\n"
                )),
            ),
        );
        breaks(
            "foreign_key_violation",
            with(TRIPS, Some(&format!("{trips_header}R9,WD,T1\nR1,WE,T2\n"))),
        );
        breaks(
            "foreign_key_violation",
            with(
                TRIPS,
                Some(&format!("{trips_header}R1,HOLIDAY,T1\nR1,WE,T2\n")),
            ),
        );
        breaks(
            "foreign_key_violation",
            with(
                STOP_TIMES,
                Some(&two_times(
                    "T1,06:00:00,06:00:00,A,1\nT1,06:10:00,06:10:00,Z,2\n",
                )),
            ),
        );
        breaks(
            "foreign_key_violation",
            with(
                STOP_TIMES,
                Some(&two_times(
                    "T1,06:00:00,06:00:00,A,1\nT1,06:10:00,06:10:00,B,2\nT9,06:00:00,06:00:00,A,1\n",
                )),
            ),
        );
        breaks(
            "duplicate_stop_sequence",
            with(
                STOP_TIMES,
                Some(&two_times(
                    "T1,06:00:00,06:00:00,A,1\nT1,06:10:00,06:10:00,B,1\n",
                )),
            ),
        );
        breaks(
            "arrival_after_departure",
            with(
                STOP_TIMES,
                Some(&two_times(
                    "T1,06:00:00,06:00:00,A,1\nT1,06:10:00,06:09:00,B,2\n",
                )),
            ),
        );
        breaks(
            "decreasing_time",
            with(
                STOP_TIMES,
                Some(&two_times(
                    "T1,06:00:00,06:05:00,A,1\nT1,,,B,2\nT1,06:04:00,06:04:00,C,3\n",
                )),
            ),
        );
        breaks(
            "missing_trip_edge_time",
            with(
                STOP_TIMES,
                Some(&two_times("T1,06:00:00,06:00:00,A,1\nT1,,,B,2\n")),
            ),
        );
        breaks(
            "only_arrival_or_departure",
            with(
                STOP_TIMES,
                Some(&two_times(
                    "T1,06:00:00,06:00:00,A,1\nT1,06:05:00,,B,2\nT1,06:10:00,06:10:00,C,3\n",
                )),
            ),
        );
        breaks(
            "timepoint_without_time",
            with(
                STOP_TIMES,
                Some(
                    "trip_id,arrival_time,departure_time,stop_id,stop_sequence,timepoint\n\
                    T2,23:50:00,23:50:00,A,1,\nT2,24:05:00,24:05:00,C,2,\n\
                    T1,06:00:00,06:00:00,A,1,1\nT1,,,B,2,1\nT1,06:10:00,06:10:00,C,3,1\n",
                ),
            ),
        );
        breaks(
            "too_few_stop_times",
            with(STOP_TIMES, Some(&two_times("T1,06:00:00,06:00:00,A,1\n"))),
        );
        breaks(
            "invalid_time",
            with(
                STOP_TIMES,
                Some(&two_times(
                    "T1,06:00:00,06:00:00,A,1\nT1,6:0:00,06:10:00,B,2\n",
                )),
            ),
        );
        breaks(
            "invalid_integer",
            with(
                STOP_TIMES,
                Some(&two_times(
                    "T1,06:00:00,06:00:00,A,1\nT1,06:10:00,06:10:00,B,-2\n",
                )),
            ),
        );
        breaks(
            "invalid_date",
            with(
                CALENDAR,
                Some(&format!(
                    "{calendar_header}WD,1,1,1,1,1,0,0,20260230,20271231\nWE,0,0,0,0,0,1,1,20260101,20271231\n"
                )),
            ),
        );
        breaks(
            "invalid_value",
            with(
                CALENDAR,
                Some(&format!(
                    "{calendar_header}WD,1,1,1,1,yes,0,0,20260101,20271231\nWE,0,0,0,0,0,1,1,20260101,20271231\n"
                )),
            ),
        );
        breaks(
            "end_before_start",
            with(
                CALENDAR,
                Some(&format!(
                    "{calendar_header}WD,1,1,1,1,1,0,0,20271231,20260101\nWE,0,0,0,0,0,1,1,20260101,20271231\n"
                )),
            ),
        );
        breaks(
            "invalid_value",
            with(
                CALENDAR_DATES,
                Some("service_id,date,exception_type\nWD,20270430,3\n"),
            ),
        );
        breaks(
            "wrong_field_count",
            with(ROUTES, Some(&format!("{routes_header}R1,HUE,1,,3,extra\n"))),
        );
        breaks(
            "duplicate_column",
            with(
                ROUTES,
                Some("route_id,route_type,route_short_name,route_type\nR1,3,1,3\n"),
            ),
        );

        // A file that is not UTF-8 cannot be written as a str.
        let mut routes = b"route_id,route_short_name,route_type\nR1,".to_vec();
        routes.extend_from_slice(b"\xC3\x28,3\n");
        let files = valid_files();
        let mut entries: Vec<(&str, &[u8])> = files
            .iter()
            .filter(|(n, _)| *n != ROUTES)
            .map(|(n, c)| (*n, c.as_bytes()))
            .collect();
        entries.push((ROUTES, &routes));
        let Problems(problems) = read_files(&entries, &Limits::default()).unwrap_err();
        assert_eq!(problems[0].code, "invalid_utf8");
        assert_eq!(problems[0].line, Some(2));
    }

    #[test]
    fn problems_say_where_they_are() {
        let stops = "stop_id,stop_name,stop_lat,stop_lon\n\
            A,a,16.49,107.57\nB,b,96,107.58\nC,c,16.45,107.57\n";
        let Problems(problems) = read(&with(STOPS, Some(stops))).unwrap_err();
        assert_eq!(problems.len(), 1);
        let problem = &problems[0];
        assert_eq!(problem.file, "stops.txt");
        assert_eq!(problem.line, Some(3));
        assert_eq!(problem.field.as_deref(), Some("stop_lat"));
        assert_eq!(problem.code, "coordinate_out_of_range");
        assert_eq!(
            problem.to_string(),
            "stops.txt:3 stop_lat: 96 is not within -90..90 (coordinate_out_of_range)"
        );
    }

    #[test]
    fn a_column_missing_is_said_once() {
        let found = codes(&with(
            STOPS,
            Some("stop_name,stop_lat,stop_lon\na,16.49,107.57\nb,16.47,107.58\n"),
        ));
        assert_eq!(
            found
                .iter()
                .filter(|c| **c == "missing_required_column")
                .count(),
            1
        );
        assert!(!found.contains(&"missing_required_field"));
    }

    #[test]
    fn problems_stop_at_the_cap() {
        let mut stops = "stop_id,stop_name,stop_lat,stop_lon\n\
            A,a,16.49,107.57\nB,b,16.47,107.58\nC,c,16.45,107.57\n"
            .to_string();
        for i in 0..150 {
            stops.push_str(&format!("X{i},x,100,107.5\n"));
        }
        let Problems(problems) = read(&with(STOPS, Some(&stops))).unwrap_err();
        assert_eq!(problems.len(), MAX_PROBLEMS);
        let last = &problems[MAX_PROBLEMS - 1];
        assert_eq!(last.code, "too_many_problems");
        assert_eq!(last.message, "51 more problems are not listed");
    }

    #[test]
    fn too_many_rows_are_refused() {
        let files = valid_files();
        let entries: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_bytes())).collect();
        let limits = Limits {
            max_rows_per_file: 5,
            ..Limits::default()
        };
        let Problems(problems) = read_files(&entries, &limits).unwrap_err();
        assert_eq!(problems[0].file, "stop_times.txt");
        assert_eq!(problems[0].code, "too_many_rows");
    }

    #[test]
    fn a_zip_bomb_is_refused_by_its_declared_size() {
        let zeros = vec![0u8; 4_000_000];
        let zipped = zip_of(&[(STOP_TIMES, &zeros)]);
        assert!(zipped.len() < 100_000, "{} bytes", zipped.len());
        let limits = Limits {
            max_uncompressed_bytes: 1_000_000,
            ..Limits::default()
        };
        let Problems(problems) = read_zip(&zipped, &limits).unwrap_err();
        assert_eq!(problems[0].code, "feed_too_large");
        assert!(
            problems[0].message.contains("declare"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn a_zip_bomb_that_lies_about_its_size_is_refused() {
        let zeros = vec![0u8; 4_000_000];
        let mut zipped = zip_of(&[(STOP_TIMES, &zeros)]);
        // Make both headers claim 100 bytes: the local one at the start, the central one last.
        let lie = 100u32.to_le_bytes();
        zipped[22..26].copy_from_slice(&lie);
        let central = zipped.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
        zipped[central + 24..central + 28].copy_from_slice(&lie);
        let limits = Limits {
            max_uncompressed_bytes: 1_000_000,
            ..Limits::default()
        };
        // The zip crate stops past the declared size; our own count is the second guard.
        let Problems(problems) = read_zip(&zipped, &limits).unwrap_err();
        assert_eq!(problems[0].code, "zip_entry_unreadable");
    }

    #[test]
    fn reading_stops_one_byte_past_the_budget() {
        // An endless source, as a lying zip entry could be: refused, not read to the end.
        let endless = std::io::repeat(0);
        assert_eq!(read_capped(endless, 1000, 10).unwrap(), None);
        assert_eq!(
            read_capped(&b"abc"[..], 3, 3).unwrap(),
            Some(b"abc".to_vec())
        );
        assert_eq!(read_capped(&b"abcd"[..], 3, 3).unwrap(), None);
    }

    #[test]
    fn the_files_together_must_fit_the_limit() {
        let files = valid_files();
        let entries: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_bytes())).collect();
        let limits = Limits {
            max_uncompressed_bytes: 100,
            ..Limits::default()
        };
        let Problems(problems) = read_files(&entries, &limits).unwrap_err();
        assert_eq!(problems[0].code, "feed_too_large");
        let zipped = zip_of(&entries);
        let Problems(problems) = read_zip(&zipped, &limits).unwrap_err();
        assert_eq!(problems[0].code, "feed_too_large");
    }

    #[test]
    fn timezones_look_like_iana_names() {
        for good in [
            "Asia/Ho_Chi_Minh",
            "UTC",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+7",
            "America/Port-au-Prince",
        ] {
            assert!(looks_like_timezone(good), "{good}");
        }
        for bad in [
            "",
            "asia/saigon",
            "Asia/",
            "/Asia",
            "Asia//Hanoi",
            "Asia/Ho Chi Minh",
            "+07:00",
        ] {
            assert!(!looks_like_timezone(bad), "{bad}");
        }
    }
}
