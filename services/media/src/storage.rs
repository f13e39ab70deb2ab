//! Where the bytes live: one trait, two backends. A local directory is the embedded default;
//! any S3-compatible store (MinIO, Ceph, Cloudflare R2, AWS S3, SeaweedFS) is the production
//! choice. Clients upload and download directly through signed URLs in both: S3 presigned
//! URLs, or URLs signed by us that point at the local backend's own object endpoint.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::S3Config;
use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// What a client may do with a signed URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    /// Upload exactly `content_length` bytes.
    Put {
        content_type: &'a str,
        content_length: u64,
    },
    /// Download, served with `content_type`.
    Get { content_type: &'a str },
}

/// A URL that allows one kind of request on one object until it expires.
#[derive(Debug, Clone)]
pub struct SignedUrl {
    /// Absolute for S3; a path on the gateway for the local backend.
    pub url: String,
    /// Headers the request must carry as signed.
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Writes the object whole or not at all.
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> anyhow::Result<()>;
    /// The object's size; `None` when there is no such object.
    async fn size(&self, key: &str) -> anyhow::Result<Option<u64>>;
    /// The whole object, refused when it is larger than `limit` bytes.
    async fn read(&self, key: &str, limit: u64) -> anyhow::Result<Bytes>;
    /// The bytes of `range` (all when `None`) as a stream, for serving.
    async fn stream(&self, key: &str, range: Option<Range<u64>>) -> anyhow::Result<Body>;
    /// Deletes the object; deleting what is not there succeeds.
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// A URL for a client to `access` the object directly for `ttl`.
    async fn sign(&self, key: &str, access: Access<'_>, ttl: Duration)
    -> anyhow::Result<SignedUrl>;
}

fn expiry(ttl: Duration) -> anyhow::Result<DateTime<Utc>> {
    Ok(Utc::now() + chrono::Duration::from_std(ttl)?)
}

/// Keys are ours (`originals/<uuid>`), but one must never leave the local root.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 200
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b))
}

/// Signs and checks the local backend's object URLs: HMAC-SHA256 over what the URL allows.
pub struct UrlSigner {
    key: Vec<u8>,
}

/// Where the local backend's object endpoint is mounted.
pub const LOCAL_OBJECTS_PATH: &str = "/v1/media/objects/";

impl UrlSigner {
    /// The configured key, or one generated once and kept in `data_dir`.
    pub fn new(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(key) = configured {
            anyhow::ensure!(
                key.len() >= 32,
                "media.url_signing_key must be at least 32 characters"
            );
            return Ok(Self {
                key: key.as_bytes().to_vec(),
            });
        }
        let path = data_dir.join("media-url-signing.key");
        if let Ok(key) = std::fs::read(&path) {
            return Ok(Self { key });
        }
        std::fs::create_dir_all(data_dir)?;
        let key: [u8; 32] = rand::random();
        std::fs::write(&path, key).with_context(|| format!("cannot write {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(Self { key: key.to_vec() })
    }

    fn mac(&self, key: &str, access: Access<'_>, expires: i64) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        let statement = match access {
            Access::Put {
                content_type,
                content_length,
            } => format!("PUT\n{key}\n{expires}\n{content_type}\n{content_length}"),
            Access::Get { content_type } => format!("GET\n{key}\n{expires}\n{content_type}"),
        };
        mac.update(statement.as_bytes());
        mac
    }

    /// The query string of a URL that allows `access` to `key` until `expires` (Unix time).
    pub fn sign(&self, key: &str, access: Access<'_>, expires: i64) -> String {
        let signature =
            URL_SAFE_NO_PAD.encode(self.mac(key, access, expires).finalize().into_bytes());
        let content_type = match access {
            Access::Put { content_type, .. } | Access::Get { content_type } => content_type,
        };
        format!(
            "expires={expires}&type={}&signature={signature}",
            content_type.replace('/', "%2F")
        )
    }

    /// Whether `signature` allows `access` to `key` now.
    pub fn verify(&self, key: &str, access: Access<'_>, expires: i64, signature: &str) -> bool {
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        expires >= Utc::now().timestamp()
            && self
                .mac(key, access, expires)
                .verify_slice(&signature)
                .is_ok()
    }
}

pub struct LocalStorage {
    root: PathBuf,
    signer: std::sync::Arc<UrlSigner>,
}

impl LocalStorage {
    pub fn new(root: &Path, signer: std::sync::Arc<UrlSigner>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create {}", root.display()))?;
        Ok(Self {
            root: root.to_owned(),
            signer,
        })
    }

