//! An embedded scan's results kept on disk until its reports are rendered, as the coordinator
//! keeps a scan's in Redis.
//!
//! Holding every repository's result until the end made the embedded scan's memory grow with
//! the fleet (369 MiB for 10,000 small repositories, 177 MiB for 318 real ones). Instead each
//! result is written to an anonymous temporary file as it arrives; the fleet is built as an
//! outline (`FleetBuilder::outline`: no occurrences) and the render reads each project's full
//! result back when it reaches it, through the same [`Results`] interface the coordinator's
//! Redis reader serves. Both modes therefore render from the same kind of fleet, and the
//! reports are the same bytes.
//!
//! A history scan's result carries every point. Each point is written as a record of its own,
//! apart from the head, so that rendering one point's files reads that point alone
//! ([`Results::each_at`]) rather than every point of every repository once per point.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use fleetscan_core::history::Day;
use fleetscan_core::ids::RepoName;
use fleetscan_core::report::{at_point, Fleet, FleetBuilder, Results};
use fleetscan_core::result::{PointResult, RepoResult};

/// Results by job index, as JSON in one temporary file.
pub struct Spill {
    file: File,
    end: u64,
    /// Where each job's result lies, by job index.
    at: Vec<Option<Stored>>,
    /// Job index of each repository.
    index: HashMap<RepoName, usize>,
    /// The first failure to read a result back; the render then lacks that project, so the
    /// scan fails with it.
    error: Option<io::Error>,
}

impl Spill {
    /// An empty spill for `jobs` results, in a temporary file that the system removes when it
    /// is closed.
    pub fn new(jobs: usize) -> io::Result<Spill> {
        Ok(Spill {
            file: tempfile::tempfile()?,
            end: 0,
            at: vec![None; jobs],
            index: HashMap::new(),
            error: None,
        })
    }

    /// Stores the result of job `i`: its head, then each of its points.
    pub fn put(&mut self, i: usize, mut r: RepoResult) -> io::Result<()> {
        let points = std::mem::take(&mut r.history);
        let head = self.write(&r)?;
        let points = points
            .iter()
            .map(|p| self.write(p))
            .collect::<io::Result<_>>()?;
        self.at[i] = Some(Stored { head, points });
        self.index.insert(r.repo, i);
        Ok(())
    }

    /// Appends `value` as JSON; returns where it lies.
    fn write(&mut self, value: &impl serde::Serialize) -> io::Result<(u64, u64)> {
        let json = serde_json::to_vec(value).map_err(io::Error::other)?;
        self.file.seek(SeekFrom::Start(self.end))?;
        self.file.write_all(&json)?;
        let at = (self.end, json.len() as u64);
        self.end += at.1;
        Ok(at)
    }

    /// Reads back what [`Spill::write`] wrote at `at`.
    fn read<T: serde::de::DeserializeOwned>(&mut self, (at, len): (u64, u64)) -> io::Result<T> {
        let mut buf = vec![0; len as usize];
        self.file.seek(SeekFrom::Start(at))?;
        self.file.read_exact(&mut buf)?;
        serde_json::from_slice(&buf).map_err(io::Error::other)
    }

    /// The head of job `i`'s result, without its points; None when none was stored.
    fn head(&mut self, i: usize) -> io::Result<Option<RepoResult>> {
        match self.at[i].as_ref().map(|s| s.head) {
            Some(at) => self.read(at).map(Some),
            None => Ok(None),
        }
    }

    /// The whole result of job `i`, its points included.
    fn get(&mut self, i: usize) -> io::Result<Option<RepoResult>> {
        let Some(mut r) = self.head(i)? else {
            return Ok(None);
        };
        let points = self.at[i].as_ref().map_or(Vec::new(), |s| s.points.clone());
        r.history = points
            .into_iter()
            .map(|at| self.read(at))
            .collect::<io::Result<_>>()?;
        Ok(Some(r))
    }

    /// Job `i`'s result at its point `p`: the head, and that point alone.
    fn get_at(&mut self, i: usize, p: usize, at: Day) -> io::Result<Option<RepoResult>> {
        let Some(r) = self.head(i)? else {
            return Ok(None);
        };
        let stored = self.at[i].as_ref().and_then(|s| s.points.get(p).copied());
        let point: Option<PointResult> = stored.map(|s| self.read(s)).transpose()?;
        Ok(at_point(&r, point, at))
    }

    /// The outline fleet of every stored result, added in job order, as the coordinator adds
    /// them.
    pub fn outline(&mut self, mut builder: FleetBuilder<'_>) -> io::Result<Fleet> {
        for i in 0..self.at.len() {
            if let Some(r) = self.get(i)? {
                builder.add(r);
            }
        }
        Ok(builder.finish())
    }

