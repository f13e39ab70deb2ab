//! Every error administration answers with beyond the shared ones, each worded once.

platform::error_codes! {
    pub enum AdministrationError {
        // Dossiers.
        /// The resident's jurisdiction has no one-stop system connected.
        NoOneStopSystem = (NOT_FOUND, "no_one_stop_system",
            "Địa bàn của bạn chưa kết nối với hệ thống một cửa điện tử.",
            "Your city is not connected to a one-stop administrative system yet."),
        /// Not the shape of a dossier code.
        InvalidDossierCode = (UNPROCESSABLE_ENTITY, "invalid_dossier_code",
            "Mã hồ sơ không hợp lệ. Vui lòng nhập mã in trên giấy tiếp nhận và hẹn trả kết quả.",
            "This is not a valid application code. Please enter the code printed on your receipt."),
        InvalidPhoneDigits = (UNPROCESSABLE_ENTITY, "invalid_phone_digits",
            "Vui lòng nhập đúng 4 số cuối của số điện thoại người nộp hồ sơ.",
            "Please enter the last 4 digits of the applicant's phone number."),
        /// No such dossier, not the caller's, or the phone digits do not match: one answer
        /// for all, so a lookup tells nothing of whose dossier a code is.
        DossierNotFound = (NOT_FOUND, "dossier_not_found",
            "Không tìm thấy hồ sơ với mã và số điện thoại này.",
            "There is no application with this code and phone number."),
        TooManyDossierLookups = (TOO_MANY_REQUESTS, "too_many_dossier_lookups",
            "Bạn tra cứu quá nhanh. Vui lòng thử lại sau ít phút.",
            "Too many lookups. Please try again in a few minutes."),
        /// Too many lookups of one code: someone may be guessing its digits.
        DossierLookupsLocked = (TOO_MANY_REQUESTS, "dossier_lookups_locked",
            "Mã hồ sơ này đã được tra cứu quá nhiều lần. Vui lòng thử lại sau.",
            "This application code was looked up too many times. Please try again later."),

        // Appointments.
        CentreNotFound = (NOT_FOUND, "centre_not_found",
            "Không có nơi tiếp nhận hồ sơ này.", "There is no such service centre."),
        /// The centre does not offer that service.
        CounterServiceNotFound = (NOT_FOUND, "counter_service_not_found",
            "Nơi tiếp nhận này không có dịch vụ đó.", "The centre does not offer this service."),
        /// Not a slot of the centre's hours, in the past, or beyond the booking horizon.
        SlotUnavailable = (UNPROCESSABLE_ENTITY, "booking_slot_unavailable",
            "Thời gian này không nhận lịch hẹn. Vui lòng chọn một khung giờ còn trống.",
            "Appointments cannot be booked at this time. Please pick a free slot."),
        /// Every counter of the slot is taken.
        SlotFull = (CONFLICT, "booking_slot_full",
            "Khung giờ này đã hết chỗ. Vui lòng chọn khung giờ khác.",
            "This slot is fully booked. Please pick another."),
        BookingNotFound = (NOT_FOUND, "booking_not_found",
            "Không có lịch hẹn này.", "There is no such appointment."),
        TooManyBookings { max: u32 } = (CONFLICT, "too_many_bookings",
            "Bạn đang có {max} lịch hẹn chưa đến. Vui lòng hủy bớt trước khi đặt thêm.",
            "You already hold {max} upcoming appointments. Please cancel one first."),
        /// The account already holds a booking for the service that day.
        AlreadyBooked = (CONFLICT, "already_booked",
            "Bạn đã có lịch hẹn cho dịch vụ này trong ngày. Bạn có thể đổi giờ lịch hẹn đó.",
            "You already have an appointment for this service that day. You can reschedule it."),
        /// Cancelled, past, or already served.
        BookingClosed = (CONFLICT, "booking_closed",
            "Lịch hẹn này đã hủy, đã qua hoặc đã được phục vụ.",
            "This appointment was cancelled, is past, or was already served."),
        /// A QR code that is not one of ours, or of another centre or day.
        InvalidBookingCode = (UNPROCESSABLE_ENTITY, "invalid_booking_code",
            "Mã QR không phải lịch hẹn của nơi này trong hôm nay.",
            "The QR code is not an appointment at this centre today."),

        // Social insurance.
        NoSocialInsuranceSystem = (NOT_FOUND, "no_social_insurance_system",
            "Chưa kết nối với hệ thống của Bảo hiểm xã hội.",
            "The social insurance system is not connected yet."),
        /// The person has never contributed.
        NotInsured = (NOT_FOUND, "not_insured",
            "Bảo hiểm xã hội chưa có quá trình đóng gắn với số định danh của bạn.",
            "Social Security has no contributions under your personal ID number."),
    }
}
