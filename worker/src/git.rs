//! Fetching with git2 into a bare clone cache.
//!
//! A probe first asks the remote for its default branch and head commit (one round trip, no
//! objects). Only when that commit is not already in the cache is it fetched, shallow (depth 1)
//! and for that one branch, over the probe's connection when the caller kept it ([`connect`],
//! [`fetch_over`]). Nothing from a repository is ever executed: libgit2 runs no hooks,
//! and blobs are read raw from the object database, so no filter or smudge applies.

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use git2::{
    AutotagOption, Direction, FetchOptions, Oid, Remote, RemoteCallbacks, RemoteConnection,
    Repository,
};

use crate::error::{Kind, RepoError};
use crate::net;

/// Time limits for git network work, per scan. The attempt's budget ([`Budget`]) bounds them
/// all.
#[derive(Debug, Clone)]
pub struct GitOptions {
    /// Limit for opening a connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Limit for a server to send nothing at all while it should. Default 60 s.
    pub io_timeout: Duration,
}

impl Default for GitOptions {
    fn default() -> Self {
        GitOptions {
            connect_timeout: Duration::from_secs(u64::from(
                fleetscan_core::plan::DEFAULT_CONNECT_TIMEOUT_SECS,
            )),
            io_timeout: Duration::from_secs(60),
        }
    }
}

/// Sets libgit2's process-wide memory limits, once. Pack windows are capped so that scanning a
/// large repository keeps resident memory bounded; the object cache is left to libgit2's
/// default, which does not cache blobs. Network limits are not set here: they belong to each
/// scan and are applied per call by [`crate::net`].
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| unsafe {
        // SAFETY: called once, before any other libgit2 use in this process.
        let _ = git2::opts::set_mwindow_mapped_limit(64 << 20);
        let _ = git2::opts::set_mwindow_size(16 << 20);
        let _ = git2::opts::set_verify_owner_validation(false);
    });
}

/// A remote's default branch and its head commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Full ref name, e.g. `refs/heads/main`.
    pub refname: String,
    /// Its commit.
    pub oid: Oid,
}

impl Head {
    /// The branch name without `refs/heads/`.
    pub fn branch(&self) -> &str {
        self.refname
            .strip_prefix("refs/heads/")
            .unwrap_or(&self.refname)
    }
}

/// Asks `url` for its default branch. `Ok(None)` means the repository has no branches.
/// The connection is closed afterwards; [`connect`] keeps it for a fetch.
pub fn probe(url: &str, opts: &GitOptions, budget: Budget<'_>) -> Result<Option<Head>, RepoError> {
    let mut remote = Remote::create_detached(url).map_err(|e| RepoError::from_git("url", &e))?;
    let conn = connect(&mut remote, url, opts, budget)?;
    default_head(&conn)
}

/// The remote `url` of the clone cache `repo`, for [`connect`] and [`fetch_over`].
pub fn remote<'r>(repo: &'r Repository, url: &str) -> Result<Remote<'r>, RepoError> {
    repo.remote_anonymous(url)
        .map_err(|e| RepoError::from_git("url", &e))
}

/// Opens a connection to `remote` (whose URL is `url`) and reads the refs it advertises.
/// Kept open, the same connection then serves [`fetch_over`]: a repository that must be
/// fetched costs one connection and one ref advertisement, not two (a round trip or more on a
/// distant server, and one process fewer on it).
pub fn connect<'r, 'c, 'b>(
    remote: &'c mut Remote<'r>,
    url: &str,
    opts: &GitOptions,
    budget: Budget<'b>,
) -> Result<RemoteConnection<'r, 'c, 'b>, RepoError> {
    crate::process::use_url(url);
    let _limits = net::enter(opts, budget, "listing refs");
    remote
        .connect_auth(Direction::Fetch, Some(callbacks(budget)), None)
        .map_err(git_error("connect"))
}

