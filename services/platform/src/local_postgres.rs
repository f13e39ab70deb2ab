//! Finding a PostgreSQL for a newcomer's `citizen serve` with no configuration: the configured
//! URL, else `DATABASE_URL`, else a server on the standard local socket or port (database
//! `citizen`, created if missing), else a private cluster started from the installed server
//! binaries under the data directory and stopped on exit.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use anyhow::{Context, bail};
use secrecy::SecretString;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::config::Config;

const DATABASE_NAME: &str = "citizen";

/// A database to use, and the private cluster to stop when done, if one was started.
pub struct LocatedDatabase {
    pub url: SecretString,
    /// Where it came from, for the start-up log line (never includes credentials).
    pub source: String,
    pub private_cluster: Option<PrivateCluster>,
}

pub async fn locate(config: &Config) -> anyhow::Result<LocatedDatabase> {
    if let Some(url) = &config.database.url {
        return Ok(LocatedDatabase {
            url: url.clone(),
            source: "database.url".to_owned(),
            private_cluster: None,
        });
    }
    if let Ok(url) = std::env::var("DATABASE_URL")
        && !url.is_empty()
    {
        return Ok(LocatedDatabase {
            url: SecretString::from(url),
            source: "DATABASE_URL".to_owned(),
            private_cluster: None,
        });
    }
    // (place, server URL without a database name)
    let candidates = [
        ("the local socket", "postgres://?host=/var/run/postgresql"),
        ("127.0.0.1:5432", "postgres://postgres@127.0.0.1:5432"),
    ];
    for (place, server) in candidates {
        if let Ok(url) = ensure_database(server).await {
            return Ok(LocatedDatabase {
                url,
                source: format!("PostgreSQL on {place}, database {DATABASE_NAME}"),
                private_cluster: None,
            });
        }
    }
    let cluster = PrivateCluster::start(&config.data_dir.join("postgres"))?;
    let url = ensure_database(&cluster.server_url()).await?;
    Ok(LocatedDatabase {
        url,
        source: format!("private cluster in {}", cluster.dir.display()),
        private_cluster: Some(cluster),
    })
}

/// Connects to a server's maintenance database, creates `citizen` if it is missing, and
/// returns the URL of `citizen`. `server` is a URL without a database name.
async fn ensure_database(server: &str) -> anyhow::Result<SecretString> {
    let on_database = |name: &str| match server.split_once('?') {
        Some((base, query)) => format!("{base}/{name}?{query}"),
        None => format!("{server}/{name}"),
    };
    let mut connection = PgConnectOptions::from_str(&on_database("postgres"))?
        .connect()
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(DATABASE_NAME)
            .fetch_one(&mut connection)
            .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {DATABASE_NAME}"))
            .execute(&mut connection)
            .await?;
    }
    connection.close().await.ok();
    Ok(SecretString::from(on_database(DATABASE_NAME)))
}

/// A PostgreSQL cluster owned by this process, listening only on a socket in its directory.
pub struct PrivateCluster {
    dir: PathBuf,
    pg_ctl: PathBuf,
    stopped: bool,
}

impl PrivateCluster {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let Some(bin) = server_binaries() else {
            bail!(
                "no PostgreSQL found: set DATABASE_URL, or install the server \
                 (Debian: apt-get install postgresql)"
            );
        };
        if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
            bail!(
                "no PostgreSQL server answers locally, and a private cluster cannot run as root: \
                 start PostgreSQL (pg_ctlcluster 15 main start) or set DATABASE_URL"
            );
        }
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let pg_ctl = bin.join("pg_ctl");
        if !dir.join("PG_VERSION").exists() {
            run(Command::new(bin.join("initdb")).arg("-D").arg(&dir).args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
            ]))
            .context("initdb failed")?;
        }
        let server_options = format!(
            "-c listen_addresses='' -k {} -c max_connections=100",
            dir.display()
        );
        run(Command::new(&pg_ctl)
            .arg("-D")
            .arg(&dir)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-o", &server_options, "-w", "start"]))
        .context("pg_ctl start failed")?;
        Ok(Self {
            dir,
            pg_ctl,
            stopped: false,
        })
    }

    /// The cluster's URL without a database name.
    fn server_url(&self) -> String {
        format!("postgres://postgres@localhost?host={}", self.dir.display())
    }

    /// Stops the cluster, waiting for it to shut down.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let result = run(Command::new(&self.pg_ctl)
            .arg("-D")
            .arg(&self.dir)
            .args(["-m", "fast", "-w", "stop"]));
        if let Err(error) = result {
            tracing::error!(?error, "private PostgreSQL cluster did not stop");
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command.output()?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// The directory holding `initdb` and `pg_ctl`: on PATH, else Debian's versioned directories,
/// newest first.
fn server_binaries() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file())
            .collect();
        versions.sort_by_key(|p| {
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        });
        versions.pop()
    })
}
