//! `citizen`: one binary that runs any set of Citizen's services.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use mobile_api::{App, modules};
use platform::Config;

/// Every request allocates across many small middlewares from every worker thread; glibc's
/// malloc spent about a sixth of the gateway's CPU on that, partly waiting on its arena locks
/// (`perf` on `load-tests/bench`). mimalloc keeps per-thread heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        /// Comma list of targets (listed below `--help`).
        #[arg(long, default_value = "all")]
        target: String,
        /// Address to listen on (overrides `listen`), e.g. 0.0.0.0:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Applies the database migrations of the given targets and exits.
    Migrate {
        /// Comma list of targets (listed below `--help`).
        #[arg(long, default_value = "all")]
        target: String,
    },
    /// Manages staff accounts (the first admin of a new deployment is made here).
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Manages the jurisdictions reports are routed in.
    Jurisdiction {
        #[command(subcommand)]
        command: JurisdictionCommand,
    },
    /// Manages the bus timetables riders see.
    Transit {
        #[command(subcommand)]
        command: TransitCommand,
    },
    /// Writes the gateway's OpenAPI document (YAML) to a file, or to stdout.
    Openapi {
        /// Where to write it, e.g. openapi/mobile-api.yaml.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Creates a staff account. The password is read from --password-file, else from the first
    /// line of standard input.
    Create {
        #[arg(long)]
        username: String,
        /// ward_officer, department_staff, jurisdiction_admin or platform_admin; repeatable.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The jurisdiction the staff member works in (all roles but platform_admin).
        #[arg(long)]
        jurisdiction: Option<String>,
        /// A ward id in scope; repeatable.
        #[arg(long = "ward")]
        wards: Vec<String>,
        /// A department id in scope; repeatable.
        #[arg(long = "department")]
        departments: Vec<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum JurisdictionCommand {
    /// Imports (or replaces) a jurisdiction's departments, categories and routing rules from a
    /// JSON file, and its wards from a GeoJSON FeatureCollection (see
    /// services/reports/data/hue/ for the format).
    Import {
        /// The jurisdiction JSON file.
        #[arg(long)]
        file: PathBuf,
        /// The wards GeoJSON file (Polygon or MultiPolygon features with `id`, `name_vi` and
        /// `name_en` properties).
        #[arg(long)]
        wards: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TransitCommand {
    /// Imports a GTFS Schedule feed (a zip) as a jurisdiction's bus timetable, replacing the
    /// last one; a feed with any problem is refused whole, with every problem listed.
    Import {
        /// The feed, e.g. feed.zip.
        feed: PathBuf,
        /// The jurisdiction whose timetable it is, e.g. hue.
        #[arg(long)]
        jurisdiction: String,
    },
}

/// The largest zipped GTFS feed `citizen transit import` reads.
const MAX_TRANSIT_FEED_BYTES: u64 = 100 * 1024 * 1024;

/// The targets `--target` takes, from the module registry.
fn targets_help() -> String {
    let mut help = String::from(
        "Comma list of targets:\n  all: the gateway and every service (in the development profile, the sandboxes too)\n",
    );
    for module in mobile_api::modules::all_modules().skip(1) {
        help.push_str(&format!("  {}: {}\n", module.name(), module.about()));
    }
    help.trim_end().to_owned()
}

fn main() -> ExitCode {
    let command = Cli::command()
        .mut_subcommand("serve", |serve| {
            serve.mut_arg("target", |arg| arg.long_help(targets_help()))
        })
        .mut_subcommand("migrate", |migrate| {
            migrate.mut_arg("target", |arg| arg.long_help(targets_help()))
        });
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
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
        Command::Staff {
            command:
                StaffCommand::Create {
                    username,
                    roles,
                    jurisdiction,
                    wards,
                    departments,
                    display_name,
                    password_file,
                },
        } => {
            let config = Config::from_process(cli.config.as_deref(), &modules::config_sections())?;
            platform::telemetry::init(&config.log);
            let roles = roles
                .iter()
                .map(|r| {
                    platform::auth::Role::parse(r)
                        .ok_or_else(|| anyhow::anyhow!("unknown role `{r}`"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let password = match password_file {
                Some(path) => std::fs::read_to_string(path)?,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line
                }
            };
            let staff = identity::NewStaff {
                username,
                password: password.trim_end_matches(['\r', '\n']).to_owned(),
                display_name,
                roles,
                scope: platform::auth::Scope {
                    jurisdiction,
                    wards,
                    departments,
                },
            };
            let id = mobile_api::app::create_staff(&config, &staff).await?;
            println!("created staff {} ({id})", staff.username);
            Ok(())
        }
        Command::Jurisdiction {
            command: JurisdictionCommand::Import { file, wards },
        } => {
            let config = Config::from_process(cli.config.as_deref(), &modules::config_sections())?;
            platform::telemetry::init(&config.log);
            let read = |path: &PathBuf| {
                std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
            };
            let jurisdiction = read(&file)?;
            let wards = wards.as_ref().map(read).transpose()?;
            let (id, count) =
                mobile_api::app::import_jurisdiction(&config, &jurisdiction, wards.as_deref())
                    .await?;
            println!("imported jurisdiction {id} ({count} wards)");
            Ok(())
        }
        Command::Transit {
            command: TransitCommand::Import { feed, jurisdiction },
        } => {
            let config = Config::from_process(cli.config.as_deref(), &modules::config_sections())?;
            platform::telemetry::init(&config.log);
            let size = std::fs::metadata(&feed)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", feed.display()))?
                .len();
            // What inflates from it is bounded again while it is read.
            anyhow::ensure!(
                size <= MAX_TRANSIT_FEED_BYTES,
                "{} is {size} bytes; a feed is at most {MAX_TRANSIT_FEED_BYTES}",
                feed.display()
            );
            let bytes = std::fs::read(&feed)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", feed.display()))?;
            match mobile_api::app::import_transit_feed(&config, &jurisdiction, &bytes).await? {
                mobility::Imported::Replaced {
                    stops,
                    routes,
                    trips,
                    until,
                } => {
                    println!(
                        "imported {jurisdiction}'s timetable: {routes} routes, {stops} stops, {trips} trips"
                    );
                    match until {
                        Some(day) => println!("buses run until {day}: import a new feed before"),
                        None => println!("no bus runs from today on in this feed"),
                    }
                }
                mobility::Imported::Unchanged => {
                    println!("{jurisdiction} already has this timetable")
                }
            }
            Ok(())
        }
        Command::Migrate { target } => {
            let config = Config::from_process(cli.config.as_deref(), &modules::config_sections())?;
            platform::telemetry::init(&config.log);
            let schemas = mobile_api::app::migrate(&config, &target).await?;
            println!("migrated: {}", schemas.join(", "));
            Ok(())
        }
        Command::Serve { target, listen } => {
            // `--listen` is read like `CITIZEN_LISTEN`, so what derives from it (the sandboxes'
            // addresses in development) follows it.
            let listen = listen.map(|addr| ("CITIZEN_LISTEN".to_owned(), addr.to_string()));
            let config = Config::load(
                cli.config.as_deref(),
                std::env::vars().chain(listen),
                &modules::config_sections(),
            )?;
            let target = if target == "all"
                && config.profile == platform::config::DeploymentProfile::Development
            {
                "all,sandbox".to_owned()
            } else {
                target
            };
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
