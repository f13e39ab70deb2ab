//! What a person is told about an event, in Vietnamese and English.

use platform::events::types::{
    AppointmentReminder, DoseDue, DossierChanged, PaymentFailed, PaymentRefunded, PaymentSucceeded,
    QuestionSettled, ReportCreated, ReportOverdue, ReportStatusChanged, ScorePublished,
    VaccinationsDue,
};
use platform::lang::{Lang, vnd};

pub struct Notice {
    pub title_vi: String,
    pub title_en: String,
    pub body_vi: String,
    pub body_en: String,
    pub urgent: bool,
}

/// For the ward's officers and the department's staff: a new report to handle.
pub fn created(report: &ReportCreated) -> Notice {
    Notice {
        title_vi: format!("Phản ánh mới: {}", report.category_name_vi),
        title_en: format!("New report: {}", report.category_name_en),
        body_vi: "Một phản ánh mới thuộc phạm vi của bạn đang chờ tiếp nhận.".to_owned(),
        body_en: "A new report in your area is waiting to be accepted.".to_owned(),
        urgent: report.urgent,
    }
}

/// For the ward's officers, the department's staff and the assignee: a report past its deadline.
pub fn overdue(report: &ReportOverdue) -> Notice {
    Notice {
        title_vi: "Phản ánh quá hạn xử lý".to_owned(),
        title_en: "A report is overdue".to_owned(),
        body_vi: "Một phản ánh thuộc phạm vi của bạn đã quá thời hạn xử lý.".to_owned(),
        body_en: "A report in your area is past its deadline.".to_owned(),
        urgent: report.urgent,
    }
}

