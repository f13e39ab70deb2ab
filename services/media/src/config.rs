//! Media's section of the configuration (`[media]`).

use std::path::PathBuf;

use platform::config::{Section, serialize_required_secret, serialize_secret};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Where the local storage backend keeps objects; defaults to `<data_dir>/media`.
    pub local_dir: Option<PathBuf>,
    /// An S3-compatible store (MinIO, Ceph, R2, AWS S3, SeaweedFS); the local directory when
    /// absent.
    pub s3: Option<S3Config>,
    /// The address clients reach the gateway at (`https://api.example.vn`), for the signed
    /// URLs of the local backend; taken from the request's host when absent.
    pub public_url: Option<String>,
    /// Signs the local backend's URLs; generated under `data_dir` when absent (every replica
    /// of a deployment must share one).
    #[serde(serialize_with = "serialize_secret")]
    pub url_signing_key: Option<SecretString>,
    /// How long a signed upload or download URL works.
    pub signed_url_ttl_secs: u64,
    /// Keep the original (readable by staff only) after the derivatives are made; when false
    /// it is deleted once they exist.
    pub keep_originals: bool,
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: usize,
    /// Largest image accepted, in pixels (width × height), checked before decoding.
    pub max_pixels: u64,
    /// Largest image accepted, in bytes once decoded (pixels × channels × bytes per channel: a
    /// 16-bit RGBA pixel is 8 bytes), checked before decoding.
    pub max_decoded_bytes: u64,
    /// Decoded pixels one process holds at once, in bytes; more decodes wait their turn.
    pub decode_memory_bytes: u64,
    /// Uploads one account may send at once to one process (429 `too_many_uploads` beyond).
    pub concurrent_uploads_per_account: usize,
    /// Uploads one account may start a day (Asia/Ho_Chi_Minh), and their bytes (429
    /// `upload_quota_exceeded` beyond).
    pub daily_upload_count: u32,
    pub daily_upload_bytes: u64,
    /// Uploads attached to nothing for this long are deleted.
    pub unattached_ttl_secs: u64,
    /// How often that clean-up runs.
    pub cleanup_interval_secs: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            local_dir: None,
            s3: None,
            public_url: None,
            url_signing_key: None,
            signed_url_ttl_secs: 900,
            keep_originals: true,
            max_upload_bytes: 15 * 1024 * 1024,
            max_pixels: 50_000_000,
            // 50 MP at 8-bit RGBA; a 16-bit image may have half as many pixels.
            max_decoded_bytes: 200 * 1024 * 1024,
            decode_memory_bytes: 384 * 1024 * 1024,
            concurrent_uploads_per_account: 2,
            daily_upload_count: 200,
            daily_upload_bytes: 1024 * 1024 * 1024,
            unattached_ttl_secs: 24 * 3600,
            cleanup_interval_secs: 600,
        }
    }
}

/// An S3-compatible bucket.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// `https://s3.ap-southeast-1.amazonaws.com`, `http://minio:9000`, ...
    pub endpoint: String,
    /// The address clients reach the store at, when it differs from `endpoint` (presigned
    /// URLs are signed for it).
    #[serde(default)]
    pub public_endpoint: Option<String>,
    #[serde(default = "default_s3_region")]
    pub region: String,
    pub bucket: String,
    /// Put before every key (`hue/`), so several deployments can share a bucket.
    #[serde(default)]
    pub key_prefix: String,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key`; most self-hosted stores need it.
    #[serde(default = "default_true")]
    pub path_style: bool,
    pub access_key_id: String,
    #[serde(serialize_with = "serialize_required_secret")]
    pub secret_access_key: SecretString,
    /// Create the bucket at start when it is missing (development and tests).
    #[serde(default)]
    pub create_bucket: bool,
}

fn default_s3_region() -> String {
    "us-east-1".to_owned()
}

fn default_true() -> bool {
    true
}

impl Section for MediaConfig {
    const KEY: &'static str = "media";
}
