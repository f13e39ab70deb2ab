//! Every error health answers with beyond the shared ones, each worded once.

platform::error_codes! {
    pub enum HealthError {
        /// The resident's jurisdiction has no health system connected.
        NoHealthSystem = (NOT_FOUND, "no_health_system",
            "Địa bàn của bạn chưa kết nối với hệ thống thông tin y tế.",
            "Your city is not connected to a health information system yet."),
        /// The health system has no record filed under the resident's personal ID number.
        NoHealthRecord = (NOT_FOUND, "no_health_record",
            "Hệ thống y tế chưa có hồ sơ gắn với số định danh của bạn.",
            "The health system has no record under your personal ID number."),
        /// Neither the caller nor a child they may act for.
        PersonNotFound = (NOT_FOUND, "person_not_found",
            "Không có hồ sơ của người này trong số những người bạn được xem.",
            "There is no such person among those whose records you may see."),
        /// The person has no health insurance card on record.
        NoInsuranceCard = (NOT_FOUND, "no_insurance_card",
            "Chưa có thông tin thẻ bảo hiểm y tế.",
            "There is no health insurance card on record."),

        // Hospital appointments.
        /// A day in the past or more than 60 days ahead.
        InvalidDate = (UNPROCESSABLE_ENTITY, "invalid_date",
            "Chỉ đặt lịch được từ hôm nay đến 60 ngày tới.",
            "Appointments can be booked from today up to 60 days ahead."),
        DepartmentNotFound = (NOT_FOUND, "department_not_found",
            "Không có khoa khám này.", "There is no such department."),
        /// No such slot, or one already started.
        SlotNotFound = (NOT_FOUND, "slot_not_found",
            "Không có khung giờ khám này.", "There is no such time slot."),
        /// Someone else booked it first, or the hospital closed it.
        SlotTaken = (CONFLICT, "slot_taken",
            "Khung giờ này vừa có người đặt. Vui lòng chọn khung giờ khác.",
            "This time slot has just been taken. Please choose another."),
        /// Not an appointment of the caller's.
        AppointmentNotFound = (NOT_FOUND, "appointment_not_found",
            "Không có lịch hẹn này.", "There is no such appointment."),
        /// It has started, or the hospital has closed it (attended, cancelled there).
        AppointmentPast = (CONFLICT, "appointment_past",
            "Lịch hẹn này đã qua hoặc bệnh viện đã đóng, không thể hủy.",
            "This appointment has passed or the hospital has closed it; it cannot be cancelled."),
    }
}
