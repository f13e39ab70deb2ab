//! Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2), so the clients cities already use
//! (FixMyStreet, GeoReporter, back-offices) read and file reports here: discovery, services and
//! their definitions, requests filed (`POST requests`, through the same routing and workflow as
//! the app) and listed, tokens, and mySociety's `servicerequestupdates` and `extensions`.
//!
//! Every document comes as XML or JSON, by the path's extension; errors are the spec's `errors`
//! list. Only public reports are shown, at their public position, and never who filed them.
//! Filing needs an `api_key` a jurisdiction admin issued (`/v1/admin/jurisdictions/{id}/
//! open311-clients`), and is limited per key and hour; every request is limited per client
//! address and minute.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use platform::ApiError;
use platform::auth::{Principal, Role};
use platform::extract::{ClientInfo, JsonBody};
use platform::lang::Lang;
use platform::request::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ReportsState;
use crate::filing::{self, Filer, NewReport};
use crate::jurisdiction::{Question, QuestionKind};

/// The spec's default window for `GET requests`, and its largest answer.
const DEFAULT_DAYS: i64 = 90;
const MAX_RESULTS: i64 = 1000;
/// Requests a new key may file per hour, unless the admin says otherwise.
const DEFAULT_REQUESTS_PER_HOUR: i32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Xml,
    Json,
}

/// `requests.json` → (`requests`, JSON); anything but `.xml` and `.json` is no document here.
fn document(file: &str) -> Option<(&str, Format)> {
    let (stem, extension) = file.rsplit_once('.')?;
    let format = match extension {
        "xml" => Format::Xml,
        "json" => Format::Json,
        _ => return None,
    };
    Some((stem, format))
}

/// An Open311 error: its HTTP status and the spec's `errors` list of one.
struct Open311Error {
    status: StatusCode,
    description: String,
    retry_after: Option<std::time::Duration>,
}

impl Open311Error {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
            retry_after: None,
        }
    }

    fn render(self, format: Format) -> Response {
        let code = self.status.as_u16();
        let body = match format {
            Format::Json => json!([{ "code": code, "description": self.description }]).to_string(),
            Format::Xml => {
                let mut xml = Xml::new("errors");
                xml.open("error");
                xml.leaf("code", &code.to_string());
                xml.leaf("description", &self.description);
                xml.close("error");
                xml.finish()
            }
        };
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, content_type(format))],
            body,
        )
            .into_response();
        if let Some(wait) = self.retry_after
            && let Ok(value) = header::HeaderValue::from_str(&(wait.as_secs() + 1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Counts a request against its client's share of Open311 (per address, per minute).
fn limited(state: &ReportsState, client: &ClientInfo) -> Result<(), Open311Error> {
    let key = client
        .ip
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    state
        .open311_limiter
        .check(&key)
        .map_err(|wait| Open311Error {
            retry_after: Some(wait),
            ..Open311Error::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests from this address; try again after Retry-After seconds",
            )
        })
}

/// Our problems, told the Open311 way (a 422 is the spec's 400; internals stay inside).
impl From<ApiError> for Open311Error {
    fn from(error: ApiError) -> Self {
        let status = match error.status() {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            status if status.is_server_error() => {
                tracing::error!(error = error.describe(), "Open311 request failed");
                return Open311Error::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side; please try again later.",
                );
            }
            status => status,
        };
        Open311Error::new(status, error.describe())
    }
}

impl From<sqlx::Error> for Open311Error {
    fn from(error: sqlx::Error) -> Self {
        ApiError::from(error).into()
    }
}

fn content_type(format: Format) -> &'static str {
    match format {
        Format::Xml => "text/xml; charset=utf-8",
        Format::Json => "application/json",
    }
}

/// A small XML writer: elements and escaped text, nothing more the spec needs.
struct Xml {
    text: String,
    root: &'static str,
}

impl Xml {
    fn new(root: &'static str) -> Self {
        Self {
            text: format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><{root}>"),
            root,
        }
    }

    fn open(&mut self, name: &str) {
        let _ = write!(self.text, "<{name}>");
    }

    fn close(&mut self, name: &str) {
        let _ = write!(self.text, "</{name}>");
    }

    fn leaf(&mut self, name: &str, text: &str) {
        let _ = write!(self.text, "<{name}>");
        for c in text.chars() {
            match c {
                '&' => self.text.push_str("&amp;"),
                '<' => self.text.push_str("&lt;"),
                '>' => self.text.push_str("&gt;"),
                '"' => self.text.push_str("&quot;"),
                '\'' => self.text.push_str("&apos;"),
                // Characters XML 1.0 cannot hold are dropped.
                c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
                c => self.text.push(c),
            }
        }
        let _ = write!(self.text, "</{name}>");
    }

