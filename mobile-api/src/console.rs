//! The officers' and operations centre's web console at `/console/`: static files built into
//! the binary (no Node.js to run it), a client of the same `/v1` API on the same origin.
//! The files are served with a strict Content-Security-Policy (scripts and styles only from
//! here, no inline code), never framed, and revalidated by `ETag` so that a new release is
//! picked up at once.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::header::InvalidHeaderValue;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use platform::config::GatewayConfig;
use serde::Serialize;

/// A file of the console: its path under `/console/`, its media type and its bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../console/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("js/main.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/i18n.js", JS),
    asset!("js/map.js", JS),
    asset!("js/signin.js", JS),
    asset!("js/queue.js", JS),
    asset!("js/report.js", JS),
    asset!("js/lists.js", JS),
    asset!("js/ops.js", JS),
    asset!("js/broadcasts.js", JS),
    asset!("js/admin.js", JS),
    asset!("js/roles.js", JS),
    asset!("js/account.js", JS),
    asset!("js/alerts.js", JS),
    asset!("vendor/leaflet/leaflet.js", JS),
    asset!("vendor/leaflet/leaflet.css", "text/css; charset=utf-8"),
];

/// What the console needs to know of this deployment, at `/console/config.json`.
#[derive(Debug, Clone, Serialize)]
struct ConsoleSettings {
    /// Raster tiles of the base map (`{z}/{x}/{y}`); empty draws the map without a base layer.
    tile_url: String,
    tile_attribution: String,
}

/// How the files are served: each one's strong ETag (from its bytes), and the policy.
struct Served {
    etags: Vec<HeaderValue>,
    policy: HeaderValue,
}

/// The console's routes: `/console` redirects to `/console/`, which is the page; its files
/// below; `/console/config.json`.
pub fn router(config: &GatewayConfig) -> anyhow::Result<Router> {
    // A template the policy cannot name would leave the map blank without a word: refused.
    if !config.console_tile_url.is_empty() && tile_origin(&config.console_tile_url).is_none() {
        anyhow::bail!(
            "gateway.console_tile_url must be an http(s) URL template such as \
             https://tiles.example/{{z}}/{{x}}/{{y}}.png"
        );
    }
    let settings = ConsoleSettings {
        tile_url: config.console_tile_url.clone(),
        tile_attribution: config.console_tile_attribution.clone(),
    };
    let etags = ASSETS
        .iter()
        .map(|asset| {
            let tag = format!("\"{}\"", &blake3::hash(asset.bytes).to_hex()[..32]);
            HeaderValue::try_from(tag)
        })
        .collect::<Result<_, _>>()?;
    let served = Arc::new(Served {
        etags,
        policy: content_security_policy(&config.console_tile_url)?,
    });
    let for_page = served.clone();
    Ok(Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route(
            "/console/",
            get(move |headers: HeaderMap| {
                let served = for_page.clone();
                async move { serve(&served, "index.html", &headers) }
            }),
        )
        .route(
            "/console/config.json",
            get(move || {
                let settings = settings.clone();
                async move {
                    let mut response = axum::Json(settings).into_response();
                    response
                        .headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    response
                }
            }),
        )
        .route(
            "/console/{*path}",
            get(move |Path(path): Path<String>, headers: HeaderMap| {
                let served = served.clone();
                async move { serve(&served, &path, &headers) }
            }),
        ))
}

/// Scripts, styles, fonts and connections only to this origin; images also from the tile server
/// and as `blob:` (photos are fetched with the staff's token, then shown); never in a frame.
fn content_security_policy(tile_url: &str) -> Result<HeaderValue, InvalidHeaderValue> {
    let tiles = tile_origin(tile_url)
        .map(|origin| format!(" {origin}"))
        .unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:{tiles}; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    HeaderValue::try_from(policy)
}

/// `scheme://host[:port]` of a tile URL template, when it is an http(s) URL; Leaflet's
/// subdomain placeholder (`https://{s}.tile.example/...`) becomes `*.` (any subdomain).
fn tile_origin(tile_url: &str) -> Option<String> {
    let (scheme, rest) = tile_url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split('/').next()?.replace("{s}.", "*.");
    let host = authority.strip_prefix("*.").unwrap_or(&authority);
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    plain.then(|| format!("{scheme}://{authority}"))
}

fn serve(served: &Served, path: &str, request: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|asset| asset.path == path) else {
        return platform::ApiError::route_not_found().into_response();
    };
    let asset = &ASSETS[index];
    let etag = &served.etags[index];
    let fresh = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|list| {
            list.split(',')
                .map(str::trim)
                .any(|tag| tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == etag.as_bytes())
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(asset.bytes));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag.clone());
    // Revalidated on every use: a new release is seen at once, an unchanged file costs a 304.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, served.policy.clone());
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_http_origin_of_the_tile_url_enters_the_policy() {
        assert_eq!(
            tile_origin("https://tiles.hue.gov.vn/osm/{z}/{x}/{y}.png").as_deref(),
            Some("https://tiles.hue.gov.vn")
        );
        assert_eq!(
            tile_origin("http://127.0.0.1:8081/{z}/{x}/{y}.png").as_deref(),
            Some("http://127.0.0.1:8081")
        );
        assert_eq!(
            tile_origin("HTTPS://{s}.tile.hue.example/{z}/{x}/{y}.png").as_deref(),
            Some("https://*.tile.hue.example")
        );
        assert_eq!(tile_origin("https://{s}/{z}/{x}/{y}.png"), None);
        assert_eq!(tile_origin("https://a.*.example/{z}"), None);
        assert_eq!(tile_origin(""), None);
        assert_eq!(tile_origin("javascript://x"), None);
        assert_eq!(tile_origin("https://a.example; script-src *"), None);
        let policy = content_security_policy("https://a.example; script-src */{z}").unwrap();
        assert!(!policy.to_str().unwrap().contains("script-src *"));
    }

    #[test]
    fn a_tile_url_the_policy_cannot_name_is_refused_at_start() {
        let config = |tile_url: &str| GatewayConfig {
            console_tile_url: tile_url.to_owned(),
            ..GatewayConfig::default()
        };
        assert!(router(&config("ftp://tiles.hue.example/{z}/{x}/{y}.png")).is_err());
        assert!(router(&config("tiles/{z}/{x}/{y}.png")).is_err());
        assert!(router(&config("https://tiles.hue.example/{z}/{x}/{y}.png")).is_ok());
        assert!(router(&config("")).is_ok());
    }

    #[test]
    fn every_file_of_the_console_folder_is_served() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk = Vec::new();
        let mut pending = vec![folder.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else if !path.ends_with("LICENSE") {
                    let relative = path.strip_prefix(&folder).unwrap();
                    on_disk.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        served.sort();
        assert_eq!(on_disk, served, "mobile-api/console/ and ASSETS differ");
    }
}
