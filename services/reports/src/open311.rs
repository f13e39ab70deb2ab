//! Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2), so the clients cities already use
//! (FixMyStreet, GeoReporter, back-offices) read and file reports here: discovery, services and
//! their definitions, requests filed (`POST requests`, through the same routing and workflow as
//! the app) and listed, tokens, and mySociety's `servicerequestupdates` (read, and posted: a
//! client's follow-up becomes a note for staff) and `extensions`.
//!
//! Every document comes as XML or JSON, by the path's extension; errors are the spec's `errors`
//! list. Requests read exactly as the app's public view shows them (`ReportRow::view`), at
//! their public position, and never who filed them; a rejected one stays readable as
//! `closed`, with its reason. Filing and updates need an `api_key` a jurisdiction admin issued
//! (`/v1/admin/jurisdictions/{id}/open311-clients`); filing is limited per key and hour; every
//! request is limited per client address and minute.

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
use platform::auth::Principal;
use platform::error::SharedError;
use platform::extract::{ClientInfo, JsonBody};
use platform::lang::Lang;
use platform::request::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ReportsError;
use crate::domain::ReportsState;
use crate::domain::filing::{self, Filer, NewReport, Submitter};
use crate::domain::jurisdiction::{Question, QuestionKind};
use crate::domain::views::{Audience, Change, ReportRow};

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
async fn limited(state: &ReportsState, client: &ClientInfo) -> Result<(), Open311Error> {
    let key = client
        .ip
        .map_or_else(|| "unknown".to_owned(), platform::ratelimit::address_key);
    state
        .open311_limiter
        .check(&key)
        .await
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
    if let Err(error) = limited(&state, &client).await {
        return error.render(format);
    }
    let answer = match stem {
        "discovery" => Ok(discovery(&headers, format)),
        "services" => services(&state, &query, format).await,
        "requests" => requests(&state, &headers, &query, format).await,
        "servicerequestupdates" => updates(&state, &headers, &query, format).await,
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
    if let Err(error) = limited(&state, &client).await {
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
/// (the last 90 days by default) and status, at most 1,000 a page. Reports whose status the
/// public may learn, each as the app's public view shows it (`ReportRow::view`): a rejected
/// one is `closed`, with its reason in `status_notes`, and nothing else it said.
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
    let found = sqlx::query!(
        r#"SELECT d.id AS "id!", s.media_url AS "client_media_url?", s.address AS "address?",
                  (SELECT e.note FROM report_events e
                   WHERE e.report_id = d.id AND e.kind = 'status_changed' AND e.public
                   ORDER BY e.created_at DESC, e.id DESC LIMIT 1) AS status_note
           FROM report_details d
           LEFT JOIN open311_submitters s ON s.report_id = d.id
           WHERE d.jurisdiction_id = $1 AND d.status_public
             AND CASE WHEN $2::uuid[] IS NOT NULL THEN d.id = ANY($2)
                 ELSE d.created_at >= $3 AND d.created_at <= $4
                      AND ($5::text IS NULL OR d.category_code = $5)
                      AND ($6::text[] IS NULL OR
                           (CASE WHEN d.status IN ('resolved', 'closed', 'rejected')
                                 THEN 'closed' ELSE 'open' END) = ANY($6))
                 END
           ORDER BY d.created_at DESC, d.id DESC
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
    if ids.as_ref().is_some_and(|ids| ids.len() == 1) && found.is_empty() {
        return Err(Open311Error::new(
            StatusCode::NOT_FOUND,
            "No such service request",
        ));
    }
    let mut rows =
        sqlx::query_as::<_, ReportRow>("SELECT * FROM report_details WHERE id = ANY($1)")
            .bind(found.iter().map(|f| f.id).collect::<Vec<_>>())
            .fetch_all(&state.pool)
            .await?;
    let lang = lang();
    let extensions = truthy(query.extensions.as_deref());
    let base = origin(headers);
    let mut requests: Vec<Fields> = Vec::with_capacity(found.len());
    for found in found {
        let Some(at) = rows.iter().position(|row| row.id == found.id) else {
            continue;
        };
        let report = rows.swap_remove(at).view(Audience::Public);
        let photos: Vec<Value> = report
            .media_ids
            .iter()
            .map(|id| json!(photo_url(&base, *id)))
            .collect();
        let status_notes = found
            .status_note
            .or_else(|| {
                report
                    .reject_reason
                    .as_deref()
                    .map(|reason| rejection_note(lang, reason, report.duplicate_of))
            })
            .unwrap_or_default();
        // The client's own photo follows the report's: shown while the report is public.
        let media_url = found
            .client_media_url
            .filter(|_| report.public)
            .or_else(|| photos.first().and_then(Value::as_str).map(str::to_owned));
        // An address would give away the place a coarsened position keeps vague.
        let address = found
            .address
            .filter(|_| !report.position.coarsened)
            .unwrap_or_default();
        let mut request = object([
            ("service_request_id", json!(report.id.to_string())),
            ("status", json!(open_or_closed(&report.status))),
            ("status_notes", json!(status_notes)),
            (
                "service_name",
                json!(lang.pick(&report.category.name_vi, &report.category.name_en)),
            ),
            ("service_code", json!(report.category.id)),
            ("description", json!(report.description)),
            (
                "agency_responsible",
                json!(lang.pick(&report.department.name_vi, &report.department.name_en)),
            ),
            ("service_notice", json!("")),
            ("requested_datetime", json!(datetime(report.created_at))),
            ("updated_datetime", json!(datetime(report.updated_at))),
            ("expected_datetime", json!(datetime(report.sla_due_at))),
            ("address", json!(address)),
            ("address_id", json!("")),
            ("zipcode", json!("")),
            ("lat", json!(report.position.latitude)),
            ("long", json!(report.position.longitude)),
            // A URL or nothing, as the spec's schema says.
            ("media_url", json!(media_url)),
        ]);
        if extensions {
            let attributes: Map<String, Value> = report
                .answers
                .as_object()
                .into_iter()
                .flatten()
                .map(|(code, answer)| (code.clone(), answer_text(answer)))
                .collect();
            request.push(("attributes", Value::Object(attributes)));
            let mut extended = json!({
                "ward": report.ward.id, "status": report.status, "photos": photos,
            });
            if let Some(reason) = &report.reject_reason {
                extended["reject_reason"] = json!(reason);
            }
            request.push(("extended_attributes", extended));
        }
        requests.push(request);
    }
    Ok(list(format, "service_requests", "request", &requests))
}

/// Where anyone reads a photo the public may see.
fn photo_url(base: &str, id: Uuid) -> String {
    format!("{base}/v1/media/{id}/display")
}

/// Why a report was rejected, for its notes when the officer left none.
fn rejection_note(lang: Lang, reason: &str, duplicate_of: Option<Uuid>) -> String {
    match (reason, duplicate_of) {
        ("duplicate", Some(original)) => lang
            .pick(
                &format!("Trùng với phản ánh {original}."),
                &format!("A duplicate of request {original}."),
            )
            .to_owned(),
        ("duplicate", None) => lang
            .pick(
                "Trùng với một phản ánh khác.",
                "A duplicate of another request.",
            )
            .to_owned(),
        ("not_responsible", _) => lang
            .pick(
                "Không thuộc trách nhiệm của thành phố.",
                "Not the city's responsibility.",
            )
            .to_owned(),
        _ => lang
            .pick(
                "Phản ánh không được xử lý tiếp.",
                "No further action will be taken.",
            )
            .to_owned(),
    }
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

/// mySociety's `servicerequestupdates`: public status changes of requests whose status is
/// public, in a window (the last day by default), oldest first; a resolution carries its proof
/// photo, a rejection its reason (`DUPLICATE`, `NOT_COUNCILS_RESPONSIBILITY`,
/// `NO_FURTHER_ACTION`).
async fn updates(
    state: &ReportsState,
    headers: &HeaderMap,
    query: &CommonQuery,
    format: Format,
) -> Result<Response, Open311Error> {
    let jurisdiction = jurisdiction(state, query.jurisdiction_id.as_deref()).await?;
    let end = parse_date("end_date", query.end_date.as_deref())?.unwrap_or_else(Utc::now);
    let start = parse_date("start_date", query.start_date.as_deref())?
        .unwrap_or(end - chrono::Duration::days(1));
    let rows = sqlx::query!(
        r#"SELECT e.id, e.report_id, e.to_status, e.note, e.media_ids, e.created_at, e.details,
                  d.public AS "report_public!", d.duplicate_of
           FROM report_events e JOIN report_details d ON d.id = e.report_id
           WHERE e.kind = 'status_changed' AND e.public AND e.created_at >= $2
             AND e.created_at <= $3 AND d.jurisdiction_id = $1 AND d.status_public
           ORDER BY e.created_at, e.id LIMIT $4"#,
        jurisdiction,
        start,
        end,
        MAX_RESULTS
    )
    .fetch_all(&state.pool)
    .await?;
    let lang = lang();
    let base = origin(headers);
    let updates: Vec<Fields> = rows
        .into_iter()
        .map(|row| {
            let status = row.to_status.unwrap_or_default();
            let reason = row.details["reason"].as_str();
            let description = row
                .note
                .or_else(|| reason.map(|r| rejection_note(lang, r, row.duplicate_of)))
                .unwrap_or_default();
            // Photos are public with their report; a rejected one's are not.
            let media_url = row
                .media_ids
                .first()
                .filter(|_| row.report_public)
                .map(|id| photo_url(&base, *id));
            object([
                ("update_id", json!(row.id.to_string())),
                ("service_request_id", json!(row.report_id.to_string())),
                ("status", json!(update_status(&status, reason))),
                ("updated_datetime", json!(datetime(row.created_at))),
                ("description", json!(description)),
                ("media_url", json!(media_url)),
                // Our own word for it: the status, or why it was rejected.
                ("external_status_code", json!(reason.unwrap_or(&status))),
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

/// The client behind an `api_key`, if the key is live.
struct Client {
    id: Uuid,
    jurisdiction_id: String,
    requests_per_hour: i32,
}

fn key_hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// `POST /open311/v2/requests.{fmt}` files a report for a third party;
/// `POST /open311/v2/servicerequestupdates.{fmt}` adds its follow-up to one.
pub async fn post_document(
    State(state): State<ReportsState>,
    Path(file): Path<String>,
    client: ClientInfo,
    body: Bytes,
) -> Response {
    let Some((stem, format)) = document(&file) else {
        return Open311Error::new(StatusCode::NOT_FOUND, "No such document").render(Format::Xml);
    };
    if let Err(error) = limited(&state, &client).await {
        return error.render(format);
    }
    let form = match Form::parse(&body) {
        Ok(form) => form,
        Err(error) => return Open311Error::from(error).render(format),
    };
    let answer = match stem {
        "requests" => create_request(&state, &form, format).await,
        "servicerequestupdates" => create_update(&state, &form, format).await,
        _ => Err(Open311Error::new(StatusCode::NOT_FOUND, "No such document")),
    };
    answer.unwrap_or_else(|error| error.render(format))
}

/// A form-encoded body. A key may come more than once (FixMyStreet repeats
/// `attribute[code]` for each value of a list, and `media_url` for each photo) or with `[]`
/// (`attribute[code][]`): every value is kept, in order.
struct Form(BTreeMap<String, Vec<String>>);

impl Form {
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in form_urlencoded::parse(body) {
            platform::text::check(&key)?;
            platform::text::check(&value)?;
            let key = key.strip_suffix("[]").unwrap_or(&key).to_owned();
            fields.entry(key).or_default().push(value.into_owned());
        }
        Ok(Self(fields))
    }

    /// Every value given for `name`.
    fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map_or(&[], Vec::as_slice)
    }

    /// The first value given for `name`, if not empty.
    fn get(&self, name: &str) -> Option<&str> {
        self.all(name)
            .first()
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A text about a person or place, cut to 500 characters.
    fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.chars().take(500).collect())
    }

    /// The web addresses given for `name` (others are dropped).
    fn urls(&self, name: &str) -> Vec<String> {
        self.all(name)
            .iter()
            .filter(|u| {
                (u.starts_with("https://") || u.starts_with("http://")) && u.chars().count() <= 2000
            })
            .cloned()
            .collect()
    }
}

/// The client behind the form's `api_key`, if the key is live and serves the jurisdiction asked
/// for; 403 otherwise, as the spec says (`action` names what could not proceed).
async fn authorised_client(
    state: &ReportsState,
    form: &Form,
    action: &str,
) -> Result<Client, Open311Error> {
    let forbidden = || {
        Open311Error::new(
            StatusCode::FORBIDDEN,
            format!("Invalid api_key received -- can't proceed with {action}."),
        )
    };
    let key = form.get("api_key").ok_or_else(forbidden)?;
    let client = sqlx::query_as!(
        Client,
        r#"SELECT id, jurisdiction_id, requests_per_hour FROM open311_clients
           WHERE key_hash = $1 AND revoked_at IS NULL"#,
        key_hash(key)
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(forbidden)?;
    if jurisdiction(state, form.get("jurisdiction_id")).await? != client.jurisdiction_id {
        return Err(forbidden());
    }
    Ok(client)
}

/// An `attribute[code]` of a number question as a JSON number: whole numbers stay whole (`15`,
/// not `15.0`).
fn parse_number(name: &str, text: &str) -> Result<Value, Open311Error> {
    text.trim()
        .parse::<serde_json::Number>()
        .map(Value::Number)
        .map_err(|_| Open311Error::new(StatusCode::BAD_REQUEST, format!("{name} must be a number")))
}

async fn create_request(
    state: &ReportsState,
    form: &Form,
    format: Format,
) -> Result<Response, Open311Error> {
    let client = authorised_client(state, form, "create_request").await?;
    let jurisdiction = client.jurisdiction_id.clone();
    let code = form
        .get("service_code")
        .ok_or_else(|| Open311Error::new(StatusCode::BAD_REQUEST, "service_code is required"))?;
    let questions = questions(state, &jurisdiction, code).await?;
    let (latitude, longitude) = match (form.get("lat"), form.get("long")) {
        (Some(lat), Some(long)) => match (lat.parse::<f64>(), long.parse::<f64>()) {
            (Ok(lat), Ok(long)) => (lat, long),
            _ => {
                return Err(Open311Error::new(
                    StatusCode::BAD_REQUEST,
                    "lat and long must be decimal degrees",
                ));
            }
        },
        _ if form.get("address_string").is_some() || form.get("address_id").is_some() => {
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
        let answer = match (question.kind, form.get(&name)) {
            (QuestionKind::MultiChoice, _) if !form.all(&name).is_empty() => {
                Some(json!(form.all(&name)))
            }
            (QuestionKind::Number, Some(text)) => Some(parse_number(&name, text)?),
            (_, Some(text)) => Some(json!(text)),
            (_, None) => None,
        };
        if let Some(answer) = answer {
            answers.insert(question.code.clone(), answer);
        }
    }
    let request = NewReport {
        category: code.to_owned(),
        latitude,
        longitude,
        description: form.get("description").unwrap_or_default().to_owned(),
        media_ids: Vec::new(),
        answers,
        anonymous: false,
        jurisdiction: Some(jurisdiction),
    };
    let account_id = form.text("account_id");
    let filer = Filer {
        account_id: client.id,
        role: "open311",
        max_per_hour: i64::from(client.requests_per_hour),
        submitter: Some(Submitter {
            client_id: client.id,
            email: form.text("email"),
            phone: form.text("phone"),
            first_name: form.text("first_name"),
            last_name: form.text("last_name"),
            device_id: form.text("device_id"),
            account_id: account_id.clone(),
            media_url: form.urls("media_url").into_iter().next(),
            address: form.text("address_string"),
        }),
    };
    // Open311 has no idempotency key: every POST is a new request.
    let key = Uuid::new_v4().to_string();
    let filing = filing::file(state, &filer, &key, &request).await?;
    let notice = lang().pick(
        "Phản ánh đã được chuyển đến đơn vị phụ trách.",
        "The request has been routed to the responsible department.",
    );
    let mut created = object([
        ("service_request_id", json!(filing.report_id.to_string())),
        ("service_notice", json!(notice)),
    ]);
    // The client's own id for the person, given back as the spec's answer carries it.
    if let Some(account_id) = account_id {
        created.push(("account_id", json!(account_id)));
    }
    let created = list(format, "service_requests", "request", &[created]);
    Ok((StatusCode::CREATED, created).into_response())
}

/// The states mySociety's extension lets a client report with an update.
const UPDATE_STATES: [&str; 11] = [
    "OPEN",
    "CLOSED",
    "FIXED",
    "IN_PROGRESS",
    "ACTION_SCHEDULED",
    "INVESTIGATING",
    "DUPLICATE",
    "NOT_COUNCILS_RESPONSIBILITY",
    "NO_FURTHER_ACTION",
    "INTERNAL_REFERRAL",
    "REOPEN",
];

/// Most photos one update may link to.
const MAX_UPDATE_MEDIA: usize = 10;

/// mySociety's `POST servicerequestupdates`: a person's follow-up, posted by the client they
/// wrote it on (FixMyStreet's `post_service_request_update`), becomes a note on the report's
/// timeline for staff; the status the client reports is kept with it, never acted on. Once per
/// client and `update_id`: a retry is answered with the first update's id.
async fn create_update(
    state: &ReportsState,
    form: &Form,
    format: Format,
) -> Result<Response, Open311Error> {
    let client = authorised_client(state, form, "post_service_request_update").await?;
    let bad = |text: &str| Open311Error::new(StatusCode::BAD_REQUEST, text);
    let request_id = form
        .get("service_request_id")
        .ok_or_else(|| bad("service_request_id is required"))?;
    let update_id = form
        .get("update_id")
        .filter(|id| id.chars().count() <= 100)
        .ok_or_else(|| bad("update_id is required (at most 100 characters)"))?;
    let description = form.get("description").unwrap_or_default().trim();
    if description.chars().count() > filing::MAX_DESCRIPTION_CHARS {
        return Err(bad("description may have at most 4000 characters"));
    }
    let media_urls = form.urls("media_url");
    if description.is_empty() && media_urls.is_empty() {
        return Err(bad("description is required"));
    }
    if media_urls.len() > MAX_UPDATE_MEDIA {
        return Err(bad("at most 10 media_url"));
    }
    let status = match form.get("status") {
        Some(status) => Some(
            UPDATE_STATES
                .into_iter()
                .find(|s| s.eq_ignore_ascii_case(status))
                .ok_or_else(|| bad("status must be OPEN, CLOSED or one of mySociety's states"))?,
        ),
        None => None,
    };
    let written_at = parse_date("updated_datetime", form.get("updated_datetime"))?;

    if let Some(update) = posted_update(state, client.id, update_id).await? {
        return replayed(update, request_id, format);
    }
    let not_found = || Open311Error::new(StatusCode::NOT_FOUND, "No such service request");
    let report_id: Uuid = request_id.parse().map_err(|_| not_found())?;
    // A client follows up on requests whose status is public, and on those it filed.
    sqlx::query_scalar!(
        r#"SELECT d.id AS "id!" FROM report_details d
           WHERE d.id = $1 AND d.jurisdiction_id = $2
             AND (d.status_public OR EXISTS (SELECT 1 FROM open311_submitters s
                                             WHERE s.report_id = d.id AND s.client_id = $3))"#,
        report_id,
        client.jurisdiction_id,
        client.id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(not_found)?;

    let mut tx = state.pool.begin().await?;
    let event_id = Change {
        report_id,
        kind: "comment",
        from_status: None,
        to_status: None,
        actor_id: Some(client.id),
        actor_role: "open311",
        public: false,
        note: Some(description).filter(|d| !d.is_empty()),
        media_ids: &[],
        details: json!({
            "update_id": update_id,
            "status": status,
            "media_urls": media_urls,
            "updated_datetime": written_at,
        }),
    }
    .record(&mut tx)
    .await?;
    // A concurrent retry waits here for the first to commit, then finds it.
    let claimed = sqlx::query!(
        r#"INSERT INTO open311_updates (client_id, update_id, report_id, event_id, email, phone,
               first_name, last_name, account_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"#,
        client.id,
        update_id,
        report_id,
        event_id,
        form.text("email"),
        form.text("phone"),
        form.text("first_name"),
        form.text("last_name"),
        form.text("account_id")
    )
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        tx.rollback().await?;
        let update = posted_update(state, client.id, update_id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("an Open311 update vanished")))?;
        return replayed(update, request_id, format);
    }
    tx.commit().await?;
    tracing::info!(client = %client.id, report_id = %report_id, "Open311 update posted");
    Ok((StatusCode::CREATED, update_answer(event_id, format)).into_response())
}

/// An update a client posted before: the report it is on, and our id for it.
struct PostedUpdate {
    report_id: Uuid,
    event_id: Uuid,
}

async fn posted_update(
    state: &ReportsState,
    client: Uuid,
    update_id: &str,
) -> Result<Option<PostedUpdate>, Open311Error> {
    Ok(sqlx::query_as!(
        PostedUpdate,
        "SELECT report_id, event_id FROM open311_updates WHERE client_id = $1 AND update_id = $2",
        client,
        update_id
    )
    .fetch_optional(&state.pool)
    .await?)
}

/// The first answer to an `update_id` posted again; 400 if it now names another request.
fn replayed(
    update: PostedUpdate,
    request_id: &str,
    format: Format,
) -> Result<Response, Open311Error> {
    if request_id.parse::<Uuid>().ok() != Some(update.report_id) {
        return Err(Open311Error::new(
            StatusCode::BAD_REQUEST,
            "update_id was already used for another service request",
        ));
    }
    Ok(update_answer(update.event_id, format))
}

/// mySociety's answer to an update: its id here.
fn update_answer(event_id: Uuid, format: Format) -> Response {
    list(
        format,
        "service_request_updates",
        "request_update",
        &[object([("update_id", json!(event_id.to_string()))])],
    )
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
    crate::domain::access::may_administer(&principal, &jurisdiction)?;
    let name = client.name.trim();
    let per_hour = client
        .requests_per_hour
        .unwrap_or(DEFAULT_REQUESTS_PER_HOUR);
    if name.is_empty() || name.chars().count() > 100 {
        return Err(SharedError::InvalidField {
            field: "name",
            rule_vi: "từ 1 đến 100 ký tự".into(),
            rule_en: "1 to 100 characters".into(),
        }
        .into());
    }
    if !(1..=100_000).contains(&per_hour) {
        return Err(SharedError::InvalidField {
            field: "requests_per_hour",
            rule_vi: "từ 1 đến 100.000 yêu cầu mỗi giờ".into(),
            rule_en: "1 to 100,000 requests an hour".into(),
        }
        .into());
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
    .ok_or_else(ApiError::jurisdiction_not_found)?;
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
    crate::domain::access::may_administer(&principal, &jurisdiction)?;
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
    crate::domain::access::may_administer(&principal, &jurisdiction)?;
    let revoked = sqlx::query!(
        r#"UPDATE open311_clients SET revoked_at = COALESCE(revoked_at, now())
           WHERE id = $1 AND jurisdiction_id = $2"#,
        client,
        jurisdiction
    )
    .execute(&state.pool)
    .await?;
    if revoked.rows_affected() == 0 {
        return Err(ReportsError::Open311ClientNotFound.into());
    }
    Ok(StatusCode::NO_CONTENT)
}