    /// A JSON value as elements: objects by their keys, arrays as repeated `item_name`s.
    fn value(&mut self, name: &str, value: &Value, item_name: &str) {
        match value {
            Value::Object(map) => {
                self.open(name);
                for (key, inner) in map {
                    self.value(key, inner, "value");
                }
                self.close(name);
            }
            Value::Array(items) => {
                self.open(name);
                for item in items {
                    self.value(item_name, item, "value");
                }
                self.close(name);
            }
            Value::Null => self.leaf(name, ""),
            Value::String(text) => self.leaf(name, text),
            other => self.leaf(name, &other.to_string()),
        }
    }

    fn finish(mut self) -> String {
        let root = self.root;
        self.close(root);
        self.text
    }
}

/// A document's fields in the spec's order (a JSON map would sort them).
type Fields = Vec<(&'static str, Value)>;

fn to_json(fields: &Fields) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect(),
    )
}

/// A list document: JSON an array of objects; XML a root of repeated elements whose fields are
/// in the order given.
fn list(format: Format, root: &'static str, item: &str, rows: &[Fields]) -> Response {
    let body = match format {
        Format::Json => Value::Array(rows.iter().map(to_json).collect()).to_string(),
        Format::Xml => {
            let mut xml = Xml::new(root);
            for row in rows {
                xml.open(item);
                for (key, value) in row {
                    xml.value(key, value, "value");
                }
                xml.close(item);
            }
            xml.finish()
        }
    };
    ([(header::CONTENT_TYPE, content_type(format))], body).into_response()
}

