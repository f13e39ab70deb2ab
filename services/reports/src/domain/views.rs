//! How a report reads to each audience. The public never learns who filed it, nor the exact
//! position of an anonymous report or one of a sensitive category, and reads only the answers
//! its category marks public; its reporter sees all their answers; staff see everything,
//! internal notes included. `ReportRow::view` is the one list of what the public reads: the
//! app's public view, the near feed, duplicates and Open311 all render from it.

use chrono::{DateTime, Utc};
use platform::events::types::EventType;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

/// Who is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Public,
    Reporter,
    Staff,
}

/// A row of `report_details`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRow {
    pub id: Uuid,
    pub jurisdiction_id: String,
    pub category_code: String,
    pub ward_id: String,
    pub department_id: String,
    pub reporter_id: Uuid,
    pub anonymous: bool,
    pub status: String,
    pub reject_reason: Option<String>,
    pub description: String,
    pub answers: serde_json::Value,
    pub media_ids: Vec<Uuid>,
    pub latitude: f64,
    pub longitude: f64,
    pub public: bool,
    pub public_latitude: f64,
    pub public_longitude: f64,
    pub priority: String,
    pub urgent: bool,
    pub assignee_id: Option<Uuid>,
    pub duplicate_of: Option<Uuid>,
    pub sla_due_at: DateTime<Utc>,
    pub overdue_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub rating: Option<i16>,
    pub rating_comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub category_name_vi: String,
    pub category_name_en: String,
    pub category_group: String,
    pub category_sensitive: bool,
    /// The category's questions, as stored (with their `public` flags).
    pub category_questions: serde_json::Value,
    pub ward_name_vi: String,
    pub ward_name_en: String,
    pub department_name_vi: String,
    pub department_name_en: String,
    pub followers: i64,
}

/// Reads one report by id (no access check: callers check).
pub async fn load(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<ReportRow>> {
    sqlx::query_as::<_, ReportRow>("SELECT * FROM report_details WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Named {
    pub id: String,
    pub name_vi: String,
    pub name_en: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = reports::Position)]
pub struct Position {
    pub latitude: f64,
    pub longitude: f64,
    /// The centre of a ~0.7 km² cell rather than the exact spot.
    pub coarsened: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = reports::Report)]
pub struct Report {
    pub id: Uuid,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<String>,
    pub category: Named,
    pub category_group: String,
    pub ward: Named,
    pub department: Named,
    /// Empty for the public once the report left the public feed (rejected).
    pub description: String,
    /// Answers to the category's questions: all of them for the reporter and staff; for the
    /// public, those to questions marked public, of a public report that is neither anonymous
    /// nor of a sensitive category.
    pub answers: serde_json::Value,
    /// Empty for the public once the report left the public feed (rejected).
    pub media_ids: Vec<Uuid>,
    pub position: Position,
    /// The reporter chose to stay anonymous to the public (the reporter and staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<bool>,
    /// Staff only; never shown to the public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter_id: Option<Uuid>,
    pub public: bool,
    pub priority: String,
    pub urgent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<Uuid>,
    pub sla_due_at: DateTime<Utc>,
    pub overdue: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<i16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating_comment: Option<String>,
    pub followers: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// From the point asked about, in the near-me feed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
    /// Reports marked as duplicates of this one, in a report's detail only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<Vec<Uuid>>,
    /// Events in order, in a report's detail only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEvent>>,
}

