//! The coordinator as a library function, against a real redis-server: gRPC health answers
//! without a token while everything else needs the token of its role, TLS with a private CA,
//! leasing through the Workers service, and the retention of finished scans.

use std::time::Duration;

use fleetscan_proto::client::{self, Target};
use fleetscan_proto::v1;
use fleetscan_tests::redis::RedisServer;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// Serves a coordinator over `redis` on a free port, with the command line's defaults changed
/// by `tweak`, until `shutdown`.
async fn start(
    redis: &RedisServer,
    tweak: impl FnOnce(&mut fleetscan_coordinator::Config),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = fleetscan_coordinator::Config::new(addr, &redis.url());
    tweak(&mut config);
    (
        addr,
        tokio::spawn(fleetscan_coordinator::serve(config, listener, shutdown)),
    )
}

/// A coordinator with the defaults over `redis`, without tokens or TLS, serving until the
/// test ends; its URL.
async fn start_plain(redis: &RedisServer) -> String {
    let (addr, _server) = start(redis, |_| {}, std::future::pending()).await;
    format!("http://{addr}")
}

/// How to reach a coordinator of [`start_plain`].
fn plain(url: &str) -> Target<'_> {
    Target {
        url,
        token: None,
        tls_ca: None,
        timeout: None,
    }
}

