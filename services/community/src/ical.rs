//! iCalendar (RFC 5545) for the events calendar: the file behind "add to calendar", and a ward's
//! calendar that residents subscribe to. Written here rather than with a crate because it is
//! small, and because every value staff type in must be escaped or left out so that no text can
//! add a property or an event to a file that residents' calendar apps import.

use chrono::{DateTime, NaiveDate, Utc};

/// When an event starts or ends: a moment, or a whole day (DTEND of an all-day event is the day
/// after its last day, exclusive, per RFC 5545).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

/// One public event, a VEVENT.
#[derive(Clone, Debug)]
pub struct CalendarEvent<'a> {
    /// Globally unique, e.g. "<uuid>@hue.citizen.vn".
    pub uid: &'a str,
    /// Bumped on each change the event's attendees would care about.
    pub sequence: i32,
    /// DTSTAMP.
    pub stamp: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub starts: When,
    /// Left out when not later than `starts` or not of its kind (a moment, or a day), as RFC
    /// 5545 forbids both: a timed event is then an instant, an all-day one a single day.
    pub ends: When,
    pub summary: &'a str,
    pub description: Option<&'a str>,
    pub location: Option<&'a str>,
    /// (latitude, longitude), written as GEO:lat;lng.
    pub position: Option<(f64, f64)>,
    /// Left out unless a plain URI (printable ASCII, no spaces).
    pub url: Option<&'a str>,
    pub categories: &'a [&'a str],
    /// STATUS:CANCELLED, else STATUS:CONFIRMED.
    pub cancelled: bool,
}

#[derive(Clone, Debug)]
pub struct Calendar<'a> {
    /// X-WR-CALNAME and NAME (RFC 7986).
    pub name: &'a str,
    /// "vi" or "en": the LANGUAGE parameter of SUMMARY, DESCRIPTION and LOCATION.
    pub language: &'a str,
    pub events: &'a [CalendarEvent<'a>],
}

/// How often subscribers fetch the calendar again: RFC 7986's REFRESH-INTERVAL, and the
/// X-PUBLISHED-TTL that Outlook and older Apple clients read instead.
const REFRESH: &str = "PT6H";

/// The calendar as an iCalendar object (text/calendar; charset=utf-8).
pub fn write(calendar: &Calendar) -> String {
    let mut out = String::new();
    let mut put = |name: &str, value: &str| put_line(&mut out, name, value);
    put("BEGIN", "VCALENDAR");
    put("VERSION", "2.0");
    put("PRODID", "-//Citizen//Events//VI");
    put("CALSCALE", "GREGORIAN");
    put("METHOD", "PUBLISH");
    put("NAME", &text(calendar.name));
    put("X-WR-CALNAME", &text(calendar.name));
    put("REFRESH-INTERVAL;VALUE=DURATION", REFRESH);
    put("X-PUBLISHED-TTL", REFRESH);

    // A language tag (RFC 5646) is letters, digits and hyphens: nothing that ends a parameter.
    let language: String = calendar
        .language
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let in_language = |name: &str| match language.as_str() {
        "" => name.to_owned(),
        tag => format!("{name};LANGUAGE={tag}"),
    };

    for event in calendar.events {
        put("BEGIN", "VEVENT");
        put("UID", &text(event.uid));
        put("DTSTAMP", &utc(event.stamp));
        let (param, start) = when(event.starts);
        put(&format!("DTSTART{param}"), &start);
        let later = match (event.starts, event.ends) {
            (When::At(start), When::At(end)) => end > start,
            (When::Day(start), When::Day(end)) => end > start,
            _ => false,
        };
        if later {
            let (param, end) = when(event.ends);
            put(&format!("DTEND{param}"), &end);
        }
        // SEQUENCE is a non-negative integer (3.8.7.4).
        put("SEQUENCE", &event.sequence.max(0).to_string());
        put("LAST-MODIFIED", &utc(event.last_modified));
        put(&in_language("SUMMARY"), &text(event.summary));
        if let Some(description) = event.description {
            put(&in_language("DESCRIPTION"), &text(description));
        }
        if let Some(location) = event.location {
            put(&in_language("LOCATION"), &text(location));
        }
        // Out of range, or NaN (which fails both comparisons), is no position at all.
        if let Some((lat, lng)) = event.position
            && lat.abs() <= 90.0
            && lng.abs() <= 180.0
        {
            put("GEO", &format!("{};{}", decimal(lat), decimal(lng)));
        }
        // A URI value is not escaped, so one with a CR or LF (or any other byte a URI cannot
        // have) could start a new property: such a URL is left out rather than mended.
        if let Some(url) = event.url
            && !url.is_empty()
            && url.bytes().all(|b| b.is_ascii_graphic())
        {
            put("URL", url);
        }
        // A list of TEXT values: each escaped (a comma inside one too), then joined by commas.
        let categories: Vec<String> = event
            .categories
            .iter()
            .map(|category| text(category))
            .filter(|category| !category.is_empty())
            .collect();
        if !categories.is_empty() {
            put("CATEGORIES", &categories.join(","));
        }
        put(
            "STATUS",
            if event.cancelled {
                "CANCELLED"
            } else {
                "CONFIRMED"
            },
        );
        // A public event should not mark the resident busy in their free/busy time.
        put("TRANSP", "TRANSPARENT");
        put("END", "VEVENT");
    }
    put("END", "VCALENDAR");
    out
}

