//! The Workers service: protocol check, lease renewal and result ingestion. The coordinator
//! is the only writer of results, and it commits a job's results and acknowledges the job in
//! one atomic step (see `lua/commit.lua`).

use std::time::Duration;

use fleetscan_core::ids::RepoName;
use fleetscan_core::result::{Occurrence, RepoStatus};
use fleetscan_proto::v1::{self, result_part::Part, workers_server::Workers};
use fleetscan_proto::{convert, PROTOCOL_VERSION};
use tonic::{Request, Response, Status, Streaming};

use crate::queue::{Committed, Outcome, Queue};
use crate::service::status_of;
use crate::store::Store;

/// Limits on what one job may send.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    /// Occurrences per job.
    pub occurrences: u64,
    /// Bytes of one occurrence's path.
    pub path_bytes: usize,
    /// Bytes of paths and line texts of one job, together.
    pub bytes: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            occurrences: 2_000_000,
            path_bytes: 4096,
            bytes: 64 << 20,
        }
    }
}

/// The service state.
#[derive(Clone)]
pub struct WorkersService {
    pub(crate) queue: Queue,
    pub(crate) store: Store,
    pub(crate) limits: IngestLimits,
    /// Result streams read at once. With the per-repository byte cap this bounds the memory
    /// results can take in a coordinator; more streams wait (backpressure on their workers).
    pub(crate) ingesting: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Checks a worker's protocol version.
pub fn check_protocol(theirs: u32) -> Result<(), Status> {
    if theirs != PROTOCOL_VERSION {
        return Err(Status::failed_precondition(format!(
            "protocol mismatch: the worker speaks fleetscan protocol {theirs}, this coordinator speaks {PROTOCOL_VERSION}; run workers and coordinators of the same release"
        )));
    }
    Ok(())
}

/// How a result stream ended.
enum End {
    /// With the worker's outcome.
    Sent(v1::Outcome),
    /// Over a limit, with the reason.
    Refused(String),
}

/// The outcome of a job whose results broke a limit: failed, for good, with the reason.
fn refused(why: String) -> v1::Outcome {
    v1::Outcome {
        status: v1::RepoStatus::Failed as i32,
        reason: format!("results refused by the coordinator: {why}"),
        ..Default::default()
    }
}

fn bad(m: String) -> Status {
    Status::invalid_argument(m)
}

#[tonic::async_trait]
impl Workers for WorkersService {
    async fn hello(
        &self,
        req: Request<v1::HelloRequest>,
    ) -> Result<Response<v1::HelloResponse>, Status> {
        let req = req.into_inner();
        check_protocol(req.protocol_version)?;
        tracing::info!(worker = %req.worker_id, version = %req.version, "worker connected");
        Ok(Response::new(v1::HelloResponse {
            protocol_version: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").into(),
        }))
    }

