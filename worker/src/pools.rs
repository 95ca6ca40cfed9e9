//! Two pools for the repositories of a run: network slots for probing and fetching, CPU slots
//! for scanning.
//!
//! With one pool, a thread that probes, fetches and then scans a repository keeps its
//! connection slot idle for the whole scan, and at most `--jobs` connections are ever open:
//! on a link with latency the client waits on round trips while its CPUs have nothing to do,
//! and on loopback the scans wait behind fetches. Here a repository holds a network slot while
//! it is probed and fetched, gives it back, and then waits for a CPU slot to be scanned.
//!
//! - Network slots: about 8 by default. A per-host cap keeps one server from getting every
//!   slot when repositories come from several.
//! - Connections being opened: at most 4 per host at once, counted from taking a network slot
//!   until the probe has its answer. `git daemon` listens with a backlog of 5: when it is slow
//!   to accept (a loaded machine), more simultaneous connection attempts than that are
//!   dropped, and each costs the 1-second SYN retransmission timeout. A warm run, all probes,
//!   used to pay it.
//! - CPU slots: the number of CPUs; scanning is inflating and searching, nothing else.
//! - Between them, the repositories fetched and waiting for a CPU slot. The caller bounds
//!   that queue by the number of threads it runs (see [`PoolOptions::threads`]).
//!
//! Time spent waiting for a slot is not charged to the repository's time budget: a repository
//! that waits behind others in the queue has not been slow. [`Stage`] moves the deadline.
//!
//! The embedded runner shares one [`Pools`] between its threads; a distributed worker shares
//! one between all the scans it serves ([`crate::job::Context::with_pools`]).

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::RepoError;
use crate::git::Budget;

/// Sizes of the two pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Repositories probed or fetched at once. Default 8.
    pub net: usize,
    /// Of those, at most this many from one host. Default 8.
    pub per_host: usize,
    /// Of those, at most this many opening a connection to one host (until the probe is
    /// answered). Default 4, below `git daemon`'s listen backlog of 5.
    pub opening: usize,
    /// Repositories scanned at once. Default: the number of CPUs.
    pub cpu: usize,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            net: 8,
            per_host: 8,
            opening: 4,
            cpu: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

impl PoolOptions {
    /// Sets the network slots.
    pub fn with_net(mut self, n: usize) -> Self {
        self.net = n;
        self
    }

    /// Sets the per-host cap.
    pub fn with_per_host(mut self, n: usize) -> Self {
        self.per_host = n;
        self
    }

    /// Sets the cap on connections being opened per host.
    pub fn with_opening(mut self, n: usize) -> Self {
        self.opening = n;
        self
    }

    /// Sets the CPU slots.
    pub fn with_cpu(mut self, n: usize) -> Self {
        self.cpu = n;
        self
    }

    /// Threads that keep both pools busy: one per network slot and one per CPU slot. A thread
    /// carries one repository from probe to scan, so at most `net` fetched repositories wait
    /// for a CPU slot, and fetching pauses while they do (the bounded queue).
    pub fn threads(&self) -> usize {
        self.net.max(1) + self.cpu.max(1)
    }
}

/// The slots in use.
#[derive(Debug, Default)]
struct InUse {
    net: usize,
    hosts: HashMap<String, usize>,
    opening: HashMap<String, usize>,
    cpu: usize,
}

/// The two pools, shared by every thread that runs jobs.
#[derive(Debug)]
pub struct Pools {
    opts: PoolOptions,
    used: Mutex<InUse>,
    freed: Condvar,
}

impl Pools {
    /// Pools of the given sizes (a size of 0 counts as 1).
    pub fn new(opts: PoolOptions) -> Pools {
        Pools {
            opts,
            used: Mutex::default(),
            freed: Condvar::new(),
        }
    }

    /// The sizes.
    pub fn options(&self) -> &PoolOptions {
        &self.opts
    }

