//! Payments' section of the configuration (`[payments]`).

use platform::config::{Development, Section, serialize_required_secret};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Payments of bills and fees through VNPay and MoMo.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsConfig {
    /// The address providers and browsers reach the gateway at (`https://api.example.vn`), for
    /// the return and notification URLs; taken from the request's host when absent.
    pub public_url: Option<String>,
    /// The bill gateway every lookup and posting goes through (an aggregator serving the
    /// city's billers, or the sandbox's `http://host/sandbox/biller`). Unset: no bills.
    pub biller_url: Option<String>,
    /// VNPay (2.1.0); unset: not offered.
    pub vnpay: Option<VnpayConfig>,
    /// MoMo (v2); unset: not offered.
    pub momo: Option<MomoConfig>,
    /// How long a payment may be paid after it is made.
    pub payment_ttl_secs: u64,
    /// A payment the provider has not settled this long after its last change is asked about.
    pub reconcile_after_secs: u64,
    /// How often reconciliation looks for such payments.
    pub reconcile_interval_ms: u64,
    /// Deadline for one call to a provider (MoMo asks for at least 30 s).
    pub provider_timeout_ms: u64,
    /// Deadline for one call to the bill gateway.
    pub biller_timeout_ms: u64,
    /// Bill lookups per account per minute, against enumerating customer codes.
    pub bill_lookups_per_minute: u32,
    /// Where the browser goes after paying (the app's deep link), with the payment id.
    pub app_return_url: String,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            biller_url: None,
            vnpay: None,
            momo: None,
            payment_ttl_secs: 15 * 60,
            reconcile_after_secs: 5 * 60,
            reconcile_interval_ms: 30_000,
            provider_timeout_ms: 30_000,
            biller_timeout_ms: 10_000,
            bill_lookups_per_minute: 30,
            app_return_url: "citizen://payments".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VnpayConfig {
    /// The merchant's terminal code (`vnp_TmnCode`).
    pub tmn_code: String,
    /// The secret the `vnp_SecureHash` is keyed with; usually from
    /// `CITIZEN_PAYMENTS__VNPAY__HASH_SECRET_FILE`.
    #[serde(serialize_with = "serialize_required_secret")]
    pub hash_secret: SecretString,
    /// The payment page (`https://pay.vnpay.vn/vpcpay.html`, the sandbox's
    /// `http://host/sandbox/vnpay/paymentv2/vpcpay.html`).
    pub payment_url: String,
    /// The merchant API for `querydr` and `refund`.
    pub api_url: String,
    /// What VNPay keeps of each payment, in hundredths of a percent (booked as a fee).
    #[serde(default)]
    pub fee_basis_points: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MomoConfig {
    pub partner_code: String,
    pub access_key: String,
    /// The key the signatures are made with; usually from
    /// `CITIZEN_PAYMENTS__MOMO__SECRET_KEY_FILE`.
    #[serde(serialize_with = "serialize_required_secret")]
    pub secret_key: SecretString,
    /// MoMo's API (`https://payment.momo.vn`, the sandbox's `http://host/sandbox/momo`).
    pub endpoint: String,
    /// What MoMo keeps of each payment, in hundredths of a percent (booked as a fee).
    #[serde(default)]
    pub fee_basis_points: u32,
}

impl Section for PaymentsConfig {
    const KEY: &'static str = "payments";

    /// The bill gateway, VNPay and MoMo sandboxes, with their published test credentials.
    fn development(on: &Development) -> serde_json::Value {
        let sandbox = &on.sandbox_url;
        serde_json::json!({
            "biller_url": format!("{sandbox}/biller"),
            "vnpay": {
                "tmn_code": "CITIZEN1",
                "hash_secret": "CITIZENVNPAYSANDBOXHASHSECRET001",
                "payment_url": format!("{sandbox}/vnpay/paymentv2/vpcpay.html"),
                "api_url": format!("{sandbox}/vnpay/merchant_webapi/api/transaction"),
                "fee_basis_points": 110,
            },
            "momo": {
                "partner_code": "MOMOCITIZEN",
                "access_key": "citizenmomoaccesskey",
                "secret_key": "citizenmomosecretkeysandbox00001",
                "endpoint": format!("{sandbox}/momo"),
                "fee_basis_points": 150,
            },
        })
    }

    fn production_problems(&self) -> Vec<String> {
        if (self.vnpay.is_some() || self.momo.is_some()) && self.public_url.is_none() {
            vec![
                "payments.public_url: providers must call back at the ingress's address, not one a request names"
                    .to_owned(),
            ]
        } else {
            Vec::new()
        }
    }
}