/// Appends `name:value` as one content line (3.1), folded so that no line is longer than 75
/// octets: each continuation line starts with a space, which counts, and a fold never falls
/// inside a UTF-8 character (Vietnamese letters take two or three octets).
fn put_line(out: &mut String, name: &str, value: &str) {
    let line = format!("{name}:{value}");
    let mut rest = line.as_str();
    let mut room = 75;
    loop {
        let mut cut = rest.len().min(room);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n");
        rest = &rest[cut..];
        if rest.is_empty() {
            return;
        }
        out.push(' ');
        room = 74;
    }
}

/// A TEXT value (3.3.11): backslash, semicolon and comma escaped, a newline written as `\n`.
/// TEXT cannot hold control characters, so a CR (of a CRLF) and the others are dropped; a tab
/// is allowed.
fn text(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' | ';' | ',' => {
                escaped.push('\\');
                escaped.push(c);
            }
            '\n' => escaped.push_str("\\n"),
            '\t' => escaped.push(c),
            c if c.is_control() => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// A DATE-TIME in UTC (3.3.5, form #2), e.g. 19970714T173000Z.
fn utc(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

/// DTSTART's or DTEND's parameter and value: a DATE-TIME in UTC, or a DATE (3.3.4).
fn when(when: When) -> (&'static str, String) {
    match when {
        When::At(time) => ("", utc(time)),
        When::Day(day) => (";VALUE=DATE", day.format("%Y%m%d").to_string()),
    }
}

/// A FLOAT with at most 6 decimals (about 11 cm), without trailing zeros.
fn decimal(value: f64) -> String {
    let fixed = format!("{value:.6}");
    fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::process::Command;

    fn at(time: &str) -> DateTime<Utc> {
        time.parse().unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// An event with only what every event has.
    fn event(summary: &str) -> CalendarEvent<'_> {
        CalendarEvent {
            uid: "5f0c7a52-3d1e-4b8a-9c2f-1e6d8b7a4c30@hue.citizen.vn",
            sequence: 0,
            stamp: at("2027-03-01T08:00:00Z"),
            last_modified: at("2027-02-28T09:30:00Z"),
            starts: When::At(at("2027-04-10T01:00:00Z")),
            ends: When::At(at("2027-04-10T04:00:00Z")),
            summary,
            description: None,
            location: None,
            position: None,
            url: None,
            categories: &[],
            cancelled: false,
        }
    }

    fn ics(events: &[CalendarEvent]) -> String {
        write(&Calendar {
            name: "Sự kiện phường Phú Xuân",
            language: "vi",
            events,
        })
    }

    /// The content lines, unfolded.
    fn lines(ics: &str) -> Vec<String> {
        let unfolded = ics.replace("\r\n ", "");
        let lines = unfolded.strip_suffix("\r\n").unwrap();
        lines.split("\r\n").map(str::to_owned).collect()
    }

    fn has_line(ics: &str, line: &str) -> bool {
        lines(ics).iter().any(|l| l == line)
    }

    #[test]
    fn folds_at_75_octets_without_breaking_a_character() {
        // "SUMMARY:" and 66 "a" are 74 octets; "ễ" takes the next three, so the fold comes before it.
        let value = format!("{}ễ{}", "a".repeat(66), "Lễ hội Điện Hòn Chén, ".repeat(12));
        let mut out = String::new();
        put_line(&mut out, "SUMMARY", &value);
        let physical: Vec<&str> = out.strip_suffix("\r\n").unwrap().split("\r\n").collect();
        assert_eq!(physical[0], format!("SUMMARY:{}", "a".repeat(66)));
        assert!(physical[1].starts_with(" ễ"));
        assert!(physical.len() > 4);
        for line in &physical {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
            assert!(!line.contains(['\r', '\n']));
        }
        for line in &physical[1..] {
            assert!(line.starts_with(' '));
        }
        assert_eq!(out.replace("\r\n ", ""), format!("SUMMARY:{value}\r\n"));

        // And so in a whole calendar, which unfolds back to the escaped summary.
        let summary = "Lễ hội Điện Hòn Chén: rước Thánh Mẫu từ điện Huệ Nam về ".repeat(5);
        let ics = ics(&[event(&summary)]);
        assert!(ics.split_terminator("\r\n").all(|line| line.len() <= 75));
        assert!(has_line(&ics, &format!("SUMMARY;LANGUAGE=vi:{summary}")));
    }

    #[test]
    fn escapes_text() {
        assert_eq!(
            text("a,b;c\\d\ne\r\nf\u{7}\u{7f}g\th"),
            "a\\,b\\;c\\\\d\\ne\\nfg\th"
        );
        assert_eq!(text("Phường Thuận Hóa"), "Phường Thuận Hóa");
        let categories = ["Lễ hội, văn hóa", "a;b", "\r\u{7}", ""];
        let ics = ics(&[CalendarEvent {
            location: Some("Điện Huệ Nam, phường Kim Long; Huế"),
            categories: &categories,
            ..event("x")
        }]);
        assert!(has_line(
            &ics,
            "LOCATION;LANGUAGE=vi:Điện Huệ Nam\\, phường Kim Long\\; Huế"
        ));
        assert!(has_line(&ics, "CATEGORIES:Lễ hội\\, văn hóa,a\\;b"));
    }

    #[test]
    fn all_day_and_timed_events() {
        let timed = ics(&[event("x")]);
        assert!(has_line(&timed, "DTSTART:20270410T010000Z"));
        assert!(has_line(&timed, "DTEND:20270410T040000Z"));

        let all_day = ics(&[CalendarEvent {
            starts: When::Day(day(2027, 4, 10)),
            ends: When::Day(day(2027, 4, 13)),
            ..event("x")
        }]);
        assert!(has_line(&all_day, "DTSTART;VALUE=DATE:20270410"));
        assert!(has_line(&all_day, "DTEND;VALUE=DATE:20270413"));

        // An end of another kind, or not after the start, is left out.
        for ends in [
            When::At(at("2027-04-11T00:00:00Z")),
            When::Day(day(2027, 4, 10)),
        ] {
            let ics = ics(&[CalendarEvent {
                starts: When::Day(day(2027, 4, 10)),
                ends,
                ..event("x")
            }]);
            assert!(!ics.contains("DTEND"), "{ics}");
        }
    }

    #[test]
    fn cancelled_events() {
        let cancelled = ics(&[CalendarEvent {
            cancelled: true,
            sequence: 3,
            ..event("x")
        }]);
        assert!(has_line(&cancelled, "STATUS:CANCELLED"));
        assert!(has_line(&cancelled, "SEQUENCE:3"));
        assert!(has_line(&ics(&[event("x")]), "STATUS:CONFIRMED"));
    }

    #[test]
    fn positions_and_urls() {
        let with = |position, url| {
            ics(&[CalendarEvent {
                position,
                url,
                ..event("x")
            }])
        };
        let ics = with(
            Some((16.46371234, 107.59)),
            Some("https://hue.citizen.vn/su-kien/1?lang=vi"),
        );
        assert!(has_line(&ics, "GEO:16.463712;107.59"));
        assert!(has_line(
            &ics,
            "URL:https://hue.citizen.vn/su-kien/1?lang=vi"
        ));
        for (position, url) in [
            ((f64::NAN, 107.59), "https://x.vn/\r\nATTACH:https://evil"),
            ((91.0, 0.0), "https://x.vn/a b"),
            ((0.0, f64::INFINITY), "https://x.vn/Huế"),
        ] {
            let ics = with(Some(position), Some(url));
            assert!(!ics.contains("GEO") && !ics.contains("URL") && !ics.contains("ATTACH"));
        }
    }

    #[test]
    fn a_hostile_summary_cannot_inject_a_property() {
        let ics = write(&Calendar {
            name: "x\r\nMETHOD:CANCEL",
            language: "vi\r\nX-EVIL:1",
            events: &[event(
                "Hội chợ\r\nBEGIN:VEVENT\r\nUID:evil\r\nEND:VEVENT\nATTACH:https://evil",
            )],
        });
        let lines = lines(&ics);
        let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(count("BEGIN:VEVENT"), 1);
        assert_eq!(count("UID"), 1);
        assert_eq!(count("METHOD"), 1);
        assert_eq!(count("ATTACH") + count("X-EVIL"), 0);
        assert!(lines.contains(
            &"SUMMARY;LANGUAGE=viX-EVIL1:Hội chợ\\nBEGIN:VEVENT\\nUID:evil\\nEND:VEVENT\\nATTACH:https://evil"
                .to_owned()
        ));
        assert!(ics.replace("\r\n", "").chars().all(|c| !c.is_control()));
    }

    #[test]
    fn a_small_calendar() {
        let categories = ["Lễ hội", "Tín ngưỡng"];
        let events = [
            CalendarEvent {
                sequence: 2,
                description: Some(
                    "Lễ rước Thánh Mẫu bằng thuyền rồng trên sông Hương, từ Trường Tiền lên điện Huệ Nam.\nMiễn phí.",
                ),
                location: Some("Điện Huệ Nam, Hương Trà"),
                position: Some((16.4488, 107.5305)),
                url: Some("https://hue.citizen.vn/su-kien/le-hoi-dien-hon-chen"),
                categories: &categories,
                ..event("Lễ hội Điện Hòn Chén")
            },
            CalendarEvent {
                uid: "9a1e4f02-6c3b-4d7e-8f15-2b0a9c6d3e71@hue.citizen.vn",
                starts: When::Day(day(2027, 4, 24)),
                ends: When::Day(day(2027, 4, 25)),
                cancelled: true,
                ..event("Chợ phiên")
            },
        ];
        // Each line below ends with CRLF; the description is folded twice.
        let expected = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Citizen//Events//VI",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "NAME:Sự kiện phường Phú Xuân",
            "X-WR-CALNAME:Sự kiện phường Phú Xuân",
            "REFRESH-INTERVAL;VALUE=DURATION:PT6H",
            "X-PUBLISHED-TTL:PT6H",
            "BEGIN:VEVENT",
            "UID:5f0c7a52-3d1e-4b8a-9c2f-1e6d8b7a4c30@hue.citizen.vn",
            "DTSTAMP:20270301T080000Z",
            "DTSTART:20270410T010000Z",
            "DTEND:20270410T040000Z",
            "SEQUENCE:2",
            "LAST-MODIFIED:20270228T093000Z",
            "SUMMARY;LANGUAGE=vi:Lễ hội Điện Hòn Chén",
            "DESCRIPTION;LANGUAGE=vi:Lễ rước Thánh Mẫu bằng thuyền rồng tr",
            " ên sông Hương\\, từ Trường Tiền lên điện Huệ Nam.\\nMiễn ",
            " phí.",
            "LOCATION;LANGUAGE=vi:Điện Huệ Nam\\, Hương Trà",
            "GEO:16.4488;107.5305",
            "URL:https://hue.citizen.vn/su-kien/le-hoi-dien-hon-chen",
            "CATEGORIES:Lễ hội,Tín ngưỡng",
            "STATUS:CONFIRMED",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
            "BEGIN:VEVENT",
            "UID:9a1e4f02-6c3b-4d7e-8f15-2b0a9c6d3e71@hue.citizen.vn",
            "DTSTAMP:20270301T080000Z",
            "DTSTART;VALUE=DATE:20270424",
            "DTEND;VALUE=DATE:20270425",
            "SEQUENCE:0",
            "LAST-MODIFIED:20270228T093000Z",
            "SUMMARY;LANGUAGE=vi:Chợ phiên",
            "STATUS:CANCELLED",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
            "END:VCALENDAR",
        ]
        .map(|line| format!("{line}\r\n"))
        .concat();
        assert_eq!(ics(&events), expected);
    }

    #[test]
    fn an_independent_parser_reads_what_we_write() {
        // PyPI's icalendar, installed by the script on first use.
        const VALIDATOR: &str =
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/ical-validator");
        let summary = "Lễ hội Điện Hòn Chén; rước kiệu, hát văn \\ chầu văn";
        let description = format!(
            "Thư mục C:\\new\\, không phải xuống dòng; \\n cũng không.\nDòng hai, có dấu phẩy; chấm phẩy.\r\n{}",
            "Thuyền rồng đi từ bến Tòa Khâm lên điện Huệ Nam. ".repeat(6)
        );
        let categories = ["Lễ hội, văn hóa", "a\\,b;c", "Tín ngưỡng"];
        let events = [
            CalendarEvent {
                sequence: 4,
                description: Some(&description),
                location: Some("Điện Huệ Nam, núi Ngọc Trản; Hương Trà"),
                position: Some((16.448812, 107.530499)),
                url: Some("https://hue.citizen.vn/su-kien/1?a=1&b=2;c,d"),
                categories: &categories,
                ..event(summary)
            },
            CalendarEvent {
                uid: "9a1e4f02-6c3b-4d7e-8f15-2b0a9c6d3e71@hue.citizen.vn",
                starts: When::Day(day(2027, 4, 24)),
                ends: When::Day(day(2027, 4, 26)),
                cancelled: true,
                ..event("Chợ phiên")
            },
        ];
        let path = std::env::temp_dir().join(format!("ical-{}.ics", std::process::id()));
        let name = "Lễ hội, sự kiện; phường Phú Xuân \\ Huế";
        let calendar = Calendar {
            name,
            language: "vi",
            events: &events,
        };
        std::fs::write(&path, write(&calendar)).unwrap();
        let output = Command::new(VALIDATOR).arg(&path).output().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let parsed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let calendar = &parsed[path.to_str().unwrap()];
        assert_eq!(calendar["name"], name);
        assert_eq!(
            calendar["events"],
            json!([
                {
                    "uid": "5f0c7a52-3d1e-4b8a-9c2f-1e6d8b7a4c30@hue.citizen.vn",
                    "summary": summary,
                    "description": description.replace('\r', ""),
                    "location": "Điện Huệ Nam, núi Ngọc Trản; Hương Trà",
                    "start": "2027-04-10T01:00:00Z",
                    "end": "2027-04-10T04:00:00Z",
                    "status": "CONFIRMED",
                    "sequence": 4,
                    "geo": [16.448812, 107.530499],
                    "url": "https://hue.citizen.vn/su-kien/1?a=1&b=2;c,d",
                    "categories": categories,
                },
                {
                    "uid": "9a1e4f02-6c3b-4d7e-8f15-2b0a9c6d3e71@hue.citizen.vn",
                    "summary": "Chợ phiên",
                    "description": null,
                    "location": null,
                    "start": "2027-04-24",
                    "end": "2027-04-26",
                    "status": "CANCELLED",
                    "sequence": 0,
                    "geo": null,
                    "url": null,
                    "categories": [],
                },
            ])
        );
    }
}
