//! Alert feeds of Huế's authorities in CAP 1.2 (OASIS Common Alerting Protocol,
//! <https://docs.oasis-open.org/emergency/cap/v1.2/CAP-v1.2.html>) behind an Atom 1.0 feed (RFC
//! 4287), as alerting authorities publish them. Three publishers, by path segment:
//! [`DISASTER_COMMITTEE`] (the city's steering committee for disaster prevention and search and
//! rescue), [`POWER`] (Huế Power Company, EVNCPC) and [`WATER`] (Huế Water Supply JSC):
//!
//! - `GET /{publisher}/feed.atom`: `application/atom+xml; charset=utf-8`, one `<entry>` per
//!   alert, latest published first: `<id>` (a `tag:` URI of the publisher's domain and the CAP
//!   identifier), `<title>` (the Vietnamese `headline`), `<updated>` (the CAP `sent`),
//!   `<author><name>` and `<link rel="alternate" type="application/cap+xml" href="..">`, the
//!   document's absolute URL on the host asked.
//! - `GET /{publisher}/alerts/{identifier}.xml`: the CAP document as published,
//!   `application/cap+xml`.
//! - For tests, standing for the publisher's own authoring tool: `POST /{publisher}/alerts`
//!   with a whole CAP 1.2 document, kept verbatim and put at the top of the feed (`201`, its
//!   URL in `Location`; one with the identifier of an earlier one replaces it). Not an `alert`
//!   in the CAP 1.2 namespace, or without `identifier` or a `sent` time, is `400`. `DELETE
//!   /{publisher}/alerts` drops what tests posted (`204`).
//! - `POST /faults` as the other sandboxes, for the feed and the documents (not the test
//!   hooks): `down`, `slow`, `garbage` (`200` with the feed or document cut off midway).
//!
//! An unknown publisher or alert is `404`. Two alerts are there from the start, made when the
//! sandbox starts so that they are in force then (a sandbox left running serves them expired,
//! as a real feed keeps expired alerts a while): [`POWER_OUTAGE_IDENTIFIER`], a planned outage
//! tomorrow 07:00-11:30 around [`POWER_OUTAGE_POINT`], and [`WATER_CUT_IDENTIFIER`], a water cut
//! from now for 8 hours around [`WATER_CUT_POINT`]. The disaster committee has none until a
//! test posts one. Times are CAP's `YYYY-MM-DDThh:mm:ss+07:00`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Days, FixedOffset, NaiveTime, Offset as _, TimeDelta, Timelike as _, Utc};

use crate::faults::{Faults, Outage, OutageRequest};
use crate::gateway::{self, escape};

pub const CAP_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
pub const ATOM_NAMESPACE: &str = "http://www.w3.org/2005/Atom";
pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml; charset=utf-8";
pub const CAP_CONTENT_TYPE: &str = "application/cap+xml";

/// Ban Chỉ huy Phòng chống thiên tai và Tìm kiếm cứu nạn thành phố Huế.
pub const DISASTER_COMMITTEE: &str = "disaster-committee";
pub const DISASTER_COMMITTEE_SENDER: &str = "pctt@hue.gov.vn";
/// Công ty Điện lực Huế.
pub const POWER: &str = "power";
pub const POWER_SENDER: &str = "cskh@pchue.evn.vn";
/// Công ty Cổ phần Cấp nước Huế.
pub const WATER: &str = "water";
pub const WATER_SENDER: &str = "cskh@huewaco.vn";

/// The planned outage: tomorrow 07:00-11:30 on Đinh Tiên Hoàng street, Phú Xuân.
pub const POWER_OUTAGE_IDENTIFIER: &str = "PCHUE-KH-0001";
/// The centre of its polygon, (latitude, longitude).
pub const POWER_OUTAGE_POINT: (f64, f64) = (16.4700, 107.5780);
/// The water cut: from the start for 8 hours around Hùng Vương street, Thuận Hóa.
pub const WATER_CUT_IDENTIFIER: &str = "HUEWACO-TB-0001";
/// The centre of its polygon, (latitude, longitude).
pub const WATER_CUT_POINT: (f64, f64) = (16.4590, 107.5970);
/// How long the water cut lasts from the start.
pub const WATER_CUT_HOURS: i64 = 8;

const LOCAL_OFFSET_SECS: i32 = 7 * 3600;

/// What a cut connection leaves of an answer.
const GARBAGE_FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>tag:pchue.evn.vn,2025:cap</id><title>Cảnh b"#;
const GARBAGE_ALERT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>PCHUE-KH-0001</identifier><sen"#;

type Time = DateTime<FixedOffset>;

struct Publisher {
    path: &'static str,
    name: &'static str,
    sender: &'static str,
}