    async fn heartbeat(
        &self,
        req: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatResponse>, Status> {
        let req = req.into_inner();
        if req.leases.len() > 10_000 {
            return Err(bad(format!(
                "{} leases in one heartbeat; the limit is 10000",
                req.leases.len()
            )));
        }
        let lease = Duration::from_secs(u64::from(req.lease_secs.clamp(2, 3600)));
        let leases: Vec<(String, u64)> = req
            .leases
            .into_iter()
            .map(|l| (l.job_id, l.token))
            .collect();
        let states = self
            .queue
            .heartbeat(lease, &leases)
            .await
            .map_err(status_of)?;
        Ok(Response::new(v1::HeartbeatResponse {
            states: states.into_iter().map(i32::from).collect(),
        }))
    }

    async fn report_results(
        &self,
        req: Request<Streaming<v1::ResultPart>>,
    ) -> Result<Response<v1::ReportResultsResponse>, Status> {
        let mut stream = req.into_inner();
        let _permit = self
            .ingesting
            .acquire()
            .await
            .map_err(|_| Status::unavailable("the coordinator is shutting down"))?;
        let header = match stream.message().await?.and_then(|p| p.part) {
            Some(Part::Header(h)) => h,
            _ => return Err(bad("a result stream must start with its header".into())),
        };
        check_protocol(header.protocol_version)?;
        let lease = header
            .lease
            .ok_or_else(|| bad("the header has no lease".into()))?;
        let reply = |c: v1::Commit| {
            Ok(Response::new(v1::ReportResultsResponse {
                commit: c as i32,
            }))
        };
        let job = self
            .store
            .job(&lease.job_id)
            .await
            .map_err(status_of)?
            .ok_or_else(|| {
                Status::data_loss(format!(
                    "job {} is not in Redis: Redis lost its data (was it restarted without persistence?)",
                    lease.job_id
                ))
            })?;
        if job.state != "running" || job.token != lease.token {
            metrics::counter!("fleetscan_stale_results_total").increment(1);
            return reply(v1::Commit::Stale);
        }
        let mut occurrences: Vec<Occurrence> = Vec::new();
        let mut bytes = 0usize;
        let end = loop {
            match stream.message().await?.and_then(|p| p.part) {
                Some(Part::Batch(b)) => {
                    if occurrences.len() as u64 + b.occurrences.len() as u64
                        > self.limits.occurrences
                    {
                        break End::Refused(format!(
                            "more than {} occurrences: narrow the pattern, or raise the coordinator's --max-occurrences-per-repo",
                            self.limits.occurrences
                        ));
                    }
                    bytes += b
                        .occurrences
                        .iter()
                        .map(|o| o.path.len() + o.text.len())
                        .sum::<usize>();
                    if bytes > self.limits.bytes {
                        break End::Refused(format!(
                            "more than {} bytes of occurrences: narrow the pattern, lower --max-file-size, or raise the coordinator's --max-result-bytes",
                            self.limits.bytes
                        ));
                    }
                    if let Some(o) = b
                        .occurrences
                        .iter()
                        .find(|o| o.path.len() > self.limits.path_bytes)
                    {
                        break End::Refused(format!(
                            "a path longer than {} bytes ({}...)",
                            self.limits.path_bytes,
                            o.path.chars().take(100).collect::<String>()
                        ));
                    }
                    occurrences.extend(b.occurrences.into_iter().map(Occurrence::from));
                }
                Some(Part::Outcome(o)) => break End::Sent(o),
                Some(Part::Header(_)) => {
                    return Err(bad("a second header in one result stream".into()))
                }
                None => {
                    return Err(Status::cancelled(
                        "the result stream ended before its outcome",
                    ))
                }
            }
        };
        // A result over the limits ends the job as failed, with the reason, rather than being
        // refused: a refused worker would only try again, and the repository would end as a
        // lease expiry with no word of the real cause.
        let (outcome, occurrences) = match end {
            End::Refused(why) => (refused(why), Vec::new()),
            End::Sent(o) if o.occurrences != occurrences.len() as u64 => {
                return Err(bad(format!(
                    "the outcome of {} counts {} occurrences but {} arrived",
                    job.repo,
                    o.occurrences,
                    occurrences.len()
                )))
            }
            End::Sent(o) => (o, occurrences),
        };
        let retryable = outcome.retryable;
        let repo = RepoName::parse(&job.repo).map_err(|e| Status::internal(e.to_string()))?;
        let n = occurrences.len() as u64;
        let result = convert::result(repo, job.url.clone(), outcome, occurrences, job.attempts)
            .ok_or_else(|| bad("the outcome has no status".into()))?;
        let status = match result.status {
            RepoStatus::Scanned => "scanned",
            RepoStatus::Skipped => "skipped",
            RepoStatus::Failed => "failed",
        };
        let json = serde_json::to_string(&result).map_err(|e| Status::internal(e.to_string()))?;
        let committed = self
            .queue
            .commit(&Outcome {
                job: &lease.job_id,
                token: lease.token,
                status,
                retryable,
                error: result.reason.as_deref().unwrap_or(""),
                result: &json,
                occurrences: n,
            })
            .await
            .map_err(status_of)?;
        let (label, c) = match committed {
            Committed::Stored if status == "failed" => ("dead", v1::Commit::Stored),
            Committed::Stored => (status, v1::Commit::Stored),
            Committed::Retry => ("retried", v1::Commit::Retry),
            Committed::Stale => ("stale", v1::Commit::Stale),
            Committed::Cancelled => ("cancelled", v1::Commit::Cancelled),
        };
        metrics::counter!("fleetscan_jobs_total", "state" => label).increment(1);
        if committed == Committed::Stored {
            metrics::counter!("fleetscan_occurrences_ingested_total").increment(n);
        }
        tracing::debug!(job = %lease.job_id, repo = %job.repo, state = label, occurrences = n, "job committed");
        reply(c)
    }
}
