//! Every error alerts answers with beyond the shared ones, each worded once.

platform::error_codes! {
    pub enum AlertsError {
        AlertNotFound = (NOT_FOUND, "alert_not_found",
            "Không có cảnh báo này.", "There is no such alert."),
        /// Updated or cancelled already, or expired: only the alert in force can change.
        AlertNotCurrent = (CONFLICT, "alert_not_current",
            "Cảnh báo này đã được cập nhật, đã hủy hoặc đã hết hiệu lực.",
            "This alert was already updated or cancelled, or has expired."),
        /// An authority's alert: CAP lets only its sender cancel it.
        AlertOfAnotherSender = (CONFLICT, "alert_of_another_sender",
            "Cảnh báo này do cơ quan khác phát hành; chỉ cơ quan đó có thể hủy.",
            "Another authority issued this alert; only it can cancel it."),
        /// A ward officer's notice cannot be severe or urgent: the city issues warnings.
        NoticeTooSevere = (UNPROCESSABLE_ENTITY, "notice_too_severe",
            "Thông báo của phường chỉ ở mức nhẹ hoặc trung bình; cảnh báo khẩn do thành phố phát hành.",
            "Ward notices are minor or moderate; urgent warnings are issued by the city."),
        UnknownAlertKind = (UNPROCESSABLE_ENTITY, "unknown_alert_kind",
            "Loại cảnh báo không hợp lệ.",
            "Unknown alert kind: use disaster, traffic, power_outage, water_outage, scam, announcement or neighbourhood."),
        /// An urgency, severity or certainty CAP does not name.
        InvalidAlertScale = (UNPROCESSABLE_ENTITY, "invalid_alert_scale",
            "Mức khẩn cấp, mức nghiêm trọng hoặc độ chắc chắn không hợp lệ.",
            "The urgency, severity or certainty is not one CAP names."),
        /// Expires in the past, more than 30 days ahead, or before its onset.
        InvalidAlertPeriod = (UNPROCESSABLE_ENTITY, "invalid_alert_period",
            "Thời gian hiệu lực không hợp lệ: cảnh báo phải hết hạn trong vòng 30 ngày tới và sau thời điểm bắt đầu.",
            "The alert must expire within the next 30 days, and after its onset."),
    }
}
