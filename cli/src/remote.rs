//! The client of a coordinator: `submit`, `watch`, `status`, `list`, `cancel`, `report`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use fleetscan_core::report::ReportFile;
use fleetscan_proto::client::{self, Connect, Coordinator};
use fleetscan_proto::token::ClientToken;
use fleetscan_proto::v1::{self, scan_event::Kind};
use tonic::Code;

use crate::llm::LlmArgs;
use crate::scan::{RunArgs, ScanArgs};
use crate::{output, select, InputError};

/// How to reach the coordinator, with the client credential.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    #[command(flatten)]
    pub connect: Connect,
    #[command(flatten)]
    pub token: ClientToken,
    /// Seconds one call may take until the coordinator starts answering (a stream's first
    /// message); a coordinator that accepts and never answers is an error after that long.
    #[arg(
        long,
        default_value_t = 60,
        value_name = "SECS",
        env = "FLEETSCAN_CALL_TIMEOUT"
    )]
    pub call_timeout: u64,
}

fn client_of(remote: &Remote) -> Result<Coordinator> {
    let token = remote.token.resolve().map_err(InputError)?;
    let mut target = remote.connect.target(token.as_deref());
    target.timeout = Some(Duration::from_secs(remote.call_timeout.max(1)));
    client::coordinator(&target).map_err(|e| InputError(e).into())
}

/// Whether `s` is this client giving up after --call-timeout.
fn timed_out(s: &tonic::Status) -> bool {
    s.code() == Code::DeadlineExceeded
        || (s.code() == Code::Cancelled && s.message().to_lowercase().contains("timeout"))
}

/// Turns a refused call into an error saying what to fix; input mistakes exit with 2.
fn call_error(remote: &Remote, s: tonic::Status) -> anyhow::Error {
    let msg = s.message().to_string();
    if client::is_redis_down(&s) {
        return anyhow::anyhow!("{msg}");
    }
    if timed_out(&s) {
        return anyhow::anyhow!(
            "coordinator {} did not answer within {} s (--call-timeout): is it overloaded or stuck?",
            remote.connect.coordinator,
            remote.call_timeout
        );
    }
    match s.code() {
        Code::InvalidArgument | Code::NotFound | Code::FailedPrecondition | Code::Unauthenticated | Code::PermissionDenied => {
            InputError(msg).into()
        }
        Code::Unavailable => anyhow::anyhow!("coordinator {} unavailable: {msg}: is it running? (--coordinator / FLEETSCAN_COORDINATOR)", remote.connect.coordinator),
        _ => anyhow::anyhow!("{msg}"),
    }
}

/// `fleetscan submit`.
#[derive(Debug, Args)]
pub struct SubmitCmd {
    #[command(flatten)]
    pub common: ScanArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// Wait for the scan to end (with a progress bar), then write the reports to --out.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub remote: Remote,
}

