//! The Workers service: protocol check, leasing, lease renewal and release, and result
//! ingestion. Workers reach the queue only through it, so Redis, its key layout and its
//! scripts are the coordinator's alone. The coordinator is the only writer of results, and it
//! commits a job's results and acknowledges the job in one atomic step (see
//! `lua/commit.lua`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetscan_core::ids::RepoName;
use fleetscan_core::result::{Occurrence, PointResult, RepoStatus};
use fleetscan_proto::convert::{self, history};
use fleetscan_proto::prost::Message;
use fleetscan_proto::v1::{self, result_part::Part, workers_server::Workers};
use fleetscan_proto::PROTOCOL_VERSION;
use tokio::sync::{watch, Notify};
use tonic::{Request, Response, Status, Streaming};

use crate::queue::{Committed, Leased, Outcome, Queue};
use crate::service::status_of;
use crate::state::{Ending, JobState};
use crate::store::Store;
use fleetscan_core::plan::retry_backoff;

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
            occurrences: crate::server::defaults::MAX_OCCURRENCES_PER_REPO,
            path_bytes: 4096,
            bytes: crate::server::defaults::MAX_RESULT_BYTES,
        }
    }
}

/// Longest a Lease call waits for a job, whatever the worker asks: short enough that a
/// worker notices a coordinator going away, long enough that idle workers cost Redis little.
pub const MAX_LEASE_WAIT: Duration = Duration::from_secs(20);
/// Longest pause between two looks at the queue while a Lease call waits. Jobs queued through
/// this coordinator wake the waiting calls at once; jobs queued through another one, or
/// retries coming due, are seen within this time.
const LEASE_POLL_MAX: Duration = Duration::from_secs(1);
/// Bytes of a worker id.
const WORKER_ID_MAX: usize = 256;
/// Leases in one Heartbeat or Release call.
const LEASES_MAX: usize = 10_000;

/// The service state.
#[derive(Clone)]
pub struct WorkersService {
    pub(crate) queue: Queue,
    pub(crate) store: Store,
    pub(crate) limits: IngestLimits,
    /// First retry backoff: the wait before a failed job's next attempt is computed here, with
    /// the function the embedded scan uses, and handed to the commit script.
    pub(crate) retry_backoff: Duration,
    /// Result streams read at once. With the per-repository byte cap this bounds the memory
    /// results can take in a coordinator; more streams wait (backpressure on their workers).
    pub(crate) ingesting: Arc<tokio::sync::Semaphore>,
    /// Woken when this coordinator queues jobs (a submitted scan, a released job), so waiting
    /// Lease calls look at the queue at once.
    pub(crate) queued: Arc<Notify>,
    /// Set when the server shuts down: waiting Lease calls answer at once, without a job.
    pub(crate) down: watch::Receiver<bool>,
}

fn check_worker_id(id: &str) -> Result<(), Status> {
    if id.is_empty() || id.len() > WORKER_ID_MAX {
        return Err(bad(format!(
            "worker id {:?} must be 1 to {WORKER_ID_MAX} bytes",
            id.chars().take(40).collect::<String>()
        )));
    }
    Ok(())
}

/// The wire form of a leased job, capped at the occurrences and bytes this coordinator
/// accepts: the worker stops there and reports the repository truncated, where it would
/// otherwise be refused.
fn job_of(l: Leased, limits: &IngestLimits) -> Result<v1::Job, Status> {
    let mut spec = v1::JobSpec::decode(l.job_spec.as_slice()).map_err(|e| {
        Status::data_loss(format!(
            "the job spec of scan {} in Redis is damaged ({e}); submit the scan again",
            l.scan
        ))
    })?;
    spec.max_occurrences = limits.occurrences;
    spec.max_result_bytes = limits.bytes as u64;
    Ok(v1::Job {
        lease: Some(v1::Lease {
            job_id: l.job,
            token: l.token,
        }),
        scan_id: l.scan,
        repo: l.repo,
        url: l.url,
        spec: Some(spec),
    })
}

