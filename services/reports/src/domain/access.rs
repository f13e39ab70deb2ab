//! Which reports a staff member may see and act on. One rule, used by every staff query as SQL
//! parameters: platform admins see everything; everyone else only their jurisdiction, and there
//! jurisdiction admins see all of it, ward officers their wards, department staff their
//! departments, and anyone the reports assigned to them.

use platform::ApiError;
use platform::auth::{Principal, Role};
use uuid::Uuid;

/// A staff member's reach, as bound into `WHERE` clauses:
/// `($all OR jurisdiction_id = $jurisdiction) AND ($whole OR ward_id = ANY($wards)
///  OR department_id = ANY($departments) OR assignee_id = $me)`.
#[derive(Debug, Clone)]
pub struct StaffScope {
    pub me: Uuid,
    pub role: Role,
    /// Every jurisdiction (platform admins).
    pub all: bool,
    pub jurisdiction: String,
    /// All of the jurisdiction (jurisdiction admins).
    pub whole: bool,
    pub wards: Vec<String>,
    pub departments: Vec<String>,
}

impl StaffScope {
    /// The caller's scope; 404 for residents, so staff routes do not reveal themselves.
    pub fn of(principal: &Principal) -> Result<StaffScope, ApiError> {
        let all = principal.has_role(Role::PlatformAdmin);
        let whole = all || principal.has_role(Role::JurisdictionAdmin);
        let role = [
            Role::PlatformAdmin,
            Role::JurisdictionAdmin,
            Role::WardOfficer,
            Role::DepartmentStaff,
        ]
        .into_iter()
        .find(|role| principal.has_role(*role))
        .ok_or_else(ApiError::route_not_found)?;
        let jurisdiction = principal.scope.jurisdiction.clone().unwrap_or_default();
        if !all && jurisdiction.is_empty() {
            return Err(ApiError::route_not_found());
        }
        Ok(StaffScope {
            me: principal.account_id,
            role,
            all,
            jurisdiction,
            whole,
            wards: principal.scope.wards.clone(),
            departments: principal.scope.departments.clone(),
        })
    }

    /// Whether a report with these coordinates is within reach (the SQL rule, in Rust).
    pub fn covers(
        &self,
        jurisdiction: &str,
        ward: &str,
        department: &str,
        assignee: Option<Uuid>,
    ) -> bool {
        (self.all || self.jurisdiction == jurisdiction)
            && (self.whole
                || self.wards.iter().any(|w| w == ward)
                || self.departments.iter().any(|d| d == department)
                || assignee == Some(self.me))
    }
}

/// A staff member as identity describes them (its internal staff lookup).
#[derive(Debug, serde::Deserialize)]
pub struct StaffMember {
    pub roles: Vec<Role>,
    pub scope: platform::auth::Scope,
    pub disabled: bool,
}

impl StaffMember {
    /// Whether they could work on a report of this jurisdiction, ward and department.
    pub fn may_work_on(&self, jurisdiction: &str, ward: &str, department: &str) -> bool {
        if self.disabled {
            return false;
        }
        if self.roles.contains(&Role::PlatformAdmin) {
            return true;
        }
        self.scope.jurisdiction.as_deref() == Some(jurisdiction)
            && (self.roles.contains(&Role::JurisdictionAdmin)
                || (self.roles.contains(&Role::WardOfficer)
                    && self.scope.wards.iter().any(|w| w == ward))
                || (self.roles.contains(&Role::DepartmentStaff)
                    && self.scope.departments.iter().any(|d| d == department)))
    }
}

/// Others than its administrators get 404: a jurisdiction's admin routes do not exist for them.
pub(crate) fn may_administer(principal: &Principal, jurisdiction: &str) -> Result<(), ApiError> {
    if principal.administers(jurisdiction) {
        return Ok(());
    }
    Err(ApiError::route_not_found())
}
