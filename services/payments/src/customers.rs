//! Who is behind a code. Anyone may type a code, so the customer's name and address are shown
//! in full only to an account that has paid that code or linked it; anyone else sees initials
//! and the ward. A resident links a code by proving they hold it: the contract number printed
//! on the bill, which no lookup shows.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::JsonBody;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::bills::{self, BillerInfo, Customer, Service};
use crate::{PaymentsError, PaymentsState};

/// The customer behind a code, as the caller may see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillCustomer {
    /// The full name, or its initials (`N. T. H.`) when masked.
    name: String,
    /// The full address; absent when masked.
    address: Option<String>,
    /// The ward of the address, when the biller names it.
    ward: Option<String>,
    /// Whether name and address are hidden: the caller has neither paid this code nor linked
    /// it.
    masked: bool,
}

impl BillCustomer {
    /// `customer` in full when `known` to the caller, masked otherwise.
    pub fn shown(customer: Customer, known: bool) -> Self {
        Self {
            name: if known {
                customer.name
            } else {
                initials(&customer.name)
            },
            address: known.then_some(customer.address),
            ward: customer.ward,
            masked: !known,
        }
    }
}

/// `Nguyễn Thị Hoa` as `N. T. H.`.
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().next())
        .map(|first| format!("{}.", first.to_uppercase()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `account` may see the customer behind `code` in full (it paid or linked the code).
pub async fn known(
    state: &PaymentsState,
    account: Uuid,
    service: Service,
    code: &str,
) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT customer_known($1, $2, $3) AS "known!""#,
        account,
        service.as_str(),
        code
    )
    .fetch_one(&state.pool)
    .await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkProof {
    /// The contract number printed on the customer's bill.
    contract_number: String,
}

/// A code the caller linked, with its customer in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerLink {
    service: Service,
    code: String,
    customer: BillCustomer,
    biller: BillerInfo,
    linked_at: DateTime<Utc>,
}

/// Links a code to the caller, who proves they hold it with the contract number on its bill:
/// from then on they see its customer in full. Linking again changes nothing.
#[utoipa::path(put, path = "/v1/payments/customer-links/{service}/{code}", tag = "payments",
    params(("service" = String, Path, description = "`electricity`, `water`, ..."),
           ("code" = String, Path, description = "The customer code, student code, dossier number or plate")),
    request_body = LinkProof,
    responses(
        (status = 200, body = CustomerLink),
        (status = 404, body = platform::error::Problem, description = "`bill_kind_not_found`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_customer_code`, `customer_not_matched`: no such code, or another contract number"),
        (status = 429, body = platform::error::Problem, description = "`too_many_lookups`"),
        (status = 503, body = platform::error::Problem, description = "`biller_unavailable`"),
    ),
    security(("bearer" = [])))]
pub async fn link_code(
    State(state): State<PaymentsState>,
    principal: Principal,
    Path((service, code)): Path<(String, String)>,
    JsonBody(proof): JsonBody<LinkProof>,
) -> Result<Json<CustomerLink>, ApiError> {
    // A guess at a contract number costs what a lookup does.
    bills::count_lookup(&state, &principal).await?;
    let service = parse_service(&service)?;
    let code = bills::normalized(service, &code)?;
    let statement = bills::find_statement(&state, service, &code).await?;
    let matches = statement.as_ref().is_some_and(|s| {
        s.customer
            .contract_number
            .as_deref()
            .is_some_and(|number| same_contract_number(number, &proof.contract_number))
    });
    let Some(statement) = statement.filter(|_| matches) else {
        return Err(PaymentsError::CustomerNotMatched.into());
    };
    // Linking again keeps the first time.
    let linked_at = sqlx::query_scalar!(
        r#"INSERT INTO customer_links (account_id, service, code) VALUES ($1, $2, $3)
           ON CONFLICT (account_id, service, code) DO UPDATE SET linked_at = customer_links.linked_at
           RETURNING linked_at"#,
        principal.account_id,
        service.as_str(),
        code
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(CustomerLink {
        service,
        code,
        customer: BillCustomer::shown(statement.customer, true),
        biller: statement.biller,
        linked_at,
    }))
}

/// Contract numbers compared as written on paper: case, spaces and dashes aside.
fn same_contract_number(theirs: &str, given: &str) -> bool {
    let plain = |text: &str| -> String {
        text.chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '.')
            .flat_map(char::to_uppercase)
            .collect()
    };
    let (theirs, given) = (plain(theirs), plain(given));
    !theirs.is_empty() && theirs == given
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedCode {
    service: Service,
    code: String,
    linked_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedCodes {
    links: Vec<LinkedCode>,
}

/// The codes the caller linked, newest first.
#[utoipa::path(get, path = "/v1/payments/customer-links", tag = "payments",
    responses((status = 200, body = LinkedCodes)),
    security(("bearer" = [])))]
pub async fn list_links(
    State(state): State<PaymentsState>,
    principal: Principal,
) -> Result<Json<LinkedCodes>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT service, code, linked_at FROM customer_links WHERE account_id = $1
           ORDER BY linked_at DESC, service, code"#,
        principal.account_id
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(LinkedCodes {
        links: rows
            .into_iter()
            .filter_map(|row| {
                Some(LinkedCode {
                    service: Service::parse(&row.service)?,
                    code: row.code,
                    linked_at: row.linked_at,
                })
            })
            .collect(),
    }))
}

/// Unlinks a code from the caller (nothing to unlink is no error). A code they paid stays
/// shown in full.
#[utoipa::path(delete, path = "/v1/payments/customer-links/{service}/{code}", tag = "payments",
    params(("service" = String, Path), ("code" = String, Path)),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 404, body = platform::error::Problem, description = "`bill_kind_not_found`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_customer_code`"),
    ),
    security(("bearer" = [])))]
pub async fn unlink_code(
    State(state): State<PaymentsState>,
    principal: Principal,
    Path((service, code)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let service = parse_service(&service)?;
    let code = bills::normalized(service, &code)?;
    sqlx::query!(
        "DELETE FROM customer_links WHERE account_id = $1 AND service = $2 AND code = $3",
        principal.account_id,
        service.as_str(),
        code
    )
    .execute(&state.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_service(text: &str) -> Result<Service, ApiError> {
    Service::parse(text).ok_or_else(|| PaymentsError::BillKindNotFound.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_name_keeps_each_words_initial() {
        assert_eq!(initials("Nguyễn Thị Hoa"), "N. T. H.");
        assert_eq!(initials("Tôn Nữ Thị Thu Hà"), "T. N. T. T. H.");
        assert_eq!(initials("  đặng   văn  an "), "Đ. V. A.");
        assert_eq!(initials(""), "");
    }

    #[test]
    fn contract_numbers_match_as_written_on_paper() {
        assert!(same_contract_number("PC05HU-123 456", "pc05hu123456"));
        assert!(!same_contract_number("PC05HU123456", "PC05HU123457"));
        assert!(!same_contract_number("", ""));
    }
}
