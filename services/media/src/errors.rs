//! Every error media answers with beyond the shared ones (`platform::error::SharedError`:
//! `too_large`, `unsupported_media_type`, `invalid_body`, `route_not_found`, ...).

platform::error_codes! {
    pub enum MediaError {
        /// Without `keep_originals`, a photo's original is deleted once its derivatives exist.
        OriginalNotKept = (NOT_FOUND, "original_not_kept",
            "Ảnh gốc không được lưu giữ.", "The original is not kept."),
        /// The object store does not answer (the cause is logged where it is built).
        StorageUnavailable = (SERVICE_UNAVAILABLE, "storage_unavailable",
            "Kho lưu trữ ảnh tạm thời không truy cập được. Vui lòng thử lại sau.",
            "Photo storage is temporarily unavailable. Please try again later."),
        /// Too many uploads of the account under way at once, or started and not completed.
        TooManyUploads = (TOO_MANY_REQUESTS, "too_many_uploads",
            "Bạn đang tải lên quá nhiều ảnh cùng lúc. Vui lòng chờ các ảnh đang gửi hoàn tất.",
            "You are uploading too many photos at once. Please wait for those under way."),
        /// The account's daily upload quota is spent (`mb` is the daily limit in MB).
        UploadQuotaExceeded { max_count: u32, mb: u64 } = (TOO_MANY_REQUESTS, "upload_quota_exceeded",
            "Mỗi ngày mỗi tài khoản tải lên được tối đa {max_count} ảnh và {mb} MB. Vui lòng thử lại vào ngày mai.",
            "An account may upload at most {max_count} photos and {mb} MB a day. Please try again tomorrow."),
        /// A direct upload completed before its bytes were sent to the signed URL.
        UploadMissing = (CONFLICT, "upload_missing",
            "Chưa nhận được ảnh: hãy tải ảnh lên bằng đường dẫn đã cấp rồi thử lại.",
            "The photo has not arrived: upload it with the URL given, then try again."),
        /// A signed URL of the local backend whose signature does not match or has expired
        /// (403, as S3 answers).
        InvalidSignature = (FORBIDDEN, "invalid_signature",
            "Đường dẫn không hợp lệ hoặc đã hết hạn.", "The link is invalid or has expired."),
        /// A signed `PUT` whose body is shorter than its declared `Content-Length`.
        IncompleteBody = (BAD_REQUEST, "incomplete_body",
            "Dữ liệu tải lên không đủ.", "The upload ended early."),
        /// The bytes do not decode (or a JPEG is cut off).
        CorruptImage = (UNPROCESSABLE_ENTITY, "corrupt_image",
            "Tệp ảnh bị hỏng hoặc không đọc được.", "The image is damaged or cannot be read."),
        TooManyPixels { width: u32, height: u32, max_pixels: u64 } = (UNPROCESSABLE_ENTITY, "too_many_pixels",
            "Ảnh {width}×{height} vượt quá {max_pixels} điểm ảnh.",
            "The image is {width}×{height}, more than {max_pixels} pixels."),
        /// The decoded pixels (at their bit depth and channels) would take too much memory;
        /// both sizes in MB.
        TooLargeDecoded { decoded: u64, limit: u64 } = (UNPROCESSABLE_ENTITY, "too_large_decoded",
            "Ảnh cần {decoded} MB khi giải nén, vượt quá {limit} MB.",
            "The image takes {decoded} MB decoded, more than {limit} MB."),
        /// A `Range` header that cannot be served (answered with `Content-Range: bytes */size`).
        RangeNotSatisfiable = (RANGE_NOT_SATISFIABLE, "range_not_satisfiable",
            "Khoảng byte không hợp lệ.", "The byte range cannot be served."),
        /// What photos are attached to is not of the form `kind:id` (internal calls).
        InvalidAttachment = (BAD_REQUEST, "invalid_attachment",
            "Đối tượng đính kèm không hợp lệ (dạng `loại:id`).",
            "Invalid attachment target (`kind:id`)."),
    }
}