#[tokio::test]
async fn health_is_open_and_the_api_needs_the_token() {
    let redis = RedisServer::start_with_password(Some("r3dis"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr, server) = start(
        &redis,
        |config| {
            config.redis_password = Some("r3dis".into());
            config.tokens = fleetscan_coordinator::auth::RoleTokens {
                client: Some("s3cret".into()),
                worker: Some("w0rker".into()),
            };
            config.max_occurrences_per_repo = 1000;
        },
        async {
            let _ = rx.await;
        },
    )
    .await;
    let url = format!("http://{addr}");
    let channel = tonic::transport::Endpoint::from_shared(url.clone())
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect_lazy();
    let mut health = HealthClient::new(channel);
    for service in ["", "fleetscan.v1.Coordinator"] {
        let mut status = None;
        for _ in 0..50 {
            match health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
            {
                Ok(r) => {
                    status = Some(r.into_inner().status);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        assert_eq!(status, Some(ServingStatus::Serving as i32), "{service:?}");
    }
    let target = |token| Target {
        url: &url,
        token,
        tls_ca: None,
        timeout: None,
    };
    let list = v1::ListScansRequest { limit: 1 };
    for token in [None, Some("wrong")] {
        let mut c = client::coordinator(&target(token)).unwrap();
        let e = c.list_scans(list).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated, "{token:?}");
    }
    let mut c = client::coordinator(&target(Some("s3cret"))).unwrap();
    assert!(c
        .list_scans(list)
        .await
        .unwrap()
        .into_inner()
        .scans
        .is_empty());
    let e = c
        .submit_scan(v1::SubmitScanRequest {
            spec: Some(v1::ScanSpec::default()),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("no pattern"), "{}", e.message());

    // Credentials by role: the client token cannot report results (nor lease), and the worker
    // token cannot submit a scan (nor read one).
    let mut as_client = client::workers(&target(Some("s3cret"))).unwrap();
    let header = v1::ResultPart {
        part: Some(v1::result_part::Part::Header(v1::JobHeader {
            protocol_version: fleetscan_proto::PROTOCOL_VERSION,
            lease: Some(v1::Lease {
                job_id: "x:0".into(),
                token: 1,
            }),
            worker_id: "w".into(),
        })),
    };
    let e = as_client
        .report_results(tokio_stream::iter(vec![header]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{}", e.message());
    assert!(e.message().contains("worker token"), "{}", e.message());
    let lease = lease_request(0);
    let e = as_client.lease(lease.clone()).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    let mut as_worker = client::coordinator(&target(Some("w0rker"))).unwrap();
    let e = as_worker
        .submit_scan(v1::SubmitScanRequest {
            spec: Some(v1::ScanSpec {
                patterns: vec!["eventlet".into()],
                repos: vec!["openstack/nova".into()],
                git_base: "git://127.0.0.1:1/".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{}", e.message());
    assert!(e.message().contains("client token"), "{}", e.message());
    let e = as_worker.list_scans(list).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    let mut w = client::workers(&target(Some("w0rker"))).unwrap();
    let nothing = w.lease(lease).await.unwrap().into_inner();
    assert!(
        nothing.job.is_none(),
        "the worker token leases (nothing queued)"
    );
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}

/// Submits `spec`, retrying while the freshly started coordinator does not answer yet.
async fn submit(c: &mut client::Coordinator, spec: &v1::ScanSpec) -> String {
    loop {
        let req = v1::SubmitScanRequest {
            spec: Some(spec.clone()),
        };
        match c.submit_scan(req).await {
            Ok(r) => break r.into_inner().scan_id,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A Lease call of worker `w` that waits up to `wait_ms` for a job.
fn lease_request(wait_ms: u32) -> v1::LeaseRequest {
    v1::LeaseRequest {
        protocol_version: fleetscan_proto::PROTOCOL_VERSION,
        worker_id: "w".into(),
        lease_secs: 60,
        wait_ms,
    }
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA and a certificate for localhost / 127.0.0.1 signed by it.
fn certificates(dir: &std::path::Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=fleetscan test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
    );
}

#[tokio::test]
async fn grpc_over_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let redis = RedisServer::start();
    let (addr, _server) = start(
        &redis,
        |config| {
            config.tls = Some((dir.path().join("server.pem"), dir.path().join("server.key")));
        },
        std::future::pending(),
    )
    .await;
    let url = format!("https://localhost:{}", addr.port());
    let ca = dir.path().join("ca.pem");
    let trusted = Target {
        url: &url,
        token: None,
        tls_ca: Some(&ca),
        timeout: None,
    };
    let mut c = client::coordinator(&trusted).unwrap();
    let mut ok = false;
    for _ in 0..50 {
        if c.list_scans(v1::ListScansRequest { limit: 1 })
            .await
            .is_ok()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "a client trusting the CA talks TLS to the coordinator");
    // Without the CA (public roots only) the certificate is refused.
    let public = Target {
        url: &url,
        token: None,
        tls_ca: None,
        timeout: None,
    };
    let mut c = client::coordinator(&public).unwrap();
    assert!(c
        .list_scans(v1::ListScansRequest { limit: 1 })
        .await
        .is_err());
    // Plain HTTP to a TLS port fails too.
    let plain = format!("http://127.0.0.1:{}", addr.port());
    let mut c = client::coordinator(&Target {
        url: &plain,
        token: None,
        tls_ca: None,
        timeout: None,
    })
    .unwrap();
    assert!(c
        .list_scans(v1::ListScansRequest { limit: 1 })
        .await
        .is_err());
}

#[tokio::test]
async fn finished_scans_past_their_retention_are_deleted_running_ones_kept() {
    let redis = RedisServer::start();
    let (addr, _server) = start(
        &redis,
        |config| {
            config.retention = Duration::ZERO;
        },
        std::future::pending(),
    )
    .await;
    let url = format!("http://{addr}");
    let mut c = client::coordinator(&Target {
        url: &url,
        token: None,
        tls_ca: None,
        timeout: None,
    })
    .unwrap();
    let spec = v1::ScanSpec {
        patterns: vec!["eventlet".into()],
        repos: vec!["openstack/a".into(), "openstack/b".into()],
        git_base: "git://127.0.0.1:1/".into(),
        ..Default::default()
    };
    let cancelled = submit(&mut c, &spec).await;
    let running = submit(&mut c, &spec).await;
    let mut c = client::coordinator(&Target {
        url: &url,
        token: None,
        tls_ca: None,
        timeout: None,
    })
    .unwrap();
    c.cancel_scan(v1::CancelScanRequest {
        scan_id: cancelled.clone(),
    })
    .await
    .unwrap();
    let get = |id: &str| v1::GetScanRequest {
        scan_id: id.into(),
        repos: true,
        spec: false,
    };
    // The sweep runs in the coordinator every minute; run it here too, so the test does not
    // depend on where that minute falls.
    let conn = fleetscan_coordinator::queue::connect(&redis.url(), None)
        .await
        .unwrap();
    fleetscan_coordinator::store::Store::new(conn)
        .delete_finished_before(Duration::ZERO)
        .await
        .unwrap();
    let e = c.get_scan(get(&cancelled)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let kept = c.get_scan(get(&running)).await.unwrap().into_inner();
    assert_eq!(kept.repos.len(), 2, "a running scan keeps its jobs");
    let listed = c
        .list_scans(v1::ListScansRequest { limit: 10 })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = listed.scans.iter().map(|s| s.scan_id.as_str()).collect();
    assert_eq!(ids, [running.as_str()]);
}

#[tokio::test]
async fn results_over_the_limits_fail_the_repository_with_the_reason() {
    let redis = RedisServer::start();
    let (addr, _server) = start(
        &redis,
        |config| {
            config.max_occurrences_per_repo = 10;
        },
        std::future::pending(),
    )
    .await;
    let url = format!("http://{addr}");
    let target = Target {
        url: &url,
        token: None,
        tls_ca: None,
        timeout: None,
    };
    let mut c = client::coordinator(&target).unwrap();
    let spec = v1::ScanSpec {
        patterns: vec!["eventlet".into()],
        repos: vec!["openstack/noisy".into()],
        git_base: "git://127.0.0.1:1/".into(),
        ..Default::default()
    };
    let id = submit(&mut c, &spec).await;
    let mut w = client::workers(&target).unwrap();
    let job = w
        .lease(lease_request(0))
        .await
        .unwrap()
        .into_inner()
        .job
        .expect("the queued job");
    let lease = job.lease.unwrap();
    let occurrence = v1::Occurrence {
        path: "a.py".into(),
        line: 1,
        text: "import eventlet".into(),
    };
    let part = |p| v1::ResultPart { part: Some(p) };
    let parts = vec![
        part(v1::result_part::Part::Header(v1::JobHeader {
            protocol_version: fleetscan_proto::PROTOCOL_VERSION,
            lease: Some(v1::Lease {
                job_id: lease.job_id.clone(),
                token: lease.token,
            }),
            worker_id: "w".into(),
        })),
        part(v1::result_part::Part::Batch(v1::OccurrenceBatch {
            occurrences: vec![occurrence; 11],
        })),
        part(v1::result_part::Part::Outcome(v1::Outcome {
            status: v1::RepoStatus::Scanned as i32,
            occurrences: 11,
            ..Default::default()
        })),
    ];
    let r = w
        .report_results(tokio_stream::iter(parts))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.commit, v1::Commit::Stored as i32);
    let status = c
        .get_scan(v1::GetScanRequest {
            scan_id: id,
            repos: true,
            spec: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.state, v1::ScanState::Completed as i32);
    let repo = &status.repos[0];
    assert_eq!(repo.state, v1::JobState::Dead as i32);
    assert!(
        repo.error.contains("more than 10 occurrences"),
        "{}",
        repo.error
    );
}

/// Workers lease through the coordinator, never from Redis: a call waiting for a job gets the
/// one submitted while it waits, the job carries the scan's spec, and a released job is
/// leased again.
#[tokio::test]
async fn lease_waits_for_a_job_and_release_hands_it_back() {
    let redis = RedisServer::start();
    let url = start_plain(&redis).await;
    let target = plain(&url);
    let mut w = client::workers(&target).unwrap();
    let empty = loop {
        match w.lease(lease_request(0)).await {
            Ok(r) => break r.into_inner(),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert!(empty.job.is_none(), "nothing is queued yet");
    let mut waiting = w.clone();
    let waiter = tokio::spawn(async move { waiting.lease(lease_request(20_000)).await });
    let mut c = client::coordinator(&target).unwrap();
    c.submit_scan(v1::SubmitScanRequest {
        spec: Some(v1::ScanSpec {
            patterns: vec!["eventlet".into()],
            ignore_comments: true,
            repos: vec!["openstack/nova".into()],
            git_base: "git://127.0.0.1:1/".into(),
            ..Default::default()
        }),
    })
    .await
    .unwrap();
    let job = waiter.await.unwrap().unwrap().into_inner().job;
    let job = job.expect("the waiting call gets the submitted job");
    assert_eq!(job.repo, "openstack/nova");
    let spec = fleetscan_core::plan::JobSpec::try_from(job.spec.unwrap()).unwrap();
    assert_eq!(spec.options.matching.patterns, ["eventlet"]);
    assert!(spec.options.matching.ignore_comments);
    assert_eq!(
        spec.timeout_secs,
        fleetscan_core::plan::DEFAULT_TIMEOUT_SECS
    );
    let lease = job.lease.unwrap();
    let released = w
        .release(v1::ReleaseRequest {
            worker_id: "w".into(),
            leases: vec![lease.clone(), lease.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .released;
    assert_eq!(
        released,
        [true, false],
        "released once; then no longer held"
    );
    let again = w
        .lease(lease_request(0))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(again.lease.unwrap().job_id, lease.job_id);
    let e = w
        .lease(v1::LeaseRequest {
            protocol_version: 1,
            ..lease_request(0)
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
}

/// Submits a scan of `repos` (given in reverse, so the plan sorts them) and reports for each
/// `per_repo` occurrences of `text(repo, i)` through the Workers service. Returns its id.
async fn scan_with_results(
    target: &Target<'_>,
    repos: &[String],
    per_repo: u32,
    text: impl Fn(&str, u32) -> String,
) -> String {
    let mut c = client::coordinator(target).unwrap();
    let spec = v1::ScanSpec {
        patterns: vec!["eventlet".into()],
        repos: repos.iter().rev().cloned().collect(),
        git_base: "git://127.0.0.1:1/".into(),
        ..Default::default()
    };
    let id = submit(&mut c, &spec).await;
    let mut w = client::workers(target).unwrap();
    let part = |p| v1::ResultPart { part: Some(p) };
    for _ in 0..repos.len() {
        let job = w
            .lease(lease_request(0))
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        let occurrences: Vec<v1::Occurrence> = (1..=per_repo)
            .map(|line| v1::Occurrence {
                path: format!("pkg/m{}.py", line % 7),
                line,
                text: text(&job.repo, line),
            })
            .collect();
        let mut parts = vec![part(v1::result_part::Part::Header(v1::JobHeader {
            protocol_version: fleetscan_proto::PROTOCOL_VERSION,
            lease: job.lease,
            worker_id: "w".into(),
        }))];
        for batch in occurrences.chunks(1000) {
            parts.push(part(v1::result_part::Part::Batch(v1::OccurrenceBatch {
                occurrences: batch.to_vec(),
            })));
        }
        parts.push(part(v1::result_part::Part::Outcome(v1::Outcome {
            status: v1::RepoStatus::Scanned as i32,
            branch: "master".into(),
            commit: "c".into(),
            occurrences: u64::from(per_repo),
            ..Default::default()
        })));
        let r = w.report_results(tokio_stream::iter(parts)).await.unwrap();
        assert_eq!(r.into_inner().commit, v1::Commit::Stored as i32);
    }
    id
}

/// Every result of scan `id`, as ExportResults streams them.
async fn export(c: &mut client::Coordinator, id: &str) -> Vec<v1::RepoResult> {
    let mut stream = c
        .export_results(v1::ExportResultsRequest {
            scan_id: id.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut exported = Vec::new();
    while let Some(r) = stream.message().await.unwrap() {
        exported.push(r);
    }
    exported
}

/// The report files of scan `id` in `formats`, checking that the chunks of one file come
/// together, in order, the last one marked.
async fn report(c: &mut client::Coordinator, id: &str, formats: &[&str]) -> Vec<(String, String)> {
    let mut stream = c
        .get_report(v1::GetReportRequest {
            scan_id: id.to_string(),
            formats: formats.iter().map(|f| f.to_string()).collect(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut files: Vec<(String, Vec<u8>, bool)> = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.message().await.unwrap() {
        chunks += 1;
        match files.last_mut() {
            Some((name, data, done)) if !*done => {
                assert_eq!(*name, chunk.name, "a file's chunks come together");
                data.extend(chunk.data);
                *done = chunk.last;
            }
            _ => files.push((chunk.name, chunk.data, chunk.last)),
        }
    }
    assert!(files.iter().all(|f| f.2), "every file ends");
    assert!(chunks >= files.len());
    files
        .into_iter()
        .map(|(n, d, _)| (n, String::from_utf8(d).unwrap()))
        .collect()
}

/// Results leave the coordinator a batch at a time (ExportResults streams them as the client
/// reads): a scan of several batches comes out whole, in repository order, once each, and its
/// report is rendered from all of them.
#[tokio::test]
async fn results_of_a_scan_larger_than_a_slice_are_exported_whole_and_in_order() {
    let redis = RedisServer::start();
    let url = start_plain(&redis).await;
    let target = plain(&url);
    let n = 1100;
    let repos: Vec<String> = (0..n).map(|i| format!("openstack/r{i:04}")).collect();
    let id = scan_with_results(&target, &repos, 1, |repo, _| {
        format!("import eventlet  # {repo}")
    })
    .await;
    let mut c = client::coordinator(&target).unwrap();
    let exported = export(&mut c, &id).await;
    for r in &exported {
        assert_eq!(r.occurrences.len(), 1);
        assert!(r.occurrences[0].text.ends_with(&r.repo), "{r:?}");
    }
    let names: Vec<String> = exported.into_iter().map(|r| r.repo).collect();
    assert_eq!(names, repos, "every result once, in repository order");
    let files = report(&mut c, &id, &["summary"]).await;
    let summary: serde_json::Value = serde_json::from_str(&files[0].1).unwrap();
    assert_eq!(summary["totals"]["repos"], n);
}

/// A scan whose results are larger than what the coordinator reads at once, and whose
/// report files are larger than a chunk: the coordinator renders from an outline and reads
/// each project again as it reaches it, and the files are the very bytes a client renders
/// from the exported results with the whole scan in memory.
#[tokio::test]
async fn a_report_rendered_a_project_at_a_time_equals_the_whole_scan_rendered_at_once() {
    let redis = RedisServer::start();
    let url = start_plain(&redis).await;
    let target = plain(&url);
    // 12 repositories of 800 lines of ~1 KB: about 10 MB of stored results, more than the
    // coordinator reads at once (4 MiB).
    let repos: Vec<String> = (0..12).map(|i| format!("openstack/big{i:02}")).collect();
    let pad = "x".repeat(950);
    let id = scan_with_results(&target, &repos, 800, |repo, i| {
        let api = [
            "eventlet.sleep(0)",
            "import eventlet",
            "eventlet.monkey_patch()",
        ][i as usize % 3];
        format!("{api}  # {repo} {i} {pad}")
    })
    .await;
    let mut c = client::coordinator(&target).unwrap();

    // The client's way: every result in memory, rendered at once.
    let status = c
        .get_scan(v1::GetScanRequest {
            scan_id: id.clone(),
            repos: false,
            spec: true,
        })
        .await
        .unwrap()
        .into_inner();
    let results = export(&mut c, &id)
        .await
        .into_iter()
        .map(|r| {
            let repo = fleetscan_core::ids::RepoName::parse(&r.repo).unwrap();
            let occ = r.occurrences.into_iter().map(Into::into).collect();
            fleetscan_proto::convert::result(repo, r.url, r.outcome.unwrap(), occ, r.attempts)
                .unwrap()
        })
        .collect();
    let (fleet, info) = fleetscan_coordinator::spec::fleet(
        status.spec.as_ref().unwrap(),
        status.created_ms,
        status.finished_ms,
        results,
    )
    .unwrap();
    let whole =
        fleetscan_core::report::render(&fleet, &info, &fleetscan_core::report::Format::defaults());

    let streamed = report(&mut c, &id, &[]).await;
    let names = |f: Vec<&String>| f.into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(streamed.iter().map(|f| &f.0).collect()),
        names(whole.iter().map(|f| &f.path).collect())
    );
    for ((name, got), want) in streamed.iter().zip(&whole) {
        assert!(got == &want.contents, "{name} differs");
    }
    let links = &streamed
        .iter()
        .find(|f| f.0 == "eventlet-usage.txt")
        .unwrap()
        .1;
    assert!(links.len() > 4 << 20, "several chunks: {}", links.len());
    assert_eq!(links.lines().count(), 12 * 800);
}