/// ISO 8601 with the city's offset (+07:00), as the spec's examples carry theirs.
fn datetime(at: DateTime<Utc>) -> String {
    FixedOffset::east_opt(7 * 3600)
        .map_or_else(|| at.fixed_offset(), |hue| at.with_timezone(&hue))
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn lang() -> Lang {
    RequestContext::current()
        .map(|c| c.lang)
        .unwrap_or_default()
}

/// The jurisdiction asked for, or the only one; 400 when several are served and none is named.
async fn jurisdiction(state: &ReportsState, asked: Option<&str>) -> Result<String, Open311Error> {
    let served = sqlx::query_scalar!("SELECT id FROM jurisdictions ORDER BY id")
        .fetch_all(&state.pool)
        .await?;
    match asked.filter(|a| !a.is_empty()) {
        Some(asked) if served.iter().any(|j| j == asked) => Ok(asked.to_owned()),
        Some(asked) => Err(Open311Error::new(
            StatusCode::NOT_FOUND,
            format!("jurisdiction_id {asked} is not served here"),
        )),
        None if served.len() == 1 => Ok(served[0].clone()),
        None => Err(Open311Error::new(
            StatusCode::BAD_REQUEST,
            "jurisdiction_id is required: this server serves several jurisdictions",
        )),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct CommonQuery {
    jurisdiction_id: Option<String>,
    service_request_id: Option<String>,
    service_code: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    status: Option<String>,
    page: Option<String>,
    page_size: Option<String>,
    extensions: Option<String>,
}

/// `GET /open311/v2/{discovery|services|requests|servicerequestupdates}.{xml|json}`.
pub async fn get_document(
    State(state): State<ReportsState>,
    Path(file): Path<String>,
    client: ClientInfo,
    headers: HeaderMap,
    Query(query): Query<CommonQuery>,
) -> Response {
    let Some((stem, format)) = document(&file) else {
        return Open311Error::new(StatusCode::NOT_FOUND, "No such document").render(Format::Xml);
    };
    if let Err(error) = limited(&state, &client) {
        return error.render(format);
    }
    let answer = match stem {
        "discovery" => Ok(discovery(&headers, format)),
        "services" => services(&state, &query, format).await,
        "requests" => requests(&state, &headers, &query, format).await,
        "servicerequestupdates" => updates(&state, &query, format).await,
        _ => Err(Open311Error::new(StatusCode::NOT_FOUND, "No such document")),
    };
    answer.unwrap_or_else(|error| error.render(format))
}

/// `GET /open311/v2/services/{code}.{fmt}`, `requests/{id}.{fmt}`, `tokens/{token}.{fmt}`.
pub async fn get_one(
    State(state): State<ReportsState>,
    Path((kind, file)): Path<(String, String)>,
    client: ClientInfo,
    headers: HeaderMap,
    Query(query): Query<CommonQuery>,
) -> Response {
    let Some((id, format)) = document(&file) else {
        return Open311Error::new(StatusCode::NOT_FOUND, "No such document").render(Format::Xml);
    };
    if let Err(error) = limited(&state, &client) {
        return error.render(format);
    }
    let answer = match kind.as_str() {
        "services" => service_definition(&state, &query, id, format).await,
        "requests" => match id.parse::<Uuid>() {
            Ok(id) => {
                let query = CommonQuery {
                    service_request_id: Some(id.to_string()),
                    extensions: query.extensions,
                    jurisdiction_id: query.jurisdiction_id,
                    ..CommonQuery::default()
                };
                requests(&state, &headers, &query, format).await
            }
            Err(_) => Err(Open311Error::new(
                StatusCode::NOT_FOUND,
                "No such service request",
            )),
        },
        "tokens" => token(&state, id, format).await,
        _ => Err(Open311Error::new(StatusCode::NOT_FOUND, "No such document")),
    };
    answer.unwrap_or_else(|error| error.render(format))
}

/// Where this endpoint is, and what it speaks.
fn discovery(headers: &HeaderMap, format: Format) -> Response {
    let url = format!("{}/open311/v2", origin(headers));
    let changeset = "2026-11-26T00:00:00+07:00";
    let document = json!({
        "changeset": changeset,
        "contact": "Trung tâm Giám sát, điều hành đô thị thông minh / Smart city operations centre",
        "key_service": "API keys are issued by the jurisdiction's administrators.",
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": url,
            "changeset": changeset,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    });
    match format {
        Format::Json => Json(document).into_response(),
        Format::Xml => {
            let mut xml = Xml::new("discovery");
            for key in ["changeset", "contact", "key_service"] {
                xml.value(key, &document[key], "value");
            }
            xml.open("endpoints");
            xml.open("endpoint");
            for key in ["specification", "url", "changeset", "type"] {
                xml.value(key, &document["endpoints"][0][key], "value");
            }
            xml.value("formats", &document["endpoints"][0]["formats"], "format");
            xml.close("endpoint");
            xml.close("endpoints");
            ([(header::CONTENT_TYPE, content_type(format))], xml.finish()).into_response()
        }
    }
}

/// `scheme://host` as the client reached us (behind a proxy, as it says).
fn origin(headers: &HeaderMap) -> String {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = text("x-forwarded-host")
        .or_else(|| text(header::HOST.as_str()))
        .unwrap_or("localhost");
    let scheme = text("x-forwarded-proto").unwrap_or("http");
    format!("{scheme}://{host}")
}

/// One per category taking reports.
async fn services(
    state: &ReportsState,
    query: &CommonQuery,
    format: Format,
) -> Result<Response, Open311Error> {
    let jurisdiction = jurisdiction(state, query.jurisdiction_id.as_deref()).await?;
    let lang = lang();
    let rows = sqlx::query!(
        r#"SELECT code, name_vi, name_en, description_vi, description_en, group_code, keywords,
                  jsonb_array_length(questions) > 0 AS "metadata!"
           FROM categories WHERE jurisdiction_id = $1 AND active ORDER BY code"#,
        jurisdiction
    )
    .fetch_all(&state.pool)
    .await?;
    let services: Vec<Fields> = rows
        .into_iter()
        .map(|row| {
            object([
                ("service_code", json!(row.code)),
                ("service_name", json!(lang.pick(&row.name_vi, &row.name_en))),
                (
                    "description",
                    json!(lang.pick(&row.description_vi, &row.description_en)),
                ),
                ("metadata", json!(row.metadata)),
                ("type", json!("realtime")),
                ("keywords", json!(row.keywords.join(", "))),
                ("group", json!(row.group_code)),
            ])
        })
        .collect();
    Ok(list(format, "services", "service", &services))
}

fn object<const N: usize>(fields: [(&'static str, Value); N]) -> Fields {
    fields.into_iter().collect()
}

/// The spec's datatype for a question's kind.
fn datatype(kind: QuestionKind) -> &'static str {
    match kind {
        QuestionKind::String => "string",
        QuestionKind::Number => "number",
        QuestionKind::Datetime => "datetime",
        QuestionKind::Text => "text",
        QuestionKind::SingleChoice => "singlevaluelist",
        QuestionKind::MultiChoice => "multivaluelist",
    }
}

/// The questions of a service (a category taking reports); 404 for any other code.
async fn questions(
    state: &ReportsState,
    jurisdiction: &str,
    code: &str,
) -> Result<Vec<Question>, Open311Error> {
    let questions = sqlx::query_scalar!(
        "SELECT questions FROM categories WHERE jurisdiction_id = $1 AND code = $2 AND active",
        jurisdiction,
        code
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| {
        Open311Error::new(
            StatusCode::NOT_FOUND,
            format!("service_code {code} not found"),
        )
    })?;
    Ok(serde_json::from_value(questions).map_err(ApiError::internal)?)
}

/// A category's questions as the service's attributes.
async fn service_definition(
    state: &ReportsState,
    query: &CommonQuery,
    code: &str,
    format: Format,
) -> Result<Response, Open311Error> {
    let jurisdiction = jurisdiction(state, query.jurisdiction_id.as_deref()).await?;
    let questions = questions(state, &jurisdiction, code).await?;
    let lang = lang();
    let attributes: Vec<Fields> = questions
        .iter()
        .enumerate()
        .map(|(index, question)| {
            let values: Vec<Value> = question
                .options
                .iter()
                .map(|o| json!({ "key": o.code, "name": lang.pick(&o.label_vi, &o.label_en) }))
                .collect();
            object([
                ("variable", json!(true)),
                ("code", json!(question.code)),
                ("datatype", json!(datatype(question.kind))),
                ("required", json!(question.required)),
                ("datatype_description", json!("")),
                ("order", json!(index + 1)),
                (
                    "description",
                    json!(lang.pick(&question.label_vi, &question.label_en)),
                ),
                ("values", Value::Array(values)),
            ])
        })
        .collect();
    let document = json!({
        "service_code": code,
        "attributes": attributes.iter().map(to_json).collect::<Vec<_>>(),
    });
    Ok(match format {
        Format::Json => Json(document).into_response(),
        Format::Xml => {
            let mut xml = Xml::new("service_definition");
            xml.leaf("service_code", code);
            xml.open("attributes");
            for attribute in &attributes {
                xml.open("attribute");
                for (key, value) in attribute {
                    xml.value(key, value, "value");
                }
                xml.close("attribute");
            }
            xml.close("attributes");
            ([(header::CONTENT_TYPE, content_type(format))], xml.finish()).into_response()
        }
    })
}

/// ISO 8601 in a query; 400 otherwise.
fn parse_date(name: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, Open311Error> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(text)
        .map(|d| Some(d.with_timezone(&Utc)))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map(|d| {
                d.and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc() - chrono::Duration::hours(7))
            })
        })
        .map_err(|_| {
            Open311Error::new(
                StatusCode::BAD_REQUEST,
                format!("{name} must be an ISO 8601 date, such as 2026-11-24T08:00:00+07:00"),
            )
        })
}

fn number(name: &str, text: Option<&str>, default: i64, max: i64) -> Result<i64, Open311Error> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Open311Error::new(
                    StatusCode::BAD_REQUEST,
                    format!("{name} must be a whole number from 1 to {max}"),
                )
            }),
    }
}

