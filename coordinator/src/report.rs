//! Reading a completed scan's results and rendering its reports in bounded memory, on a
//! blocking thread (never on the async runtime that serves the other calls).
//!
//! Results are read from Redis a bounded number of bytes at a time and decoded one by one.
//! Reports are rendered from an outline of the scan (each repository's result and analysis
//! without its occurrences, see `fleetscan_core::report::FleetBuilder::outline`) and each
//! project's full result is read again when the renderers reach it, so a render holds the
//! outline plus one batch of results, whatever the number of occurrences. The files go out in
//! chunks as the client takes them (a bounded channel), so they are never whole in memory
//! either.

use std::collections::BTreeSet;

use fleetscan_core::history::Day;
use fleetscan_core::ids::RepoName;
use fleetscan_core::report::{self, at_point, Format, Results, Sink};
use fleetscan_core::result::{PointResult, RepoResult};
use fleetscan_proto::v1;
use tokio::runtime::Handle;
use tokio::sync::mpsc::Sender;
use tonic::Status;

use crate::service::status_of;
use crate::spec;
use crate::store::{damaged_result, decode_result, ScanRecord, Store};

/// Bytes of stored results read from Redis at once; a result larger than this is read alone.
/// Results are JSON and decode to about as much again.
pub const BATCH_BYTES: u64 = 4 << 20;
/// Repositories whose names, then result sizes, are read at once.
const NAMES: usize = 1000;
/// Bytes per report chunk.
const CHUNK: usize = 1 << 20;

/// Reads the results of one scan from a blocking thread.
pub(crate) struct Reader {
    rt: Handle,
    store: Store,
    id: String,
    /// The number of points of a history scan (0 for a scan of the heads).
    points: usize,
}

/// The stored parts of one repository's result: the result without its points, and the
/// points asked for (None where there is none).
struct Stored {
    repo: String,
    head: String,
    points: Vec<Option<String>>,
}

impl Reader {
    /// A reader of scan `id`'s results, a scan with `points` history points, driving the
    /// store on runtime `rt`.
    pub(crate) fn new(rt: Handle, store: Store, id: &str, points: usize) -> Reader {
        Reader {
            rt,
            store,
            id: id.to_string(),
            points,
        }
    }

    /// Calls `f` with the whole result of each of `repos`, its points included, in that
    /// order, each decoded when its turn comes. At most [`BATCH_BYTES`] of stored results (or
    /// one larger result) are held.
    pub(crate) fn each(
        &self,
        repos: &[String],
        f: &mut dyn FnMut(RepoResult) -> Result<(), Status>,
    ) -> Result<(), Status> {
        let all: Vec<usize> = (0..self.points).collect();
        self.each_stored(repos, &all, &mut |s| {
            let mut r = self.decode(&s.repo, &s.head)?;
            // A result stored by a coordinator that kept the points in it has them already.
            if r.history.is_empty() {
                r.history = (s.points.iter().flatten())
                    .map(|p| self.decode_point(&s.repo, p))
                    .collect::<Result<_, _>>()?;
            }
            f(r)
        })
    }

    /// Calls `f` with the stored parts of each of `repos`, in that order: the result without
    /// its points, and the points `points` (indices). At most [`BATCH_BYTES`] of them (or
    /// one larger result) are held.
    fn each_stored(
        &self,
        repos: &[String],
        points: &[usize],
        f: &mut dyn FnMut(Stored) -> Result<(), Status>,
    ) -> Result<(), Status> {
        let (store, id) = (&self.store, self.id.as_str());
        for names in repos.chunks(NAMES) {
            let mut sizes = self.block(store.result_sizes(id, names))?;
            for &i in points {
                let more = self.block(store.point_sizes(id, i, names))?;
                sizes.iter_mut().zip(more).for_each(|(s, m)| *s += m);
            }
            for range in batches(&sizes, BATCH_BYTES) {
                let batch = &names[range];
                let heads = self.block(store.results(id, batch))?;
                let mut got = Vec::new();
                for &i in points {
                    got.push(self.block(store.points(id, i, batch))?);
                }
                for (j, (repo, head)) in heads.into_iter().enumerate() {
                    let points = got.iter_mut().map(|p: &mut Vec<_>| p[j].take()).collect();
                    f(Stored { repo, head, points })?;
                }
            }
        }
        Ok(())
    }

    /// Runs a store query to its end.
    fn block<T>(
        &self,
        q: impl std::future::Future<Output = Result<T, crate::queue::QueueError>>,
    ) -> Result<T, Status> {
        self.rt.block_on(q).map_err(status_of)
    }

    fn decode(&self, repo: &str, json: &str) -> Result<RepoResult, Status> {
        decode_result(&self.id, repo, json).map_err(status_of)
    }

    fn decode_point(&self, repo: &str, json: &str) -> Result<PointResult, Status> {
        serde_json::from_str(json).map_err(|e| status_of(damaged_result(&self.id, repo, e)))
    }

