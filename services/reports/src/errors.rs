//! Every error reports answers with beyond the shared ones, each worded once.

platform::error_codes! {
    /// What reports answers when a request cannot be carried out.
    pub enum ReportsError {
        // Reports and their workflow.
        /// No such report, or not one the caller may see (outside a staff member's scope, not
        /// the resident's own).
        ReportNotFound = (NOT_FOUND, "report_not_found",
            "Không tìm thấy phản ánh.", "There is no such report."),
        /// A workflow action the report's current status does not allow.
        IllegalTransition { action: &'static str, status: &'static str } = (
            CONFLICT, "illegal_transition",
            "Không thể thực hiện `{action}` khi phản ánh đang ở trạng thái `{status}`.",
            "`{action}` is not possible while the report is `{status}`."),
        /// A status filter that is not one of those the route takes, listed in `allowed`.
        InvalidStatus { status: String, allowed: String } = (BAD_REQUEST, "invalid_status",
            "Trạng thái `{status}` không hợp lệ ở đây; chọn một trong: {allowed}.",
            "`{status}` is not a status allowed here; one of: {allowed}."),

        // Filing.
        /// A position in no ward of any jurisdiction (of the one named, if one was).
        OutsideJurisdiction = (UNPROCESSABLE_ENTITY, "outside_jurisdiction",
            "Vị trí này nằm ngoài địa bàn tiếp nhận phản ánh.",
            "This position is outside the area the city handles reports for."),
        DescriptionTooLong { max: usize } = (UNPROCESSABLE_ENTITY, "description_too_long",
            "Mô tả tối đa {max} ký tự.", "The description may have at most {max} characters."),
        /// Neither a description nor a photo.
        ReportEmpty = (UNPROCESSABLE_ENTITY, "report_empty",
            "Hãy mô tả sự việc hoặc gửi kèm ảnh.", "Describe the problem or attach a photo."),
        /// A category the jurisdiction does not have, or no longer takes reports in.
        UnknownCategory = (UNPROCESSABLE_ENTITY, "unknown_category",
            "Không có loại phản ánh này ở địa bàn.", "There is no such category here."),
        /// An answer that does not fit the category's question `question`.
        InvalidAnswers { question: String, problem_vi: &'static str, problem_en: &'static str } = (
            UNPROCESSABLE_ENTITY, "invalid_answers",
            "Câu trả lời `{question}`: {problem_vi}", "Answer `{question}`: {problem_en}"),
        /// Over the filer's reports an hour; answered with the wait in `Retry-After`.
        TooManyReports = (TOO_MANY_REQUESTS, "too_many_reports",
            "Bạn đã gửi quá nhiều phản ánh trong một giờ. Vui lòng thử lại sau.",
            "You have filed too many reports in the last hour. Please try again later."),
        /// The account is banned from filing in the jurisdiction (`until` in the city's time).
        BannedFromFiling { until: String, reason: String } = (FORBIDDEN, "banned_from_filing",
            "Tài khoản bị tạm ngừng gửi phản ánh đến {until}. Lý do: {reason}",
            "This account may not file reports until {until}. Reason: {reason}"),
        /// Media knows no such photo of the filer's.
        MediaNotOwned = (UNPROCESSABLE_ENTITY, "media_not_owned",
            "Có ảnh không tồn tại hoặc không phải của bạn.",
            "A photo does not exist or is not yours."),

        // What residents do with their reports.
        /// The near-me radius is not a positive number.
        InvalidRadius = (BAD_REQUEST, "invalid_radius",
            "Bán kính phải là số dương (mét).", "The radius must be a positive number of metres."),
        InvalidRating = (UNPROCESSABLE_ENTITY, "invalid_rating",
            "Điểm đánh giá từ 1 đến 5, nhận xét tối đa 1000 ký tự.",
            "A rating is 1 to 5, with a comment of at most 1000 characters."),
        /// Rating a report that is not resolved or closed.
        NotResolved = (CONFLICT, "not_resolved",
            "Phản ánh chưa được xử lý xong.", "The report is not resolved yet."),
        AlreadyRated = (CONFLICT, "already_rated",
            "Bạn đã đánh giá phản ánh này.", "You already rated this report."),
        ReopenWindowPassed { days: i64 } = (CONFLICT, "reopen_window_passed",
            "Chỉ có thể mở lại trong {days} ngày sau khi xử lý xong.",
            "A resolution can only be reopened within {days} days."),

        // What officers do.
        /// A note (an officer's comment or public note, a resident's reason to reopen) that is
        /// empty or too long.
        NoteRequired { max: usize } = (UNPROCESSABLE_ENTITY, "note_required",
            "Cần có ghi chú (tối đa {max} ký tự).",
            "A note is needed (at most {max} characters)."),
        /// An optional note that is too long.
        NoteTooLong { max: usize } = (UNPROCESSABLE_ENTITY, "note_too_long",
            "Ghi chú tối đa {max} ký tự.", "A note may have at most {max} characters."),
        /// Resolving without a proof photo and a public note (or a template).
        ProofRequired = (UNPROCESSABLE_ENTITY, "proof_required",
            "Cần ít nhất một ảnh minh chứng và ghi chú công khai để hoàn thành xử lý.",
            "Resolving needs at least one proof photo and a public note."),
        /// Rejecting a report without its reason, or a moderation action without its text.
        ReasonRequired = (UNPROCESSABLE_ENTITY, "reason_required",
            "Cần có lý do: để từ chối, một trong not_responsible, duplicate, invalid, spam; để kiểm duyệt, một đoạn văn tối đa 1000 ký tự.",
            "A reason is needed: to reject, one of not_responsible, duplicate, invalid or spam; to moderate, a text of at most 1,000 characters."),
        AssigneeRequired = (UNPROCESSABLE_ENTITY, "assignee_required",
            "Cần chọn cán bộ được giao.", "Assigning needs an assignee."),
        /// The assignee is not staff who work on the report's ward or department.
        InvalidAssignee = (UNPROCESSABLE_ENTITY, "invalid_assignee",
            "Cán bộ này không phụ trách phản ánh ở phường hoặc phòng ban này.",
            "This staff member does not work on reports of this ward or department."),
        /// A bulk action on no report, or on more than it takes.
        InvalidReportIds { max: usize } = (UNPROCESSABLE_ENTITY, "invalid_report_ids",
            "Cần từ 1 đến {max} phản ánh.", "Between 1 and {max} reports are needed."),
        /// Linking a report as a duplicate of itself, or of an original that cannot be one.
        InvalidDuplicate = (UNPROCESSABLE_ENTITY, "invalid_duplicate",
            "Không thể gộp: một phản ánh không thể trùng với chính nó; phản ánh gốc phải đang mở, cùng địa bàn và không là bản trùng; phản ánh này không được là gốc của bản trùng khác.",
            "Cannot link: a report cannot duplicate itself; the original must be open, in the same jurisdiction and not itself a duplicate, and this report must not be the original of others."),
        /// A response template that does not exist for the report's category and the action.
        UnknownTemplate = (UNPROCESSABLE_ENTITY, "unknown_template",
            "Không có mẫu phản hồi này cho loại phản ánh và thao tác này.",
            "There is no such response template for this category and action."),

        // Moderation.
        /// A ban's end that is past or more than a year ahead.
        InvalidUntil = (UNPROCESSABLE_ENTITY, "invalid_until",
            "Thời hạn phải trong tương lai, tối đa một năm.",
            "`until` must be in the future, at most a year ahead."),
        /// Lifting a ban the account is not under.
        BanNotFound = (NOT_FOUND, "ban_not_found",
            "Tài khoản này không bị cấm.", "This account is not banned."),
        TooManyTemplates { max: usize } = (UNPROCESSABLE_ENTITY, "too_many_templates",
            "Tối đa {max} mẫu.", "At most {max} templates."),
        /// A response template with a bad id, text, placeholder or action, or an id used twice.
        InvalidTemplate { id: String, problem: String } = (UNPROCESSABLE_ENTITY, "invalid_template",
            "Mẫu `{id}` không hợp lệ.", "Template `{id}`: {problem}"),

        // The operations centre.
        /// KPIs or a heatmap asked of no jurisdiction by someone whose scope has none.
        JurisdictionRequired = (BAD_REQUEST, "jurisdiction_required",
            "Cần chọn địa bàn (jurisdiction).", "Choose a jurisdiction (`jurisdiction`)."),
        InvalidWindow { max_days: i64 } = (BAD_REQUEST, "invalid_window",
            "`from` phải trước `to`, cách nhau tối đa {max_days} ngày.",
            "`from` must be before `to`, at most {max_days} days apart."),
        /// A heatmap's H3 resolution out of range.
        InvalidResolution = (BAD_REQUEST, "invalid_resolution",
            "Độ phân giải H3 phải từ 6 đến 10.", "The H3 resolution must be 6 to 10."),
        HeatmapTooDetailed { max: usize } = (BAD_REQUEST, "heatmap_too_detailed",
            "Quá {max} ô; hãy chọn độ phân giải thô hơn hoặc khoảng thời gian ngắn hơn.",
            "More than {max} cells; choose a coarser resolution or a shorter window."),

        // Jurisdictions, wards and Open311 clients, as admins set them up.
        /// A jurisdiction file or ward collection that breaks a rule the words name.
        InvalidJurisdictionData { problem_vi: String, problem_en: String } = (
            UNPROCESSABLE_ENTITY, "invalid_jurisdiction_data", "{problem_vi}", "{problem_en}"),
        /// A ward that would overlap another jurisdiction's.
        OverlapsJurisdiction { ward: String, other_ward: String, other_jurisdiction: String } = (
            UNPROCESSABLE_ENTITY, "overlaps_jurisdiction",
            "Phường `{ward}` chồng lên phường `{other_ward}` của địa bàn `{other_jurisdiction}`.",
            "Ward `{ward}` overlaps ward `{other_ward}` of jurisdiction `{other_jurisdiction}`."),
        /// A ward import that would drop wards reports are in (some of them listed).
        WardInUse { wards: String } = (CONFLICT, "ward_in_use",
            "Không thể xoá phường đang có phản ánh: {wards}.",
            "Wards with reports cannot be removed: {wards}."),
        /// More ward ids than one lookup takes (identity's call).
        TooManyWards { max: usize } = (BAD_REQUEST, "too_many_wards",
            "Tối đa {max} phường mỗi lần.", "At most {max} wards at a time."),
        Open311ClientNotFound = (NOT_FOUND, "open311_client_not_found",
            "Không có khóa Open311 này.", "There is no such Open311 client."),
    }
}
