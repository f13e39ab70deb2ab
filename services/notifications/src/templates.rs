//! What a person is told about an event, in Vietnamese and English.

use serde_json::Value;

pub struct Notice {
    pub title_vi: String,
    pub title_en: String,
    pub body_vi: String,
    pub body_en: String,
    pub urgent: bool,
}

/// For the ward's officers and the department's staff: a new report to handle.
pub fn created(payload: &Value) -> Notice {
    let name_vi = payload["category_name_vi"].as_str().unwrap_or("Phản ánh");
    let name_en = payload["category_name_en"].as_str().unwrap_or("Report");
    Notice {
        title_vi: format!("Phản ánh mới: {name_vi}"),
        title_en: format!("New report: {name_en}"),
        body_vi: "Một phản ánh mới thuộc phạm vi của bạn đang chờ tiếp nhận.".to_owned(),
        body_en: "A new report in your area is waiting to be accepted.".to_owned(),
        urgent: payload["urgent"].as_bool().unwrap_or(false),
    }
}

/// For the ward's officers, the department's staff and the assignee: a report past its deadline.
pub fn overdue(payload: &Value) -> Notice {
    Notice {
        title_vi: "Phản ánh quá hạn xử lý".to_owned(),
        title_en: "A report is overdue".to_owned(),
        body_vi: "Một phản ánh thuộc phạm vi của bạn đã quá thời hạn xử lý.".to_owned(),
        body_en: "A report in your area is past its deadline.".to_owned(),
        urgent: payload["urgent"].as_bool().unwrap_or(false),
    }
}

/// The reporter's notice of their report's new status; `None` for a change they made
/// themselves (reopening) or one that tells them nothing.
pub fn status_changed(payload: &Value) -> Option<Notice> {
    let (title_vi, title_en, body_vi, body_en) = match payload["to"].as_str()? {
        "accepted" => (
            "Phản ánh của bạn đã được tiếp nhận",
            "Your report was accepted",
            "Cán bộ phụ trách đã tiếp nhận phản ánh và sẽ xử lý.",
            "The officer in charge accepted your report and will handle it.",
        ),
        "assigned" => (
            "Phản ánh của bạn đã được giao xử lý",
            "Your report was assigned",
            "Phản ánh đã được giao cho cán bộ xử lý.",
            "Your report was assigned to an officer.",
        ),
        "in_progress" => (
            "Phản ánh của bạn đang được xử lý",
            "Work on your report has started",
            "Cán bộ đang xử lý tại hiện trường.",
            "An officer is working on it.",
        ),
        "resolved" => (
            "Phản ánh của bạn đã được xử lý xong",
            "Your report was resolved",
            "Xem ảnh kết quả và đánh giá việc xử lý.",
            "See the proof photo and rate the resolution.",
        ),
        "rejected" => (
            "Phản ánh của bạn không được tiếp nhận",
            "Your report was not accepted",
            "Xem lý do trong chi tiết phản ánh.",
            "See why in the report's details.",
        ),
        "closed" => (
            "Phản ánh của bạn đã đóng",
            "Your report was closed",
            "Cảm ơn bạn đã góp phần xây dựng thành phố.",
            "Thank you for helping the city.",
        ),
        _ => return None,
    };
    // The officer's public note says more than any template.
    let note = payload["public_note"]
        .as_str()
        .filter(|n| !n.trim().is_empty());
    Some(Notice {
        title_vi: title_vi.to_owned(),
        title_en: title_en.to_owned(),
        body_vi: note.unwrap_or(body_vi).to_owned(),
        body_en: note.unwrap_or(body_en).to_owned(),
        urgent: payload["urgent"].as_bool().unwrap_or(false),
    })
}

/// The payer's notice of their payment's outcome; `None` for events that tell them nothing.
pub fn payment(event_type: &str, payload: &Value) -> Option<Notice> {
    use platform::lang::{Lang, vnd};
    let amount = payload["amount"].as_i64()?;
    let (what_vi, what_en) = (
        payload["description_vi"].as_str().unwrap_or("Thanh toán"),
        payload["description_en"].as_str().unwrap_or("Payment"),
    );
    let (vi, en) = (vnd(amount, Lang::Vi), vnd(amount, Lang::En));
    let (title_vi, title_en, body_vi, body_en) = match event_type {
        platform::events::types::PAYMENT_SUCCEEDED => (
            "Thanh toán thành công".to_owned(),
            "Payment successful".to_owned(),
            format!(
                "{what_vi}: {vi}. Số biên lai {}.",
                payload["receipt_number"].as_str().unwrap_or_default()
            ),
            format!(
                "{what_en}: {en}. Receipt number {}.",
                payload["receipt_number"].as_str().unwrap_or_default()
            ),
        ),
        platform::events::types::PAYMENT_FAILED if payload["reason"] == "expired" => (
            "Giao dịch thanh toán đã hết hạn".to_owned(),
            "Payment expired".to_owned(),
            format!("{what_vi}: {vi} chưa được thanh toán. Bạn có thể thanh toán lại."),
            format!("{what_en}: {en} was not paid. You can pay again."),
        ),
        // The provider took the money but it paid no bill: it is held to be returned.
        platform::events::types::PAYMENT_FAILED if payload["reason"] == "bill_already_paid" => (
            "Thanh toán không thành công".to_owned(),
            "Payment failed".to_owned(),
            format!(
                "{what_vi}: hóa đơn đã được thanh toán trước đó. Số tiền bạn đã trả sẽ được hoàn lại."
            ),
            format!(
                "{what_en}: the bill had already been paid. The money you paid will be returned."
            ),
        ),
        platform::events::types::PAYMENT_FAILED if payload["reason"] == "amount_mismatch" => (
            "Thanh toán không thành công".to_owned(),
            "Payment failed".to_owned(),
            format!(
                "{what_vi}: số tiền cổng thanh toán báo không khớp với hóa đơn. Số tiền bạn đã trả sẽ được hoàn lại."
            ),
            format!(
                "{what_en}: the provider reported another amount than the bill's. The money you paid will be returned."
            ),
        ),
        platform::events::types::PAYMENT_FAILED => (
            "Thanh toán không thành công".to_owned(),
            "Payment failed".to_owned(),
            format!("{what_vi}: {vi}. Bạn chưa bị trừ tiền cho hóa đơn này."),
            format!("{what_en}: {en}. The bill is still unpaid."),
        ),
        platform::events::types::PAYMENT_REFUNDED => (
            "Đã hoàn tiền".to_owned(),
            "Refund completed".to_owned(),
            format!("{vi} đã được hoàn về tài khoản thanh toán của bạn."),
            format!("{en} was returned to your payment account."),
        ),
        _ => return None,
    };
    Some(Notice {
        title_vi,
        title_en,
        body_vi,
        body_en,
        urgent: false,
    })
}
