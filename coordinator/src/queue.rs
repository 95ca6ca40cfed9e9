//! The Redis job queue: lists with a lease registry, driven by Lua scripts so every step
//! (lease, renew, commit, hand back, expire) is atomic.
//!
//! Why lists and not Streams: a job's life has states Streams do not have (waiting out a retry
//! backoff, cancelled, dead), and a job's results must be stored in the same atomic step that
//! acknowledges it. With lists, a sorted set of lease deadlines and per-job hashes, one script
//! does both. The ready and active lists are also what KEDA's Redis list scaler reads.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Script, Value};
use thiserror::Error;

use crate::state::{Ending, ScanState};

/// Prefix of every key.
pub const PREFIX: &str = "fleetscan:";
/// The list of jobs ready to run.
pub const READY: &str = "fleetscan:queue:ready";
/// The list of running jobs.
pub const ACTIVE: &str = "fleetscan:queue:active";
/// Running jobs by lease deadline.
pub const LEASES: &str = "fleetscan:queue:leases";
/// Failed jobs by the time of their next attempt.
pub const DELAYED: &str = "fleetscan:queue:delayed";
/// The dead-letter log, newest first.
pub const DEAD: &str = "fleetscan:queue:dead";

/// Expired leases and due retries handled per script call.
const REAP_LIMIT: u32 = 200;

/// Queue failures.
#[derive(Debug, Error)]
pub enum QueueError {
    /// Redis is unreachable or refused a command.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis does not hold what it must: it lost its data (restarted without persistence).
    #[error(
        "{0}: Redis lost its data (was it restarted without persistence?); submit the scan again"
    )]
    DataLoss(String),
    /// A script answered something this version does not understand.
    #[error("unexpected reply from a queue script: {0}")]
    Protocol(String),
}

/// A leased job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leased {
    /// `{scan}:{index}`.
    pub job: String,
    /// Proves the lease is still this holder's when renewing or committing.
    pub token: u64,
    /// The scan.
    pub scan: String,
    /// The repository, `org/name`.
    pub repo: String,
    /// Where to fetch it.
    pub url: String,
    /// The scan's job spec, an encoded `fleetscan.v1.JobSpec`.
    pub job_spec: Vec<u8>,
}

/// What a heartbeat learnt about one lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Renewed.
    Held,
    /// No longer this holder's.
    Lost,
    /// The scan was cancelled.
    Cancelled,
}

impl From<LeaseState> for i32 {
    /// The wire form (`fleetscan.v1.LeaseState`).
    fn from(s: LeaseState) -> i32 {
        use fleetscan_proto::v1;
        (match s {
            LeaseState::Held => v1::LeaseState::Held,
            LeaseState::Lost => v1::LeaseState::Lost,
            LeaseState::Cancelled => v1::LeaseState::Cancelled,
        }) as i32
    }
}

/// What committing a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Results stored, job over.
    Stored,
    /// Failure recorded; the job runs again after its backoff.
    Retry,
    /// The lease was not the committer's: nothing stored.
    Stale,
    /// The scan was cancelled: nothing stored.
    Cancelled,
}

/// One job's end, as handed to [`Queue::commit`].
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    /// The job.
    pub job: &'a str,
    /// Its lease token.
    pub token: u64,
    /// How the job ended.
    pub status: Ending,
    /// For failures: may another attempt succeed?
    pub retryable: bool,
    /// For failures: why.
    pub error: &'a str,
    /// The repository's result, JSON (a `RepoResult`), without the points of a history scan.
    pub result: &'a str,
    /// Each point of a history scan, JSON (a `PointResult`), in order: stored as fields of
    /// their own, so that a report reads one point at a time.
    pub points: &'a [String],
    /// Its number of occurrences.
    pub occurrences: u64,
    /// For retryable failures: the wait before the next attempt.
    pub retry_delay: Duration,
}

/// Queue lengths, for metrics and autoscaling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depths {
    /// Ready to run.
    pub ready: u64,
    /// Waiting out a retry backoff.
    pub delayed: u64,
    /// Running.
    pub active: u64,
    /// Entries in the dead-letter log.
    pub dead: u64,
}

