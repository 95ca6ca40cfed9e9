//! The embedded runner: threads working through a list of jobs in one process, no server and
//! no Redis. Blocking git work runs on these plain threads; the caller's thread only receives
//! events, so it can draw progress.
//!
//! The threads share the context's [`crate::pools`]: network slots for probing and fetching,
//! CPU slots for scanning. The largest repositories go first (their size in the clone cache of
//! a previous run), so that no large one is left fetching alone at the end.
//!
//! Probing is not a pass of its own: a thread probes a repository in its network slot and
//! stops there when the result is cached. A warm run is thus all probes at full network
//! concurrency, and in a cold run the first fetch does not wait for the last probe.

use std::collections::VecDeque;
use std::path::Path;
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

/// Runs `jobs` on `threads` threads, largest first, and returns every result, one per job, in
/// job order. `on_event` is called on the caller's thread. With pools in `ctx`, use
/// [`crate::pools::PoolOptions::threads`] threads.
pub fn run_all(
    jobs: Vec<Job>,
    ctx: Arc<Context>,
    threads: usize,
    cancel: Arc<AtomicBool>,
    on_event: impl FnMut(&Event),
) -> Vec<RepoResult> {
    let mut results: Vec<Option<RepoResult>> = vec![None; jobs.len()];
    run_each(jobs, ctx, threads, cancel, on_event, |i, r| {
        results[i] = Some(r)
    });
    results.into_iter().flatten().collect()
}

/// Runs `jobs` as [`run_all`] does, but hands each result to `on_result` with its job index as
/// it finishes, in the order they finish, and keeps none: the caller decides what to hold.
pub fn run_each(
    jobs: Vec<Job>,
    ctx: Arc<Context>,
    threads: usize,
    cancel: Arc<AtomicBool>,
    mut on_event: impl FnMut(&Event),
    mut on_result: impl FnMut(usize, RepoResult),
) {
    let n = jobs.len();
    let queue = Arc::new(Mutex::new(largest_first(jobs, ctx.cache_root())));
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
    for (i, ev) in rx {
        on_event(&ev);
        if let Event::Finished(r) = ev {
            on_result(i, *r);
        }
    }
    for h in handles {
        let _ = h.join();
    }
}

/// The jobs with their index, the largest clone in `cache_root` first; jobs never fetched
/// keep their order, after the known ones.
fn largest_first(jobs: Vec<Job>, cache_root: &Path) -> VecDeque<(usize, Job)> {
    let mut sized: Vec<(u64, usize, Job)> = jobs
        .into_iter()
        .enumerate()
        .map(|(i, job)| (clone_size(cache_root, &job.url), i, job))
        .collect();
    sized.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    sized.into_iter().map(|(_, i, job)| (i, job)).collect()
}

/// Bytes of pack files in the clone cache of `url`; 0 when there is none.
fn clone_size(cache_root: &Path, url: &str) -> u64 {
    let packs = crate::git::cache_path(cache_root, url).join("objects/pack");
    let Ok(dir) = std::fs::read_dir(packs) else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetscan_core::ids::RepoName;

    #[test]
    fn the_largest_clones_go_first_and_unknown_ones_keep_their_order() {
        let root = tempfile::tempdir().unwrap();
        let job = |name: &str| Job {
            repo: RepoName::parse(&format!("openstack/{name}")).unwrap(),
            url: format!("git://h/openstack/{name}"),
        };
        let jobs: Vec<Job> = ["a", "small", "b", "large", "c"].map(job).into();
        for (name, size) in [("small", 10), ("large", 1000)] {
            let packs = crate::git::cache_path(root.path(), &job(name).url).join("objects/pack");
            std::fs::create_dir_all(&packs).unwrap();
            std::fs::write(packs.join("pack-1.pack"), vec![0; size]).unwrap();
            std::fs::write(packs.join("pack-1.idx"), vec![0; 5000]).unwrap();
        }
        let order: Vec<usize> = largest_first(jobs, root.path())
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(order, [3, 1, 0, 2, 4]);
    }
}
