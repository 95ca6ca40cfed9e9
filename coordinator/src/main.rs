//! `fleetscan-coordinator`: the same as `fleetscan coordinator`.

use std::process::ExitCode;

use clap::Parser;
use fleetscan_proto::logging::{self, LogFormat};

/// The fleetscan coordinator: gRPC server over a Redis job queue.
#[derive(Debug, Parser)]
#[command(
    name = "fleetscan-coordinator",
    version,
    after_help = "Environment: FLEETSCAN_LOG sets the log filter (tracing syntax, default info)."
)]
struct Cli {
    #[command(flatten)]
    args: fleetscan_coordinator::Args,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text", env = "FLEETSCAN_LOG_FORMAT")]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format, "info");
    let config = match cli.args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match fleetscan_coordinator::server::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}