/// `fleetscan status ID`.
#[derive(Debug, Args)]
pub struct StatusCmd {
    /// The scan id, as `submit` printed it.
    pub scan_id: String,
    /// Print the status as one JSON object: scan_id, state, created_ms, finished_ms,
    /// patterns, progress and every repository's state.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

/// `fleetscan watch ID`, `cancel ID`.
#[derive(Debug, Args)]
pub struct IdCmd {
    /// The scan id, as `submit` printed it.
    pub scan_id: String,
    /// Never draw the progress bar (watch).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub remote: Remote,
}

/// `fleetscan list`.
#[derive(Debug, Args)]
pub struct ListCmd {
    /// Scans shown, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Print a JSON array with one object per scan (as `status --json`, without the
    /// repositories).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

/// `fleetscan report ID --out DIR`.
#[derive(Debug, Args)]
pub struct ReportCmd {
    /// The scan id.
    pub scan_id: String,
    /// Directory for the reports.
    #[arg(long, value_name = "DIR", env = "FLEETSCAN_OUT")]
    pub out: PathBuf,
    /// Output formats, comma-separated: md, links, ndjson, csv, summary, sarif, html. Default: all.
    #[arg(long = "format", value_name = "LIST", value_delimiter = ',')]
    pub formats: Vec<String>,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub remote: Remote,
}

/// The wire form of the scan flags, planned here first with the same plan `scan` makes, so
/// mistakes name the flag or file line before anything is sent.
fn spec(args: &ScanArgs, run: &RunArgs) -> Result<v1::ScanSpec> {
    let request = args.request(run)?;
    let plan = request.plan()?;
    select::warn_unknown(&plan.render.governance, &plan.targets, run.quiet);
    Ok(v1::ScanSpec::from(&request))
}

pub async fn submit(cmd: SubmitCmd) -> Result<ExitCode> {
    match (&cmd.run.out, cmd.wait) {
        (Some(_), false) => {
            return Err(InputError(
                "--out needs --wait: submit returns as soon as the scan is queued, before any report exists; \
                 add --wait, or write the reports later with `fleetscan report ID --out DIR`"
                    .into(),
            )
            .into())
        }
        (Some(out), true) => output::check_writable(out)?,
        (None, _) => {}
    }
    let formats = cmd.run.formats.clone();
    cmd.run.formats()?;
    let spec = spec(&cmd.common, &cmd.run)?;
    let mut client = client_of(&cmd.remote)?;
    let resp = client
        .submit_scan(v1::SubmitScanRequest { spec: Some(spec) })
        .await
        .map_err(|s| call_error(&cmd.remote, s))?
        .into_inner();
    println!("{}", resp.scan_id);
    eprintln!(
        "scan {} submitted: {} repositories",
        resp.scan_id, resp.repos
    );
    if !cmd.wait {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "waiting for scan {}; Ctrl-C stops waiting, not the scan",
        resp.scan_id
    );
    let code = follow(&mut client, &cmd.remote, &resp.scan_id, cmd.run.quiet).await?;
    if code == ExitCode::from(INTERRUPTED) {
        return Ok(code);
    }
    if let Some(out) = &cmd.run.out {
        write_report(
            &mut client,
            &cmd.remote,
            &resp.scan_id,
            out,
            &formats,
            &cmd.llm,
        )
        .await?;
        eprintln!("reports in {}", out.display());
    }
    Ok(code)
}

pub async fn watch(cmd: IdCmd) -> Result<ExitCode> {
    let mut client = client_of(&cmd.remote)?;
    follow(&mut client, &cmd.remote, &cmd.scan_id, cmd.quiet).await
}

/// Exit code of a client interrupted while it followed a scan (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// Follows a scan to its end, or until Ctrl-C, which stops only the following: the scan runs
/// on in the coordinators, and the message says so and how to get back to it.
async fn follow(
    client: &mut Coordinator,
    remote: &Remote,
    id: &str,
    quiet: bool,
) -> Result<ExitCode> {
    tokio::select! {
        r = watch_scan(client, remote, id, quiet) => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!(
                "\ninterrupted: scan {id} keeps running on the coordinator; `fleetscan watch {id}` follows it again, `fleetscan report {id} --out DIR` writes its reports when it ends, `fleetscan cancel {id}` stops it"
            );
            Ok(ExitCode::from(INTERRUPTED))
        }
    }
}

fn done(p: &v1::Progress) -> u64 {
    u64::from(p.scanned + p.skipped + p.dead)
}

/// Follows a scan to its end, reconnecting when the coordinator restarts. Exit code 0 when
/// every repository was scanned or skipped, 1 when some failed or the scan was cancelled.
async fn watch_scan(
    client: &mut Coordinator,
    remote: &Remote,
    id: &str,
    quiet: bool,
) -> Result<ExitCode> {
    let bar = crate::progress::repos_bar(None, quiet);
    let mut delay = Duration::from_millis(200);
    let mut reported = std::collections::BTreeSet::new();
    let mut last_event = String::new();
    loop {
        let stream = client
            .watch_scan(v1::WatchScanRequest {
                scan_id: id.to_string(),
                after_event: last_event.clone(),
            })
            .await;
        let mut stream = match stream {
            Ok(s) => s.into_inner(),
            Err(s) if s.code() == Code::Unavailable || s.code() == Code::Unknown => {
                bar.suspend(|| {
                    eprintln!("coordinator unavailable ({}); reconnecting", s.message())
                });
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
            Err(s) => return Err(call_error(remote, s)),
        };
        loop {
            match stream.message().await {
                Ok(Some(ev)) => {
                    delay = Duration::from_millis(200);
                    if !ev.event_id.is_empty() {
                        last_event = ev.event_id.clone();
                    }
                    let p = ev.progress.unwrap_or_default();
                    bar.set_length(u64::from(p.total));
                    bar.set_position(done(&p));
                    bar.set_message(format!(
                        "{} running, {} failed, {} occurrences",
                        p.running, p.dead, p.occurrences
                    ));
                    let kind = Kind::try_from(ev.kind).unwrap_or(Kind::Unspecified);
                    if kind == Kind::Finished
                        && ev.job_state == v1::JobState::Dead as i32
                        && reported.insert(ev.repo.clone())
                    {
                        bar.suspend(|| eprintln!("failed: {}: {}", ev.repo, ev.error));
                    }
                    let state = v1::ScanState::try_from(ev.scan_state)
                        .unwrap_or(v1::ScanState::Unspecified);
                    if kind == Kind::ScanEnded
                        || (kind == Kind::Snapshot && state != v1::ScanState::Running)
                    {
                        bar.finish_and_clear();
                        eprintln!(
                            "scan {id} {}: {} of {} repositories done, {} failed, {} occurrences",
                            state
                                .as_str_name()
                                .trim_start_matches("SCAN_STATE_")
                                .to_lowercase(),
                            done(&p),
                            p.total,
                            p.dead,
                            p.occurrences
                        );
                        return Ok(if state == v1::ScanState::Completed && p.dead == 0 {
                            ExitCode::SUCCESS
                        } else {
                            ExitCode::from(1)
                        });
                    }
                }
                Ok(None) => break,
                Err(s) if s.code() == Code::DataLoss || s.code() == Code::NotFound => {
                    bar.finish_and_clear();
                    return Err(call_error(remote, s));
                }
                Err(s) => {
                    bar.suspend(|| {
                        eprintln!("lost the coordinator ({}); reconnecting", s.message())
                    });
                    break;
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn state_name(s: i32) -> String {
    v1::JobState::try_from(s)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("JOB_STATE_")
                .to_lowercase()
        })
        .unwrap_or_else(|_| "?".into())
}

fn scan_state_name(s: i32) -> String {
    v1::ScanState::try_from(s)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("SCAN_STATE_")
                .to_lowercase()
        })
        .unwrap_or_else(|_| "?".into())
}

fn scan_line(s: &v1::ScanStatus) -> String {
    let p = s.progress.unwrap_or_default();
    let state = scan_state_name(s.state);
    format!(
        "{}  {:<9}  {}/{} done  {} failed  {} running  {} occurrences  patterns: {}",
        s.scan_id,
        state,
        done(&p),
        p.total,
        p.dead,
        p.running,
        p.occurrences,
        s.patterns.join(", ")
    )
}

/// A scan's status as JSON; with its repositories when they were asked for.
fn status_json(s: &v1::ScanStatus) -> serde_json::Value {
    let p = s.progress.unwrap_or_default();
    let state = scan_state_name(s.state);
    let mut v = serde_json::json!({
        "scan_id": s.scan_id,
        "state": state,
        "created_ms": s.created_ms,
        "finished_ms": s.finished_ms,
        "patterns": s.patterns,
        "progress": {
            "total": p.total,
            "done": done(&p),
            "scanned": p.scanned,
            "skipped": p.skipped,
            "failed": p.dead,
            "running": p.running,
            "occurrences": p.occurrences,
        },
    });
    if !s.repos.is_empty() {
        v["repos"] = s
            .repos
            .iter()
            .map(|r| {
                serde_json::json!({
                    "repo": r.repo,
                    "state": state_name(r.state),
                    "attempts": r.attempts,
                    "error": r.error,
                    "worker": r.worker,
                })
            })
            .collect();
    }
    v
}

pub async fn status(cmd: StatusCmd) -> Result<ExitCode> {
    let mut client = client_of(&cmd.remote)?;
    let s = client
        .get_scan(v1::GetScanRequest {
            scan_id: cmd.scan_id.clone(),
            repos: true,
            spec: false,
        })
        .await
        .map_err(|s| call_error(&cmd.remote, s))?
        .into_inner();
    if cmd.json {
        println!("{}", status_json(&s));
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", scan_line(&s));
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    for r in &s.repos {
        *by_state.entry(state_name(r.state)).or_default() += 1;
    }
    println!(
        "repositories: {}",
        by_state
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for r in &s.repos {
        let st = state_name(r.state);
        if matches!(st.as_str(), "dead" | "retry" | "running") {
            let err = if r.error.is_empty() {
                String::new()
            } else {
                format!(": {}", r.error)
            };
            println!(
                "  {st:<7} {} (attempt {}, {}){err}",
                r.repo, r.attempts, r.worker
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn list(cmd: ListCmd) -> Result<ExitCode> {
    let mut client = client_of(&cmd.remote)?;
    let resp = client
        .list_scans(v1::ListScansRequest { limit: cmd.limit })
        .await
        .map_err(|s| call_error(&cmd.remote, s))?
        .into_inner();
    if cmd.json {
        let all: Vec<serde_json::Value> = resp.scans.iter().map(status_json).collect();
        println!("{}", serde_json::Value::Array(all));
        return Ok(ExitCode::SUCCESS);
    }
    for s in &resp.scans {
        println!("{}", scan_line(s));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn cancel(cmd: IdCmd) -> Result<ExitCode> {
    let mut client = client_of(&cmd.remote)?;
    let s = client
        .cancel_scan(v1::CancelScanRequest {
            scan_id: cmd.scan_id.clone(),
        })
        .await
        .map_err(|s| call_error(&cmd.remote, s))?
        .into_inner();
    println!("{}", scan_line(&s));
    Ok(ExitCode::SUCCESS)
}

pub async fn report(cmd: ReportCmd) -> Result<ExitCode> {
    output::check_writable(&cmd.out)?;
    fleetscan_core::report::Format::parse_list(&cmd.formats)?;
    let mut client = client_of(&cmd.remote)?;
    write_report(
        &mut client,
        &cmd.remote,
        &cmd.scan_id,
        &cmd.out,
        &cmd.formats,
        &cmd.llm,
    )
    .await?;
    eprintln!("reports in {}", cmd.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes a completed scan's reports into `out`: the coordinator renders them, unless a
/// model is to add narratives; then this client renders them from the exported results with
/// the same code, and adds the narratives.
async fn write_report(
    client: &mut Coordinator,
    remote: &Remote,
    id: &str,
    out: &std::path::Path,
    formats: &[String],
    llm: &LlmArgs,
) -> Result<()> {
    match llm.llm_url {
        Some(_) => {
            let files = render_here(client, remote, id, formats, llm).await?;
            output::write_all(out, &files)
        }
        None => fetch_report(client, remote, id, formats, out).await,
    }
}

/// Writes the report files as the coordinator renders them, each chunk as it arrives, so that
/// this client holds one chunk at a time however large the reports. Each file is moved into
/// place when its last chunk has arrived; a stream that breaks leaves the files it completed
/// and none of the file it was in.
async fn fetch_report(
    client: &mut Coordinator,
    remote: &Remote,
    id: &str,
    formats: &[String],
    out: &std::path::Path,
) -> Result<()> {
    let mut w = output::Writer::new(out);
    each_chunk(client, remote, id, formats, &mut |path, data, last| {
        w.write(path, data);
        if last {
            w.end(path);
        }
    })
    .await?;
    w.finish()
}

/// The report files in `formats` the coordinator renders for scan `id`, in memory (for
/// `fleetscan diff`, which reads them whole anyway).
pub(crate) async fn report_files(
    remote: &Remote,
    id: &str,
    formats: &[String],
) -> Result<Vec<ReportFile>> {
    let mut client = client_of(remote)?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    each_chunk(
        &mut client,
        remote,
        id,
        formats,
        &mut |path, data, _| match files.last_mut() {
            Some((name, bytes)) if name == path => bytes.extend_from_slice(data),
            _ => files.push((path.to_string(), data.to_vec())),
        },
    )
    .await?;
    files
        .into_iter()
        .map(|(path, data)| {
            Ok(ReportFile {
                path,
                contents: String::from_utf8(data)?,
            })
        })
        .collect()
}

/// Calls `chunk` with each piece of the report files the coordinator renders for scan `id`
/// (the file, the bytes, whether it is the file's last piece), once it has checked that the
/// file's name is safe and that it comes after the end of the one before.
async fn each_chunk(
    client: &mut Coordinator,
    remote: &Remote,
    id: &str,
    formats: &[String],
    chunk: &mut dyn FnMut(&str, &[u8], bool),
) -> Result<()> {
    let mut stream = client
        .get_report(v1::GetReportRequest {
            scan_id: id.to_string(),
            formats: formats.to_vec(),
        })
        .await
        .map_err(|s| call_error(remote, s))?
        .into_inner();
    let mut open: Option<String> = None;
    while let Some(c) = stream.message().await.map_err(|s| call_error(remote, s))? {
        let path = c.name.as_str();
        if open.as_deref() != Some(path) {
            if let Some(open) = &open {
                anyhow::bail!("the coordinator sent {path:?} before the end of {open}; run `fleetscan report` again");
            }
            if path.split('/').any(|c| c == ".." || c.is_empty()) || path.starts_with('/') {
                anyhow::bail!("the coordinator sent a report file with an unsafe name {path:?}");
            }
            open = Some(path.to_string());
        }
        chunk(path, &c.data, c.last);
        if c.last {
            open = None;
        }
    }
    if let Some(name) = open {
        anyhow::bail!(
            "the report stream ended in the middle of {name}; run `fleetscan report` again"
        );
    }
    Ok(())
}

/// The report files rendered here from the exported results, with narratives added.
async fn render_here(
    client: &mut Coordinator,
    remote: &Remote,
    id: &str,
    formats: &[String],
    llm: &LlmArgs,
) -> Result<Vec<ReportFile>> {
    let formats = fleetscan_core::report::Format::parse_list(formats)?;
    let status = client
        .get_scan(v1::GetScanRequest {
            scan_id: id.to_string(),
            repos: false,
            spec: true,
        })
        .await
        .map_err(|s| call_error(remote, s))?
        .into_inner();
    let spec = status.spec.ok_or_else(|| {
        anyhow::anyhow!(
            "the coordinator did not send the spec of scan {id}: it is older than this client"
        )
    })?;
    let mut stream = client
        .export_results(v1::ExportResultsRequest {
            scan_id: id.to_string(),
        })
        .await
        .map_err(|s| call_error(remote, s))?
        .into_inner();
    let mut results = Vec::new();
    while let Some(r) = stream.message().await.map_err(|s| call_error(remote, s))? {
        let repo = fleetscan_core::ids::RepoName::parse(&r.repo)?;
        let occurrences = r.occurrences.into_iter().map(Into::into).collect();
        let outcome = r.outcome.unwrap_or_default();
        let bad = || {
            anyhow::anyhow!(
                "the result of {} has no status, or its code facts or history points do not parse",
                r.repo
            )
        };
        let mut result =
            fleetscan_proto::convert::result(repo, r.url, outcome, occurrences, r.attempts)
                .ok_or_else(bad)?;
        result.history = fleetscan_proto::convert::history::import(r.history).ok_or_else(bad)?;
        results.push(result);
    }
    let total = status.progress.unwrap_or_default().total as usize;
    if results.len() != total {
        anyhow::bail!("the coordinator sent {} of the {total} results of scan {id}; run `fleetscan report` again", results.len());
    }
    let (mut fleet, info) =
        fleetscan_coordinator::spec::fleet(&spec, status.created_ms, status.finished_ms, results)
            .map_err(anyhow::Error::msg)?;
    let llm = llm.clone();
    let fleet = tokio::task::spawn_blocking(move || {
        llm.narrate(&mut fleet);
        fleet
    })
    .await?;
    Ok(fleetscan_core::report::render(&fleet, &info, &formats))
}
