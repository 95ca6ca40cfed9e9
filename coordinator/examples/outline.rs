//! How much memory the outline of a completed scan takes: what the coordinator holds for the
//! whole of a render (each repository's outcome and analysis without its occurrences).
//!
//!   cargo run --release -p fleetscan-coordinator --example outline -- REDIS_URL SCAN_ID
//!
//! Reads the scan's results from Redis as the coordinator does (job order, decoded one by one)
//! and builds the outline with the coordinator's code, counting with the allocator the bytes
//! still allocated once it is built. Prints one line: repositories, bytes, bytes a repository.
//! Read-only: the scan is left as it was.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fleetscan_coordinator::queue;
use fleetscan_coordinator::spec;
use fleetscan_coordinator::store::{decode_result, Store};
use fleetscan_core::report::FleetBuilder;

/// The system allocator, counting the bytes allocated and not yet freed.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, id] = args.as_slice() else {
        anyhow::bail!("usage: outline REDIS_URL SCAN_ID");
    };
    let store = Store::new(queue::connect(url, None).await?);
    let rec = store
        .get(id, true)
        .await?
        .ok_or_else(|| anyhow::anyhow!("scan {id} is not in Redis"))?;
    let spec = rec.spec.as_ref().expect("read with its spec");
    let (parts, _) =
        spec::render_parts(spec, rec.created_ms, rec.finished_ms).map_err(anyhow::Error::msg)?;
    let total = rec.progress.total;
    let mut outline = FleetBuilder::new(
        &parts.governance,
        parts.links.clone(),
        parts.profile.clone(),
    )
    .outline();
    // What the repositories add, not the builder's own copy of the profile.
    let before = LIVE.load(Ordering::Relaxed);
    for start in (0..total).step_by(1000) {
        let repos = store.repos(id, start..(start + 1000).min(total)).await?;
        for (repo, json) in store.results(id, &repos).await? {
            outline.add(decode_result(id, &repo, &json)?);
        }
    }
    let fleet = outline.finish();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "{} repositories, {bytes} bytes, {} bytes a repository",
        fleet.projects().count(),
        bytes / (total as usize).max(1)
    );
    Ok(())
}