/// The default branch that `conn` advertises. `Ok(None)` means the repository has no
/// branches.
pub fn default_head(conn: &RemoteConnection<'_, '_, '_>) -> Result<Option<Head>, RepoError> {
    // The refs were read when the connection opened: nothing here waits on the network.
    let heads = conn.list().map_err(git_error("list refs"))?;
    if heads.is_empty() {
        return Ok(None);
    }
    let find = |name: &str| heads.iter().find(|h| h.name() == name).map(|h| h.oid());
    // The symref HEAD names the default branch; servers that do not advertise it get the
    // branch whose commit HEAD points at, then main, then master.
    let refname = conn
        .default_branch()
        .ok()
        .and_then(|b| b.as_str().ok().map(str::to_string))
        .or_else(|| {
            let head = find("HEAD")?;
            heads
                .iter()
                .filter(|h| h.name().starts_with("refs/heads/") && h.oid() == head)
                .map(|h| h.name().to_string())
                .min()
        })
        .or_else(|| {
            ["refs/heads/main", "refs/heads/master"]
                .into_iter()
                .find(|n| find(n).is_some())
                .map(str::to_string)
        });
    if let Some(oid) = refname.as_deref().and_then(find) {
        let refname = refname.expect("found");
        return Ok(Some(Head { refname, oid }));
    }
    // HEAD names a branch that does not exist, and there is no main or master to fall back
    // on: not an empty repository, and guessing a branch would scan the wrong code.
    let branches: Vec<&str> = heads
        .iter()
        .filter_map(|h| h.name().strip_prefix("refs/heads/"))
        .collect();
    if branches.is_empty() {
        return Ok(None);
    }
    const SHOWN: usize = 10;
    let more = branches.len().saturating_sub(SHOWN);
    let mut list = branches[..branches.len().min(SHOWN)].join(", ");
    if more > 0 {
        list.push_str(&format!(" and {more} more"));
    }
    Err(RepoError::new(
        Kind::NoDefaultBranch,
        format!(
            "no default branch: the server's HEAD names no existing branch and there is no main or master; its branches: {list}"
        ),
    ))
}

/// The bare cache directory for `url` under `root`. Every URL gets its own directory, so two
/// git bases never mix objects. User information (a password) is left out of the name.
pub fn cache_path(root: &Path, url: &str) -> PathBuf {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = match rest.split_once('/') {
        Some((authority, path)) => match authority.rsplit_once('@') {
            Some((_, host)) => format!("{host}/{path}"),
            None => rest.to_string(),
        },
        None => rest.to_string(),
    };
    let mut p = root.join("git");
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let mut clean: String = part
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if clean.chars().all(|c| c == '.') {
            clean = "_".to_string();
        }
        if i + 1 == parts.len() {
            clean.push_str(".git");
        }
        p.push(clean);
    }
    p
}

/// Makes sure `head` is in the bare cache at `path`, fetching it shallow when it is not.
pub fn fetch(
    path: &Path,
    url: &str,
    head: &Head,
    opts: &GitOptions,
    budget: Budget<'_>,
) -> Result<Repository, RepoError> {
    let repo = open_cache(path)?;
    if repo.find_commit(head.oid).is_ok() {
        return Ok(repo);
    }
    fetch_into(&repo, url, head, 1, opts, budget)?;
    Ok(repo)
}

/// Packs a clone cache may hold before it is fetched again from scratch. Every run that
/// fetches what is new adds a pack, and nothing repacks: each pack costs a lookup for every
/// object read, and in a history walk a delta-base cache of libgit2's own (16 MiB at most).
/// A cache fetched again costs one cold fetch, once every this many runs with something new.
pub const MAX_PACKS: usize = 32;

/// The bare cache at `path`, created when missing or unreadable, and created again when it
/// holds more than [`MAX_PACKS`] packs. The caller holds its lock ([`lock_cache`]).
pub fn open_cache(path: &Path) -> Result<Repository, RepoError> {
    let packs = pack_count(path);
    if packs > MAX_PACKS {
        tracing::info!(path = %path.display(), packs, "clone cache holds too many packs: fetching it again");
        let _ = std::fs::remove_dir_all(path);
    }
    match Repository::open_bare(path) {
        Ok(r) => Ok(r),
        Err(_) => {
            let _ = std::fs::remove_dir_all(path);
            Repository::init_bare(path).map_err(|e| RepoError::from_git("init cache", &e))
        }
    }
}

/// The packs in the bare repository at `path` (none when it has no pack directory).
pub(crate) fn pack_count(path: &Path) -> usize {
    std::fs::read_dir(path.join("objects").join("pack")).map_or(0, |dir| {
        dir.filter_map(Result::ok)
            .filter(|e| e.path().extension() == Some("pack".as_ref()))
            .count()
    })
}

