//! MoMo's payment API v2: `create` answers with a `payUrl` (and an app deeplink and a QR
//! text); MoMo tells our server the result by a signed POST (the IPN, acknowledged with 204) and
//! sends the browser back with the same fields; `query` and `refund` are signed JSON calls.
//! Every signature is an HMAC-SHA256 over `key=value` pairs in a-z order of the keys, values
//! as they are (not encoded), `accessKey` included.

use crate::config::MomoConfig;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Checkout, Outcome, Payment, ProviderError, Refund, RefundOutcome, post_json};

const PROVIDER: &str = "momo";

pub struct MomoClient {
    partner_code: String,
    access_key: String,
    secret_key: SecretString,
    endpoint: String,
    pub fee_basis_points: u32,
    http: platform::outbound::OutboundClient,
}

/// The raw text MoMo signs: `k=v` joined with `&`, in the order given (callers list the keys
/// in a-z order, as each of MoMo's documented formats does).
pub fn raw_signature(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// HMAC-SHA256 of `data` in lowercase hex.
pub fn sign(secret: &str, data: &str) -> String {
    hex::encode(mac(secret, data).finalize().into_bytes())
}

fn mac(secret: &str, data: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(data.as_bytes());
    mac
}

/// The fields of an IPN, and of the browser's return (as a query).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub partner_code: String,
    pub order_id: String,
    pub request_id: String,
    #[serde(deserialize_with = "number_or_text")]
    pub amount: i64,
    #[serde(default)]
    pub order_info: String,
    #[serde(default)]
    pub order_type: String,
    #[serde(deserialize_with = "number_or_text")]
    pub trans_id: i64,
    #[serde(deserialize_with = "number_or_text")]
    pub result_code: i64,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub pay_type: String,
    #[serde(deserialize_with = "number_or_text")]
    pub response_time: i64,
    #[serde(default)]
    pub extra_data: String,
    pub signature: String,
}

/// MoMo's numbers arrive as JSON numbers in an IPN and as text in a return query.
fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(i64),
        Text(String),
    }
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(n),
        Either::Text(t) => t.trim().parse().map_err(serde::de::Error::custom),
    }
}

impl Notification {
    /// What the notification says: our reference and the outcome.
    pub fn outcome(&self) -> Outcome {
        outcome_of(self.result_code, self.amount, self.trans_id)
    }
}

fn outcome_of(result_code: i64, amount: i64, trans_id: i64) -> Outcome {
    match result_code {
        0 => Outcome::Paid {
            amount,
            txn: trans_id.to_string(),
        },
        // Created and waiting for the payer, or still being processed.
        1000 | 7000 | 7002 | 9000 => Outcome::Pending,
        1005 => Outcome::Expired,
        42 => Outcome::NotFound,
        code => Outcome::Failed {
            code: format!("momo_{code}"),
        },
    }
}

impl MomoClient {
    pub fn new(config: &MomoConfig, http: platform::outbound::OutboundClient) -> Self {
        Self {
            partner_code: config.partner_code.clone(),
            access_key: config.access_key.clone(),
            secret_key: config.secret_key.clone(),
            endpoint: config.endpoint.trim_end_matches('/').to_owned(),
            fee_basis_points: config.fee_basis_points,
            http,
        }
    }

    fn sign(&self, pairs: &[(&str, &str)]) -> String {
        sign(self.secret_key.expose_secret(), &raw_signature(pairs))
    }

    /// Whether a notification (IPN or return) is MoMo's, for our partner code.
    pub fn verify(&self, n: &Notification) -> bool {
        let (amount, trans_id, result_code, response_time) = (
            n.amount.to_string(),
            n.trans_id.to_string(),
            n.result_code.to_string(),
            n.response_time.to_string(),
        );
        let data = raw_signature(&[
            ("accessKey", &self.access_key),
            ("amount", &amount),
            ("extraData", &n.extra_data),
            ("message", &n.message),
            ("orderId", &n.order_id),
            ("orderInfo", &n.order_info),
            ("orderType", &n.order_type),
            ("partnerCode", &n.partner_code),
            ("payType", &n.pay_type),
            ("requestId", &n.request_id),
            ("responseTime", &response_time),
            ("resultCode", &result_code),
            ("transId", &trans_id),
        ]);
        n.partner_code == self.partner_code
            && hex::decode(n.signature.trim()).is_ok_and(|given| {
                mac(self.secret_key.expose_secret(), &data)
                    .verify_slice(&given)
                    .is_ok()
            })
    }

