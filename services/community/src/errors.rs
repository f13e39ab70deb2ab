//! Every error community answers with beyond the shared ones, each worded once.

platform::error_codes! {
    pub enum CommunityError {
        EventNotFound = (NOT_FOUND, "event_not_found",
            "Không có sự kiện này.", "There is no such event."),
        UnknownEventCategory = (UNPROCESSABLE_ENTITY, "unknown_event_category",
            "Loại sự kiện không hợp lệ: festival, culture, sport, community hoặc other.",
            "Unknown kind of event: use festival, culture, sport, community or other."),
        /// An event that ends before it starts, or lasts over a year.
        InvalidEventPeriod = (UNPROCESSABLE_ENTITY, "invalid_event_period",
            "Thời gian sự kiện không hợp lệ: sự kiện phải kết thúc sau khi bắt đầu và kéo dài không quá một năm.",
            "Invalid event period: an event ends after it starts and lasts at most a year."),
        EventCancelled = (CONFLICT, "event_cancelled",
            "Sự kiện đã bị hủy.", "The event was cancelled."),
        LostItemNotFound = (NOT_FOUND, "lost_item_not_found",
            "Không có tin này.", "There is no such lost-and-found notice."),
        UnknownLostCategory = (UNPROCESSABLE_ENTITY, "unknown_lost_category",
            "Loại đồ vật không hợp lệ: documents, wallet, phone, keys, bag, vehicle, jewellery hoặc other.",
            "Unknown kind of belonging: use documents, wallet, phone, keys, bag, vehicle, jewellery or other."),
        /// Handed back or withdrawn: nothing more happens to it.
        LostItemSettled = (CONFLICT, "lost_item_settled",
            "Tin này đã kết thúc (đồ đã được trả lại hoặc tin đã được gỡ).",
            "This notice is settled: the belonging was handed back or the notice withdrawn."),
        /// The officers keep it: the poster no longer withdraws it.
        LostItemHeld = (CONFLICT, "lost_item_held",
            "Đồ vật đang được cơ quan chức năng lưu giữ; chỉ cán bộ mới có thể kết thúc tin này.",
            "The belonging is kept by the authorities; only their officers can settle this notice."),
        /// Officers keep found things, not lost ones.
        NotAFoundItem = (CONFLICT, "not_a_found_item",
            "Chỉ đồ nhặt được mới được cơ quan chức năng lưu giữ.",
            "Only found belongings are kept by the authorities."),
        /// More notices and questions in an hour than a resident writes.
        TooManyPosts = (TOO_MANY_REQUESTS, "too_many_community_posts",
            "Bạn đã gửi quá nhiều tin và câu hỏi trong một giờ. Vui lòng thử lại sau.",
            "You have sent too many notices and questions in an hour. Please try again later."),
        QuestionNotFound = (NOT_FOUND, "question_not_found",
            "Không có câu hỏi này.", "There is no such question."),
        UnknownDepartment { department: String } = (UNPROCESSABLE_ENTITY, "unknown_department",
            "Không có cơ quan `{department}` ở địa phương này.",
            "There is no department `{department}` in this jurisdiction."),
        /// Moderated already, or not yet published (for an answer).
        QuestionNotWaiting = (CONFLICT, "question_not_waiting",
            "Câu hỏi không ở bước này (đã được duyệt, từ chối hoặc trả lời).",
            "The question is not at this step: it was already moderated, rejected or answered."),
    }
}
