//! The security audit log: sign-ins, failures, lockouts, refresh-token reuse, role and scope
//! changes, erasure; who, when and from where.

use platform::extract::ClientInfo;
use sqlx::PgConnection;
use uuid::Uuid;

/// Records an event in the caller's transaction, so it is kept exactly when the change is.
pub async fn record(
    connection: &mut PgConnection,
    event: &str,
    account_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    client: &ClientInfo,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let ip = client.ip.map(sqlx::types::ipnetwork::IpNetwork::from);
    sqlx::query!(
        r#"INSERT INTO audit_log (event, account_id, actor_id, ip, user_agent, details)
           VALUES ($1, $2, $3, $4, $5, $6)"#,
        event,
        account_id,
        actor_id,
        ip,
        client.user_agent,
        details
    )
    .execute(connection)
    .await?;
    tracing::info!(event, ?account_id, ?actor_id, "security event");
    Ok(())
}
