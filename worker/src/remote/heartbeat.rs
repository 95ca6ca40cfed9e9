//! Lease renewal: every third of the lease length, one heartbeat renews every lease this
//! worker holds. A lease found lost or cancelled stops its job. While no coordinator answers,
//! nothing is renewed and the jobs go on: the coordinator that comes back gives the leases the
//! time nobody could renew them back (`lua/lib.lua`, `reap`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleetscan_proto::client::WorkersClient;
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

    /// Every held lease.
    pub fn all(&self) -> Vec<v1::Lease> {
        self.0
            .lock()
            .expect("leases")
            .keys()
            .map(|(job_id, token)| v1::Lease {
                job_id: job_id.clone(),
                token: *token,
            })
            .collect()
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

/// Renews leases until the task is aborted; they stay renewed through the grace period.
pub async fn run(cfg: Arc<Config>, mut client: WorkersClient, leases: Leases) {
    let every = cfg.lease() / 3;
    let worker_id = cfg.worker_id.clone();
    loop {
        tokio::time::sleep(every).await;
        let held = leases.all();
        if held.is_empty() {
            continue;
        }
        let req = v1::HeartbeatRequest {
            worker_id: worker_id.clone(),
            leases: held.clone(),
            lease_secs: cfg.lease().as_secs() as u32,
        };
        let states = match tokio::time::timeout(
            every.max(Duration::from_secs(1)),
            client.heartbeat(req),
        )
        .await
        {
            Ok(Ok(resp)) => resp.into_inner().states,
            Ok(Err(s)) => {
                tracing::warn!(error = %s.message(), "cannot renew leases; the jobs go on, retrying");
                continue;
            }
            Err(_) => {
                tracing::warn!("lease renewal timed out; the jobs go on, retrying");
                continue;
            }
        };
        for (l, state) in held.iter().zip(states) {
            // Anything unknown counts as lost, so the job stops.
            match v1::LeaseState::try_from(state).unwrap_or(v1::LeaseState::Lost) {
                v1::LeaseState::Held => {}
                v1::LeaseState::Cancelled => {
                    tracing::info!(job = %l.job_id, "scan cancelled: stopping the job");
                    leases.stop(&l.job_id, l.token);
                }
                v1::LeaseState::Lost | v1::LeaseState::Unspecified => {
                    tracing::warn!(job = %l.job_id, "lease lost: stopping the job");
                    leases.stop(&l.job_id, l.token);
                }
            }
        }
    }
}
