//! Places near me through the gateway, imported from the OpenStreetMap extract sandbox on a
//! port of its own, as the city's extract is elsewhere.

use places::config::PlacesConfig;
use serde_json::Value;

use crate::helpers::{Mode, TestApp, poll_until, problem};
use crate::in_both_modes;
use crate::verification::sandbox;

async fn app_with_extract(mode: Mode, provider: &mobile_api::App) -> TestApp {
    let source = format!(
        "http://{}/sandbox/osm/hue-amenities.geojson",
        provider.addr()
    );
    TestApp::spawn_with(mode, move |c| {
        let source = source.clone();
        c.edit(move |places: &mut PlacesConfig| {
            places
                .sources
                .insert("hue".to_owned(), vec![source.clone()]);
            places.refresh_secs = 1;
        });
    })
    .await
}

fn ids(answer: &Value) -> Vec<String> {
    answer["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

in_both_modes!(places_near_me_by_layer_with_their_hours);
async fn places_near_me_by_layer_with_their_hours(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_extract(mode, &provider).await;
    let (lat, lng) = sandbox::osm::CENTRE_POINT;
    let toilets_path = format!("/v1/places?layer=toilets&lat={lat}&lng={lng}");
    let toilets = poll_until(
        || app.get_json(&toilets_path),
        |a: &Value| a["places"].as_array().is_some_and(|p| !p.is_empty()),
    )
    .await;
    let listed = toilets["places"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{toilets}");
    assert!(
        listed
            .windows(2)
            .all(|p| p[0]["distance_m"].as_f64() <= p[1]["distance_m"].as_f64())
    );
    let all_night = listed
        .iter()
        .find(|p| p["id"] == sandbox::osm::ALL_NIGHT_TOILET_ID)
        .unwrap();
    assert_eq!(all_night["open_now"], true, "24/7: {all_night}");
    assert_eq!(all_night["details"]["fee"], "no");

    // Free Wi-Fi only: the café's, for customers, is not listed.
    let wifi = app
        .get_json(&format!(
            "/v1/places?layer=wifi&lat={lat}&lng={lng}&radius_m=3000"
        ))
        .await;
    assert_eq!(ids(&wifi), ["osm-node-9000011", "osm-node-9000013"]);
    assert_eq!(wifi["places"][0]["details"]["wifi_name"], "Hue-S Free WiFi");

    // Heritage with its guide; the pagoda is 4 km away, past a 1 km radius.
    let heritage = app
        .get_json(&format!("/v1/places?layer=heritage&lat={lat}&lng={lng}"))
        .await;
    assert!(!ids(&heritage).contains(&"osm-node-9000033".to_owned()));
    let wide = app
        .get_json(&format!(
            "/v1/places?layer=heritage&lat={lat}&lng={lng}&radius_m=6000"
        ))
        .await;
    assert!(ids(&wide).contains(&"osm-node-9000033".to_owned()));
    let citadel = wide["places"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"]["en"] == "Hue Imperial City")
        .unwrap();
    assert!(
        citadel["details"]["guide_vi"]
            .as_str()
            .unwrap()
            .contains("Di sản Văn hóa Thế giới")
    );

    // Traffic cameras with their snapshots; a camera that is not a traffic camera is not one.
    let cameras = app
        .get_json(&format!(
            "/v1/places?layer=camera&lat={lat}&lng={lng}&radius_m=2000"
        ))
        .await;
    assert_eq!(cameras["places"].as_array().unwrap().len(), 2);
    assert!(
        cameras["places"][0]["details"]["snapshot_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );

    let museum = app
        .get_json(&format!("/v1/places/{}", sandbox::osm::MUSEUM_ID))
        .await;
    assert_eq!(museum["opening_hours"], "Tu-Su 08:00-17:00; PH off");
    assert!(museum["next_change"].as_str().unwrap().ends_with("+07:00"));

    let unknown = app
        .get(&format!("/v1/places?layer=casinos&lat={lat}&lng={lng}"))
        .await;
    problem(unknown, 422, "unknown_place_layer").await;
    let far = app
        .get(&format!(
            "/v1/places?layer=toilets&lat={lat}&lng={lng}&radius_m=50000"
        ))
        .await;
    problem(far, 400, "invalid_query").await;
    let missing = app.get("/v1/places/osm-node-1").await;
    problem(missing, 404, "place_not_found").await;
    app.stop().await;
}
