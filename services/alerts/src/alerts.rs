//! Alerts as residents read them and as operators write them, and taking a CAP message in:
//! stored with the messages it replaces marked, and told, through notifications, to everyone
//! in its area, in the same transaction.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use geo::{Contains, Point};
use platform::auth::{Principal, Role};
use platform::error::SharedError;
use platform::events::types::{AlertIssued, RiverAlarmRaised};
use platform::extract::{IdempotencyKey, JsonBody, QueryParams};
use platform::text::Text;
use platform::vietnam_time::OFFSET;
use platform::{ApiError, idempotency};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::cap::{self, Alert as CapAlert, Area as CapArea, Circle, Info};
use crate::config::AlertsConfig;
use crate::{AlertsError, AlertsState};

/// What the app files alerts under, one per catalogue entry.
pub const KINDS: &[&str] = &[
    "disaster",
    "traffic",
    "power_outage",
    "water_outage",
    "scam",
    "announcement",
    "neighbourhood",
];
const MAX_HEADLINE_CHARS: usize = 160;
const MAX_TEXT_CHARS: usize = 2000;
/// Google Public Alerts' limit on `areaDesc`.
const MAX_AREA_DESC_CHARS: usize = 49;
/// A push carries the headline and the start of the description.
const PUSH_BODY_CHARS: usize = 300;
const PUSH_TITLE_CHARS: usize = 100;
const OPERATOR_ALERT: &str = "POST /v1/admin/alerts";

/// An alert of the city, as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    id: Uuid,
    jurisdiction: String,
    /// `disaster`, `traffic`, `power_outage`, `water_outage`, `scam` or `announcement`.
    kind: String,
    /// `active`, `updated` (a newer message replaced it), `cancelled` or `expired`; a cancel
    /// message itself is `cancellation`.
    state: String,
    /// `Alert`, `Update` or `Cancel`.
    msg_type: String,
    urgency: String,
    severity: String,
    certainty: String,
    /// Goes through quiet hours: severe or extreme, and immediate or expected.
    urgent: bool,
    event: Text,
    headline: Text,
    description: Option<Text>,
    instruction: Option<Text>,
    area_desc: Text,
    /// The area's polygons (circles drawn as polygons), GeoJSON; none when wards say where.
    #[schema(value_type = Option<Object>)]
    area: Option<Value>,
    wards: Vec<String>,
    /// Whether the point asked about lies in the area's polygons; absent for an area of wards.
    #[serde(skip_serializing_if = "Option::is_none")]
    applies_here: Option<bool>,
    sender: String,
    /// In Vietnam's time.
    sent: DateTime<FixedOffset>,
    effective: DateTime<FixedOffset>,
    onset: Option<DateTime<FixedOffset>>,
    expires: Option<DateTime<FixedOffset>>,
    replaced_by: Option<Uuid>,
}

struct Row {
    id: Uuid,
    jurisdiction: String,
    kind: String,
    msg_type: String,
    urgency: String,
    severity: String,
    certainty: String,
    event_vi: String,
    event_en: String,
    headline_vi: String,
    headline_en: String,
    description_vi: Option<String>,
    description_en: Option<String>,
    instruction_vi: Option<String>,
    instruction_en: Option<String>,
    area_desc_vi: String,
    area_desc_en: String,
    area: Option<Value>,
    wards: Vec<String>,
    sender: String,
    sent: DateTime<Utc>,
    effective: DateTime<Utc>,
    onset: Option<DateTime<Utc>>,
    expires: Option<DateTime<Utc>>,
    replaced_by: Option<Uuid>,
    replacement_type: Option<String>,
}

impl Row {
    fn view(self, point: Option<(f64, f64)>, now: DateTime<Utc>) -> AlertView {
        let state = match (self.msg_type.as_str(), self.replacement_type.as_deref()) {
            ("Cancel", _) => "cancellation",
            (_, Some("Cancel")) => "cancelled",
            (_, Some(_)) => "updated",
            _ if self.expires.is_some_and(|e| e <= now) => "expired",
            _ => "active",
        };
        let applies_here = point.map(|(lat, lng)| {
            self.area
                .as_ref()
                .is_some_and(|area| contains(area, lat, lng))
        });
        let both = |vi: Option<String>, en: Option<String>| match (vi, en) {
            (Some(vi), Some(en)) => Some(Text { vi, en }),
            (Some(one), None) | (None, Some(one)) => Some(Text {
                vi: one.clone(),
                en: one,
            }),
            (None, None) => None,
        };
        AlertView {
            id: self.id,
            jurisdiction: self.jurisdiction,
            kind: self.kind,
            state: state.to_owned(),
            urgent: is_urgent(&self.severity, &self.urgency),
            msg_type: self.msg_type,
            urgency: self.urgency,
            severity: self.severity,
            certainty: self.certainty,
            event: Text {
                vi: self.event_vi,
                en: self.event_en,
            },
            headline: Text {
                vi: self.headline_vi,
                en: self.headline_en,
            },
            description: both(self.description_vi, self.description_en),
            instruction: both(self.instruction_vi, self.instruction_en),
            area_desc: Text {
                vi: self.area_desc_vi,
                en: self.area_desc_en,
            },
            area: self.area,
            wards: self.wards,
            applies_here,
            sender: self.sender,
            sent: self.sent.with_timezone(&OFFSET),
            effective: self.effective.with_timezone(&OFFSET),
            onset: self.onset.map(|t| t.with_timezone(&OFFSET)),
            expires: self.expires.map(|t| t.with_timezone(&OFFSET)),
            replaced_by: self.replaced_by,
        }
    }
}

