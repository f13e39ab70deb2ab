//! The security audit log: sign-ins, failures, lockouts, refresh-token reuse, role and scope
//! changes, erasure; who, when and from where.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use http::request::Parts;
use sqlx::PgConnection;
use uuid::Uuid;

/// Where a request came from. Behind our gateway the last `X-Forwarded-For` entry is the
/// address the gateway saw (it appends it), so it is the one trusted.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .and_then(|ip| ip.trim().parse().ok());
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        Ok(ClientInfo {
            ip: forwarded.or(peer),
            user_agent,
        })
    }
}

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