fn truthy(text: Option<&str>) -> bool {
    matches!(text, Some("true" | "1"))
}

/// Open (`open`) or finished (`closed`), as the spec knows statuses.
fn open_or_closed(status: &str) -> &'static str {
    match status {
        "resolved" | "closed" | "rejected" => "closed",
        _ => "open",
    }
}

/// `GET requests`: by id (a comma list, overriding every other filter), or by service, window
/// (the last 90 days by default) and status, at most 1,000 a page.
async fn requests(
    state: &ReportsState,
    headers: &HeaderMap,
    query: &CommonQuery,
    format: Format,
) -> Result<Response, Open311Error> {
    let jurisdiction = jurisdiction(state, query.jurisdiction_id.as_deref()).await?;
    let ids: Option<Vec<Uuid>> = match query.service_request_id.as_deref() {
        Some(list) if !list.is_empty() => Some(
            list.split(',')
                .filter_map(|id| id.trim().parse().ok())
                .take(MAX_RESULTS as usize)
                .collect(),
        ),
        _ => None,
    };
    let end = parse_date("end_date", query.end_date.as_deref())?.unwrap_or_else(Utc::now);
    let start = parse_date("start_date", query.start_date.as_deref())?
        .unwrap_or(end - chrono::Duration::days(DEFAULT_DAYS));
    if start > end {
        return Err(Open311Error::new(
            StatusCode::BAD_REQUEST,
            "start_date must not be after end_date",
        ));
    }
    let statuses: Option<Vec<String>> = match query.status.as_deref() {
        Some(list) if !list.is_empty() => {
            let asked: Vec<String> = list.split(',').map(|s| s.trim().to_owned()).collect();
            if asked.iter().any(|s| s != "open" && s != "closed") {
                return Err(Open311Error::new(
                    StatusCode::BAD_REQUEST,
                    "status must be open, closed, or both",
                ));
            }
            Some(asked)
        }
        _ => None,
    };
    let page = number("page", query.page.as_deref(), 1, 1_000_000)?;
    let page_size = number(
        "page_size",
        query.page_size.as_deref(),
        MAX_RESULTS,
        MAX_RESULTS,
    )?;
    let rows = sqlx::query!(
        r#"SELECT r.id, r.status, r.reject_reason, r.category_code, c.name_vi, c.name_en,
                  r.description, d.name_vi AS department_vi, d.name_en AS department_en,
                  r.created_at, r.updated_at, r.sla_due_at, r.public_latitude, r.public_longitude,
                  r.answers, r.media_ids, r.ward_id, s.media_url AS "client_media_url?",
                  s.address AS "address?",
                  (SELECT e.note FROM report_events e
                   WHERE e.report_id = r.id AND e.public AND e.note IS NOT NULL
                   ORDER BY e.created_at DESC LIMIT 1) AS status_notes
           FROM reports r
           JOIN categories c ON c.jurisdiction_id = r.jurisdiction_id AND c.code = r.category_code
           JOIN departments d ON d.jurisdiction_id = r.jurisdiction_id AND d.id = r.department_id
           LEFT JOIN open311_submitters s ON s.report_id = r.id
           WHERE r.jurisdiction_id = $1 AND r.public
             AND CASE WHEN $2::uuid[] IS NOT NULL THEN r.id = ANY($2)
                 ELSE r.created_at >= $3 AND r.created_at <= $4
                      AND ($5::text IS NULL OR r.category_code = $5)
                      AND ($6::text[] IS NULL OR
                           (CASE WHEN r.status IN ('resolved', 'closed', 'rejected')
                                 THEN 'closed' ELSE 'open' END) = ANY($6))
                 END
           ORDER BY r.created_at DESC, r.id DESC
           LIMIT $7 OFFSET $8"#,
        jurisdiction,
        ids.as_deref(),
        start,
        end,
        query.service_code.as_deref().filter(|c| !c.is_empty()),
        statuses.as_deref(),
        page_size,
        (page - 1) * page_size
    )
    .fetch_all(&state.pool)
    .await?;
    if ids.as_ref().is_some_and(|ids| ids.len() == 1) && rows.is_empty() {
        return Err(Open311Error::new(
            StatusCode::NOT_FOUND,
            "No such service request",
        ));
    }
    let lang = lang();
    let extensions = truthy(query.extensions.as_deref());
    let base = origin(headers);
    let requests: Vec<Fields> = rows
        .into_iter()
        .map(|row| {
            let status_notes = row
                .status_notes
                .or(row.reject_reason.clone())
                .unwrap_or_default();
            let photos: Vec<Value> = row
                .media_ids
                .iter()
                .map(|id| json!(format!("{base}/v1/media/{id}/display")))
                .collect();
            let media_url = row
                .client_media_url
                .clone()
                .or_else(|| photos.first().and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            let mut request = object([
                ("service_request_id", json!(row.id.to_string())),
                ("status", json!(open_or_closed(&row.status))),
                ("status_notes", json!(status_notes)),
                ("service_name", json!(lang.pick(&row.name_vi, &row.name_en))),
                ("service_code", json!(row.category_code)),
                ("description", json!(row.description)),
                (
                    "agency_responsible",
                    json!(lang.pick(&row.department_vi, &row.department_en)),
                ),
                ("service_notice", json!("")),
                ("requested_datetime", json!(datetime(row.created_at))),
                ("updated_datetime", json!(datetime(row.updated_at))),
                ("expected_datetime", json!(datetime(row.sla_due_at))),
                ("address", json!(row.address.clone().unwrap_or_default())),
                ("address_id", json!("")),
                ("zipcode", json!("")),
                ("lat", json!(row.public_latitude)),
                ("long", json!(row.public_longitude)),
                ("media_url", json!(media_url)),
            ]);
            if extensions {
                let attributes: Map<String, Value> = row
                    .answers
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(code, answer)| (code.clone(), answer_text(answer)))
                    .collect();
                request.push(("attributes", Value::Object(attributes)));
                request.push((
                    "extended_attributes",
                    json!({ "ward": row.ward_id, "status": row.status, "photos": photos }),
                ));
            }
            request
        })
        .collect();
    Ok(list(format, "service_requests", "request", &requests))
}

