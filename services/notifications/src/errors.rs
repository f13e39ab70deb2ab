platform::error_codes! {
    /// What notifications answers when a request cannot be carried out.
    pub enum NotificationsError {
        InvalidPreferences = (UNPROCESSABLE_ENTITY, "invalid_preferences",
            "Giờ yên lặng phải có giờ bắt đầu khác giờ kết thúc; độ lệch múi giờ từ -720 đến 840 phút.",
            "Quiet hours need different start and end times; the UTC offset is -720 to 840 minutes."),
        /// A broadcast's texts together do not fit one push.
        MessageTooLong = (UNPROCESSABLE_ENTITY, "message_too_long",
            "Nội dung quá dài cho một thông báo đẩy; hãy rút gọn.",
            "The texts are too long for one push notification; shorten them."),
        BroadcastNotFound = (NOT_FOUND, "broadcast_not_found",
            "Không tìm thấy thông báo khẩn này.", "There is no such broadcast."),
        BroadcastCompleted = (CONFLICT, "broadcast_completed",
            "Thông báo khẩn đã gửi xong, không thể hủy.",
            "The broadcast was sent completely; there is nothing to cancel."),
        WebPushUnavailable = (NOT_FOUND, "web_push_unavailable",
            "Máy chủ chưa bật thông báo đẩy cho trình duyệt.",
            "Web Push is not configured on this server."),
        NoticeNotFound = (NOT_FOUND, "notice_not_found",
            "Không tìm thấy thông báo.", "There is no such notice."),
    }
}
