//! The Coordinator service: what the CLI calls.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use fleetscan_core::report::Format;
use fleetscan_proto::v1::{self, coordinator_server::Coordinator};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::queue::{Queue, QueueError};
use crate::report::{Chunks, Reader};
use crate::spec;
use crate::store::{job_state, scan_state, ScanRecord, Store};
use tokio::sync::mpsc::Sender;

/// Scans listed at most.
const LIST_LIMIT: usize = 1000;
/// How often a watch looks for new events.
const WATCH_POLL: Duration = Duration::from_millis(200);

/// The service state shared by all calls.
#[derive(Clone)]
pub struct CoordinatorService {
    pub(crate) queue: Queue,
    pub(crate) store: Store,
    /// Wakes the Lease calls waiting in this coordinator when a scan is queued.
    pub(crate) queued: std::sync::Arc<tokio::sync::Notify>,
    /// Set when the server shuts down: open watch streams end, so that shutdown need not wait
    /// for clients that would watch forever (they reconnect to another coordinator).
    pub(crate) down: tokio::sync::watch::Receiver<bool>,
    /// Permits for calls that stream a scan's results or reports, each on a blocking thread
    /// holding a bounded batch of results (and, for reports, the scan's outline).
    pub(crate) streams: std::sync::Arc<tokio::sync::Semaphore>,
}

pub(crate) fn status_of(e: QueueError) -> Status {
    match e {
        QueueError::DataLoss(m) => Status::data_loss(format!("{m}: Redis lost its data (was it restarted without persistence?); submit the scan again")),
        QueueError::Redis(e) => {
            let mut s = Status::unavailable(format!(
                "the coordinator cannot reach its Redis ({e}); scans and results wait in Redis, try again once it is back (operators: check the coordinator's --redis)"
            ));
            s.metadata_mut().insert(
                fleetscan_proto::client::CAUSE,
                tonic::metadata::MetadataValue::from_static(fleetscan_proto::client::REDIS_DOWN),
            );
            s
        }
        QueueError::Protocol(m) => Status::internal(m),
    }
}

fn check_id(id: &str) -> Result<(), Status> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Status::invalid_argument(format!(
            "scan id {id:?} is not a scan id: `fleetscan list` shows them"
        )));
    }
    Ok(())
}

impl CoordinatorService {
    async fn record(&self, id: &str, with_spec: bool) -> Result<crate::store::ScanRecord, Status> {
        check_id(id)?;
        self.store.get(id, with_spec).await.map_err(status_of)?.ok_or_else(|| {
            Status::not_found(format!(
                "scan {id} is not in Redis: the id is wrong, or Redis lost its data (was it restarted without persistence?)"
            ))
        })
    }

    /// A completed scan, with its spec; anything else is refused, so no report is ever
    /// rendered from a running, cancelled or damaged scan.
    async fn completed(&self, id: &str) -> Result<ScanRecord, Status> {
        let rec = self.record(id, true).await?;
        match rec.state() {
            v1::ScanState::Completed => Ok(rec),
            v1::ScanState::Cancelled => Err(Status::failed_precondition(format!(
                "scan {id} was cancelled: its report would be incomplete; submit it again"
            ))),
            _ => {
                let p = rec.progress;
                Err(Status::failed_precondition(format!(
                    "scan {id} is still running ({} of {} repositories done): wait with `fleetscan watch {id}`",
                    p.scanned + p.skipped + p.dead,
                    p.total
                )))
            }
        }
    }

    /// Runs `work` on a blocking thread with a reader of completed scan `rec`'s results and
    /// the sending end of a stream, once one of the permits for such work is free; its error
    /// ends the stream. Returns the stream.
    async fn streaming<T: Send + 'static>(
        &self,
        rec: ScanRecord,
        work: impl FnOnce(&mut Reader, &ScanRecord, &Sender<Result<T, Status>>) -> Result<(), Status>
            + Send
            + 'static,
    ) -> Result<Stream2<T>, Status> {
        let permit = self
            .streams
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Status::unavailable("the coordinator is shutting down"))?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        // The scan's history points, which are stored apart from the results.
        let points = rec.spec.as_ref().map_or(0, |s| s.points.len());
        let mut reader = Reader::new(
            tokio::runtime::Handle::current(),
            self.store.clone(),
            &rec.id,
            points,
        );
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            if let Err(s) = work(&mut reader, &rec, &tx) {
                if s.code() != tonic::Code::Cancelled {
                    tracing::warn!(scan = %rec.id, error = %s.message(), "streaming a scan's results failed");
                }
                let _ = tx.blocking_send(Err(s));
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}

