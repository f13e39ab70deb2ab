//! OASIS Common Alerting Protocol 1.2: the alert as a value, read from a document (checked as
//! the schema and the standard's rules say, within bounds) and written back as one.

use chrono::{DateTime, FixedOffset, SecondsFormat};

pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
/// The largest document read: real alerts are a few kilobytes.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// The most vertices of one document's polygons together.
const MAX_VERTICES: usize = 10_000;

pub const STATUSES: &[&str] = &["Actual", "Exercise", "System", "Test", "Draft"];
pub const MSG_TYPES: &[&str] = &["Alert", "Update", "Cancel", "Ack", "Error"];
pub const SCOPES: &[&str] = &["Public", "Restricted", "Private"];
pub const CATEGORIES: &[&str] = &[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
];
pub const RESPONSE_TYPES: &[&str] = &[
    "Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None",
];
pub const URGENCIES: &[&str] = &["Immediate", "Expected", "Future", "Past", "Unknown"];
pub const SEVERITIES: &[&str] = &["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
pub const CERTAINTIES: &[&str] = &["Observed", "Likely", "Possible", "Unlikely", "Unknown"];

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub identifier: String,
    pub sender: String,
    pub sent: DateTime<FixedOffset>,
    pub status: String,
    pub msg_type: String,
    pub scope: String,
    pub note: Option<String>,
    /// The earlier messages an update or a cancel is about.
    pub references: Vec<Reference>,
    pub infos: Vec<Info>,
}

/// `sender,identifier,sent` of an earlier message.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub sender: String,
    pub identifier: String,
    pub sent: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// RFC 3066 language; `en-US` when the document gives none, as CAP says.
    pub language: String,
    pub categories: Vec<String>,
    pub event: String,
    pub response_types: Vec<String>,
    pub urgency: String,
    pub severity: String,
    pub certainty: String,
    pub effective: Option<DateTime<FixedOffset>>,
    pub onset: Option<DateTime<FixedOffset>>,
    pub expires: Option<DateTime<FixedOffset>>,
    pub sender_name: Option<String>,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    pub web: Option<String>,
    pub contact: Option<String>,
    pub areas: Vec<Area>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub area_desc: String,
    /// Closed rings of `(latitude, longitude)`, first point repeated last.
    pub polygons: Vec<Vec<(f64, f64)>>,
    pub circles: Vec<Circle>,
    /// `(valueName, value)`.
    pub geocodes: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    pub lat: f64,
    pub lng: f64,
    pub radius_km: f64,
}

/// Why a document is not a CAP 1.2 alert we can take.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CapError {
    #[error("larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    #[error("not XML: {0}")]
    NotXml(String),
    #[error("not a CAP 1.2 alert (root {0})")]
    NotAnAlert(String),
    #[error("<{0}> is missing")]
    Missing(&'static str),
    #[error("<{element}> is not one of the values CAP allows: {value}")]
    NotAllowed {
        element: &'static str,
        value: String,
    },
    #[error("<{element}> is not a CAP date and time (YYYY-MM-DDThh:mm:ss±hh:mm): {value}")]
    BadTime {
        element: &'static str,
        value: String,
    },
    #[error("a polygon must be a closed ring of at least 4 \"lat,lon\" points within range: {0}")]
    BadPolygon(String),
    #[error("a circle must be \"lat,lon radius\" with the radius in km: {0}")]
    BadCircle(String),
    #[error("<references> must list \"sender,identifier,sent\" triples: {0}")]
    BadReferences(String),
    #[error("an update or cancel must reference the messages it is about")]
    NoReferences,
    #[error("the polygons hold more than {MAX_VERTICES} points")]
    TooManyPoints,
}

impl Alert {
    /// Reads a CAP 1.2 document. DTDs are refused, so no entity can expand or reach outside.
    pub fn parse(document: &str) -> Result<Alert, CapError> {
        if document.len() > MAX_DOCUMENT_BYTES {
            return Err(CapError::TooLarge);
        }
        let doc =
            roxmltree::Document::parse(document).map_err(|e| CapError::NotXml(e.to_string()))?;
        let root = doc.root_element();
        if root.tag_name().namespace() != Some(NAMESPACE) || root.tag_name().name() != "alert" {
            return Err(CapError::NotAnAlert(format!(
                "{{{}}}{}",
                root.tag_name().namespace().unwrap_or_default(),
                root.tag_name().name()
            )));
        }
        let mut vertices = 0;
        let alert = Alert {
            identifier: required(root, "identifier")?,
            sender: required(root, "sender")?,
            sent: time(&required(root, "sent")?, "sent")?,
            status: allowed(root, "status", STATUSES)?,
            msg_type: allowed(root, "msgType", MSG_TYPES)?,
            scope: allowed(root, "scope", SCOPES)?,
            note: text(root, "note"),
            references: match text(root, "references") {
                Some(list) => references(&list)?,
                None => Vec::new(),
            },
            infos: children(root, "info")
                .map(|info| parse_info(info, &mut vertices))
                .collect::<Result<_, _>>()?,
        };
        if matches!(alert.msg_type.as_str(), "Update" | "Cancel") && alert.references.is_empty() {
            return Err(CapError::NoReferences);
        }
        Ok(alert)
    }

