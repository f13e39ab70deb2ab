//! The token signing keys. Each key is pinned to its algorithm (EdDSA for Ed25519, ES256 for
//! P-256). Rotation is configuration: a new key is listed with a `signs_from` in the future, so
//! it is published in the JWKS before it signs; the key it replaces stays published until every
//! token it signed has expired.

use std::path::Path;
use std::time::Duration;

use crate::config::SigningKeyConfig;
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey};
use platform::auth::{LocalKeys, VerificationKey};
use secrecy::ExposeSecret;
use serde_json::json;
use sha2::{Digest, Sha256};

pub struct SigningKey {
    pub kid: String,
    pub algorithm: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
    verification: VerificationKey,
    signs_from: Option<DateTime<Utc>>,
}

impl SigningKey {
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// Parses a PKCS#8 PEM private key: Ed25519, else P-256.
    fn from_pem(
        pem: &str,
        kid: Option<String>,
        signs_from: Option<DateTime<Utc>>,
    ) -> anyhow::Result<Self> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        let (algorithm, public, encoding) =
            if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
                let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
                let public = json!({ "crv": "Ed25519", "kty": "OKP", "x": x });
                (
                    Algorithm::EdDSA,
                    public,
                    EncodingKey::from_ed_pem(pem.as_bytes())?,
                )
            } else if let Ok(key) = p256::SecretKey::from_pkcs8_pem(pem) {
                use p256::elliptic_curve::sec1::ToEncodedPoint as _;
                let point = key.public_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    bail!("the P-256 public key has no coordinates");
                };
                let public = json!({
                    "crv": "P-256", "kty": "EC",
                    "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
                });
                (
                    Algorithm::ES256,
                    public,
                    EncodingKey::from_ec_pem(pem.as_bytes())?,
                )
            } else {
                bail!("not a PKCS#8 PEM Ed25519 or P-256 private key");
            };
        // RFC 7638: the thumbprint hashes the required members in lexical order, which is how
        // serde_json (without preserve_order) writes them.
        let kid = kid.unwrap_or_else(|| {
            URL_SAFE_NO_PAD.encode(Sha256::digest(public.to_string().as_bytes()))
        });
        let mut jwk = public;
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(match algorithm {
            Algorithm::ES256 => "ES256",
            _ => "EdDSA",
        });
        let jwk: Jwk = serde_json::from_value(jwk)?;
        let verification =
            VerificationKey::from_jwk(&jwk).context("the public key cannot verify tokens")?;
        Ok(Self {
            kid,
            algorithm,
            encoding,
            jwk,
            verification,
            signs_from,
        })
    }
}

pub struct KeyRing {
    /// Ordered by `signs_from`, keys that always signed first.
    keys: Vec<SigningKey>,
    /// The longest an access token lives (plus clock leeway): how long a replaced key stays.
    token_lifetime: Duration,
}

impl KeyRing {
    /// The configured keys, or a development key kept in `data_dir/identity/`.
    pub fn load(
        configured: &[SigningKeyConfig],
        data_dir: &Path,
        token_lifetime: Duration,
    ) -> anyhow::Result<KeyRing> {
        let mut keys = Vec::new();
        for (index, key) in configured.iter().enumerate() {
            let pem = match (&key.private_key, &key.private_key_file) {
                (Some(pem), None) => pem.expose_secret().to_owned(),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read signing key {}", path.display()))?,
                _ => bail!(
                    "identity.signing_keys[{index}] needs exactly one of private_key and private_key_file"
                ),
            };
            keys.push(
                SigningKey::from_pem(&pem, key.kid.clone(), key.signs_from)
                    .with_context(|| format!("identity.signing_keys[{index}]"))?,
            );
        }
        if keys.is_empty() {
            keys.push(SigningKey::from_pem(&dev_key(data_dir)?, None, None)?);
        }
        keys.sort_by_key(|k| k.signs_from);
        let mut kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        kids.sort_unstable();
        if kids.windows(2).any(|w| w[0] == w[1]) {
            bail!("two identity signing keys share a kid");
        }
        Ok(KeyRing {
            keys,
            token_lifetime: token_lifetime + Duration::from_secs(30),
        })
    }

    fn signer_index(&self, now: DateTime<Utc>) -> usize {
        self.keys
            .iter()
            .rposition(|k| k.signs_from.is_none_or(|from| from <= now))
            .unwrap_or(0)
    }

    /// The key that signs tokens issued at `now`.
    pub fn signer(&self, now: DateTime<Utc>) -> &SigningKey {
        &self.keys[self.signer_index(now)]
    }

