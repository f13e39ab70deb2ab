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
/// taken or refused, and recorded either way, in a transaction of its own under the feed's
/// leader lock: a bad entry never holds up the ones after it. Whether entries were left for
/// the next round.
async fn poll(state: &AlertsState, jurisdiction: &str, feed: &CapFeed) -> anyhow::Result<bool> {
    let answer = state.outside.get(&feed.url).await?;
    anyhow::ensure!(
        answer.status.is_success(),
        "answered {}: {}",
        answer.status,
        answer.excerpt()
    );
    let text = std::str::from_utf8(&answer.body)?;
    let links = cap_links(text, &feed.url)?;
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
        // Fetched before the transaction: no connection waits on another server.
        let document = match fetch(state, link).await {
            Ok(document) => document,
            // Not there now: tried again next round; the entries after it go on.
            Err(error) => {
                tracing::warn!(link, error = %format!("{error:#}"), "CAP document not read; will retry");
                continue;
            }
        };
        let mut tx = state.pool.begin().await?;
        if !lead(&mut tx, &format!("alerts.feed:{}", feed.url)).await? {
            return Ok(false);
        }
        let refusal = match Alert::parse(&document) {
            Err(error) => Some(error.to_string()),
            Ok(alert) => match refusal(feed, &alert) {
                Some(refusal) => Some(refusal),
                None => {
                    let alert = with_cancelled_info(&mut tx, alert).await?;
                    if alert.infos.is_empty() {
                        Some(
                            "a message without info, and nothing it references to take it from"
                                .to_owned(),
                        )
                    } else {
                        if let Taken::New(id) = take(
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
                            tracing::info!(alert = %id, identifier = alert.identifier, sender = alert.sender, "CAP alert taken from a feed");
                        }
                        None
                    }
                }
            },
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

/// Why a feed's message is not taken: another sender's (a feed speaks only for its own), not
/// for the public, or not a real alert (tests, exercises, drafts and system messages).
fn refusal(feed: &CapFeed, alert: &Alert) -> Option<String> {
    if alert.sender != feed.sender {
        Some(format!("sender {} is not the feed's", alert.sender))
    } else if alert.status != "Actual" {
        Some(format!("a {} message, not an actual alert", alert.status))
    } else if alert.scope != "Public"
        || !matches!(alert.msg_type.as_str(), "Alert" | "Update" | "Cancel")
    {
        Some(format!(
            "a {} {} message is not for the public",
            alert.scope, alert.msg_type
        ))
    } else {
        None
    }
}

/// A cancel without `info` (CAP allows it) told in the words of the alert it cancels.
async fn with_cancelled_info(
    tx: &mut sqlx::PgConnection,
    mut alert: Alert,
) -> anyhow::Result<Alert> {
    if alert.msg_type != "Cancel" || !alert.infos.is_empty() {
        return Ok(alert);
    }
    for reference in alert.references.iter().filter(|r| r.sender == alert.sender) {
        let original = sqlx::query_scalar!(
            "SELECT document FROM alerts WHERE sender = $1 AND identifier = $2",
            reference.sender,
            reference.identifier
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(original) = original.and_then(|d| Alert::parse(&d).ok()) {
            alert.infos = original.infos;
            break;
        }
    }
    Ok(alert)
}

async fn fetch(state: &AlertsState, link: &str) -> anyhow::Result<String> {
    let answer = state.outside.get(link).await?;
    anyhow::ensure!(answer.status.is_success(), "answered {}", answer.status);
    Ok(String::from_utf8(answer.body.to_vec())?)
}

/// The CAP documents an Atom feed links to, as listed (newest first, as feeds list them): each
/// entry's `alternate` link of type `application/cap+xml`, else its first link. Only links on
/// the feed's own server are followed (relative ones resolved against it): a feed cannot send
/// us to fetch from anywhere else.
fn cap_links(feed: &str, feed_url: &str) -> anyhow::Result<Vec<String>> {
    let origin = origin(feed_url);
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
        let Some(href) = cap.and_then(|l| l.attribute("href")) else {
            continue;
        };
        if href.starts_with(&format!("{origin}/")) {
            links.push(href.to_owned());
        } else if href.starts_with('/') && !href.starts_with("//") {
            links.push(format!("{origin}{href}"));
        } else {
            tracing::warn!(
                feed = feed_url,
                href,
                "a CAP link off the feed's server; skipped"
            );
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
    let base = platform::http::public_base_url(state.config.public_url.as_deref(), &headers);
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
            "Cancel" => format!(
                "Hủy cảnh báo: {} / Cancelled: {}",
                message.headline_vi, message.headline_en
            ),
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
    // Shared caches may keep it only when its links do not come from the request's Host.
    let cache = match state.config.public_url {
        Some(_) => "public, max-age=60",
        None => "no-cache",
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(response)
}

/// `scheme://host[:port]` of `url`.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
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
    fn a_feed_lists_its_cap_links_on_its_own_server_only() {
        let feed = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
            <entry><id>a</id><link rel="self" href="http://x/a.html"/><link rel="alternate" type="application/cap+xml" href="http://x/a.xml"/></entry>
            <entry><id>b</id><link href="http://x/b.xml"/></entry>
            <entry><id>c</id></entry></feed>"#;
        let feed_url = "http://x/feeds/one.atom";
        assert_eq!(
            cap_links(feed, feed_url).unwrap(),
            ["http://x/a.xml", "http://x/b.xml"]
        );
        assert!(cap_links("<rss/>", feed_url).is_err());
        let elsewhere = r#"<feed xmlns="http://www.w3.org/2005/Atom">
            <entry><link href="http://169.254.169.254/latest"/></entry>
            <entry><link href="http://x.evil.example/a.xml"/></entry>
            <entry><link href="//evil.example/a.xml"/></entry>
            <entry><link href="/cap/c.xml"/></entry></feed>"#;
        assert_eq!(
            cap_links(elsewhere, feed_url).unwrap(),
            ["http://x/cap/c.xml"]
        );
    }
}