    fn lock(&self) -> MutexGuard<'_, InUse> {
        // The counters stay consistent even if a holder panicked: each change is one statement.
        self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `ready` holds, then applies `take`; gives up when `budget` is stopped.
    /// Returns how long it waited.
    fn acquire(
        &self,
        budget: Budget<'_>,
        ready: impl Fn(&InUse) -> bool,
        take: impl FnOnce(&mut InUse),
    ) -> Result<Duration, RepoError> {
        let mut used = self.lock();
        if ready(&used) {
            take(&mut used);
            return Ok(Duration::ZERO);
        }
        let t0 = Instant::now();
        while !ready(&used) {
            if budget.stopped() {
                return Err(budget.ended("waiting for a slot"));
            }
            // Woken when a slot is freed; the timeout only serves to notice a stop request.
            used = self
                .freed
                .wait_timeout(used, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        take(&mut used);
        Ok(t0.elapsed())
    }

    fn release(&self, f: impl FnOnce(&mut InUse)) {
        f(&mut self.lock());
        self.freed.notify_all();
    }
}

/// The host part of `url` (`host:port`), for the per-host cap. Local paths share one key.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.to_ascii_lowercase()
}

/// Where one repository is: holding a network slot, a CPU slot, or neither. Dropping it frees
/// what it holds. It adds up the time spent waiting, and each step returns the attempt's
/// budget with that time added to its deadline.
#[derive(Debug)]
pub struct Stage<'p> {
    pools: Option<&'p Pools>,
    host: String,
    net: bool,
    opening: bool,
    cpu: bool,
    waited: Duration,
}

impl<'p> Stage<'p> {
    /// A stage that holds nothing; without pools, every step below returns at once.
    pub fn new(pools: Option<&'p Pools>, url: &str) -> Stage<'p> {
        Stage {
            pools,
            host: host_of(url),
            net: false,
            opening: false,
            cpu: false,
            waited: Duration::ZERO,
        }
    }

    /// Gives a CPU slot back and takes a network slot (waiting for one), for probing and
    /// fetching. Returns `attempt` with every wait so far added to its deadline.
    pub fn network<'b>(&mut self, attempt: Budget<'b>) -> Result<Budget<'b>, RepoError> {
        // Never wait for one kind of slot while holding the other: holders of network slots
        // may be waiting for this CPU slot.
        self.release_cpu();
        let Some(pools) = self.pools.filter(|_| !self.net) else {
            return Ok(extend(attempt, self.waited));
        };
        let budget = extend(attempt, self.waited);
        let o = &pools.opts;
        let (net, per_host, opening) = (o.net.max(1), o.per_host.max(1), o.opening.max(1));
        let host = self.host.clone();
        let count = |m: &HashMap<String, usize>| m.get(&host).copied().unwrap_or(0);
        let waited = pools.acquire(
            budget,
            |u| u.net < net && count(&u.hosts) < per_host && count(&u.opening) < opening,
            |u| {
                u.net += 1;
                *u.hosts.entry(host.clone()).or_default() += 1;
                *u.opening.entry(host.clone()).or_default() += 1;
            },
        )?;
        self.net = true;
        self.opening = true;
        self.waited += waited;
        Ok(extend(attempt, self.waited))
    }

    /// Gives the network slot back and takes a CPU slot (waiting for one), for scanning.
    /// Returns `attempt` with every wait so far added to its deadline.
    pub fn scanning<'b>(&mut self, attempt: Budget<'b>) -> Result<Budget<'b>, RepoError> {
        self.release_net();
        let Some(pools) = self.pools.filter(|_| !self.cpu) else {
            return Ok(extend(attempt, self.waited));
        };
        let cpu = pools.opts.cpu.max(1);
        let waited = pools.acquire(attempt, |u| u.cpu < cpu, |u| u.cpu += 1)?;
        self.cpu = true;
        self.waited += waited;
        Ok(extend(attempt, self.waited))
    }

    /// The connection is open and answered (the probe returned, either way): the next
    /// repository for this host may start opening one.
    pub fn opened(&mut self) {
        if let (Some(pools), true) = (self.pools, self.opening) {
            pools.release(|u| decrement(&mut u.opening, &self.host));
            self.opening = false;
        }
    }

    fn release_cpu(&mut self) {
        if let (Some(pools), true) = (self.pools, self.cpu) {
            pools.release(|u| u.cpu -= 1);
            self.cpu = false;
        }
    }

    fn release_net(&mut self) {
        self.opened();
        if let (Some(pools), true) = (self.pools, self.net) {
            pools.release(|u| {
                u.net -= 1;
                decrement(&mut u.hosts, &self.host);
            });
            self.net = false;
        }
    }
}

impl Drop for Stage<'_> {
    fn drop(&mut self) {
        self.release_net();
        self.release_cpu();
    }
}

fn decrement(counts: &mut HashMap<String, usize>, host: &str) {
    if let Some(n) = counts.get_mut(host) {
        *n -= 1;
        if *n == 0 {
            counts.remove(host);
        }
    }
}

