//! Who among the staff may act on what, and what community asks reports about a
//! jurisdiction's wards and departments.

use platform::ApiError;
use platform::auth::{Principal, Role};
use platform::error::SharedError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::CommunityState;

/// Whether the caller works where a thing belongs: its jurisdiction's admins, the officers of
/// its ward, the staff of its department (as media decides who reads its photos).
pub fn works_on(
    principal: &Principal,
    jurisdiction: &str,
    ward: Option<&str>,
    department: Option<&str>,
) -> bool {
    if principal.administers(jurisdiction) {
        return true;
    }
    if principal.scope.jurisdiction.as_deref() != Some(jurisdiction) {
        return false;
    }
    let in_ward = ward.is_some_and(|ward| {
        principal.has_role(Role::WardOfficer) && principal.scope.wards.iter().any(|w| w == ward)
    });
    let in_department = department.is_some_and(|department| {
        principal.has_role(Role::DepartmentStaff)
            && principal.scope.departments.iter().any(|d| d == department)
    });
    in_ward || in_department
}

/// Whether the caller is staff at all (a resident learns nothing of staff routes: 404).
pub fn is_staff(principal: &Principal) -> bool {
    principal.roles.iter().any(|role| *role != Role::Resident)
}

/// A department of a jurisdiction, as reports names it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct QuestionDepartment {
    pub id: String,
    pub name_vi: String,
    pub name_en: String,
}

impl CommunityState {
    /// Refuses a ward the jurisdiction does not have (422 `unknown_ward`).
    async fn check_ward(&self, jurisdiction: &str, ward: &str) -> Result<(), ApiError> {
        let answer = self
            .reports
            .call(
                http::Method::POST,
                "/internal/v1/wards/find",
                Some(&json!({ "wards": [ward] })),
            )
            .await?;
        if !answer.status.is_success() {
            return Err(ApiError::internal(anyhow::anyhow!(
                "reports answered {} to a ward lookup",
                answer.status
            )));
        }
        let found = answer.body["wards"].as_array().is_some_and(|wards| {
            wards
                .iter()
                .any(|w| w["jurisdiction"] == jurisdiction && w["ward"] == ward)
        });
        if found {
            Ok(())
        } else {
            Err(SharedError::UnknownWard {
                ward: ward.to_owned(),
            }
            .into())
        }
    }

    /// Refuses a jurisdiction reports does not know (404) or a ward it does not have (422).
    pub async fn check_place(
        &self,
        jurisdiction: &str,
        ward: Option<&str>,
    ) -> Result<(), ApiError> {
        self.departments(jurisdiction).await?;
        match ward {
            Some(ward) => self.check_ward(jurisdiction, ward).await,
            None => Ok(()),
        }
    }

    /// The jurisdiction's departments; 404 `jurisdiction_not_found` for none.
    pub async fn departments(
        &self,
        jurisdiction: &str,
    ) -> Result<Vec<QuestionDepartment>, ApiError> {
        let answer = self
            .reports
            .call(
                http::Method::GET,
                &format!("/internal/v1/jurisdictions/{jurisdiction}/departments"),
                None::<&()>,
            )
            .await?;
        match answer.status.as_u16() {
            200 => serde_json::from_value(answer.body["departments"].clone())
                .map_err(ApiError::internal),
            404 => Err(ApiError::jurisdiction_not_found()),
            other => Err(ApiError::internal(anyhow::anyhow!(
                "reports answered {other} to a list of departments"
            ))),
        }
    }
}
