use std::net::SocketAddr;

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
    pub database: TestDatabase,
    apps: Vec<App>,
}

pub fn test_config(database: &TestDatabase) -> Config {
    let mut config = Config::default();
    config.database.url = Some(SecretString::from(database.url.clone()));
    config.database.max_connections = 4;
    // Development keys are generated here, one set per test.
    config.data_dir = std::env::temp_dir().join(format!("citizen-test-{}", database.name));
    config
}

pub async fn start(config: Config, targets: &str) -> App {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    App::start(config, targets, listener).await.unwrap()
}

impl TestApp {
    pub async fn spawn(mode: Mode) -> TestApp {
        Self::spawn_with(mode, |_| {}).await
    }

    /// Starts the app with a configuration the test may adjust (applied to every process).
    pub async fn spawn_with(mode: Mode, adjust: impl Fn(&mut Config)) -> TestApp {
        let database = TestDatabase::create().await;
        let mut config = test_config(&database);
        adjust(&mut config);
        let apps = match mode {
            Mode::AllInOne => vec![start(config, "all").await],
            Mode::Split => {
                let catalogue = start(config.clone(), "catalogue").await;
                let identity = start(config.clone(), "identity").await;
                for (name, app) in [("catalogue", &catalogue), ("identity", &identity)] {
                    config
                        .upstreams
                        .insert(name.to_owned(), format!("http://{}", app.addr()));
                }
                config.database.url = None;
                let gateway = start(config, "mobile-api").await;
                vec![gateway, catalogue, identity]
            }
        };
        TestApp {
            addr: apps[0].addr(),
            client: client(),
            database,
            apps,
        }
    }

    /// The catalogue's own server, in split mode.
    pub fn catalogue_addr(&self) -> Option<SocketAddr> {
        self.apps.get(1).map(App::addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
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