    /// The alert as a CAP 1.2 document.
    pub fn to_xml(&self) -> String {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml.push_str(&format!("<alert xmlns=\"{NAMESPACE}\">\n"));
        element(&mut xml, 1, "identifier", &self.identifier);
        element(&mut xml, 1, "sender", &self.sender);
        element(&mut xml, 1, "sent", &cap_time(&self.sent));
        element(&mut xml, 1, "status", &self.status);
        element(&mut xml, 1, "msgType", &self.msg_type);
        element(&mut xml, 1, "scope", &self.scope);
        optional(&mut xml, 1, "note", &self.note);
        if !self.references.is_empty() {
            let list: Vec<String> = self
                .references
                .iter()
                .map(|r| format!("{},{},{}", r.sender, r.identifier, r.sent))
                .collect();
            element(&mut xml, 1, "references", &list.join(" "));
        }
        for info in &self.infos {
            xml.push_str("  <info>\n");
            element(&mut xml, 2, "language", &info.language);
            for category in &info.categories {
                element(&mut xml, 2, "category", category);
            }
            element(&mut xml, 2, "event", &info.event);
            for response in &info.response_types {
                element(&mut xml, 2, "responseType", response);
            }
            element(&mut xml, 2, "urgency", &info.urgency);
            element(&mut xml, 2, "severity", &info.severity);
            element(&mut xml, 2, "certainty", &info.certainty);
            for (name, at) in [
                ("effective", info.effective),
                ("onset", info.onset),
                ("expires", info.expires),
            ] {
                if let Some(at) = at {
                    element(&mut xml, 2, name, &cap_time(&at));
                }
            }
            optional(&mut xml, 2, "senderName", &info.sender_name);
            optional(&mut xml, 2, "headline", &info.headline);
            optional(&mut xml, 2, "description", &info.description);
            optional(&mut xml, 2, "instruction", &info.instruction);
            optional(&mut xml, 2, "web", &info.web);
            optional(&mut xml, 2, "contact", &info.contact);
            for area in &info.areas {
                xml.push_str("    <area>\n");
                element(&mut xml, 3, "areaDesc", &area.area_desc);
                for ring in &area.polygons {
                    let points: Vec<String> = ring
                        .iter()
                        .map(|(lat, lng)| format!("{lat},{lng}"))
                        .collect();
                    element(&mut xml, 3, "polygon", &points.join(" "));
                }
                for circle in &area.circles {
                    element(
                        &mut xml,
                        3,
                        "circle",
                        &format!("{},{} {}", circle.lat, circle.lng, circle.radius_km),
                    );
                }
                for (name, value) in &area.geocodes {
                    xml.push_str("      <geocode>\n");
                    element(&mut xml, 4, "valueName", name);
                    element(&mut xml, 4, "value", value);
                    xml.push_str("      </geocode>\n");
                }
                xml.push_str("    </area>\n");
            }
            xml.push_str("  </info>\n");
        }
        xml.push_str("</alert>\n");
        xml
    }

    /// The `<references>` entry naming this message.
    pub fn reference(&self) -> Reference {
        Reference {
            sender: self.sender.clone(),
            identifier: self.identifier.clone(),
            sent: cap_time(&self.sent),
        }
    }
}

