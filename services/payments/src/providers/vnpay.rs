//! VNPay 2.1.0: the payer is sent to VNPay's page with a signed query (`vnp_SecureHash`, an
//! HMAC-SHA512 over the sorted, form-encoded `vnp_*` parameters); VNPay tells our server the
//! result by a signed GET (the IPN, answered with `{"RspCode","Message"}`) and sends the
//! browser back the same way. `querydr` and `refund` go to the merchant API as JSON, signed
//! over their fields joined with `|`. Amounts travel as VND × 100; dates as `yyyyMMddHHmmss`
//! in GMT+7.

use crate::config::VnpayConfig;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::Sha512;

use super::{Checkout, Outcome, Payment, ProviderError, Refund, RefundOutcome, post_json};

const VERSION: &str = "2.1.0";
const PROVIDER: &str = "vnpay";
/// What `vnp_IpAddr` names for server-to-server calls: behind NAT the process does not know
/// its public address, and VNPay only records it.
const SERVER_IP: &str = "127.0.0.1";
/// A payment VNPay still calls unfinished this long after its time to pay is over has expired
/// (the payment page refuses it by then).
const EXPIRY_GRACE: chrono::Duration = chrono::Duration::minutes(5);

/// The fields of a merchant API answer its `vnp_SecureHash` covers, in order (`querydr`; a
/// `refund` answer's are the first 13).
const ANSWER_FIELDS: [&str; 15] = [
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
];

pub struct VnpayClient {
    tmn_code: String,
    hash_secret: SecretString,
    payment_url: String,
    api_url: String,
    pub fee_basis_points: u32,
    http: platform::outbound::OutboundClient,
}

/// `t` as VNPay writes dates: `yyyyMMddHHmmss` in GMT+7.
pub fn vnpay_date(t: DateTime<Utc>) -> String {
    t.with_timezone(&platform::vietnam_time::OFFSET)
        .format("%Y%m%d%H%M%S")
        .to_string()
}

/// The text a query's `vnp_SecureHash` is made over: every `vnp_*` parameter with a value but
/// the hash itself, sorted by name, names and values form-encoded (space as `+`).
pub fn query_hash_data<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut signed: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(name, value)| {
            name.starts_with("vnp_")
                && *name != "vnp_SecureHash"
                && *name != "vnp_SecureHashType"
                && !value.is_empty()
        })
        .collect();
    signed.sort_unstable();
    signed
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// HMAC-SHA512 of `data` in lowercase hex.
pub fn sign(secret: &str, data: &str) -> String {
    hex::encode(mac(secret, data).finalize().into_bytes())
}

fn mac(secret: &str, data: &str) -> Hmac<Sha512> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(data.as_bytes());
    mac
}

/// Whether `given` (hex, either case) is the signature of `data`, compared in constant time.
fn signed_by(secret: &str, data: &str, given: &str) -> bool {
    hex::decode(given.trim()).is_ok_and(|given| mac(secret, data).verify_slice(&given).is_ok())
}

impl VnpayClient {
    pub fn new(config: &VnpayConfig, http: platform::outbound::OutboundClient) -> Self {
        Self {
            tmn_code: config.tmn_code.clone(),
            hash_secret: config.hash_secret.clone(),
            payment_url: config.payment_url.clone(),
            api_url: config.api_url.clone(),
            fee_basis_points: config.fee_basis_points,
            http,
        }
    }

    fn secret(&self) -> &str {
        self.hash_secret.expose_secret()
    }

    /// The signed payment URL (no call to VNPay is needed to start).
    pub fn checkout(&self, payment: &Payment<'_>, base: &str) -> Checkout {
        let amount = (payment.amount * 100).to_string();
        let created = vnpay_date(payment.created_at);
        let expires = vnpay_date(payment.expires_at);
        let return_url = format!("{base}/v1/payments/return/vnpay");
        let locale = if payment.locale == "en" { "en" } else { "vn" };
        let params = [
            ("vnp_Version", VERSION),
            ("vnp_Command", "pay"),
            ("vnp_TmnCode", &self.tmn_code),
            ("vnp_Amount", &amount),
            ("vnp_CreateDate", &created),
            ("vnp_ExpireDate", &expires),
            ("vnp_CurrCode", "VND"),
            ("vnp_IpAddr", payment.client_ip),
            ("vnp_Locale", locale),
            ("vnp_OrderInfo", payment.order_info),
            ("vnp_OrderType", "billpayment"),
            ("vnp_ReturnUrl", &return_url),
            ("vnp_TxnRef", payment.reference),
        ];
        let query = query_hash_data(params);
        let hash = sign(self.secret(), &query);
        Checkout {
            pay_url: format!("{}?{query}&vnp_SecureHash={hash}", self.payment_url),
            deeplink: None,
            qr_code: None,
        }
    }

