//! Every error identity answers with, worded once. The shared ones (a malformed body, an
//! invalid field, an unknown ward, ...) are platform's [`SharedError`](platform::error::SharedError).

platform::error_codes! {
    pub enum IdentityError {
        // Residents' sign-in by phone code.
        /// Not a Vietnamese mobile number.
        InvalidPhone = (UNPROCESSABLE_ENTITY, "invalid_phone",
            "Số điện thoại di động không hợp lệ.",
            "This is not a valid Vietnamese mobile number."),
        /// A code was sent to this phone too recently; see Retry-After.
        OtpCooldown = (TOO_MANY_REQUESTS, "otp_cooldown",
            "Vui lòng chờ trước khi yêu cầu mã mới.",
            "Please wait before asking for another code."),
        /// Too many codes sent to this phone, address or device within the hour; see Retry-After.
        OtpQuotaExceeded = (TOO_MANY_REQUESTS, "otp_quota_exceeded",
            "Đã gửi quá nhiều mã xác thực. Vui lòng thử lại sau.",
            "Too many codes were requested. Please try again later."),
        /// The SMS gateway did not take the message; see Retry-After.
        SmsUnavailable = (SERVICE_UNAVAILABLE, "sms_unavailable",
            "Không gửi được tin nhắn lúc này. Vui lòng thử lại sau.",
            "The text message could not be sent right now. Please try again later."),
        /// No live code for this phone: none sent, expired or already used.
        OtpExpired = (BAD_REQUEST, "otp_expired",
            "Mã xác thực đã hết hạn hoặc đã được dùng. Vui lòng yêu cầu mã mới.",
            "The code has expired or was already used. Please ask for a new one."),
        /// The code's wrong tries are used up; see Retry-After.
        OtpLocked = (TOO_MANY_REQUESTS, "otp_locked",
            "Đã nhập sai quá nhiều lần. Vui lòng yêu cầu mã mới.",
            "Too many wrong codes. Please ask for a new one."),
        /// A wrong code, with the tries left.
        OtpIncorrect { left: i32 } = (BAD_REQUEST, "otp_incorrect",
            "Mã xác thực không đúng. Còn {left} lần thử.",
            "The code is not correct. {left} tries left."),

        // Staff sign-in.
        /// Wrong username or password (both answer alike).
        InvalidCredentials = (UNAUTHORIZED, "invalid_credentials",
            "Tên đăng nhập hoặc mật khẩu không đúng.",
            "The username or password is not correct."),
        /// The account has TOTP on and no code was given.
        TotpRequired = (UNAUTHORIZED, "totp_required",
            "Vui lòng nhập mã xác thực từ ứng dụng Authenticator.",
            "Please enter the code from your authenticator app."),
        /// A wrong or replayed TOTP code at sign-in.
        TotpIncorrect = (UNAUTHORIZED, "totp_incorrect",
            "Mã xác thực không đúng hoặc đã dùng.",
            "The authenticator code is not correct or was already used."),
        /// A wrong code when confirming enrolment: not a 401, which an app takes for a lost
        /// session.
        TotpConfirmationIncorrect = (UNPROCESSABLE_ENTITY, "totp_confirmation_incorrect",
            "Mã xác thực không đúng. Hãy nhập mã đang hiện trong ứng dụng Authenticator.",
            "The code is not correct. Enter the code your authenticator app shows now."),
        /// Too many failed sign-ins for this username from this address; see Retry-After.
        AccountLocked = (TOO_MANY_REQUESTS, "account_locked",
            "Đăng nhập sai quá nhiều lần từ nơi này. Vui lòng thử lại sau.",
            "Too many failed sign-ins from here. Please try again later."),
        /// Too many sign-in attempts from this address or at this username; see Retry-After.
        TooManySignIns = (TOO_MANY_REQUESTS, "too_many_sign_ins",
            "Quá nhiều lần đăng nhập. Vui lòng thử lại sau.",
            "Too many sign-in attempts. Please try again later."),
        /// No password-hashing slot freed in time; see Retry-After.
        SignInBusy = (TOO_MANY_REQUESTS, "sign_in_busy",
            "Hệ thống đang bận. Vui lòng thử đăng nhập lại sau giây lát.",
            "Sign-in is busy. Please try again in a moment."),

        // Sessions.
        AccountDisabled = (FORBIDDEN, "account_disabled",
            "Tài khoản đã bị khóa. Vui lòng liên hệ quản trị viên.",
            "The account is disabled. Please contact an administrator."),
        /// An unknown, expired, revoked or reused refresh token, or one of a vanished account.
        InvalidRefreshToken = (UNAUTHORIZED, "invalid_refresh_token",
            "Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại.",
            "The session has expired. Please sign in again."),

        // The signed-in person's own account.
        AccountNotFound = (NOT_FOUND, "account_not_found",
            "Không tìm thấy tài khoản.", "The account does not exist."),
        /// No such device among the caller's.
        DeviceNotFound = (NOT_FOUND, "device_not_found",
            "Không tìm thấy thiết bị.", "There is no such device."),
        /// An internal device lookup for more accounts than one call may name.
        TooManyAccounts { max: usize } = (BAD_REQUEST, "too_many_accounts",
            "Tối đa {max} tài khoản mỗi lần.", "At most {max} accounts at once."),

        // Linking the national e-ID (VNeID).
        /// The account is already at the verified level.
        AlreadyVerified = (CONFLICT, "already_verified",
            "Tài khoản đã được định danh.", "The account is already verified."),
        /// The provider is not configured or not reachable; see Retry-After.
        VerificationUnavailable = (SERVICE_UNAVAILABLE, "verification_unavailable",
            "Chưa thể xác thực định danh điện tử lúc này. Vui lòng thử lại sau.",
            "Identity verification is not available right now. Please try again later."),
        /// The provider's callback names an unknown, used or expired attempt.
        VerificationStateInvalid = (BAD_REQUEST, "verification_state_invalid",
            "Phiên xác thực không hợp lệ hoặc đã hết hạn. Vui lòng thử lại từ ứng dụng.",
            "The verification session is invalid or has expired. Please start again from the app."),

        // Staff administration.
        /// Staff administration by someone who is neither a platform nor a jurisdiction admin.
        AdminOnly = (FORBIDDEN, "admin_only",
            "Chức năng dành cho quản trị viên.", "This is for administrators only."),
        /// Roles or a jurisdiction beyond what the acting admin may manage.
        OutsideYourScope = (FORBIDDEN, "outside_your_scope",
            "Bạn không được quản lý cán bộ với vai trò hoặc địa phương này.",
            "You may not manage staff with these roles or in this jurisdiction."),
        /// No such staff member, or none within the acting admin's reach.
        StaffNotFound = (NOT_FOUND, "staff_not_found",
            "Không tìm thấy cán bộ.", "There is no such staff member."),
        UsernameTaken = (CONFLICT, "username_taken",
            "Tên đăng nhập đã tồn tại.", "The username is taken."),
        /// A staff account that breaks a rule (username, password, roles, scope), said in both
        /// languages.
        InvalidStaff { rule_vi: &'static str, rule_en: &'static str } = (
            UNPROCESSABLE_ENTITY, "invalid_staff", "{rule_vi}", "{rule_en}"),
        TotpAlreadyEnabled = (CONFLICT, "totp_already_enabled",
            "Đã bật xác thực hai lớp.", "Two-factor sign-in is already on."),
    }
}