/// Whether quiet hours give way: a severe or extreme alert that is immediate or expected.
pub fn is_urgent(severity: &str, urgency: &str) -> bool {
    matches!(severity, "Extreme" | "Severe") && matches!(urgency, "Immediate" | "Expected")
}

/// GeoJSON areas as stored: a MultiPolygon of `[longitude, latitude]` rings.
pub mod geojson_shape {
    use geo::{LineString, MultiPolygon, Polygon};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(tag = "type", content = "coordinates")]
    pub enum Shape {
        MultiPolygon(Vec<Vec<Vec<[f64; 2]>>>),
    }

    impl Shape {
        pub fn to_geo(&self) -> MultiPolygon<f64> {
            let Shape::MultiPolygon(polygons) = self;
            MultiPolygon::new(
                polygons
                    .iter()
                    .map(|rings| {
                        let mut rings = rings.iter().map(|ring| {
                            LineString::from(ring.iter().map(|[x, y]| (*x, *y)).collect::<Vec<_>>())
                        });
                        let exterior = rings.next().unwrap_or_else(|| LineString::new(Vec::new()));
                        Polygon::new(exterior, rings.collect())
                    })
                    .collect(),
            )
        }
    }
}

/// One CAP info's areas (polygons, and circles as 32-sided polygons) as one MultiPolygon, and
/// the wards named by `ward` geocodes; `None` for the shape when there is no polygon or circle.
fn area_of(areas: &[CapArea]) -> (Option<geojson_shape::Shape>, Vec<String>) {
    let mut polygons = Vec::new();
    let mut wards = Vec::new();
    for area in areas {
        for ring in &area.polygons {
            polygons.push(vec![ring.iter().map(|(lat, lng)| [*lng, *lat]).collect()]);
        }
        for circle in &area.circles {
            polygons.push(vec![circle_ring(circle)]);
        }
        for (name, value) in &area.geocodes {
            if name == WARD_GEOCODE {
                wards.push(value.clone());
            }
        }
    }
    wards.sort();
    wards.dedup();
    let shape = (!polygons.is_empty()).then_some(geojson_shape::Shape::MultiPolygon(polygons));
    (shape, wards)
}

/// The geocode `valueName` of a ward of the jurisdiction, by its id.
pub const WARD_GEOCODE: &str = "citizen:ward";

