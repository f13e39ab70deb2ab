//! Layered configuration: built-in defaults, then a TOML file, then `CITIZEN_` environment
//! variables (`__` separates nested keys, `CITIZEN_UPSTREAMS__CATALOGUE`). Any key may instead
//! be given as `<KEY>_FILE` naming a file that holds the value, for secrets mounted by
//! Kubernetes. A key nobody knows is refused, naming it, so a typo never silently falls back
//! to a default.
//!
//! `Config` holds what every process shares (listen addresses, the database, the gateway,
//! events); each service's own section (`[identity]`, `[payments]`, ...) is a type in its crate
//! that implements [`Section`], handed to the loader as a [`SectionSpec`] and read with
//! [`Config::section`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

const ENV_PREFIX: &str = "CITIZEN_";
/// Names the configuration file itself (`--config`), not a key in it.
const CONFIG_FILE_VAR: &str = "CITIZEN_CONFIG";
const FILE_SUFFIX: &str = "_FILE";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// `development` (one machine: sandboxes and plain HTTP to them allowed) or `production`.
    pub profile: DeploymentProfile,
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Address of the operators' listener (`/metrics`, `/healthz`, `/readyz`), kept off the
    /// public one; unset, `/metrics` is served on `listen` in development and nowhere in
    /// production.
    pub ops_listen: Option<SocketAddr>,
    /// Where the process keeps its own files (the private PostgreSQL cluster, dev keys).
    pub data_dir: PathBuf,
    pub log: LogConfig,
    pub database: DatabaseConfig,
    pub gateway: GatewayConfig,
    /// Base URLs of services that run in another process, by service name. A service that
    /// runs in this process is called in-process and needs no entry.
    pub upstreams: BTreeMap<String, String>,
    pub auth: AuthConfig,
    pub internal: InternalConfig,
    pub events: EventsConfig,
    pub redis: RedisConfig,
    /// Each service's own section, by its key, as the loader checked it.
    #[serde(skip)]
    pub sections: Sections,
}

/// Redis, where replicas keep what they must count together (rate limits); unset, each
/// process counts alone.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://[:password@]host:port/db`, or `rediss://` for TLS.
    #[serde(serialize_with = "serialize_secret")]
    pub url: Option<SecretString>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            profile: DeploymentProfile::Development,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            ops_listen: None,
            data_dir: PathBuf::from("data"),
            log: LogConfig::default(),
            database: DatabaseConfig::default(),
            gateway: GatewayConfig::default(),
            upstreams: BTreeMap::new(),
            auth: AuthConfig::default(),
            internal: InternalConfig::default(),
            events: EventsConfig::default(),
            redis: RedisConfig::default(),
            sections: Sections::default(),
        }
    }
}

/// What a deployment is for, which decides what it may do without being told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentProfile {
    /// A developer's machine: the sandboxes stand in for outside systems, on loopback.
    Development,
    /// A city's deployment: every outside system over TLS, no sandboxes, no demo data.
    Production,
}

impl Config {
    /// What this configuration may not do in its profile, each naming the key to change; empty
    /// when it may start. `sections` are the sections of the services this process runs;
    /// `sandbox` says whether it runs the sandboxes.
    pub fn profile_problems(&self, sections: &[SectionSpec], sandbox: bool) -> Vec<String> {
        let mut problems = Vec::new();
        match self.profile {
            DeploymentProfile::Development => {
                if !self.listen.ip().is_loopback() {
                    problems.push(format!(
                        "listen = {}: the development profile serves this machine only (a loopback address); set profile = \"production\" to serve a network",
                        self.listen
                    ));
                }
            }
            DeploymentProfile::Production => {
                if sandbox {
                    problems.push(
                        "the sandbox target: stand-ins for outside systems never run in production"
                            .to_owned(),
                    );
                }
                for section in sections {
                    match (section.production_problems)(self) {
                        Ok(found) => problems.extend(found),
                        Err(error) => problems.push(error.to_string()),
                    }
                }
            }
        }
        problems
    }

