//! CAP feeds both ways: the authorities' Atom feeds read for new CAP documents, and each
//! jurisdiction's own Atom feed of its messages, each entry linking to its CAP document, as
//! alert aggregators (Google Public Alerts among them) read feeds.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use platform::ApiError;
use platform::jobs::{Jobs, lead};

use crate::AlertsState;
use crate::alerts::{Taken, take};
use crate::cap::{Alert, escape_into};
use crate::config::CapFeed;

const ATOM: &str = "http://www.w3.org/2005/Atom";
/// Entries of one feed read per round; the rest wait for the next.
const ENTRIES_PER_ROUND: usize = 50;
/// How far back our feed reaches.
const FEED_DAYS: i32 = 7;
/// Read entries remembered this long, so an old entry is not read again.
const KEEP_SEEN_DAYS: i32 = 90;

pub fn start_polling(state: AlertsState, jobs: &Jobs) {
    if state.config.feeds.is_empty() {
        return;
    }
    let every = Duration::from_secs(state.config.feed_poll_secs.max(1));
    jobs.repeat("alerts.feeds", every, None, move || {
        let state = state.clone();
        async move {
            let mut more = false;
            for (jurisdiction, feeds) in state.config.feeds.iter() {
                for feed in feeds {
                    match poll(&state, jurisdiction, feed).await {
                        Ok(full) => more |= full,
                        Err(error) => tracing::warn!(feed = feed.url, error = %format!("{error:#}"), "CAP feed not read; will retry"),
                    }
                }
            }
            sqlx::query!(
                "DELETE FROM feed_entries WHERE seen_at < now() - make_interval(days => $1)",
                KEEP_SEEN_DAYS
            )
            .execute(&state.pool)
            .await?;
            Ok(more)
        }
    });
}

/// Reads a feed's entries not seen yet, oldest first (an update after what it updates), each
/// taken or refused in a transaction of its own under the feed's leader lock. Whether entries
/// were left for the next round.
async fn poll(state: &AlertsState, jurisdiction: &str, feed: &CapFeed) -> anyhow::Result<bool> {
    let answer = state.outside.get(&feed.url).await?;
    anyhow::ensure!(
        answer.status.is_success(),
        "answered {}: {}",
        answer.status,
        answer.excerpt()
    );
    let text = std::str::from_utf8(&answer.body)?;
    let links = cap_links(text)?;
    let seen: Vec<String> =
        sqlx::query_scalar!("SELECT link FROM feed_entries WHERE link = ANY($1)", &links)
            .fetch_all(&state.pool)
            .await?;
    let unseen: Vec<&String> = links
        .iter()
        .rev()
        .filter(|link| !seen.contains(link))
        .collect();
    let full = unseen.len() > ENTRIES_PER_ROUND;
    for link in unseen.into_iter().take(ENTRIES_PER_ROUND) {
        let mut tx = state.pool.begin().await?;
        if !lead(&mut tx, &format!("alerts.feed:{}", feed.url)).await? {
            return Ok(false);
        }
        let refusal = match fetch(state, link).await {
            Ok(document) => match Alert::parse(&document) {
                Ok(alert) if alert.sender != feed.sender => {
                    Some(format!("sender {} is not the feed's", alert.sender))
                }
                Ok(alert)
                    if alert.scope != "Public"
                        || !matches!(alert.msg_type.as_str(), "Alert" | "Update" | "Cancel") =>
                {
                    Some(format!(
                        "a {} {} message is not for the public",
                        alert.scope, alert.msg_type
                    ))
                }
                Ok(alert) => match take(
                    &mut tx,
                    jurisdiction,
                    &feed.kind,
                    "feed",
                    None,
                    &alert,
                    &document,
                )
                .await?
                {
                    Taken::New(id) => {
                        tracing::info!(alert = %id, identifier = alert.identifier, sender = alert.sender, "CAP alert taken from a feed");
                        None
                    }
                    Taken::Known => None,
                },
                Err(error) => Some(error.to_string()),
            },
            // Not there now: tried again next round.
            Err(error) => {
                tracing::warn!(link, error = %format!("{error:#}"), "CAP document not read; will retry");
                continue;
            }
        };
        if let Some(refusal) = &refusal {
            tracing::warn!(link, refusal, "CAP document refused");
        }
        sqlx::query!(
            "INSERT INTO feed_entries (link, refusal) VALUES ($1, $2) ON CONFLICT (link) DO NOTHING",
            link,
            refusal
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(full)
}

async fn fetch(state: &AlertsState, link: &str) -> anyhow::Result<String> {
    let answer = state.outside.get(link).await?;
    anyhow::ensure!(answer.status.is_success(), "answered {}", answer.status);
    Ok(String::from_utf8(answer.body.to_vec())?)
}

/// The CAP documents an Atom feed links to, as listed (newest first, as feeds list them): each
/// entry's `alternate` link of type `application/cap+xml`, else its first link.
fn cap_links(feed: &str) -> anyhow::Result<Vec<String>> {
    let doc = roxmltree::Document::parse(feed)?;
    let root = doc.root_element();
    anyhow::ensure!(
        root.tag_name().namespace() == Some(ATOM) && root.tag_name().name() == "feed",
        "not an Atom feed"
    );
    let atom = |node: &roxmltree::Node, name: &str| {
        node.is_element()
            && node.tag_name().namespace() == Some(ATOM)
            && node.tag_name().name() == name
    };
    let mut links = Vec::new();
    for entry in root.children().filter(|n| atom(n, "entry")) {
        let entry_links: Vec<roxmltree::Node> =
            entry.children().filter(|n| atom(n, "link")).collect();
        let cap = entry_links
            .iter()
            .find(|l| l.attribute("type") == Some("application/cap+xml"))
            .or(entry_links.first());
        if let Some(href) = cap.and_then(|l| l.attribute("href")) {
            links.push(href.to_owned());
        }
    }
    Ok(links)
}

/// The jurisdiction's CAP messages of the last 7 days, newest first, as an Atom feed whose
/// entries link to each message's CAP document.
#[utoipa::path(get, path = "/v1/alerts/feeds/{jurisdiction}", operation_id = "alerts_feed", tag = "alerts",
    params(("jurisdiction" = String, Path, description = "`hue`, or `hue.atom`")),
    responses((status = 200, content_type = "application/atom+xml", body = String)))]
