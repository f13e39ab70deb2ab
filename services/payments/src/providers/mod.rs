//! The payment providers, each speaking its own public protocol: VNPay 2.1.0 (a signed
//! redirect, an IPN by GET, a JSON merchant API) and MoMo v2 (a JSON API, an IPN by POST).
//! Both answer the same three questions: where does the payer go, what became of a payment,
//! and will you refund it.

pub mod momo;
pub mod vnpay;

use std::time::Duration;

use crate::config::PaymentsConfig;
use chrono::{DateTime, Utc};
use platform::outbound::{Answer, Limits, OutboundClient, OutboundError, PlainHttp};
use serde::{Deserialize, Serialize};

/// A provider a payment goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderName {
    Vnpay,
    Momo,
}

impl ProviderName {
    pub const ALL: [ProviderName; 2] = [ProviderName::Vnpay, ProviderName::Momo];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderName::Vnpay => "vnpay",
            ProviderName::Momo => "momo",
        }
    }

    pub fn parse(text: &str) -> Option<ProviderName> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The smallest and largest payment the provider takes, in VND.
    pub fn limits(self) -> (i64, i64) {
        match self {
            ProviderName::Vnpay => (5_000, 999_999_999),
            ProviderName::Momo => (1_000, 50_000_000),
        }
    }
}

/// A payment as a provider needs to see it.
pub struct Payment<'a> {
    /// Our reference at the provider (vnp_TxnRef, MoMo orderId).
    pub reference: &'a str,
    pub amount: i64,
    /// What the payer sees; VNPay wants it without diacritics.
    pub order_info: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub locale: &'a str,
    /// The payer's address, as VNPay asks for it.
    pub client_ip: &'a str,
    /// The provider's own transaction, once paid.
    pub provider_txn: Option<&'a str>,
}

/// Where the payer goes to pay.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub pay_url: String,
    pub deeplink: Option<String>,
    pub qr_code: Option<String>,
}

/// What a provider says became of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Paid this amount (VND), as the provider's transaction `txn`.
    Paid { amount: i64, txn: String },
    /// Declined, cancelled or refused, with the provider's code.
    Failed { code: String },
    /// The payer never paid and the time to pay is over.
    Expired,
    /// Not decided yet (the payer has not finished).
    Pending,
    /// The provider has never heard of it (the payer never opened the payment page).
    NotFound,
}