    /// Calls `f` with every result of a scan of `total` jobs, in job order, which is
    /// repository order.
    pub(crate) fn all(
        &self,
        total: u32,
        f: &mut dyn FnMut(RepoResult) -> Result<(), Status>,
    ) -> Result<(), Status> {
        for start in (0..total).step_by(NAMES) {
            let end = (start + NAMES as u32).min(total);
            let repos = self.block(self.store.repos(&self.id, start..end))?;
            self.each(&repos, f)?;
        }
        Ok(())
    }
}

/// What the renderers read: the heads without their points, which only the outline needs
/// (it is built from whole results, [`Reader::all`]), and each point alone: the points are
/// stored as fields of their own (`lua/commit.lua`), so a point's files read that point.
impl Results<Status> for Reader {
    fn each(
        &mut self,
        repos: &[RepoName],
        f: &mut dyn FnMut(RepoResult) -> Result<(), Status>,
    ) -> Result<(), Status> {
        let names: Vec<String> = repos.iter().map(ToString::to_string).collect();
        self.each_stored(&names, &[], &mut |s| {
            let mut r = self.decode(&s.repo, &s.head)?;
            r.history = Vec::new();
            f(r)
        })
    }

    fn each_at(
        &mut self,
        repos: &[RepoName],
        i: usize,
        at: Day,
        f: &mut dyn FnMut(RepoResult) -> Result<(), Status>,
    ) -> Result<(), Status> {
        let names: Vec<String> = repos.iter().map(ToString::to_string).collect();
        self.each_stored(&names, &[i], &mut |mut s| {
            let mut head = self.decode(&s.repo, &s.head)?;
            // From a coordinator that kept the points in the result, else stored apart.
            let point = match std::mem::take(&mut head.history).into_iter().nth(i) {
                Some(p) => Some(p),
                None => (s.points[0].take())
                    .map(|p| self.decode_point(&s.repo, &p))
                    .transpose()?,
            };
            match at_point(&head, point, at) {
                Some(r) => f(r),
                None => Ok(()),
            }
        })
    }
}

/// Consecutive ranges of `sizes` of at most `max` bytes each (a larger one alone).
fn batches(sizes: &[u64], max: u64) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, &n) in sizes.iter().enumerate() {
        if i > start && bytes + n > max {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += n;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// Report files as gRPC chunks into a bounded channel: the render waits while the client
/// is slow, and stops when it has gone.
pub(crate) struct Chunks {
    tx: Sender<Result<v1::ReportChunk, Status>>,
    buf: Vec<u8>,
}

impl Chunks {
    pub(crate) fn new(tx: Sender<Result<v1::ReportChunk, Status>>) -> Chunks {
        Chunks {
            tx,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&self, name: &str, data: Vec<u8>, last: bool) -> Result<(), Status> {
        let chunk = v1::ReportChunk {
            name: name.to_string(),
            data,
            last,
        };
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| Status::cancelled("the client stopped reading the report"))
    }
}

impl Sink<Status> for Chunks {
    fn write(&mut self, path: &str, data: &str) -> Result<(), Status> {
        self.buf.extend_from_slice(data.as_bytes());
        while self.buf.len() >= CHUNK {
            let rest = self.buf.split_off(CHUNK);
            let chunk = std::mem::replace(&mut self.buf, rest);
            self.send(path, chunk, false)?;
        }
        Ok(())
    }

    fn end(&mut self, path: &str) -> Result<(), Status> {
        let chunk = std::mem::take(&mut self.buf);
        self.send(path, chunk, true)
    }
}

/// Renders the `formats` of completed scan `rec` (read with its spec) into `sink`.
pub(crate) fn render(
    reader: &mut Reader,
    rec: &ScanRecord,
    formats: &BTreeSet<Format>,
    sink: &mut Chunks,
) -> Result<(), Status> {
    let spec = rec.spec.as_ref().expect("read with its spec");
    let (parts, info) =
        spec::render_parts(spec, rec.created_ms, rec.finished_ms).map_err(Status::internal)?;
    // With a history scan's points, each as an outline of its own.
    let mut outline = parts.builder().outline();
    reader.all(rec.progress.total, &mut |r| {
        outline.add(r);
        Ok(())
    })?;
    let fleet = outline.finish();
    report::render_to(&fleet, &info, formats, reader, sink)
}

#[cfg(test)]
mod tests {
    use super::batches;

    #[test]
    fn batches_hold_at_most_max_bytes_or_one_result() {
        assert!(batches(&[], 10).is_empty());
        assert_eq!(batches(&[3, 3, 3, 3], 10), vec![0..3, 3..4]);
        assert_eq!(batches(&[30, 1, 1, 30], 10), vec![0..1, 1..3, 3..4]);
        assert_eq!(batches(&[0, 0, 0], 10), vec![0..3]);
    }
}