/// A time as CAP writes it: seconds, and an offset (never `Z`).
pub fn cap_time(at: &DateTime<FixedOffset>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn parse_info(info: roxmltree::Node, vertices: &mut usize) -> Result<Info, CapError> {
    let categories = children(info, "category")
        .map(|c| one_of(c.text().unwrap_or_default().trim(), "category", CATEGORIES))
        .collect::<Result<Vec<_>, _>>()?;
    if categories.is_empty() {
        return Err(CapError::Missing("category"));
    }
    Ok(Info {
        language: text(info, "language").unwrap_or_else(|| "en-US".to_owned()),
        categories,
        event: required(info, "event")?,
        response_types: children(info, "responseType")
            .map(|r| {
                one_of(
                    r.text().unwrap_or_default().trim(),
                    "responseType",
                    RESPONSE_TYPES,
                )
            })
            .collect::<Result<_, _>>()?,
        urgency: allowed(info, "urgency", URGENCIES)?,
        severity: allowed(info, "severity", SEVERITIES)?,
        certainty: allowed(info, "certainty", CERTAINTIES)?,
        effective: text(info, "effective")
            .map(|t| time(&t, "effective"))
            .transpose()?,
        onset: text(info, "onset").map(|t| time(&t, "onset")).transpose()?,
        expires: text(info, "expires")
            .map(|t| time(&t, "expires"))
            .transpose()?,
        sender_name: text(info, "senderName"),
        headline: text(info, "headline"),
        description: text(info, "description"),
        instruction: text(info, "instruction"),
        web: text(info, "web"),
        contact: text(info, "contact"),
        areas: children(info, "area")
            .map(|area| parse_area(area, vertices))
            .collect::<Result<_, _>>()?,
    })
}

fn parse_area(area: roxmltree::Node, vertices: &mut usize) -> Result<Area, CapError> {
    let mut polygons = Vec::new();
    for polygon in children(area, "polygon") {
        let ring = polygon_ring(polygon.text().unwrap_or_default())?;
        *vertices += ring.len();
        if *vertices > MAX_VERTICES {
            return Err(CapError::TooManyPoints);
        }
        polygons.push(ring);
    }
    Ok(Area {
        area_desc: required(area, "areaDesc")?,
        polygons,
        circles: children(area, "circle")
            .map(|c| circle(c.text().unwrap_or_default()))
            .collect::<Result<_, _>>()?,
        geocodes: children(area, "geocode")
            .map(|g| Ok((required(g, "valueName")?, required(g, "value")?)))
            .collect::<Result<_, _>>()?,
    })
}

/// A polygon's points: at least 4, the first repeated last.
pub fn polygon_ring(text: &str) -> Result<Vec<(f64, f64)>, CapError> {
    let bad = || CapError::BadPolygon(excerpt(text));
    let ring = text
        .split_whitespace()
        .map(|pair| point(pair).ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()?;
    if ring.len() < 4 || ring.first() != ring.last() {
        return Err(bad());
    }
    Ok(ring)
}

fn circle(text: &str) -> Result<Circle, CapError> {
    let bad = || CapError::BadCircle(excerpt(text));
    let mut parts = text.split_whitespace();
    let (lat, lng) = parts.next().and_then(point).ok_or_else(bad)?;
    let radius_km: f64 = parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
    if parts.next().is_some() || !radius_km.is_finite() || radius_km < 0.0 {
        return Err(bad());
    }
    Ok(Circle {
        lat,
        lng,
        radius_km,
    })
}

fn point(pair: &str) -> Option<(f64, f64)> {
    let (lat, lng) = pair.split_once(',')?;
    let (lat, lng): (f64, f64) = (lat.parse().ok()?, lng.parse().ok()?);
    platform::geo::valid_position(lat, lng).then_some((lat, lng))
}

fn references(list: &str) -> Result<Vec<Reference>, CapError> {
    list.split_whitespace()
        .map(|triple| {
            let mut parts = triple.splitn(3, ',');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(sender), Some(identifier), Some(sent))
                    if !sender.is_empty() && !identifier.is_empty() && !sent.is_empty() =>
                {
                    Ok(Reference {
                        sender: sender.to_owned(),
                        identifier: identifier.to_owned(),
                        sent: sent.to_owned(),
                    })
                }
                _ => Err(CapError::BadReferences(excerpt(triple))),
            }
        })
        .collect()
}

/// CAP times carry seconds and an offset, no fraction and no `Z` (the schema's pattern).
fn time(text: &str, element: &'static str) -> Result<DateTime<FixedOffset>, CapError> {
    let bad = || CapError::BadTime {
        element,
        value: excerpt(text),
    };
    let shaped = text.len() == 25
        && text.as_bytes()[10] == b'T'
        && matches!(text.as_bytes()[19], b'+' | b'-');
    if !shaped {
        return Err(bad());
    }
    DateTime::parse_from_rfc3339(text).map_err(|_| bad())
}

fn children<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> {
    node.children().filter(move |n| {
        n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(NAMESPACE)
    })
}