/// Fetches `head`'s branch into `repo`: `depth` commits deep (counted from the head along
/// every parent), or with `depth` 0 everything new since what the cache holds, down to its
/// shallow boundaries. A deeper fetch into a shallow cache moves the boundaries back.
pub fn fetch_into(
    repo: &Repository,
    url: &str,
    head: &Head,
    depth: i32,
    opts: &GitOptions,
    budget: Budget<'_>,
) -> Result<(), RepoError> {
    check_refs(repo)?;
    fetch_with(&mut remote(repo, url)?, head, depth, opts, budget)
}

/// Fetches `head` (depth 1) into `repo`, the clone cache whose remote `conn` is connected,
/// over that connection, unless the cache already holds it. The connection is closed
/// afterwards either way.
pub fn fetch_over(
    repo: &Repository,
    mut conn: RemoteConnection<'_, '_, '_>,
    head: &Head,
    opts: &GitOptions,
    budget: Budget<'_>,
) -> Result<(), RepoError> {
    if repo.find_commit(head.oid).is_ok() {
        return Ok(());
    }
    check_refs(repo)?;
    fetch_with(conn.remote(), head, 1, opts, budget)
}

/// The fetch itself: connects `remote` unless it is connected already.
fn fetch_with(
    remote: &mut Remote<'_>,
    head: &Head,
    depth: i32,
    opts: &GitOptions,
    budget: Budget<'_>,
) -> Result<(), RepoError> {
    let _limits = net::enter(opts, budget, "negotiating");
    let mut fo = FetchOptions::new();
    // No FETCH_HEAD: it would store the URL, password included, in the cache.
    fo.depth(depth)
        .update_fetchhead(false)
        .download_tags(AutotagOption::None)
        .remote_callbacks(callbacks(budget));
    let spec = format!("+{0}:{0}", head.refname);
    remote
        .fetch(&[spec.as_str()], Some(&mut fo), None)
        .map_err(git_error("fetch"))
}

/// Fails when a branch of the cache points to a commit the cache does not hold (its pack was
/// deleted or cut short): libgit2 would offer it to the server as common ground and fail with
/// "object not found", which reads as if the remote repository were missing.
fn check_refs(repo: &Repository) -> Result<(), RepoError> {
    let refs = repo
        .references()
        .map_err(|e| RepoError::damaged_cache("list cached branches", &e))?;
    for r in refs {
        let r = r.map_err(|e| RepoError::damaged_cache("list cached branches", &e))?;
        if let Some(oid) = r.target() {
            repo.find_commit(oid).map_err(|e| {
                let name = r.name().unwrap_or("a branch");
                RepoError::damaged_cache(&format!("{name} at {oid}"), &e)
            })?;
        }
    }
    Ok(())
}

/// Resolves what to scan after a fetch: the probed commit, or the branch tip if the branch
/// moved between probe and fetch.
pub fn scanned_commit(repo: &Repository, head: &Head) -> Result<Oid, RepoError> {
    if repo.find_commit(head.oid).is_ok() {
        return Ok(head.oid);
    }
    repo.refname_to_id(&head.refname)
        .map_err(|e| RepoError::damaged_cache("fetched branch missing from cache", &e))
}

/// Maps a git2 error of `context`, preferring the reason the stream or a callback recorded
/// when they gave up (a timeout or a stop, with its phase) over libgit2's rewording of it.
fn git_error(context: &'static str) -> impl Fn(git2::Error) -> RepoError {
    move |e| net::take_abort().unwrap_or_else(|| RepoError::from_git(context, &e))
}

fn callbacks(budget: Budget<'_>) -> RemoteCallbacks<'_> {
    let mut cb = RemoteCallbacks::new();
    // Returning false aborts the transfer; the stream ([`net`]) enforces the budget while
    // waiting for bytes, these between the bytes that do arrive.
    cb.transfer_progress(move |_| {
        net::set_phase("transferring");
        net::keep_going(budget)
    });
    cb.sideband_progress(move |_| net::keep_going(budget));
    cb
}

/// Holds the clone cache of one repository for this attempt: an exclusive lock on
/// `<path>.lock`, so that processes (or slots) sharing a cache directory never fetch into the
/// same bare repository at once. The lock goes with the process if it dies.
pub fn lock_cache(path: &Path, budget: Budget<'_>) -> Result<std::fs::File, RepoError> {
    let cache_err = |what: &str, e: std::io::Error| {
        RepoError::new(Kind::Cache, format!("{what} {}: {e}", path.display()))
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| cache_err("cannot create", e))?;
    }
    let lock_path = path.with_extension("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| cache_err("cannot open the lock of", e))?;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if !budget.over() => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(budget
                    .ended("waiting for the cache of this repository, held by another process"))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(cache_err("cannot lock the cache", e))
            }
        }
    }
}

