use identity::config::IdentityConfig;
use media::config::MediaConfig;
use std::io::Cursor;

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value};
use image::{ImageFormat, RgbImage};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::Value as Json;

use crate::helpers::{
    Mode, PHU_XUAN, S3_TEST_BUCKET, Store, TestApp, pothole_at, problem, s3_endpoint,
};
use crate::in_both_modes_and_stores;

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

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    RgbImage::new(width, height)
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    bytes
}

async fn spawn(mode: Mode, store: Store, adjust: impl Fn(&mut platform::Config)) -> TestApp {
    let endpoint = if store == Store::S3 {
        s3_endpoint()
    } else {
        String::new()
    };
    spawn_on_endpoint(mode, store, &endpoint, adjust).await
}

async fn spawn_on_endpoint(
    mode: Mode,
    store: Store,
    endpoint: &str,
    adjust: impl Fn(&mut platform::Config),
) -> TestApp {
    TestApp::spawn_with(mode, |config| {
        config.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true);
        config.internal.service_token = Some("test-service-token".to_owned().into());
        store.configure(config, endpoint);
        adjust(config);
    })
    .await
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

/// Uploads through the gateway, expecting success: the media and its id.
pub async fn uploaded(
    app: &TestApp,
    token: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> (Json, String) {
    let response = upload(app, token, bytes, content_type).await;
    assert!(response.status().is_success(), "{}", response.status());
    let media: Json = response.json().await.unwrap();
    let id = media["id"].as_str().unwrap().to_owned();
    (media, id)
}

/// The direct path: a signed URL, the bytes straight to storage, then `complete`.
async fn upload_directly(
    app: &TestApp,
    token: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> reqwest::Response {
    let started: Json = start_upload(
        app,
        token,
        serde_json::json!({ "content_type": content_type, "byte_size": bytes.len() }),
    )
    .await
    .json()
    .await
    .unwrap();
    let put = put_signed(app, &started["upload"], bytes).await;
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
    let id = started["id"].as_str().unwrap();
    app.authed(Method::POST, &format!("/v1/media/{id}/complete"), token)
        .send()
        .await
        .unwrap()
}

/// Asks for a signed URL to upload a photo directly to storage.
async fn start_upload(app: &TestApp, token: &str, request: Json) -> reqwest::Response {
    app.authed(Method::POST, "/v1/media/uploads", token)
        .json(&request)
        .send()
        .await
        .unwrap()
}

/// Sends `bytes` as a signed upload request says, with its signed headers.
async fn put_signed(app: &TestApp, request: &Json, bytes: Vec<u8>) -> reqwest::Response {
    assert_eq!(request["method"], "PUT");
    let mut put = app.client.put(request["url"].as_str().unwrap());
    for (name, value) in request["headers"].as_object().unwrap() {
        if name == "content-length" {
            // reqwest sends the body's own length, which must be the one signed.
            assert_eq!(value.as_str().unwrap(), bytes.len().to_string());
        } else {
            put = put.header(name, value.as_str().unwrap());
        }
    }
    put.body(bytes).send().await.unwrap()
}

pub async fn until_ready(app: &TestApp, token: &str, id: &str) -> Json {
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

/// Files a pothole report in Phú Xuân (ward `phu-xuan`, department `construction`) with the
/// photo `media_id`: the photo is then attached to it.
async fn file_pothole_with(app: &TestApp, token: &str, media_id: &str) -> String {
    let mut report = pothole_at(PHU_XUAN);
    report["media_ids"] = serde_json::json!([media_id]);
    app.file_report_id(token, &report).await
}

fn assert_no_metadata(derivative: &[u8]) {
    assert!(
        !derivative.windows(6).any(|w| w == b"Exif\0\0"),
        "no EXIF in derivatives"
    );
    assert!(
        exif::Reader::new()
            .read_from_container(&mut Cursor::new(derivative))
            .is_err()
    );
}

/// What the test's store holds, as keys (`originals/<id>`, ...).
async fn stored_keys(app: &TestApp, store: Store) -> Vec<String> {
    let data_dir = std::env::temp_dir().join(format!("citizen-test-{}", app.database.name));
    match store {
        Store::Local => {
            let root = data_dir.join("media");
            walk(&root)
                .into_iter()
                .map(|path| path.strip_prefix(&root).unwrap().display().to_string())
                .filter(|key| !key.rsplit('/').next().unwrap().starts_with('.'))
                .collect()
        }
        Store::S3 => {
            let prefix = format!("{}/", data_dir.file_name().unwrap().to_string_lossy());
            let listed = s3_client()
                .list_objects_v2()
                .bucket(S3_TEST_BUCKET)
                .prefix(&prefix)
                .send()
                .await
                .unwrap();
            listed
                .contents()
                .iter()
                .filter_map(|object| object.key()?.strip_prefix(&prefix).map(str::to_owned))
                .collect()
        }
    }
}

fn s3_client() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(s3_endpoint())
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "citizen-test",
            "citizen-test-secret",
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Waits until no stored key mentions `id` (objects go right after their record).
async fn until_objects_gone(app: &TestApp, store: Store, id: &str) -> Vec<String> {
    let mut keys = stored_keys(app, store).await;
    for _ in 0..100 {
        if keys.iter().all(|key| !key.contains(id)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        keys = stored_keys(app, store).await;
    }
    keys
}

/// An iPhone's photo: the phone photo as HEIC, by libheif's encoder (`heif-enc`, installed with
/// the decoder the server uses), its EXIF kept.
fn heic_photo(width: u32, height: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let jpeg = dir.path().join("photo.jpg");
    let heic = dir.path().join("photo.heic");
    std::fs::write(&jpeg, phone_photo(width, height, 1)).unwrap();
    let status = std::process::Command::new("heif-enc")
        .args(["-q", "60", "-o"])
        .arg(&heic)
        .arg(&jpeg)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("heif-enc (Debian's libheif-examples) is installed");
    assert!(status.success());
    std::fs::read(heic).unwrap()
}

async fn heic_photos_are_checked_read_and_stripped(mode: Mode, store: Store) {
    let app = spawn(mode, store, |_| {}).await;
    let token = app.resident_token().await;
    let photo = heic_photo(1024, 768);

    let (media, id) = uploaded(&app, &token, photo.clone(), "image/heic").await;
    assert_eq!(media["content_type"], "image/heic");
    assert_eq!(
        (media["width"].as_i64(), media["height"].as_i64()),
        (Some(1024), Some(768))
    );
    assert!((media["position"]["latitude"].as_f64().unwrap() - 16.475).abs() < 1e-6);
    assert_eq!(media["taken_at"], "2026-11-20T01:30:00Z");
    assert_eq!(until_ready(&app, &token, &id).await["status"], "ready");
    let display = app
        .get_as(&format!("/v1/media/{id}/display"), &token)
        .await
        .bytes()
        .await
        .unwrap();
    assert_no_metadata(&display);
    let decoded = image::load_from_memory(&display).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (1024, 768));

    // Cut off half-way: corrupt. Declaring 40,000 × 40,000 in its `ispe` box: refused before
    // anything is decoded.
    let half = photo[..photo.len() / 2].to_vec();
    problem(
        upload(&app, &token, half, "image/heic").await,
        422,
        "corrupt_image",
    )
    .await;
    let mut bomb = photo.clone();
    let at = bomb.windows(4).position(|w| w == b"ispe").unwrap() + 8;
    bomb[at..at + 8].copy_from_slice(&[40_000u32.to_be_bytes(), 40_000u32.to_be_bytes()].concat());
    problem(
        upload(&app, &token, bomb, "image/heic").await,
        422,
        "too_many_pixels",
    )
    .await;

    // The direct path takes HEIC too.
    let other = heic_photo(640, 480);
    let direct = upload_directly(&app, &token, other, "image/heic").await;
    assert_eq!(direct.status(), 201);
    app.stop().await;
}
in_both_modes_and_stores!(heic_photos_are_checked_read_and_stripped);

async fn a_phone_photo_is_stored_indexed_and_stripped(mode: Mode, store: Store) {
    let app = spawn(mode, store, |_| {}).await;
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
    assert_eq!(
        (media["attached"].as_bool(), media["public"].as_bool()),
        (Some(false), Some(false))
    );

    let id = media["id"].as_str().unwrap().to_owned();
    assert_eq!(until_ready(&app, &token, &id).await["status"], "ready");
    let get = |variant: &str| {
        app.authed(Method::GET, &format!("/v1/media/{id}/{variant}"), &token)
            .send()
    };
    let display = get("display").await.unwrap();
    assert_eq!(display.headers()["content-type"], "image/jpeg");
    assert_eq!(display.headers()["x-content-type-options"], "nosniff");
    let display = display.bytes().await.unwrap();
    let thumbnail = get("thumbnail").await.unwrap().bytes().await.unwrap();
    assert_no_metadata(&display);
    assert_no_metadata(&thumbnail);
    let display = image::load_from_memory(&display).unwrap();
    assert_eq!(
        (display.width(), display.height()),
        (960, 1280),
        "rotated upright, long side 1280"
    );
    let thumbnail = image::load_from_memory(&thumbnail).unwrap();
    assert_eq!(thumbnail.width().max(thumbnail.height()), 256);

    // The original keeps what the derivatives leave out: staff only, even for its owner.
    problem(get("original").await.unwrap(), 404, "media_not_found").await;

    let again: Json = upload(&app, &token, photo.clone(), "image/jpeg")
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
    for variant in ["display", "original", "urls"] {
        problem(
            app.get_as(&format!("/v1/media/{id}/{variant}"), &stranger)
                .await,
            404,
            "media_not_found",
        )
        .await;
    }
    problem(
        app.get(&format!("/v1/media/{id}/display")).await,
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

    // Staff read the original once the photo is attached to a report they work on.
    file_pothole_with(&app, &token, &id).await;
    let officer = app.staff_token("phuxuan.officer").await;
    let ranged = app
        .authed(Method::GET, &format!("/v1/media/{id}/original"), &officer)
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
    let unsatisfiable = app
        .authed(Method::GET, &format!("/v1/media/{id}/original"), &officer)
        .header("range", format!("bytes={}-", photo.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unsatisfiable.headers()["content-range"],
        format!("bytes */{}", photo.len()).as_str()
    );
    problem(unsatisfiable, 416, "range_not_satisfiable").await;
    app.stop().await;
}
in_both_modes_and_stores!(a_phone_photo_is_stored_indexed_and_stripped);

async fn a_photo_goes_straight_to_storage_then_is_checked(mode: Mode, store: Store) {
    let app = spawn(mode, store, |_| {}).await;
    let token = app.resident_token().await;
    let photo = phone_photo(1200, 900, 1);

    let started = start_upload(
        &app,
        &token,
        serde_json::json!({ "content_type": "image/jpeg", "byte_size": photo.len() }),
    )
    .await;
    assert_eq!(started.status(), 201);
    let started: Json = started.json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_owned();
    let request = &started["upload"];
    let url = request["url"].as_str().unwrap();
    match store {
        Store::Local => assert!(url.starts_with(&app.url("/v1/media/objects/")), "{url}"),
        Store::S3 => assert!(
            url.starts_with(&s3_endpoint()) && url.contains("X-Amz-Signature="),
            "{url}"
        ),
    }
    assert!(request["expires_at"].is_string());

    let complete = || {
        app.authed(Method::POST, &format!("/v1/media/{id}/complete"), &token)
            .send()
    };
    problem(complete().await.unwrap(), 409, "upload_missing").await;

    // The signature covers the object, the size and the type.
    let mut longer = photo.clone();
    longer.extend_from_slice(&[0; 100]);
    let refused = put_signed_unchecked(&app, request, longer).await;
    assert_eq!(refused.status(), 403, "another size is refused");
    let mut tampered = request.clone();
    tampered["url"] = Json::String(url.replace(&id, &uuid::Uuid::now_v7().to_string()));
    assert_eq!(
        put_signed(&app, &tampered, photo.clone()).await.status(),
        403,
        "another object is refused"
    );

    assert_eq!(put_signed(&app, request, photo.clone()).await.status(), 200);
    let stranger = app.resident_token().await;
    problem(
        app.authed(Method::POST, &format!("/v1/media/{id}/complete"), &stranger)
            .send()
            .await
            .unwrap(),
        404,
        "media_not_found",
    )
    .await;
    let done = complete().await.unwrap();
    assert_eq!(done.status(), 201);
    let media: Json = done.json().await.unwrap();
    assert_eq!(media["id"], id.as_str());
    assert_eq!(media["byte_size"].as_u64(), Some(photo.len() as u64));
    assert!(media["h3_cell"].is_string(), "EXIF read as for any upload");
    let again = complete().await.unwrap();
    assert_eq!(again.status(), 200, "completing twice is harmless");
    assert_eq!(until_ready(&app, &token, &id).await["status"], "ready");
    let display = app
        .get_as(&format!("/v1/media/{id}/display"), &token)
        .await
        .bytes()
        .await
        .unwrap();
    assert_no_metadata(&display);

    // The same photo again, by the direct path: the earlier media.
    let twice: Json = upload_directly(&app, &token, photo, "image/jpeg")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(twice["id"], id.as_str());

    // Bytes that are no image are judged on completion, whatever type was declared.
    let script = b"<script>alert(1)</script>".repeat(10);
    problem(
        upload_directly(&app, &token, script, "image/jpeg").await,
        415,
        "unsupported_media_type",
    )
    .await;
    problem(
        start_upload(
            &app,
            &token,
            serde_json::json!({ "content_type": "text/html", "byte_size": 10 }),
        )
        .await,
        415,
        "unsupported_media_type",
    )
    .await;
    problem(
        start_upload(
            &app,
            &token,
            serde_json::json!({ "content_type": "image/jpeg", "byte_size": 0 }),
        )
        .await,
        400,
        "invalid_body",
    )
    .await;
    problem(
        start_upload(
            &app,
            &token,
            serde_json::json!({ "content_type": "image/jpeg", "byte_size": 16 * 1024 * 1024 }),
        )
        .await,
        413,
        "too_large",
    )
    .await;
    app.stop().await;
}
in_both_modes_and_stores!(a_photo_goes_straight_to_storage_then_is_checked);

/// Sends the signed request with whatever body, its length not checked against the signed one.
async fn put_signed_unchecked(app: &TestApp, request: &Json, bytes: Vec<u8>) -> reqwest::Response {
    let mut put = app.client.put(request["url"].as_str().unwrap());
    for (name, value) in request["headers"].as_object().unwrap() {
        if name != "content-length" {
            put = put.header(name, value.as_str().unwrap());
        }
    }
    put.body(bytes).send().await.unwrap()
}

async fn bad_files_are_refused_with_clear_codes(mode: Mode, store: Store) {
    let app = spawn(mode, store, |c| {
        c.edit(|media: &mut MediaConfig| media.max_upload_bytes = 300_000);
        c.edit(|media: &mut MediaConfig| media.max_pixels = 2_000_000);
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

    // An ISO-BMFF `ftyp` box with a HEIF brand and nothing after it: a HEIC that is no image.
    let mut heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    heic.extend_from_slice(&[0; 2000]);
    problem(
        upload(&app, &token, heic, "image/heic").await,
        422,
        "corrupt_image",
    )
    .await;

    let bomb = png(2000, 1500);
    assert!(bomb.len() < 300_000, "small on the wire, 3 MP when decoded");
    problem(
        upload(&app, &token, bomb.clone(), "image/png").await,
        422,
        "too_many_pixels",
    )
    .await;
    problem(
        upload_directly(&app, &token, bomb, "image/png").await,
        422,
        "too_many_pixels",
    )
    .await;

    let photo = phone_photo(800, 600, 1);
    let truncated = photo[..photo.len() / 2].to_vec();
    problem(
        upload(&app, &token, truncated.clone(), "image/jpeg").await,
        422,
        "corrupt_image",
    )
    .await;
    problem(
        upload_directly(&app, &token, truncated, "image/jpeg").await,
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
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM media.media")
        .fetch_one(&mut connect(&app).await)
        .await
        .unwrap();
    assert_eq!(rows, 0, "nothing refused is recorded");
    app.stop().await;
}
in_both_modes_and_stores!(bad_files_are_refused_with_clear_codes);

async fn connect(app: &TestApp) -> sqlx::PgConnection {
    <sqlx::PgConnection as sqlx::Connection>::connect(&app.database.url)
        .await
        .unwrap()
}

async fn staff_find_photos_near_a_point(mode: Mode, store: Store) {
    let app = spawn(mode, store, |_| {}).await;
    let resident = app.resident_token().await;
    let (media, id) = uploaded(&app, &resident, phone_photo(640, 480, 1), "image/jpeg").await;
    until_ready(&app, &resident, &id).await;
    file_pothole_with(&app, &resident, &id).await;

    let officer = app.staff_token("phuxuan.officer").await;
    let near = |query: &str| {
        app.authed(Method::GET, &format!("/v1/media/near?{query}"), &officer)
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
        .get_as(&format!("/v1/media/{id}/thumbnail"), &officer)
        .await;
    assert_eq!(
        thumbnail.status(),
        200,
        "staff read the photos they work with"
    );
    app.stop().await;
}
in_both_modes_and_stores!(staff_find_photos_near_a_point);

/// A staff member of another jurisdiction, made as `citizen staff create` makes staff.
async fn staff_elsewhere(app: &TestApp, username: &str, jurisdiction: &str, ward: &str) -> String {
    let staff = identity::NewStaff {
        username: username.to_owned(),
        password: "hue-demo-password".to_owned(),
        display_name: None,
        roles: vec![platform::auth::Role::WardOfficer],
        scope: platform::auth::Scope {
            jurisdiction: Some(jurisdiction.to_owned()),
            wards: vec![ward.to_owned()],
            departments: Vec::new(),
        },
    };
    mobile_api::app::create_staff(&crate::helpers::test_config(&app.database), &staff)
        .await
        .unwrap();
    app.staff_token(username).await
}

async fn staff_read_only_photos_of_what_they_work_on(mode: Mode) {
    let app = spawn(mode, Store::Local, |_| {}).await;
    let resident = app.resident_token().await;
    let photo = phone_photo(640, 480, 1);
    let (_, filed) = uploaded(&app, &resident, photo.clone(), "image/jpeg").await;
    // Another photo of the same place, attached to nothing.
    let (_, unattached) = uploaded(&app, &resident, phone_photo(600, 400, 1), "image/jpeg").await;
    until_ready(&app, &resident, &filed).await;
    until_ready(&app, &resident, &unattached).await;
    file_pothole_with(&app, &resident, &filed).await;

    let near = |token: String| {
        let request = app.authed(
            Method::GET,
            "/v1/media/near?lat=16.4754&lng=107.5753&radius_m=500",
            &token,
        );
        async move {
            let found: Vec<Json> = request.send().await.unwrap().json().await.unwrap();
            found
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // The report's ward, its department and its jurisdiction's admin.
    for username in ["phuxuan.officer", "construction.staff", "hue.admin"] {
        let token = app.staff_token(username).await;
        let original = app
            .get_as(&format!("/v1/media/{filed}/original"), &token)
            .await;
        assert_eq!(original.status(), 200, "{username} reads the original");
        assert_eq!(original.bytes().await.unwrap().as_ref(), photo.as_slice());
        let urls: Json = app
            .get_json_as(&format!("/v1/media/{filed}/urls"), &token)
            .await;
        assert!(urls["original"].is_string(), "{username}: {urls}");
        assert_eq!(near(token.clone()).await, vec![filed.clone()], "{username}");
        for variant in ["original", "display", "thumbnail"] {
            problem(
                app.get_as(&format!("/v1/media/{unattached}/{variant}"), &token)
                    .await,
                404,
                "media_not_found",
            )
            .await;
        }
    }

    // Another ward, another department, and a ward of the same name in another jurisdiction.
    let elsewhere = staff_elsewhere(&app, "danang.officer", "danang", "phu-xuan").await;
    let outsiders = [
        (
            "thuanhoa.officer",
            app.staff_token("thuanhoa.officer").await,
        ),
        (
            "environment.staff",
            app.staff_token("environment.staff").await,
        ),
        ("danang.officer", elsewhere),
    ];
    for (username, token) in outsiders {
        let original = app
            .get_as(&format!("/v1/media/{filed}/original"), &token)
            .await;
        problem(original, 404, "media_not_found").await;
        // The report is public: its photo's derivatives are anyone's, never the original.
        let urls: Json = app
            .get_json_as(&format!("/v1/media/{filed}/urls"), &token)
            .await;
        assert!(
            urls["display"].is_string() && urls["original"].is_null(),
            "{username}: {urls}"
        );
        for variant in ["original", "display", "thumbnail", "urls"] {
            let response = app
                .get_as(&format!("/v1/media/{unattached}/{variant}"), &token)
                .await;
            assert_eq!(response.status(), 404, "{username}: {variant} of an upload");
        }
        assert!(near(token).await.is_empty(), "{username} sees no positions");
    }
    app.stop().await;
}
crate::in_both_modes!(staff_read_only_photos_of_what_they_work_on);

async fn signed_urls_serve_each_reader_what_they_may_see(mode: Mode, store: Store) {
    let app = spawn(mode, store, |_| {}).await;
    let token = app.resident_token().await;
    let photo = phone_photo(800, 600, 1);
    let (_, id) = uploaded(&app, &token, photo.clone(), "image/jpeg").await;
    until_ready(&app, &token, &id).await;

    let urls: Json = app
        .get_as(&format!("/v1/media/{id}/urls"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert!(urls["original"].is_null(), "not the original for its owner");
    // A signed URL needs no token.
    let display = app
        .client
        .get(urls["display"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(display.status(), 200);
    assert_eq!(display.headers()["content-type"], "image/jpeg");
    assert_no_metadata(&display.bytes().await.unwrap());
    let thumbnail = app
        .client
        .get(urls["thumbnail"].as_str().unwrap())
        .header("range", "bytes=0-1")
        .send()
        .await
        .unwrap();
    assert_eq!(thumbnail.status(), 206);
    assert_eq!(thumbnail.bytes().await.unwrap().as_ref(), &[0xFF, 0xD8]);
    // Nor another object under the same signature.
    let forged = urls["display"]
        .as_str()
        .unwrap()
        .replace("display/", "thumbnails/");
    assert_eq!(app.client.get(forged).send().await.unwrap().status(), 403);

    // The officer of the ward the photo's report is in.
    file_pothole_with(&app, &token, &id).await;
    let officer = app.staff_token("phuxuan.officer").await;
    let staff_urls: Json = app
        .get_as(&format!("/v1/media/{id}/urls"), &officer)
        .await
        .json()
        .await
        .unwrap();
    let original = app
        .client
        .get(staff_urls["original"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(original.as_ref(), photo.as_slice());
    app.stop().await;
}
in_both_modes_and_stores!(signed_urls_serve_each_reader_what_they_may_see);

/// The internal API other services call, on media's own server (split deployments).
async fn internal(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Json>,
) -> reqwest::Response {
    let url = format!("http://{}{path}", app.service_addr("media").unwrap());
    let mut request = app
        .client
        .request(method, url)
        .bearer_auth("test-service-token");
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn a_report_attaches_photos_and_shares_them_when_public(store: Store) {
    let app = spawn(Mode::Split, store, |_| {}).await;
    let token = app.resident_token().await;
    let me: Json = app.get_as("/v1/me", &token).await.json().await.unwrap();
    let owner = me["id"].as_str().unwrap().to_owned();
    // A photo without EXIF position: it takes the report's.
    let (plain, plain_id) = uploaded(&app, &token, png(400, 300), "image/png").await;
    assert!(plain["h3_cell"].is_null());
    let (_, exif_id) = uploaded(&app, &token, phone_photo(400, 300, 1), "image/jpeg").await;
    until_ready(&app, &token, &plain_id).await;
    until_ready(&app, &token, &exif_id).await;

    let report = format!("report:{}", uuid::Uuid::now_v7());
    let attach = |owner: &str, ids: Vec<&str>, attached_to: &str| {
        internal(
            &app,
            Method::POST,
            "/internal/v1/media/attachments",
            Some(serde_json::json!({
                "owner_id": owner, "attached_to": attached_to, "media_ids": ids,
                "public": false, "latitude": 16.4637, "longitude": 107.5909,
                "scope": { "jurisdiction": "hue", "ward": "phu-xuan", "department": "construction" },
            })),
        )
    };
    // Only the owner's photos; all or nothing.
    let stranger = uuid::Uuid::now_v7().to_string();
    problem(
        attach(&stranger, vec![&plain_id], &report).await,
        404,
        "media_not_found",
    )
    .await;
    problem(
        attach(
            &owner,
            vec![&plain_id, &uuid::Uuid::now_v7().to_string()],
            &report,
        )
        .await,
        404,
        "media_not_found",
    )
    .await;
    assert_eq!(
        attach(&owner, vec![&plain_id, &exif_id], &report)
            .await
            .status(),
        200
    );
    assert_eq!(
        attach(&owner, vec![&plain_id], &report).await.status(),
        200,
        "attaching again is harmless"
    );
    problem(
        attach(&owner, vec![&plain_id], "report:another").await,
        409,
        "media_already_attached",
    )
    .await;
    // Without the service token, and through the gateway, there is no internal API.
    let unauthenticated = app
        .client
        .post(format!(
            "http://{}/internal/v1/media/attachments",
            app.service_addr("media").unwrap()
        ))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    problem(unauthenticated, 401, "service_token_required").await;
    assert_eq!(
        app.client
            .post(app.url("/internal/v1/media/attachments"))
            .bearer_auth("test-service-token")
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let plain: Json = app
        .get_as(&format!("/v1/media/{plain_id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plain["attached"], true);
    let expected = h3o::LatLng::new(16.4637, 107.5909)
        .unwrap()
        .to_cell(h3o::Resolution::Nine);
    assert_eq!(
        u64::from_str_radix(plain["h3_cell"].as_str().unwrap(), 16).unwrap(),
        u64::from(expected),
        "the report's position"
    );
    let exif: Json = app
        .get_as(&format!("/v1/media/{exif_id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        (exif["position"]["latitude"].as_f64().unwrap() - 16.475).abs() < 1e-6,
        "EXIF position kept"
    );

    // Private report: nobody else sees the photos. Public: anyone sees the derivatives.
    problem(
        app.get(&format!("/v1/media/{plain_id}/display")).await,
        404,
        "media_not_found",
    )
    .await;
    let visibility_path = format!("/internal/v1/media/attachments/{report}/visibility");
    let visibility = |public: bool| {
        internal(
            &app,
            Method::PUT,
            &visibility_path,
            Some(serde_json::json!({ "public": public })),
        )
    };
    assert_eq!(visibility(true).await.status(), 204);
    let public = app.get(&format!("/v1/media/{plain_id}/display")).await;
    assert_eq!(public.status(), 200);
    assert_eq!(public.headers()["cache-control"], "public, max-age=300");
    let urls: Json = app.get_json(&format!("/v1/media/{plain_id}/urls")).await;
    assert!(urls["thumbnail"].is_string() && urls["original"].is_null());
    problem(
        app.get(&format!("/v1/media/{plain_id}/original")).await,
        404,
        "media_not_found",
    )
    .await;
    assert_eq!(visibility(false).await.status(), 204);
    problem(
        app.get(&format!("/v1/media/{plain_id}/thumbnail")).await,
        404,
        "media_not_found",
    )
    .await;

    // The staff of the report's ward read the photos, until the report moves to another ward.
    let original = |officer: String| {
        let (app, path) = (&app, format!("/v1/media/{plain_id}/original"));
        async move { app.get_as(&path, &officer).await.status() }
    };
    let phu_xuan = app.staff_token("phuxuan.officer").await;
    let thuan_hoa = app.staff_token("thuanhoa.officer").await;
    assert_eq!(original(phu_xuan.clone()).await, 200);
    assert_eq!(original(thuan_hoa.clone()).await, 404);
    let moved = internal(
        &app,
        Method::PUT,
        &format!("/internal/v1/media/attachments/{report}/scope"),
        Some(serde_json::json!({
            "jurisdiction": "hue", "ward": "thuan-hoa", "department": "construction",
        })),
    )
    .await;
    assert_eq!(moved.status(), 204);
    assert_eq!(original(phu_xuan).await, 404);
    assert_eq!(original(thuan_hoa).await, 200);
    app.stop().await;
}

crate::in_both_stores!(a_report_attaches_photos_and_shares_them_when_public);

async fn an_erased_account_loses_its_photos(store: Store) {
    let app = spawn(Mode::Split, store, |_| {}).await;
    let token = app.resident_token().await;
    let me: Json = app.get_as("/v1/me", &token).await.json().await.unwrap();
    let owner = me["id"].as_str().unwrap().to_owned();
    let (_, id) = uploaded(&app, &token, phone_photo(400, 300, 1), "image/jpeg").await;
    until_ready(&app, &token, &id).await;
    let other = app.resident_token().await;
    let (_, kept_id) = uploaded(&app, &other, phone_photo(300, 200, 1), "image/jpeg").await;
    assert_eq!(
        stored_keys(&app, store)
            .await
            .iter()
            .filter(|k| k.contains(&id))
            .count(),
        3
    );

    let erased: Json = internal(
        &app,
        Method::DELETE,
        &format!("/internal/v1/media/owners/{owner}"),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(erased["deleted"], 1);
    problem(
        app.get_as(&format!("/v1/media/{id}"), &token).await,
        404,
        "media_not_found",
    )
    .await;
    let left = until_objects_gone(&app, store, &id).await;
    assert!(left.iter().all(|key| !key.contains(&id)), "{left:?}");
    assert!(
        left.iter().any(|key| key.contains(&kept_id)),
        "others keep theirs: {left:?}"
    );
    app.stop().await;
}

crate::in_both_stores!(an_erased_account_loses_its_photos);

/// Identity erases an account and says so in an event; media deletes the account's photos. In
/// one process the event goes through the in-process bus; split, through NATS JetStream.
async fn an_erased_account_loses_its_photos_through_events(mode: Mode) {
    let app = spawn(mode, Store::Local, |c| {
        c.edit(|identity: &mut IdentityConfig| identity.erasure_grace_days = 0);
        c.edit(|identity: &mut IdentityConfig| identity.erasure_interval_secs = 1);
        c.events.outbox_poll_ms = 200;
        if let Mode::Split = mode {
            crate::helpers::use_nats(c, &uuid::Uuid::new_v4().simple().to_string());
        }
    })
    .await;
    let token = app.resident_token().await;
    let (_, id) = uploaded(&app, &token, phone_photo(400, 300, 1), "image/jpeg").await;
    until_ready(&app, &token, &id).await;
    let other = app.resident_token().await;
    let kept: Json = upload(&app, &other, phone_photo(300, 200, 1), "image/jpeg")
        .await
        .json()
        .await
        .unwrap();

    let erase = app
        .authed(Method::DELETE, "/v1/me", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(erase.status(), 202);
    // The access token outlives the account by at most 15 minutes; the photo must not.
    let status = app
        .status_once_settled(&format!("/v1/media/{id}"), &token, 404)
        .await;
    assert_eq!(status, 404, "the erased account's photo is gone");
    let left = until_objects_gone(&app, Store::Local, &id).await;
    assert!(left.iter().all(|key| !key.contains(&id)), "{left:?}");
    let kept_id = kept["id"].as_str().unwrap();
    assert_eq!(
        app.get_as(&format!("/v1/media/{kept_id}"), &other)
            .await
            .status(),
        200,
        "others keep theirs"
    );
    let handled: i64 = sqlx::query_scalar("SELECT count(*) FROM media.inbox")
        .fetch_one(&mut connect(&app).await)
        .await
        .unwrap();
    assert_eq!(handled, 1, "one event, handled once");
    app.stop().await;
}
crate::in_both_modes!(an_erased_account_loses_its_photos_through_events);

/// Events through the local NATS server, on a stream and subjects of this test's own.
async fn uploads_attached_to_nothing_expire(store: Store) {
    let app = spawn(Mode::AllInOne, store, |c| {
        c.edit(|media: &mut MediaConfig| media.unattached_ttl_secs = 1);
        c.edit(|media: &mut MediaConfig| media.cleanup_interval_secs = 1);
    })
    .await;
    let token = app.resident_token().await;
    let (_, id) = uploaded(&app, &token, phone_photo(320, 240, 1), "image/jpeg").await;
    // And a direct upload never completed.
    let started: Json = start_upload(
        &app,
        &token,
        serde_json::json!({ "content_type": "image/jpeg", "byte_size": 4 }),
    )
    .await
    .json()
    .await
    .unwrap();
    let pending = started["id"].as_str().unwrap().to_owned();
    assert_eq!(
        put_signed(&app, &started["upload"], vec![0xFF, 0xD8, 0xFF, 0xD9])
            .await
            .status(),
        200
    );

    let status = app
        .status_once_settled(&format!("/v1/media/{id}"), &token, 404)
        .await;
    assert_eq!(status, 404, "the unattached upload was deleted");
    // The direct upload was started a little later, so it expires a little later.
    let complete = || {
        app.authed(
            Method::POST,
            &format!("/v1/media/{pending}/complete"),
            &token,
        )
        .send()
    };
    let mut completed = complete().await.unwrap();
    for _ in 0..50 {
        if completed.status() == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        completed = complete().await.unwrap();
    }
    problem(completed, 404, "media_not_found").await;
    // The records go first, the objects right after them.
    let left = until_objects_gone(&app, store, &id).await;
    assert!(left.iter().all(|key| !key.contains(&id)), "{left:?}");
    let left = until_objects_gone(&app, store, &pending).await;
    assert!(left.iter().all(|key| !key.contains(&pending)), "{left:?}");
    app.stop().await;
}

crate::in_both_stores!(uploads_attached_to_nothing_expire);

#[tokio::test]
async fn originals_can_be_dropped_once_derivatives_exist() {
    let app = spawn(Mode::AllInOne, Store::Local, |c| {
        c.edit(|media: &mut MediaConfig| media.keep_originals = false)
    })
    .await;
    let token = app.resident_token().await;
    let (_, id) = uploaded(&app, &token, phone_photo(400, 300, 1), "image/jpeg").await;
    until_ready(&app, &token, &id).await;
    file_pothole_with(&app, &token, &id).await;
    let officer = app.staff_token("phuxuan.officer").await;
    problem(
        app.get_as(&format!("/v1/media/{id}/original"), &officer)
            .await,
        404,
        "original_not_kept",
    )
    .await;
    assert_eq!(
        app.get_as(&format!("/v1/media/{id}/display"), &officer)
            .await
            .status(),
        200
    );
    let mut keys = stored_keys(&app, Store::Local).await;
    for _ in 0..50 {
        if !keys.iter().any(|key| key.starts_with("originals/")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        keys = stored_keys(&app, Store::Local).await;
    }
    assert!(
        !keys.iter().any(|key| key.starts_with("originals/")),
        "{keys:?}"
    );
    assert_eq!(keys.len(), 2, "display and thumbnail: {keys:?}");
    app.stop().await;
}

/// A failing local store answers 503 and leaves no record behind.
#[tokio::test]
async fn a_failing_disk_gives_503_and_writes_nothing() {
    let app = spawn(Mode::AllInOne, Store::Local, |_| {}).await;
    let token = app.resident_token().await;
    let media_dir = std::env::temp_dir()
        .join(format!("citizen-test-{}", app.database.name))
        .join("media");
    // Where originals go is now a file: every write there fails, as on a full or broken disk.
    std::fs::write(media_dir.join("originals"), b"not a directory").unwrap();
    let response = upload(&app, &token, phone_photo(320, 240, 1), "image/jpeg").await;
    assert!(response.headers().contains_key("retry-after"));
    problem(response, 503, "storage_unavailable").await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM media.media")
        .fetch_one(&mut connect(&app).await)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    app.stop().await;
}

/// The S3 server goes away in the middle of an upload: 503, no record and no object; once it is
/// back, uploads work again.
#[tokio::test]
async fn an_s3_outage_mid_upload_gives_503_and_writes_nothing() {
    let relay = CuttingRelay::start(&s3_endpoint()).await;
    let app = spawn_on_endpoint(Mode::AllInOne, Store::S3, &relay.endpoint(), |_| {}).await;
    let token = app.resident_token().await;
    let photo = phone_photo(1600, 1200, 1);
    assert!(photo.len() > 50_000);

    relay.cut_after(20_000);
    let response = upload(&app, &token, photo.clone(), "image/jpeg").await;
    assert!(response.headers().contains_key("retry-after"));
    problem(response, 503, "storage_unavailable").await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM media.media")
        .fetch_one(&mut connect(&app).await)
        .await
        .unwrap();
    assert_eq!(rows, 0, "no record");
    assert_eq!(
        stored_keys(&app, Store::S3).await,
        Vec::<String>::new(),
        "no object"
    );

    // Whatever the store may have kept of the cut upload is queued for deletion.
    let queued = |key: String| {
        let url = app.database.url.clone();
        async move {
            let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM media.media_object_deletions WHERE object_key LIKE $1",
            )
            .bind(key)
            .fetch_one(&mut db)
            .await
            .unwrap()
        }
    };
    assert_eq!(queued("originals/%".to_owned()).await, 1);

    relay.cut_after(u64::MAX);
    let (_, id) = uploaded(&app, &token, photo, "image/jpeg").await;
    assert_eq!(
        queued(format!("originals/{id}")).await,
        0,
        "a stored photo's original is no longer queued for deletion"
    );
    app.stop().await;
}

/// A TCP relay to the S3 server that can be told to cut every connection once it has passed on
/// a number of request bytes, as a server dying mid-request does.
struct CuttingRelay {
    addr: std::net::SocketAddr,
    limit: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl CuttingRelay {
    async fn start(target: &str) -> CuttingRelay {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let target: std::net::SocketAddr = target.trim_start_matches("http://").parse().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limit = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        let shared = limit.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let limit = shared.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let upstream = async {
                        let mut passed = 0u64;
                        let mut buffer = vec![0; 8192];
                        loop {
                            let n = client_read.read(&mut buffer).await?;
                            if n == 0 {
                                return Ok::<bool, std::io::Error>(false);
                            }
                            let allowed = limit.load(Ordering::SeqCst).saturating_sub(passed);
                            if (n as u64) > allowed {
                                server_write.write_all(&buffer[..allowed as usize]).await?;
                                return Ok(true);
                            }
                            server_write.write_all(&buffer[..n]).await?;
                            passed += n as u64;
                        }
                    };
                    let downstream = tokio::io::copy(&mut server_read, &mut client_write);
                    tokio::pin!(downstream);
                    tokio::select! {
                        cut = upstream => if let Ok(false) = cut {
                            let _ = downstream.await;
                        },
                        _ = &mut downstream => {}
                    }
                    // Dropping both sockets here closes the connections.
                });
            }
        });
        CuttingRelay { addr, limit }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn cut_after(&self, bytes: u64) {
        self.limit.store(bytes, std::sync::atomic::Ordering::SeqCst);
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            files.extend(walk(&entry.path()));
        } else {
            files.push(entry.path());
        }
    }
    files
}

/// A PNG of `side`×`side` transparent black pixels at 16 bits a channel: 8 bytes a pixel once
/// decoded, a little over a byte on the wire per 200 pixels. Written by hand with deflate's fixed
/// codes, each run of 258 zero bytes one back-reference, as an encoder would (faster than one
/// unoptimised in a test build).
fn blank_16_bit_png(side: u32) -> Vec<u8> {
    #[derive(Default)]
    struct Bits {
        bytes: Vec<u8>,
        used: u8,
    }
    impl Bits {
        fn bit(&mut self, bit: u32) {
            if self.used == 0 {
                self.bytes.push(0);
            }
            *self.bytes.last_mut().unwrap() |= (bit as u8) << self.used;
            self.used = (self.used + 1) % 8;
        }
        /// A header field, least significant bit first.
        fn field(&mut self, value: u32, len: u32) {
            (0..len).for_each(|i| self.bit((value >> i) & 1));
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            (0..len).rev().for_each(|i| self.bit((code >> i) & 1));
        }
    }
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for byte in bytes {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
            }
        }
        !crc
    }
    // Each row: its filter byte (none) and the pixels, all zero.
    let raw = u64::from(side) * (1 + u64::from(side) * 8);
    let mut deflate = Bits::default();
    deflate.field(1, 1); // the last block
    deflate.field(1, 2); // fixed codes
    deflate.code(0b0011_0000, 8); // a literal 0
    let mut left = raw - 1;
    while left >= 258 {
        deflate.code(0b1100_0101, 8); // length 258
        deflate.code(0, 5); // distance 1
        left -= 258;
    }
    (0..left).for_each(|_| deflate.code(0b0011_0000, 8));
    deflate.code(0, 7); // end of block
    let mut zlib = vec![0x78, 0x01];
    zlib.extend(deflate.bytes);
    // Adler-32 of zeros: a stays 1, b counts the bytes.
    zlib.extend((((raw % 65521) << 16) as u32 | 1).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend(side.to_be_bytes());
    ihdr.extend(side.to_be_bytes());
    ihdr.extend([16, 6, 0, 0, 0]); // 16-bit RGBA, not interlaced
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        png.extend((data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend(data);
        png.extend(&chunk);
        png.extend(crc32(&chunk).to_be_bytes());
    }
    png
}

async fn a_small_16_bit_png_of_huge_dimensions_is_refused_before_decoding(mode: Mode) {
    let decoded = image::load_from_memory(&blank_16_bit_png(64)).unwrap();
    assert_eq!(decoded.color(), image::ColorType::Rgba16, "a real PNG");
    assert_eq!((decoded.width(), decoded.height()), (64, 64));

    let app = spawn(mode, Store::Local, |_| {}).await;
    let token = app.resident_token().await;
    // 32 MP, under the pixel limit; 260 MB decoded, over the 200 MiB limit.
    let bomb = blank_16_bit_png(5700);
    assert!(bomb.len() < 2_000_000, "{} bytes", bomb.len());
    problem(
        upload(&app, &token, bomb.clone(), "image/png").await,
        422,
        "too_large_decoded",
    )
    .await;
    problem(
        upload_directly(&app, &token, bomb, "image/png").await,
        422,
        "too_large_decoded",
    )
    .await;
    app.stop().await;
}
crate::in_both_modes!(a_small_16_bit_png_of_huge_dimensions_is_refused_before_decoding);

/// An upload through the gateway whose body arrives only as far as the first bytes of the
/// photo, then waits, as a phone on a bad connection does.
struct SlowUpload {
    /// The rest of the body; dropping it ends the upload.
    rest: futures::channel::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    answer: tokio::task::JoinHandle<reqwest::Response>,
}

async fn start_slow_upload(app: &TestApp, token: &str) -> SlowUpload {
    use futures::SinkExt;
    let (mut rest, chunks) = futures::channel::mpsc::channel(0);
    let part = Part::stream(reqwest::Body::wrap_stream(chunks))
        .file_name("slow.jpg")
        .mime_str("image/jpeg")
        .unwrap();
    let request = app
        .authed(Method::POST, "/v1/media", token)
        .multipart(Form::new().part("file", part));
    let answer = tokio::spawn(async move { request.send().await.unwrap() });
    rest.send(Ok(vec![0xFF, 0xD8])).await.unwrap();
    // A second chunk is taken once the first was: the request is on its way (or answered).
    let second = rest.send(Ok(vec![0xFF]));
    tokio::pin!(second);
    while tokio::time::timeout(std::time::Duration::from_millis(20), &mut second)
        .await
        .is_err()
        && !answer.is_finished()
    {}
    SlowUpload { rest, answer }
}

async fn a_slow_upload_does_not_hold_up_other_residents(mode: Mode) {
    let app = spawn(mode, Store::Local, |_| {}).await;
    let slow = app.resident_token().await;
    let other = app.resident_token().await;
    // As many as the process checks at once; those past the account's share are refused.
    let mut trickles = Vec::new();
    for _ in 0..8 {
        trickles.push(start_slow_upload(&app, &slow).await);
    }

    let response = upload(&app, &other, phone_photo(320, 240, 1), "image/jpeg").await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    assert!(
        trickles.iter().any(|t| !t.answer.is_finished()),
        "the slow uploads are still open"
    );
    for trickle in trickles {
        drop(trickle.rest);
        let status = trickle.answer.await.unwrap().status().as_u16();
        assert!(
            [429, 415, 422].contains(&status),
            "refused, or judged once ended: {status}"
        );
    }
    app.stop().await;
}
crate::in_both_modes!(a_slow_upload_does_not_hold_up_other_residents);

async fn a_request_past_the_gateway_deadline_answers_504_upstream_timeout(mode: Mode) {
    let app = spawn(mode, Store::Local, |c| c.gateway.request_timeout_ms = 1_000).await;
    let token = app.resident_token().await;
    let slow = start_slow_upload(&app, &token).await;
    problem(slow.answer.await.unwrap(), 504, "upstream_timeout").await;
    app.stop().await;
}
crate::in_both_modes!(a_request_past_the_gateway_deadline_answers_504_upstream_timeout);

async fn uploads_past_the_daily_quota_are_refused_until_tomorrow(mode: Mode) {
    let app = spawn(mode, Store::Local, |c| {
        c.edit(|media: &mut MediaConfig| media.daily_upload_count = 2);
        c.edit(|media: &mut MediaConfig| media.daily_upload_bytes = 200_000);
    })
    .await;
    let token = app.resident_token().await;
    for width in [300, 301] {
        uploaded(&app, &token, phone_photo(width, 200, 1), "image/jpeg").await;
    }
    let refused = upload(&app, &token, phone_photo(302, 200, 1), "image/jpeg").await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=24 * 3600).contains(&retry_after), "{retry_after}");
    problem(refused, 429, "upload_quota_exceeded").await;
    let start = |token: String, byte_size: u64| {
        let app = &app;
        async move {
            let body = serde_json::json!({ "content_type": "image/jpeg", "byte_size": byte_size });
            start_upload(app, &token, body).await
        }
    };
    problem(
        start(token.clone(), 1_000).await,
        429,
        "upload_quota_exceeded",
    )
    .await;

    // Bytes count as well as uploads; concurrent starts never pass the quota together.
    let other = app.resident_token().await;
    assert_eq!(start(other.clone(), 150_000).await.status(), 201);
    problem(start(other, 60_000).await, 429, "upload_quota_exceeded").await;
    let third = app.resident_token().await;
    let starts = futures::future::join_all((0..6).map(|_| start(third.clone(), 1_000))).await;
    let started = starts.iter().filter(|r| r.status() == 201).count();
    assert_eq!(
        started,
        2,
        "{:?}",
        starts.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    app.stop().await;
}
crate::in_both_modes!(uploads_past_the_daily_quota_are_refused_until_tomorrow);