/// Runs CPU work `f` on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("a blocking task failed: {e}")))?
}

type Stream2<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn progress_of(f: &HashMap<String, String>) -> v1::Progress {
    crate::store::progress(|k| f.get(k).and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn event_of(f: &HashMap<String, String>) -> v1::ScanEvent {
    use v1::scan_event::Kind;
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let kind = match g("kind").as_str() {
        "started" => Kind::Started,
        "retry" => Kind::Retry,
        "finished" => Kind::Finished,
        "scan_ended" => Kind::ScanEnded,
        _ => Kind::Unspecified,
    };
    v1::ScanEvent {
        kind: kind as i32,
        repo: g("repo"),
        job_state: job_state(&g("job_state")) as i32,
        attempt: g("attempt").parse().unwrap_or(0),
        error: g("error"),
        worker: g("worker"),
        scan_state: scan_state(&g("state")) as i32,
        progress: Some(progress_of(f)),
        event_id: String::new(),
    }
}

#[tonic::async_trait]
impl Coordinator for CoordinatorService {
    async fn submit_scan(
        &self,
        req: Request<v1::SubmitScanRequest>,
    ) -> Result<Response<v1::SubmitScanResponse>, Status> {
        let spec = req
            .into_inner()
            .spec
            .ok_or_else(|| Status::invalid_argument("the request has no scan spec"))?;
        // Planning parses up to 32 MiB of governance and selects up to 200k repositories: CPU
        // work, on a blocking thread.
        let (spec, plan) = blocking(move || {
            let plan = spec::plan(&spec).map_err(Status::invalid_argument)?;
            Ok((spec, plan))
        })
        .await?;
        let id = self.store.create(&spec, &plan).await.map_err(status_of)?;
        self.queued.notify_waiters();
        tracing::info!(scan = %id, repos = plan.targets.len(), "scan submitted");
        Ok(Response::new(v1::SubmitScanResponse {
            scan_id: id,
            repos: plan.targets.len() as u32,
        }))
    }

    async fn get_scan(
        &self,
        req: Request<v1::GetScanRequest>,
    ) -> Result<Response<v1::ScanStatus>, Status> {
        let req = req.into_inner();
        let rec = self.record(&req.scan_id, req.spec).await?;
        let mut status = rec.status();
        if req.spec {
            status.spec = rec.spec.clone();
        }
        if req.repos {
            let jobs = self
                .store
                .jobs(&rec.id, rec.progress.total)
                .await
                .map_err(status_of)?;
            status.repos = jobs
                .into_iter()
                .map(|j| v1::RepoState {
                    repo: j.repo,
                    state: j.state.map_or(v1::JobState::Unspecified, Into::into) as i32,
                    attempts: j.attempts,
                    error: j.error,
                    worker: j.worker,
                })
                .collect();
        }
        Ok(Response::new(status))
    }

    type WatchScanStream = Stream2<v1::ScanEvent>;

    async fn watch_scan(
        &self,
        req: Request<v1::WatchScanRequest>,
    ) -> Result<Response<Self::WatchScanStream>, Status> {
        let req = req.into_inner();
        let id = req.scan_id;
        check_id(&id)?;
        // A client reconnecting after a coordinator restart resumes after the last event it
        // saw, so that no failure goes unreported.
        let resume = req.after_event;
        let valid = |e: &str| {
            e.split_once('-').is_some_and(|(a, b)| {
                !a.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
            })
        };
        let mut last = if resume.is_empty() {
            self.store.last_event_id(&id).await.map_err(status_of)?
        } else if valid(&resume) {
            resume
        } else {
            return Err(Status::invalid_argument(format!(
                "after_event {resume:?} is not an event id"
            )));
        };
        let mut down = self.down.clone();
        let rec = self.record(&id, false).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let store = self.store.clone();
        let this = self.clone();
        tokio::spawn(async move {
            let snapshot = v1::ScanEvent {
                kind: v1::scan_event::Kind::Snapshot as i32,
                scan_state: rec.state() as i32,
                progress: Some(rec.progress),
                ..Default::default()
            };
            if tx.send(Ok(snapshot)).await.is_err() || rec.state() != v1::ScanState::Running {
                return;
            }
            loop {
                match store.events_after(&id, &last, 500).await {
                    Ok(events) if events.is_empty() => {
                        // A scan whose key vanished would otherwise be watched forever.
                        if let Err(s) = this.record(&id, false).await {
                            let _ = tx.send(Err(s)).await;
                            return;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(WATCH_POLL) => {}
                            _ = down.changed() => {
                                let bye = Status::unavailable("the coordinator is shutting down: reconnect");
                                let _ = tx.send(Err(bye)).await;
                                return;
                            }
                        }
                    }
                    Ok(events) => {
                        for (eid, fields) in events {
                            let mut ev = event_of(&fields);
                            ev.event_id = eid.clone();
                            last = eid;
                            let end = ev.kind == v1::scan_event::Kind::ScanEnded as i32;
                            if tx.send(Ok(ev)).await.is_err() || end {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(scan = %id, error = %e, "watch: cannot read events, retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn list_scans(
        &self,
        req: Request<v1::ListScansRequest>,
    ) -> Result<Response<v1::ListScansResponse>, Status> {
        let limit = match req.into_inner().limit {
            0 => 100,
            n => (n as usize).min(LIST_LIMIT),
        };
        let ids = self.store.list(limit).await.map_err(status_of)?;
        let mut scans = Vec::new();
        for id in ids {
            if let Some(rec) = self.store.get(&id, false).await.map_err(status_of)? {
                scans.push(rec.status());
            }
        }
        Ok(Response::new(v1::ListScansResponse { scans }))
    }

    async fn cancel_scan(
        &self,
        req: Request<v1::CancelScanRequest>,
    ) -> Result<Response<v1::ScanStatus>, Status> {
        let id = req.into_inner().scan_id;
        check_id(&id)?;
        match self.queue.cancel(&id).await.map_err(status_of)? {
            None => {
                return Err(self
                    .record(&id, false)
                    .await
                    .err()
                    .unwrap_or_else(|| Status::not_found(id.clone())))
            }
            Some(state) => tracing::info!(scan = %id, state = state.name(), "cancel requested"),
        }
        Ok(Response::new(self.record(&id, false).await?.status()))
    }

    type GetReportStream = Stream2<v1::ReportChunk>;

    /// Renders the report files as the client reads them (see `crate::report`): the
    /// coordinator holds an outline of the scan and a bounded batch of results, never the whole.
    async fn get_report(
        &self,
        req: Request<v1::GetReportRequest>,
    ) -> Result<Response<Self::GetReportStream>, Status> {
        let req = req.into_inner();
        let formats = Format::parse_list(&req.formats)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let rec = self.completed(&req.scan_id).await?;
        let stream = self
            .streaming(rec, move |reader, rec, tx| {
                crate::report::render(reader, rec, &formats, &mut Chunks::new(tx.clone()))
            })
            .await?;
        Ok(Response::new(stream))
    }

    type ExportResultsStream = Stream2<v1::RepoResult>;

    /// Streams the results in repository order as the client takes them: the coordinator
    /// reads and decodes a bounded batch at a time, on a blocking thread.
    async fn export_results(
        &self,
        req: Request<v1::ExportResultsRequest>,
    ) -> Result<Response<Self::ExportResultsStream>, Status> {
        let id = req.into_inner().scan_id;
        let rec = self.completed(&id).await?;
        let stream = self
            .streaming(rec, |reader, rec, tx| {
                reader.all(rec.progress.total, &mut |r| {
                    let item = v1::RepoResult {
                        repo: r.repo.to_string(),
                        url: r.url.clone(),
                        outcome: Some(fleetscan_proto::convert::outcome(&r, false)),
                        occurrences: r.occurrences.iter().map(Into::into).collect(),
                        attempts: r.attempts,
                        history: fleetscan_proto::convert::history::export(&r),
                    };
                    tx.blocking_send(Ok(item))
                        .map_err(|_| Status::cancelled("the client stopped reading the results"))
                })
            })
            .await?;
        Ok(Response::new(stream))
    }
}
