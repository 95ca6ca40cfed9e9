//! Scans in Redis: creating them (one job per repository), reading their state, per-repository
//! states, results and events. The queue scripts are the only writers after creation.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use fleetscan_core::result::RepoResult;
use fleetscan_proto::prost::Message;
use fleetscan_proto::v1::{self, ScanSpec};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::queue::{retrying, QueueError, PREFIX, READY};
use crate::state::{JobState, ScanState};
use fleetscan_core::plan::Plan;

/// A scan as Redis holds it.
#[derive(Debug, Clone)]
pub struct ScanRecord {
    /// Its id.
    pub id: String,
    /// Its state.
    pub state: ScanState,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms, 0 while running.
    pub finished_ms: i64,
    /// Counters.
    pub progress: v1::Progress,
    /// The patterns searched.
    pub patterns: Vec<String>,
    /// What was submitted; read only when asked for, since it can hold megabytes of
    /// governance data.
    pub spec: Option<ScanSpec>,
}

impl ScanRecord {
    /// The wire state.
    pub fn state(&self) -> v1::ScanState {
        self.state.into()
    }

    /// The wire status, without per-repository states.
    pub fn status(&self) -> v1::ScanStatus {
        v1::ScanStatus {
            scan_id: self.id.clone(),
            state: self.state() as i32,
            progress: Some(self.progress),
            created_ms: self.created_ms,
            finished_ms: self.finished_ms,
            patterns: self.patterns.clone(),
            repos: Vec::new(),
            spec: None,
        }
    }
}

/// The counters of a scan, from its hash fields (or an event's) read by `n`.
pub fn progress(n: impl Fn(&str) -> u64) -> v1::Progress {
    v1::Progress {
        total: n("total") as u32,
        scanned: n("scanned") as u32,
        skipped: n("skipped") as u32,
        dead: n("dead") as u32,
        running: n("running") as u32,
        occurrences: n("occurrences"),
    }
}

/// The wire form of a job state name from Redis (an event's, say); unknown names are
/// unspecified.
pub fn job_state(s: &str) -> v1::JobState {
    JobState::from_name(s).map_or(v1::JobState::Unspecified, Into::into)
}

/// The wire form of a scan state name from Redis; unknown names are unspecified.
pub fn scan_state(s: &str) -> v1::ScanState {
    ScanState::from_name(s).map_or(v1::ScanState::Unspecified, Into::into)
}

fn scan_key(id: &str) -> String {
    format!("{PREFIX}scan:{id}")
}

/// The key of job `job` (`{scan}:{index}`).
pub fn job_key(job: &str) -> String {
    format!("{PREFIX}job:{job}")
}

/// The stream of a scan's events.
pub fn events_key(id: &str) -> String {
    format!("{PREFIX}scan:{id}:events")
}

const SCANS: &str = "fleetscan:scans";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A job as Redis holds it.
#[derive(Debug, Clone, Default)]
pub struct JobRecord {
    /// Its state; `None` when Redis holds a name this release does not know.
    pub state: Option<JobState>,
    /// Current lease token.
    pub token: u64,
    /// Its scan.
    pub scan: String,
    /// Repository.
    pub repo: String,
    /// Fetch URL.
    pub url: String,
    /// Attempts so far, the running one included.
    pub attempts: u32,
    /// Last error.
    pub error: String,
    /// Last worker.
    pub worker: String,
}

fn job_record(h: HashMap<String, String>) -> Option<JobRecord> {
    let g = |k: &str| h.get(k).cloned().unwrap_or_default();
    if h.is_empty() {
        return None;
    }
    Some(JobRecord {
        state: JobState::from_name(&g("state")),
        token: g("token").parse().unwrap_or(0),
        scan: g("scan"),
        repo: g("repo"),
        url: g("url"),
        attempts: g("attempts").parse().unwrap_or(0),
        error: g("error"),
        worker: g("worker"),
    })
}

/// Access to scans.
#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
}

impl Store {
    /// A store over `conn`.
    pub fn new(conn: ConnectionManager) -> Store {
        Store { conn }
    }

