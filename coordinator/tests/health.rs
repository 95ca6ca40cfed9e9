//! The coordinator as a library function, against a real redis-server: gRPC health answers
//! without the token, everything else needs it.

use std::time::Duration;

use fleetscan_coordinator::client::{self, Target};
use fleetscan_proto::v1;
use fleetscan_tests::redis::RedisServer;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

#[tokio::test]
async fn health_is_open_and_the_api_needs_the_token() {
    let redis = RedisServer::start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = fleetscan_coordinator::Config {
        listen: addr,
        redis: fleetscan_coordinator::queue::RedisArgs { url: redis.url() },
        metrics_listen: None,
        token: Some("s3cret".into()),
        tls_cert: None,
        tls_key: None,
        retry_backoff_ms: 500,
        max_occurrences_per_repo: 1000,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(fleetscan_coordinator::serve(config, listener, async {
        let _ = rx.await;
    }));
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
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}
