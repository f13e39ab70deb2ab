//! Every event between services, named and shaped once. A producer writes one of these with
//! [`enqueue`](super::enqueue), a consumer subscribes to its [`EventType::NAME`] and reads it
//! back with [`Event::decode`](super::Event::decode); no service spells an event's name or
//! fields itself. Events already written stay readable: a field added later is an `Option` or
//! has a default, and a change that cannot be read that way is a new event type.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An event's payload, and the name it travels under.
pub trait EventType: Serialize + DeserializeOwned {
    /// `account.erased`, `report.status_changed`, ...
    const NAME: &'static str;
}

macro_rules! event_types {
    ($($type:ident = $name:literal),* $(,)?) => {
        $(impl EventType for $type {
            const NAME: &'static str = $name;
        })*
    };
}

event_types! {
    AccountErasureRequested = "account.erasure_requested",
    AccountErased = "account.erased",
    AccountHomeWardChanged = "account.home_ward_changed",
    ReportCreated = "report.created",
    ReportStatusChanged = "report.status_changed",
    ReportOverdue = "report.overdue",
    ReportCommented = "report.commented",
    ReportDuplicateLinked = "report.duplicate_linked",
    ReportRated = "report.rated",
    PaymentSucceeded = "payment.succeeded",
    PaymentFailed = "payment.failed",
    PaymentRefunded = "payment.refunded",
    VaccinationsDue = "health.vaccinations_due",
    ScorePublished = "education.score_published",
    DossierChanged = "administration.dossier_changed",
    AppointmentReminder = "administration.appointment_reminder",
    AlertIssued = "alerts.alert_issued",
    RiverAlarmRaised = "environment.river_alarm_raised",
    QuestionSettled = "community.question_settled",
}

/// Community: a resident's question to the government was answered or turned down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionSettled {
    pub question_id: Uuid,
    pub jurisdiction: String,
    /// Who asked.
    pub account_id: Uuid,
    pub title: String,
    pub department_name_vi: String,
    pub department_name_en: String,
    /// `answered` or `rejected`.
    pub status: String,
}

/// Identity: a resident asked for their account to be erased; it goes after `erase_after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountErasureRequested {
    pub account_id: Uuid,
    pub erase_after: DateTime<Utc>,
}

/// Identity: an account is gone; every service forgets what it held of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountErased {
    pub account_id: Uuid,
}

/// Identity: a resident's home ward changed, or was cleared (`None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountHomeWardChanged {
    pub account_id: Uuid,
    /// Absent from events written before home wards had a jurisdiction.
    #[serde(default)]
    pub jurisdiction: Option<String>,
    pub home_ward: Option<String>,
}

/// Reports: a report was filed and routed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportCreated {
    pub report_id: Uuid,
    pub jurisdiction: String,
    pub ward: String,
    pub department: String,
    pub category: String,
    pub category_name_vi: String,
    pub category_name_en: String,
    pub reporter_id: Uuid,
    /// `submitted`.
    pub status: String,
    /// `low`, `normal`, `high` or `critical`.
    pub priority: String,
    pub urgent: bool,
    /// Whether the report shows in the public feed.
    pub public: bool,
    /// Where it was filed, as an H3 cell of resolution 9.
    pub h3_res9: i64,
    pub sla_due_at: DateTime<Utc>,
}

/// Reports: a report moved in its workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportStatusChanged {
    pub report_id: Uuid,
    pub from: String,
    pub to: String,
    /// `resident`, `ward_officer`, ..., or `system` for the SLA job.
    pub actor_role: String,
    /// Why it was rejected or moderated, when it was.
    pub reason: Option<String>,
    pub jurisdiction: String,
    pub ward: String,
    pub department: String,
    pub reporter_id: Uuid,
    /// What staff told the public with the change.
    pub public_note: Option<String>,
    pub urgent: bool,
}

/// Reports: a report passed its SLA deadline without being resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportOverdue {
    pub report_id: Uuid,
    pub jurisdiction: String,
    pub ward: String,
    pub department: String,
    pub category: String,
    pub assignee_id: Option<Uuid>,
    pub urgent: bool,
    pub priority: String,
    pub sla_due_at: DateTime<Utc>,
}

/// Reports: staff wrote a public comment on a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportCommented {
    pub report_id: Uuid,
    pub reporter_id: Uuid,
    pub note: String,
}

/// Reports: `duplicate_id` was linked as a duplicate of `report_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDuplicateLinked {
    pub report_id: Uuid,
    pub duplicate_id: Uuid,
}

/// Reports: the reporter rated how their report was resolved (1 to 5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRated {
    pub report_id: Uuid,
    pub rating: i16,
    pub jurisdiction: String,
    pub ward: String,
    pub department: String,
}

/// Payments: a payment settled and its receipt was issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentSucceeded {
    pub payment_id: Uuid,
    pub account_id: Uuid,
    /// In đồng.
    pub amount: i64,
    /// The kind of bill: `electricity`, `water`, ...
    pub service: String,
    pub description_vi: String,
    pub description_en: String,
    pub receipt_number: String,
    /// `vnpay` or `momo`.
    pub provider: String,
}

