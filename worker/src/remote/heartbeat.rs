//! Lease renewal: every third of the lease length, one heartbeat renews every lease this
//! worker holds. A lease found lost or cancelled stops its job.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleetscan_coordinator::client::WorkersClient;
use fleetscan_coordinator::queue::{LeaseState, Queue};
use fleetscan_proto::v1;

use super::Config;

/// One held lease.
#[derive(Debug, Clone)]
pub struct Held {
    /// The lease token.
    pub token: u64,
    /// Set when the job must stop (scan cancelled or lease lost); the job runner checks it.
    pub stop: Arc<AtomicBool>,
}

/// The leases this worker holds, by (job, token): a job whose lease expired may come back to
/// another slot of the same worker under a new token while the old slot still runs.
#[derive(Debug, Clone, Default)]
pub struct Leases(Arc<Mutex<HashMap<(String, u64), Held>>>);

impl Leases {
    /// Starts holding `job`.
    pub fn add(&self, job: &str, token: u64) -> Held {
        let held = Held {
            token,
            stop: Arc::new(AtomicBool::new(false)),
        };
        self.0
            .lock()
            .expect("leases")
            .insert((job.to_string(), token), held.clone());
        held
    }

    /// Stops holding `job` under `token`.
    pub fn remove(&self, job: &str, token: u64) {
        self.0
            .lock()
            .expect("leases")
            .remove(&(job.to_string(), token));
    }

    /// Every held (job, token).
    pub fn all(&self) -> Vec<(String, u64)> {
        self.0.lock().expect("leases").keys().cloned().collect()
    }

    fn stop(&self, job: &str, token: u64) {
        if let Some(h) = self
            .0
            .lock()
            .expect("leases")
            .get(&(job.to_string(), token))
        {
            h.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Renews leases until `stop` changes: through the coordinator, or straight in Redis while
/// the coordinator cannot be reached, so a coordinator restart costs no lease.
pub async fn run(
    cfg: Arc<Config>,
    mut client: WorkersClient,
    queue: Queue,
    leases: Leases,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let every = cfg.lease() / 3;
    let worker_id = cfg.worker_id();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            // Leases stay renewed through the grace period, until the task is aborted.
            _ = stop.changed() => {}
        }
        let held = leases.all();
        if held.is_empty() {
            continue;
        }
        let req = v1::HeartbeatRequest {
            worker_id: worker_id.clone(),
            leases: held
                .iter()
                .map(|(job, token)| v1::Lease {
                    job_id: job.clone(),
                    token: *token,
                })
                .collect(),
            lease_secs: cfg.lease().as_secs() as u32,
        };
        let via_coordinator =
            match tokio::time::timeout(every.max(Duration::from_secs(1)), client.heartbeat(req))
                .await
            {
                Ok(Ok(resp)) => Ok(resp
                    .into_inner()
                    .states
                    .into_iter()
                    .map(LeaseState::from_wire)
                    .collect::<Vec<_>>()),
                Ok(Err(s)) => Err(s.message().to_string()),
                Err(_) => Err("timed out".to_string()),
            };
        let states = match via_coordinator {
            Ok(states) => states,
            Err(why) => {
                tracing::warn!(error = %why, "heartbeat through the coordinator failed; renewing in Redis");
                match queue.heartbeat(cfg.lease(), &held).await {
                    Ok(states) => states,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot renew leases; retrying");
                        continue;
                    }
                }
            }
        };
        for ((job, token), state) in held.iter().zip(states) {
            match state {
                LeaseState::Held => {}
                LeaseState::Cancelled => {
                    tracing::info!(%job, "scan cancelled: stopping the job");
                    leases.stop(job, *token);
                }
                LeaseState::Lost => {
                    tracing::warn!(%job, "lease lost: stopping the job");
                    leases.stop(job, *token);
                }
            }
        }
    }
}
