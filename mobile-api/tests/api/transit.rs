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
