//! Social insurance lookup: a verified resident's social insurance number (mã số BHXH), current
//! employer and contribution periods, read from Việt Nam Social Security's participant lookup
//! by their personal ID number. Nothing of it is kept here.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use platform::ApiError;
use platform::auth::Principal;
use platform::text::Text;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::upstream::UpstreamError;
use crate::{AdministrationError, AdministrationState, unavailable};

#[derive(Deserialize)]
struct Answer {
    data: Participant,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Participant {
    ma_so_bhxh: String,
    ho_ten: String,
    ngay_sinh: Option<NaiveDate>,
    so_dinh_danh: String,
    don_vi_hien_tai: Option<Employer>,
    #[serde(default)]
    qua_trinh_dong: Vec<Period>,
    tong_thang: Totals,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Employer {
    ma_don_vi: Option<String>,
    ten_don_vi: String,
    dia_chi: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Period {
    tu_thang: String,
    den_thang: Option<String>,
    ten_don_vi: Option<String>,
    chuc_vu: Option<String>,
    muc_luong_dong: Option<i64>,
    loai_hinh: String,
    tham_gia_bhtn: bool,
}

#[derive(Deserialize)]
struct Totals {
    bhxh: u32,
    bhtn: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SocialInsurance {
    /// The social insurance number (10 digits).
    number: String,
    name: String,
    birth_date: Option<NaiveDate>,
    current_employer: Option<EmployerView>,
    /// Oldest first.
    periods: Vec<PeriodView>,
    /// Months contributed to social insurance and to unemployment insurance.
    months: Months,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmployerView {
    code: Option<String>,
    name: String,
    address: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodView {
    /// `YYYY-MM`.
    from: String,
    /// `YYYY-MM`; absent while it goes on.
    to: Option<String>,
    employer: Option<String>,
    position: Option<String>,
    /// The salary contributions were computed on, in đồng a month.
    salary_basis_vnd: Option<i64>,
    /// `compulsory` or `voluntary`.
    kind: &'static str,
    kind_label: Text,
    /// Unemployment insurance paid too.
    unemployment_insurance: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Months {
    social_insurance: u32,
    unemployment_insurance: u32,
}

/// My social insurance record.
#[utoipa::path(get, path = "/v1/administration/social-insurance", operation_id = "get_my_social_insurance", tag = "administration", security(("bearer" = [])),
    responses((status = 200, body = SocialInsurance),
        (status = 403, description = "`verification_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_insured`, `no_social_insurance_system`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AdministrationState>,
    principal: Principal,
) -> Result<Json<SocialInsurance>, ApiError> {
    let citizen = state.identity.verified_citizen(&principal).await?;
    let system = state
        .social_insurance
        .as_ref()
        .ok_or(AdministrationError::NoSocialInsuranceSystem)?;
    let answer: Answer = match system
        .get(
            "/api/v1/nguoi-tham-gia",
            &[("soDinhDanh", citizen.national_id.as_str())],
        )
        .await
    {
        Ok(answer) => answer,
        Err(UpstreamError::NotFound) => return Err(AdministrationError::NotInsured.into()),
        Err(error) => return Err(unavailable(error)),
    };
    let person = answer.data;
    // Only the record of the number asked for, whatever the system sent.
    if person.so_dinh_danh != citizen.national_id {
        return Err(unavailable(UpstreamError::Unavailable(
            "social insurance answered for another personal ID".to_owned(),
        )));
    }
    Ok(Json(SocialInsurance {
        number: person.ma_so_bhxh,
        name: person.ho_ten,
        birth_date: person.ngay_sinh,
        current_employer: person.don_vi_hien_tai.map(|e| EmployerView {
            code: e.ma_don_vi,
            name: e.ten_don_vi,
            address: e.dia_chi,
        }),
        periods: person
            .qua_trinh_dong
            .into_iter()
            .map(|p| {
                let voluntary = p.loai_hinh == "tu_nguyen";
                PeriodView {
                    from: p.tu_thang,
                    to: p.den_thang,
                    employer: p.ten_don_vi,
                    position: p.chuc_vu,
                    salary_basis_vnd: p.muc_luong_dong,
                    kind: if voluntary { "voluntary" } else { "compulsory" },
                    kind_label: if voluntary {
                        Text::new("BHXH tự nguyện", "Voluntary social insurance")
                    } else {
                        Text::new("BHXH bắt buộc", "Compulsory social insurance")
                    },
                    unemployment_insurance: p.tham_gia_bhtn,
                }
            })
            .collect(),
        months: Months {
            social_insurance: person.tong_thang.bhxh,
            unemployment_insurance: person.tong_thang.bhtn,
        },
    }))
}
