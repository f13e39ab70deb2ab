platform::error_codes! {
    /// What the catalogue answers when a request cannot be carried out.
    pub enum CatalogueError {
        QueryTooLong { max: usize } = (BAD_REQUEST, "query_too_long",
            "Từ khóa tìm kiếm dài tối đa {max} ký tự.",
            "The search text may be at most {max} characters."),
        ServiceNotFound { id: String } = (NOT_FOUND, "service_not_found",
            "Không có dịch vụ '{id}'.", "There is no service '{id}'."),
    }
}