    /// Writes the scan and queues its jobs in one transaction: a scan is either fully queued
    /// or not there at all.
    pub async fn create(&self, spec: &ScanSpec, plan: &Plan) -> Result<String, QueueError> {
        let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
        let now = now_ms();
        let job_spec = v1::JobSpec::from(&plan.job_spec).encode_to_vec();
        let mut pipe = redis::pipe();
        pipe.atomic();
        let ids: Vec<String> = (0..plan.targets.len())
            .map(|i| format!("{id}:{i}"))
            .collect();
        for (job, t) in ids.iter().zip(&plan.targets) {
            pipe.hset_multiple(
                job_key(job),
                &[
                    ("state", JobState::Queued.name()),
                    ("scan", id.as_str()),
                    ("repo", t.repo.as_str()),
                    ("url", t.url.as_str()),
                    ("attempts", "0"),
                ],
            )
            .ignore();
        }
        pipe.hset_multiple(
            scan_key(&id),
            &[
                ("state", ScanState::Running.name().to_string()),
                ("created_ms", now.to_string()),
                ("finished_ms", "0".into()),
                ("total", plan.targets.len().to_string()),
                ("scanned", "0".into()),
                ("skipped", "0".into()),
                ("dead", "0".into()),
                ("running", "0".into()),
                ("occurrences", "0".into()),
                ("max_attempts", plan.max_attempts.to_string()),
            ],
        )
        .ignore();
        pipe.hset(scan_key(&id), "job_spec", job_spec).ignore();
        pipe.hset(
            scan_key(&id),
            "patterns",
            serde_json::to_string(&spec.patterns).expect("strings serialize"),
        )
        .ignore();
        pipe.hset(scan_key(&id), "spec", spec.encode_to_vec())
            .ignore();
        pipe.zadd(SCANS, &id, now).ignore();
        for chunk in ids.chunks(1000) {
            pipe.lpush(READY, chunk).ignore();
        }
        // Not retried: if the reply was lost after the transaction ran, running it again would
        // queue every job a second time. The client sees the error and can submit again.
        let mut conn = self.conn.clone();
        let () = pipe.query_async(&mut conn).await?;
        Ok(id)
    }