    /// Whether a return or IPN query was signed with our secret, for our terminal.
    pub fn verify(&self, params: &[(String, String)]) -> bool {
        let given = params
            .iter()
            .find(|(name, _)| name == "vnp_SecureHash")
            .map(|(_, value)| value.as_str());
        let ours = params
            .iter()
            .any(|(name, value)| name == "vnp_TmnCode" && *value == self.tmn_code);
        let data = query_hash_data(params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        ours && given.is_some_and(|given| signed_by(self.secret(), &data, given))
    }

    /// Asks VNPay what became of a payment (`querydr`).
    pub async fn query(&self, payment: &Payment<'_>) -> Result<Outcome, ProviderError> {
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let transaction_date = vnpay_date(payment.created_at);
        let now = vnpay_date(Utc::now());
        let order_info = format!("Truy van giao dich {}", payment.reference);
        let data = [
            request_id.as_str(),
            VERSION,
            "querydr",
            &self.tmn_code,
            payment.reference,
            &transaction_date,
            &now,
            SERVER_IP,
            &order_info,
        ]
        .join("|");
        let body = json!({
            "vnp_RequestId": request_id,
            "vnp_Version": VERSION,
            "vnp_Command": "querydr",
            "vnp_TmnCode": self.tmn_code,
            "vnp_TxnRef": payment.reference,
            "vnp_OrderInfo": order_info,
            "vnp_TransactionNo": payment.provider_txn.unwrap_or_default(),
            "vnp_TransactionDate": transaction_date,
            "vnp_CreateDate": now,
            "vnp_IpAddr": SERVER_IP,
            "vnp_SecureHash": sign(self.secret(), &data),
        });
        let answer = post_json(&self.http, PROVIDER, &self.api_url, &body).await?;
        self.check_answer(&answer, &ANSWER_FIELDS)?;
        let field = |name: &str| text(&answer, name);
        match field("vnp_ResponseCode").as_str() {
            "00" => {}
            "91" => return Ok(Outcome::NotFound),
            code => return Err(refused(code, &field("vnp_Message"))),
        }
        Ok(match field("vnp_TransactionStatus").as_str() {
            // Paid, and possibly refunded or in refund since: the payment itself happened.
            "00" | "05" | "06" | "09" => Outcome::Paid {
                amount: amount_of(&field("vnp_Amount"))?,
                txn: field("vnp_TransactionNo"),
            },
            // Unfinished, and past its time: the payment page no longer takes it.
            "01" if Utc::now() > payment.expires_at + EXPIRY_GRACE => Outcome::Expired,
            // Held as suspected fraud: money has moved, so it waits for VNPay (and an operator),
            // never expiring.
            "01" | "07" => Outcome::Pending,
            status => Outcome::Failed {
                code: format!("vnpay_status_{status}"),
            },
        })
    }

    /// Asks VNPay to refund (`refund`, full or partial).
    pub async fn refund(
        &self,
        payment: &Payment<'_>,
        refund: &Refund<'_>,
    ) -> Result<RefundOutcome, ProviderError> {
        let transaction_type = if refund.full { "02" } else { "03" };
        let amount = (refund.amount * 100).to_string();
        let transaction_date = vnpay_date(payment.created_at);
        let now = vnpay_date(Utc::now());
        let txn = payment.provider_txn.unwrap_or_default();
        let order_info = format!("Hoan tien giao dich {}", payment.reference);
        let data = [
            refund.reference,
            VERSION,
            "refund",
            &self.tmn_code,
            transaction_type,
            payment.reference,
            &amount,
            txn,
            &transaction_date,
            refund.requested_by,
            &now,
            SERVER_IP,
            &order_info,
        ]
        .join("|");
        let body = json!({
            "vnp_RequestId": refund.reference,
            "vnp_Version": VERSION,
            "vnp_Command": "refund",
            "vnp_TmnCode": self.tmn_code,
            "vnp_TransactionType": transaction_type,
            "vnp_TxnRef": payment.reference,
            "vnp_Amount": amount,
            "vnp_OrderInfo": order_info,
            "vnp_TransactionNo": txn,
            "vnp_TransactionDate": transaction_date,
            "vnp_CreateBy": refund.requested_by,
            "vnp_CreateDate": now,
            "vnp_IpAddr": SERVER_IP,
            "vnp_SecureHash": sign(self.secret(), &data),
        });
        let answer = post_json(&self.http, PROVIDER, &self.api_url, &body).await?;
        // A refund's answer is signed over the same fields but the promotion's.
        self.check_answer(&answer, &ANSWER_FIELDS[..13])?;
        let field = |name: &str| text(&answer, name);
        match field("vnp_ResponseCode").as_str() {
            "00" => Ok(RefundOutcome::Done {
                txn: field("vnp_TransactionNo"),
            }),
            // The same request is still being handled, or VNPay failed: the outcome is unknown.
            "94" | "99" => Err(ProviderError::Unreachable {
                provider: PROVIDER,
                reason: format!("refund answered {}", field("vnp_ResponseCode")),
            }),
            "97" => Err(refused("97", &field("vnp_Message"))),
            code => Ok(RefundOutcome::Refused {
                code: format!("vnpay_{code}"),
            }),
        }
    }

    /// Checks an answer of the merchant API is VNPay's: signed over `fields` joined by `|`.
    /// Error answers about our request itself (a bad hash of ours, a bad format) carry no
    /// usable signature and are refusals.
    fn check_answer(&self, answer: &Value, fields: &[&str]) -> Result<(), ProviderError> {
        let code = text(answer, "vnp_ResponseCode");
        if matches!(code.as_str(), "02" | "03" | "97" | "99") && answer.get("vnp_TxnRef").is_none()
        {
            return Err(refused(&code, &text(answer, "vnp_Message")));
        }
        let data = fields
            .iter()
            .map(|name| text(answer, name))
            .collect::<Vec<_>>()
            .join("|");
        if signed_by(self.secret(), &data, &text(answer, "vnp_SecureHash")) {
            Ok(())
        } else {
            Err(ProviderError::Invalid {
                provider: PROVIDER,
                reason: "the answer's vnp_SecureHash does not match".into(),
            })
        }
    }
}

/// What an IPN or a return says: our reference and the outcome (its hash already verified).
pub fn outcome_of(params: &[(String, String)]) -> Result<(String, Outcome), String> {
    let field = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let reference = field("vnp_TxnRef");
    if reference.is_empty() {
        return Err("no vnp_TxnRef".into());
    }
    let outcome = match (
        field("vnp_ResponseCode").as_str(),
        field("vnp_TransactionStatus").as_str(),
    ) {
        ("00", "00") => Outcome::Paid {
            amount: amount_of(&field("vnp_Amount")).map_err(|e| e.to_string())?,
            txn: field("vnp_TransactionNo"),
        },
        ("11", _) => Outcome::Expired,
        // Deducted but held as suspected fraud, or not finished: decided later (the query
        // asks again).
        ("07", _) | (_, "01" | "07") => Outcome::Pending,
        // Reversed: charged at the bank, not at VNPay, and given back.
        (_, "04") => Outcome::Failed {
            code: "vnpay_status_04".to_owned(),
        },
        (code, "02") => Outcome::Failed {
            code: format!("vnpay_{code}"),
        },
        // A status we do not know: not final; the query will tell.
        _ => Outcome::Pending,
    };
    Ok((reference, outcome))
}

/// VND from VNPay's `vnp_Amount` (VND × 100).
fn amount_of(text: &str) -> Result<i64, ProviderError> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0 && n % 100 == 0)
        .map(|n| n / 100)
        .ok_or_else(|| ProviderError::Invalid {
            provider: PROVIDER,
            reason: format!("vnp_Amount {text:?} is not VND × 100"),
        })
}