    fn path(&self, key: &str) -> anyhow::Result<PathBuf> {
        anyhow::ensure!(valid_key(key), "invalid storage key {key}");
        Ok(self.root.join(key))
    }

    async fn open(&self, key: &str) -> anyhow::Result<Option<tokio::fs::File>> {
        match tokio::fs::File::open(self.path(key)?).await {
            Ok(file) => Ok(Some(file)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

#[async_trait]
impl ObjectStore for LocalStorage {
    /// To a temporary file, then renamed into place.
    async fn put(&self, key: &str, bytes: Bytes, _content_type: &str) -> anyhow::Result<()> {
        let path = self.path(key)?;
        let dir = path.parent().context("a key has a directory")?;
        tokio::fs::create_dir_all(dir).await?;
        let temporary = dir.join(format!(".{}.part", uuid::Uuid::new_v4()));
        if let Err(error) = tokio::fs::write(&temporary, &bytes).await {
            tokio::fs::remove_file(&temporary).await.ok();
            return Err(error.into());
        }
        tokio::fs::rename(&temporary, &path).await?;
        Ok(())
    }

    async fn size(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match self.open(key).await? {
            Some(file) => Ok(Some(file.metadata().await?.len())),
            None => Ok(None),
        }
    }

    async fn read(&self, key: &str, limit: u64) -> anyhow::Result<Bytes> {
        let file = self.open(key).await?.context("no such object")?;
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes).await?;
        anyhow::ensure!(
            bytes.len() as u64 <= limit,
            "object larger than {limit} bytes"
        );
        Ok(Bytes::from(bytes))
    }

    async fn stream(&self, key: &str, range: Option<Range<u64>>) -> anyhow::Result<Body> {
        let mut file = self.open(key).await?.context("no such object")?;
        let size = file.metadata().await?.len();
        let range = range.unwrap_or(0..size);
        anyhow::ensure!(
            range.start <= range.end && range.end <= size,
            "range outside the object"
        );
        file.seek(std::io::SeekFrom::Start(range.start)).await?;
        Ok(Body::from_stream(ReaderStream::new(
            file.take(range.end - range.start),
        )))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        }
    }

    async fn sign(
        &self,
        key: &str,
        access: Access<'_>,
        ttl: Duration,
    ) -> anyhow::Result<SignedUrl> {
        anyhow::ensure!(valid_key(key), "invalid storage key {key}");
        let expires_at = expiry(ttl)?;
        let query = self.signer.sign(key, access, expires_at.timestamp());
        Ok(SignedUrl {
            url: format!("{LOCAL_OBJECTS_PATH}{key}?{query}"),
            headers: signed_headers(access),
            expires_at,
        })
    }
}

fn signed_headers(access: Access<'_>) -> Vec<(String, String)> {
    match access {
        Access::Put {
            content_type,
            content_length,
        } => vec![
            ("content-type".to_owned(), content_type.to_owned()),
            ("content-length".to_owned(), content_length.to_string()),
        ],
        Access::Get { .. } => Vec::new(),
    }
}

pub struct S3Storage {
    client: aws_sdk_s3::Client,
    /// Signs URLs for the address clients use, when it is not the one we use.
    presigner: aws_sdk_s3::Client,
    bucket: String,
    key_prefix: String,
}

impl S3Storage {
    /// The object's name in the bucket.
    fn object(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }
}

impl S3Storage {
    pub async fn connect(config: &S3Config) -> anyhow::Result<Self> {
        let client = |endpoint: &str| {
            let conf = aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(config.region.clone()))
                .endpoint_url(endpoint)
                .force_path_style(config.path_style)
                .credentials_provider(Credentials::new(
                    &config.access_key_id,
                    config.secret_access_key.expose_secret(),
                    None,
                    None,
                    "citizen-config",
                ))
                // Checksums only where S3 demands them: not every compatible store knows the
                // newer checksum headers, and a presigned upload must not need them.
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
                .timeout_config(
                    aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(3))
                        .operation_attempt_timeout(Duration::from_secs(30))
                        .build(),
                )
                .build();
            aws_sdk_s3::Client::from_conf(conf)
        };
        let storage = Self {
            client: client(&config.endpoint),
            presigner: client(
                config
                    .public_endpoint
                    .as_deref()
                    .unwrap_or(&config.endpoint),
            ),
            bucket: config.bucket.clone(),
            key_prefix: config.key_prefix.clone(),
        };
        let exists = storage
            .client
            .head_bucket()
            .bucket(&storage.bucket)
            .send()
            .await;
        match exists {
            Ok(_) => {}
            Err(error)
                if config.create_bucket
                    && error.as_service_error().is_some_and(|e| e.is_not_found()) =>
            {
                storage
                    .client
                    .create_bucket()
                    .bucket(&storage.bucket)
                    .send()
                    .await
                    .with_context(|| format!("cannot create bucket {}", storage.bucket))?;
            }
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context(format!("bucket {} is not reachable", storage.bucket)));
            }
        }
        Ok(storage)
    }
}