/// When an attempt must end: at its deadline, or as soon as `stop` is set (the scan was
/// cancelled, or the worker lost the job's lease).
#[derive(Debug, Clone, Copy)]
pub struct Budget<'a> {
    /// The attempt's time limit.
    pub deadline: Instant,
    /// A stop request.
    pub stop: &'a std::sync::atomic::AtomicBool,
}

impl Budget<'_> {
    /// True once the attempt must end.
    pub fn over(&self) -> bool {
        Instant::now() >= self.deadline || self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Why it ended.
    pub fn reason(&self) -> &'static str {
        if self.stopped() {
            "stopped: the scan was cancelled or the job's lease was lost"
        } else {
            "timed out"
        }
    }

    /// Whether a stop was requested.
    pub fn stopped(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The error that ends the attempt `doing` something (`"while scanning"`), of the kind
    /// that says why: [`Kind::Cancelled`] for a stop, which is never retried in this process,
    /// [`Kind::Timeout`] for the deadline.
    pub fn ended(&self, doing: &str) -> RepoError {
        let kind = if self.stopped() {
            Kind::Cancelled
        } else {
            Kind::Timeout
        };
        RepoError::new(kind, format!("{} {doing}", self.reason()))
    }

    /// Ok while the attempt may go on, else [`Budget::ended`].
    pub fn check(&self, doing: &str) -> Result<(), RepoError> {
        if self.over() {
            return Err(self.ended(doing));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn a_cache_with_too_many_packs_is_made_again() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("r.git");
        let fill = |packs: usize| {
            let _ = std::fs::remove_dir_all(&path);
            Repository::init_bare(&path).unwrap();
            std::fs::write(path.join("marker"), "old").unwrap();
            for i in 0..packs {
                let pack = path.join(format!("objects/pack/pack-{i:040}.pack"));
                std::fs::write(pack, "").unwrap();
            }
        };
        fill(MAX_PACKS);
        open_cache(&path).unwrap();
        assert!(path.join("marker").exists(), "at the limit the cache stays");
        assert_eq!(pack_count(&path), MAX_PACKS);
        fill(MAX_PACKS + 1);
        let repo = open_cache(&path).unwrap();
        assert!(repo.is_bare());
        assert!(
            !path.join("marker").exists(),
            "past it the cache is made again"
        );
        assert_eq!(pack_count(&path), 0);
    }

    #[test]
    fn a_budget_ends_with_the_kind_that_says_why() {
        let (go, stop) = (AtomicBool::new(false), AtomicBool::new(true));
        let later = Instant::now() + Duration::from_secs(60);
        let past = Instant::now() - Duration::from_secs(1);
        let budget = |deadline, stop| Budget { deadline, stop };
        assert!(budget(later, &go).check("while scanning").is_ok());
        let e = budget(later, &stop).check("while scanning").unwrap_err();
        assert_eq!(e.kind, Kind::Cancelled);
        assert!(e.message.starts_with("stopped: "), "{}", e.message);
        assert!(e.message.ends_with(" while scanning"), "{}", e.message);
        let e = budget(past, &go).check("while scanning").unwrap_err();
        assert_eq!(e.kind, Kind::Timeout);
        assert_eq!(e.message, "timed out while scanning");
        // A stop wins over the deadline: the attempt was cancelled, whatever the clock says.
        assert_eq!(budget(past, &stop).ended("x").kind, Kind::Cancelled);
    }

    #[test]
    fn cache_paths_stay_inside_the_root() {
        let root = Path::new("/c");
        assert_eq!(
            cache_path(root, "git://127.0.0.1:9418/openstack/nova"),
            Path::new("/c/git/127.0.0.1_9418/openstack/nova.git")
        );
        assert_eq!(
            cache_path(root, "https://h/../x"),
            Path::new("/c/git/h/_/x.git")
        );
        assert_eq!(
            cache_path(root, "https://bot:s3cret@h/openstack/nova"),
            Path::new("/c/git/h/openstack/nova.git")
        );
        assert_eq!(
            cache_path(root, "https://h/openstack/oslo.config"),
            Path::new("/c/git/h/openstack/oslo.config.git")
        );
    }
}