/// The reporter's notice of their report's new status; `None` for a change they made
/// themselves (reopening) or one that tells them nothing.
pub fn status_changed(change: &ReportStatusChanged) -> Option<Notice> {
    let (title_vi, title_en, body_vi, body_en) = match change.to.as_str() {
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
    let note = change
        .public_note
        .as_deref()
        .filter(|n| !n.trim().is_empty());
    Some(Notice {
        title_vi: title_vi.to_owned(),
        title_en: title_en.to_owned(),
        body_vi: note.unwrap_or(body_vi).to_owned(),
        body_en: note.unwrap_or(body_en).to_owned(),
        urgent: change.urgent,
    })
}

/// The payer's notice of a settled payment, with its receipt number.
pub fn payment_succeeded(payment: &PaymentSucceeded) -> Notice {
    let (vi, en) = (vnd(payment.amount, Lang::Vi), vnd(payment.amount, Lang::En));
    Notice {
        title_vi: "Thanh toán thành công".to_owned(),
        title_en: "Payment successful".to_owned(),
        body_vi: format!(
            "{}: {vi}. Số biên lai {}.",
            payment.description_vi, payment.receipt_number
        ),
        body_en: format!(
            "{}: {en}. Receipt number {}.",
            payment.description_en, payment.receipt_number
        ),
        urgent: false,
    }
}

/// A parent's reminder of the doses a child (or the account's holder) is due, with the date.
pub fn vaccinations_due(due: &VaccinationsDue, today: chrono::NaiveDate) -> Notice {
    let list = |vaccine: fn(&DoseDue) -> &str, dose_word: &str| {
        due.doses
            .iter()
            .map(|d| format!("{} ({dose_word} {})", vaccine(d), d.dose))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let first = due.doses.iter().map(|d| d.due_on).min().unwrap_or(today);
    let date = first.format("%d/%m/%Y");
    let (when_vi, when_en) = if first <= today {
        (
            format!("đã đến hạn từ ngày {date}"),
            format!("due since {date}"),
        )
    } else {
        (format!("đến hạn ngày {date}"), format!("due on {date}"))
    };
    Notice {
        title_vi: "Nhắc lịch tiêm chủng".to_owned(),
        title_en: "Vaccination reminder".to_owned(),
        body_vi: format!(
            "{}: {} {when_vi}. Vui lòng đưa đến cơ sở tiêm chủng.",
            due.patient_name,
            list(|d| &d.vaccine_vi, "mũi")
        ),
        body_en: format!(
            "{}: {} {when_en}. Please visit a vaccination clinic.",
            due.patient_name,
            list(|d| &d.vaccine_en, "dose")
        ),
        urgent: false,
    }
}

/// A parent's notice of a child's newly published result.
pub fn score_published(score: &ScorePublished) -> Notice {
    let (mark_vi, mark_en) = match (score.score, score.text_score.as_deref()) {
        (Some(value), _) => {
            let text = format!("{value}");
            (text.replace('.', ","), text)
        }
        (None, Some(text)) => (text.to_owned(), text.to_owned()),
        (None, None) => ("đã có kết quả".to_owned(), "results are in".to_owned()),
    };
    Notice {
        title_vi: format!("Kết quả học tập mới của {}", score.student_name),
        title_en: format!("New school result for {}", score.student_name),
        body_vi: format!("{} – {}: {mark_vi}", score.subject_vi, score.assessment),
        body_en: format!("{} – {}: {mark_en}", score.subject_en, score.assessment),
        urgent: false,
    }
}

/// The asker's notice of an answer to their question, or of its refusal.
pub fn question_settled(question: &QuestionSettled) -> Notice {
    let (title_vi, title_en, body_vi, body_en) = if question.status == "answered" {
        (
            "Câu hỏi của bạn đã được trả lời",
            "Your question was answered",
            format!(
                "{} đã trả lời: {}",
                question.department_name_vi, question.title
            ),
            format!(
                "{} answered: {}",
                question.department_name_en, question.title
            ),
        )
    } else {
        (
            "Câu hỏi của bạn không được đăng",
            "Your question was not published",
            format!("Xem lý do trong ứng dụng: {}", question.title),
            format!("See why in the app: {}", question.title),
        )
    };
    Notice {
        title_vi: title_vi.to_owned(),
        title_en: title_en.to_owned(),
        body_vi,
        body_en,
        urgent: false,
    }
}

/// The applicant's notice of a change to a dossier, in the words of the one-stop forms.
pub fn dossier_changed(dossier: &DossierChanged) -> Notice {
    let local = |at: chrono::DateTime<chrono::Utc>| {
        at.with_timezone(&platform::vietnam_time::OFFSET)
            .format("%d/%m/%Y")
            .to_string()
    };
    let due = dossier.due.map(local).unwrap_or_default();
    let reason = dossier.reason.as_deref().unwrap_or_default();
    let (vi, en) = match dossier.state.as_str() {
        "received" => (
            format!("Hồ sơ đã được tiếp nhận, hẹn trả kết quả ngày {due}."),
            format!("Your application was received; the result is promised for {due}."),
        ),
        "processing" => (
            "Hồ sơ đã được chuyển sang bước xử lý tiếp theo.".to_owned(),
            "Your application moved on to its next step.".to_owned(),
        ),
        "more_documents_requested" => (
            format!("Cơ quan yêu cầu bổ sung, hoàn thiện hồ sơ: {reason}"),
            format!("More documents are needed: {reason}"),
        ),
        "refused" => (
            format!("Hồ sơ bị từ chối giải quyết. Lý do: {reason}"),
            format!("Your application was refused. Reason: {reason}"),
        ),
        "delayed" => (
            format!("Cơ quan xin lỗi vì hồ sơ trễ hạn và hẹn trả kết quả vào ngày {due}."),
            format!("The office apologises for the delay and now promises the result for {due}."),
        ),
        "ready" => (
            "Đã có kết quả. Mời bạn đến nhận kết quả.".to_owned(),
            "The result is ready to collect.".to_owned(),
        ),
        "returned" => (
            "Đã trả kết quả hồ sơ.".to_owned(),
            "The result has been handed over.".to_owned(),
        ),
        _ => (
            "Tình trạng hồ sơ đã thay đổi.".to_owned(),
            "Your application's status changed.".to_owned(),
        ),
    };
    Notice {
        title_vi: format!("Hồ sơ {}: {}", dossier.code, dossier.procedure_vi),
        title_en: format!("Application {}: {}", dossier.code, dossier.procedure_en),
        body_vi: vi,
        body_en: en,
        urgent: false,
    }
}

/// The resident's reminder of an appointment at a public-service counter.
pub fn appointment_reminder(reminder: &AppointmentReminder) -> Notice {
    let at = reminder
        .starts_at
        .with_timezone(&platform::vietnam_time::OFFSET);
    let (time, day) = (at.format("%H:%M"), at.format("%d/%m/%Y"));
    Notice {
        title_vi: format!("Lịch hẹn {time} ngày {day}"),
        title_en: format!("Appointment at {time} on {day}"),
        body_vi: format!(
            "{} – {}. Số thứ tự của bạn: {}. Vui lòng mang theo giấy tờ cần thiết.",
            reminder.centre_vi, reminder.service_vi, reminder.queue_number
        ),
        body_en: format!(
            "{} – {}. Your queue number: {}. Please bring the documents needed.",
            reminder.centre_en, reminder.service_en, reminder.queue_number
        ),
        urgent: false,
    }
}

/// The payer's notice of a payment that failed, by why.
pub fn payment_failed(payment: &PaymentFailed) -> Notice {
    let (what_vi, what_en) = (&payment.description_vi, &payment.description_en);
    let (vi, en) = (vnd(payment.amount, Lang::Vi), vnd(payment.amount, Lang::En));
    let failed = ("Thanh toán không thành công", "Payment failed");
    let ((title_vi, title_en), body_vi, body_en) = match payment.reason.as_str() {
        "expired" => (
            ("Giao dịch thanh toán đã hết hạn", "Payment expired"),
            format!("{what_vi}: {vi} chưa được thanh toán. Bạn có thể thanh toán lại."),
            format!("{what_en}: {en} was not paid. You can pay again."),
        ),
        // The provider took the money but it paid no bill: it is held to be returned.
        "bill_already_paid" => (
            failed,
            format!(
                "{what_vi}: hóa đơn đã được thanh toán trước đó. Số tiền bạn đã trả sẽ được hoàn lại."
            ),
            format!(
                "{what_en}: the bill had already been paid. The money you paid will be returned."
            ),
        ),
        "amount_mismatch" => (
            failed,
            format!(
                "{what_vi}: số tiền cổng thanh toán báo không khớp với hóa đơn. Số tiền bạn đã trả sẽ được hoàn lại."
            ),
            format!(
                "{what_en}: the provider reported another amount than the bill's. The money you paid will be returned."
            ),
        ),
        _ => (
            failed,
            format!("{what_vi}: {vi}. Bạn chưa bị trừ tiền cho hóa đơn này."),
            format!("{what_en}: {en}. The bill is still unpaid."),
        ),
    };
    Notice {
        title_vi: title_vi.to_owned(),
        title_en: title_en.to_owned(),
        body_vi,
        body_en,
        urgent: false,
    }
}

/// The payer's notice of money returned.
pub fn payment_refunded(refund: &PaymentRefunded) -> Notice {
    let (vi, en) = (vnd(refund.amount, Lang::Vi), vnd(refund.amount, Lang::En));
    Notice {
        title_vi: "Đã hoàn tiền".to_owned(),
        title_en: "Refund completed".to_owned(),
        body_vi: format!("{vi} đã được hoàn về tài khoản thanh toán của bạn."),
        body_en: format!("{en} was returned to your payment account."),
        urgent: false,
    }
}