struct Scripts {
    lease: Script,
    heartbeat: Script,
    commit: Script,
    release: Script,
    reap: Script,
    cancel: Script,
}

fn script(body: &str) -> Script {
    Script::new(&format!(
        "{}{}\n{}",
        crate::state::lua_prelude(),
        include_str!("lua/lib.lua"),
        body
    ))
}

/// Runs `op` again, up to three times, when the connection dropped under it: after a Redis
/// restart the connection manager reconnects, but the command that noticed the drop fails.
pub async fn retrying<T, F, Fut>(mut op: F) -> Result<T, redis::RedisError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, redis::RedisError>>,
{
    let mut n = 0;
    loop {
        match op().await {
            Err(e)
                if n < 3
                    && (e.is_io_error()
                        || e.is_connection_dropped()
                        || e.is_connection_refusal()) =>
            {
                n += 1;
                tokio::time::sleep(Duration::from_millis(150 * n)).await;
            }
            r => return r,
        }
    }
}

/// A handle on the queue; cheap to clone, reconnects by itself.
#[derive(Clone)]
pub struct Queue {
    conn: ConnectionManager,
    scripts: std::sync::Arc<Scripts>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queue")
    }
}

/// Connects to Redis at `url`, with `password` when given (`redis://`, `rediss://`, with a password if needed). The
/// connection reconnects with backoff after Redis restarts; commands fail meanwhile.
pub async fn connect(
    url: &str,
    password: Option<&str>,
) -> Result<ConnectionManager, redis::RedisError> {
    use redis::IntoConnectionInfo;
    let mut info = url.into_connection_info()?;
    if let Some(p) = password {
        let settings = info.redis_settings().clone().set_password(p);
        info = info.set_redis_settings(settings);
    }
    let client = redis::Client::open(info)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(30)))
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_secs(2));
    ConnectionManager::new_with_config(client, config).await
}

impl Queue {
    /// A queue over `conn`.
    pub fn new(conn: ConnectionManager) -> Queue {
        Queue {
            conn,
            scripts: std::sync::Arc::new(Scripts {
                lease: script(include_str!("lua/lease.lua")),
                heartbeat: script(include_str!("lua/heartbeat.lua")),
                commit: script(include_str!("lua/commit.lua")),
                release: script(include_str!("lua/release.lua")),
                reap: script(include_str!("lua/reap.lua")),
                cancel: script(include_str!("lua/cancel.lua")),
            }),
        }
    }

    /// The connection, for the scan store.
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Takes the next ready job for `worker`, holding it for `lease`. When none is ready, also
    /// expires stale leases and promotes due retries, and looks again.
    pub async fn lease(&self, worker: &str, lease: Duration) -> Result<Option<Leased>, QueueError> {
        // Random, so that a lease cannot be guessed, and a retried call after a lost reply
        // does not take a second job under the same token.
        let token = uuid::Uuid::new_v4().as_u64_pair().0;
        let v: Value = retrying(|| {
            let mut conn = self.conn.clone();
            let mut inv = self.scripts.lease.prepare_invoke();
            inv.arg(worker)
                .arg(lease.as_millis() as u64)
                .arg(REAP_LIMIT)
                .arg(token);
            async move { inv.invoke_async(&mut conn).await }
        })
        .await?;
        match v {
            Value::Nil => Ok(None),
            Value::Array(items) if items.len() == 6 => {
                let s = |i: usize| -> Result<String, QueueError> {
                    redis::from_redis_value_ref(&items[i])
                        .map_err(|e| QueueError::Protocol(format!("lease field {i}: {e}")))
                };
                let job_spec: Vec<u8> = redis::from_redis_value_ref(&items[5]).map_err(|_| {
                    QueueError::DataLoss(format!(
                        "scan of job {} has no spec",
                        s(0).unwrap_or_default()
                    ))
                })?;
                Ok(Some(Leased {
                    job: s(0)?,
                    token: s(1)?
                        .parse()
                        .map_err(|_| QueueError::Protocol("token".into()))?,
                    scan: s(2)?,
                    repo: s(3)?,
                    url: s(4)?,
                    job_spec,
                }))
            }
            other => Err(QueueError::Protocol(format!("lease: {other:?}"))),
        }
    }

