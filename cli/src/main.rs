//! The `fleetscan` command line.
//!
//! Exit codes: 0 when every repository was scanned (or deliberately skipped); 1 when some
//! repositories failed but the reports were written for the rest; 2 for usage or input errors;
//! 3 for anything else.

mod grep;
mod llm;
mod output;
mod progress;
mod scan;
mod select;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Scan a fleet of git repositories for a pattern and write per-team reports.
#[derive(Debug, Parser)]
#[command(name = "fleetscan", version, about)]
struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "FLEETSCAN_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan in this process: no server, no Redis.
    Scan(Box<scan::ScanCmd>),
    /// Search files on disk with the scanning engine (prints path:line:text).
    Grep(grep::GrepCmd),
}

/// An error the user caused and can fix: exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Scan(args) => scan::run(*args),
        Command::Grep(args) => grep::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.chain()
                .any(|c| c.is::<InputError>() || c.is::<fleetscan_core::Error>())
            {
                ExitCode::from(2)
            } else {
                ExitCode::from(3)
            }
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLEETSCAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
