//! A report's life: `submitted -> accepted -> assigned -> in_progress -> resolved -> closed`,
//! `rejected` with a reason from any open state, and `reopened` by its reporter within a week
//! of resolution. Which action leads where is this one table; who may take it and what it needs
//! are checked by the handlers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    Accepted,
    Assigned,
    InProgress,
    Resolved,
    Closed,
    Rejected,
    Reopened,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Submitted,
        Status::Accepted,
        Status::Assigned,
        Status::InProgress,
        Status::Resolved,
        Status::Closed,
        Status::Rejected,
        Status::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Accepted => "accepted",
            Status::Assigned => "assigned",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Rejected => "rejected",
            Status::Reopened => "reopened",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Still waiting for the city: counts toward duplicates and the SLA.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Resolved | Status::Closed | Status::Rejected)
    }
}

/// The open statuses as an SQL list. Queries of open reports spell out this very list, as the
/// queue indexes' partial predicates do, so PostgreSQL can use those indexes (a bound array
/// would not match a predicate); `tests::the_open_status_list_is_the_open_statuses` keeps it
/// true to `Status::is_open`.
pub const OPEN_STATUSES_SQL: &str =
    "('submitted', 'accepted', 'assigned', 'in_progress', 'reopened')";

/// What staff (or, for `reopen`, the reporter) do to a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Accept,
    Assign,
    Start,
    Resolve,
    Reject,
    Close,
    Reopen,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Accept,
        Action::Assign,
        Action::Start,
        Action::Resolve,
        Action::Reject,
        Action::Close,
        Action::Reopen,
    ];

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Assign => "assign",
            Action::Start => "start",
            Action::Resolve => "resolve",
            Action::Reject => "reject",
            Action::Close => "close",
            Action::Reopen => "reopen",
        }
    }
}

/// Where `action` takes a report in `status`; `None` when it may not be taken there.
pub fn next(status: Status, action: Action) -> Option<Status> {
    use Status::*;
    let allowed: &[Status] = match action {
        Action::Accept => &[Submitted, Reopened],
        // Reassigning is assigning again.
        Action::Assign => &[Accepted, Assigned, InProgress, Reopened],
        Action::Start => &[Accepted, Assigned, Reopened],
        // Small jobs are fixed without passing through every step.
        Action::Resolve => &[Accepted, Assigned, InProgress, Reopened],
        Action::Reject => &[Submitted, Accepted, Assigned, InProgress, Reopened],
        Action::Close => &[Resolved],
        Action::Reopen => &[Resolved, Closed],
    };
    if !allowed.contains(&status) {
        return None;
    }
    Some(match action {
        Action::Accept => Accepted,
        Action::Assign => Assigned,
        Action::Start => InProgress,
        Action::Resolve => Resolved,
        Action::Reject => Rejected,
        Action::Close => Closed,
        Action::Reopen => Reopened,
    })
}

/// Why staff reject a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    NotResponsible,
    Duplicate,
    Invalid,
    Spam,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::NotResponsible => "not_responsible",
            RejectReason::Duplicate => "duplicate",
            RejectReason::Invalid => "invalid",
            RejectReason::Spam => "spam",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_leads_from_submitted_to_closed() {
        let mut status = Status::Submitted;
        for action in [
            Action::Accept,
            Action::Assign,
            Action::Start,
            Action::Resolve,
            Action::Close,
        ] {
            status = next(status, action).unwrap();
        }
        assert_eq!(status, Status::Closed);
    }

    #[test]
    fn final_states_stay_final_except_a_reopened_resolution() {
        for action in Action::ALL {
            assert_eq!(next(Status::Rejected, action), None, "{action:?}");
        }
        assert_eq!(next(Status::Closed, Action::Reopen), Some(Status::Reopened));
        assert_eq!(next(Status::Closed, Action::Accept), None);
        assert_eq!(next(Status::Submitted, Action::Close), None);
        assert_eq!(next(Status::Submitted, Action::Reopen), None);
        assert_eq!(next(Status::Resolved, Action::Reject), None);
    }

    #[test]
    fn the_open_status_list_is_the_open_statuses() {
        let open: Vec<String> = Status::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(OPEN_STATUSES_SQL, format!("({})", open.join(", ")));
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
    }
}