fn circle_ring(circle: &Circle) -> Vec<[f64; 2]> {
    const SIDES: usize = 32;
    let dlat = circle.radius_km / 111.32;
    let dlng = circle.radius_km / (111.32 * circle.lat.to_radians().cos().max(0.01));
    let mut ring: Vec<[f64; 2]> = (0..SIDES)
        .map(|i| {
            let angle = i as f64 / SIDES as f64 * std::f64::consts::TAU;
            [
                circle.lng + dlng * angle.cos(),
                circle.lat + dlat * angle.sin(),
            ]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

/// What an ingested or written CAP message became.
pub enum Taken {
    New(Uuid),
    /// The same `sender` and `identifier` were taken before.
    Known,
}

/// Stores a CAP message of `jurisdiction`, marks what it replaces, and tells its area, in
/// `tx`. Updates and cancels replace only the same sender's messages.
pub async fn take(
    tx: &mut PgConnection,
    jurisdiction: &str,
    kind: &str,
    source: &str,
    created_by: Option<Uuid>,
    alert: &CapAlert,
    document: &str,
) -> anyhow::Result<Taken> {
    let pick = |prefix: &str| {
        alert
            .infos
            .iter()
            .find(|info| info.language.to_ascii_lowercase().starts_with(prefix))
            .or_else(|| alert.infos.first())
    };
    let (Some(vi), Some(en)) = (pick("vi"), pick("en")) else {
        anyhow::bail!("the message has no info");
    };
    let (shape, wards) = area_of(&vi.areas);
    let id = Uuid::now_v7();
    let headline = |info: &Info| info.headline.clone().unwrap_or_else(|| info.event.clone());
    let area_desc = |info: &Info| {
        let descs: Vec<&str> = info.areas.iter().map(|a| a.area_desc.as_str()).collect();
        descs.join("; ")
    };
    let utc = |t: Option<DateTime<FixedOffset>>| t.map(|t| t.with_timezone(&Utc));
    let inserted = sqlx::query!(
        r#"INSERT INTO alerts (id, jurisdiction, sender, identifier, sent, msg_type, kind, urgency,
               severity, certainty, effective, onset, expires, event_vi, event_en, headline_vi,
               headline_en, description_vi, description_en, instruction_vi, instruction_en,
               area_desc_vi, area_desc_en, area, wards, source, created_by, document)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                   $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)
           ON CONFLICT (sender, identifier) DO NOTHING"#,
        id,
        jurisdiction,
        alert.sender,
        alert.identifier,
        alert.sent.with_timezone(&Utc),
        alert.msg_type,
        kind,
        vi.urgency,
        vi.severity,
        vi.certainty,
        utc(vi.effective).unwrap_or(alert.sent.with_timezone(&Utc)),
        utc(vi.onset),
        utc(vi.expires),
        vi.event,
        en.event,
        headline(vi),
        headline(en),
        vi.description,
        en.description,
        vi.instruction,
        en.instruction,
        area_desc(vi),
        area_desc(en),
        shape
            .as_ref()
            .map(|s| serde_json::to_value(s))
            .transpose()?,
        &wards,
        source,
        created_by,
        document,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(Taken::Known);
    }
    for reference in &alert.references {
        if reference.sender != alert.sender {
            tracing::warn!(
                sender = alert.sender,
                referenced = reference.sender,
                "a message may replace only its own sender's; reference ignored"
            );
            continue;
        }
        sqlx::query!(
            "UPDATE alerts SET replaced_by = $1 WHERE sender = $2 AND identifier = $3 AND replaced_by IS NULL AND id <> $1",
            id,
            reference.sender,
            reference.identifier
        )
        .execute(&mut *tx)
        .await?;
    }
    let area = match (&shape, wards.is_empty()) {
        (Some(shape), _) => Some(json!({ "polygon": shape })),
        (None, false) => Some(json!({ "wards": wards })),
        (None, true) => None,
    };
    let in_force = alert.status == "Actual" && utc(vi.expires).is_none_or(|e| e > Utc::now());
    match area {
        Some(area) if in_force => {
            let (prefix_vi, prefix_en) = match alert.msg_type.as_str() {
                "Update" => ("Cập nhật: ", "Update: "),
                "Cancel" => ("Hủy cảnh báo: ", "Cancelled: "),
                _ => ("", ""),
            };
            let event = AlertIssued {
                alert_id: id,
                jurisdiction: jurisdiction.to_owned(),
                area,
                msg_type: alert.msg_type.clone(),
                headline_vi: cut(&format!("{prefix_vi}{}", headline(vi)), PUSH_TITLE_CHARS),
                headline_en: cut(&format!("{prefix_en}{}", headline(en)), PUSH_TITLE_CHARS),
                description_vi: cut(
                    vi.description.as_deref().unwrap_or(&vi.event),
                    PUSH_BODY_CHARS,
                ),
                description_en: cut(
                    en.description.as_deref().unwrap_or(&en.event),
                    PUSH_BODY_CHARS,
                ),
                // A cancel carries what it cancels' scale: the all-clear of a night's
                // evacuation goes out at once too.
                urgent: is_urgent(&vi.severity, &vi.urgency),
            };
            platform::events::enqueue(tx, id, &event).await?;
        }
        Some(_) => {}
        None => {
            tracing::info!(alert = %id, "an alert without a polygon, circle or ward: shown, told to no one")
        }
    }
    Ok(Taken::New(id))
}

/// Takes a message an operator wrote, as a CAP document of ours; its identifier is new.
async fn take_written(
    tx: &mut PgConnection,
    jurisdiction: &str,
    kind: &str,
    account: Uuid,
    alert: &CapAlert,
) -> Result<Uuid, ApiError> {
    let document = alert.to_xml();
    match take(
        tx,
        jurisdiction,
        kind,
        "operator",
        Some(account),
        alert,
        &document,
    )
    .await
    .map_err(ApiError::internal)?
    {
        Taken::New(id) => Ok(id),
        Taken::Known => Err(ApiError::internal(anyhow::anyhow!(
            "a new identifier was taken already"
        ))),
    }
}

/// `text` in at most `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The jurisdiction; the deployment's first by default.
    jurisdiction: Option<String>,
    /// One kind only.
    kind: Option<String>,
    /// Only alerts naming this ward (a ward's notices, say).
    ward: Option<String>,
    /// Where the resident is: alerts covering it come first, marked `applies_here`.
    lat: Option<f64>,
    lng: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    alerts: Vec<AlertView>,
}

/// The alerts in force, those covering the point first, then the most severe, then the newest.
#[utoipa::path(get, path = "/v1/alerts", operation_id = "list_alerts", tag = "alerts", params(ListQuery),
    responses((status = 200, body = AlertList),
        (status = 422, description = "`invalid_position`, `unknown_alert_kind`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AlertsState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<AlertList>, ApiError> {
    let point = platform::geo::optional_position(query.lat, query.lng)?;
    if let Some(kind) = &query.kind
        && !KINDS.contains(&kind.as_str())
    {
        return Err(AlertsError::UnknownAlertKind.into());
    }
    let jurisdiction = query
        .jurisdiction
        .unwrap_or_else(|| state.default_jurisdiction());
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT a.id, a.jurisdiction, a.kind, a.msg_type, a.urgency, a.severity, a.certainty,
                  a.event_vi, a.event_en, a.headline_vi, a.headline_en, a.description_vi,
                  a.description_en, a.instruction_vi, a.instruction_en, a.area_desc_vi,
                  a.area_desc_en, a.area, a.wards, a.sender, a.sent, a.effective, a.onset,
                  a.expires, a.replaced_by, NULL::text AS replacement_type
           FROM alerts a
           WHERE a.jurisdiction = $1 AND a.replaced_by IS NULL AND a.msg_type <> 'Cancel'
             AND (a.expires IS NULL OR a.expires > now())
             AND ($2::text IS NULL OR a.kind = $2)
             AND ($3::text IS NULL OR $3 = ANY(a.wards))
           ORDER BY a.sent DESC
           LIMIT 200"#,
        jurisdiction,
        query.kind,
        query.ward
    )
    .fetch_all(&state.pool)
    .await?;
    let now = Utc::now();
    let mut alerts: Vec<AlertView> = rows.into_iter().map(|row| row.view(point, now)).collect();
    let rank = |severity: &str| {
        cap::SEVERITIES
            .iter()
            .position(|s| *s == severity)
            .unwrap_or(9)
    };
    // Covering the point first, then those of wards (which may), then the others.
    let here = |alert: &AlertView| match alert.applies_here {
        Some(true) => 0,
        None => 1,
        Some(false) => 2,
    };
    alerts.sort_by(|a, b| {
        here(a)
            .cmp(&here(b))
            .then(rank(&a.severity).cmp(&rank(&b.severity)))
            .then(b.sent.cmp(&a.sent))
    });
    Ok(Json(AlertList { alerts }))
}

