//! A GTFS Realtime TripUpdates feed per jurisdiction, standing in for the bus operator's
//! AVL system. It serves what a test put there, as the operator's encoder wrote it (the tests
//! encode with Google's `gtfs-realtime-bindings`), else an empty full dataset made now.
//!
//! - `GET /sandbox/gtfs-rt/{jurisdiction}/trip-updates.pb`: `application/x-protobuf`.
//! - `PUT` the same path with a feed's bytes (at most 8 MiB) to serve them; `DELETE` to serve
//!   the empty feed again.
//! - `POST /sandbox/gtfs-rt/faults` as the other sandboxes (`down`, `slow`, `garbage`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::faults::{Faults, Outage, OutageRequest};

const PROTOBUF: &str = "application/x-protobuf";

#[derive(Default)]
struct Feeds {
    put: Mutex<HashMap<String, Bytes>>,
    faults: Faults<Outage>,
}

pub fn router() -> Router {
    Router::new()
        .route(
            "/{jurisdiction}/trip-updates.pb",
            get(feed).put(put_feed).delete(clear_feed),
        )
        .route("/faults", post(set_fault))
        .layer(DefaultBodyLimit::max(8 * 1024 * 1024))
        .with_state(Arc::new(Feeds::default()))
}

async fn feed(State(feeds): State<Arc<Feeds>>, Path(jurisdiction): Path<String>) -> Response {
    if let Some(fault) = feeds.faults.due_as(PROTOBUF, "\u{8}\u{1}garbage").await {
        return fault;
    }
    let put = feeds
        .put
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&jurisdiction)
        .cloned();
    let bytes = put.unwrap_or_else(|| Bytes::from(empty_feed()));
    ([(header::CONTENT_TYPE, PROTOBUF)], bytes).into_response()
}

/// A full dataset with no trip in it, stamped now: buses as timetabled. Written out by hand
/// (protobuf's wire format): `FeedMessage { header: FeedHeader { gtfs_realtime_version: "2.0",
/// incrementality: FULL_DATASET, timestamp } }`.
fn empty_feed() -> Vec<u8> {
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
    // Field 1 (length-delimited) "2.0", field 2 (varint) 0, field 3 (varint) the time.
    let mut header = vec![0x0a, 3, b'2', b'.', b'0', 0x10, 0, 0x18];
    varint(now, &mut header);
    // FeedMessage field 1: the header.
    let mut feed = vec![0x0a];
    varint(header.len() as u64, &mut feed);
    feed.extend(header);
    feed
}

/// Protobuf's base-128 varint: seven bits a byte, low first, the high bit saying more follow.
fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

async fn put_feed(
    State(feeds): State<Arc<Feeds>>,
    Path(jurisdiction): Path<String>,
    body: Bytes,
) -> StatusCode {
    feeds
        .put
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(jurisdiction, body);
    StatusCode::NO_CONTENT
}

async fn clear_feed(
    State(feeds): State<Arc<Feeds>>,
    Path(jurisdiction): Path<String>,
) -> StatusCode {
    feeds
        .put
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&jurisdiction);
    StatusCode::NO_CONTENT
}

async fn set_fault(
    State(feeds): State<Arc<Feeds>>,
    Json(request): Json<OutageRequest>,
) -> StatusCode {
    feeds.faults.apply(request)
}
