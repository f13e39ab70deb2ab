//! Response templates filled for one report (`moderation` lets admins write them; officers
//! answer with them).

use platform::ApiError;

use crate::domain::ReportsError;
use crate::domain::local_time;
use crate::domain::views::ReportRow;

/// A template's texts for a report, placeholders filled (Vietnamese, English); 422 when there is
/// no such template for this report's category and the action.
pub async fn render(
    tx: &mut sqlx::PgConnection,
    row: &ReportRow,
    action: &str,
    id: &str,
) -> Result<(String, String), ApiError> {
    let template = sqlx::query!(
        r#"SELECT text_vi, text_en FROM response_templates
           WHERE jurisdiction_id = $1 AND id = $2
             AND (category_code IS NULL OR category_code = $3)
             AND (action IS NULL OR action = $4)"#,
        row.jurisdiction_id,
        id,
        row.category_code,
        action
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ReportsError::UnknownTemplate)?;
    let due = local_time(row.sla_due_at);
    let fill = |text: &str, category: &str, ward: &str, department: &str| {
        text.replace("{category}", category)
            .replace("{ward}", ward)
            .replace("{department}", department)
            .replace("{due}", &due)
    };
    Ok((
        fill(
            &template.text_vi,
            &row.category_name_vi,
            &row.ward_name_vi,
            &row.department_name_vi,
        ),
        fill(
            &template.text_en,
            &row.category_name_en,
            &row.ward_name_en,
            &row.department_name_en,
        ),
    ))
}