pub async fn atom(
    State(state): State<AlertsState>,
    Path(jurisdiction): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let jurisdiction = jurisdiction.trim_end_matches(".atom").to_owned();
    let messages = sqlx::query!(
        r#"SELECT id, sender, identifier, sent, headline_vi, headline_en, msg_type
           FROM alerts WHERE jurisdiction = $1 AND sent > now() - make_interval(days => $2)
           ORDER BY sent DESC LIMIT 500"#,
        jurisdiction,
        FEED_DAYS
    )
    .fetch_all(&state.pool)
    .await?;
    let base = platform::http::public_base_url(None, &headers);
    let self_link = format!("{base}/v1/alerts/feeds/{jurisdiction}.atom");
    let updated = messages.first().map_or_else(Utc::now, |m| m.sent);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!("<feed xmlns=\"{ATOM}\">\n"));
    push(&mut xml, 1, "id", &self_link);
    push(
        &mut xml,
        1,
        "title",
        &format!("Cảnh báo và thông báo - {jurisdiction} / Alerts and announcements"),
    );
    push(&mut xml, 1, "updated", &atom_time(updated));
    xml.push_str("  <author>\n");
    push(&mut xml, 2, "name", &state.config.sender_name_vi);
    xml.push_str("  </author>\n");
    link(&mut xml, 1, "self", "application/atom+xml", &self_link);
    for message in messages {
        xml.push_str("  <entry>\n");
        push(&mut xml, 2, "id", &format!("urn:uuid:{}", message.id));
        let title = match message.msg_type.as_str() {
            "Cancel" => format!("Hủy cảnh báo / Cancelled: {}", message.headline_vi),
            _ => format!("{} / {}", message.headline_vi, message.headline_en),
        };
        push(&mut xml, 2, "title", &title);
        push(&mut xml, 2, "updated", &atom_time(message.sent));
        xml.push_str("    <author>\n");
        push(&mut xml, 3, "name", &message.sender);
        xml.push_str("    </author>\n");
        link(
            &mut xml,
            2,
            "alternate",
            "application/cap+xml",
            &format!("{base}/v1/alerts/{}/cap", message.id),
        );
        xml.push_str("  </entry>\n");
    }
    xml.push_str("</feed>\n");
    let mut response = xml.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/atom+xml; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(response)
}

fn atom_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn push(xml: &mut String, depth: usize, name: &str, value: &str) {
    xml.push_str(&"  ".repeat(depth));
    xml.push_str(&format!("<{name}>"));
    escape_into(xml, value);
    xml.push_str(&format!("</{name}>\n"));
}

fn link(xml: &mut String, depth: usize, rel: &str, kind: &str, href: &str) {
    xml.push_str(&"  ".repeat(depth));
    xml.push_str(&format!("<link rel=\"{rel}\" type=\"{kind}\" href=\""));
    escape_into(xml, href);
    xml.push_str("\"/>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_lists_its_cap_links() {
        let feed = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
            <entry><id>a</id><link rel="self" href="http://x/a.html"/><link rel="alternate" type="application/cap+xml" href="http://x/a.xml"/></entry>
            <entry><id>b</id><link href="http://x/b.xml"/></entry>
            <entry><id>c</id></entry></feed>"#;
        assert_eq!(
            cap_links(feed).unwrap(),
            ["http://x/a.xml", "http://x/b.xml"]
        );
        assert!(cap_links("<rss/>").is_err());
    }
}