/// An answer as text (lists as their items, comma-separated).
fn answer_text(answer: &Value) -> Value {
    match answer {
        Value::Array(items) => json!(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::String(_) => answer.clone(),
        other => json!(other.to_string()),
    }
}

/// Requests are created at once here, so a token is the request's id.
async fn token(
    state: &ReportsState,
    token: &str,
    format: Format,
) -> Result<Response, Open311Error> {
    let not_found = || Open311Error::new(StatusCode::NOT_FOUND, "No such token");
    let id: Uuid = token.parse().map_err(|_| not_found())?;
    let found = sqlx::query_scalar!(
        "SELECT report_id FROM open311_submitters WHERE report_id = $1",
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(not_found)?;
    Ok(list(
        format,
        "service_requests",
        "request",
        &[object([
            ("service_request_id", json!(found.to_string())),
            ("token", json!(token)),
        ])],
    ))
}

/// mySociety's status words for our statuses.
fn update_status(status: &str, reason: Option<&str>) -> &'static str {
    match (status, reason) {
        ("accepted", _) => "INVESTIGATING",
        ("assigned", _) => "ACTION_SCHEDULED",
        ("in_progress", _) => "IN_PROGRESS",
        ("resolved", _) => "FIXED",
        ("closed", _) => "CLOSED",
        ("rejected", Some("duplicate")) => "DUPLICATE",
        ("rejected", Some("not_responsible")) => "NOT_COUNCILS_RESPONSIBILITY",
        ("rejected", _) => "NO_FURTHER_ACTION",
        _ => "OPEN",
    }
}

/// mySociety's `servicerequestupdates`: public status changes of public requests in a window
/// (the last day by default), oldest first.
async fn updates(
    state: &ReportsState,
    query: &CommonQuery,
    format: Format,
) -> Result<Response, Open311Error> {
    let jurisdiction = jurisdiction(state, query.jurisdiction_id.as_deref()).await?;
    let end = parse_date("end_date", query.end_date.as_deref())?.unwrap_or_else(Utc::now);
    let start = parse_date("start_date", query.start_date.as_deref())?
        .unwrap_or(end - chrono::Duration::days(1));
    let rows = sqlx::query!(
        r#"SELECT e.id, e.report_id, e.to_status, e.note, e.created_at, e.details
           FROM report_events e JOIN reports r ON r.id = e.report_id
           WHERE e.kind = 'status_changed' AND e.public AND e.created_at >= $2
             AND e.created_at <= $3 AND r.jurisdiction_id = $1 AND r.public
           ORDER BY e.created_at, e.id LIMIT $4"#,
        jurisdiction,
        start,
        end,
        MAX_RESULTS
    )
    .fetch_all(&state.pool)
    .await?;
    let updates: Vec<Fields> = rows
        .into_iter()
        .map(|row| {
            let status = row.to_status.unwrap_or_default();
            object([
                ("update_id", json!(row.id.to_string())),
                ("service_request_id", json!(row.report_id.to_string())),
                (
                    "status",
                    json!(update_status(&status, row.details["reason"].as_str())),
                ),
                ("updated_datetime", json!(datetime(row.created_at))),
                ("description", json!(row.note.unwrap_or_default())),
                ("media_url", json!("")),
            ])
        })
        .collect();
    Ok(list(
        format,
        "service_request_updates",
        "request_update",
        &updates,
    ))
}

/// Whom a third party says filed a request, kept with the report (staff only).
pub struct Submitter {
    client_id: Uuid,
    email: Option<String>,
    phone: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    device_id: Option<String>,
    account_id: Option<String>,
    media_url: Option<String>,
    address: Option<String>,
}

impl Submitter {
    /// Written in the transaction that files the report: a request is never kept without them.
    pub async fn record(&self, tx: &mut sqlx::PgConnection, report_id: Uuid) -> sqlx::Result<()> {
        sqlx::query!(
            r#"INSERT INTO open311_submitters (report_id, client_id, email, phone, first_name,
                   last_name, device_id, account_id, media_url, address)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
            report_id,
            self.client_id,
            self.email,
            self.phone,
            self.first_name,
            self.last_name,
            self.device_id,
            self.account_id,
            self.media_url,
            self.address
        )
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// The client behind an `api_key`, if the key is live.
struct Client {
    id: Uuid,
    jurisdiction_id: String,
    requests_per_hour: i32,
}

fn key_hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// `POST /open311/v2/requests.{fmt}`: files a report for a third party.
pub async fn post_request(
    State(state): State<ReportsState>,
    Path(file): Path<String>,
    client: ClientInfo,
    body: Bytes,
) -> Response {
    let Some(("requests", format)) = document(&file) else {
        return Open311Error::new(StatusCode::NOT_FOUND, "No such document").render(Format::Xml);
    };
    if let Err(error) = limited(&state, &client) {
        return error.render(format);
    }
    create_request(&state, &body, format)
        .await
        .unwrap_or_else(|error| error.render(format))
}

async fn create_request(
    state: &ReportsState,
    body: &[u8],
    format: Format,
) -> Result<Response, Open311Error> {
    // Repeated keys (`attribute[CODE][]`) are why this is parsed by hand.
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(body) {
        match key.strip_suffix("[]") {
            Some(list) => lists
                .entry(list.to_owned())
                .or_default()
                .push(value.into_owned()),
            None => {
                fields.insert(key.into_owned(), value.into_owned());
            }
        }
    }
    let field = |name: &str| {
        fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let forbidden = || {
        Open311Error::new(
            StatusCode::FORBIDDEN,
            "Invalid api_key received -- can't proceed with create_request.",
        )
    };
    let key = field("api_key").ok_or_else(forbidden)?;
    let client = sqlx::query_as!(
        Client,
        r#"SELECT id, jurisdiction_id, requests_per_hour FROM open311_clients
           WHERE key_hash = $1 AND revoked_at IS NULL"#,
        key_hash(key)
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(forbidden)?;
    let jurisdiction = jurisdiction(state, field("jurisdiction_id")).await?;
    if jurisdiction != client.jurisdiction_id {
        return Err(forbidden());
    }
    let code = field("service_code")
        .ok_or_else(|| Open311Error::new(StatusCode::BAD_REQUEST, "service_code is required"))?;
    let questions = questions(state, &jurisdiction, code).await?;
    let (latitude, longitude) = match (field("lat"), field("long")) {
        (Some(lat), Some(long)) => match (lat.parse::<f64>(), long.parse::<f64>()) {
            (Ok(lat), Ok(long)) => (lat, long),
            _ => {
                return Err(Open311Error::new(
                    StatusCode::BAD_REQUEST,
                    "lat and long must be decimal degrees",
                ));
            }
        },
        _ if field("address_string").is_some() || field("address_id").is_some() => {
            return Err(Open311Error::new(
                StatusCode::BAD_REQUEST,
                "This server has no geocoder: give lat and long (address_string is kept beside them)",
            ));
        }
        _ => {
            return Err(Open311Error::new(
                StatusCode::BAD_REQUEST,
                "A location is required: lat and long",
            ));
        }
    };
    let mut answers = Map::new();
    for question in &questions {
        let name = format!("attribute[{}]", question.code);
        let answer = match question.kind {
            QuestionKind::MultiChoice => lists
                .get(&name)
                .cloned()
                .or_else(|| fields.get(&name).map(|v| vec![v.clone()]))
                .map(|items| json!(items)),
            QuestionKind::Number => match fields.get(&name) {
                Some(text) => Some(json!(text.parse::<f64>().map_err(|_| {
                    Open311Error::new(StatusCode::BAD_REQUEST, format!("{name} must be a number"))
                })?)),
                None => None,
            },
            _ => fields.get(&name).map(|v| json!(v)),
        };
        if let Some(answer) = answer {
            answers.insert(question.code.clone(), answer);
        }
    }
    let request = NewReport {
        category: code.to_owned(),
        latitude,
        longitude,
        description: field("description").unwrap_or_default().to_owned(),
        media_ids: Vec::new(),
        answers,
        anonymous: false,
        jurisdiction: Some(jurisdiction),
    };
    let text = |name: &str| field(name).map(|v| v.chars().take(500).collect::<String>());
    let filer = Filer {
        account_id: client.id,
        role: "open311",
        max_per_hour: i64::from(client.requests_per_hour),
        submitter: Some(Submitter {
            client_id: client.id,
            email: text("email"),
            phone: text("phone"),
            first_name: text("first_name"),
            last_name: text("last_name"),
            device_id: text("device_id"),
            account_id: text("account_id"),
            media_url: text("media_url")
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            address: text("address_string"),
        }),
    };
    // Open311 has no idempotency key: every POST is a new request.
    let key = Uuid::new_v4().to_string();
    let filing = filing::file(state, &filer, &key, &request).await?;
    let notice = lang().pick(
        "Phản ánh đã được chuyển đến đơn vị phụ trách.",
        "The request has been routed to the responsible department.",
    );
    let created = list(
        format,
        "service_requests",
        "request",
        &[object([
            ("service_request_id", json!(filing.report_id.to_string())),
            ("service_notice", json!(notice)),
            ("account_id", Value::Null),
        ])],
    );
    Ok((StatusCode::CREATED, created).into_response())
}

// Keys for third parties, managed by the jurisdiction's admins.

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// Who the key is for: `FixMyStreet Huế`, a ward's back-office...
    name: String,
    /// Requests it may file in any hour; 1,000 by default.
    #[serde(default)]
    requests_per_hour: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Open311Client {
    id: Uuid,
    name: String,
    requests_per_hour: i32,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    /// Shown once, when the key is issued; only its hash is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
}

fn may_administer(principal: &Principal, jurisdiction: &str) -> Result<(), ApiError> {
    let own = principal.has_role(Role::JurisdictionAdmin)
        && principal.scope.jurisdiction.as_deref() == Some(jurisdiction);
    if own || principal.has_role(Role::PlatformAdmin) {
        return Ok(());
    }
    Err(ApiError::route_not_found())
}

/// Issues an Open311 `api_key` for a third party.
#[utoipa::path(post, path = "/v1/admin/jurisdictions/{id}/open311-clients", tag = "reports",
    params(("id" = String, Path)), request_body = NewClient,
    responses((status = 201, body = Open311Client, description = "The key is in `api_key`, this once"),
        (status = 404, body = platform::error::Problem), (status = 422, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn issue_key(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(jurisdiction): Path<String>,
    JsonBody(client): JsonBody<NewClient>,
) -> Result<(StatusCode, Json<Open311Client>), ApiError> {
    may_administer(&principal, &jurisdiction)?;
    let name = client.name.trim();
    let per_hour = client
        .requests_per_hour
        .unwrap_or(DEFAULT_REQUESTS_PER_HOUR);
    if name.is_empty() || name.chars().count() > 100 || !(1..=100_000).contains(&per_hour) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "Tên từ 1 đến 100 ký tự; giới hạn từ 1 đến 100.000 yêu cầu mỗi giờ.",
            "A name of 1 to 100 characters; a limit of 1 to 100,000 requests an hour.",
        ));
    }
    let key = format!(
        "o311_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    );
    let id = Uuid::now_v7();
    let created_at = sqlx::query_scalar!(
        r#"INSERT INTO open311_clients (id, jurisdiction_id, name, key_hash, requests_per_hour, created_by)
           SELECT $1, id, $3, $4, $5, $6 FROM jurisdictions WHERE id = $2
           RETURNING created_at"#,
        id,
        jurisdiction,
        name,
        key_hash(&key),
        per_hour,
        principal.account_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| {
        ApiError::not_found(
            "jurisdiction_not_found",
            "Không có địa bàn này.",
            "There is no such jurisdiction.",
        )
    })?;
    tracing::info!(client = %id, jurisdiction, by = %principal.account_id, "Open311 key issued");
    Ok((
        StatusCode::CREATED,
        Json(Open311Client {
            id,
            name: name.to_owned(),
            requests_per_hour: per_hour,
            created_at,
            revoked_at: None,
            api_key: Some(key),
        }),
    ))
}

/// The jurisdiction's Open311 clients (never their keys).
#[utoipa::path(get, path = "/v1/admin/jurisdictions/{id}/open311-clients", tag = "reports",
    params(("id" = String, Path)),
    responses((status = 200, body = [Open311Client]), (status = 404, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn list_keys(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(jurisdiction): Path<String>,
) -> Result<Json<Vec<Open311Client>>, ApiError> {
    may_administer(&principal, &jurisdiction)?;
    let clients = sqlx::query!(
        r#"SELECT id, name, requests_per_hour, created_at, revoked_at FROM open311_clients
           WHERE jurisdiction_id = $1 ORDER BY created_at"#,
        jurisdiction
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|c| Open311Client {
        id: c.id,
        name: c.name,
        requests_per_hour: c.requests_per_hour,
        created_at: c.created_at,
        revoked_at: c.revoked_at,
        api_key: None,
    })
    .collect();
    Ok(Json(clients))
}

/// Revokes a key: its client can no longer file.
#[utoipa::path(delete, path = "/v1/admin/jurisdictions/{id}/open311-clients/{client}", tag = "reports",
    params(("id" = String, Path), ("client" = Uuid, Path)),
    responses((status = 204), (status = 404, body = platform::error::Problem)),
    security(("bearer" = [])))]
pub async fn revoke_key(
    State(state): State<ReportsState>,
    principal: Principal,
    Path((jurisdiction, client)): Path<(String, Uuid)>,
) -> Result<StatusCode, ApiError> {
    may_administer(&principal, &jurisdiction)?;
    let revoked = sqlx::query!(
        r#"UPDATE open311_clients SET revoked_at = COALESCE(revoked_at, now())
           WHERE id = $1 AND jurisdiction_id = $2"#,
        client,
        jurisdiction
    )
    .execute(&state.pool)
    .await?;
    if revoked.rows_affected() == 0 {
        return Err(ApiError::not_found(
            "open311_client_not_found",
            "Không có khóa Open311 này.",
            "There is no such Open311 client.",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}
