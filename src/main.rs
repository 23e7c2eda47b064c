//! The `authgraph` command: run the server, apply migrations, print the schema, mint
//! Admin API tokens.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use authgraph::config::{Config, LogFormat, Secret};
use authgraph::service::admin::signing_keys::ADMIN_SCOPES;

/// mimalloc: the Admin API allocates many small objects per request (rows, JSON, GraphQL
/// values); glibc malloc spent a quarter of the CPU time of a users-list load test.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `authgraph --version`: the crate version and the git commit it was built from.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("BUILD_GIT_COMMIT"), ")");

#[derive(Parser)]
#[command(name = "authgraph", version = VERSION, about = "An identity server with a GraphQL Admin API and an OIDC provider")]
struct Cli {
    /// Config file (default: ./authgraph.toml if it exists).
    #[arg(long, global = true, env = "AUTHGRAPH_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL; overrides the config file and AUTHGRAPH_DATABASE_URL.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Listen address; overrides the config. Give it to `admin-token` too when the
    /// server runs with it, since it sets the default issuer and audience.
    #[arg(long, global = true)]
    listen: Option<std::net::SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default command).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the Admin API schema (SDL), as committed in schema.graphql.
    Schema,
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print a signed Admin API access token (and nothing else).
    AdminToken {
        /// Scope to grant; repeat for several. Default: every Admin API scope.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Lifetime, e.g. 30s, 10m, 2h, 1d.
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        ttl: Duration,
        /// Subject recorded in the audit log as the actor.
        #[arg(long, default_value = "admin-cli")]
        subject: String,
    },
    /// Import users from an NDJSON or CSV file of Authgear's import records.
    Import(ImportArgs),
    /// Export users as Authgear's export records, streamed straight from the database.
    Export(ExportArgs),
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The file: NDJSON (one record per line), or CSV when it ends in .csv.
    file: PathBuf,
    /// Update existing users with the fields a record names (default: skip them).
    #[arg(long)]
    upsert: bool,
    /// The login ID that finds existing users: email, phone_number or preferred_username.
    #[arg(long, default_value = "email")]
    identifier: String,
    /// Validate every record and report outcomes without changing anything.
    #[arg(long)]
    dry_run: bool,
    /// ndjson or csv (default: from the file name).
    #[arg(long)]
    format: Option<String>,
    /// Continue an interrupted import of the same file after the records it committed.
    #[arg(long)]
    resume: Option<uuid::Uuid>,
}

/// What `authgraph export` exports, and where to.
#[derive(clap::Args)]
struct ExportArgs {
    /// `ndjson` (one JSON record per line) or `csv`.
    #[arg(long, default_value = "ndjson")]
    format: String,
    /// Write to this file (replaced only when the export completes); default: stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Only users the `users` list's keyword matches (a user or login ID, or a prefix of an
    /// email, username, phone number or name).
    #[arg(long)]
    search: Option<String>,
    /// Only users with this role, directly or through a group; repeat for all of several.
    #[arg(long = "role")]
    roles: Vec<String>,
    /// Only users in this group; repeat for all of several.
    #[arg(long = "group")]
    groups: Vec<String>,
    /// Only disabled (`true`) or enabled (`false`) users.
    #[arg(long)]
    disabled: Option<bool>,
    /// A CSV column: a JSON pointer, optionally `=header` (`/sub=user_id`); repeat for more.
    /// Default: the columns listed in the README.
    #[arg(long = "field")]
    fields: Vec<String>,
    /// Add password hashes to the records (audited).
    #[arg(long)]
    include_password_hashes: bool,
    /// Subject recorded in the audit log as the actor.
    #[arg(long, default_value = "admin-cli")]
    subject: String,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new key active; the old one verifies until its tokens have expired.
    Rotate {
        /// RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        alg: String,
    },
    /// List the keys that can still verify tokens.
    List,
}

mod cli_import;

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("`{s}` is not a duration such as 10m"))?;
    let unit_secs: u64 = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit in `{s}`: use s, m, h or d")),
    };
    let secs = n.saturating_mul(unit_secs);
    if secs == 0 || secs > authgraph::service::admin::signing_keys::MAX_ADMIN_TOKEN_TTL.as_secs() {
        return Err("the lifetime must be between 1s and 1d".into());
    }
    Ok(Duration::from_secs(secs))
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    // Both filters were checked when the config was loaded, so neither falls back silently.
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) => EnvFilter::try_new(f),
        Err(_) => EnvFilter::try_new(&config.log.level),
    }
    .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// The global flags that `admin-token` needs to mint a token this server accepts: the same
