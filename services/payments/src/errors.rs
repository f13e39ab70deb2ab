//! Every error payments answers with beyond the shared ones, each worded once.

platform::error_codes! {
    pub enum PaymentsError {
        // Bills and customer codes.
        /// Over `payments.bill_lookups_per_minute` uses of the bill gateway (lookups, payments
        /// made, codes linked); answered with the wait in `Retry-After`.
        TooManyLookups = (TOO_MANY_REQUESTS, "too_many_lookups",
            "Bạn tra cứu quá nhiều lần trong một phút. Vui lòng thử lại sau.",
            "Too many lookups in a minute. Please try again shortly."),
        /// A code not in its kind of bill's one written form; the words say what that form is.
        InvalidCustomerCode { form_vi: &'static str, form_en: &'static str } = (
            UNPROCESSABLE_ENTITY, "invalid_customer_code", "{form_vi}", "{form_en}"),
        /// A code no biller knows.
        CustomerNotFound = (NOT_FOUND, "customer_not_found",
            "Không tìm thấy mã khách hàng này.", "There is no such customer code."),
        /// The bill gateway is not configured or did not answer; answered with `Retry-After`.
        BillerUnavailable = (SERVICE_UNAVAILABLE, "biller_unavailable",
            "Không kết nối được với đơn vị thu. Vui lòng thử lại sau.",
            "The biller cannot be reached. Please try again later."),
        /// A kind of bill (electricity, water, ...) that does not exist.
        BillKindNotFound = (NOT_FOUND, "bill_kind_not_found",
            "Không có loại hóa đơn này.", "There is no such kind of bill."),
        /// Linking a code: the contract number is not the one on the code's bills.
        CustomerNotMatched = (UNPROCESSABLE_ENTITY, "customer_not_matched",
            "Mã khách hàng và số hợp đồng không khớp.",
            "The customer code and the contract number do not match."),

        // Payments.
        /// A provider that is not configured here.
        ProviderUnavailable = (UNPROCESSABLE_ENTITY, "provider_unavailable",
            "Phương thức thanh toán này chưa được hỗ trợ.",
            "This payment method is not available."),
        /// An amount outside what the provider accepts.
        AmountOutOfRange { least: i64, most: i64 } = (UNPROCESSABLE_ENTITY, "amount_out_of_range",
            "Số tiền phải từ {least} đến {most} đồng với phương thức này.",
            "The amount must be between {least} and {most} VND with this method."),
        /// No such bill to pay; also what a caller who has not looked the code up is told of a
        /// wrong code or amount, so paying cannot stand in for lookups.
        BillNotFound = (NOT_FOUND, "bill_not_found",
            "Không có hóa đơn này để thanh toán. Vui lòng tra cứu lại mã khách hàng.",
            "There is no such bill to pay. Please look the customer code up again."),
        /// The amount paid is not the bill's current one.
        BillChanged { amount: i64 } = (CONFLICT, "bill_changed",
            "Số tiền của hóa đơn đã thay đổi: {amount} đồng.",
            "The bill's amount has changed: {amount} VND."),
        BillAlreadyPaid = (CONFLICT, "bill_already_paid",
            "Hóa đơn này đã được thanh toán.", "This bill has already been paid."),
        /// The caller's own payment of the bill is under way.
        BillPaymentInProgress = (CONFLICT, "bill_payment_in_progress",
            "Bạn đang thanh toán hóa đơn này. Vui lòng đợi kết quả.",
            "You are already paying this bill. Please wait for the result."),
        /// Too late to send the payer to the provider; a new payment is needed.
        PaymentExpired = (CONFLICT, "payment_expired",
            "Đã hết thời gian thanh toán giao dịch này. Vui lòng tạo giao dịch mới.",
            "The time to pay this payment is over. Please make a new one."),
        /// The provider refused to start the payment, which has failed.
        ProviderRefused = (UNPROCESSABLE_ENTITY, "provider_refused",
            "Cổng thanh toán từ chối giao dịch. Vui lòng chọn phương thức khác.",
            "The payment provider refused the payment. Please choose another method."),
        /// The provider did not answer; answered with `Retry-After`.
        ProviderUnreachable = (SERVICE_UNAVAILABLE, "provider_unreachable",
            "Không kết nối được cổng thanh toán. Vui lòng thử lại.",
            "The payment provider cannot be reached. Please try again."),
        /// No such payment, or not the caller's.
        PaymentNotFound = (NOT_FOUND, "payment_not_found",
            "Không có giao dịch thanh toán này.", "There is no such payment."),
        /// A receipt of a payment the provider has not confirmed.
        NotPaid = (CONFLICT, "not_paid",
            "Giao dịch chưa được cổng thanh toán xác nhận nên chưa có biên lai.",
            "The payment is not confirmed by the provider yet, so it has no receipt."),

        // Providers' notifications.
        /// A provider's notification whose signature does not verify.
        InvalidCallbackSignature = (BAD_REQUEST, "invalid_callback_signature",
            "Chữ ký không hợp lệ.", "The signature is not valid."),
        /// A provider's notification of another amount than the payment's.
        AmountMismatch = (UNPROCESSABLE_ENTITY, "amount_mismatch",
            "Số tiền không khớp với giao dịch.", "The amount does not match the payment."),

        // Refunds.
        /// The payer asked for a refund; the city's operators refund.
        RefundNeedsOperator = (FORBIDDEN, "refund_needs_operator",
            "Hoàn tiền do tổng đài của thành phố xử lý. Vui lòng liên hệ tổng đài 1022.",
            "Refunds are handled by the city's operators. Please call the 1022 hotline."),
        InvalidRefund = (UNPROCESSABLE_ENTITY, "invalid_refund",
            "Cần số tiền hoàn dương và lý do (tối đa 200 ký tự).",
            "A refund needs a positive amount and a reason (at most 200 characters)."),
        /// Another refund of the payment is pending.
        RefundInProgress = (CONFLICT, "refund_in_progress",
            "Một yêu cầu hoàn tiền khác đang được xử lý.",
            "Another refund of this payment is under way."),
        /// Only a payment that succeeded (or was partly refunded) can be refunded.
        NotRefundable = (CONFLICT, "not_refundable",
            "Chỉ hoàn tiền được giao dịch đã thanh toán thành công.",
            "Only a payment that succeeded can be refunded."),
        /// More than what is left of the payment after earlier refunds.
        RefundExceedsPayment { left: i64 } = (UNPROCESSABLE_ENTITY, "refund_exceeds_payment",
            "Số tiền hoàn vượt quá số còn lại của giao dịch ({left} đồng).",
            "The refund is more than what is left of the payment ({left} VND)."),
        RefundNotFound = (NOT_FOUND, "refund_not_found",
            "Không có yêu cầu hoàn tiền này.", "There is no such refund."),
        /// An operator's resolution of a pending refund that is neither `succeeded` with the
        /// provider's transaction nor `failed`.
        InvalidRefundOutcome = (UNPROCESSABLE_ENTITY, "invalid_refund_outcome",
            "Kết quả là `succeeded` kèm mã giao dịch của cổng thanh toán, hoặc `failed`.",
            "The outcome is `succeeded` with the provider's transaction, or `failed`."),
        /// The provider's answer to the refund was recorded already.
        RefundNotPending = (CONFLICT, "refund_not_pending",
            "Kết quả của yêu cầu hoàn tiền này đã được ghi nhận.",
            "This refund's outcome has been recorded already."),

        // Reconciliation.
        /// No report for that provider and day (yet).
        ReconciliationNotFound = (NOT_FOUND, "reconciliation_not_found",
            "Chưa có báo cáo đối soát cho ngày này.",
            "There is no reconciliation report for that day."),
    }
}