impl ReportRow {
    /// Answers the public may read: to questions the category marks public, of a public report
    /// whose place is shown exactly (an anonymous report's or a sensitive one's answers could
    /// name the people or the place the coarsened position hides).
    fn public_answers(&self) -> serde_json::Map<String, serde_json::Value> {
        if !self.public || self.anonymous || self.category_sensitive {
            return serde_json::Map::new();
        }
        let public_codes: Vec<&str> = self
            .category_questions
            .as_array()
            .into_iter()
            .flatten()
            .filter(|question| question["public"] == true)
            .filter_map(|question| question["code"].as_str())
            .collect();
        self.answers
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(code, _)| public_codes.contains(&code.as_str()))
            .map(|(code, answer)| (code.clone(), answer.clone()))
            .collect()
    }

    pub fn view(self, audience: Audience) -> Report {
        let private = audience != Audience::Public;
        // What a report says and shows is public only while it is in the public feed; a
        // rejected one keeps its status public (Open311) and nothing more.
        let content = private || self.public;
        let answers = if private {
            self.answers.clone()
        } else {
            serde_json::Value::Object(self.public_answers())
        };
        let position = if private {
            Position {
                latitude: self.latitude,
                longitude: self.longitude,
                coarsened: false,
            }
        } else {
            Position {
                latitude: self.public_latitude,
                longitude: self.public_longitude,
                coarsened: self.public_latitude != self.latitude
                    || self.public_longitude != self.longitude,
            }
        };
        Report {
            id: self.id,
            status: self.status,
            reject_reason: self.reject_reason,
            category: Named {
                id: self.category_code,
                name_vi: self.category_name_vi,
                name_en: self.category_name_en,
            },
            category_group: self.category_group,
            ward: Named {
                id: self.ward_id,
                name_vi: self.ward_name_vi,
                name_en: self.ward_name_en,
            },
            department: Named {
                id: self.department_id,
                name_vi: self.department_name_vi,
                name_en: self.department_name_en,
            },
            description: if content {
                self.description
            } else {
                String::new()
            },
            answers,
            media_ids: if content { self.media_ids } else { Vec::new() },
            position,
            anonymous: private.then_some(self.anonymous),
            reporter_id: (audience == Audience::Staff).then_some(self.reporter_id),
            public: self.public,
            priority: self.priority,
            urgent: self.urgent,
            assignee_id: self.assignee_id.filter(|_| audience == Audience::Staff),
            duplicate_of: self.duplicate_of,
            sla_due_at: self.sla_due_at,
            overdue: self.overdue_at.is_some(),
            resolved_at: self.resolved_at,
            rating: self.rating,
            rating_comment: self.rating_comment.filter(|_| private),
            followers: self.followers,
            created_at: self.created_at,
            updated_at: self.updated_at,
            distance_m: None,
            duplicates: None,
            timeline: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEvent {
    pub id: Uuid,
    /// `created`, `status_changed`, `comment`, `duplicate_linked`, `overdue`, `rated`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_status: Option<String>,
    /// `resident`, `ward_officer`, `department_staff`, ..., or `system`.
    pub actor_role: String,
    /// Staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<Uuid>,
    /// `false` for internal notes, which only staff see.
    pub public: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub media_ids: Vec<Uuid>,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// What a report's detail adds to its row, read in the same statement: every event of its
/// timeline (the audience's share is picked in `Extras::add_to`) and the reports marked as its
/// duplicates. `d` is the report (a `report_details` row, or just its id).
macro_rules! timeline_and_duplicates {
    () => {
        r#"(SELECT coalesce(json_agg(e ORDER BY e.created_at, e.id), '[]')
              FROM (SELECT id, kind, from_status, to_status, actor_id, actor_role, public, note,
                           media_ids, details, created_at
                    FROM report_events WHERE report_id = d.id) e) AS timeline,
           ARRAY(SELECT r.id FROM reports r WHERE r.duplicate_of = d.id
                 ORDER BY r.created_at, r.id) AS duplicates"#
    };
}

#[derive(sqlx::FromRow)]
struct Extras {
    timeline: sqlx::types::Json<Vec<TimelineRow>>,
    duplicates: Vec<Uuid>,
}

/// An event as `report_events` holds it.
#[derive(Deserialize)]
struct TimelineRow {
    id: Uuid,
    kind: String,
    from_status: Option<String>,
    to_status: Option<String>,
    actor_id: Option<Uuid>,
    actor_role: String,
    public: bool,
    note: Option<String>,
    media_ids: Vec<Uuid>,
    details: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl Extras {
    /// The report with its timeline as `audience` may read it (staff alone read internal notes,
    /// who acted and whom a report is assigned to) and its duplicates.
    fn add_to(self, mut report: Report, audience: Audience) -> Report {
        let staff = audience == Audience::Staff;
        let timeline = self
            .timeline
            .0
            .into_iter()
            .filter(|event| staff || event.public)
            .map(|mut event| {
                if !staff && let Some(details) = event.details.as_object_mut() {
                    details.remove("assignee_id");
                }
                TimelineEvent {
                    id: event.id,
                    kind: event.kind,
                    from_status: event.from_status,
                    to_status: event.to_status,
                    actor_role: event.actor_role,
                    actor_id: event.actor_id.filter(|_| staff),
                    public: event.public,
                    note: event.note,
                    media_ids: event.media_ids,
                    details: event.details,
                    created_at: event.created_at,
                }
            })
            .collect();
        report.timeline = Some(timeline);
        report.duplicates = Some(self.duplicates);
        report
    }
}

/// A report with its timeline, as `audience` reads it, from a row already read (and checked).
pub async fn detail(
    conn: &mut PgConnection,
    row: ReportRow,
    audience: Audience,
) -> sqlx::Result<Report> {
    let extras: Extras = sqlx::query_as(concat!(
        "SELECT ",
        timeline_and_duplicates!(),
        " FROM (SELECT $1::uuid AS id) d"
    ))
    .bind(row.id)
    .fetch_one(conn)
    .await?;
    Ok(extras.add_to(row.view(audience), audience))
}

/// A report as it is now, with its timeline, as `audience` reads it: what every change
/// answers, in one statement.
pub async fn current(
    conn: &mut PgConnection,
    id: Uuid,
    audience: Audience,
) -> Result<Report, platform::ApiError> {
    #[derive(sqlx::FromRow)]
    struct Current {
        #[sqlx(flatten)]
        row: ReportRow,
        #[sqlx(flatten)]
        extras: Extras,
    }
    let current: Current = sqlx::query_as(concat!(
        "SELECT d.*, ",
        timeline_and_duplicates!(),
        " FROM report_details d WHERE d.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(crate::domain::ReportsError::ReportNotFound)?;
    Ok(current.extras.add_to(current.row.view(audience), audience))
}

/// A page of reports and the cursor of the next one.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportPage {
    pub reports: Vec<Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A new event on a report's timeline and in the outbox, within the caller's transaction.
pub struct Change<'a> {
    pub report_id: Uuid,
    pub kind: &'a str,
    pub from_status: Option<&'a str>,
    pub to_status: Option<&'a str>,
    pub actor_id: Option<Uuid>,
    pub actor_role: &'a str,
    pub public: bool,
    pub note: Option<&'a str>,
    pub media_ids: &'a [Uuid],
    pub details: serde_json::Value,
}

impl Change<'_> {
    /// Writes the timeline event and, in the outbox, `event` for the other services; answers the
    /// timeline event's id.
    pub async fn record_and_announce<E: EventType>(
        &self,
        conn: &mut PgConnection,
        event: &E,
    ) -> sqlx::Result<Uuid> {
        let id = self.record(&mut *conn).await?;
        platform::events::enqueue(conn, self.report_id, event).await?;
        Ok(id)
    }

    /// Writes the timeline event only (what other services need not hear of); answers its id.
    pub async fn record(&self, conn: &mut PgConnection) -> sqlx::Result<Uuid> {
        let id = Uuid::now_v7();
        sqlx::query!(
            r#"INSERT INTO report_events (id, report_id, kind, from_status, to_status, actor_id, actor_role, public, note, media_ids, details)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
            id,
            self.report_id,
            self.kind,
            self.from_status,
            self.to_status,
            self.actor_id,
            self.actor_role,
            self.public,
            self.note,
            self.media_ids,
            self.details
        )
        .execute(&mut *conn)
        .await?;
        Ok(id)
    }
}