    /// Where plain HTTP may reach an outside system: the sandboxes on this machine in
    /// development, nowhere in production.
    pub fn outside_plain_http(&self) -> crate::outbound::PlainHttp {
        match self.profile {
            DeploymentProfile::Development => crate::outbound::PlainHttp::Loopback,
            DeploymentProfile::Production => crate::outbound::PlainHttp::Never,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines for a developer's terminal.
    Text,
    /// One JSON object per line for log collectors in production.
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `tracing` filter directives; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// PostgreSQL URL. When unset, `DATABASE_URL` is used, then a local server, then a
    /// private cluster under `data_dir` (see `database::locate`).
    #[serde(serialize_with = "serialize_secret")]
    pub url: Option<SecretString>,
    /// Connections per service pool.
    pub max_connections: u32,
    /// How long a request may wait for a free connection before it fails.
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            acquire_timeout_ms: 3_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Whole-request deadline at the gateway.
    pub request_timeout_ms: u64,
    /// Deadline for an upstream to start answering.
    pub upstream_timeout_ms: u64,
    /// Deadline for opening a connection to an upstream.
    pub upstream_connect_timeout_ms: u64,
    /// Largest request body the gateway accepts.
    pub body_limit_bytes: usize,
    /// Origins allowed by CORS (the web app's origin); empty allows none.
    pub cors_allowed_origins: Vec<String>,
    /// Proxies in front of the gateway (the ingress), as CIDRs: only a request from one of them
    /// is believed about the client's address (`X-Forwarded-For`) and the scheme and host it
    /// used (`X-Forwarded-Proto`/`-Host`).
    pub trusted_proxies: Vec<String>,
    /// The web console's base map: raster tiles the city hosts, as a `{z}/{x}/{y}` URL
    /// template; empty (the default) draws wards and reports without a base map, offline.
    pub console_tile_url: String,
    /// Credit shown under the base map, as its licence asks (e.g. OpenStreetMap's); HTML, as
    /// Leaflet shows it: the operator's own text, never a user's.
    pub console_tile_attribution: String,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            request_timeout_ms: 30_000,
            upstream_timeout_ms: 10_000,
            upstream_connect_timeout_ms: 2_000,
            body_limit_bytes: 1024 * 1024,
            cors_allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            console_tile_url: String::new(),
            console_tile_attribution: String::new(),
        }
    }
}

/// Which bus carries events between services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventBackend {
    /// Within this process only: the embedded default, for everything in one process.
    InProcess,
    /// NATS JetStream: durable across processes and restarts; what split deployments need.
    Nats,
}

/// Events: each service's outbox, published to a bus, consumed at least once.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    pub backend: EventBackend,
    pub nats_url: String,
    /// The JetStream stream holding every event, declared at start.
    pub nats_stream: String,
    /// Events are published on `<prefix>.<event type>`.
    pub nats_subject_prefix: String,
    /// Deliveries of one event to one consumer before it goes to the dead-letter subject
    /// (`<prefix>.dead.<consumer>`).
    pub max_deliveries: i64,
    /// How often the outbox is polled when no notification woke the relay.
    pub outbox_poll_ms: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            backend: EventBackend::InProcess,
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            nats_stream: "CITIZEN_EVENTS".to_owned(),
            nats_subject_prefix: "citizen.events".to_owned(),
            max_deliveries: 8,
            outbox_poll_ms: 1000,
        }
    }
}

/// Calls between services (a report attaching its photos), never routed by the gateway.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InternalConfig {
    /// The bearer token services present to each other's `/internal/` routes. Every process of
    /// a split deployment must share it; when absent each process makes up its own, so only
    /// in-process calls get through.
    #[serde(serialize_with = "serialize_secret")]
    pub service_token: Option<SecretString>,
}

/// What access tokens say and how long they live; the same for issuer and verifiers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    /// At most 900 (15 minutes).
    pub access_token_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "citizen".to_owned(),
            audience: "citizen-app".to_owned(),
            access_token_ttl_secs: 900,
        }
    }
}

