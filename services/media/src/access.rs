//! Which photos staff may read: those attached to something they may work on. Media never
//! reads reports' tables: the service that attaches a photo says where the thing belongs
//! (jurisdiction, ward, department), and the rule is the one reports applies to reports
//! themselves: platform admins everywhere; everyone else within their jurisdiction, where
//! jurisdiction admins see all of it and others their wards and departments. An upload attached
//! to nothing is its owner's alone.

use platform::auth::{Principal, Role};

/// A staff member's reach, as bound into `WHERE` clauses:
/// `attached_to IS NOT NULL AND ($all OR (jurisdiction_id = $jurisdiction AND ($whole OR
///  ward_id = ANY($wards) OR department_id = ANY($departments))))`.
#[derive(Debug, Clone)]
pub(crate) struct StaffReach {
    /// Every jurisdiction (platform admins).
    pub all: bool,
    pub jurisdiction: String,
    /// All of the jurisdiction (jurisdiction admins).
    pub whole: bool,
    pub wards: Vec<String>,
    pub departments: Vec<String>,
}

/// Where the thing a photo is attached to belongs; all `None` when it is attached to nothing.
pub(crate) struct AttachedTo<'a> {
    pub attached: bool,
    pub jurisdiction: Option<&'a str>,
    pub ward: Option<&'a str>,
    pub department: Option<&'a str>,
}

impl StaffReach {
    /// The caller's reach; `None` for residents and for staff of no jurisdiction.
    pub(crate) fn of(principal: &Principal) -> Option<StaffReach> {
        if !principal.roles.iter().any(|role| *role != Role::Resident) {
            return None;
        }
        let all = principal.has_role(Role::PlatformAdmin);
        let jurisdiction = principal.scope.jurisdiction.clone().unwrap_or_default();
        if !all && jurisdiction.is_empty() {
            return None;
        }
        Some(StaffReach {
            all,
            jurisdiction,
            whole: all || principal.has_role(Role::JurisdictionAdmin),
            wards: principal.scope.wards.clone(),
            departments: principal.scope.departments.clone(),
        })
    }

    /// The SQL rule above, in Rust.
    pub(crate) fn covers(&self, photo: &AttachedTo<'_>) -> bool {
        let listed = |list: &[String], item: Option<&str>| {
            item.is_some_and(|item| list.iter().any(|listed| listed == item))
        };
        photo.attached
            && (self.all
                || (photo.jurisdiction == Some(self.jurisdiction.as_str())
                    && (self.whole
                        || listed(&self.wards, photo.ward)
                        || listed(&self.departments, photo.department))))
    }
}

#[cfg(test)]
mod tests {
    use platform::auth::{Acr, Scope};
    use uuid::Uuid;

    use super::*;

    fn staff(role: Role, jurisdiction: &str, wards: &[&str], departments: &[&str]) -> Principal {
        Principal {
            account_id: Uuid::nil(),
            session_id: Uuid::nil(),
            token_id: Uuid::nil(),
            roles: vec![role],
            scope: Scope {
                jurisdiction: Some(jurisdiction.to_owned()).filter(|j| !j.is_empty()),
                wards: wards.iter().map(|w| (*w).to_owned()).collect(),
                departments: departments.iter().map(|d| (*d).to_owned()).collect(),
            },
            acr: Acr::Basic,
            expires_at: 0,
        }
    }

    const PHOTO: AttachedTo<'static> = AttachedTo {
        attached: true,
        jurisdiction: Some("hue"),
        ward: Some("phu-xuan"),
        department: Some("construction"),
    };
    const UNATTACHED: AttachedTo<'static> = AttachedTo {
        attached: false,
        jurisdiction: None,
        ward: None,
        department: None,
    };

    fn covers(principal: Principal, photo: &AttachedTo<'_>) -> bool {
        StaffReach::of(&principal).is_some_and(|reach| reach.covers(photo))
    }

    #[test]
    fn staff_reach_photos_of_what_they_work_on() {
        use Role::*;
        assert!(covers(
            staff(WardOfficer, "hue", &["phu-xuan"], &[]),
            &PHOTO
        ));
        assert!(covers(
            staff(DepartmentStaff, "hue", &[], &["construction"]),
            &PHOTO
        ));
        assert!(covers(staff(JurisdictionAdmin, "hue", &[], &[]), &PHOTO));
        assert!(covers(staff(PlatformAdmin, "", &[], &[]), &PHOTO));

        assert!(!covers(
            staff(WardOfficer, "hue", &["thuan-hoa"], &[]),
            &PHOTO
        ));
        assert!(!covers(
            staff(WardOfficer, "danang", &["phu-xuan"], &[]),
            &PHOTO
        ));
        assert!(!covers(
            staff(DepartmentStaff, "hue", &[], &["environment"]),
            &PHOTO
        ));
        assert!(!covers(
            staff(JurisdictionAdmin, "danang", &[], &[]),
            &PHOTO
        ));
        assert!(!covers(staff(WardOfficer, "", &["phu-xuan"], &[]), &PHOTO));
        assert!(!covers(staff(Resident, "hue", &["phu-xuan"], &[]), &PHOTO));
        assert!(!covers(staff(PlatformAdmin, "", &[], &[]), &UNATTACHED));
    }
}
