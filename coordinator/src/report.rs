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

use std::borrow::Cow;
use std::collections::BTreeSet;

use fleetscan_core::history::Day;
use fleetscan_core::ids::RepoName;
use fleetscan_core::report::{self, at_point, Format, Results, Sink};
use fleetscan_core::result::{PointResult, RepoResult};
use fleetscan_proto::v1;
use serde_json::value::RawValue;
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
}

impl Reader {
    /// A reader of scan `id`'s results, driving the store on runtime `rt`.
    pub(crate) fn new(rt: Handle, store: Store, id: &str) -> Reader {
        Reader {
            rt,
            store,
            id: id.to_string(),
        }
    }

    /// Calls `f` with the result of each of `repos`, in that order, each decoded when its
    /// turn comes. At most [`BATCH_BYTES`] of stored results (or one larger result) are held.
    pub(crate) fn each(
        &self,
        repos: &[String],
        f: &mut dyn FnMut(RepoResult) -> Result<(), Status>,
    ) -> Result<(), Status> {
        self.each_stored(repos, &mut |repo, json| {
            f(decode_result(&self.id, repo, json).map_err(status_of)?)
        })
    }

    /// Calls `f` with the stored result (JSON, undecoded) of each of `repos`, in that order.
    /// At most [`BATCH_BYTES`] of stored results (or one larger result) are held.
    fn each_stored(
        &self,
        repos: &[String],
        f: &mut dyn FnMut(&str, &str) -> Result<(), Status>,
    ) -> Result<(), Status> {
        for names in repos.chunks(NAMES) {
            let sizes = self
                .rt
                .block_on(self.store.result_sizes(&self.id, names))
                .map_err(status_of)?;
            for range in batches(&sizes, BATCH_BYTES) {
                let stored = self
                    .rt
                    .block_on(self.store.results(&self.id, &names[range]))
                    .map_err(status_of)?;
                for (repo, json) in stored {
                    f(&repo, &json)?;
                }
            }
        }
        Ok(())
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
            let repos = self
                .rt
                .block_on(self.store.repos(&self.id, start..end))
                .map_err(status_of)?;
            self.each(&repos, f)?;
        }
        Ok(())
    }
}

/// What the renderers read: the heads without their points, which only the outline needs
/// (it is built from whole results, [`Reader::all`]), and each point alone. A stored result
/// holds every point of a history scan; decoding them all for each point's files cost as many
/// whole decodes as there are points.
impl Results<Status> for Reader {
    fn each(
        &mut self,
        repos: &[RepoName],
        f: &mut dyn FnMut(RepoResult) -> Result<(), Status>,
    ) -> Result<(), Status> {
        let names: Vec<String> = repos.iter().map(ToString::to_string).collect();
        self.each_stored(&names, &mut |repo, json| {
            let (head, _) = split_points(json).map_err(|e| damaged(&self.id, repo, e))?;
            f(decode_result(&self.id, repo, &head).map_err(status_of)?)
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
        self.each_stored(&names, &mut |repo, json| {
            let bad = |e: serde_json::Error| damaged(&self.id, repo, e);
            let (head, points) = split_points(json).map_err(bad)?;
            let head = decode_result(&self.id, repo, &head).map_err(status_of)?;
            let point: Option<PointResult> = points
                .get(i)
                .map(|p| serde_json::from_str(p.get()))
                .transpose()
                .map_err(bad)?;
            match at_point(&head, point.as_ref(), at) {
                Some(r) => f(r),
                None => Ok(()),
            }
        })
    }
}

/// A stored result's JSON cut in two: the result without its points (`history` emptied), and
/// each point's JSON, undecoded.
fn split_points(json: &str) -> Result<(Cow<'_, str>, Vec<&RawValue>), serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Points<'a> {
        #[serde(borrow, default)]
        history: Option<&'a RawValue>,
    }
    let Some(raw) = serde_json::from_str::<Points>(json)?.history else {
        return Ok((Cow::Borrowed(json), Vec::new()));
    };
    let points: Vec<&RawValue> = serde_json::from_str(raw.get())?;
    // The raw value borrows from `json`: where it lies there, to cut it out.
    let start = raw.get().as_ptr() as usize - json.as_ptr() as usize;
    let end = start + raw.get().len();
    let head = format!("{}[]{}", &json[..start], &json[end..]);
    Ok((Cow::Owned(head), points))
}

fn damaged(id: &str, repo: &str, e: serde_json::Error) -> Status {
    status_of(damaged_result(id, repo, e))
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
    use super::{batches, split_points};
    use fleetscan_core::ids::RepoName;
    use fleetscan_core::result::{Occurrence, PointResult, RepoResult, RepoStatus};

    #[test]
    fn a_stored_result_splits_into_its_head_and_each_point() {
        let mut r = RepoResult::new(RepoName::parse("openstack/a").unwrap(), "u".into());
        r.status = RepoStatus::Scanned;
        r.occurrences = vec![Occurrence {
            path: "a.py".into(),
            line: 1,
            // What a repository may hold, in the text around the points.
            text: "\"history\": [\"x\"] ]} eventlet".into(),
        }];
        let json = serde_json::to_string(&r).unwrap();
        let (head, points) = split_points(&json).unwrap();
        assert_eq!(head, json, "no points: the JSON as it is");
        assert!(points.is_empty());
        let mut p = PointResult::absent("2025-01-01".parse().unwrap());
        p.commit = Some("c1".into());
        p.occurrences = r.occurrences.clone();
        r.history = vec![
            p.clone(),
            PointResult::absent("2025-04-01".parse().unwrap()),
        ];
        let json = serde_json::to_string(&r).unwrap();
        let (head, points) = split_points(&json).unwrap();
        let head: RepoResult = serde_json::from_str(&head).unwrap();
        assert!(head.history.is_empty());
        assert_eq!(
            RepoResult {
                history: r.history.clone(),
                ..head
            },
            r
        );
        assert_eq!(points.len(), 2);
        assert_eq!(
            serde_json::from_str::<PointResult>(points[0].get()).unwrap(),
            p
        );
        assert!(split_points("{\"history\": [").is_err());
    }

    #[test]
    fn batches_hold_at_most_max_bytes_or_one_result() {
        assert!(batches(&[], 10).is_empty());
        assert_eq!(batches(&[3, 3, 3, 3], 10), vec![0..3, 3..4]);
        assert_eq!(batches(&[30, 1, 1, 30], 10), vec![0..1, 1..3, 3..4]);
        assert_eq!(batches(&[0, 0, 0], 10), vec![0..3]);
    }
}
