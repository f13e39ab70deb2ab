//! Sending SMS: a real HTTP SMS-gateway client, or, in development, a sink that keeps the last
//! messages readable at `/v1/dev/sms`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use platform::config::{SmsConfig, SmsProvider};
use secrecy::{ExposeSecret, SecretString};

use crate::phone::PhoneNumber;

pub enum SmsSender {
    Http(Box<HttpSmsGateway>),
    DevSink(DevSink),
}

impl SmsSender {
    pub fn from_config(config: &SmsConfig) -> anyhow::Result<SmsSender> {
        match config.provider {
            SmsProvider::DevSink => {
                tracing::warn!(
                    "SMS go to the development sink, readable at /v1/dev/sms: never in production"
                );
                Ok(SmsSender::DevSink(DevSink::default()))
            }
            SmsProvider::Http => Ok(SmsSender::Http(Box::new(HttpSmsGateway::new(config)?))),
        }
    }

    pub async fn send(&self, to: &PhoneNumber, text: &str) -> anyhow::Result<()> {
        match self {
            SmsSender::Http(gateway) => gateway.send(to, text).await,
            SmsSender::DevSink(sink) => {
                sink.keep(to, text);
                Ok(())
            }
        }
    }

    pub fn dev_sink(&self) -> Option<&DevSink> {
        match self {
            SmsSender::DevSink(sink) => Some(sink),
            SmsSender::Http(_) => None,
        }
    }
}

/// A gateway that takes `POST <url>` with a JSON body `{"to", "text", "sender"}` and HTTP basic
/// credentials, and answers 2xx when it accepted the message.
pub struct HttpSmsGateway {
    url: http::Uri,
    authorization: Option<SecretString>,
    sender: Option<String>,
    client: Client<HttpConnector, Full<bytes::Bytes>>,
}

impl HttpSmsGateway {
    fn new(config: &SmsConfig) -> anyhow::Result<Self> {
        let url: http::Uri = config
            .url
            .as_deref()
            .context("identity.sms.url is required for the http SMS provider")?
            .parse()
            .context("identity.sms.url is not a URL")?;
        let authorization = config.username.as_ref().map(|user| {
            let password = config
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
                .unwrap_or_default();
            SecretString::from(format!(
                "Basic {}",
                STANDARD.encode(format!("{user}:{password}"))
            ))
        });
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(3)));
        connector.enforce_http(true);
        Ok(Self {
            url,
            authorization,
            sender: config.sender.clone(),
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    async fn send(&self, to: &PhoneNumber, text: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({ "to": to.as_str(), "text": text, "sender": self.sender });
        let mut request =
            Request::post(self.url.clone()).header(header::CONTENT_TYPE, "application/json");
        if let Some(authorization) = &self.authorization {
            request = request.header(header::AUTHORIZATION, authorization.expose_secret());
        }
        let request = request.body(Full::new(bytes::Bytes::from(serde_json::to_vec(&body)?)))?;
        let response = tokio::time::timeout(Duration::from_secs(10), self.client.request(request))
            .await
            .context("the SMS gateway did not answer in time")??;
        let status = response.status();
        if !status.is_success() {
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            anyhow::bail!(
                "the SMS gateway refused the message: {status} {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            );
        }
        Ok(())
    }
}

/// The last messages per phone, in memory, bounded.
#[derive(Default)]
pub struct DevSink {
    messages: Mutex<HashMap<String, Vec<String>>>,
}

const DEV_SINK_PHONES: usize = 10_000;
const DEV_SINK_PER_PHONE: usize = 5;

impl DevSink {
    fn keep(&self, to: &PhoneNumber, text: &str) {
        let mut messages = self.messages.lock().unwrap_or_else(|p| p.into_inner());
        if messages.len() >= DEV_SINK_PHONES && !messages.contains_key(to.as_str()) {
            messages.clear();
        }
        let list = messages.entry(to.as_str().to_owned()).or_default();
        list.push(text.to_owned());
        if list.len() > DEV_SINK_PER_PHONE {
            list.remove(0);
        }
    }

    /// The messages sent to `phone`, newest last.
    pub fn messages(&self, phone: &PhoneNumber) -> Vec<String> {
        let messages = self.messages.lock().unwrap_or_else(|p| p.into_inner());
        messages.get(phone.as_str()).cloned().unwrap_or_default()
    }
}
