//! A client of a school information system through IMS OneRoster 1.2's REST binding
//! (rostering and gradebook, read-only): OAuth 2.0 client credentials, collections read page
//! after page by the server's own `Link: rel="next"`, a deadline per call, a circuit breaker,
//! and reference data (classes' line items, sessions, categories) reused for a while, so that a
//! school system that is down costs a parent one quick 503.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::header;
use platform::oauth_api::{ApiCallError, Credentials, OAuthApi};
use platform::outbound::{Limits, PlainHttp};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::OneRosterServer;

/// The scopes Citizen asks for: reading rosters and gradebooks, nothing else.
const SCOPES: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly \
                      https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly";
/// Objects asked for per page.
const PAGE_SIZE: usize = 500;
/// Pages of one collection read at most; the schools of a province fit in far fewer.
const MAX_PAGES: usize = 100;
/// The largest answer read (one page).
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;
/// How long reference data is reused, and how much is kept.
const REFERENCE_TTL: Duration = Duration::from_secs(600);
const MAX_REFERENCES: usize = 20_000;
/// Why a OneRoster call gave no usable answer: down, too slow, answering 5xx or not OneRoster,
/// the breaker open; or 404 `unknownobject`.
pub type RosterError = ApiCallError;

/// The school system of one jurisdiction.
pub struct OneRoster {
    /// At `<base_url>/ims/oneroster/`.
    api: OAuthApi,
    references: Mutex<HashMap<String, (Instant, serde_json::Value)>>,
}

impl OneRoster {
    pub fn new(
        server: &OneRosterServer,
        timeout: Duration,
        plain_http: PlainHttp,
    ) -> anyhow::Result<Self> {
        let base = format!("{}/ims/oneroster/", server.base_url.trim_end_matches('/'));
        let credentials = Credentials {
            token_url: server.token_url.clone(),
            client_id: server.client_id.clone(),
            client_secret: server.client_secret.clone(),
            scope: Some(SCOPES),
        };
        let limits = Limits {
            timeout,
            max_answer_bytes: MAX_ANSWER_BYTES,
            ..Limits::default()
        };
        Ok(Self {
            api: OAuthApi::new(
                "school information system",
                &base,
                credentials,
                limits,
                plain_http,
            )?,
            references: Mutex::default(),
        })
    }

    /// One object: `path` under the base (`rostering/v1p2/users/{id}`), its `key` (`user`).
    pub async fn object<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
    ) -> Result<T, RosterError> {
        let url = format!("{}{path}", self.api.base());
        let (body, _) = self.exchange(&url).await?;
        let mut wrapper: HashMap<String, serde_json::Value> = self.parse(&body)?;
        let object = wrapper
            .remove(key)
            .ok_or_else(|| self.failed(&format!("{path}: no `{key}` in the answer")))?;
        serde_json::from_value(object)
            .map_err(|e| self.failed(&format!("{path}: not the OneRoster {key} expected: {e}")))
    }

    /// Every object of a collection (`rostering/v1p2/schools`, key `orgs`) that `params`
    /// select (`filter`, `sort`), page after page.
    pub async fn collection<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<T>, RosterError> {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .append_pair("limit", &PAGE_SIZE.to_string())
            .finish();
        let mut url = format!("{}{path}?{query}", self.api.base());
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            let (body, next) = self.exchange(&url).await?;
            let mut page: HashMap<String, serde_json::Value> = self.parse(&body)?;
            let items = page
                .remove(key)
                .ok_or_else(|| self.failed(&format!("{path}: no `{key}` in the answer")))?;
            let items: Vec<T> = serde_json::from_value(items).map_err(|e| {
                self.failed(&format!("{path}: not the OneRoster {key} expected: {e}"))
            })?;
            let empty = items.is_empty();
            found.extend(items);
            match next {
                // Only the server's own pages: our token goes nowhere else.
                Some(next) if !empty && self.is_own(&next) => url = next,
                Some(next) if !empty => {
                    return Err(self.failed(&format!("a next link off the server: {next}")));
                }
                _ => return Ok(found),
            }
        }
        tracing::warn!(
            path,
            "a OneRoster collection had more than {MAX_PAGES} pages; the rest is left"
        );
        Ok(found)
    }

    /// A collection that changes seldom (a class's line items, the sessions, the categories),
    /// read at most every `REFERENCE_TTL`.
    pub async fn reference<T: DeserializeOwned + serde::Serialize>(
        &self,
        path: &str,
        key: &str,
    ) -> Result<Vec<T>, RosterError> {
        let kept = {
            let references = self.references.lock().unwrap_or_else(|p| p.into_inner());
            references
                .get(path)
                .filter(|(at, _)| at.elapsed() < REFERENCE_TTL)
                .map(|(_, value)| value.clone())
        };
        if let Some(kept) = kept {
            return serde_json::from_value(kept)
                .map_err(|e| RosterError::Unavailable(format!("{path}: {e}")));
        }
        let found: Vec<T> = self.collection(path, key, &[]).await?;
        let value = serde_json::to_value(&found)
            .map_err(|e| RosterError::Unavailable(format!("{path}: {e}")))?;
        let mut references = self.references.lock().unwrap_or_else(|p| p.into_inner());
        if references.len() >= MAX_REFERENCES {
            references.clear();
        }
        references.insert(path.to_owned(), (Instant::now(), value));
        Ok(found)
    }

    /// GETs `url` with our access token: the body of a 2xx answer and its `next` link.
    async fn exchange(&self, url: &str) -> Result<(Bytes, Option<String>), RosterError> {
        let answer = self.api.get(url).await?;
        let next = answer
            .headers
            .get_all(header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link);
        Ok((answer.body, next))
    }

    fn is_own(&self, url: &str) -> bool {
        url.starts_with(self.api.base())
    }

    fn parse<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, RosterError> {
        serde_json::from_slice(body)
            .map_err(|e| self.failed(&format!("an answer that is not the JSON expected: {e}")))
    }

    fn failed(&self, reason: &str) -> RosterError {
        self.api.failed(reason)
    }
}