    /// Renews `leases` (job, token) for another `lease`.
    pub async fn heartbeat(
        &self,
        lease: Duration,
        leases: &[(String, u64)],
    ) -> Result<Vec<LeaseState>, QueueError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let codes: Vec<u8> = retrying(|| {
            let mut conn = self.conn.clone();
            let mut inv = self.scripts.heartbeat.prepare_invoke();
            inv.arg(lease.as_millis() as u64);
            for (job, token) in leases {
                inv.arg(job).arg(token);
            }
            async move { inv.invoke_async(&mut conn).await }
        })
        .await?;
        Ok(codes
            .into_iter()
            .map(|c| match c {
                1 => LeaseState::Held,
                3 => LeaseState::Cancelled,
                _ => LeaseState::Lost,
            })
            .collect())
    }

    /// Stores a job's result and ends its lease in one atomic step.
    pub async fn commit(&self, o: &Outcome<'_>) -> Result<Committed, QueueError> {
        // A retried commit whose first try did run finds its lease ended and answers "stale":
        // the results are stored once either way.
        let r: Result<String, redis::RedisError> = retrying(|| {
            let mut conn = self.conn.clone();
            let mut inv = self.scripts.commit.prepare_invoke();
            inv.arg(o.job)
                .arg(o.token)
                .arg(o.status.name())
                .arg(if o.retryable { "1" } else { "0" })
                .arg(o.error)
                .arg(o.result)
                .arg(o.occurrences)
                .arg(o.retry_delay.as_millis() as u64);
            for p in o.points {
                inv.arg(p);
            }
            async move { inv.invoke_async(&mut conn).await }
        })
        .await;
        match r {
            Ok(s) => match s.as_str() {
                "stored" => Ok(Committed::Stored),
                "retry" => Ok(Committed::Retry),
                "stale" => Ok(Committed::Stale),
                "cancelled" => Ok(Committed::Cancelled),
                other => Err(QueueError::Protocol(format!("commit: {other}"))),
            },
            Err(e) if e.code() == Some("DATALOSS") => Err(QueueError::DataLoss(
                e.detail().unwrap_or("job unknown").to_string(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Hands a job back: it is queued first in line and the attempt does not count.
    pub async fn release(&self, job: &str, token: u64, worker: &str) -> Result<bool, QueueError> {
        let n: u8 = retrying(|| {
            let mut conn = self.conn.clone();
            let mut inv = self.scripts.release.prepare_invoke();
            inv.arg(job).arg(token).arg(worker);
            async move { inv.invoke_async(&mut conn).await }
        })
        .await?;
        Ok(n == 1)
    }

    /// Expires stale leases and promotes due retries.
    pub async fn reap(&self) -> Result<(), QueueError> {
        let _: u8 = retrying(|| {
            let mut conn = self.conn.clone();
            let mut inv = self.scripts.reap.prepare_invoke();
            inv.arg(REAP_LIMIT);
            async move { inv.invoke_async(&mut conn).await }
        })
        .await?;
        Ok(())
    }

    /// Cancels a running scan. Returns its state afterwards, `None` when it does not exist.
    pub async fn cancel(&self, scan: &str) -> Result<Option<ScanState>, QueueError> {
        let name: Option<String> = retrying(|| {
            let mut conn = self.conn.clone();
            let mut inv = self.scripts.cancel.prepare_invoke();
            inv.arg(scan);
            async move { inv.invoke_async(&mut conn).await }
        })
        .await?;
        name.map(|n| {
            ScanState::from_name(&n).ok_or_else(|| {
                QueueError::DataLoss(format!("scan {scan} has the unknown state {n:?}"))
            })
        })
        .transpose()
    }

    /// Queue lengths.
    pub async fn depths(&self) -> Result<Depths, QueueError> {
        let (ready, delayed, active, dead): (u64, u64, u64, u64) = retrying(|| {
            let mut conn = self.conn.clone();
            async move {
                redis::pipe()
                    .llen(READY)
                    .zcard(DELAYED)
                    .llen(ACTIVE)
                    .llen(DEAD)
                    .query_async(&mut conn)
                    .await
            }
        })
        .await?;
        Ok(Depths {
            ready,
            delayed,
            active,
            dead,
        })
    }
}