/// Serializes an optional secret as its value, so that a layered configuration keeps it.
pub fn serialize_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose_secret()),
        None => serializer.serialize_none(),
    }
}

/// Serializes a secret as its value, so that a layered configuration keeps it.
pub fn serialize_required_secret<S: serde::Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    serializer.serialize_str(secret.expose_secret())
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} cannot be read: {source}")]
    UnreadableFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{var} names {path}, which cannot be read: {source}")]
    UnreadableSecretFile {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// A service's own section of the configuration (`[identity]`), a type of its crate.
pub trait Section: Serialize + serde::de::DeserializeOwned + Default + 'static {
    /// The section's key: the service's name.
    const KEY: &'static str;

    /// What the development profile fills in where the file and environment are silent,
    /// usually the sandboxes standing in for outside systems.
    fn development(_on: &Development) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// What the production profile refuses in this section, each naming the key to change.
    fn production_problems(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Where a development process serves, for sections that point at its sandboxes.
#[derive(Debug, Clone)]
pub struct Development {
    /// `http://<listen>`.
    pub base_url: String,
    /// `http://<listen>/sandbox`.
    pub sandbox_url: String,
}

/// A [`Section`] type as a value, for the loader and the service registry.
#[derive(Clone, Copy)]
pub struct SectionSpec {
    pub key: &'static str,
    read: fn(&Figment) -> Result<serde_json::Value, Vec<figment::Error>>,
    development: fn(&Development) -> serde_json::Value,
    production_problems: fn(&Config) -> Result<Vec<String>, ConfigError>,
}

impl SectionSpec {
    pub const fn of<S: Section>() -> Self {
        Self {
            key: S::KEY,
            read: read_section::<S>,
            development: S::development,
            production_problems: section_problems::<S>,
        }
    }
}

impl std::fmt::Debug for SectionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key)
    }
}

fn section_problems<S: Section>(config: &Config) -> Result<Vec<String>, ConfigError> {
    Ok(config.section::<S>()?.production_problems())
}

/// Reads a section lossily (an environment string becomes the number a field wants) and keeps
/// it as its type writes it, so that reading it again is exact.
fn read_section<S: Section>(figment: &Figment) -> Result<serde_json::Value, Vec<figment::Error>> {
    let section: S = match figment.find_value(S::KEY) {
        Ok(_) => figment.focus(S::KEY).extract_lossy().map_err(|errors| {
            // Focused on the section, figment names keys within it.
            errors
                .into_iter()
                .map(|mut error| {
                    error.path.insert(0, S::KEY.to_owned());
                    error
                })
                .collect::<Vec<_>>()
        })?,
        Err(_) => S::default(),
    };
    serde_json::to_value(section).map_err(|error| vec![figment::Error::from(error.to_string())])
}