    /// Creates the payment at MoMo (`create`, captureWallet) and returns where to pay.
    pub async fn checkout(
        &self,
        payment: &Payment<'_>,
        base: &str,
    ) -> Result<Checkout, ProviderError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let amount = payment.amount.to_string();
        let redirect_url = format!("{base}/v1/payments/return/momo");
        let ipn_url = format!("{base}/v1/payments/ipn/momo");
        let signature = self.sign(&[
            ("accessKey", &self.access_key),
            ("amount", &amount),
            ("extraData", ""),
            ("ipnUrl", &ipn_url),
            ("orderId", payment.reference),
            ("orderInfo", payment.order_info),
            ("partnerCode", &self.partner_code),
            ("redirectUrl", &redirect_url),
            ("requestId", &request_id),
            ("requestType", "captureWallet"),
        ]);
        let body = json!({
            "partnerCode": self.partner_code,
            "partnerName": "Citizen",
            "storeId": self.partner_code,
            "requestId": request_id,
            "amount": payment.amount,
            "orderId": payment.reference,
            "orderInfo": payment.order_info,
            "redirectUrl": redirect_url,
            "ipnUrl": ipn_url,
            "requestType": "captureWallet",
            "extraData": "",
            "lang": if payment.locale == "en" { "en" } else { "vi" },
            "autoCapture": true,
            // Minutes the payer has; after that MoMo refuses the order, as we stop waiting.
            "orderExpireTime": (payment.expires_at - payment.created_at).num_minutes().max(1),
            "signature": signature,
        });
        let answer = post_json(
            &self.http,
            PROVIDER,
            &format!("{}/v2/gateway/api/create", self.endpoint),
            &body,
        )
        .await?;
        match answer["resultCode"].as_i64() {
            Some(0) => {}
            // MoMo failed or is busy: nothing is decided.
            Some(98 | 99 | 7000 | 7002) | None => {
                return Err(ProviderError::Unreachable {
                    provider: PROVIDER,
                    reason: format!("create answered {}", answer["resultCode"]),
                });
            }
            _ => return Err(refusal(&answer)),
        }
        let pay_url = answer["payUrl"]
            .as_str()
            .filter(|url| !url.is_empty())
            .ok_or_else(|| ProviderError::Invalid {
                provider: PROVIDER,
                reason: "create answered without a payUrl".into(),
            })?;
        let optional = |name: &str| {
            answer[name]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(Checkout {
            pay_url: pay_url.to_owned(),
            deeplink: optional("deeplink"),
            qr_code: optional("qrCodeUrl"),
        })
    }

    /// Asks MoMo what became of a payment (`query`).
    pub async fn query(&self, payment: &Payment<'_>) -> Result<Outcome, ProviderError> {
        let answer = self.query_answer(payment).await?;
        let Some(result_code) = answer["resultCode"].as_i64() else {
            return Err(ProviderError::Invalid {
                provider: PROVIDER,
                reason: "query answered without a resultCode".into(),
            });
        };
        // Errors about the request itself (authentication, format) are not an outcome.
        if matches!(result_code, 10..=41 | 99) {
            return Err(refusal(&answer));
        }
        if answer["orderId"].as_str() != Some(payment.reference) {
            return Err(ProviderError::Invalid {
                provider: PROVIDER,
                reason: "query answered about another order".into(),
            });
        }
        let number = |name: &str| {
            answer[name].as_i64().ok_or_else(|| ProviderError::Invalid {
                provider: PROVIDER,
                reason: format!("query answered without {name}"),
            })
        };
        let (amount, trans_id) = if result_code == 0 {
            (number("amount")?, number("transId")?)
        } else {
            (0, 0)
        };
        Ok(outcome_of(result_code, amount, trans_id))
    }

    /// What MoMo says of a refund we asked for (its `refundTrans` in a `query`); `None` while
    /// it cannot tell yet.
    pub async fn refund_status(
        &self,
        payment: &Payment<'_>,
        reference: &str,
    ) -> Result<Option<RefundOutcome>, ProviderError> {
        let answer = self.query_answer(payment).await?;
        if answer["resultCode"].as_i64() != Some(0)
            || answer["orderId"].as_str() != Some(payment.reference)
        {
            return Err(ProviderError::Invalid {
                provider: PROVIDER,
                reason: format!(
                    "query answered {} about a refunded order",
                    answer["resultCode"]
                ),
            });
        }
        let listed = answer["refundTrans"]
            .as_array()
            .and_then(|refunds| refunds.iter().find(|r| r["orderId"] == reference));
        Ok(match listed {
            Some(refund) => match refund["resultCode"].as_i64() {
                Some(0) => Some(RefundOutcome::Done {
                    txn: refund["transId"]
                        .as_i64()
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                }),
                Some(7000 | 7002) | None => None,
                Some(code) => Some(RefundOutcome::Refused {
                    code: format!("momo_{code}"),
                }),
            },
            // Not listed (yet): it stays pending, and the daily report shows it to operators,
            // since concluding it failed could refund the payer twice.
            None => None,
        })
    }