fn text(node: roxmltree::Node, name: &'static str) -> Option<String> {
    children(node, name)
        .next()
        .and_then(|n| n.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn required(node: roxmltree::Node, name: &'static str) -> Result<String, CapError> {
    text(node, name).ok_or(CapError::Missing(name))
}

fn allowed(node: roxmltree::Node, name: &'static str, values: &[&str]) -> Result<String, CapError> {
    one_of(&required(node, name)?, name, values)
}

fn one_of(value: &str, element: &'static str, values: &[&str]) -> Result<String, CapError> {
    if values.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(CapError::NotAllowed {
            element,
            value: excerpt(value),
        })
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(80).collect()
}

fn element(xml: &mut String, depth: usize, name: &str, value: &str) {
    for _ in 0..depth {
        xml.push_str("  ");
    }
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    escape_into(xml, value);
    xml.push_str("</");
    xml.push_str(name);
    xml.push_str(">\n");
}

fn optional(xml: &mut String, depth: usize, name: &str, value: &Option<String>) {
    if let Some(value) = value {
        element(xml, depth, name, value);
    }
}

/// Escapes text for XML content and attributes; drops characters XML 1.0 cannot carry.
pub fn escape_into(xml: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => xml.push_str("&amp;"),
            '<' => xml.push_str("&lt;"),
            '>' => xml.push_str("&gt;"),
            '"' => xml.push_str("&quot;"),
            '\'' => xml.push_str("&apos;"),
            '\t' | '\n' | '\r' => xml.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => xml.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn flood_warning() -> Alert {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap();
        Alert {
            identifier: "PCTT-HUE-2026-0042".to_owned(),
            sender: "pctt@hue.gov.vn".to_owned(),
            sent: at("2026-12-07T08:00:00+07:00"),
            status: "Actual".to_owned(),
            msg_type: "Alert".to_owned(),
            scope: "Public".to_owned(),
            note: None,
            references: Vec::new(),
            infos: vec![Info {
                language: "vi-VN".to_owned(),
                categories: vec!["Met".to_owned()],
                event: "Lũ trên sông Hương".to_owned(),
                response_types: vec!["Prepare".to_owned()],
                urgency: "Expected".to_owned(),
                severity: "Severe".to_owned(),
                certainty: "Likely".to_owned(),
                effective: Some(at("2026-12-07T08:00:00+07:00")),
                onset: None,
                expires: Some(at("2026-12-08T08:00:00+07:00")),
                sender_name: Some("Ban Chỉ huy PCTT & TKCN thành phố Huế".to_owned()),
                headline: Some("Lũ sông Hương lên trên báo động II <Kim Long>".to_owned()),
                description: Some("Mực nước tại Kim Long 2,4 m & đang lên.".to_owned()),
                instruction: None,
                web: None,
                contact: None,
                areas: vec![Area {
                    area_desc: "Vùng trũng ven sông Hương".to_owned(),
                    polygons: vec![vec![
                        (16.46, 107.55),
                        (16.48, 107.55),
                        (16.48, 107.60),
                        (16.46, 107.55),
                    ]],
                    circles: vec![Circle {
                        lat: 16.4656,
                        lng: 107.5622,
                        radius_km: 2.5,
                    }],
                    geocodes: vec![("ward".to_owned(), "kim-long".to_owned())],
                }],
            }],
        }
    }

    #[test]
    fn an_alert_survives_writing_and_reading() {
        let alert = flood_warning();
        let xml = alert.to_xml();
        assert!(xml.contains("<sent>2026-12-07T08:00:00+07:00</sent>"));
        assert!(xml.contains("&lt;Kim Long&gt;") && xml.contains("2,4 m &amp; đang"));
        assert_eq!(Alert::parse(&xml).unwrap(), alert);
    }

    #[test]
    fn what_the_standard_forbids_is_refused() {
        let xml = flood_warning().to_xml();
        let with = |from: &str, to: &str| Alert::parse(&xml.replace(from, to));
        assert!(matches!(
            with("<status>Actual", "<status>Real"),
            Err(CapError::NotAllowed {
                element: "status",
                ..
            })
        ));
        assert!(matches!(
            with("08:00:00+07:00</sent>", "08:00:00Z</sent>"),
            Err(CapError::BadTime { .. })
        ));
        assert!(matches!(
            with("16.46,107.55</polygon>", "16.47,107.55</polygon>"),
            Err(CapError::BadPolygon(_))
        ));
        assert!(matches!(
            with("<msgType>Alert", "<msgType>Cancel"),
            Err(CapError::NoReferences)
        ));
        assert!(matches!(
            with(NAMESPACE, "urn:oasis:names:tc:emergency:cap:1.1"),
            Err(CapError::NotAnAlert(_))
        ));
        assert!(matches!(
            with("<severity>Severe", "<severity>Bad"),
            Err(CapError::NotAllowed { .. })
        ));
        let without_sender = xml.replace("<sender>pctt@hue.gov.vn</sender>", "");
        assert_eq!(
            Alert::parse(&without_sender),
            Err(CapError::Missing("sender"))
        );
    }

    #[test]
    fn entities_cannot_expand_or_reach_outside() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;">]><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&y;</identifier></alert>"#;
        assert!(matches!(Alert::parse(bomb), Err(CapError::NotXml(_))));
        let big = "x".repeat(MAX_DOCUMENT_BYTES + 1);
        assert_eq!(Alert::parse(&big), Err(CapError::TooLarge));
    }

    #[test]
    fn references_are_triples() {
        let refs =
            references("a@b,ID-1,2026-12-07T08:00:00+07:00 a@b,ID-2,2026-12-07T09:00:00+07:00")
                .unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[1].identifier, "ID-2");
        assert!(references("a@b,ID-1").is_err());
    }
}
