//! The embedded runner: a pool of threads working through a list of jobs in one process, no
//! server and no Redis. Blocking git work runs on these plain threads; the caller's thread
//! only receives events, so it can draw progress.

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use fleetscan_core::ids::RepoName;
use fleetscan_core::result::RepoResult;

use crate::job::{run, Context, Job};

/// Progress of an embedded run.
#[derive(Debug)]
pub enum Event {
    /// A job was taken by a thread.
    Started(RepoName),
    /// A job finished (scanned, failed or skipped).
    Finished(Box<RepoResult>),
}

/// Runs `jobs` on `threads` threads and returns every result, one per job, in job order.
/// `on_event` is called on the caller's thread.
pub fn run_all(
    jobs: Vec<Job>,
    ctx: Arc<Context>,
    threads: usize,
    cancel: Arc<AtomicBool>,
    mut on_event: impl FnMut(&Event),
) -> Vec<RepoResult> {
    let n = jobs.len();
    let queue = Arc::new(Mutex::new(
        jobs.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let (tx, rx) = mpsc::sync_channel::<(usize, Event)>(threads.max(1) * 2);
    let handles: Vec<_> = (0..threads.max(1).min(n.max(1)))
        .map(|_| {
            let (queue, ctx, tx, cancel) = (queue.clone(), ctx.clone(), tx.clone(), cancel.clone());
            std::thread::spawn(move || loop {
                let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                let Some((i, job)) = next else { break };
                if tx.send((i, Event::Started(job.repo.clone()))).is_err() {
                    break;
                }
                let result = run(&job, &ctx, &cancel);
                if tx.send((i, Event::Finished(Box::new(result)))).is_err() {
                    break;
                }
            })
        })
        .collect();
    drop(tx);
    let mut results: Vec<Option<RepoResult>> = vec![None; n];
    for (i, ev) in rx {
        on_event(&ev);
        if let Event::Finished(r) = ev {
            results[i] = Some(*r);
        }
    }
    for h in handles {
        let _ = h.join();
    }
    results.into_iter().flatten().collect()
}
