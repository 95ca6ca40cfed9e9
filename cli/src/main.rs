//! The `fleetscan` command line. Exit codes: [`EXIT_CODES`].

mod completions;
mod diff;
mod grep;
mod interrupt;
mod llm;
mod output;
mod progress;
mod remote;
mod scan;
mod select;
mod spill;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use fleetscan_proto::logging::{self, LogFormat};

/// The exit codes, shown in `--help` of every command.
pub const EXIT_CODES: &str = "Exit codes:
  0    every repository was scanned or deliberately skipped (or the command did what it was asked)
  1    some repositories failed, or the scan was cancelled; the reports were written for the rest
  2    usage or input error: a flag, file, token or scan id to fix; or report files that
       could not be written (each named on stderr; the others are written, the results cached)
  3    anything else: a coordinator or Redis unreachable, a call timed out
  130  interrupted: a second Ctrl-C during scan, or Ctrl-C while following a scan
       (watch, submit --wait), which keeps running on the coordinator";

fn top_help() -> String {
    format!("Environment: FLEETSCAN_LOG sets the log filter (tracing syntax, e.g. info or fleetscan_worker=debug).\n\n{EXIT_CODES}")
}

/// Scan a fleet of git repositories for a pattern and write per-team reports.
#[derive(Debug, Parser)]
#[command(
    name = "fleetscan",
    version,
    about,
    after_help = top_help()
)]
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan in this process: no server, no Redis.
    #[command(after_help = EXIT_CODES)]
    Scan(Box<scan::ScanCmd>),
    /// Search files on disk with the scanning engine (prints path:line:text).
    Grep(grep::GrepCmd),
    /// Submit a scan to a coordinator; prints its id (with --wait, follows it to the end).
    #[command(after_help = EXIT_CODES)]
    Submit(Box<remote::SubmitCmd>),
    /// Follow a scan's progress until it ends; failures are shown as they happen.
    #[command(after_help = EXIT_CODES)]
    Watch(remote::IdCmd),
    /// A scan's state, counts and the repositories that failed or are still running.
    #[command(after_help = EXIT_CODES)]
    Status(remote::StatusCmd),
    /// Recent scans, newest first.
    #[command(after_help = EXIT_CODES)]
    List(remote::ListCmd),
    /// Cancel a scan.
    #[command(after_help = EXIT_CODES)]
    Cancel(remote::IdCmd),
    /// Write a finished scan's reports, the same files `scan --out` writes.
    #[command(after_help = EXIT_CODES)]
    Report(remote::ReportCmd),
    /// Run a coordinator (same as `fleetscan-coordinator`).
    Coordinator(fleetscan_coordinator::Args),
    /// Run a worker (same as `fleetscan-worker`).
    Worker(Box<fleetscan_worker::remote::Args>),
    /// What changed between two scans (report directories, scan ids, or points of a history
    /// scan): occurrences added and removed, analysis changes, counts per team (Markdown, or
    /// JSON).
    Diff(diff::DiffCmd),
    /// Print a shell completion script (bash, zsh or fish).
    Completions(completions::CompletionsCmd),
    /// Print the man page, or write every command's page into a directory.
    Man(completions::ManCmd),
}

/// An error the user caused and can fix: exit code 2.
pub use fleetscan_worker::InputError;

fn main() -> ExitCode {
    // First, while this is the only thread.
    fleetscan_worker::process::init();
    let cli = Cli::parse();
    let server = matches!(cli.command, Command::Coordinator(_) | Command::Worker(_));
    if !server {
        interrupt::quiet_broken_pipe();
    }
    logging::init(cli.log_format, if server { "info" } else { "warn" });
    let result = match cli.command {
        Command::Scan(args) => scan::run(*args),
        Command::Grep(args) => grep::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Completions(args) => completions::completions(args, Cli::command()),
        Command::Man(args) => completions::man(args, Cli::command()),
        other => async_main(other),
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

fn async_main(command: Command) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new()?;
    let result = rt.block_on(async {
        match command {
            Command::Submit(c) => remote::submit(*c).await,
            Command::Watch(c) => remote::watch(c).await,
            Command::Status(c) => remote::status(c).await,
            Command::List(c) => remote::list(c).await,
            Command::Cancel(c) => remote::cancel(c).await,
            Command::Report(c) => remote::report(c).await,
            Command::Coordinator(c) => {
                let config = c.config().map_err(InputError)?;
                fleetscan_coordinator::server::run(config)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::Worker(c) => {
                let config = c.config().map_err(InputError)?;
                fleetscan_worker::remote::run(config)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::Scan(_)
            | Command::Grep(_)
            | Command::Diff(_)
            | Command::Completions(_)
            | Command::Man(_) => {
                unreachable!("run without a runtime")
            }
        }
    });
    // A worker stopping after its grace period has handed back the jobs still running on
    // blocking threads: do not wait for them.
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    result
}