    /// The scan `id`, if Redis has it; its spec only `with_spec`.
    pub async fn get(&self, id: &str, with_spec: bool) -> Result<Option<ScanRecord>, QueueError> {
        const FIELDS: [&str; 11] = [
            "state",
            "created_ms",
            "finished_ms",
            "total",
            "scanned",
            "skipped",
            "dead",
            "running",
            "occurrences",
            "patterns",
            "spec",
        ];
        let fields = if with_spec {
            &FIELDS[..]
        } else {
            &FIELDS[..10]
        };
        let v: Vec<Option<Vec<u8>>> = retrying(|| {
            let mut conn = self.conn.clone();
            async move {
                redis::cmd("HMGET")
                    .arg(scan_key(id))
                    .arg(fields)
                    .query_async(&mut conn)
                    .await
            }
        })
        .await?;
        let h: HashMap<&str, Vec<u8>> = fields
            .iter()
            .zip(v)
            .filter_map(|(k, v)| v.map(|v| (*k, v)))
            .collect();
        if !h.contains_key("state") {
            return Ok(None);
        }
        let s = |k: &str| {
            h.get(k)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        let n = |k: &str| s(k).parse::<u64>().unwrap_or(0);
        let damaged = |what: &str, e: String| {
            QueueError::DataLoss(format!("scan {id} has a damaged {what} ({e})"))
        };
        let spec = match h.get("spec") {
            Some(bytes) => Some(
                ScanSpec::decode(bytes.as_slice()).map_err(|e| damaged("spec", e.to_string()))?,
            ),
            None if with_spec => return Err(damaged("spec", "missing".into())),
            None => None,
        };
        Ok(Some(ScanRecord {
            id: id.to_string(),
            state: ScanState::from_name(&s("state")).ok_or_else(|| damaged("state", s("state")))?,
            created_ms: n("created_ms") as i64,
            finished_ms: n("finished_ms") as i64,
            progress: progress(n),
            patterns: serde_json::from_str(&s("patterns"))
                .map_err(|e| damaged("pattern list", e.to_string()))?,
            spec,
        }))
    }

    /// Deletes the completed and cancelled scans finished more than `age` ago, with their jobs,
    /// results and events. Running scans are kept whatever their age. Returns how many went.
    pub async fn delete_finished_before(
        &self,
        age: std::time::Duration,
    ) -> Result<usize, QueueError> {
        let cutoff = now_ms() - age.as_millis() as i64;
        let ids: Vec<String> = retrying(|| {
            let mut conn = self.conn.clone();
            async move {
                conn.zrangebyscore_limit(SCANS, "-inf", cutoff, 0, 100)
                    .await
            }
        })
        .await?;
        let mut deleted = 0;
        for id in ids {
            let Some(rec) = self.get(&id, false).await? else {
                let mut conn = self.conn.clone();
                let _: () = conn.zrem(SCANS, &id).await?;
                continue;
            };
            if rec.state == ScanState::Running || rec.finished_ms > cutoff {
                continue;
            }
            let mut conn = self.conn.clone();
            for start in (0..rec.progress.total).step_by(1000) {
                let keys: Vec<String> = (start..(start + 1000).min(rec.progress.total))
                    .map(|i| job_key(&format!("{id}:{i}")))
                    .collect();
                let _: () = conn.del(keys).await?;
            }
            let base = scan_key(&id);
            let _: () = redis::pipe()
                .atomic()
                .del(format!("{base}:results"))
                .del(format!("{base}:points"))
                .del(events_key(&id))
                .del(&base)
                .zrem(SCANS, &id)
                .query_async(&mut conn)
                .await?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Scan ids, newest first.
    pub async fn list(&self, limit: usize) -> Result<Vec<String>, QueueError> {
        Ok(retrying(|| {
            let mut conn = self.conn.clone();
            async move { conn.zrevrange(SCANS, 0, limit.max(1) as isize - 1).await }
        })
        .await?)
    }

    /// One job.
    pub async fn job(&self, job: &str) -> Result<Option<JobRecord>, QueueError> {
        let h: HashMap<String, String> = retrying(|| {
            let mut conn = self.conn.clone();
            async move { conn.hgetall(job_key(job)).await }
        })
        .await?;
        Ok(job_record(h))
    }

    /// Every job of a scan with `total` jobs, in job order.
    pub async fn jobs(&self, id: &str, total: u32) -> Result<Vec<JobRecord>, QueueError> {
        let mut out = Vec::with_capacity(total as usize);
        for start in (0..total).step_by(1000) {
            let mut pipe = redis::pipe();
            for i in start..(start + 1000).min(total) {
                pipe.hgetall(job_key(&format!("{id}:{i}")));
            }
            let hs: Vec<HashMap<String, String>> = retrying(|| {
                let (mut conn, pipe) = (self.conn.clone(), &pipe);
                async move { pipe.query_async(&mut conn).await }
            })
            .await?;
            for (i, h) in hs.into_iter().enumerate() {
                out.push(job_record(h).ok_or_else(|| {
                    QueueError::DataLoss(format!(
                        "job {id}:{} of scan {id} is missing",
                        start as usize + i
                    ))
                })?);
            }
        }
        Ok(out)
    }

    /// The repositories of jobs `range` of scan `id`, in job order, which is repository
    /// order (the plan sorts them). A missing job is data loss.
    pub async fn repos(
        &self,
        id: &str,
        range: std::ops::Range<u32>,
    ) -> Result<Vec<String>, QueueError> {
        let mut pipe = redis::pipe();
        for i in range.clone() {
            pipe.hget(job_key(&format!("{id}:{i}")), "repo");
        }
        let repos: Vec<Option<String>> = retrying(|| {
            let (mut conn, pipe) = (self.conn.clone(), &pipe);
            async move { pipe.query_async(&mut conn).await }
        })
        .await?;
        repos
            .into_iter()
            .zip(range)
            .map(|(r, i)| {
                r.ok_or_else(|| {
                    QueueError::DataLoss(format!("job {id}:{i} of scan {id} is missing"))
                })
            })
            .collect()
    }

    /// The sizes in bytes of the stored results of `repos` (0 for one that is missing), so
    /// that they can be read a bounded number of bytes at a time.
    pub async fn result_sizes(&self, id: &str, repos: &[String]) -> Result<Vec<u64>, QueueError> {
        let key = format!("{}:results", scan_key(id));
        let mut pipe = redis::pipe();
        for r in repos {
            pipe.cmd("HSTRLEN").arg(&key).arg(r);
        }
        Ok(retrying(|| {
            let (mut conn, pipe) = (self.conn.clone(), &pipe);
            async move { pipe.query_async(&mut conn).await }
        })
        .await?)
    }

    /// The sizes in bytes of point `i` of `repos`' stored results (0 where there is none).
    pub async fn point_sizes(
        &self,
        id: &str,
        i: usize,
        repos: &[String],
    ) -> Result<Vec<u64>, QueueError> {
        let key = format!("{}:points", scan_key(id));
        let mut pipe = redis::pipe();
        for r in repos {
            pipe.cmd("HSTRLEN").arg(&key).arg(point_field(i, r));
        }
        Ok(retrying(|| {
            let (mut conn, pipe) = (self.conn.clone(), &pipe);
            async move { pipe.query_async(&mut conn).await }
        })
        .await?)
    }

    /// Point `i` of `repos`' stored results (JSON, undecoded), in that order; None for a
    /// repository without one (not scanned, or a scan of the heads only).
    pub async fn points(
        &self,
        id: &str,
        i: usize,
        repos: &[String],
    ) -> Result<Vec<Option<String>>, QueueError> {
        if repos.is_empty() {
            return Ok(Vec::new());
        }
        let fields: Vec<String> = repos.iter().map(|r| point_field(i, r)).collect();
        Ok(retrying(|| {
            let (mut conn, fields) = (self.conn.clone(), &fields);
            async move {
                redis::cmd("HMGET")
                    .arg(format!("{}:points", scan_key(id)))
                    .arg(fields)
                    .query_async(&mut conn)
                    .await
            }
        })
        .await?)
    }

    /// The stored results (JSON, undecoded) of `repos`, in that order. A repository without
    /// a result is data loss.
    pub async fn results(
        &self,
        id: &str,
        repos: &[String],
    ) -> Result<Vec<(String, String)>, QueueError> {
        if repos.is_empty() {
            return Ok(Vec::new());
        }
        let jsons: Vec<Option<String>> = retrying(|| {
            let mut conn = self.conn.clone();
            async move {
                redis::cmd("HMGET")
                    .arg(format!("{}:results", scan_key(id)))
                    .arg(repos)
                    .query_async(&mut conn)
                    .await
            }
        })
        .await?;
        repos
            .iter()
            .zip(jsons)
            .map(|(repo, json)| match json {
                Some(j) => Ok((repo.clone(), j)),
                None => Err(QueueError::DataLoss(format!(
                    "scan {id} has no result for {repo}"
                ))),
            })
            .collect()
    }
}

/// The field of a scan's `:points` hash holding point `i` of `repo` (`lua/commit.lua`).
fn point_field(i: usize, repo: &str) -> String {
    format!("{i}:{repo}")
}

/// Decodes one stored result of scan `id`; CPU work, for a blocking thread.
pub fn decode_result(id: &str, repo: &str, json: &str) -> Result<RepoResult, QueueError> {
    serde_json::from_str(json).map_err(|e| damaged_result(id, repo, e))
}

/// The error for a stored result of scan `id` that does not decode.
pub fn damaged_result(id: &str, repo: &str, e: impl std::fmt::Display) -> QueueError {
    QueueError::DataLoss(format!(
        "the stored result of {repo} in scan {id} is damaged ({e})"
    ))
}

impl Store {
    /// The id of the scan's newest event, `0-0` when it has none.
    pub async fn last_event_id(&self, id: &str) -> Result<String, QueueError> {
        let v: redis::streams::StreamRangeReply = retrying(|| {
            let mut conn = self.conn.clone();
            async move { conn.xrevrange_count(events_key(id), "+", "-", 1).await }
        })
        .await?;
        Ok(v.ids
            .first()
            .map_or_else(|| "0-0".to_string(), |e| e.id.clone()))
    }

    /// Events after `after`, oldest first, at most `count`.
    pub async fn events_after(
        &self,
        id: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<(String, HashMap<String, String>)>, QueueError> {
        let v: redis::streams::StreamRangeReply = retrying(|| {
            let mut conn = self.conn.clone();
            async move {
                conn.xrange_count(events_key(id), format!("({after}"), "+", count)
                    .await
            }
        })
        .await?;
        Ok(v.ids
            .into_iter()
            .map(|e| {
                let fields = e
                    .map
                    .iter()
                    .map(|(k, v)| {
                        let s: String = redis::from_redis_value_ref(v).unwrap_or_default();
                        (k.clone(), s)
                    })
                    .collect();
                (e.id, fields)
            })
            .collect())
    }
}