fn extend(budget: Budget<'_>, waited: Duration) -> Budget<'_> {
    Budget {
        deadline: budget.deadline + waited,
        stop: budget.stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    fn budget(stop: &AtomicBool) -> Budget<'_> {
        Budget {
            deadline: Instant::now() + Duration::from_secs(60),
            stop,
        }
    }

    #[test]
    fn hosts_are_told_apart_by_host_and_port() {
        assert_eq!(
            host_of("git://127.0.0.1:9418/openstack/nova"),
            "127.0.0.1:9418"
        );
        assert_eq!(
            host_of("https://u:p@OpenDev.org/openstack/nova"),
            "opendev.org"
        );
        assert_eq!(host_of("/srv/git/nova"), "");
    }

    /// Runs `n` threads through `step` at once and returns the most that were inside at once.
    fn peak(pools: Arc<Pools>, urls: Vec<&'static str>, scan: bool) -> usize {
        let (inside, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let handles: Vec<_> = urls
            .into_iter()
            .map(|url| {
                let (pools, inside, most) = (pools.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    let stop = AtomicBool::new(false);
                    let mut stage = Stage::new(Some(&pools), url);
                    let b = budget(&stop);
                    if scan {
                        stage.scanning(b).unwrap();
                    } else {
                        stage.network(b).unwrap();
                    }
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        most.load(Ordering::SeqCst)
    }

    #[test]
    fn slots_cap_what_runs_at_once() {
        let opts = PoolOptions::default()
            .with_net(3)
            .with_per_host(2)
            .with_opening(8)
            .with_cpu(1);
        let pools = Arc::new(Pools::new(opts));
        let one_host = vec!["git://a/x"; 6];
        assert_eq!(peak(pools.clone(), one_host, false), 2, "per-host cap");
        let two_hosts = ["git://a/x", "git://b/x"].repeat(4);
        assert_eq!(peak(pools.clone(), two_hosts, false), 3, "network slots");
        assert_eq!(peak(pools, vec!["git://a/x"; 4], true), 1, "CPU slots");
    }

    /// A warm run is all probes; more connection attempts at once than `git daemon`'s listen
    /// backlog cost 1-second SYN retries, so at most `opening` per host are in flight, while
    /// the slots that already have their answer go on.
    #[test]
    fn connections_being_opened_are_capped_per_host() {
        let pools = Pools::new(PoolOptions::default().with_net(8).with_opening(2));
        let stop = AtomicBool::new(false);
        let mut first = Stage::new(Some(&pools), "git://a/x");
        let mut second = Stage::new(Some(&pools), "git://a/y");
        first.network(budget(&stop)).unwrap();
        second.network(budget(&stop)).unwrap();
        let waits = |url| {
            let stopped = AtomicBool::new(true);
            Stage::new(Some(&pools), url)
                .network(budget(&stopped))
                .is_err()
        };
        assert!(waits("git://a/z"), "a third opening to the same host waits");
        assert!(!waits("git://b/z"), "another host does not");
        first.opened();
        let mut third = Stage::new(Some(&pools), "git://a/z");
        third.network(budget(&stop)).unwrap();
        assert!(waits("git://a/w"), "two opening again");
        second.opened();
        third.opened();
        assert!(
            !waits("git://a/w"),
            "all answered: 3 of 8 slots held, none opening"
        );
    }

    #[test]
    fn scanning_frees_the_network_slot_and_waiting_is_not_charged() {
        let pools = Pools::new(PoolOptions::default().with_net(1).with_cpu(1));
        let stop = AtomicBool::new(false);
        let mut first = Stage::new(Some(&pools), "git://a/x");
        first.network(budget(&stop)).unwrap();
        first.scanning(budget(&stop)).unwrap();
        // The first holds the CPU slot; the second can still fetch, then waits to scan.
        let mut second = Stage::new(Some(&pools), "git://a/y");
        let attempt = budget(&stop);
        assert_eq!(second.network(attempt).unwrap().deadline, attempt.deadline);
        let (started, waiting) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let waiter = s.spawn(move || {
                started.send(()).unwrap();
                second.scanning(attempt).unwrap()
            });
            waiting.recv().unwrap();
            // Long enough for the waiter to be blocked on the slot the first one holds.
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
            let after = waiter.join().unwrap();
            assert!(
                after.deadline > attempt.deadline,
                "the wait moved the deadline"
            );
        });
    }

    #[test]
    fn a_stop_request_ends_the_wait() {
        let pools = Pools::new(PoolOptions::default().with_cpu(1));
        let stop = AtomicBool::new(false);
        let mut holder = Stage::new(Some(&pools), "git://a/x");
        holder.scanning(budget(&stop)).unwrap();
        let stopped = AtomicBool::new(true);
        let err = Stage::new(Some(&pools), "git://a/y")
            .scanning(budget(&stopped))
            .unwrap_err();
        assert!(err.message.contains("stopped"), "{}", err.message);
        // A stop is a cancellation, not a time-out that the retries would try again.
        assert_eq!(err.kind, crate::error::Kind::Cancelled);
    }
}
