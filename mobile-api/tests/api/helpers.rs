use identity::config::IdentityConfig;
use media::config::MediaConfig;
use std::net::SocketAddr;
use std::sync::Arc;

use mobile_api::App;
use platform::Config;
use secrecy::SecretString;
use sqlx::Connection;
use tokio::net::TcpListener;

/// The server that test databases are created on.
pub fn admin_database_url() -> String {
    std::env::var("TEST_ADMIN_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let name = format!("citizen_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_database_url();
        let mut connection = sqlx::PgConnection::connect(&admin)
            .await
            .expect("the test PostgreSQL server answers (TEST_ADMIN_DATABASE_URL)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut connection)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        TestDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// Drops the database while the app may still be connected, as an outage would.
    pub async fn drop_now(&self) {
        let mut connection = sqlx::PgConnection::connect(&admin_database_url())
            .await
            .unwrap();
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut connection)
        .await
        .unwrap();
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; a thread of its own may block on its own one.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut connection) = sqlx::PgConnection::connect(&admin_database_url()).await
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut connection)
                        .await;
                }
            });
        })
        .join();
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Everything in one process; the gateway calls the catalogue in-process.
    AllInOne,
    /// The catalogue and the gateway as two servers talking over HTTP.
    Split,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub database: Arc<TestDatabase>,
    apps: Vec<App>,
}

pub fn test_config(database: &TestDatabase) -> Config {
    let mut config = Config::default();
    config.database.url = Some(SecretString::from(database.url.clone()));
    config.database.max_connections = 4;
    // Development keys are generated here, one set per test.
    config.data_dir = std::env::temp_dir().join(format!("citizen-test-{}", database.name));
    // Demo admins sign in with a password, as in the development profile; the TOTP
    // requirement has its own test (staff::admins_act_as_admins_only_once_totp_is_on).
    config.edit(|identity: &mut IdentityConfig| identity.admin_totp_required = false);
    config
}

pub async fn start(config: Config, targets: &str) -> App {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_on(config, targets, listener).await
}

pub async fn start_on(config: Config, targets: &str, listener: TcpListener) -> App {
    // Warnings and errors show in a failing test's output (RUST_LOG overrides).
    platform::telemetry::init(&platform::config::LogConfig {
        filter: "warn".to_owned(),
        ..Default::default()
    });
    App::start(config, targets, listener).await.unwrap()
}

impl TestApp {
    pub async fn spawn(mode: Mode) -> TestApp {
        Self::spawn_with(mode, |_| {}).await
    }

    /// Starts the app with a configuration the test may adjust (applied to every process).
    pub async fn spawn_with(mode: Mode, adjust: impl Fn(&mut Config)) -> TestApp {
        Self::spawn_on(mode, Arc::new(TestDatabase::create().await), adjust).await
    }

    /// Starts the app on an existing database, as a restart would.
    pub async fn spawn_on(
        mode: Mode,
        database: Arc<TestDatabase>,
        adjust: impl Fn(&mut Config),
    ) -> TestApp {
        let mut config = test_config(&database);
        adjust(&mut config);
        let apps = match mode {
            Mode::AllInOne => vec![start(config, "all").await],
            Mode::Split => {
                // Every service knows where the others listen before any starts, as on
                // Kubernetes: identity and reports call each other.
                let mut listeners = Vec::new();
                for service in mobile_api::modules::SERVICES {
                    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let addr = listener.local_addr().unwrap();
                    config
                        .upstreams
                        .insert(service.name.to_owned(), format!("http://{addr}"));
                    listeners.push(listener);
                }
                let mut services = Vec::new();
                for (service, listener) in mobile_api::modules::SERVICES.iter().zip(listeners) {
                    services.push(start_on(config.clone(), service.name, listener).await);
                }
                config.database.url = None;
                let gateway = start(config, "mobile-api").await;
                std::iter::once(gateway).chain(services).collect()
            }
        };
        TestApp {
            addr: apps[0].addr(),
            client: client(),
            database,
            apps,
        }
    }

    /// The own server of the service `name`, in split mode.
    pub fn service_addr(&self, name: &str) -> Option<SocketAddr> {
        self.service_index(name)
            .map(|index| self.apps[index].addr())
    }

    fn service_index(&self, name: &str) -> Option<usize> {
        let runs_only = |app: &App| app.modules().iter().all(|m| m.name() != "mobile-api");
        self.apps
            .iter()
            .position(|app| runs_only(app) && app.modules().iter().any(|m| m.name() == name))
    }

    /// Stops the service's own server in split mode, as a crash of that pod would (the rest
    /// keeps running): its routes, jobs and consumers all stop.
    pub async fn stop_service(&mut self, name: &str) {
        let index = self.service_index(name).expect("split mode");
        self.apps.remove(index).stop().await.unwrap();
    }

