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

use std::collections::HashMap;
use std::convert::Infallible;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use fleetscan_core::ids::RepoName;
use fleetscan_core::report::{Fleet, FleetBuilder, Results};
use fleetscan_core::result::RepoResult;

/// Results by job index, as JSON in one temporary file.
pub struct Spill {
    file: File,
    end: u64,
    /// Where each job's result lies, by job index.
    at: Vec<Option<(u64, u64)>>,
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

    /// Stores the result of job `i`.
    pub fn put(&mut self, i: usize, r: &RepoResult) -> io::Result<()> {
        let json = serde_json::to_vec(r).map_err(io::Error::other)?;
        self.file.seek(SeekFrom::Start(self.end))?;
        self.file.write_all(&json)?;
        let len = json.len() as u64;
        self.at[i] = Some((self.end, len));
        self.end += len;
        self.index.insert(r.repo.clone(), i);
        Ok(())
    }

    fn get(&mut self, i: usize) -> io::Result<Option<RepoResult>> {
        let Some((at, len)) = self.at[i] else {
            return Ok(None);
        };
        let mut buf = vec![0; len as usize];
        self.file.seek(SeekFrom::Start(at))?;
        self.file.read_exact(&mut buf)?;
        serde_json::from_slice(&buf)
            .map(Some)
            .map_err(io::Error::other)
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
}

impl Results<Infallible> for Spill {
    fn each(
        &mut self,
        repos: &[RepoName],
        f: &mut dyn FnMut(RepoResult) -> Result<(), Infallible>,
    ) -> Result<(), Infallible> {
        for repo in repos {
            let got = match self.index.get(repo) {
                Some(&i) => self.get(i),
                None => Ok(None),
            };
            match got {
                Ok(Some(r)) => f(r)?,
                Ok(None) => {
                    self.error.get_or_insert_with(|| {
                        io::Error::other(format!("{repo}: no stored result"))
                    });
                }
                Err(e) => {
                    self.error.get_or_insert(e);
                }
            }
        }
        Ok(())
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
        s.put(1, &b).unwrap();
        s.put(0, &a).unwrap();
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
}
