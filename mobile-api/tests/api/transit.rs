//! Buses through the gateway: Huế's demo timetable (a GTFS feed) imported at start, its routes,
//! the stops near a rider and their next departures, and a new feed replacing it whole, or
//! refused whole.

use std::io::Write;

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use mobility::config::MobilityConfig;
use serde_json::Value;

use crate::helpers::{Mode, TestApp, problem};
use crate::in_both_modes;

async fn app_with_demo_timetable(mode: Mode) -> TestApp {
    TestApp::spawn_with(mode, |c| {
        c.edit(|mobility: &mut MobilityConfig| {
            mobility.demo_feed = Some("hue".to_owned());
        });
    })
    .await
}

/// The demo feed's files, with `edit` applied to each file's text.
fn demo_files(edit: impl Fn(&str, String) -> String) -> Vec<(String, Vec<u8>)> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/mobility/data/hue-gtfs");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let edited = edit(&name, text);
            (name, edited.into_bytes())
        })
        .collect();
    files.sort();
    files
}

fn zipped(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn route_names(answer: &Value) -> Vec<&str> {
    answer["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["short_name"].as_str().unwrap())
        .collect()
}

in_both_modes!(bus_routes_stops_near_me_and_next_departures);
async fn bus_routes_stops_near_me_and_next_departures(mode: Mode) {
    let app = app_with_demo_timetable(mode).await;

    let routes = app.get_json("/v1/transit/hue/routes").await;
    assert_eq!(route_names(&routes), ["1", "3", "6"]);
    assert_eq!(routes["routes"][0]["color"], "#0A7E3C");
    assert_eq!(routes["routes"][0]["route_type"], 3);

    let one = app.get_json("/v1/transit/hue/routes/R1").await;
    let directions = one["directions"].as_array().unwrap();
    assert_eq!(directions.len(), 2, "{one}");
    let outbound = directions[0]["stops"].as_array().unwrap();
    assert_eq!(outbound[0]["name"], "Bến xe phía Bắc – ke xe buýt");
    assert_eq!(directions[0]["headsign"], "Bến xe phía Nam");
    let inbound = directions[1]["stops"].as_array().unwrap();
    assert_eq!(
        inbound.last().unwrap()["id"],
        outbound[0]["id"],
        "the way back ends where the way out starts"
    );

    // By Đông Ba market: the stops within 500 m, nearest first, with the routes boarding there.
    let near = app
        .get_json("/v1/transit/stops?lat=16.4728&lng=107.5877")
        .await;
    let stops = near["stops"].as_array().unwrap();
    assert!(!stops.is_empty(), "{near}");
    let distances: Vec<f64> = stops
        .iter()
        .map(|s| s["distance_m"].as_f64().unwrap())
        .collect();
    assert!(distances.windows(2).all(|d| d[0] <= d[1]), "{distances:?}");
    assert!(distances.iter().all(|d| *d <= 500.0));
    assert!(stops.iter().all(|s| s["jurisdiction"] == "hue"));
    let market = &stops[0];
    let boarding: Vec<&str> = route_names(market);
    assert!(
        boarding.contains(&"3") || boarding.contains(&"6"),
        "{market}"
    );

    // Its next departures: within a day, soonest first, none where a trip ends.
    let stop = market["id"].as_str().unwrap();
    let asked_at = Utc::now();
    let departures = app
        .get_json(&format!("/v1/transit/hue/stops/{stop}/departures?limit=20"))
        .await;
    assert_eq!(departures["stop"]["id"], stop);
    let listed = departures["departures"].as_array().unwrap();
    assert_eq!(listed.len(), 20, "a daily service runs within any 24 hours");
    let times: Vec<DateTime<FixedOffset>> = listed
        .iter()
        .map(|d| DateTime::parse_from_rfc3339(d["departs_at"].as_str().unwrap()).unwrap())
        .collect();
    assert!(times.windows(2).all(|t| t[0] <= t[1]), "{times:?}");
    assert!(
        times
            .iter()
            .all(|t| t.offset().local_minus_utc() == 7 * 3600)
    );
    assert!(times[0] >= asked_at - TimeDelta::minutes(1), "{}", times[0]);
    assert!(times[19] <= asked_at + TimeDelta::hours(24));
    for departure in listed {
        assert!(departure["headsign"].is_string(), "{departure}");
        assert!(departure["route"]["short_name"].is_string());
    }

    let terminus = app
        .get_json(&format!(
            "/v1/transit/hue/stops/{}/departures?limit=50",
            inbound.last().unwrap()["id"].as_str().unwrap()
        ))
        .await;
    let headsigns: Vec<&str> = terminus["departures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["headsign"].as_str().unwrap())
        .collect();
    assert!(
        headsigns.iter().all(|h| *h != "Bến xe phía Bắc"),
        "a bus ending its trip here does not leave from here: {headsigns:?}"
    );

    for (path, status, code) in [
        (
            "/v1/transit/hue/stops/NO_SUCH/departures",
            404,
            "bus_stop_not_found",
        ),
        ("/v1/transit/hue/routes/R99", 404, "bus_route_not_found"),
        ("/v1/transit/danang/routes", 404, "no_bus_timetable"),
        (
            "/v1/transit/stops?lat=16.47&lng=107.58&radius_m=5000",
            400,
            "invalid_query",
        ),
        (
            "/v1/transit/stops?lat=96&lng=107.58",
            422,
            "invalid_position",
        ),
        (
            "/v1/transit/hue/stops/AN_HOA/departures?limit=0",
            400,
            "invalid_query",
        ),
    ] {
        problem(app.get(path).await, status, code).await;
    }
    app.stop().await;
}

in_both_modes!(a_new_feed_replaces_the_timetable_whole_or_not_at_all);
async fn a_new_feed_replaces_the_timetable_whole_or_not_at_all(mode: Mode) {
    let app = app_with_demo_timetable(mode).await;
    let pool = app.schema_pool("mobility").await;

    // A feed with a trip on a route it never defines is refused, every problem listed, and
    // riders keep the old timetable.
    let broken = demo_files(|name, text| match name {
        "trips.txt" => text.replacen("R6,", "R9,", 1),
        "stops.txt" => text.replace("16.4845", "96.4845"),
        _ => text,
    });
    let refused = mobility::import(&pool, "hue", mobility::Source::Zip(&zipped(&broken)))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("foreign_key_violation"), "{refused}");
    assert!(refused.contains("coordinate_out_of_range"), "{refused}");
    let routes = app.get_json("/v1/transit/hue/routes").await;
    assert_eq!(route_names(&routes), ["1", "3", "6"]);

    // The city adds route 10 along the same stops as route 6.
    let next = demo_files(|name, text| match name {
        "routes.txt" => {
            format!("{text}R10,HUEBUS,10,Chùa Thiên Mụ – Ga Huế (nhanh),3,7B3F00,FFFFFF\n")
        }
        "trips.txt" => text.replace("R6,DAILY,R6-DAILY-0-0530,", "R10,DAILY,R6-DAILY-0-0530,"),
        _ => text,
    });
    let feed = zipped(&next);
    let imported = mobility::import(&pool, "hue", mobility::Source::Zip(&feed))
        .await
        .unwrap();
    assert!(
        matches!(imported, mobility::Imported::Replaced { routes: 4, .. }),
        "{imported:?}"
    );
    let routes = app.get_json("/v1/transit/hue/routes").await;
    assert_eq!(route_names(&routes), ["1", "3", "6", "10"]);
    let again = mobility::import(&pool, "hue", mobility::Source::Zip(&feed))
        .await
        .unwrap();
    assert_eq!(again, mobility::Imported::Unchanged);
    app.stop().await;
}

/// Has the sandbox serve `feed` at `url`, as Google's bindings encode it.
async fn serve_feed(url: &str, feed: &Value) {
    let put = reqwest::Client::new()
        .put(url)
        .body(encoded(feed))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
}

/// `feed` (protobuf's JSON mapping of a FeedMessage) as Google's bindings encode it
/// (`scripts/gtfs-rt-encode`).
fn encoded(feed: &Value) -> Vec<u8> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/gtfs-rt-encode");
    let mut child = std::process::Command::new(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("scripts/gtfs-rt-encode runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(feed.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

in_both_modes!(departures_follow_the_real_time_feed);
async fn departures_follow_the_real_time_feed(mode: Mode) {
    let (provider, _) = crate::verification::sandbox().await;
    let feed_url = format!(
        "http://{}/sandbox/gtfs-rt/hue/trip-updates.pb",
        provider.addr()
    );
    let configured = feed_url.clone();
    let app = TestApp::spawn_with(mode, move |c| {
        let url = configured.clone();
        c.edit(move |mobility: &mut MobilityConfig| {
            mobility.demo_feed = Some("hue".to_owned());
            mobility.trip_updates.insert("hue".to_owned(), url.clone());
            mobility.realtime_poll_secs = 1;
        });
    })
    .await;
    let path = "/v1/transit/hue/stops/DONG_BA/departures?limit=6";
    // The sandbox's empty feed: buses as timetabled.
    let timetabled = crate::helpers::poll_until(
        || app.get_json(path),
        |answer: &Value| {
            answer["departures"]
                .as_array()
                .is_some_and(|d| d.len() >= 3)
        },
    )
    .await;
    let departures = timetabled["departures"].as_array().unwrap();
    assert!(
        departures
            .iter()
            .all(|d| d.get("realtime").is_none() && d["cancelled"] == false)
    );
    // The empty feed was read, not refused.
    let pool = app.schema_pool("mobility").await;
    let read = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM realtime_feeds")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(crate::helpers::poll_until(read, |n| *n == 1).await, 1);
    let (late, gone, deleted) = (&departures[0], &departures[1], &departures[2]);
    // The service day is the departure's date: the demo's buses all run before midnight.
    let day = |departure: &Value| {
        let at: DateTime<FixedOffset> = departure["departs_at"].as_str().unwrap().parse().unwrap();
        at.format("%Y%m%d").to_string()
    };
    // The operator says: the first bus leaves 4 minutes late (said twice, the last time
    // counting), the second does not run, the third is deleted from the day; and a trip the
    // timetable does not have.
    let made_at = |at: DateTime<Utc>| {
        serde_json::json!({ "gtfsRealtimeVersion": "2.0", "incrementality": "FULL_DATASET",
                            "timestamp": at.timestamp().to_string() })
    };
    let feed = serde_json::json!({
        "header": made_at(Utc::now()),
        "entity": [
            { "id": "late-first", "tripUpdate": {
                "trip": { "tripId": late["trip_id"], "startDate": day(late) },
                "stopTimeUpdate": [ { "stopId": "DONG_BA", "departure": { "delay": 60 } } ] } },
            { "id": "late", "tripUpdate": {
                "trip": { "tripId": late["trip_id"], "startDate": day(late) },
                "stopTimeUpdate": [ { "stopId": "DONG_BA", "departure": { "delay": 240 } } ] } },
            { "id": "deleted", "tripUpdate": {
                "trip": { "tripId": deleted["trip_id"], "startDate": day(deleted),
                          "scheduleRelationship": "DELETED" } } },
            { "id": "gone", "tripUpdate": {
                "trip": { "tripId": gone["trip_id"], "startDate": day(gone),
                          "scheduleRelationship": "CANCELED" } } },
            { "id": "added", "tripUpdate": {
                "trip": { "tripId": "EXTRA-1", "scheduleRelationship": "ADDED" },
                "stopTimeUpdate": [ { "stopSequence": 1, "departure": { "time": "1" } } ] } },
        ],
    });
    serve_feed(&feed_url, &feed).await;
    let live = crate::helpers::poll_until(
        || app.get_json(path),
        |answer: &Value| {
            answer["departures"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["trip_id"] == late["trip_id"] && d.get("realtime").is_some())
        },
    )
    .await;
    let find = |trip: &Value| {
        live["departures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["trip_id"] == *trip)
            .cloned()
            .unwrap_or_else(|| panic!("{trip} in {live}"))
    };
    let delayed = find(&late["trip_id"]);
    assert_eq!(delayed["realtime"]["delay_secs"], 240);
    let timetabled_at: DateTime<FixedOffset> =
        late["departs_at"].as_str().unwrap().parse().unwrap();
    let expected: DateTime<FixedOffset> = delayed["realtime"]["expected_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(expected - timetabled_at, TimeDelta::seconds(240));
    assert_eq!(
        delayed["departs_at"], late["departs_at"],
        "the timetable stays"
    );
    let cancelled = find(&gone["trip_id"]);
    assert_eq!(cancelled["cancelled"], true);
    assert!(cancelled.get("realtime").is_none());
    assert!(
        !live["departures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["trip_id"] == deleted["trip_id"]),
        "a deleted trip is not shown"
    );
    assert!(
        !live["departures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["trip_id"] == "EXTRA-1"),
        "an added trip is not the timetable's"
    );

    // A feed whose operator stopped updating it (made ten minutes ago) shows nothing live.
    let stale = serde_json::json!({
        "header": made_at(Utc::now() - TimeDelta::minutes(10)), "entity": feed["entity"] });
    serve_feed(&feed_url, &stale).await;
    let timetabled_again = crate::helpers::poll_until(
        || app.get_json(path),
        |answer: &Value| {
            answer["departures"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d.get("realtime").is_none() && d["cancelled"] == false)
        },
    )
    .await;
    assert!(
        timetabled_again["departures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["trip_id"] == deleted["trip_id"]),
        "{timetabled_again}"
    );
    assert_eq!(read().await, 0);
    app.stop().await;
    provider.stop().await.unwrap();
}