/// config file, database and issuer. `listen` is the address the server is bound to.
fn admin_token_command(cli_config: Option<&PathBuf>, cli_database: Option<&str>, config: &Config) -> String {
    let mut cmd = vec!["authgraph".to_owned()];
    if let Some(path) = cli_config {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        cmd.extend(["--config".to_owned(), shell_quote(&path.display().to_string())]);
    }
    if let Some(url) = cli_database {
        cmd.extend(["--database-url".to_owned(), shell_quote(&redact_password(url))]);
    }
    // Without `public_url` the issuer and audience come from the listen address.
    if config.public_url.is_none() {
        cmd.extend(["--listen".to_owned(), config.listen.to_string()]);
    }
    cmd.push("admin-token".to_owned());
    cmd.join(" ")
}

/// A database URL with its password (if any) replaced, for printing.
fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("PASSWORD"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Quotes `arg` for a POSIX shell when it needs it.
fn shell_quote(arg: &str) -> String {
    let plain = arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,?&".contains(c));
    if plain { arg.to_owned() } else { format!("'{}'", arg.replace('\'', "'\\''")) }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let cli_config = cli.config.clone();
    let cli_database = cli.database_url.clone();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("authgraph: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(url) = cli.database_url {
        config.database_url = Secret::new(url);
        if let Err(e) = config.validate() {
            eprintln!("authgraph: {e}");
            return ExitCode::from(2);
        }
    }
    if let Some(addr) = cli.listen {
        config.listen = addr;
    }
    let banner = Banner { config: cli_config, database_url: cli_database };
    match run(cli.command.unwrap_or(Command::Serve), config, banner).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authgraph: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What the command line gave that the start-up banner repeats.
struct Banner {
    config: Option<PathBuf>,
    database_url: Option<String>,
}

async fn run(command: Command, mut config: Config, banner: Banner) -> anyhow::Result<()> {
    match command {
        Command::Schema => {
            print!("{}", authgraph::graphql::sdl());
            Ok(())
        }
        Command::Migrate => {
            init_logging(&config);
            let n = authgraph::service::startup::migrate(config.database_url.expose()).await?;
            eprintln!("applied {n} migration(s)");
            Ok(())
        }
        Command::AdminToken { scopes, ttl, subject } => {
            let scopes: Vec<String> =
                if scopes.is_empty() { ADMIN_SCOPES.iter().map(|s| (*s).to_owned()).collect() } else { scopes };
            if let Some(bad) = scopes.iter().find(|s| !ADMIN_SCOPES.contains(&s.as_str())) {
                anyhow::bail!("unknown scope `{bad}`; known scopes: {}", ADMIN_SCOPES.join(" "));
            }
            let (services, _) = authgraph::init_services(config).await?;
            let token = services
                .signing_keys()
                .mint_admin_token(&subject, &scopes, ttl)
                .map_err(|e| anyhow::anyhow!(e.describe()))?;
            println!("{token}");
            Ok(())
        }
        Command::Import(args) => {
            let (services, _) = authgraph::init_services(config).await?;
            cli_import::run(&services, args).await
        }
        Command::Export(args) => export(config, args).await,
        Command::Keys { command } => {
            let (services, _) = authgraph::init_services(config).await?;
            match command {
                KeysCommand::Rotate { alg } => {
                    let audit = authgraph::service::Audit {
                        actor: authgraph::service::Actor {
                            subject: Some("admin-cli".into()),
                            triggered_by: authgraph::service::TriggeredBy::AdminApi,
                            ..Default::default()
                        },
                        activity: "admin_api.mutation.rotate_signing_key.executed".into(),
                    };
                    let key = services
                        .signing_keys()
                        .rotate(&audit, &alg)
                        .await
                        .map_err(|e| anyhow::anyhow!(e.describe()))?;
                    println!("{} {} active", key.kid, key.alg);
                }
                KeysCommand::List => {
                    for k in services.signing_keys().list().await.map_err(|e| anyhow::anyhow!(e.describe()))? {
                        let state = if k.active { "active".to_owned() } else { format!("retires {:?}", k.retire_at) };
                        println!("{} {} {}", k.kid, k.alg, state);
                    }
                }
            }
            Ok(())
        }
        Command::Serve => {
            let started = Instant::now();
            init_logging(&config);
            let listener = TcpListener::bind(config.listen).await?;
            let listen = listener.local_addr()?;
            config.listen = listen;
            let threads = config.http_thread_count();
            let public = config.public_url();
            let token_cmd = admin_token_command(banner.config.as_ref(), banner.database_url.as_deref(), &config);
            let (services, startup) = authgraph::init_services(config).await?;
            if startup.created_master_key {
                tracing::warn!(path = %services.config().master_key_file.display(), "created a new master key file; back it up with the database");
            }
            if startup.created_signing_key {
                tracing::info!("generated the first RS256 signing key");
            }
            authgraph::start_background(&services);
            if let Some(addr) = authgraph::start_metrics(&services).await? {
                tracing::info!(addr = %addr, "metrics are served at http://{addr}/metrics");
            }
            let router = authgraph::build_router(services)?;
            tracing::info!(
                addr = %listen,
                migrations = startup.migrations,
                http_threads = threads,
                ready_in_ms = started.elapsed().as_millis() as u64,
                "authgraph is ready"
            );
            eprintln!(
                "\n  authgraph is listening on {public}\n  GraphiQL:     {public}/graphiql\n  Admin token:  {token_cmd}   (paste it as `Authorization: Bearer <token>`)\n"
            );
            match threads {
                1 => authgraph::serve(listener, router, shutdown_signal()).await?,
                n => authgraph::serve_on_threads(listener, router, n, shutdown_signal()).await?,
            }
            Ok(())
        }
    }
}

/// `authgraph export`: streams the export into the output, chunk by chunk.
async fn export(config: Config, args: ExportArgs) -> anyhow::Result<()> {
    use authgraph::domain::user_export::{CsvField, CsvOptions, ExportFormat, ExportRequest};
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;

    let started = Instant::now();
    let format = ExportFormat::parse(&args.format)
        .ok_or_else(|| anyhow::anyhow!("unknown format `{}`; use ndjson or csv", args.format))?;
    let fields: Vec<CsvField> = args
        .fields
        .iter()
        .map(|f| match f.split_once('=') {
            Some((pointer, name)) => CsvField { pointer: pointer.to_owned(), field_name: Some(name.to_owned()) },
            None => CsvField { pointer: f.clone(), field_name: None },
        })
        .collect();
    if !fields.is_empty() && format != ExportFormat::Csv {
        anyhow::bail!("--field applies only to --format csv");
    }
    let request = ExportRequest {
        format,
        csv: (!fields.is_empty()).then_some(CsvOptions { fields }),
        search_keyword: args.search,
        role_keys: args.roles,
        group_keys: args.groups,
        is_disabled: args.disabled,
        include_password_hashes: args.include_password_hashes,
    };
    let (services, _) = authgraph::init_services(config).await?;
    let actor = authgraph::service::Actor {
        subject: Some(args.subject),
        triggered_by: authgraph::service::TriggeredBy::AdminApi,
        ..Default::default()
    };
    let download =
        services.user_exports().stream_now(&actor, request).await.map_err(|e| anyhow::anyhow!(e.describe()))?;
    let partial = args.output.as_ref().map(|p| {
        let mut name = p.file_name().unwrap_or_default().to_os_string();
        name.push(".partial");
        p.with_file_name(name)
    });
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin> = match &partial {
        Some(path) => Box::new(tokio::io::BufWriter::new(tokio::fs::File::create(path).await?)),
        None => Box::new(tokio::io::BufWriter::new(tokio::io::stdout())),
    };
    let mut body = download.body;
    let mut bytes = 0usize;
    let mut lines = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                drop(out);
                if let Some(path) = &partial {
                    let _ = std::fs::remove_file(path);
                }
                anyhow::bail!("the export failed: {}", e.describe());
            }
        };
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    drop(out);
    if let (Some(partial), Some(output)) = (&partial, &args.output) {
        std::fs::rename(partial, output)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let what = match format {
        ExportFormat::Ndjson => format!("{lines} user(s)"),
        // A cell may hold a line break, so lines are counted, not users.
        ExportFormat::Csv => format!("{} CSV line(s) after the header", lines.saturating_sub(1)),
    };
    eprintln!("exported {what}, {bytes} bytes, in {secs:.1}s ({:.0} lines/s)", lines as f64 / secs.max(1e-9));
    Ok(())
}
