//! Every error education answers with beyond the shared ones, each worded once.

platform::error_codes! {
    pub enum EducationError {
        /// The resident's jurisdiction has no school system connected.
        NoSchoolSystem = (NOT_FOUND, "no_school_system",
            "Địa bàn của bạn chưa kết nối với hệ thống quản lý trường học.",
            "Your city is not connected to a school information system yet."),
        /// Empty, too long, or not letters and digits.
        InvalidStudentCode = (UNPROCESSABLE_ENTITY, "invalid_student_code",
            "Mã học sinh chỉ gồm chữ và số, do nhà trường cung cấp.",
            "A student code is letters and digits, as the school gave it."),
        /// No pupil has that code at the school system.
        StudentNotFound = (NOT_FOUND, "student_not_found",
            "Không tìm thấy học sinh có mã này. Vui lòng kiểm tra mã học sinh do nhà trường cung cấp.",
            "No pupil has this code. Please check the student code the school gave you."),
        /// The school recorded no parent's phone for the pupil.
        NoGuardianPhone = (UNPROCESSABLE_ENTITY, "no_guardian_phone",
            "Nhà trường chưa ghi nhận số điện thoại phụ huynh của học sinh này. Vui lòng liên hệ giáo viên chủ nhiệm.",
            "The school has no parent's phone number on record for this pupil. Please contact the form teacher."),
        /// No such code sent, expired, used up, or another account's.
        ChallengeNotFound = (NOT_FOUND, "link_code_expired",
            "Mã xác nhận đã hết hạn hoặc không tồn tại. Vui lòng yêu cầu mã mới.",
            "The confirmation code has expired or does not exist. Please ask for a new one."),
        WrongCode = (UNPROCESSABLE_ENTITY, "wrong_link_code",
            "Mã xác nhận không đúng.", "The confirmation code is not correct."),
        TooManyChildren { max: u32 } = (CONFLICT, "too_many_children",
            "Mỗi tài khoản liên kết được tối đa {max} học sinh.",
            "One account can link at most {max} pupils."),
        /// Not a child the caller has linked.
        ChildNotFound = (NOT_FOUND, "child_not_found",
            "Không có học sinh này trong danh sách con của bạn.",
            "This pupil is not among your linked children."),
        /// A school year the pupil has no classes in.
        SchoolYearNotFound = (NOT_FOUND, "school_year_not_found",
            "Không có kết quả học tập của năm học này.",
            "There are no school results for this school year."),

        /// More link codes asked for than a parent needs.
        TooManyLinkCodes = (TOO_MANY_REQUESTS, "too_many_link_codes",
            "Bạn đã yêu cầu quá nhiều mã xác nhận. Vui lòng thử lại sau.",
            "You have asked for too many confirmation codes. Please try again later."),

        /// No school enrols the ward (or there is no such ward).
        WardNotFound = (NOT_FOUND, "ward_not_found",
            "Không có trường nào tuyển sinh tại phường, xã này.",
            "No school enrols children from this ward."),

        // The national exam.
        /// More lookups from one address than a person makes.
        TooManyExamLookups = (TOO_MANY_REQUESTS, "too_many_exam_lookups",
            "Bạn tra cứu quá nhanh. Vui lòng thử lại sau ít phút.",
            "Too many lookups. Please try again in a few minutes."),
        /// Not 8 digits.
        InvalidCandidateNumber = (UNPROCESSABLE_ENTITY, "invalid_candidate_number",
            "Số báo danh gồm 8 chữ số.", "A candidate number has 8 digits."),
        ExamYearNotPublished = (NOT_FOUND, "exam_year_not_published",
            "Chưa có kết quả thi của năm này.", "The results of this year's exam are not published yet."),
        /// No candidate with that number and birth date: one answer for both, so the lookup
        /// tells nothing of who sat the exam.
        ExamResultNotFound = (NOT_FOUND, "exam_result_not_found",
            "Không tìm thấy kết quả với số báo danh và ngày sinh này.",
            "There is no result for this candidate number and date of birth."),
        /// Too many lookups of one candidate number: someone may be guessing birth dates.
        CandidateLocked = (TOO_MANY_REQUESTS, "candidate_lookups_locked",
            "Số báo danh này đã được tra cứu quá nhiều lần. Vui lòng thử lại sau.",
            "This candidate number was looked up too many times. Please try again later."),
    }
}
