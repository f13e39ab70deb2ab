//! Notifications: what residents and officers are told, and how it reaches their phones. For
//! now the FCM HTTP v1 client; the service (recipients, inbox, templates, consumers of report
//! events, broadcasts) is built on it next.

pub mod fcm;
