//! The province's systems reached over its integration platform (LGSP): a JSON REST API behind
//! OAuth 2.0 client credentials, through the shared [`OAuthApi`].

use std::time::Duration;

use platform::oauth_api::{ApiCallError, Credentials, OAuthApi};
use platform::outbound::{Limits, PlainHttp};
use serde::de::DeserializeOwned;

use crate::config::ApiServer;

pub use platform::oauth_api::ApiCallError as UpstreamError;

/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

pub struct TokenApi(OAuthApi);

impl TokenApi {
    /// A client of `system` (named in logs and errors).
    pub fn new(
        system: &'static str,
        server: &ApiServer,
        timeout: Duration,
        plain_http: PlainHttp,
    ) -> anyhow::Result<Self> {
        let credentials = Credentials {
            token_url: server.token_url.clone(),
            client_id: server.client_id.clone(),
            client_secret: server.client_secret.clone(),
            scope: None,
        };
        let limits = Limits {
            timeout,
            max_answer_bytes: MAX_ANSWER_BYTES,
            ..Limits::default()
        };
        let base = server.base_url.trim_end_matches('/');
        Ok(Self(OAuthApi::new(
            system,
            base,
            credentials,
            limits,
            plain_http,
        )?))
    }

    /// `GET <base><path>?<query>` (the query's values encoded here), its JSON answer.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ApiCallError> {
        let mut url = format!("{}{path}", self.0.base());
        if !query.is_empty() {
            url.push('?');
            url.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(query)
                    .finish(),
            );
        }
        let answer = self.0.get(&url).await?;
        serde_json::from_slice(&answer.body).map_err(|e| {
            self.0
                .failed(&format!("{path}: not the JSON expected: {e}"))
        })
    }
}
