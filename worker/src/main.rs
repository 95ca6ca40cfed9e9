//! `fleetscan-worker`: the same as `fleetscan worker`.

use std::process::ExitCode;

use clap::Parser;
use fleetscan_proto::logging::{self, LogFormat};
use fleetscan_worker::{remote, InputError};

/// A fleetscan worker: leases scan jobs from a coordinator and reports their results to it.
#[derive(Debug, Parser)]
#[command(
    name = "fleetscan-worker",
    version,
    after_help = "Environment: FLEETSCAN_LOG sets the log filter (tracing syntax, default info)."
)]
struct Cli {
    #[command(flatten)]
    args: remote::Args,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text", env = "FLEETSCAN_LOG_FORMAT")]
    log_format: LogFormat,
}

fn main() -> ExitCode {
    // First, while this is the only thread.
    fleetscan_worker::process::init();
    let cli = Cli::parse();
    logging::init(cli.log_format, "info");
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let config = match cli.args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = rt.block_on(remote::run(config));
    // Jobs still running on blocking threads after the grace period were handed back.
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(if e.is::<InputError>() { 2 } else { 3 })
        }
    }
}
