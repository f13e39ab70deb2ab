//! Layered configuration: built-in defaults, then a TOML file, then `CITIZEN_` environment
//! variables (`__` separates nested keys, `CITIZEN_UPSTREAMS__CATALOGUE`). Any key may instead
//! be given as `<KEY>_FILE` naming a file that holds the value, for secrets mounted by
//! Kubernetes. A key nobody knows is refused, naming it, so a typo never silently falls back
//! to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

const ENV_PREFIX: &str = "CITIZEN_";
const FILE_SUFFIX: &str = "_FILE";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Where the process keeps its own files (the private PostgreSQL cluster, dev keys).
    pub data_dir: PathBuf,
    pub log: LogConfig,
    pub database: DatabaseConfig,
    pub gateway: GatewayConfig,
    /// Base URLs of services that run in another process, by service name. A service that
    /// runs in this process is called in-process and needs no entry.
    pub upstreams: BTreeMap<String, String>,
    pub catalogue: CatalogueConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            log: LogConfig::default(),
            database: DatabaseConfig::default(),
            gateway: GatewayConfig::default(),
            upstreams: BTreeMap::new(),
            catalogue: CatalogueConfig::default(),
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
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            request_timeout_ms: 30_000,
            upstream_timeout_ms: 10_000,
            upstream_connect_timeout_ms: 2_000,
            body_limit_bytes: 1024 * 1024,
            cors_allowed_origins: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogueConfig {
    /// Jurisdiction served when a request names none.
    pub default_jurisdiction: String,
    /// Jurisdiction data files loaded into the database at start; defaults to the ones
    /// shipped in the binary.
    pub seed_files: Vec<PathBuf>,
}

impl Default for CatalogueConfig {
    fn default() -> Self {
        Self {
            default_jurisdiction: "hue".to_owned(),
            seed_files: Vec::new(),
        }
    }
}

fn serialize_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose_secret()),
        None => serializer.serialize_none(),
    }
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

impl Config {
    /// Loads the configuration from defaults, an optional TOML file and the given environment.
    /// The environment is passed in so tests need not touch the process environment.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::UnreadableFile {
                    path: path.to_owned(),
                    source,
                })?;
            figment = figment.merge(Toml::string(&text));
        }
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(key, _)| key.starts_with(ENV_PREFIX))
            .collect();
        figment = figment.merge(EnvValues::read(&env)?);
        figment.extract().map_err(|error| {
            // figment reports every problem; the first one names the key and where it came from.
            let message = error
                .into_iter()
                .map(|e| describe(&e))
                .collect::<Vec<_>>()
                .join("; ");
            ConfigError::Invalid(message)
        })
    }

    /// The configuration as a newcomer would see it with the process environment.
    pub fn from_process(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load(file, std::env::vars())
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
            let full = if key.is_empty() {
                field.clone()
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
