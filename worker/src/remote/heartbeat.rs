//! Lease renewal: every third of the lease length, one heartbeat renews every lease this
//! worker holds. A lease found lost or cancelled stops its job.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleetscan_coordinator::client::WorkersClient;
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

/// The leases this worker holds.
#[derive(Debug, Clone, Default)]
pub struct Leases(Arc<Mutex<HashMap<String, Held>>>);

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
            .insert(job.to_string(), held.clone());
        held
    }

    /// Stops holding `job`.
    pub fn remove(&self, job: &str) {
        self.0.lock().expect("leases").remove(job);
    }

    /// Every held (job, token).
    pub fn all(&self) -> Vec<(String, u64)> {
        self.0
            .lock()
            .expect("leases")
            .iter()
            .map(|(j, h)| (j.clone(), h.token))
            .collect()
    }

    fn stop(&self, job: &str) {
        if let Some(h) = self.0.lock().expect("leases").get(job) {
            h.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Renews leases until `stop` changes.
pub async fn run(
    cfg: Arc<Config>,
    mut client: WorkersClient,
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
        match tokio::time::timeout(every.max(Duration::from_secs(1)), client.heartbeat(req)).await {
            Ok(Ok(resp)) => {
                for ((job, _), state) in held.iter().zip(resp.into_inner().states) {
                    match v1::LeaseState::try_from(state) {
                        Ok(v1::LeaseState::Held) => {}
                        Ok(v1::LeaseState::Cancelled) => {
                            tracing::info!(%job, "scan cancelled: stopping the job");
                            leases.stop(job);
                        }
                        _ => {
                            tracing::warn!(%job, "lease lost: stopping the job");
                            leases.stop(job);
                        }
                    }
                }
            }
            Ok(Err(s)) => tracing::warn!(error = %s.message(), "heartbeat refused; retrying"),
            Err(_) => tracing::warn!("heartbeat timed out; retrying"),
        }
    }
}
