use std::io::Cursor;

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value};
use image::{ImageFormat, RgbImage};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::Value as Json;

use crate::helpers::{Mode, TestApp, problem};
use crate::in_both_modes;

/// A phone photo: a JPEG with EXIF position (Huế citadel), capture time and orientation.
fn phone_photo(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let pixels = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut jpeg = Vec::new();
    pixels
        .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
        .unwrap();

    let rational = |n: u32, d: u32| Rational { num: n, denom: d };
    let fields = [
        Field {
            tag: Tag::Orientation,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![orientation]),
        },
        Field {
            tag: Tag::DateTimeOriginal,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"2026:11:20 08:30:00".to_vec()]),
        },
        Field {
            tag: Tag::GPSLatitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"N".to_vec()]),
        },
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![rational(16, 1), rational(28, 1), rational(3000, 100)]),
        },
        Field {
            tag: Tag::GPSLongitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"E".to_vec()]),
        },
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![rational(107, 1), rational(34, 1), rational(3000, 100)]),
        },
    ];
    let mut writer = Writer::new();
    for field in &fields {
        writer.push_field(field);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let tiff = tiff.into_inner();
    // APP1 "Exif" segment right after the start-of-image marker.
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
    segment.extend_from_slice(b"Exif\0\0");
    segment.extend_from_slice(&tiff);
    let mut photo = jpeg[..2].to_vec();
    photo.extend_from_slice(&segment);
    photo.extend_from_slice(&jpeg[2..]);
    photo
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    RgbImage::new(width, height)
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    bytes
}

async fn upload(
    app: &TestApp,
    token: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> reqwest::Response {
    let part = Part::bytes(bytes)
        .file_name("photo.jpg")
        .mime_str(content_type)
        .unwrap();
    app.authed(Method::POST, "/v1/media", token)
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap()
}

async fn until_ready(app: &TestApp, token: &str, id: &str) -> Json {
    for _ in 0..200 {
        let media: Json = app
            .get_as(&format!("/v1/media/{id}"), token)
            .await
            .json()
            .await
            .unwrap();
        if media["status"] != "processing" {
            return media;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("derivatives were not made");
}

async fn a_phone_photo_is_stored_indexed_and_stripped(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    let token = app.resident_token().await;
    let photo = phone_photo(1600, 1200, 6);

    let created = upload(&app, &token, photo.clone(), "image/jpeg").await;
    assert_eq!(created.status(), 201);
    let media: Json = created.json().await.unwrap();
    assert_eq!(media["content_type"], "image/jpeg");
    assert_eq!(
        (media["width"].as_i64(), media["height"].as_i64()),
        (Some(1600), Some(1200))
    );
    assert!((media["position"]["latitude"].as_f64().unwrap() - 16.475).abs() < 1e-6);
    assert!((media["position"]["longitude"].as_f64().unwrap() - 107.575).abs() < 1e-6);
    assert_eq!(
        media["taken_at"], "2026-11-20T01:30:00Z",
        "local time in Vietnam is UTC+7"
    );
    let cell: u64 = u64::from_str_radix(media["h3_cell"].as_str().unwrap(), 16).unwrap();
    let expected = h3o::LatLng::new(16.475, 107.575)
        .unwrap()
        .to_cell(h3o::Resolution::Nine);
    assert_eq!(cell, u64::from(expected));

    let id = media["id"].as_str().unwrap().to_owned();
    assert_eq!(until_ready(&app, &token, &id).await["status"], "ready");
    let get = |variant: &str| {
        app.authed(Method::GET, &format!("/v1/media/{id}/{variant}"), &token)
            .send()
    };
    let display = get("display").await.unwrap().bytes().await.unwrap();
    let thumbnail = get("thumbnail").await.unwrap().bytes().await.unwrap();
    for derivative in [&display, &thumbnail] {
        assert!(
            !derivative.windows(6).any(|w| w == b"Exif\0\0"),
            "no EXIF in derivatives"
        );
        assert!(
            exif::Reader::new()
                .read_from_container(&mut Cursor::new(derivative.as_ref()))
                .is_err()
        );
    }
    let display = image::load_from_memory(&display).unwrap();
    assert_eq!(
        (display.width(), display.height()),
        (960, 1280),
        "rotated upright, long side 1280"
    );
    let thumbnail = image::load_from_memory(&thumbnail).unwrap();
    assert_eq!(thumbnail.width().max(thumbnail.height()), 256);

    let ranged = app
        .authed(Method::GET, &format!("/v1/media/{id}/original"), &token)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.headers()["content-range"],
        format!("bytes 0-9/{}", photo.len()).as_str()
    );
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &photo[..10]);

    let again: Json = upload(&app, &token, photo, "image/jpeg")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["id"], media["id"],
        "the same photo twice is one media"
    );

    let stranger = app.resident_token().await;
    problem(
        app.get_as(&format!("/v1/media/{id}"), &stranger).await,
        404,
        "media_not_found",
    )
    .await;
    problem(
        app.get_as(&format!("/v1/media/{id}/original"), &stranger)
            .await,
        404,
        "media_not_found",
    )
    .await;
    problem(
        app.get(&format!("/v1/media/{id}")).await,
        401,
        "unauthenticated",
    )
    .await;
    app.stop().await;
}
in_both_modes!(a_phone_photo_is_stored_indexed_and_stripped);