    /// Keys verifiers must know at `now`: the signer, the keys that will sign later, and the
    /// ones before it whose tokens may still be alive.
    fn published(&self, now: DateTime<Utc>) -> impl Iterator<Item = &SigningKey> {
        let signer = self.signer_index(now);
        let lifetime = chrono::Duration::from_std(self.token_lifetime).unwrap_or_default();
        self.keys.iter().enumerate().filter_map(move |(i, key)| {
            let successor_started = self.keys.get(i + 1).and_then(|next| next.signs_from);
            let still_needed =
                i >= signer || successor_started.is_some_and(|started| now < started + lifetime);
            still_needed.then_some(key)
        })
    }

    pub fn jwks(&self, now: DateTime<Utc>) -> JwkSet {
        JwkSet {
            keys: self.published(now).map(|k| k.jwk.clone()).collect(),
        }
    }
}

impl LocalKeys for KeyRing {
    fn key(&self, kid: &str) -> Option<VerificationKey> {
        self.published(Utc::now())
            .find(|k| k.kid == kid)
            .map(|k| k.verification.clone())
    }
}

/// The development signing key: generated once, kept readable only by this user.
fn dev_key(data_dir: &Path) -> anyhow::Result<String> {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    let path = data_dir.join("identity").join("dev-signing-key.pem");
    if let Ok(pem) = std::fs::read_to_string(&path) {
        return Ok(pem);
    }
    let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot encode the development key: {e}"))?;
    write_private(&path, pem.as_bytes())?;
    tracing::warn!(path = %path.display(), "using a development token signing key; configure identity.signing_keys in production");
    // Another process may have written it first: use what is on disk.
    Ok(std::fs::read_to_string(&path)?)
}

/// Creates a file only its owner can read, unless it exists: concurrent starts (replicas, tests)
/// all end up with the first one written, never with a half-written file.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path.parent().context("a private file needs a directory")?;
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    let linked = std::fs::hard_link(&temporary, path);
    std::fs::remove_file(&temporary).ok();
    match linked {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error).with_context(|| format!("cannot create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;

    fn ed25519_pem() -> String {
        ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng)
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap()
            .to_string()
    }

    fn p256_pem() -> String {
        use p256::pkcs8::EncodePrivateKey as _;
        p256::SecretKey::random(&mut rand_core::OsRng)
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap()
            .to_string()
    }

    fn config(pem: String, signs_from: Option<DateTime<Utc>>) -> SigningKeyConfig {
        SigningKeyConfig {
            kid: None,
            private_key: Some(pem.into()),
            private_key_file: None,
            signs_from,
        }
    }

    #[test]
    fn both_algorithms_load_with_thumbprint_kids() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load(
            &[
                config(ed25519_pem(), None),
                config(p256_pem(), Some(Utc::now() + chrono::Duration::hours(1))),
            ],
            dir.path(),
            Duration::from_secs(900),
        )
        .unwrap();
        let jwks = serde_json::to_value(ring.jwks(Utc::now())).unwrap();
        let algs: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["alg"].as_str().unwrap())
            .collect();
        assert_eq!(
            algs,
            ["EdDSA", "ES256"],
            "the future key is published before it signs"
        );
        assert_eq!(ring.signer(Utc::now()).algorithm, Algorithm::EdDSA);
        assert_eq!(
            ring.signer(Utc::now() + chrono::Duration::hours(2))
                .algorithm,
            Algorithm::ES256
        );
        assert_eq!(jwks["keys"][0]["kid"].as_str().unwrap().len(), 43);
    }

    #[test]
    fn a_replaced_key_stays_published_while_its_tokens_live() {
        let dir = tempfile::tempdir().unwrap();
        let switch = Utc::now();
        let ring = KeyRing::load(
            &[
                config(ed25519_pem(), None),
                config(ed25519_pem(), Some(switch)),
            ],
            dir.path(),
            Duration::from_secs(900),
        )
        .unwrap();
        assert_eq!(
            ring.jwks(switch + chrono::Duration::minutes(10)).keys.len(),
            2
        );
        assert_eq!(
            ring.jwks(switch + chrono::Duration::minutes(16)).keys.len(),
            1
        );
    }

    #[test]
    fn a_development_key_is_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let first = KeyRing::load(&[], dir.path(), Duration::from_secs(900)).unwrap();
        let second = KeyRing::load(&[], dir.path(), Duration::from_secs(900)).unwrap();
        assert_eq!(first.signer(Utc::now()).kid, second.signer(Utc::now()).kid);
    }
}
