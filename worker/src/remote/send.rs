//! Handing one job's results to the coordinator: a client stream of a header, occurrence
//! batches and the outcome. The bounded channel between this task and gRPC is the
//! backpressure: batches are produced only as fast as the coordinator takes them.
//! Transient failures (coordinator restarting, every coordinator down, Redis down) are retried
//! with backoff for as long as the lease is not known to be lost: the result stays in memory
//! until a coordinator is back.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use fleetscan_core::result::RepoResult;
use fleetscan_proto::client::WorkersClient;
use fleetscan_proto::v1::{self, result_part::Part};
use fleetscan_proto::{convert, PROTOCOL_VERSION};
use tonic::Code;

use super::heartbeat::Held;

/// Occurrences per message.
const BATCH: usize = 2000;
/// Bytes of occurrence text per message, roughly.
const BATCH_BYTES: usize = 1 << 20;

/// What the coordinator did with the results; `None` when they were refused, or the lease
/// was lost meanwhile (the job runs elsewhere).
pub async fn deliver(
    client: &mut WorkersClient,
    job: &str,
    held: &Held,
    worker_id: &str,
    result: Arc<RepoResult>,
    retryable: bool,
) -> Option<v1::Commit> {
    let mut delay = Duration::from_millis(200);
    loop {
        match send_once(
            client,
            job,
            held.token,
            worker_id,
            result.clone(),
            retryable,
        )
        .await
        {
            Ok(c) => return Some(c),
            Err(s)
                if matches!(
                    s.code(),
                    Code::InvalidArgument
                        | Code::ResourceExhausted
                        | Code::FailedPrecondition
                        | Code::Unauthenticated
                        | Code::PermissionDenied
                        | Code::DataLoss
                ) =>
            {
                tracing::error!(%job, error = %s.message(), "results refused");
                return None;
            }
            Err(s) => {
                if held.stop.load(Ordering::Relaxed) {
                    tracing::warn!(%job, "lease lost: dropping the results; the job runs again elsewhere");
                    return None;
                }
                tracing::warn!(%job, error = %s.message(), "cannot deliver results yet, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn send_once(
    client: &mut WorkersClient,
    job: &str,
    token: u64,
    worker_id: &str,
    result: Arc<RepoResult>,
    retryable: bool,
) -> Result<v1::Commit, tonic::Status> {
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::ResultPart>(4);
    let header = v1::JobHeader {
        protocol_version: PROTOCOL_VERSION,
        lease: Some(v1::Lease {
            job_id: job.to_string(),
            token,
        }),
        worker_id: worker_id.to_string(),
    };
    let outcome = convert::outcome(&result, retryable);
    let producer = tokio::spawn(async move {
        let part = |p: Part| v1::ResultPart { part: Some(p) };
        if tx.send(part(Part::Header(header))).await.is_err() {
            return;
        }
        // Each point's occurrences, then the point; the head's, then the outcome.
        for p in &result.history {
            let point = convert::history::point_outcome(p);
            if !send_batches(&tx, &p.occurrences).await
                || tx.send(part(Part::Point(point))).await.is_err()
            {
                return;
            }
        }
        if send_batches(&tx, &result.occurrences).await {
            let _ = tx.send(part(Part::Outcome(outcome))).await;
        }
    });
    let resp = client
        .report_results(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await;
    producer.abort();
    let commit = resp?.into_inner().commit;
    Ok(v1::Commit::try_from(commit).unwrap_or(v1::Commit::Unspecified))
}

/// Sends `occurrences` in batches of at most [`BATCH`] occurrences or about [`BATCH_BYTES`];
/// false when the stream is gone.
async fn send_batches(
    tx: &tokio::sync::mpsc::Sender<v1::ResultPart>,
    occurrences: &[fleetscan_core::result::Occurrence],
) -> bool {
    let mut batch = Vec::new();
    let mut bytes = 0;
    for (i, o) in occurrences.iter().enumerate() {
        bytes += o.text.len() + o.path.len();
        batch.push(v1::Occurrence::from(o));
        if batch.len() >= BATCH || bytes >= BATCH_BYTES || i + 1 == occurrences.len() {
            let b = v1::OccurrenceBatch {
                occurrences: std::mem::take(&mut batch),
            };
            bytes = 0;
            let part = v1::ResultPart {
                part: Some(Part::Batch(b)),
            };
            if tx.send(part).await.is_err() {
                return false;
            }
        }
    }
    true
}