fn text(answer: &Value, name: &str) -> String {
    match answer.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn refused(code: &str, message: &str) -> ProviderError {
    ProviderError::Refused {
        provider: PROVIDER,
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently with Python's `hmac`/`hashlib` and `urllib.parse.quote_plus`
    /// from the documented rule (sorted `vnp_*` names, form-encoded, joined with `&`).
    #[test]
    fn the_query_hash_matches_an_independent_computation() {
        let params = [
            ("vnp_Version", "2.1.0"),
            ("vnp_Command", "pay"),
            ("vnp_TmnCode", "CITIZEN1"),
            ("vnp_Amount", "48735000"),
            ("vnp_CreateDate", "20261124103000"),
            ("vnp_ExpireDate", "20261124104500"),
            ("vnp_CurrCode", "VND"),
            ("vnp_IpAddr", "203.113.0.7"),
            ("vnp_Locale", "vn"),
            ("vnp_OrderInfo", "Thanh toan hoa don PC05HU0012345"),
            ("vnp_OrderType", "billpayment"),
            (
                "vnp_ReturnUrl",
                "https://api.example.vn/v1/payments/return/vnpay",
            ),
            ("vnp_TxnRef", "P1A2B3C4D5"),
            ("vnp_BankCode", ""),
        ];
        let data = query_hash_data(params);
        assert_eq!(
            data,
            "vnp_Amount=48735000&vnp_Command=pay&vnp_CreateDate=20261124103000&vnp_CurrCode=VND\
             &vnp_ExpireDate=20261124104500&vnp_IpAddr=203.113.0.7&vnp_Locale=vn\
             &vnp_OrderInfo=Thanh+toan+hoa+don+PC05HU0012345&vnp_OrderType=billpayment\
             &vnp_ReturnUrl=https%3A%2F%2Fapi.example.vn%2Fv1%2Fpayments%2Freturn%2Fvnpay\
             &vnp_TmnCode=CITIZEN1&vnp_TxnRef=P1A2B3C4D5&vnp_Version=2.1.0"
        );
        assert_eq!(
            sign("CITIZENVNPAYSANDBOXHASHSECRET001", &data),
            PYTHON_QUERY_HASH
        );
    }

    #[test]
    fn the_pipe_hash_matches_an_independent_computation() {
        let data = "REQ123|2.1.0|querydr|CITIZEN1|P1A2B3C4D5|20261124103000|20261124110000|127.0.0.1|Truy van giao dich P1A2B3C4D5";
        assert_eq!(
            sign("CITIZENVNPAYSANDBOXHASHSECRET001", data),
            PYTHON_PIPE_HASH
        );
    }

    #[test]
    fn only_a_finished_success_is_paid_and_money_that_may_have_moved_waits() {
        let ipn = |code: &str, status: &str| {
            let params: Vec<(String, String)> = [
                ("vnp_TxnRef", "CZ1"),
                ("vnp_Amount", "1000000"),
                ("vnp_TransactionNo", "14000001"),
                ("vnp_ResponseCode", code),
                ("vnp_TransactionStatus", status),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
            outcome_of(&params).unwrap().1
        };
        assert_eq!(
            ipn("00", "00"),
            Outcome::Paid {
                amount: 10_000,
                txn: "14000001".into()
            }
        );
        assert_eq!(ipn("07", "07"), Outcome::Pending, "held as suspected fraud");
        assert_eq!(ipn("00", "01"), Outcome::Pending);
        assert_eq!(
            ipn("00", "99"),
            Outcome::Pending,
            "an unknown status is not final"
        );
        assert_eq!(ipn("11", "02"), Outcome::Expired);
        assert_eq!(
            ipn("24", "02"),
            Outcome::Failed {
                code: "vnpay_24".into()
            }
        );
        assert_eq!(
            ipn("00", "04"),
            Outcome::Failed {
                code: "vnpay_status_04".into()
            }
        );
    }

    #[test]
    fn dates_are_written_in_gmt_plus_7() {
        let t = DateTime::parse_from_rfc3339("2026-11-24T20:30:05Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(vnpay_date(t), "20261125033005");
    }

    const PYTHON_QUERY_HASH: &str = "11d07bb3ac358533bda93fa3e398baeb1a4e1d041b86156dc18fe2e7a9ead8379904cf5f7eb04a7981eb959c54ce5469b63b7362b1181d18e12c9679253f6145";
    const PYTHON_PIPE_HASH: &str = "2bd5c4caec21c3cb4c9bdde4807b2d4b5ae39401300385d5315ad1d329f6839456e894104da4c123d7542104460da4f22d9270e652f4ab764627b158731e35b1";
}