static PUBLISHERS: [Publisher; 3] = [
    Publisher {
        path: DISASTER_COMMITTEE,
        name: "Ban Chỉ huy Phòng chống thiên tai và Tìm kiếm cứu nạn thành phố Huế",
        sender: DISASTER_COMMITTEE_SENDER,
    },
    Publisher {
        path: POWER,
        name: "Công ty Điện lực Huế",
        sender: POWER_SENDER,
    },
    Publisher {
        path: WATER,
        name: "Công ty Cổ phần Cấp nước Huế",
        sender: WATER_SENDER,
    },
];

fn publisher(path: &str) -> Option<&'static Publisher> {
    PUBLISHERS.iter().find(|p| p.path == path)
}

/// An alert as published: the document verbatim, and what the feed says of it.
struct Alert {
    publisher: &'static str,
    identifier: String,
    sent: Time,
    headline: String,
    xml: String,
}

struct Cap {
    faults: Faults<Outage>,
    /// When the sandbox started: the `updated` of a feed with no alert.
    started: Time,
    initial: Vec<Alert>,
    /// Posted by tests, oldest first.
    posted: Mutex<Vec<Alert>>,
}

pub fn router() -> Router {
    let now = Utc::now().with_timezone(&local_offset());
    let now = now.with_nanosecond(0).unwrap_or(now);
    // Ours go through the parser posted ones go through: what the feed says comes from the XML.
    let initial = [(POWER, power_outage(now)), (WATER, water_cut(now))]
        .into_iter()
        .filter_map(|(publisher, xml)| Alert::parse(publisher, xml).ok())
        .collect();
    let cap = Cap {
        faults: Faults::default(),
        started: now,
        initial,
        posted: Mutex::default(),
    };
    Router::new()
        .route("/faults", post(set_faults))
        .route("/{publisher}/feed.atom", get(feed))
        .route("/{publisher}/alerts", post(publish).delete(drop_posted))
        .route("/{publisher}/alerts/{file}", get(document))
        .with_state(Arc::new(cap))
}

async fn set_faults(
    State(cap): State<Arc<Cap>>,
    axum::Json(request): axum::Json<OutageRequest>,
) -> StatusCode {
    cap.faults.apply(request)
}

async fn feed(
    State(cap): State<Arc<Cap>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(outage) = cap.faults.due_as(ATOM_CONTENT_TYPE, GARBAGE_FEED).await {
        return outage;
    }
    let Some(publisher) = publisher(&path) else {
        return not_found();
    };
    let base = format!(
        "http://{}/sandbox/cap/{}",
        gateway::host(&headers),
        publisher.path
    );
    let posted = cap.posted.lock().unwrap_or_else(|p| p.into_inner());
    let mut initial: Vec<&Alert> = cap.initial.iter().collect();
    initial.sort_by_key(|a| std::cmp::Reverse(a.sent));
    let alerts: Vec<&Alert> = posted
        .iter()
        .rev()
        .chain(initial)
        .filter(|a| a.publisher == publisher.path)
        .collect();
    let domain = publisher.sender.split_once('@').map_or("", |(_, d)| d);
    let updated = alerts.iter().map(|a| a.sent).max().unwrap_or(cap.started);
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="{ATOM_NAMESPACE}" xml:lang="vi">
  <id>tag:{domain},2025:cap</id>
  <title>Cảnh báo, thông báo khẩn cấp: {name}</title>
  <updated>{updated}</updated>
  <link rel="self" type="application/atom+xml" href="{base}/feed.atom"/>
  <author><name>{name}</name><email>{sender}</email></author>
"#,
        name = escape(publisher.name),
        updated = cap_time(updated),
        sender = publisher.sender,
    );
    for alert in alerts {
        xml.push_str(&format!(
            r#"  <entry>
    <id>tag:{domain},{year}:{identifier}</id>
    <title>{title}</title>
    <updated>{sent}</updated>
    <author><name>{name}</name></author>
    <link rel="alternate" type="{CAP_CONTENT_TYPE}" href="{base}/alerts/{identifier}.xml"/>
  </entry>
"#,
            year = alert.sent.format("%Y"),
            identifier = encode(&alert.identifier),
            title = escape(&alert.headline),
            sent = cap_time(alert.sent),
            name = escape(publisher.name),
        ));
    }
    drop(posted);
    xml.push_str("</feed>\n");
    ([(header::CONTENT_TYPE, ATOM_CONTENT_TYPE)], xml).into_response()
}

async fn document(
    State(cap): State<Arc<Cap>>,
    Path((path, file)): Path<(String, String)>,
) -> Response {
    if let Some(outage) = cap.faults.due_as(CAP_CONTENT_TYPE, GARBAGE_ALERT).await {
        return outage;
    }
    let Some(identifier) = file.strip_suffix(".xml") else {
        return not_found();
    };
    let posted = cap.posted.lock().unwrap_or_else(|p| p.into_inner());
    let found = posted
        .iter()
        .chain(&cap.initial)
        .find(|a| a.publisher == path && a.identifier == identifier)
        .map(|a| a.xml.clone());
    drop(posted);
    match found {
        Some(xml) => ([(header::CONTENT_TYPE, CAP_CONTENT_TYPE)], xml).into_response(),
        None => not_found(),
    }
}