    /// The first failure to read a result back while rendering.
    pub fn error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// Calls `f` with what `read` gives for each of `repos`, skipping those it gives
    /// nothing for; a repository never stored, or one that cannot be read back, is the
    /// render's error.
    fn each_with(
        &mut self,
        repos: &[RepoName],
        read: &mut dyn FnMut(&mut Spill, usize) -> io::Result<Option<RepoResult>>,
        f: &mut dyn FnMut(RepoResult) -> Result<(), Infallible>,
    ) -> Result<(), Infallible> {
        for repo in repos {
            let Some(&i) = self.index.get(repo) else {
                self.error
                    .get_or_insert_with(|| io::Error::other(format!("{repo}: no stored result")));
                continue;
            };
            match read(self, i) {
                Ok(Some(r)) => f(r)?,
                Ok(None) => {}
                Err(e) => {
                    self.error.get_or_insert(e);
                }
            }
        }
        Ok(())
    }
}

/// Where one job's result lies in the file.
#[derive(Debug, Clone)]
struct Stored {
    /// The result without its points.
    head: (u64, u64),
    /// Each point of a history scan, in order.
    points: Vec<(u64, u64)>,
}

/// The heads are read without their points, which the renderers of the head do not use; the
/// points one at a time, with [`Results::each_at`].
impl Results<Infallible> for Spill {
    fn each(
        &mut self,
        repos: &[RepoName],
        f: &mut dyn FnMut(RepoResult) -> Result<(), Infallible>,
    ) -> Result<(), Infallible> {
        self.each_with(repos, &mut |s, i| s.head(i), f)
    }

    fn each_at(
        &mut self,
        repos: &[RepoName],
        p: usize,
        at: Day,
        f: &mut dyn FnMut(RepoResult) -> Result<(), Infallible>,
    ) -> Result<(), Infallible> {
        self.each_with(repos, &mut |s, i| s.get_at(i, p, at), f)
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use fleetscan_core::result::{Occurrence, RepoStatus};

    fn result(name: &str, lines: u32) -> RepoResult {
        let mut r = RepoResult::new(RepoName::parse(name).unwrap(), "u".into());
        r.status = RepoStatus::Scanned;
        r.occurrences = (1..=lines)
            .map(|line| Occurrence {
                path: "a.py".into(),
                line,
                text: format!("eventlet.sleep({line})"),
            })
            .collect();
        r
    }

    #[test]
    fn results_come_back_whole_by_repository_in_any_order() {
        let mut s = Spill::new(3).unwrap();
        let (a, b) = (result("openstack/a", 2), result("openstack/b", 5));
        s.put(1, b.clone()).unwrap();
        s.put(0, a.clone()).unwrap();
        let mut got = Vec::new();
        let Ok(()) = s.each(&[b.repo.clone(), a.repo.clone()], &mut |r| {
            got.push(r);
            Ok(())
        });
        assert_eq!(got, vec![b, a]);
        assert!(s.error().is_none());
        // A repository never stored is an error, not a silently missing project.
        let Ok(()) = s.each(&[RepoName::parse("openstack/c").unwrap()], &mut |_| Ok(()));
        let e = s.error().expect("an error");
        assert!(e.to_string().contains("openstack/c"), "{e}");
    }

    #[test]
    fn each_point_is_read_alone_and_a_repository_absent_at_it_is_left_out() {
        let day = |d: &str| -> Day { d.parse().unwrap() };
        let point = |at: &str, commit: Option<&str>, lines: u32| {
            let mut p = PointResult::absent(day(at));
            p.commit = commit.map(String::from);
            p.occurrences = result("openstack/x", lines).occurrences;
            p
        };
        let mut a = result("openstack/a", 3);
        a.history = vec![
            point("2025-01-01", Some("c1"), 1),
            point("2025-04-01", Some("c2"), 2),
        ];
        let mut late = result("openstack/late", 1);
        late.history = vec![
            point("2025-01-01", None, 0),
            point("2025-04-01", Some("d1"), 1),
        ];
        let mut s = Spill::new(2).unwrap();
        s.put(0, a.clone()).unwrap();
        s.put(1, late.clone()).unwrap();
        let repos = [a.repo.clone(), late.repo.clone()];
        let at = |s: &mut Spill, p: usize, d: &str| {
            let mut got = Vec::new();
            let Ok(()) = s.each_at(&repos, p, day(d), &mut |r| {
                got.push((r.repo.to_string(), r.commit.unwrap(), r.occurrences.len()));
                Ok(())
            });
            got
        };
        assert_eq!(
            at(&mut s, 0, "2025-01-01"),
            [("openstack/a".into(), "c1".into(), 1)]
        );
        assert_eq!(
            at(&mut s, 1, "2025-04-01"),
            [
                ("openstack/a".to_string(), "c2".to_string(), 2),
                ("openstack/late".to_string(), "d1".to_string(), 1)
            ]
        );
        // The heads come without their points; the outline is built from the whole results.
        let Ok(()) = s.each(&repos[..1], &mut |r| {
            assert!(r.history.is_empty());
            assert_eq!(r.occurrences, a.occurrences);
            Ok(())
        });
        assert_eq!(s.get(0).unwrap().unwrap(), a);
        assert!(s.error().is_none());
    }
}