    async fn query_answer(&self, payment: &Payment<'_>) -> Result<Value, ProviderError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let signature = self.sign(&[
            ("accessKey", &self.access_key),
            ("orderId", payment.reference),
            ("partnerCode", &self.partner_code),
            ("requestId", &request_id),
        ]);
        let body = json!({
            "partnerCode": self.partner_code,
            "requestId": request_id,
            "orderId": payment.reference,
            "lang": "vi",
            "signature": signature,
        });
        post_json(
            &self.http,
            PROVIDER,
            &format!("{}/v2/gateway/api/query", self.endpoint),
            &body,
        )
        .await
    }

    /// Asks MoMo to refund part or all of a payment (`refund`).
    pub async fn refund(
        &self,
        payment: &Payment<'_>,
        refund: &Refund<'_>,
    ) -> Result<RefundOutcome, ProviderError> {
        let trans_id: i64 = payment
            .provider_txn
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| ProviderError::Invalid {
                provider: PROVIDER,
                reason: "the payment has no MoMo transId".into(),
            })?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let (amount, trans) = (refund.amount.to_string(), trans_id.to_string());
        let signature = self.sign(&[
            ("accessKey", &self.access_key),
            ("amount", &amount),
            ("description", refund.reason),
            ("orderId", refund.reference),
            ("partnerCode", &self.partner_code),
            ("requestId", &request_id),
            ("transId", &trans),
        ]);
        let body = json!({
            "partnerCode": self.partner_code,
            "orderId": refund.reference,
            "requestId": request_id,
            "amount": refund.amount,
            "transId": trans_id,
            "lang": "vi",
            "description": refund.reason,
            "signature": signature,
        });
        let answer = post_json(
            &self.http,
            PROVIDER,
            &format!("{}/v2/gateway/api/refund", self.endpoint),
            &body,
        )
        .await?;
        match answer["resultCode"].as_i64() {
            Some(0) => Ok(RefundOutcome::Done {
                txn: answer["transId"]
                    .as_i64()
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            }),
            // Still processing, or MoMo failed: the outcome is unknown.
            Some(7000 | 7002 | 99) | None => Err(ProviderError::Unreachable {
                provider: PROVIDER,
                reason: format!("refund answered {}", answer["resultCode"]),
            }),
            // Our request was wrong (authentication, format): nothing was refunded.
            Some(code) => Ok(RefundOutcome::Refused {
                code: format!("momo_{code}"),
            }),
        }
    }
}

fn refusal(answer: &Value) -> ProviderError {
    ProviderError::Refused {
        provider: PROVIDER,
        code: answer["resultCode"].to_string(),
        message: answer["message"].as_str().unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values computed independently with Python's `hmac`/`hashlib` over MoMo's
    /// documented raw formats, with MoMo's published test keys.
    const SECRET: &str = "K951B6PE1waDMi640xX08PD3vg6EkVlz";

    #[test]
    fn the_create_signature_matches_an_independent_computation() {
        let raw = raw_signature(&[
            ("accessKey", "F8BBA842ECF85"),
            ("amount", "50000"),
            ("extraData", ""),
            ("ipnUrl", "https://api.example.vn/v1/payments/ipn/momo"),
            ("orderId", "P1A2B3C4D5"),
            ("orderInfo", "Tiền nước tháng 10/2026"),
            ("partnerCode", "MOMO"),
            (
                "redirectUrl",
                "https://api.example.vn/v1/payments/return/momo",
            ),
            ("requestId", "2f0b5e0a-0000-4000-8000-000000000001"),
            ("requestType", "captureWallet"),
        ]);
        assert_eq!(sign(SECRET, &raw), PYTHON_CREATE);
    }

    #[test]
    fn the_refund_signature_matches_an_independent_computation() {
        let raw = raw_signature(&[
            ("accessKey", "F8BBA842ECF85"),
            ("amount", "55000"),
            ("description", ""),
            ("orderId", "1527297954700"),
            ("partnerCode", "MOMO"),
            ("requestId", "1527314064527"),
            ("transId", "144492817"),
        ]);
        assert_eq!(sign(SECRET, &raw), PYTHON_REFUND);
    }

    #[test]
    fn result_codes_become_outcomes() {
        assert_eq!(
            outcome_of(0, 50_000, 4100000001),
            Outcome::Paid {
                amount: 50_000,
                txn: "4100000001".into()
            }
        );
        assert_eq!(outcome_of(1000, 0, 0), Outcome::Pending);
        assert_eq!(outcome_of(1005, 0, 0), Outcome::Expired);
        assert_eq!(
            outcome_of(1006, 0, 0),
            Outcome::Failed {
                code: "momo_1006".into()
            }
        );
    }

    const PYTHON_CREATE: &str = "cabd0a0b474a0b7cd285368914689365dc7288d313e1703fb9ae8501c4a2d6e6";
    const PYTHON_REFUND: &str = "e1c89ef22d0e393d2aaaf2cc36744b5a7918c0c8accb89d1aa90e6f4a155c79c";
}