/// The services' sections of a configuration, as their types wrote them. Its `Debug` names the
/// sections only: they hold secrets.
#[derive(Clone, Default)]
pub struct Sections(BTreeMap<&'static str, serde_json::Value>);

impl std::fmt::Debug for Sections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Config {
    /// A service's section: what the file and environment said, else its defaults.
    pub fn section<S: Section>(&self) -> Result<S, ConfigError> {
        match self.sections.0.get(S::KEY) {
            Some(value) => S::deserialize(value)
                .map_err(|error| ConfigError::Invalid(format!("[{}]: {error}", S::KEY))),
            None => Ok(S::default()),
        }
    }

    /// Changes a service's section, for tests and tools that build a configuration in code.
    #[allow(
        clippy::expect_used,
        reason = "a section is kept as its own type wrote it, so it reads back and writes again"
    )]
    pub fn edit<S: Section>(&mut self, change: impl FnOnce(&mut S)) {
        let mut section = self
            .section::<S>()
            .expect("a section this process wrote reads back");
        change(&mut section);
        let value = serde_json::to_value(section).expect("a section serializes");
        self.sections.0.insert(S::KEY, value);
    }

    /// Loads the configuration of a process whose services own `sections`; a key that is
    /// neither shared nor one of theirs is refused.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        sections: &[SectionSpec],
    ) -> Result<Self, ConfigError> {
        let text = match file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|source| {
                ConfigError::UnreadableFile {
                    path: path.to_owned(),
                    source,
                }
            })?),
            None => None,
        };
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(key, _)| key.starts_with(ENV_PREFIX) && key != CONFIG_FILE_VAR)
            .collect();
        let env = EnvValues::read(&env)?;
        let layered = |development: Option<&Config>| {
            let mut figment = Figment::from(Serialized::defaults(Config::default()));
            if let Some(first) = development {
                let on = Development {
                    base_url: format!("http://{}", first.listen),
                    sandbox_url: format!("http://{}/sandbox", first.listen),
                };
                for section in sections {
                    let defaults = (section.development)(&on);
                    if !defaults.is_null() {
                        figment = figment.merge(Serialized::default(section.key, defaults));
                    }
                }
            }
            if let Some(text) = &text {
                figment = figment.merge(Toml::string(text));
            }
            extract(figment.merge(env.clone()), sections)
        };
        // The profile comes from the file or the environment; in development, the sandboxes
        // stand in for whatever outside system the file and environment leave unset.
        let first = layered(None)?;
        match first.profile {
            DeploymentProfile::Development => layered(Some(&first)),
            DeploymentProfile::Production => Ok(first),
        }
    }

    pub fn from_process(
        file: Option<&Path>,
        sections: &[SectionSpec],
    ) -> Result<Self, ConfigError> {
        Self::load(file, std::env::vars(), sections)
    }
}

fn extract(figment: Figment, sections: &[SectionSpec]) -> Result<Config, ConfigError> {
    let invalid = |errors: Vec<figment::Error>| {
        // figment reports every problem; each names the key and where it came from.
        let message = errors.iter().map(describe).collect::<Vec<_>>().join("; ");
        ConfigError::Invalid(message)
    };
    // Lossy: an environment string becomes a number or boolean where the field wants one.
    let mut config: Config = figment
        .extract_lossy()
        .map_err(|error| invalid(error.into_iter().collect()))?;
    let shared = serde_json::to_value(Config::default()).unwrap_or_default();
    let given = figment
        .data()
        .map_err(|error| invalid(error.into_iter().collect()))?;
    let mut errors = Vec::new();
    for key in given
        .get(&Profile::Default)
        .into_iter()
        .flat_map(Dict::keys)
    {
        let known = shared.get(key).is_some() || sections.iter().any(|s| s.key == key);
        if !known {
            let mut error =
                figment::Error::from(figment::error::Kind::UnknownField(key.clone(), &[]));
            error.metadata = figment.find_metadata(key).cloned();
            errors.push(error);
        }
    }
    for section in sections {
        match (section.read)(&figment) {
            Ok(value) => {
                config.sections.0.insert(section.key, value);
            }
            Err(error) => errors.extend(error),
        }
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(invalid(errors))
    }
}

fn describe(error: &figment::Error) -> String {
    let key = error.path.join(".");
    let origin = error
        .metadata
        .as_ref()
        .map(|m| m.name.to_string())
        .unwrap_or_default();
    match (&error.kind, key.is_empty()) {
        (figment::error::Kind::UnknownField(field, _), _) => {
            // The path ends with the unknown field when figment knows where it was.
            let full = if key.is_empty() {
                field.clone()
            } else if error.path.last() == Some(field) {
                key
            } else {
                format!("{key}.{field}")
            };
            format!("unknown key `{full}` (from {origin})")
        }
        (_, true) => format!("{} (from {origin})", error.kind),
        (_, false) => format!("key `{key}`: {} (from {origin})", error.kind),
    }
}

/// `CITIZEN_` variables as a figment provider, with `_FILE` variables replaced by the
/// contents of the file they name. Values stay strings; figment converts them to numbers and
/// booleans where the field asks for one, so a numeric password stays a string.
#[derive(Clone)]
struct EnvValues {
    values: Dict,
}

