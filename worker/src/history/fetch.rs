//! Fetching the history a history scan needs, and no more.
//!
//! A head scan fetches depth 1. A history scan needs the default branch's first-parent chain
//! from the head back past the oldest point. libgit2 can only deepen by a number of commits,
//! so the cache is deepened in rounds, twice as deep each time, until the chain reaches a
//! commit older than the oldest point (or the root). A depth counts generations along every
//! parent, and in a repository of merged changes the second parents reach far back: in
//! neutron, depth 64 reaches two years back along first parents and depth 128 seven, so
//! doubling overshoots by one round at most, where a depth estimated from the number of
//! first-parent commits would fetch nearly the whole history. Each round costs the server a
//! pack and the client an index, so the first depth follows how far back the oldest point is
//! ([`first_depth`]): 64 for a point more than a year back, where starting at 16 took three or
//! four rounds for nova, neutron, cinder and glance and twice the time. A cache that already
//! holds the branch fetches only what is new (depth 0: down to what it has), so later runs
//! transfer only the commits made since.
//!
//! (`deepen-since`, which libgit2 cannot send, was tried by rewriting the request: git's
//! server cuts the first-parent chain early in such repositories, where a change merged late
//! carries an old commit date, and leaves shallow lists that later fetches refuse.)

use std::path::Path;

use git2::{Oid, Repository};

use crate::error::RepoError;
use crate::git::{self, Budget, GitOptions, Head};

/// The smallest depth asked for, in commits: the first fetch of a recent point, and the
/// deepening after a fetch of what is new.
const MIN_DEPTH: i32 = 16;
/// The first depth for a point more than a year back ([`first_depth`]).
const FAR_DEPTH: i32 = 64;
/// Past this depth, the whole history is fetched instead.
const MAX_DEPTH: i32 = 4096;
/// libgit2's `GIT_FETCH_DEPTH_UNSHALLOW`: the whole history.
const UNSHALLOW: i32 = i32::MAX;

/// The first-parent chain of a head, newest first.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Commits and their committer times, from the head down to the first commit before the
    /// cut (included), or to the root.
    pub commits: Vec<(Oid, i64)>,
    /// Why the walk stopped.
    pub end: End,
}

/// Where a first-parent walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// At a commit before the cut: the chain covers every later point.
    Reached,
    /// At the root commit: the repository did not exist before it.
    Root,
    /// At a shallow boundary of the cache: older commits are not fetched yet.
    Shallow,
}

/// Makes sure the cache at `path` holds `head`'s first-parent chain back to the first commit
/// made before `cut` (Unix seconds), or to the root, and returns that chain. The chain starts
/// at the probed commit, or at the branch's tip when the branch moved since the probe.
pub fn fetch_history(
    path: &Path,
    url: &str,
    head: &Head,
    cut: i64,
    opts: &GitOptions,
    budget: Budget<'_>,
) -> Result<(Repository, Chain), RepoError> {
    let repo = git::open_cache(path)?;
    let mut asked = 0;
    let mut fetched = false;
    loop {
        let tip = if repo.find_commit(head.oid).is_ok() {
            Some(head.oid)
        } else if fetched {
            Some(git::scanned_commit(&repo, head)?)
        } else {
            None
        };
        let depth = match tip {
            // Not here yet: only what is new when the cache holds this branch already.
            None if repo.refname_to_id(&head.refname).is_ok() => 0,
            None => first_depth(cut, now_unix()),
            Some(tip) => {
                let chain = first_parents(&repo, tip, cut)?;
                if chain.end != End::Shallow {
                    return Ok((repo, chain));
                }
                deeper(asked)
            }
        };
        tracing::debug!(url = %fleetscan_core::select::redact_url(url), depth, "fetching history");
        git::fetch_into(&repo, url, head, depth, opts, budget)?;
        fetched = true;
        asked = depth;
        if depth == UNSHALLOW {
            let tip = git::scanned_commit(&repo, head)?;
            return first_parents(&repo, tip, cut).map(|chain| (repo, chain));
        }
    }
}

/// The depth of the first fetch of a repository not in the cache yet, for a cut at `cut`
/// seen at `now` (Unix seconds): the farther back, the deeper, so that the usual history of a
/// few years takes one or two rounds. Measured cold over loopback (BENCHMARKS.md, "Fetching
/// the history, cold"), 11 quarterly points from 2024-04: nova 3 rounds and 22.5 s from 16,
/// 1 round and 11.8 s from 64; neutron 4 rounds and 14.1 s, 2 and 10.0 s. A point a few
/// months back keeps the small depth, whose pack is a fraction of the deep one's.
fn first_depth(cut: i64, now: i64) -> i32 {
    let days = (now - cut) / 86_400;
    match days {
        d if d <= 120 => MIN_DEPTH,
        d if d <= 400 => 2 * MIN_DEPTH,
        _ => FAR_DEPTH,
    }
}

/// Now, in Unix seconds.
pub(super) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The depth to ask for after `asked`: twice as deep, and past [`MAX_DEPTH`] the whole
/// history. (`asked` 0 was a fetch of what is new, whose depth is unknown.)
fn deeper(asked: i32) -> i32 {
    match asked {
        0 => MIN_DEPTH,
        d if d >= MAX_DEPTH => UNSHALLOW,
        d => d.saturating_mul(2),
    }
}

/// Walks first parents from `head` until a commit made before `cut` (kept), the root, or a
/// commit whose first parent the cache does not hold.
///
/// A shallow fetch marks as shallow every commit with a parent it did not send, and libgit2
/// then shows that commit without parents; a merge of a change written long ago is one, though
/// its first parent came over. So parents are read from the commit itself, and the walk goes
/// on for as long as the first parent is here.
pub fn first_parents(repo: &Repository, head: Oid, cut: i64) -> Result<Chain, RepoError> {
    let git = |what: &'static str| move |e: git2::Error| RepoError::damaged_cache(what, &e);
    let mut commits = Vec::new();
    let mut id = head;
    loop {
        let c = repo.find_commit(id).map_err(git("read commit"))?;
        let t = c.time().seconds();
        commits.push((id, t));
        let end = if t < cut {
            End::Reached
        } else {
            match first_parent(&c) {
                None => End::Root,
                Some(p) if repo.find_commit(p).is_ok() => {
                    id = p;
                    continue;
                }
                Some(_) => End::Shallow,
            }
        };
        return Ok(Chain { commits, end });
    }
}

/// The first `parent` line of a commit's own header, whatever the shallow file says.
fn first_parent(c: &git2::Commit<'_>) -> Option<Oid> {
    c.raw_header_bytes()
        .split(|&b| b == b'\n')
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(b"parent "))
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| Oid::from_str(h.trim()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deepening_doubles_then_takes_everything() {
        assert_eq!(deeper(0), MIN_DEPTH);
        assert_eq!(deeper(MIN_DEPTH), 2 * MIN_DEPTH);
        assert_eq!(deeper(MAX_DEPTH), UNSHALLOW);
    }

    #[test]
    fn the_first_depth_grows_with_how_far_back_the_oldest_point_is() {
        let now = 1_800_000_000;
        let back = |days: i64| first_depth(now - days * 86_400, now);
        assert_eq!((back(0), back(30), back(120)), (16, 16, 16));
        assert_eq!((back(121), back(365)), (32, 32));
        assert_eq!((back(401), back(900), back(5000)), (64, 64, 64));
        // A cut in the future (a clock set wrong) is the nearest case, not an error.
        assert_eq!(first_depth(now + 86_400, now), 16);
    }
}