async fn publish(
    State(cap): State<Arc<Cap>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(publisher) = publisher(&path) else {
        return not_found();
    };
    let Ok(xml) = String::from_utf8(body.to_vec()) else {
        return (StatusCode::BAD_REQUEST, "not UTF-8").into_response();
    };
    let alert = match Alert::parse(publisher.path, xml) {
        Ok(alert) => alert,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let location = format!(
        "http://{}/sandbox/cap/{}/alerts/{}.xml",
        gateway::host(&headers),
        publisher.path,
        encode(&alert.identifier)
    );
    let mut posted = cap.posted.lock().unwrap_or_else(|p| p.into_inner());
    // An identifier is one alert: published again, it moves to the top.
    posted.retain(|a| !(a.publisher == alert.publisher && a.identifier == alert.identifier));
    posted.push(alert);
    drop(posted);
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn drop_posted(State(cap): State<Arc<Cap>>, Path(path): Path<String>) -> Response {
    let Some(publisher) = publisher(&path) else {
        return not_found();
    };
    let mut posted = cap.posted.lock().unwrap_or_else(|p| p.into_inner());
    posted.retain(|a| a.publisher != publisher.path);
    StatusCode::NO_CONTENT.into_response()
}

impl Alert {
    /// `xml` if it is a CAP 1.2 `alert` with an `identifier` and a `sent` time; its headline is
    /// the Vietnamese `info`'s (else the first's), else its event, else the identifier.
    fn parse(publisher: &'static str, xml: String) -> Result<Self, String> {
        let (identifier, sent, headline) = {
            let document = roxmltree::Document::parse(&xml).map_err(|e| format!("not XML: {e}"))?;
            let root = document.root_element();
            if !root.has_tag_name((CAP_NAMESPACE, "alert")) {
                return Err(format!("not a CAP 1.2 alert (in {CAP_NAMESPACE})"));
            }
            let identifier = text(root, "identifier").ok_or("no identifier")?;
            let sent = text(root, "sent").ok_or("no sent")?;
            let sent = DateTime::parse_from_rfc3339(sent)
                .map_err(|e| format!("sent is not a time ({e}): {sent}"))?;
            let infos: Vec<_> = root
                .children()
                .filter(|n| n.has_tag_name((CAP_NAMESPACE, "info")))
                .collect();
            // CAP's default language is en-US.
            let vietnamese = infos
                .iter()
                .find(|info| text(**info, "language").is_some_and(|l| l.starts_with("vi")));
            let headline = vietnamese
                .or(infos.first())
                .and_then(|info| text(*info, "headline").or_else(|| text(*info, "event")))
                .unwrap_or(identifier)
                .to_owned();
            (identifier.to_owned(), sent, headline)
        };
        Ok(Self {
            publisher,
            identifier,
            sent,
            headline,
            xml,
        })
    }
}

/// The trimmed text of `node`'s CAP child `name`, if any.
fn text<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.children()
        .find(|n| n.has_tag_name((CAP_NAMESPACE, name)))?
        .text()
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The texts of one `<info>` block, in its language.
struct Texts {
    language: &'static str,
    event: &'static str,
    sender_name: &'static str,
    headline: String,
    description: String,
    instruction: &'static str,
    contact: &'static str,
    area: &'static str,
}

/// What a generated alert says, but for its texts.
struct Generated {
    identifier: &'static str,
    sender: &'static str,
    sent: Time,
    category: &'static str,
    urgency: &'static str,
    severity: &'static str,
    certainty: &'static str,
    effective: Time,
    onset: Option<Time>,
    expires: Time,
    polygon: String,
}

impl Generated {
    /// The CAP document, an `<info>` for each of `texts`, in CAP's order of elements.
    fn xml(&self, texts: [Texts; 2]) -> String {
        let mut xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{CAP_NAMESPACE}">
  <identifier>{}</identifier>
  <sender>{}</sender>
  <sent>{}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
"#,
            self.identifier,
            self.sender,
            cap_time(self.sent)
        );
        for t in texts {
            let onset = self.onset.map_or(String::new(), |onset| {
                format!("    <onset>{}</onset>\n", cap_time(onset))
            });
            xml.push_str(&format!(
                r#"  <info>
    <language>{}</language>
    <category>{}</category>
    <event>{}</event>
    <urgency>{}</urgency>
    <severity>{}</severity>
    <certainty>{}</certainty>
    <effective>{}</effective>
{onset}    <expires>{}</expires>
    <senderName>{}</senderName>
    <headline>{}</headline>
    <description>{}</description>
    <instruction>{}</instruction>
    <contact>{}</contact>
    <area>
      <areaDesc>{}</areaDesc>
      <polygon>{}</polygon>
    </area>
  </info>
"#,
                t.language,
                self.category,
                escape(t.event),
                self.urgency,
                self.severity,
                self.certainty,
                cap_time(self.effective),
                cap_time(self.expires),
                escape(t.sender_name),
                escape(&t.headline),
                escape(&t.description),
                escape(t.instruction),
                escape(t.contact),
                escape(t.area),
                self.polygon,
            ));
        }
        xml.push_str("</alert>\n");
        xml
    }
}

/// Tomorrow 07:00-11:30, for maintenance of a medium-voltage line; in force from `now`.
fn power_outage(now: Time) -> String {
    let tomorrow = now.date_naive() + Days::new(1);
    let at = |hour, minute| {
        let time = NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default();
        tomorrow
            .and_time(time)
            .and_local_timezone(local_offset())
            .single()
            .unwrap_or(now)
    };
    let (onset, expires) = (at(7, 0), at(11, 30));
    let day = tomorrow.format("%d/%m/%Y");
    let alert = Generated {
        identifier: POWER_OUTAGE_IDENTIFIER,
        sender: POWER_SENDER,
        sent: now,
        category: "Infra",
        urgency: "Expected",
        severity: "Minor",
        certainty: "Likely",
        effective: now,
        onset: Some(onset),
        expires,
        polygon: block(POWER_OUTAGE_POINT, 0.0015, 0.0020),
    };
    alert.xml([
        Texts {
            language: "vi-VN",
            event: "Ngừng cung cấp điện",
            sender_name: "Công ty Điện lực Huế",
            headline: format!("Ngừng cung cấp điện từ 07:00 đến 11:30 ngày {day}"),
            description: format!(
                "Để bảo dưỡng, sửa chữa lưới điện trung thế, Công ty Điện lực Huế tạm ngừng \
                 cung cấp điện từ 07:00 đến 11:30 ngày {day} tại khu vực đường Đinh Tiên Hoàng, \
                 phường Phú Xuân. Điện có thể được cấp lại sớm hơn mà không báo trước."
            ),
            instruction: "Quý khách vui lòng chủ động sắp xếp công việc, rút phích cắm các \
                          thiết bị điện và coi như lưới điện vẫn có điện trong suốt thời gian \
                          ngừng cung cấp điện.",
            contact: "Tổng đài chăm sóc khách hàng 1900 1909",
            area: "Đường Đinh Tiên Hoàng, phường Phú Xuân",
        },
        Texts {
            language: "en-US",
            event: "Planned power outage",
            sender_name: "Hue Power Company",
            headline: format!("Planned power outage from 07:00 to 11:30 on {day}"),
            description: format!(
                "For maintenance of the medium-voltage grid, Hue Power Company will cut the \
                 supply from 07:00 to 11:30 on {day} along Dinh Tien Hoang street, Phu Xuan \
                 ward. Power may come back earlier without notice."
            ),
            instruction: "Please plan ahead, unplug electrical appliances and treat lines as \
                          live throughout the outage.",
            contact: "Customer service 1900 1909",
            area: "Dinh Tien Hoang street, Phu Xuan ward",
        },
    ])
}

/// A burst main: no water from `now` for [`WATER_CUT_HOURS`] hours.
fn water_cut(now: Time) -> String {
    let expires = now + TimeDelta::hours(WATER_CUT_HOURS);
    let (from, until) = (
        now.format("%H:%M %d/%m/%Y"),
        expires.format("%H:%M %d/%m/%Y"),
    );
    let alert = Generated {
        identifier: WATER_CUT_IDENTIFIER,
        sender: WATER_SENDER,
        sent: now,
        category: "Infra",
        urgency: "Immediate",
        severity: "Moderate",
        certainty: "Observed",
        effective: now,
        onset: None,
        expires,
        polygon: block(WATER_CUT_POINT, 0.0025, 0.0030),
    };
    alert.xml([
        Texts {
            language: "vi-VN",
            event: "Tạm ngừng cấp nước",
            sender_name: "Công ty Cổ phần Cấp nước Huế",
            headline: "Tạm ngừng cấp nước khu vực đường Hùng Vương do sự cố vỡ ống".to_owned(),
            description: format!(
                "Do sự cố vỡ đường ống truyền tải, Công ty Cổ phần Cấp nước Huế tạm ngừng cấp \
                 nước từ {from} đến khoảng {until} tại khu vực đường Hùng Vương và các kiệt \
                 lân cận, phường Thuận Hóa."
            ),
            instruction: "Quý khách vui lòng dự trữ nước và sử dụng tiết kiệm. Sau khi cấp lại, \
                          nước có thể đục trong thời gian ngắn: xả bỏ trước khi dùng.",
            contact: "Tổng đài chăm sóc khách hàng Huewaco, 103 Bùi Thị Xuân, Huế",
            area: "Khu vực đường Hùng Vương, phường Thuận Hóa",
        },
        Texts {
            language: "en-US",
            event: "Water supply interruption",
            sender_name: "Hue Water Supply Joint Stock Company",
            headline: "Water supply interrupted around Hung Vuong street: burst main".to_owned(),
            description: format!(
                "A transmission main has burst: Hue Water Supply cuts the supply from {from} \
                 until about {until} around Hung Vuong street and its alleys, Thuan Hoa ward."
            ),
            instruction: "Please store water and use it sparingly. Once the supply is back, \
                          water may be cloudy for a while: run it off before use.",
            contact: "Huewaco customer service, 103 Bui Thi Xuan, Hue",
            area: "Hung Vuong street area, Thuan Hoa ward",
        },
    ])
}

/// A rectangle around `centre`, as CAP writes a polygon: `lat,lon` pairs, closed (the first
/// point again at the end).
fn block((lat, lon): (f64, f64), half_lat: f64, half_lon: f64) -> String {
    let corners = [
        (lat + half_lat, lon - half_lon),
        (lat + half_lat, lon + half_lon),
        (lat - half_lat, lon + half_lon),
        (lat - half_lat, lon - half_lon),
        (lat + half_lat, lon - half_lon),
    ];
    let points: Vec<String> = corners
        .iter()
        .map(|(lat, lon)| format!("{lat:.4},{lon:.4}"))
        .collect();
    points.join(" ")
}

/// As CAP writes times: `2026-12-08T07:00:00+07:00`, no fraction, no `Z`.
fn cap_time(time: Time) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn local_offset() -> FixedOffset {
    FixedOffset::east_opt(LOCAL_OFFSET_SECS).unwrap_or_else(|| Utc.fix())
}

/// `text` safe in a path segment and a `tag:` URI: all but unreserved characters escaped.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use axum::body::Body;
    use axum::http::Request;
    use geo::{Contains as _, LineString, Point, Polygon};

    use super::*;
    use crate::gateway::testing::{self, Answer};

    const ROOT: &str = "http://sandbox.test/sandbox/cap";
    const VALIDATOR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/cap-validator");

    fn app() -> Router {
        Router::new().nest("/sandbox/cap", router())
    }

    async fn get(app: &Router, path: &str) -> Answer {
        testing::get(app, &format!("/sandbox/cap/{path}")).await
    }

    async fn post_alert(app: &Router, publisher: &str, xml: &str) -> Answer {
        let request = Request::post(format!("/sandbox/cap/{publisher}/alerts"))
            .header("host", "sandbox.test")
            .header("content-type", CAP_CONTENT_TYPE)
            .body(Body::from(xml.to_owned()))
            .unwrap();
        testing::send(app, request).await
    }

    async fn drop_alerts(app: &Router, publisher: &str) -> StatusCode {
        let request = Request::delete(format!("/sandbox/cap/{publisher}/alerts"));
        testing::send(app, request.body(Body::empty()).unwrap())
            .await
            .status
    }

    /// A flood warning as the committee's authoring tool writes it: by hand, not by the code
    /// under test.
    fn flood_warning(identifier: &str, sent: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>pctt@hue.gov.vn</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>vi-VN</language>
    <category>Met</category>
    <event>Lũ</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <headline>Cảnh báo lũ trên sông Hương, báo động 2 tại Kim Long</headline>
    <description>Mực nước sông Hương tại Kim Long đang lên &amp; vượt báo động 2.</description>
    <area>
      <areaDesc>Vùng trũng thấp ven sông Hương</areaDesc>
      <polygon>16.48,107.56 16.48,107.61 16.45,107.61 16.45,107.56 16.48,107.56</polygon>
    </area>
  </info>
  <info>
    <language>en-US</language>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <headline>Flood warning on the Huong river, alarm level 2 at Kim Long</headline>
    <area>
      <areaDesc>Low-lying areas along the Huong river</areaDesc>
    </area>
  </info>
</alert>
"#
        )
    }

    fn child<'a>(node: roxmltree::Node<'a, '_>, namespace: &str, name: &str) -> &'a str {
        node.children()
            .find(|n| n.has_tag_name((namespace, name)))
            .and_then(|n| n.text())
            .unwrap_or_else(|| panic!("no {name} in {:?}", node.tag_name()))
    }

    fn cap(node: roxmltree::Node<'_, '_>, name: &str) -> String {
        child(node, CAP_NAMESPACE, name).to_owned()
    }

    /// (id, title, updated, author, link rel, link type, link href) of each entry.
    fn entries(feed: &str) -> Vec<[String; 7]> {
        let document = roxmltree::Document::parse(feed).unwrap();
        let root = document.root_element();
        assert!(root.has_tag_name((ATOM_NAMESPACE, "feed")));
        for name in ["id", "title", "updated"] {
            child(root, ATOM_NAMESPACE, name);
        }
        root.children()
            .filter(|n| n.has_tag_name((ATOM_NAMESPACE, "entry")))
            .map(|entry| {
                let atom = |name| child(entry, ATOM_NAMESPACE, name).to_owned();
                let author = entry
                    .children()
                    .find(|n| n.has_tag_name((ATOM_NAMESPACE, "author")))
                    .unwrap();
                let link = entry
                    .children()
                    .find(|n| n.has_tag_name((ATOM_NAMESPACE, "link")))
                    .unwrap();
                let attribute = |name| link.attribute(name).unwrap().to_owned();
                [
                    atom("id"),
                    atom("title"),
                    atom("updated"),
                    child(author, ATOM_NAMESPACE, "name").to_owned(),
                    attribute("rel"),
                    attribute("type"),
                    attribute("href"),
                ]
            })
            .collect()
    }

    async fn feed_of(app: &Router, publisher: &str) -> Vec<[String; 7]> {
        entries(&get(app, &format!("{publisher}/feed.atom")).await.body)
    }

    /// `YYYY-MM-DDThh:mm:ss+07:00`, as CAP wants it.
    fn cap_time_of(text: &str) -> Time {
        assert_eq!(text.len(), 25, "{text}");
        assert!(text.ends_with("+07:00") && !text.contains('.'), "{text}");
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    #[tokio::test]
    async fn feeds_list_each_publishers_alerts_with_absolute_links_to_them() {
        let app = app();
        for (publisher, identifier, name) in [
            (POWER, POWER_OUTAGE_IDENTIFIER, "Công ty Điện lực Huế"),
            (WATER, WATER_CUT_IDENTIFIER, "Công ty Cổ phần Cấp nước Huế"),
        ] {
            let answer = get(&app, &format!("{publisher}/feed.atom")).await;
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(answer.headers["content-type"], ATOM_CONTENT_TYPE);
            let entries = entries(&answer.body);
            assert_eq!(entries.len(), 1, "{publisher}");
            let [id, title, updated, author, rel, kind, href] = &entries[0];
            assert!(id.starts_with("tag:") && id.ends_with(identifier), "{id}");
            assert_eq!(author, name);
            assert_eq!(
                (rel.as_str(), kind.as_str()),
                ("alternate", CAP_CONTENT_TYPE)
            );
            let url = format!("{ROOT}/{publisher}/alerts/{identifier}.xml");
            assert_eq!(*href, url);
            // The link leads to the document, and the entry says what it says.
            let alert = get(&app, href.strip_prefix(&format!("{ROOT}/")).unwrap()).await;
            assert_eq!(alert.status, StatusCode::OK);
            assert_eq!(alert.headers["content-type"], CAP_CONTENT_TYPE);
            let document = roxmltree::Document::parse(&alert.body).unwrap();
            let root = document.root_element();
            assert_eq!(cap(root, "identifier"), identifier);
            assert_eq!(*updated, cap(root, "sent"));
            let vietnamese = root.children().find(|n| n.has_tag_name("info")).unwrap();
            assert_eq!(*title, cap(vietnamese, "headline"));
        }
        assert!(feed_of(&app, DISASTER_COMMITTEE).await.is_empty());

        // Links name the host the feed was asked on.
        let request = Request::get("/sandbox/cap/water/feed.atom")
            .header("host", "citizen.local:8080")
            .body(Body::empty())
            .unwrap();
        let feed = testing::send(&app, request).await.body;
        let href = &entries(&feed)[0][6];
        let url = format!(
            "http://citizen.local:8080/sandbox/cap/water/alerts/{WATER_CUT_IDENTIFIER}.xml"
        );
        assert_eq!(*href, url);
    }

    #[tokio::test]
    async fn the_initial_alerts_are_full_cap_documents_in_force_now() {
        let app = app();
        let now = Utc::now();
        for (publisher, identifier, sender, centre) in [
            (
                POWER,
                POWER_OUTAGE_IDENTIFIER,
                POWER_SENDER,
                POWER_OUTAGE_POINT,
            ),
            (WATER, WATER_CUT_IDENTIFIER, WATER_SENDER, WATER_CUT_POINT),
        ] {
            let xml = get(&app, &format!("{publisher}/alerts/{identifier}.xml"))
                .await
                .body;
            let document = roxmltree::Document::parse(&xml).unwrap();
            let alert = document.root_element();
            assert!(alert.has_tag_name((CAP_NAMESPACE, "alert")));
            assert_eq!(cap(alert, "sender"), sender);
            let sent = cap_time_of(&cap(alert, "sent"));
            let header = ["status", "msgType", "scope"].map(|name| cap(alert, name));
            assert_eq!(header, ["Actual", "Alert", "Public"]);
            let infos: Vec<_> = alert
                .children()
                .filter(|n| n.has_tag_name("info"))
                .collect();
            let languages: Vec<_> = infos.iter().map(|i| cap(*i, "language")).collect();
            assert_eq!(languages, ["vi-VN", "en-US"]);
            for info in infos {
                for name in [
                    "category",
                    "event",
                    "urgency",
                    "severity",
                    "certainty",
                    "senderName",
                    "headline",
                    "description",
                    "instruction",
                    "contact",
                ] {
                    assert!(!cap(info, name).trim().is_empty(), "{identifier} {name}");
                }
                let effective = cap_time_of(&cap(info, "effective"));
                let expires = cap_time_of(&cap(info, "expires"));
                assert!(
                    effective <= now && now < expires,
                    "{identifier} not in force"
                );
                let levels = ["category", "urgency", "severity", "certainty"].map(|n| cap(info, n));
                if publisher == POWER {
                    assert_eq!(levels, ["Infra", "Expected", "Minor", "Likely"]);
                    let tomorrow = sent.date_naive() + Days::new(1);
                    let onset = cap_time_of(&cap(info, "onset"));
                    assert_eq!(onset.date_naive(), tomorrow);
                    assert_eq!(onset.format("%H:%M").to_string(), "07:00");
                    assert_eq!(
                        (expires.date_naive(), expires.format("%H:%M").to_string()),
                        (tomorrow, "11:30".to_owned())
                    );
                } else {
                    assert_eq!(levels, ["Infra", "Immediate", "Moderate", "Observed"]);
                    assert_eq!(expires - sent, TimeDelta::hours(WATER_CUT_HOURS));
                }

                let areas: Vec<_> = info.children().filter(|n| n.has_tag_name("area")).collect();
                assert_eq!(areas.len(), 1);
                assert!(cap(areas[0], "areaDesc").chars().count() < 50);
                let points: Vec<(f64, f64)> = cap(areas[0], "polygon")
                    .split_whitespace()
                    .map(|pair| {
                        let (lat, lon) = pair.split_once(',').unwrap();
                        (lat.parse().unwrap(), lon.parse().unwrap())
                    })
                    .collect();
                assert!(
                    points.len() >= 4 && points.first() == points.last(),
                    "{points:?}"
                );
                let ring: LineString = points.iter().map(|&(lat, lon)| (lon, lat)).collect();
                let polygon = Polygon::new(ring, vec![]);
                assert!(polygon.contains(&Point::new(centre.1, centre.0)));
                // In central Huế.
                assert!((centre.0 - 16.46).abs() < 0.03 && (centre.1 - 107.59).abs() < 0.03);
            }
        }
    }

    #[tokio::test]
    async fn a_posted_alert_tops_its_publishers_feed_until_tests_drop_it() {
        let app = app();
        let first = flood_warning("HUE-PCTT-2026-0001", "2026-11-03T06:00:00+07:00");
        let created = post_alert(&app, DISASTER_COMMITTEE, &first).await;
        assert_eq!(created.status, StatusCode::CREATED);
        let url = format!("{ROOT}/{DISASTER_COMMITTEE}/alerts/HUE-PCTT-2026-0001.xml");
        assert_eq!(created.location(), url);
        // Kept verbatim.
        let path = url.strip_prefix(&format!("{ROOT}/")).unwrap();
        assert_eq!(get(&app, path).await.body, first);

        // Published later, though sent earlier: on top all the same.
        let second = flood_warning("HUE-PCTT-2026-0002", "2026-11-03T05:30:00+07:00");
        post_alert(&app, DISASTER_COMMITTEE, &second).await;
        let feed = feed_of(&app, DISASTER_COMMITTEE).await;
        let ids: Vec<&str> = feed
            .iter()
            .map(|e| e[0].rsplit(':').next().unwrap())
            .collect();
        assert_eq!(ids, ["HUE-PCTT-2026-0002", "HUE-PCTT-2026-0001"]);
        assert_eq!(
            feed[0][1],
            "Cảnh báo lũ trên sông Hương, báo động 2 tại Kim Long"
        );
        assert_eq!(feed[0][2], "2026-11-03T05:30:00+07:00");
        // A power company's alert goes above the one it had.
        post_alert(
            &app,
            POWER,
            &flood_warning("PCHUE-KH-0002", "2026-11-03T07:00:00+07:00"),
        )
        .await;
        let power = feed_of(&app, POWER).await;
        assert!(
            power[0][0].ends_with(":PCHUE-KH-0002")
                && power[1][0].ends_with(POWER_OUTAGE_IDENTIFIER)
        );

        assert_eq!(
            drop_alerts(&app, DISASTER_COMMITTEE).await,
            StatusCode::NO_CONTENT
        );
        assert!(feed_of(&app, DISASTER_COMMITTEE).await.is_empty());
        assert_eq!(get(&app, path).await.status, StatusCode::NOT_FOUND);
        assert_eq!(feed_of(&app, POWER).await.len(), 2);
        drop_alerts(&app, POWER).await;
        let power = feed_of(&app, POWER).await;
        assert!(power.len() == 1 && power[0][0].ends_with(POWER_OUTAGE_IDENTIFIER));
    }

    #[tokio::test]
    async fn what_is_not_a_cap_alert_is_refused_and_what_is_not_there_is_404() {
        let app = app();
        let good = flood_warning("HUE-PCTT-2026-0003", "2026-11-03T06:00:00+07:00");
        for bad in [
            "not XML".to_owned(),
            good.replace("cap:1.2", "cap:1.1"),
            good.replace("<alert ", "<notice ")
                .replace("</alert>", "</notice>"),
            good.replace("<identifier>HUE-PCTT-2026-0003</identifier>", ""),
            good.replace("<sent>2026-11-03T06:00:00+07:00</sent>", ""),
            good.replace("2026-11-03T06:00:00+07:00", "yesterday"),
        ] {
            let refused = post_alert(&app, DISASTER_COMMITTEE, &bad).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        assert!(feed_of(&app, DISASTER_COMMITTEE).await.is_empty());

        assert_eq!(
            post_alert(&app, "police", &good).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(drop_alerts(&app, "police").await, StatusCode::NOT_FOUND);
        for path in [
            "police/feed.atom".to_owned(),
            format!("{POWER}/alerts/PCHUE-KH-9999.xml"),
            format!("{POWER}/alerts/{POWER_OUTAGE_IDENTIFIER}.json"),
            format!("{POWER}/alerts/{POWER_OUTAGE_IDENTIFIER}"),
            format!("{WATER}/alerts/{POWER_OUTAGE_IDENTIFIER}.xml"),
        ] {
            assert_eq!(
                get(&app, &path).await.status,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn faults_go_down_and_garbled_then_back_to_normal() {
        // Through the sandboxes' router, as the service reaches it.
        let app = crate::router();
        let fault = async |body| {
            testing::post_json(&app, "/sandbox/cap/faults", &body)
                .await
                .status
        };
        let feed = "water/feed.atom";
        assert_eq!(
            fault(serde_json::json!({ "mode": "down", "times": 1 })).await,
            StatusCode::NO_CONTENT
        );
        let down = get(&app, feed).await;
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.headers["retry-after"], "30");
        assert_eq!(get(&app, feed).await.status, StatusCode::OK);

        fault(serde_json::json!({ "mode": "garbage" })).await;
        let garbage = get(&app, feed).await;
        assert_eq!(garbage.status, StatusCode::OK);
        assert_eq!(garbage.headers["content-type"], ATOM_CONTENT_TYPE);
        assert!(roxmltree::Document::parse(&garbage.body).is_err());
        let document = get(&app, &format!("water/alerts/{WATER_CUT_IDENTIFIER}.xml")).await;
        assert_eq!(document.headers["content-type"], CAP_CONTENT_TYPE);
        assert!(roxmltree::Document::parse(&document.body).is_err());
        fault(serde_json::json!({ "mode": null })).await;
        assert_eq!(entries(&get(&app, feed).await.body).len(), 1);
    }

    /// The documents and feeds against the official OASIS CAP 1.2 schema and an Atom 1.0 one,
    /// with lxml (`scripts/cap-validator`, which installs them from PyPI on first use: python3
    /// and PyPI are required, without them the test fails).
    #[tokio::test]
    async fn an_independent_validator_finds_the_alerts_and_feeds_valid() {
        let app = app();
        let warning = flood_warning("HUE-PCTT-2026-0004", "2026-11-03T06:00:00+07:00");
        post_alert(&app, DISASTER_COMMITTEE, &warning).await;
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, body).unwrap();
            path
        };
        let power = get(&app, &format!("power/alerts/{POWER_OUTAGE_IDENTIFIER}.xml")).await;
        let water = get(&app, &format!("water/alerts/{WATER_CUT_IDENTIFIER}.xml")).await;
        let alerts = [
            write("power.xml", &power.body),
            write("water.xml", &water.body),
            write("warning.xml", &warning),
        ];
        let mut feeds = Vec::new();
        for publisher in [POWER, WATER, DISASTER_COMMITTEE] {
            let feed = get(&app, &format!("{publisher}/feed.atom")).await.body;
            feeds.push(write(&format!("{publisher}.atom"), &feed));
        }
        let validate = |mode: &str, files: &[std::path::PathBuf]| {
            let output = Command::new(VALIDATOR)
                .arg(mode)
                .args(files)
                .output()
                .expect("scripts/cap-validator runs");
            (
                output.status.success(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        };
        let (valid, errors) = validate("cap", &alerts);
        assert!(valid, "CAP 1.2 schema: {errors}");
        let (valid, errors) = validate("atom", &feeds);
        assert!(valid, "Atom: {errors}");

        // And it does tell: a time in UTC, as CAP forbids, and a feed's entry without its id.
        let utc = power.body.replacen("+07:00</sent>", "Z</sent>", 1);
        let (valid, errors) = validate("cap", &[write("utc.xml", &utc)]);
        assert!(!valid && errors.contains("sent"), "{errors}");
        let feed = std::fs::read_to_string(&feeds[0]).unwrap();
        let start = feed.find("<entry>\n    <id>").unwrap() + "<entry>\n".len();
        let end = start + feed[start..].find('\n').unwrap();
        let without_id = format!("{}{}", &feed[..start], &feed[end + 1..]);
        let (valid, errors) = validate("atom", &[write("no-id.atom", &without_id)]);
        assert!(!valid && errors.contains("0 id"), "{errors}");
    }
}