/// What a provider said to a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Done { txn: String },
    Refused { code: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No answer, a timeout or a server error: the outcome is unknown; ask again later.
    #[error("{provider} unreachable: {reason}")]
    Unreachable {
        provider: &'static str,
        reason: String,
    },
    /// An answer we cannot trust or read (a bad signature, a missing field).
    #[error("{provider} answered unexpectedly: {reason}")]
    Invalid {
        provider: &'static str,
        reason: String,
    },
    /// A definitive refusal of the request itself.
    #[error("{provider} refused ({code}): {message}")]
    Refused {
        provider: &'static str,
        code: String,
        message: String,
    },
    /// The provider is not configured here.
    #[error("{0} is not configured")]
    NotConfigured(&'static str),
}

/// The configured providers.
pub struct Providers {
    pub vnpay: Option<vnpay::VnpayClient>,
    pub momo: Option<momo::MomoClient>,
}

impl Providers {
    pub fn new(config: &PaymentsConfig, plain_http: PlainHttp) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(config.provider_timeout_ms.max(1));
        let vnpay = match &config.vnpay {
            Some(c) => {
                let http = http_client("VNPay", timeout, plain_http)?;
                http.check_url(&c.api_url)
                    .map_err(|e| anyhow::anyhow!("payments.vnpay.api_url: {e}"))?;
                http.check_url(&c.payment_url)
                    .map_err(|e| anyhow::anyhow!("payments.vnpay.payment_url: {e}"))?;
                Some(vnpay::VnpayClient::new(c, http))
            }
            None => None,
        };
        let momo = match &config.momo {
            Some(c) => {
                let http = http_client("MoMo", timeout, plain_http)?;
                http.check_url(&c.endpoint)
                    .map_err(|e| anyhow::anyhow!("payments.momo.endpoint: {e}"))?;
                Some(momo::MomoClient::new(c, http))
            }
            None => None,
        };
        Ok(Self { vnpay, momo })
    }

    pub fn offered(&self) -> Vec<ProviderName> {
        let mut offered = Vec::new();
        if self.vnpay.is_some() {
            offered.push(ProviderName::Vnpay);
        }
        if self.momo.is_some() {
            offered.push(ProviderName::Momo);
        }
        offered
    }

    /// Where the payer goes; `base` is our public address, for the return and IPN URLs.
    pub async fn checkout(
        &self,
        provider: ProviderName,
        payment: &Payment<'_>,
        base: &str,
    ) -> Result<Checkout, ProviderError> {
        match provider {
            ProviderName::Vnpay => Ok(self.vnpay()?.checkout(payment, base)),
            ProviderName::Momo => self.momo()?.checkout(payment, base).await,
        }
    }

    pub async fn query(
        &self,
        provider: ProviderName,
        payment: &Payment<'_>,
    ) -> Result<Outcome, ProviderError> {
        match provider {
            ProviderName::Vnpay => self.vnpay()?.query(payment).await,
            ProviderName::Momo => self.momo()?.query(payment).await,
        }
    }

    /// Refunds `amount` of `payment` (of which `refundable` is left) as our request
    /// `reference`.
    pub async fn refund(
        &self,
        provider: ProviderName,
        payment: &Payment<'_>,
        refund: &Refund<'_>,
    ) -> Result<RefundOutcome, ProviderError> {
        match provider {
            ProviderName::Vnpay => self.vnpay()?.refund(payment, refund).await,
            ProviderName::Momo => self.momo()?.refund(payment, refund).await,
        }
    }

    /// What the provider says of a refund it never answered; `None` when it cannot tell (VNPay's
    /// merchant API has no refund status: an operator confirms those).
    pub async fn refund_status(
        &self,
        provider: ProviderName,
        payment: &Payment<'_>,
        reference: &str,
    ) -> Result<Option<RefundOutcome>, ProviderError> {
        match provider {
            ProviderName::Vnpay => Ok(None),
            ProviderName::Momo => self.momo()?.refund_status(payment, reference).await,
        }
    }

    /// What the provider keeps of `amount`, in VND (rounded half up).
    pub fn fee(&self, provider: ProviderName, amount: i64) -> i64 {
        let basis_points = match provider {
            ProviderName::Vnpay => self.vnpay.as_ref().map_or(0, |c| c.fee_basis_points),
            ProviderName::Momo => self.momo.as_ref().map_or(0, |c| c.fee_basis_points),
        };
        (amount * i64::from(basis_points) + 5_000) / 10_000
    }

    pub fn vnpay(&self) -> Result<&vnpay::VnpayClient, ProviderError> {
        self.vnpay
            .as_ref()
            .ok_or(ProviderError::NotConfigured("vnpay"))
    }

    pub fn momo(&self) -> Result<&momo::MomoClient, ProviderError> {
        self.momo
            .as_ref()
            .ok_or(ProviderError::NotConfigured("momo"))
    }
}

/// A refund as a provider needs to see it.
pub struct Refund<'a> {
    /// Our reference for the refund (vnp_RequestId, MoMo's refund orderId).
    pub reference: &'a str,
    pub amount: i64,
    /// Whether it returns everything paid (VNPay tells full from partial refunds).
    pub full: bool,
    pub reason: &'a str,
    /// Who asked for it (VNPay's vnp_CreateBy).
    pub requested_by: &'a str,
}

/// The client the providers and the bill gateway are called with: TLS (plain HTTP only to a
/// sandbox on this machine in development), a deadline per call, answers of at most 64 KB, no
/// redirects followed.
pub(crate) fn http_client(
    system: &'static str,
    timeout: Duration,
    plain_http: PlainHttp,
) -> anyhow::Result<OutboundClient> {
    OutboundClient::new(
        system,
        plain_http,
        Limits {
            connect_timeout: Duration::from_secs(5).min(timeout),
            timeout,
            max_answer_bytes: 64 * 1024,
        },
    )
}

/// The longest wait an outside system's `Retry-After` is taken at: a gateway asking for a day,
/// by mistake or not, must not have residents told to come back tomorrow.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The wait an answer asks for (`Retry-After` in seconds), at least 1 s and at most
/// [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(answer: &Answer) -> Option<Duration> {
    answer
        .retry_after()
        .map(|wait| wait.clamp(Duration::from_secs(1), MAX_RETRY_AFTER))
}

/// Posts `body` as JSON and reads a JSON answer, whatever the status (both providers put their
/// result codes in the body).
async fn post_json(
    http: &OutboundClient,
    provider: &'static str,
    url: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, ProviderError> {
    let answer = http.post_json(url, body).await.map_err(|e| match e {
        OutboundError::AnswerTooLarge { .. } => ProviderError::Invalid {
            provider,
            reason: "answer too large".into(),
        },
        e => ProviderError::Unreachable {
            provider,
            reason: e.to_string(),
        },
    })?;
    let status = answer.status;
    if status.is_server_error() {
        return Err(ProviderError::Unreachable {
            provider,
            reason: format!("HTTP {status}"),
        });
    }
    answer.json().map_err(|e| ProviderError::Invalid {
        provider,
        reason: format!("HTTP {status}, not JSON: {e}"),
    })
}