async fn bad_files_are_refused_with_clear_codes(mode: Mode) {
    let app = TestApp::spawn_with(mode, |c| {
        c.media.max_upload_bytes = 300_000;
        c.media.max_pixels = 2_000_000;
    })
    .await;
    let token = app.resident_token().await;

    let script = b"<script>alert(1)</script>".repeat(10);
    problem(
        upload(&app, &token, script, "image/jpeg").await,
        415,
        "unsupported_media_type",
    )
    .await;

    let bomb = png(2000, 1500);
    assert!(bomb.len() < 300_000, "small on the wire, 3 MP when decoded");
    problem(
        upload(&app, &token, bomb, "image/png").await,
        422,
        "too_many_pixels",
    )
    .await;

    let photo = phone_photo(800, 600, 1);
    let truncated = photo[..photo.len() / 2].to_vec();
    problem(
        upload(&app, &token, truncated, "image/jpeg").await,
        422,
        "corrupt_image",
    )
    .await;

    let noise: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut oversize = photo.clone();
    oversize.extend_from_slice(&noise);
    problem(
        upload(&app, &token, oversize, "image/jpeg").await,
        413,
        "too_large",
    )
    .await;
    app.stop().await;
}
in_both_modes!(bad_files_are_refused_with_clear_codes);

async fn staff_find_photos_near_a_point(mode: Mode) {
    let app = TestApp::spawn_with(mode, |c| c.identity.dev_seed_staff = true).await;
    let resident = app.resident_token().await;
    let media: Json = upload(&app, &resident, phone_photo(640, 480, 1), "image/jpeg")
        .await
        .json()
        .await
        .unwrap();
    let id = media["id"].as_str().unwrap().to_owned();
    until_ready(&app, &resident, &id).await;

    let officer: Json = app
        .client
        .post(app.url("/v1/auth/staff/login"))
        .json(
            &serde_json::json!({ "username": "phuxuan.officer", "password": "hue-demo-password" }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let officer = officer["access_token"].as_str().unwrap();
    let near = |query: &str| {
        app.authed(Method::GET, &format!("/v1/media/near?{query}"), officer)
            .send()
    };

    // 50 m from where the photo was taken.
    let found: Vec<Json> = near("lat=16.4754&lng=107.5753&radius_m=100")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hit = found
        .iter()
        .find(|m| m["id"] == media["id"])
        .expect("the photo is near");
    assert!(hit["distance_m"].as_f64().unwrap() < 100.0);
    // Across the Perfume River, about 2 km away.
    let far: Vec<Json> = near("lat=16.4637&lng=107.5909&radius_m=500")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(far.iter().all(|m| m["id"] != media["id"]));
    problem(
        near("lat=95&lng=107&radius_m=100").await.unwrap(),
        422,
        "invalid_position",
    )
    .await;

    let as_resident = app
        .get_as("/v1/media/near?lat=16.4754&lng=107.5753", &resident)
        .await;
    problem(as_resident, 403, "staff_only").await;
    let thumbnail = app
        .get_as(&format!("/v1/media/{id}/thumbnail"), officer)
        .await;
    assert_eq!(
        thumbnail.status(),
        200,
        "staff read the photos they work with"
    );
    app.stop().await;
}
in_both_modes!(staff_find_photos_near_a_point);

#[tokio::test]
async fn uploads_attached_to_nothing_expire() {
    let app = TestApp::spawn_with(Mode::AllInOne, |c| {
        c.media.unattached_ttl_secs = 1;
        c.media.cleanup_interval_secs = 1;
    })
    .await;
    let token = app.resident_token().await;
    let media: Json = upload(&app, &token, phone_photo(320, 240, 1), "image/jpeg")
        .await
        .json()
        .await
        .unwrap();
    let id = media["id"].as_str().unwrap().to_owned();
    let status = app
        .status_once_settled(&format!("/v1/media/{id}"), &token, 404)
        .await;
    assert_eq!(status, 404, "the unattached upload was deleted");
    // The row goes first, the objects right after it.
    let media_dir = std::env::temp_dir()
        .join(format!("citizen-test-{}", app.database.name))
        .join("media");
    let mut files = walk(&media_dir);
    for _ in 0..50 {
        if files.iter().all(|f| !f.contains(&id)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        files = walk(&media_dir);
    }
    assert!(
        files.iter().all(|f| !f.contains(&id)),
        "its objects too: {files:?}"
    );
    app.stop().await;
}

/// A failing store answers 503 and leaves no record behind.
#[tokio::test]
async fn a_failing_store_gives_503_and_writes_nothing() {
    let app = TestApp::spawn(Mode::AllInOne).await;
    let token = app.resident_token().await;
    let media_dir = std::env::temp_dir()
        .join(format!("citizen-test-{}", app.database.name))
        .join("media");
    // Where originals go is now a file: every write there fails, as on a full or broken disk.
    std::fs::write(media_dir.join("originals"), b"not a directory").unwrap();
    let response = upload(&app, &token, phone_photo(320, 240, 1), "image/jpeg").await;
    assert!(response.headers().contains_key("retry-after"));
    problem(response, 503, "storage_unavailable").await;
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&app.database.url)
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM media.media")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    app.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            files.extend(walk(&entry.path()));
        } else {
            files.push(entry.path().display().to_string());
        }
    }
    files
}