/// Payments: a payment failed or expired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentFailed {
    pub payment_id: Uuid,
    pub account_id: Uuid,
    pub amount: i64,
    pub service: String,
    pub description_vi: String,
    pub description_en: String,
    /// `expired`, `bill_already_paid`, `amount_mismatch`, or the provider's reason.
    pub reason: String,
}

/// Payments: a payment was refunded, in part or in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    pub payment_id: Uuid,
    pub refund_id: Uuid,
    pub account_id: Uuid,
    pub amount: i64,
}

/// Health: doses of a person's vaccinations come due within days (or came due lately), told
/// once each to the account that watches the person's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaccinationsDue {
    pub account_id: Uuid,
    /// The person at the health system (the account's child, or the account's holder).
    pub patient_id: String,
    pub patient_name: String,
    pub doses: Vec<DoseDue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoseDue {
    /// The national schedule's series (`dtp-hepb-hib`, ...).
    pub series: String,
    /// 1 for the first.
    pub dose: u32,
    pub vaccine_vi: String,
    pub vaccine_en: String,
    pub due_on: chrono::NaiveDate,
}

/// Education: a school published a result of a pupil the account has linked (a new score or a
/// corrected one), told once per version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorePublished {
    pub account_id: Uuid,
    /// The pupil at the school system.
    pub student_id: String,
    pub student_name: String,
    pub subject_vi: String,
    pub subject_en: String,
    /// The assessment, as the school names it (`Giữa kì`).
    pub assessment: String,
    pub score: Option<f64>,
    pub text_score: Option<String>,
}

/// Administration: a dossier the account follows changed state at the one-stop system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierChanged {
    pub account_id: Uuid,
    pub code: String,
    pub procedure_vi: String,
    pub procedure_en: String,
    /// The state as the one-stop forms name it (`more_documents_requested`, `ready`, ...).
    pub state: String,
    /// Why (refused, more documents, delayed), as the office wrote it.
    pub reason: Option<String>,
    /// The promised return date, a new one when delayed.
    pub due: Option<DateTime<Utc>>,
}

/// Administration: the account's appointment at a public-service counter is near.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppointmentReminder {
    pub account_id: Uuid,
    pub appointment_id: Uuid,
    pub centre_vi: String,
    pub centre_en: String,
    pub service_vi: String,
    pub service_en: String,
    pub starts_at: DateTime<Utc>,
    pub queue_number: String,
}

/// Environment: a river rose past a higher alarm level at a gauge (báo động I, II or III).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiverAlarmRaised {
    pub jurisdiction: String,
    pub gauge_id: String,
    pub river_vi: String,
    pub river_en: String,
    pub station_vi: String,
    pub station_en: String,
    pub lat: f64,
    pub lng: f64,
    /// The wards the gauge's floods reach; none: a circle around the gauge.
    pub wards: Vec<String>,
    pub level_m: f64,
    /// 1 to 3.
    pub alarm_level: u8,
    pub threshold_m: f64,
    pub observed_at: DateTime<Utc>,
}

/// Alerts: a CAP alert, update or cancel came into force; everyone in its area is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertIssued {
    pub alert_id: Uuid,
    pub jurisdiction: String,
    /// Where, as reports resolves areas: `{"wards": [...]}` or `{"polygon": <GeoJSON>}`.
    pub area: serde_json::Value,
    /// `Alert`, `Update` or `Cancel`, as CAP names them.
    pub msg_type: String,
    pub headline_vi: String,
    pub headline_en: String,
    pub description_vi: String,
    pub description_en: String,
    /// Severe or extreme, and immediate or expected: it goes through quiet hours.
    pub urgent: bool,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::Event;

    fn event(event_type: &str, payload: serde_json::Value) -> Event {
        Event {
            id: Uuid::now_v7(),
            source: "identity".to_owned(),
            event_type: event_type.to_owned(),
            aggregate_id: Uuid::now_v7(),
            schema_version: 1,
            payload,
            occurred_at: Utc::now(),
        }
    }

    #[test]
    fn an_event_reads_back_only_as_its_own_type() {
        let account_id = Uuid::now_v7();
        let erased = event(AccountErased::NAME, json!({ "account_id": account_id }));
        assert_eq!(
            erased.decode::<AccountErased>().unwrap(),
            AccountErased { account_id }
        );
        assert!(erased.decode::<AccountErasureRequested>().is_err());
        let misshapen = event(AccountErased::NAME, json!({ "account": account_id }));
        assert!(misshapen.decode::<AccountErased>().is_err());
    }

    #[test]
    fn a_home_ward_change_written_before_jurisdictions_still_reads() {
        let account_id = Uuid::now_v7();
        let old = event(
            AccountHomeWardChanged::NAME,
            json!({ "account_id": account_id, "home_ward": "phu-hoi" }),
        );
        let changed: AccountHomeWardChanged = old.decode().unwrap();
        assert_eq!(changed.jurisdiction, None);
        assert_eq!(changed.home_ward.as_deref(), Some("phu-hoi"));
    }
}