impl EnvValues {
    fn read(env: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut values = Dict::new();
        for (var, raw) in env {
            let Some(name) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let (name, value) = match name.strip_suffix(FILE_SUFFIX) {
                Some(name) => {
                    let path = PathBuf::from(raw);
                    let contents = std::fs::read_to_string(&path).map_err(|source| {
                        ConfigError::UnreadableSecretFile {
                            var: var.clone(),
                            path,
                            source,
                        }
                    })?;
                    (name, contents.trim_end_matches(['\r', '\n']).to_owned())
                }
                None => (name, raw.clone()),
            };
            let path: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
            insert_nested(&mut values, &path, value);
        }
        Ok(Self { values })
    }
}

fn insert_nested(dict: &mut Dict, path: &[String], value: String) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), parse_env_value(value));
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert_nested(inner, rest, value);
            }
        }
    }
}

/// A value in brackets is a JSON list of strings (`["https://a", "https://b"]`); anything else
/// stays a string.
fn parse_env_value(value: String) -> Value {
    if value.starts_with('[')
        && let Ok(items) = serde_json::from_str::<Vec<String>>(&value)
    {
        return Value::from(items);
    }
    Value::from(value)
}

impl Provider for EnvValues {
    fn metadata(&self) -> Metadata {
        Metadata::named("CITIZEN_ environment variables")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_listen_on_localhost_8080() {
        let config = Config::load(None, env(&[]), &[]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("citizen.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\n[gateway]\nbody_limit_bytes = 10\nrequest_timeout_ms = 5\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            env(&[
                ("CITIZEN_GATEWAY__BODY_LIMIT_BYTES", "20"),
                ("CITIZEN_UPSTREAMS__CATALOGUE", "http://catalogue:8080"),
                (
                    "CITIZEN_GATEWAY__CORS_ALLOWED_ORIGINS",
                    r#"["https://app.example"]"#,
                ),
                ("UNRELATED", "ignored"),
                ("CITIZEN_CONFIG", "/etc/citizen/citizen.toml"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.gateway.body_limit_bytes, 20);
        assert_eq!(config.gateway.request_timeout_ms, 5);
        assert_eq!(config.upstreams["catalogue"], "http://catalogue:8080");
        assert_eq!(config.gateway.cors_allowed_origins, ["https://app.example"]);
    }

    #[test]
    fn a_secret_can_come_from_a_file_and_stays_a_string() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("url");
        std::fs::write(&secret, "postgres://u:12345@db/citizen\n").unwrap();
        let config = Config::load(
            None,
            env(&[("CITIZEN_DATABASE__URL_FILE", secret.to_str().unwrap())]),
            &[],
        )
        .unwrap();
        assert_eq!(
            config.database.url.unwrap().expose_secret(),
            "postgres://u:12345@db/citizen"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let error =
            Config::load(None, env(&[("CITIZEN_GATEWAY__BODY_LIMT", "1")]), &[]).unwrap_err();
        assert!(error.to_string().contains("`gateway.body_limt`"), "{error}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("citizen.toml");
        std::fs::write(&file, "lissten = \"0.0.0.0:1\"\n").unwrap();
        let error = Config::load(Some(&file), env(&[]), &[]).unwrap_err();
        assert!(error.to_string().contains("`lissten`"), "{error}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let error = Config::load(
            None,
            env(&[("CITIZEN_GATEWAY__BODY_LIMIT_BYTES", "lots")]),
            &[],
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("gateway.body_limit_bytes"),
            "{error}"
        );
    }

    /// A service's section, as a service crate would write one.
    #[derive(Debug, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields, default)]
    struct Parking {
        spaces: u32,
        #[serde(serialize_with = "serialize_secret")]
        operator_key: Option<SecretString>,
        sensor_url: Option<String>,
    }

    impl Section for Parking {
        const KEY: &'static str = "parking";

        fn development(on: &Development) -> serde_json::Value {
            serde_json::json!({ "sensor_url": format!("{}/parking", on.sandbox_url) })
        }

        fn production_problems(&self) -> Vec<String> {
            match self.operator_key {
                None => vec!["parking.operator_key: set it".to_owned()],
                Some(_) => Vec::new(),
            }
        }
    }

    const PARKING: &[SectionSpec] = &[SectionSpec::of::<Parking>()];

    #[test]
    fn a_section_is_read_as_its_type_from_file_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("citizen.toml");
        std::fs::write(&file, "[parking]\nspaces = 10\n").unwrap();
        let config = Config::load(
            Some(&file),
            env(&[("CITIZEN_PARKING__OPERATOR_KEY", "k")]),
            PARKING,
        )
        .unwrap();
        let parking: Parking = config.section().unwrap();
        assert_eq!(parking.spaces, 10);
        assert_eq!(parking.operator_key.unwrap().expose_secret(), "k");
        assert!(
            !format!("{config:?}").contains("operator_key"),
            "Debug shows no section values"
        );

        let error =
            Config::load(None, env(&[("CITIZEN_PARKING__SPACES", "many")]), PARKING).unwrap_err();
        assert!(error.to_string().contains("parking.spaces"), "{error}");
        let error =
            Config::load(None, env(&[("CITIZEN_PARKING__SPCES", "1")]), PARKING).unwrap_err();
        assert!(error.to_string().contains("`parking.spces`"), "{error}");
        // A section no service of this process owns is a typo too.
        let error = Config::load(None, env(&[("CITIZEN_PARKING__SPACES", "1")]), &[]).unwrap_err();
        assert!(
            error.to_string().contains("unknown key `parking`"),
            "{error}"
        );
    }

    #[test]
    fn an_absent_section_is_its_defaults_and_an_edit_reads_back() {
        let mut config = Config::default();
        assert_eq!(config.section::<Parking>().unwrap().spaces, 0);
        config.edit(|parking: &mut Parking| {
            parking.spaces = 3;
            parking.operator_key = Some("k".to_owned().into());
        });
        let parking: Parking = config.section().unwrap();
        assert_eq!(parking.spaces, 3);
        assert_eq!(parking.operator_key.unwrap().expose_secret(), "k");
    }

    #[test]
    fn development_fills_sections_in_and_production_checks_them() {
        let development =
            Config::load(None, env(&[("CITIZEN_LISTEN", "127.0.0.1:9999")]), PARKING).unwrap();
        let parking: Parking = development.section().unwrap();
        assert_eq!(
            parking.sensor_url.as_deref(),
            Some("http://127.0.0.1:9999/sandbox/parking")
        );
        assert!(development.profile_problems(PARKING, false).is_empty());
        // What the file or environment says still wins.
        let told = Config::load(
            None,
            env(&[("CITIZEN_PARKING__SENSOR_URL", "https://sensors.example")]),
            PARKING,
        )
        .unwrap();
        assert_eq!(
            told.section::<Parking>().unwrap().sensor_url.as_deref(),
            Some("https://sensors.example")
        );

        let production =
            Config::load(None, env(&[("CITIZEN_PROFILE", "production")]), PARKING).unwrap();
        assert!(
            production
                .section::<Parking>()
                .unwrap()
                .sensor_url
                .is_none()
        );
        assert_eq!(
            production.profile_problems(PARKING, true),
            [
                "the sandbox target: stand-ins for outside systems never run in production",
                "parking.operator_key: set it"
            ]
        );
        // A process that does not run the service does not check its section.
        assert!(production.profile_problems(&[], false).is_empty());
    }

    #[test]
    fn a_missing_secret_file_is_reported() {
        let error = Config::load(
            None,
            env(&[("CITIZEN_DATABASE__URL_FILE", "/nonexistent/secret")]),
            &[],
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("CITIZEN_DATABASE__URL_FILE"),
            "{error}"
        );
    }
}
