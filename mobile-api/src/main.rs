//! `citizen`: one binary that runs any set of Citizen's services.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mobile_api::App;
use platform::Config;

#[derive(Parser)]
#[command(
    name = "citizen",
    version,
    about = "Citizen: the backend of a smart-city super-app (Hue-S style).",
    long_about = "Citizen: the backend of a smart-city super-app (Hue-S style).\n\n\
        One binary runs any set of services. Configuration comes from built-in defaults, then \
        the --config TOML file, then CITIZEN_ environment variables (CITIZEN_GATEWAY__BODY_LIMIT_BYTES \
        sets gateway.body_limit_bytes); CITIZEN_<KEY>_FILE reads a value from a file."
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "CITIZEN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the given targets until SIGTERM or Ctrl-C, then drains in-flight requests.
    Serve {
        /// Comma list of targets: `all`, `mobile-api`, `catalogue`.
        #[arg(long, default_value = "all")]
        target: String,
        /// Address to listen on (overrides `listen`), e.g. 0.0.0.0:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Applies the database migrations of the given targets and exits.
    Migrate {
        /// Comma list of targets: `all`, `catalogue`.
        #[arg(long, default_value = "all")]
        target: String,
    },
    /// Writes the gateway's OpenAPI document (YAML) to a file, or to stdout.
    Openapi {
        /// Where to write it, e.g. openapi/mobile-api.yaml.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("citizen: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("citizen: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Openapi { output } => {
            let yaml = mobile_api::gateway::openapi().to_yaml()?;
            match output {
                Some(path) => std::fs::write(&path, yaml)?,
                None => print!("{yaml}"),
            }
            Ok(())
        }
        Command::Migrate { target } => {
            let config = Config::from_process(cli.config.as_deref())?;
            platform::telemetry::init(&config.log);
            let schemas = mobile_api::app::migrate(&config, &target).await?;
            println!("migrated: {}", schemas.join(", "));
            Ok(())
        }
        Command::Serve { target, listen } => {
            let mut config = Config::from_process(cli.config.as_deref())?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            platform::telemetry::init(&config.log);
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            let app = App::start(config, &target, listener).await?;
            let modules: Vec<String> = app.modules().iter().map(ToString::to_string).collect();
            println!(
                "Citizen is serving {} on http://{} (database: {})",
                modules.join(", "),
                app.addr(),
                app.database_source().unwrap_or("none")
            );
            platform::http::shutdown_signal().await;
            app.stop().await
        }
    }
}