#[async_trait]
impl ObjectStore for S3Storage {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> anyhow::Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object(key))
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await?;
        Ok(())
    }

    async fn size(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.object(key))
            .send()
            .await
        {
            Ok(head) => Ok(Some(u64::try_from(head.content_length().unwrap_or(0))?)),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    async fn read(&self, key: &str, limit: u64) -> anyhow::Result<Bytes> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object(key))
            .send()
            .await?;
        anyhow::ensure!(
            object.content_length().unwrap_or(0) as u64 <= limit,
            "object larger than {limit} bytes"
        );
        let mut bytes = Vec::new();
        object
            .body
            .into_async_read()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .await?;
        anyhow::ensure!(
            bytes.len() as u64 <= limit,
            "object larger than {limit} bytes"
        );
        Ok(Bytes::from(bytes))
    }

    async fn stream(&self, key: &str, range: Option<Range<u64>>) -> anyhow::Result<Body> {
        let mut request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object(key));
        if let Some(range) = range {
            anyhow::ensure!(range.start < range.end, "empty range");
            request = request.range(format!("bytes={}-{}", range.start, range.end - 1));
        }
        let object = request.send().await?;
        Ok(Body::from_stream(ReaderStream::new(
            object.body.into_async_read(),
        )))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object(key))
            .send()
            .await?;
        Ok(())
    }

    async fn sign(
        &self,
        key: &str,
        access: Access<'_>,
        ttl: Duration,
    ) -> anyhow::Result<SignedUrl> {
        let expires_at = expiry(ttl)?;
        let presigning = PresigningConfig::expires_in(ttl)?;
        let presigned = match access {
            Access::Put {
                content_type,
                content_length,
            } => {
                self.presigner
                    .put_object()
                    .bucket(&self.bucket)
                    .key(self.object(key))
                    .content_type(content_type)
                    .content_length(i64::try_from(content_length)?)
                    .presigned(presigning)
                    .await?
            }
            Access::Get { content_type } => {
                self.presigner
                    .get_object()
                    .bucket(&self.bucket)
                    .key(self.object(key))
                    .response_content_type(content_type)
                    .response_cache_control("private, max-age=900")
                    .presigned(presigning)
                    .await?
            }
        };
        Ok(SignedUrl {
            url: presigned.uri().to_owned(),
            headers: signed_headers(access),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_leave_the_root() {
        assert!(valid_key("originals/0193a1b2-0000-7000-8000-000000000000"));
        assert!(valid_key("display/x.jpg"));
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a/b c", "a\\b"] {
            assert!(!valid_key(bad), "{bad}");
        }
    }

    #[test]
    fn a_signed_url_allows_exactly_what_was_signed() {
        let signer = UrlSigner {
            key: b"0123456789abcdef0123456789abcdef".to_vec(),
        };
        let expires = Utc::now().timestamp() + 60;
        let put = Access::Put {
            content_type: "image/jpeg",
            content_length: 1000,
        };
        let query = signer.sign("originals/a", put, expires);
        let signature = query.rsplit("signature=").next().unwrap();
        assert!(signer.verify("originals/a", put, expires, signature));
        assert!(!signer.verify("originals/b", put, expires, signature));
        let longer = Access::Put {
            content_type: "image/jpeg",
            content_length: 1001,
        };
        assert!(!signer.verify("originals/a", longer, expires, signature));
        let get = Access::Get {
            content_type: "image/jpeg",
        };
        assert!(!signer.verify("originals/a", get, expires, signature));
        assert!(!signer.verify("originals/a", put, expires + 1, signature));
        let past = Utc::now().timestamp() - 1;
        let expired = signer.sign("originals/a", put, past);
        let signature = expired.rsplit("signature=").next().unwrap();
        assert!(!signer.verify("originals/a", put, past, signature));
    }
}