async fn load(state: &AlertsState, id: Uuid) -> Result<Row, ApiError> {
    sqlx::query_as!(
        Row,
        r#"SELECT a.id, a.jurisdiction, a.kind, a.msg_type, a.urgency, a.severity, a.certainty,
                  a.event_vi, a.event_en, a.headline_vi, a.headline_en, a.description_vi,
                  a.description_en, a.instruction_vi, a.instruction_en, a.area_desc_vi,
                  a.area_desc_en, a.area, a.wards, a.sender, a.sent, a.effective, a.onset,
                  a.expires, a.replaced_by, r.msg_type AS "replacement_type?"
           FROM alerts a LEFT JOIN alerts r ON r.id = a.replaced_by
           WHERE a.id = $1"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| AlertsError::AlertNotFound.into())
}

/// One alert, whatever its state.
#[utoipa::path(get, path = "/v1/alerts/{id}", operation_id = "get_alert", tag = "alerts",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AlertView),
        (status = 404, description = "`alert_not_found`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AlertsState>,
    Path(id): Path<Uuid>,
) -> Result<Json<AlertView>, ApiError> {
    Ok(Json(load(&state, id).await?.view(None, Utc::now())))
}

/// The alert's CAP 1.2 document.
#[utoipa::path(get, path = "/v1/alerts/{id}/cap", operation_id = "get_alert_cap", tag = "alerts",
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/cap+xml", body = String),
        (status = 404, description = "`alert_not_found`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn document(
    State(state): State<AlertsState>,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let document = sqlx::query_scalar!("SELECT document FROM alerts WHERE id = $1", id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(AlertsError::AlertNotFound)?;
    let mut response = document.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/cap+xml; charset=utf-8"),
    );
    // An authority's document is served as it came: a browser opening it runs nothing.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(response)
}

/// An alert a jurisdiction's operator writes.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAlert {
    jurisdiction: String,
    /// `disaster`, `traffic`, `power_outage`, `water_outage`, `scam` or `announcement`.
    kind: String,
    event_vi: String,
    event_en: String,
    headline_vi: String,
    headline_en: String,
    description_vi: String,
    description_en: String,
    instruction_vi: Option<String>,
    instruction_en: Option<String>,
    /// CAP's `Immediate`, `Expected`, `Future`, `Past` or `Unknown`.
    urgency: String,
    /// CAP's `Extreme`, `Severe`, `Moderate`, `Minor` or `Unknown`.
    severity: String,
    /// CAP's `Observed`, `Likely`, `Possible`, `Unlikely` or `Unknown`.
    certainty: String,
    onset: Option<DateTime<Utc>>,
    /// Within 30 days.
    expires: DateTime<Utc>,
    /// Under 50 characters each, as alert aggregators show them.
    area_desc_vi: String,
    area_desc_en: String,
    /// Exactly one of `{"wards": ["phu-xuan"]}`, `{"polygon": <GeoJSON Polygon or
    /// MultiPolygon>}` or `{"circle": {"lat": 16.46, "lng": 107.59, "radius_m": 1500}}`.
    #[schema(value_type = Object, example = json!({ "wards": ["phu-xuan"] }))]
    area: Value,
    /// The alert in force this one updates (same jurisdiction).
    updates: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum NewArea {
    Wards(Vec<String>),
    Polygon(GeoJsonPolygon),
    Circle { lat: f64, lng: f64, radius_m: f64 },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", content = "coordinates")]
enum GeoJsonPolygon {
    Polygon(Vec<Vec<[f64; 2]>>),
    MultiPolygon(Vec<Vec<Vec<[f64; 2]>>>),
}

impl NewAlert {
    fn validate(&self) -> Result<NewArea, ApiError> {
        if !KINDS.contains(&self.kind.as_str()) {
            return Err(AlertsError::UnknownAlertKind.into());
        }
        if !cap::URGENCIES.contains(&self.urgency.as_str())
            || !cap::SEVERITIES.contains(&self.severity.as_str())
            || !cap::CERTAINTIES.contains(&self.certainty.as_str())
        {
            return Err(AlertsError::InvalidAlertScale.into());
        }
        let texts = [
            ("event_vi", Some(&self.event_vi), MAX_HEADLINE_CHARS),
            ("event_en", Some(&self.event_en), MAX_HEADLINE_CHARS),
            ("headline_vi", Some(&self.headline_vi), MAX_HEADLINE_CHARS),
            ("headline_en", Some(&self.headline_en), MAX_HEADLINE_CHARS),
            ("description_vi", Some(&self.description_vi), MAX_TEXT_CHARS),
            ("description_en", Some(&self.description_en), MAX_TEXT_CHARS),
            (
                "instruction_vi",
                self.instruction_vi.as_ref(),
                MAX_TEXT_CHARS,
            ),
            (
                "instruction_en",
                self.instruction_en.as_ref(),
                MAX_TEXT_CHARS,
            ),
            (
                "area_desc_vi",
                Some(&self.area_desc_vi),
                MAX_AREA_DESC_CHARS,
            ),
            (
                "area_desc_en",
                Some(&self.area_desc_en),
                MAX_AREA_DESC_CHARS,
            ),
        ];
        for (field, text, max) in texts {
            let Some(text) = text else { continue };
            let chars = text.trim().chars().count();
            if chars == 0 || chars > max || text.chars().any(|c| c.is_control() && c != '\n') {
                return Err(SharedError::InvalidField {
                    field,
                    rule_vi: format!("từ 1 đến {max} ký tự, không có ký tự điều khiển"),
                    rule_en: format!("1 to {max} characters, no control characters"),
                }
                .into());
            }
        }
        let now = Utc::now();
        if self.expires <= now
            || self.expires > now + TimeDelta::days(30)
            || self.onset.is_some_and(|onset| onset >= self.expires)
        {
            return Err(AlertsError::InvalidAlertPeriod.into());
        }
        let area: NewArea =
            serde_json::from_value(self.area.clone()).map_err(|_| SharedError::InvalidArea)?;
        match &area {
            NewArea::Wards(wards) if wards.is_empty() || wards.len() > 100 => {
                Err(SharedError::InvalidArea.into())
            }
            NewArea::Circle { lat, lng, radius_m }
                if !platform::geo::valid_position(*lat, *lng)
                    || !(10.0..=100_000.0).contains(radius_m) =>
            {
                Err(SharedError::InvalidArea.into())
            }
            _ => Ok(area),
        }
    }

    /// The CAP areas it names: polygons closed and of at least 4 points, as CAP asks.
    fn cap_area(&self, area: &NewArea) -> Result<CapArea, ApiError> {
        let mut cap_area = CapArea {
            area_desc: self.area_desc_vi.trim().to_owned(),
            polygons: Vec::new(),
            circles: Vec::new(),
            geocodes: Vec::new(),
        };
        match area {
            NewArea::Wards(wards) => {
                cap_area.geocodes = wards
                    .iter()
                    .map(|w| (WARD_GEOCODE.to_owned(), w.clone()))
                    .collect();
            }
            NewArea::Circle { lat, lng, radius_m } => cap_area.circles.push(Circle {
                lat: *lat,
                lng: *lng,
                radius_km: radius_m / 1000.0,
            }),
            NewArea::Polygon(geometry) => {
                let polygons = match geometry {
                    GeoJsonPolygon::Polygon(rings) => vec![rings.clone()],
                    GeoJsonPolygon::MultiPolygon(polygons) => polygons.clone(),
                };
                let vertices: usize = polygons.iter().flatten().map(Vec::len).sum();
                if polygons.is_empty() || vertices > 10_000 {
                    return Err(SharedError::InvalidArea.into());
                }
                for rings in polygons {
                    // CAP polygons have no holes: the outer ring says where.
                    let outer = rings.first().ok_or(SharedError::InvalidArea)?;
                    let ring: Vec<(f64, f64)> =
                        outer.iter().map(|[lng, lat]| (*lat, *lng)).collect();
                    let closed = ring.len() >= 4 && ring.first() == ring.last();
                    if !closed
                        || !ring
                            .iter()
                            .all(|(lat, lng)| platform::geo::valid_position(*lat, *lng))
                    {
                        return Err(SharedError::InvalidArea.into());
                    }
                    cap_area.polygons.push(ring);
                }
            }
        }
        Ok(cap_area)
    }
}

/// Issues an alert written by an operator of the jurisdiction, or a neighbourhood notice by a
/// ward officer to their own wards, once per `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/alerts", operation_id = "create_alert", tag = "alerts", request_body = NewAlert,
    params(("Idempotency-Key" = String, Header, description = "Unique per alert; a retry reuses it")),
    responses(
        (status = 201, body = AlertView, description = "Issued (or the first answer to this key, replayed with `Idempotent-Replayed: true`)"),
        (status = 400, body = platform::error::Problem, description = "`idempotency_key_required`, `invalid_body`"),
        (status = 404, body = platform::error::Problem, description = "Not an admin of this jurisdiction (nor an officer of every ward of a neighbourhood notice); `alert_not_found` for `updates`"),
        (status = 409, body = platform::error::Problem, description = "`alert_not_current`: the alert it updates was replaced; `alert_of_another_sender`: an authority's alert, only it may update it"),
        (status = 422, body = platform::error::Problem, description = "`invalid_field`, `unknown_alert_kind`, `invalid_alert_scale`, `notice_too_severe`, `invalid_alert_period`, `invalid_area`, `unknown_ward`, `area_outside_jurisdiction`, `area_too_large`, `idempotency_key_reused`"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AlertsState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(request): JsonBody<NewAlert>,
) -> Result<Response, ApiError> {
    // Only staff who may send something learn what is wrong with what they sent.
    if !principal.administers(&request.jurisdiction) && !principal.has_role(Role::WardOfficer) {
        return Err(ApiError::route_not_found());
    }
    let area = request.validate()?;
    if !principal.administers(&request.jurisdiction) {
        // A ward officer tells their own wards, and only of what is not urgent.
        if !notifies_own_wards(&principal, &request.jurisdiction, &request.kind, &area) {
            return Err(ApiError::route_not_found());
        }
        if is_urgent(&request.severity, &request.urgency)
            || matches!(request.severity.as_str(), "Extreme" | "Severe")
        {
            return Err(AlertsError::NoticeTooSevere.into());
        }
    }
    let cap_area = request.cap_area(&area)?;
    state
        .check_area(&request.jurisdiction, &area_for_reports(&cap_area)?)
        .await?;
    let fingerprint = idempotency::fingerprint(OPERATOR_ALERT, &request)?;
    let (account, key) = (principal.account_id, key.as_str());
    let mut tx = state.pool.begin().await?;
    if let Some(answer) = idempotency::claim_in(&mut tx, account, key, &fingerprint).await? {
        return Ok(answer.replayed());
    }
    let mut references = Vec::new();
    if let Some(updated) = request.updates {
        let current = sqlx::query!(
            r#"SELECT sender, identifier, sent, replaced_by, expires, msg_type FROM alerts
               WHERE id = $1 AND jurisdiction = $2 FOR UPDATE"#,
            updated,
            request.jurisdiction
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AlertsError::AlertNotFound)?;
        if current.replaced_by.is_some()
            || current.msg_type == "Cancel"
            || current.expires.is_some_and(|e| e <= Utc::now())
        {
            return Err(AlertsError::AlertNotCurrent.into());
        }
        // CAP lets a sender update only its own messages.
        if current.sender != state.config.sender {
            return Err(AlertsError::AlertOfAnotherSender.into());
        }
        references.push(cap::Reference {
            sender: current.sender,
            identifier: current.identifier,
            sent: cap::cap_time(&current.sent.with_timezone(&OFFSET)),
        });
    }
    let alert = operator_alert(&state.config, &request, cap_area, references);
    let id = take_written(
        &mut tx,
        &request.jurisdiction,
        &request.kind,
        account,
        &alert,
    )
    .await?;
    let view = load_in(&mut tx, id).await?;
    let answer = serde_json::to_value(&view).map_err(ApiError::internal)?;
    idempotency::answer_in(&mut tx, account, key, StatusCode::CREATED, &answer).await?;
    tx.commit().await?;
    tracing::info!(alert = %id, jurisdiction = request.jurisdiction, "operator alert issued");
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn load_in(tx: &mut PgConnection, id: Uuid) -> Result<AlertView, ApiError> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT a.id, a.jurisdiction, a.kind, a.msg_type, a.urgency, a.severity, a.certainty,
                  a.event_vi, a.event_en, a.headline_vi, a.headline_en, a.description_vi,
                  a.description_en, a.instruction_vi, a.instruction_en, a.area_desc_vi,
                  a.area_desc_en, a.area, a.wards, a.sender, a.sent, a.effective, a.onset,
                  a.expires, a.replaced_by, NULL::text AS "replacement_type?"
           FROM alerts a WHERE a.id = $1"#,
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(row.view(None, Utc::now()))
}

/// Whether a ward officer may issue this: a neighbourhood notice to wards all theirs.
fn notifies_own_wards(
    principal: &Principal,
    jurisdiction: &str,
    kind: &str,
    area: &NewArea,
) -> bool {
    let NewArea::Wards(wards) = area else {
        return false;
    };
    kind == "neighbourhood"
        && principal.has_role(Role::WardOfficer)
        && principal.scope.jurisdiction.as_deref() == Some(jurisdiction)
        && wards.iter().all(|w| principal.scope.wards.contains(w))
}

/// The area as reports resolves areas, to check it lies in the jurisdiction.
fn area_for_reports(area: &CapArea) -> Result<Value, ApiError> {
    if !area.geocodes.is_empty() {
        let wards: Vec<&String> = area.geocodes.iter().map(|(_, ward)| ward).collect();
        return Ok(json!({ "wards": wards }));
    }
    let (shape, _) = area_of(std::slice::from_ref(area));
    let shape = shape.ok_or(SharedError::InvalidArea)?;
    Ok(json!({ "polygon": shape }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancellation {
    /// Why, for residents (the cancel message's description).
    reason_vi: String,
    reason_en: String,
}

/// Cancels an alert in force: a CAP `Cancel` referencing it, told to its area.
#[utoipa::path(post, path = "/v1/admin/alerts/{id}/cancel", operation_id = "cancel_alert", tag = "alerts",
    params(("id" = Uuid, Path)), request_body = Cancellation,
    responses(
        (status = 200, body = AlertView, description = "The cancel message"),
        (status = 404, body = platform::error::Problem, description = "`alert_not_found`, also for an alert of another jurisdiction"),
        (status = 409, body = platform::error::Problem, description = "`alert_not_current`, `alert_of_another_sender` (an authority's alert: only it may cancel it)"),
        (status = 422, body = platform::error::Problem, description = "`invalid_field`"),
    ),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AlertsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonBody(request): JsonBody<Cancellation>,
) -> Result<Json<AlertView>, ApiError> {
    for (field, text) in [
        ("reason_vi", &request.reason_vi),
        ("reason_en", &request.reason_en),
    ] {
        let chars = text.trim().chars().count();
        if chars == 0 || chars > MAX_TEXT_CHARS {
            return Err(SharedError::InvalidField {
                field,
                rule_vi: format!("từ 1 đến {MAX_TEXT_CHARS} ký tự"),
                rule_en: format!("1 to {MAX_TEXT_CHARS} characters"),
            }
            .into());
        }
    }
    let mut tx = state.pool.begin().await?;
    let current = sqlx::query!(
        r#"SELECT jurisdiction, kind, document, replaced_by, msg_type, expires, wards FROM alerts
           WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .filter(|alert| {
        principal.administers(&alert.jurisdiction)
            || (alert.kind == "neighbourhood"
                && principal.has_role(Role::WardOfficer)
                && principal.scope.jurisdiction.as_deref() == Some(alert.jurisdiction.as_str())
                && !alert.wards.is_empty()
                && alert
                    .wards
                    .iter()
                    .all(|w| principal.scope.wards.contains(w)))
    })
    .ok_or(AlertsError::AlertNotFound)?;
    if current.replaced_by.is_some()
        || current.msg_type == "Cancel"
        || current.expires.is_some_and(|e| e <= Utc::now())
    {
        return Err(AlertsError::AlertNotCurrent.into());
    }
    let original = CapAlert::parse(&current.document).map_err(ApiError::internal)?;
    if original.sender != state.config.sender {
        return Err(AlertsError::AlertOfAnotherSender.into());
    }
    let cancel = cancellation(&original, &request.reason_vi, &request.reason_en);
    let cancel_id = take_written(
        &mut tx,
        &current.jurisdiction,
        &current.kind,
        principal.account_id,
        &cancel,
    )
    .await?;
    let view = load_in(&mut tx, cancel_id).await?;
    tx.commit().await?;
    tracing::info!(alert = %id, cancel = %cancel_id, "alert cancelled");
    Ok(Json(view))
}

/// The CAP category of a kind.
fn category(kind: &str) -> &'static str {
    match kind {
        "disaster" => "Met",
        "traffic" => "Transport",
        "power_outage" | "water_outage" => "Infra",
        "scam" => "Security",
        "neighbourhood" => "Other",
        _ => "Other",
    }
}

/// The CAP message of an operator's alert: one `info` in Vietnamese, then one in English.
fn operator_alert(
    config: &AlertsConfig,
    request: &NewAlert,
    area: CapArea,
    references: Vec<cap::Reference>,
) -> CapAlert {
    let now = Utc::now().with_timezone(&OFFSET);
    let info = |language: &str,
                texts: [&str; 3],
                instruction: &Option<String>,
                sender_name: &str,
                area_desc: &str| Info {
        language: language.to_owned(),
        categories: vec![category(&request.kind).to_owned()],
        event: texts[0].trim().to_owned(),
        response_types: Vec::new(),
        urgency: request.urgency.clone(),
        severity: request.severity.clone(),
        certainty: request.certainty.clone(),
        effective: Some(now),
        onset: request.onset.map(|t| t.with_timezone(&OFFSET)),
        expires: Some(request.expires.with_timezone(&OFFSET)),
        sender_name: Some(sender_name.to_owned()),
        headline: Some(texts[1].trim().to_owned()),
        description: Some(texts[2].trim().to_owned()),
        instruction: instruction.as_ref().map(|t| t.trim().to_owned()),
        web: None,
        contact: None,
        areas: vec![CapArea {
            area_desc: area_desc.trim().to_owned(),
            ..area.clone()
        }],
    };
    let vi = info(
        "vi-VN",
        [
            &request.event_vi,
            &request.headline_vi,
            &request.description_vi,
        ],
        &request.instruction_vi,
        &config.sender_name_vi,
        &request.area_desc_vi,
    );
    let en = info(
        "en-US",
        [
            &request.event_en,
            &request.headline_en,
            &request.description_en,
        ],
        &request.instruction_en,
        &config.sender_name_en,
        &request.area_desc_en,
    );
    let identifier = format!(
        "{}-{}",
        request.jurisdiction.to_ascii_uppercase(),
        Uuid::now_v7().simple()
    );
    our_message(config, identifier, now, references, vec![vi, en])
}

/// A message of ours, public and actual: an `Alert`, or an `Update` of what it references.
fn our_message(
    config: &AlertsConfig,
    identifier: String,
    sent: DateTime<FixedOffset>,
    references: Vec<cap::Reference>,
    infos: Vec<Info>,
) -> CapAlert {
    CapAlert {
        identifier,
        sender: config.sender.clone(),
        sent,
        status: "Actual".to_owned(),
        msg_type: if references.is_empty() {
            "Alert"
        } else {
            "Update"
        }
        .to_owned(),
        scope: "Public".to_owned(),
        note: None,
        references,
        infos,
    }
}

/// The flood alert of a river past an alarm level: the higher the level, the graver (I
/// moderate, II severe, III extreme), observed now, for 12 hours unless updated.
pub fn river_alarm(
    config: &AlertsConfig,
    raised: &RiverAlarmRaised,
    references: Vec<cap::Reference>,
) -> CapAlert {
    let now = Utc::now().with_timezone(&OFFSET);
    let observed = raised.observed_at.with_timezone(&OFFSET);
    let roman = ["I", "II", "III"][usize::from(raised.alarm_level.clamp(1, 3)) - 1];
    let (severity, instruction_vi, instruction_en) = match raised.alarm_level {
        1 => (
            "Moderate",
            "Theo dõi thông tin, chuẩn bị kê cao đồ đạc.",
            "Keep informed and be ready to raise your belongings.",
        ),
        2 => (
            "Severe",
            "Kê cao đồ đạc, sẵn sàng di dời khỏi vùng trũng thấp; không đi qua đường ngập.",
            "Raise your belongings, be ready to leave low-lying areas, and do not cross flooded roads.",
        ),
        _ => (
            "Extreme",
            "Di dời ngay khỏi vùng trũng thấp theo hướng dẫn của chính quyền; gọi 112 khi cần cứu hộ.",
            "Leave low-lying areas now as the authorities direct; call 112 for rescue.",
        ),
    };
    let level = format!("{:.2}", raised.level_m);
    // Vietnamese writes decimals with a comma.
    let level_vi = level.replace('.', ",");
    let threshold = format!("{:.2}", raised.threshold_m);
    let threshold_vi = threshold.replace('.', ",");
    let area = if raised.wards.is_empty() {
        CapArea {
            area_desc: String::new(),
            polygons: Vec::new(),
            circles: vec![Circle {
                lat: raised.lat,
                lng: raised.lng,
                radius_km: 5.0,
            }],
            geocodes: Vec::new(),
        }
    } else {
        CapArea {
            area_desc: String::new(),
            polygons: Vec::new(),
            circles: Vec::new(),
            geocodes: raised
                .wards
                .iter()
                .map(|w| (WARD_GEOCODE.to_owned(), w.clone()))
                .collect(),
        }
    };
    let info = |language: &str,
                event: &str,
                headline: String,
                description: String,
                instruction: &str,
                sender_name: &str,
                area_desc: String| Info {
        language: language.to_owned(),
        categories: vec!["Met".to_owned()],
        event: event.to_owned(),
        response_types: vec![
            if raised.alarm_level >= 3 {
                "Evacuate"
            } else {
                "Prepare"
            }
            .to_owned(),
        ],
        urgency: "Immediate".to_owned(),
        severity: severity.to_owned(),
        certainty: "Observed".to_owned(),
        effective: Some(now),
        onset: None,
        expires: Some(now + TimeDelta::hours(12)),
        sender_name: Some(sender_name.to_owned()),
        headline: Some(headline),
        description: Some(description),
        instruction: Some(instruction.to_owned()),
        web: None,
        contact: None,
        areas: vec![CapArea {
            area_desc: cut(&area_desc, MAX_AREA_DESC_CHARS),
            ..area.clone()
        }],
    };
    let vi = info(
        "vi-VN",
        "Lũ",
        format!(
            "{} tại {} vượt báo động {roman}: {level_vi} m",
            raised.river_vi, raised.station_vi
        ),
        format!(
            "Lúc {} mực nước {} tại trạm {} là {level_vi} m, trên mức báo động {roman} ({threshold_vi} m).",
            observed.format("%H:%M ngày %d/%m/%Y"),
            lower_first(&raised.river_vi),
            raised.station_vi,
        ),
        instruction_vi,
        &config.sender_name_vi,
        format!("Ven {} tại {}", raised.river_vi, raised.station_vi),
    );
    let en = info(
        "en-US",
        "Flood",
        format!(
            "{} at {} above alarm level {roman}: {level} m",
            raised.river_en, raised.station_en
        ),
        format!(
            "At {} the {} at the {} gauge stood at {level} m, above alarm level {roman} ({threshold} m).",
            observed.format("%H:%M on %d/%m/%Y"),
            raised.river_en,
            raised.station_en,
        ),
        instruction_en,
        &config.sender_name_en,
        format!("Along the {} near {}", raised.river_en, raised.station_en),
    );
    let identifier = format!(
        "{}{}-{}",
        gauge_identifier_prefix(raised),
        raised.observed_at.format("%Y%m%dT%H%M%SZ"),
        raised.alarm_level
    );
    our_message(config, identifier, now, references, vec![vi, en])
}

/// "Sông Hương" as the middle of a sentence writes it: "sông Hương".
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What the identifiers of a gauge's alerts begin with; they end with the alarm level.
pub fn gauge_identifier_prefix(raised: &RiverAlarmRaised) -> String {
    format!(
        "{}-GAUGE-{}-",
        raised.jurisdiction.to_ascii_uppercase(),
        raised.gauge_id
    )
}

/// The CAP `Cancel` of one of our alerts, with the reason as its description.
fn cancellation(original: &CapAlert, reason_vi: &str, reason_en: &str) -> CapAlert {
    let now = Utc::now().with_timezone(&OFFSET);
    let infos = original
        .infos
        .iter()
        .map(|info| {
            let english = info.language.to_ascii_lowercase().starts_with("en");
            Info {
                effective: Some(now),
                description: Some(
                    if english { reason_en } else { reason_vi }
                        .trim()
                        .to_owned(),
                ),
                instruction: None,
                ..info.clone()
            }
        })
        .collect();
    CapAlert {
        identifier: format!("{}-cancel", original.identifier),
        sender: original.sender.clone(),
        sent: now,
        status: "Actual".to_owned(),
        msg_type: "Cancel".to_owned(),
        scope: "Public".to_owned(),
        note: None,
        references: vec![original.reference()],
        infos,
    }
}

/// Whether a stored area contains a point.
pub fn contains(area: &Value, lat: f64, lng: f64) -> bool {
    serde_json::from_value::<geojson_shape::Shape>(area.clone())
        .map(|shape| shape.to_geo().contains(&Point::new(lng, lat)))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_circle_becomes_a_closed_ring_around_its_centre() {
        let circle = Circle {
            lat: 16.46,
            lng: 107.59,
            radius_km: 1.0,
        };
        let ring = circle_ring(&circle);
        assert_eq!(ring.len(), 33);
        assert_eq!(ring.first(), ring.last());
        let (shape, _) = area_of(&[CapArea {
            area_desc: "x".into(),
            polygons: vec![],
            circles: vec![circle],
            geocodes: vec![],
        }]);
        let area = serde_json::to_value(shape.unwrap()).unwrap();
        assert!(contains(&area, 16.465, 107.59), "500 m north is inside");
        assert!(!contains(&area, 16.48, 107.59), "2 km north is not");
    }

    #[test]
    fn quiet_hours_give_way_to_severe_and_imminent_alerts_only() {
        assert!(is_urgent("Extreme", "Immediate"));
        assert!(is_urgent("Severe", "Expected"));
        assert!(!is_urgent("Severe", "Future"));
        assert!(!is_urgent("Moderate", "Immediate"));
    }

    #[test]
    fn pushes_are_cut_at_a_character_not_a_byte() {
        let long = "Mưa lớn ".repeat(50);
        let short = cut(&long, 100);
        assert_eq!(short.chars().count(), 100);
        assert!(short.ends_with('…'));
        assert_eq!(cut("ngắn", 100), "ngắn");
    }
}
