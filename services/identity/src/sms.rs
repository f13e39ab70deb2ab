//! Sending SMS: a real HTTP SMS-gateway client, or, in development, a sink that keeps the last
//! messages readable at `/v1/dev/sms`.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::{SmsConfig, SmsProvider};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{Request, header};
use http_body_util::Full;
use platform::outbound::{Limits, OutboundClient, PlainHttp};
use secrecy::{ExposeSecret, SecretString};

use crate::phone::PhoneNumber;

pub enum SmsSender {
    Http(Box<HttpSmsGateway>),
    DevSink(DevSink),
}

impl SmsSender {
    pub fn from_config(config: &SmsConfig, plain_http: PlainHttp) -> anyhow::Result<SmsSender> {
        match config.provider {
            SmsProvider::DevSink => {
                tracing::warn!(
                    "SMS go to the development sink, readable at /v1/dev/sms: never in production"
                );
                Ok(SmsSender::DevSink(DevSink::default()))
            }
            SmsProvider::Http => Ok(SmsSender::Http(Box::new(HttpSmsGateway::new(
                config, plain_http,
            )?))),
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
    client: OutboundClient,
}

impl HttpSmsGateway {
    fn new(config: &SmsConfig, plain_http: PlainHttp) -> anyhow::Result<Self> {
        let client = OutboundClient::new("the SMS gateway", plain_http, Limits::default())?;
        let url = client
            .check_url(
                config
                    .url
                    .as_deref()
                    .context("identity.sms.url is required for the http SMS provider")?,
            )
            .context("identity.sms.url")?;
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
        Ok(Self {
            url,
            authorization,
            sender: config.sender.clone(),
            client,
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
        let answer = self.client.send(request).await?;
        if !answer.status.is_success() {
            anyhow::bail!(
                "the SMS gateway refused the message: {} {}",
                answer.status,
                answer.excerpt()
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
