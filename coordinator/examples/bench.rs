//! Measures the queue and the result ingestion against a real Redis; prints a Markdown table.
//!
//!   cargo run --release -p fleetscan-coordinator --example bench -- REDIS_URL [JOBS] [OCC]
//!
//! 1. queue: JOBS no-op jobs submitted as one scan (enqueue), then leased and committed with
//!    an empty result by 8 concurrent clients (lease + ack), through the production scripts;
//! 2. ingestion: a coordinator served in this process on loopback; 8 concurrent streams of
//!    `ReportResults` carry OCC occurrences in total into Redis, committed per job.
//!
//! The Redis database given is flushed first: point it at a scratch server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetscan_coordinator::queue::{self, Outcome, Queue};
use fleetscan_coordinator::spec;
use fleetscan_coordinator::store::Store;
use fleetscan_core::ids::RepoName;
use fleetscan_core::plan::Plan;
use fleetscan_core::result::{Occurrence, RepoResult, RepoStatus};
use fleetscan_core::select::Target as RepoTarget;
use fleetscan_proto::client::{self, Target};
use fleetscan_proto::v1::{self, result_part::Part};

const CLIENTS: usize = 16;

fn plan(n: usize) -> (v1::ScanSpec, Plan) {
    let spec = v1::ScanSpec {
        patterns: vec!["eventlet".into()],
        repos: vec!["openstack/x".into()],
        git_base: "git://127.0.0.1:1/".into(),
        ..Default::default()
    };
    let mut plan = spec::plan(&spec).expect("spec");
    plan.targets = (0..n)
        .map(|i| {
            let repo = RepoName::parse(&format!("bench/r{i:07}")).unwrap();
            RepoTarget {
                url: format!("git://127.0.0.1:1/{repo}"),
                repo,
            }
        })
        .collect();
    (spec, plan)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "redis://127.0.0.1:6379/15".into());
    let jobs: usize = args.get(2).map_or(Ok(50_000), |s| s.parse())?;
    let occ: usize = args.get(3).map_or(Ok(2_000_000), |s| s.parse())?;
    let conn = queue::connect(&url, None).await?;
    let mut c = conn.clone();
    redis::cmd("FLUSHDB").query_async::<()>(&mut c).await?;
    let queue = Queue::new(conn.clone());
    let store = Store::new(conn.clone());

    // 1. Queue.
    let (spec, p) = plan(jobs);
    let t = Instant::now();
    store.create(&spec, &p).await?;
    let enqueue = t.elapsed();
    let empty = serde_json::to_string(&RepoResult {
        status: RepoStatus::Scanned,
        ..RepoResult::new(RepoName::parse("bench/r").unwrap(), String::new())
    })?;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CLIENTS {
        let (queue, empty) = (queue.clone(), empty.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while let Some(l) = queue
                .lease(&format!("w{w}"), Duration::from_secs(60))
                .await
                .expect("lease")
            {
                let o = Outcome {
                    job: &l.job,
                    token: l.token,
                    status: fleetscan_coordinator::state::Ending(
                        fleetscan_core::result::RepoStatus::Scanned,
                    ),
                    retryable: false,
                    error: "",
                    result: &empty,
                    points: &[],
                    occurrences: 0,
                    retry_delay: Duration::ZERO,
                };
                queue.commit(&o).await.expect("commit");
                n += 1;
            }
            n
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await?;
    }
    let lease_ack = t.elapsed();
    assert_eq!(done, jobs, "every job leased and acked once");

    // 2. Ingestion over gRPC.
    redis::cmd("FLUSHDB").query_async::<()>(&mut c).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = fleetscan_coordinator::Config::new(addr, &url);
    tokio::spawn(fleetscan_coordinator::serve(
        config,
        listener,
        std::future::pending(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ingest_jobs = 200usize;
    let per_job = occ / ingest_jobs;
    let (spec, p) = plan(ingest_jobs);
    store.create(&spec, &p).await?;
    let occurrences: Arc<Vec<v1::Occurrence>> = Arc::new(
        (0..per_job)
            .map(|i| {
                v1::Occurrence::from(&Occurrence {
                    path: format!("nova/compute/module_{:03}.py", i % 700),
                    line: (i % 5000) as u32 + 1,
                    text: "from eventlet import greenthread  # a typical line of source".into(),
                })
            })
            .collect(),
    );
    let url = format!("http://{addr}");
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CLIENTS {
        let (queue, occurrences, url) = (queue.clone(), occurrences.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = client::workers(&Target {
                url: &url,
                token: None,
                tls_ca: None,
                timeout: None,
            })
            .expect("client");
            while let Some(l) = queue
                .lease(&format!("w{w}"), Duration::from_secs(60))
                .await
                .expect("lease")
            {
                let (tx, rx) = tokio::sync::mpsc::channel(4);
                let occ = occurrences.clone();
                let job = l.job.clone();
                tokio::spawn(async move {
                    let part = |p| v1::ResultPart { part: Some(p) };
                    let header = v1::JobHeader {
                        protocol_version: fleetscan_proto::PROTOCOL_VERSION,
                        lease: Some(v1::Lease {
                            job_id: job,
                            token: l.token,
                        }),
                        worker_id: "bench".into(),
                    };
                    tx.send(part(Part::Header(header))).await.ok();
                    for chunk in occ.chunks(2000) {
                        tx.send(part(Part::Batch(v1::OccurrenceBatch {
                            occurrences: chunk.to_vec(),
                        })))
                        .await
                        .ok();
                    }
                    let outcome = v1::Outcome {
                        status: v1::RepoStatus::Scanned as i32,
                        occurrences: occ.len() as u64,
                        commit: "0".repeat(40),
                        ..Default::default()
                    };
                    tx.send(part(Part::Outcome(outcome))).await.ok();
                });
                let r = client
                    .report_results(tokio_stream::wrappers::ReceiverStream::new(rx))
                    .await
                    .expect("ingest");
                assert_eq!(r.into_inner().commit, v1::Commit::Stored as i32);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let ingest = t.elapsed();
    let total = per_job * ingest_jobs;
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!("| measurement | count | seconds | rate |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| enqueue (one scan, one transaction) | {jobs} jobs | {:.3} | {:.0} jobs/s |",
        enqueue.as_secs_f64(),
        rate(jobs, enqueue)
    );
    println!(
        "| lease + ack, {CLIENTS} clients | {jobs} jobs | {:.3} | {:.0} jobs/s |",
        lease_ack.as_secs_f64(),
        rate(jobs, lease_ack)
    );
    println!(
        "| enqueue + lease + ack | {jobs} jobs | {:.3} | {:.0} jobs/s |",
        (enqueue + lease_ack).as_secs_f64(),
        rate(jobs, enqueue + lease_ack)
    );
    println!("| ingestion over gRPC into Redis, {CLIENTS} streams | {total} occurrences in {ingest_jobs} jobs | {:.3} | {:.0} occurrences/s |", ingest.as_secs_f64(), rate(total, ingest));
    Ok(())
}