fn lease_length(secs: u32) -> Duration {
    Duration::from_secs(u64::from(secs.clamp(2, 3600)))
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
    /// With the worker's outcome (boxed: it is many times the size of a reason).
    Sent(Box<v1::Outcome>),
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

fn to_json(v: &impl serde::Serialize) -> Result<String, Status> {
    serde_json::to_string(v).map_err(|e| Status::internal(e.to_string()))
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

    /// Waits for a job when none is ready. If the worker goes away while a job is being
    /// leased to it, that lease is never renewed and expires: the job runs again elsewhere and
    /// the attempt does not count.
    async fn lease(
        &self,
        req: Request<v1::LeaseRequest>,
    ) -> Result<Response<v1::LeaseResponse>, Status> {
        let req = req.into_inner();
        check_protocol(req.protocol_version)?;
        check_worker_id(&req.worker_id)?;
        let lease = lease_length(req.lease_secs);
        let deadline =
            Instant::now() + Duration::from_millis(u64::from(req.wait_ms)).min(MAX_LEASE_WAIT);
        let mut down = self.down.clone();
        let mut pause = Duration::from_millis(50);
        loop {
            // Registered before looking, so that a wake-up between the look and the wait is
            // not missed.
            let queued = self.queued.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            if let Some(l) = self
                .queue
                .lease(&req.worker_id, lease)
                .await
                .map_err(status_of)?
            {
                metrics::counter!("fleetscan_leases_total").increment(1);
                return Ok(Response::new(v1::LeaseResponse {
                    job: Some(job_of(l, &self.limits)?),
                }));
            }
            let now = Instant::now();
            if now >= deadline || *down.borrow() {
                return Ok(Response::new(v1::LeaseResponse { job: None }));
            }
            tokio::select! {
                _ = &mut queued => {}
                _ = tokio::time::sleep(pause.min(deadline - now)) => {}
                _ = down.changed() => {}
            }
            pause = (pause * 2).min(LEASE_POLL_MAX);
        }
    }

    async fn release(
        &self,
        req: Request<v1::ReleaseRequest>,
    ) -> Result<Response<v1::ReleaseResponse>, Status> {
        let req = req.into_inner();
        check_worker_id(&req.worker_id)?;
        if req.leases.len() > LEASES_MAX {
            return Err(bad(format!(
                "{} leases in one call; the limit is {LEASES_MAX}",
                req.leases.len()
            )));
        }
        let mut released = Vec::with_capacity(req.leases.len());
        for l in &req.leases {
            let r = self
                .queue
                .release(&l.job_id, l.token, &req.worker_id)
                .await
                .map_err(status_of)?;
            if r {
                tracing::info!(job = %l.job_id, worker = %req.worker_id, "job handed back");
            }
            released.push(r);
        }
        if released.contains(&true) {
            self.queued.notify_waiters();
        }
        Ok(Response::new(v1::ReleaseResponse { released }))
    }

    async fn heartbeat(
        &self,
        req: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatResponse>, Status> {
        let req = req.into_inner();
        if req.leases.len() > LEASES_MAX {
            return Err(bad(format!(
                "{} leases in one heartbeat; the limit is {LEASES_MAX}",
                req.leases.len()
            )));
        }
        let lease = lease_length(req.lease_secs);
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
        if job.state != Some(JobState::Running) || job.token != lease.token {
            metrics::counter!("fleetscan_stale_results_total").increment(1);
            return reply(v1::Commit::Stale);
        }
        // The occurrences since the last point (the limits hold for each point and for the
        // head alike), and the points so far.
        let mut occurrences: Vec<Occurrence> = Vec::new();
        let mut bytes = 0usize;
        let mut points: Vec<PointResult> = Vec::new();
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
                Some(Part::Point(p)) => {
                    if points.len() >= crate::spec::limits::POINTS {
                        break End::Refused(format!(
                            "more than {} history points",
                            crate::spec::limits::POINTS
                        ));
                    }
                    if p.occurrences != occurrences.len() as u64 {
                        return Err(bad(format!(
                            "the point {} of {} counts {} occurrences but {} arrived",
                            p.at,
                            job.repo,
                            p.occurrences,
                            occurrences.len()
                        )));
                    }
                    let at = p.at.clone();
                    let point = history::point_result(p, std::mem::take(&mut occurrences))
                        .ok_or_else(|| {
                            bad(format!(
                                "the point {at:?} of {}: its date, facts or code facts do not parse",
                                job.repo
                            ))
                        })?;
                    points.push(point);
                    bytes = 0;
                }
                Some(Part::Outcome(o)) => break End::Sent(Box::new(o)),
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
            End::Sent(o) => (*o, occurrences),
        };
        let retryable = outcome.retryable;
        let repo = RepoName::parse(&job.repo).map_err(|e| Status::internal(e.to_string()))?;
        let n = occurrences.len() as u64;
        // Converting and encoding up to --max-result-bytes of occurrences is CPU work: on a
        // blocking thread, off the runtime that serves the other calls.
        let (url, attempts) = (job.url.clone(), job.attempts);
        let (result, json, points) = crate::service::blocking(move || {
            let result =
                convert::result(repo, url, outcome, occurrences, attempts).ok_or_else(|| {
                    bad("the outcome has no status, or its code facts do not parse".into())
                })?;
            let json = to_json(&result)?;
            // The points apart from the result (`Outcome::points`).
            let points = match result.status {
                RepoStatus::Scanned => points.iter().map(to_json).collect::<Result<_, _>>()?,
                _ => Vec::new(),
            };
            Ok((result, json, points))
        })
        .await?;
        let status = Ending(result.status);
        // Uniform in 0..1 whatever the platform: the low bits of a random id.
        let jitter = f64::from((uuid::Uuid::new_v4().as_u128() % 1000) as u32) / 1000.0;
        let retry_delay = retry_backoff(self.retry_backoff, job.attempts, jitter);
        let committed = self
            .queue
            .commit(&Outcome {
                job: &lease.job_id,
                token: lease.token,
                status,
                retryable,
                error: result.reason.as_deref().unwrap_or(""),
                result: &json,
                points: &points,
                occurrences: n,
                retry_delay,
            })
            .await
            .map_err(status_of)?;
        let (label, c) = match committed {
            Committed::Stored if result.status == RepoStatus::Failed => {
                (JobState::Dead.name(), v1::Commit::Stored)
            }
            Committed::Stored => (status.name(), v1::Commit::Stored),
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
