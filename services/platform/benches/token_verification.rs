//! What verifying an access token costs per request: header parsing, key lookup, signature
//! and claim checks, for both algorithms identity signs with.
//!
//!   cargo bench -p platform --bench token_verification

// A benchmark fails loudly on a broken setup, like a test.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform::auth::{LocalKeys, TokenVerifier, VerificationKey};
use serde_json::json;

struct Keys(HashMap<String, VerificationKey>);

impl LocalKeys for Keys {
    fn key(&self, kid: &str) -> Option<VerificationKey> {
        self.0.get(kid).cloned()
    }
}

fn claims() -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": "citizen", "aud": "citizen-app", "sub": uuid::Uuid::new_v4(), "iat": now,
        "exp": now + 900, "jti": uuid::Uuid::new_v4(), "sid": uuid::Uuid::new_v4(),
        "roles": ["ward_officer"], "scope": { "jurisdiction": "hue", "wards": ["phu-xuan"] },
        "acr": "basic",
    })
}

fn sign(kid: &str, algorithm: Algorithm, key: &EncodingKey) -> String {
    let mut header = Header::new(algorithm);
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims(), key).unwrap()
}

fn bench(c: &mut Criterion) {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;

    let ed = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    let ed_pem = ed.to_pkcs8_pem(LineEnding::LF).unwrap();
    let ed_jwk: Jwk = serde_json::from_value(json!({
        "kty": "OKP", "crv": "Ed25519", "kid": "ed", "alg": "EdDSA",
        "x": URL_SAFE_NO_PAD.encode(ed.verifying_key().to_bytes()),
    }))
    .unwrap();
    let ec = p256::SecretKey::random(&mut rand_core::OsRng);
    let ec_pem = ec.to_pkcs8_pem(LineEnding::LF).unwrap();
    let point = ec.public_key().to_encoded_point(false);
    let ec_jwk: Jwk = serde_json::from_value(json!({
        "kty": "EC", "crv": "P-256", "kid": "ec", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()), "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    }))
    .unwrap();
    let keys: Arc<Keys> = Arc::new(Keys(HashMap::from([
        ("ed".to_owned(), VerificationKey::from_jwk(&ed_jwk).unwrap()),
        ("ec".to_owned(), VerificationKey::from_jwk(&ec_jwk).unwrap()),
    ])));
    let new_verifier =
        || TokenVerifier::local("citizen".to_owned(), "citizen-app".to_owned(), keys.clone());
    let verifier = new_verifier();
    let tokens = [
        (
            "EdDSA",
            sign(
                "ed",
                Algorithm::EdDSA,
                &EncodingKey::from_ed_pem(ed_pem.as_bytes()).unwrap(),
            ),
        ),
        (
            "ES256",
            sign(
                "ec",
                Algorithm::ES256,
                &EncodingKey::from_ec_pem(ec_pem.as_bytes()).unwrap(),
            ),
        ),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for (name, token) in &tokens {
        assert!(runtime.block_on(verifier.verify(token)).is_ok());
        // A token the verifier has not seen: signature and claims are checked.
        c.bench_function(&format!("verify a new access token ({name})"), |b| {
            b.iter_batched(
                new_verifier,
                |fresh| {
                    runtime
                        .block_on(fresh.verify(std::hint::black_box(token)))
                        .unwrap()
                },
                criterion::BatchSize::SmallInput,
            )
        });
        // The same token again, as on every request of a session: remembered.
        c.bench_function(&format!("verify a seen access token ({name})"), |b| {
            b.iter(|| {
                runtime
                    .block_on(verifier.verify(std::hint::black_box(token)))
                    .unwrap()
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