    /// Starts the service's server again, with `config` as the others had it and the
    /// addresses of the services it calls.
    pub async fn start_service(&mut self, name: &str, mut config: Config) {
        let service = mobile_api::modules::service(name).unwrap();
        for called in service.calls {
            let addr = self
                .service_addr(called)
                .expect("the services it calls run");
            config
                .upstreams
                .insert((*called).to_owned(), format!("http://{addr}"));
        }
        self.apps.push(start(config, name).await);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.get(path).await.json().await.unwrap()
    }

    pub async fn stop(self) {
        for app in self.apps {
            app.stop().await.unwrap();
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// In Phú Xuân, a demo ward of `hue` (`phu-xuan`; potholes there go to `construction`).
pub const PHU_XUAN: (f64, f64) = (16.495, 107.582);

/// A pothole report at `(latitude, longitude)` answering every question of the category.
pub fn pothole_at((latitude, longitude): (f64, f64)) -> serde_json::Value {
    serde_json::json!({ "category": "pothole", "latitude": latitude, "longitude": longitude,
                        "description": "Ổ gà", "answers": { "size": "small" } })
}

/// Runs an async test once per deployment shape.
#[macro_export]
macro_rules! in_both_modes {
    ($test:ident) => {
        mod $test {
            #[tokio::test]
            async fn all_in_one() {
                super::$test($crate::helpers::Mode::AllInOne).await
            }

            #[tokio::test]
            async fn split() {
                super::$test($crate::helpers::Mode::Split).await
            }
        }
    };
}

/// Where media keeps its bytes in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The local directory, under the test's data directory.
    Local,
    /// The S3-compatible server the test run started (`scripts/s3-test-server`), a key prefix
    /// per test.
    S3,
}

/// One bucket for every test (a bucket costs the server volumes); each test has its own prefix.
pub const S3_TEST_BUCKET: &str = "citizen-test";

/// Where a test's objects live in the test bucket: named after its data directory.
pub fn s3_test_prefix(config: &Config) -> String {
    format!(
        "{}/",
        config.data_dir.file_name().unwrap().to_string_lossy()
    )
}

/// The test run's S3-compatible server.
pub fn s3_endpoint() -> String {
    std::env::var("TEST_S3_ENDPOINT").expect(
        "TEST_S3_ENDPOINT is set by scripts/s3-test-server, which nextest runs before the tests",
    )
}

impl Store {
    /// Points `config` at this store (for S3, at `endpoint`, under a prefix of the test's own).
    pub fn configure(self, config: &mut Config, endpoint: &str) {
        if self == Store::S3 {
            let key_prefix = s3_test_prefix(config);
            config.edit(|media: &mut MediaConfig| {
                media.s3 = Some(media::config::S3Config {
                    endpoint: endpoint.to_owned(),
                    public_endpoint: None,
                    region: "us-east-1".to_owned(),
                    bucket: S3_TEST_BUCKET.to_owned(),
                    key_prefix,
                    path_style: true,
                    access_key_id: "citizen-test".to_owned(),
                    secret_access_key: SecretString::from("citizen-test-secret"),
                    create_bucket: true,
                })
            });
        }
    }
}

/// Runs an async media test with each storage backend.
#[macro_export]
macro_rules! in_both_stores {
    ($test:ident) => {
        mod $test {
            use $crate::helpers::Store;

            #[tokio::test]
            async fn local() {
                super::$test(Store::Local).await
            }

            #[tokio::test]
            async fn s3() {
                super::$test(Store::S3).await
            }
        }
    };
}

/// Runs an async media test in each deployment shape with each storage backend.
#[macro_export]
macro_rules! in_both_modes_and_stores {
    ($test:ident) => {
        mod $test {
            use $crate::helpers::{Mode, Store};

            #[tokio::test]
            async fn all_in_one_local() {
                super::$test(Mode::AllInOne, Store::Local).await
            }

            #[tokio::test]
            async fn split_local() {
                super::$test(Mode::Split, Store::Local).await
            }

            #[tokio::test]
            async fn all_in_one_s3() {
                super::$test(Mode::AllInOne, Store::S3).await
            }

            #[tokio::test]
            async fn split_s3() {
                super::$test(Mode::Split, Store::S3).await
            }
        }
    };
}

/// Events through the local NATS server (`TEST_NATS_URL`), on a stream of `test_id`'s own:
/// every process of one test passes the same id.
pub fn use_nats(config: &mut Config, test_id: &str) {
    config.events.backend = platform::config::EventBackend::Nats;
    config.events.nats_url =
        std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    config.events.nats_stream = format!("TEST_{test_id}");
    config.events.nats_subject_prefix = format!("test.{test_id}");
}

/// A fresh Vietnamese mobile number, so tests never share quotas.
pub fn random_phone() -> String {
    format!(
        "09{:08}",
        rand_core::RngCore::next_u32(&mut rand_core::OsRng) % 100_000_000
    )
}

impl TestApp {
    /// Signs a resident in with a phone code read from the development SMS sink.
    pub async fn sign_in(&self, phone: &str) -> serde_json::Value {
        let sent = self
            .client
            .post(self.url("/v1/auth/otp"))
            .json(&serde_json::json!({ "phone": phone }))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 202, "{}", sent.text().await.unwrap());
        let code = self.last_code(phone).await;
        let verified = self
            .client
            .post(self.url("/v1/auth/otp/verify"))
            .json(&serde_json::json!({ "phone": phone, "code": code }))
            .send()
            .await
            .unwrap();
        assert_eq!(verified.status(), 200);
        verified.json().await.unwrap()
    }

    /// The code in the last SMS sent to `phone`.
    pub async fn last_code(&self, phone: &str) -> String {
        let messages: Vec<String> = self
            .client
            .get(self.url("/v1/dev/sms"))
            .query(&[("phone", phone)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let last = messages.last().expect("an SMS was sent");
        six_digits(last).expect("the SMS holds a code")
    }

    /// The status of an authenticated GET once a background job had time to reach `expected`
    /// (checked every 100 ms, for 10 s at most); the last status seen otherwise.
    pub async fn status_once_settled(&self, path: &str, token: &str, expected: u16) -> u16 {
        let mut status = 0;
        for _ in 0..100 {
            status = self
                .authed(reqwest::Method::GET, path, token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            if status == expected {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        status
    }

    /// The access token of a demo staff member (`identity.dev_seed_staff`).
    pub async fn staff_token(&self, username: &str) -> String {
        self.staff_token_with(username, "hue-demo-password").await
    }

    /// The access token of a staff member signed in with `password`.
    pub async fn staff_token_with(&self, username: &str, password: &str) -> String {
        let signed_in: serde_json::Value = self
            .client
            .post(self.url("/v1/auth/staff/login"))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        signed_in["access_token"].as_str().unwrap().to_owned()
    }

    /// Files `report` as the app does, with a new `Idempotency-Key`.
    pub async fn post_report(&self, token: &str, report: &serde_json::Value) -> reqwest::Response {
        self.authed(reqwest::Method::POST, "/v1/reports", token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(report)
            .send()
            .await
            .unwrap()
    }

    /// Files `report`, expecting 201: the answer's `report`.
    pub async fn file_report(&self, token: &str, report: &serde_json::Value) -> serde_json::Value {
        let response = self.post_report(token, report).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json::<serde_json::Value>().await.unwrap()["report"].clone()
    }

    /// Files `report`, expecting 201: its id.
    pub async fn file_report_id(&self, token: &str, report: &serde_json::Value) -> String {
        self.file_report(token, report).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Refreshes the session `signed_in` (a sign-in's answer), expecting new tokens.
    pub async fn refresh(&self, signed_in: &serde_json::Value) -> serde_json::Value {
        let response = self
            .client
            .post(self.url("/v1/auth/refresh"))
            .json(&serde_json::json!({ "refresh_token": signed_in["refresh_token"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "the session refreshes");
        response.json().await.unwrap()
    }

    /// The access token of a new resident.
    pub async fn resident_token(&self) -> String {
        self.sign_in(&random_phone()).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An authenticated GET.
    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.authed(reqwest::Method::GET, path, token)
            .send()
            .await
            .unwrap()
    }

    /// A pool on one service's schema of the test's database, for what the API does not show
    /// (an outbox, a push queue).
    pub async fn schema_pool(&self, schema: &str) -> sqlx::PgPool {
        sqlx::PgPool::connect(&format!(
            "{}?options=-c%20search_path%3D{schema}",
            self.database.url
        ))
        .await
        .unwrap()
    }

    /// An authenticated GET's JSON body.
    pub async fn get_json_as(&self, path: &str, token: &str) -> serde_json::Value {
        self.get_as(path, token).await.json().await.unwrap()
    }

    pub fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }
}

pub fn six_digits(text: &str) -> Option<String> {
    text.as_bytes()
        .windows(6)
        .find(|w| w.iter().all(u8::is_ascii_digit))
        .map(|w| String::from_utf8_lossy(w).into_owned())
}

/// What `probe` gives once `done` holds for it, checked every 100 ms for 10 s at most (a
/// background job's work, an emulator's record); the last answer otherwise.
/// `POST path` with `body` as JSON, as `token`'s holder or anonymously.
pub async fn post_json(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> reqwest::Response {
    let request = client().post(app.url(path)).json(body);
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

pub async fn poll_until<T, Fut>(mut probe: impl FnMut() -> Fut, done: impl Fn(&T) -> bool) -> T
where
    Fut: std::future::Future<Output = T>,
{
    let mut answer = probe().await;
    for _ in 0..100 {
        if done(&answer) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        answer = probe().await;
    }
    answer
}