/// The `rel="next"` target of an RFC 8288 `Link` header value, if it has one.
fn next_link(value: &str) -> Option<String> {
    value.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim();
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| target.to_owned())
    })
}

/// sourcedIds this client puts in a path: anything else cannot name an object here (and must
/// not reach a URL).
pub fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// A value this client puts between a filter's quotes: letters and digits only, so nothing
/// can close the quote.
pub fn filter_value(value: &str) -> Option<&str> {
    ((1..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(value)
}

/// A reference to another object (`{"href", "sourcedId", "type"}`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ref {
    pub sourced_id: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub sourced_id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub given_name: String,
    #[serde(default)]
    pub family_name: String,
    #[serde(default)]
    pub middle_name: Option<String>,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub sms: Option<String>,
    #[serde(default)]
    pub roles: Vec<UserRole>,
    #[serde(default)]
    pub agents: Vec<Ref>,
}

impl User {
    /// The name as Vietnamese write it: family, middle, given.
    pub fn full_name(&self) -> String {
        [
            self.family_name.as_str(),
            self.middle_name.as_deref().unwrap_or(""),
            self.given_name.as_str(),
        ]
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.role == role)
    }

    pub fn active(&self) -> bool {
        self.status.as_deref() != Some("tobedeleted")
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct UserRole {
    pub role: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Class {
    pub sourced_id: String,
    #[serde(default)]
    pub status: Option<String>,
    pub title: String,
    #[serde(default)]
    pub class_type: Option<String>,
    #[serde(default)]
    pub grades: Vec<String>,
    #[serde(default)]
    pub subjects: Vec<String>,
    #[serde(default)]
    pub subject_codes: Vec<String>,
    pub school: Ref,
    #[serde(default)]
    pub terms: Vec<Ref>,
    #[serde(default)]
    pub metadata: ClassMetadata,
}

/// Citizen's profile: how a class's subject is assessed, and its periods per year (which set
/// how many regular assessments a semester needs).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClassMetadata {
    /// `scored`, `comment` (secondary) or `level` (primary).
    pub assessment: Option<String>,
    pub periods_per_year: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AcademicSession {
    pub sourced_id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub parent: Option<Ref>,
    #[serde(default)]
    pub metadata: SessionMetadata,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SessionMetadata {
    /// 1 or 2 for a semester.
    pub semester: Option<u8>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub sourced_id: String,
    pub title: String,
    #[serde(default)]
    pub metadata: CategoryMetadata,
}

/// Citizen's profile: what a category's line items assess.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct CategoryMetadata {
    /// `regular`, `midterm`, `final`, `subject_level`, `quality`, `competency` or `conduct`.
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub sourced_id: String,
    #[serde(default)]
    pub status: Option<String>,
    pub title: String,
    pub class: Ref,
    pub category: Ref,
    #[serde(default)]
    pub grading_period: Option<Ref>,
    #[serde(default)]
    pub assign_date: Option<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GradeResult {
    pub sourced_id: String,
    #[serde(default)]
    pub status: Option<String>,
    pub line_item: Ref,
    pub student: Ref,
    #[serde(default)]
    pub class: Option<Ref>,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub text_score: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    pub date_last_modified: DateTime<Utc>,
}

impl GradeResult {
    pub fn active(&self) -> bool {
        self.status.as_deref() != Some("tobedeleted")
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    pub sourced_id: String,
    #[serde(default)]
    pub status: Option<String>,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub metadata: SchoolMetadata,
}

/// Citizen's profile of a school's `metadata`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SchoolMetadata {
    pub levels: Vec<String>,
    pub ownership: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub ward: Option<String>,
    pub enrolment_wards: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_others() {
        let header = r#"<https://sis.example.vn/ims/oneroster/rostering/v1p2/orgs?limit=2&offset=0>; rel="first", <https://sis.example.vn/ims/oneroster/rostering/v1p2/orgs?limit=2&offset=2>; rel="next""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://sis.example.vn/ims/oneroster/rostering/v1p2/orgs?limit=2&offset=2")
        );
        assert_eq!(next_link(r#"<https://x/y>; rel="last""#), None);
    }

    #[test]
    fn nothing_that_could_leave_a_path_or_a_quote_passes() {
        assert!(valid_id("hs-4601234567"));
        assert!(!valid_id("../users"));
        assert!(!valid_id("a?b"));
        assert_eq!(filter_value("4601234567"), Some("4601234567"));
        assert_eq!(filter_value("46' OR '1'='1"), None);
        assert_eq!(filter_value(""), None);
    }

    #[test]
    fn only_the_servers_own_pages_are_followed() {
        let server = OneRosterServer {
            base_url: "https://sis.example.vn/".to_owned(),
            token_url: "https://sis.example.vn/token".to_owned(),
            client_id: "c".to_owned(),
            client_secret: secrecy::SecretString::from("s"),
        };
        let client = OneRoster::new(&server, Duration::from_secs(1), PlainHttp::Never).unwrap();
        assert!(client.is_own("https://sis.example.vn/ims/oneroster/rostering/v1p2/orgs?offset=2"));
        assert!(!client.is_own("https://sis.example.vn.evil/ims/oneroster/x"));
        assert!(!client.is_own("https://evil.example/ims/oneroster/"));
    }
}
