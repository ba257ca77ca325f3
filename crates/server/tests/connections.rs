//! Slow and idle clients over real sockets: a client that sends nothing, half a head, half a
//! body or nothing after its answer is closed by the header, idle or request timeout; more idle
//! sockets than the process has descriptors do not stop `/healthz`; a held connection does not
//! stop SIGTERM beyond `--shutdown-timeout`. Every wait is bounded.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use didpool::conn::Limits;
use didpool_store::testing::{Backend, TestDb};
use futures::StreamExt as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{summary, Api, InProcess, Launch, Proc, ADMIN_TOKEN};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long a test waits for a connection to be closed before it calls it held.
const HELD: Duration = Duration::from_secs(20);

fn addr(base: &str) -> SocketAddr {
    base.trim_start_matches("http://")
        .parse()
        .expect("a socket address")
}

/// Reads until the server closes the connection; everything it sent, or `None` if it was still
/// open after `within`.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok().map(|()| got)
}

/// The value of one series in a Prometheus text exposition (`name{labels}` exactly as written).
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(name_and_labels)?
            .strip_prefix(' ')?
            .parse()
            .ok()
    })
}

fn timed_out(which: &str) -> f64 {
    let text = didpool::metrics::handle().render();
    series(
        &text,
        &format!("didpool_http_connections_timed_out_total{{timeout=\"{which}\"}}"),
    )
    .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_idle_client_is_closed_after_its_timeout() {
    let db = TestDb::new(Backend::Sqlite, "slow_clients").await.unwrap();
    let limits = Limits {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        max_connections: 64,
        shutdown_timeout: Duration::from_secs(1),
    };
    let server = InProcess::start_with(db.store.clone(), limits).await;
    let at = addr(&server.base);
    let (headers_before, idle_before) = (timed_out("header"), timed_out("idle"));

    // Silent since the accept.
    let mut silent = TcpStream::connect(at).await.unwrap();
    assert_eq!(
        until_closed(&mut silent, HELD).await,
        Some(vec![]),
        "a silent client was held"
    );

    // Slowloris: a header line every 300 ms, never the end of the head.
    let mut slow = TcpStream::connect(at).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (mut reader, mut writer) = slow.into_split();
    let trickle = tokio::spawn(async move {
        for i in 0..100 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if writer
                .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(HELD, reader.read(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("a slowloris client was still connected after {HELD:?}"));
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "a head that never ended was answered"
    );
    summary(&format!(
        "slowloris (a header line every 300 ms) closed after {:?} (--header-timeout 1s)",
        started.elapsed()
    ));
    trickle.abort();

    // Kept alive after an answer, then nothing.
    let mut idle = TcpStream::connect(at).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let got = until_closed(&mut idle, HELD)
        .await
        .expect("an idle keep-alive connection was held");
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );

    assert!(timed_out("header") >= headers_before + 2.0);
    assert!(timed_out("idle") > idle_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_ends_is_a_408_in_the_shape_of_each_face() {
    let db = TestDb::new(Backend::Sqlite, "slow_bodies").await.unwrap();
    let limits = Limits {
        request_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let server = InProcess::start_with(db.store.clone(), limits).await;
    let api = Api::new(&server.base);
    let acct = api.master("slow-body", 100).await;
    let key = |kind: &'static str| {
        let (api, id) = (api.clone(), acct.id.clone());
        async move {
            let r = api
                .send(
                    Method::POST,
                    &format!("/admin/v1/accounts/{id}/keys"),
                    None,
                    Some(json!({ "kind": kind })),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["key"].as_str().unwrap().to_owned()
        }
    };
    let (agni, diga) = (key("agni").await, key("diga").await);
    let cases: [(String, String, Value); 4] = [
        (
            format!("{}/numbers/purchase-from-inventory", acct.base()),
            format!("X-Auth-ID: {}\r\nX-Auth-Token: {}", acct.id, acct.token),
            json!({"error": "request_timeout", "message": "the request did not complete in time"}),
        ),
        (
            "/api/v1/phone-numbers/buy".into(),
            format!("X-Api-Key: {agni}"),
            json!({"success": false, "message": "the request did not complete in time", "data": null}),
        ),
        (
            "/v1/phone/import".into(),
            format!("Authorization: Bearer {diga}"),
            json!({"status": "error", "error_code": "REQUEST_TIMEOUT", "message": "the request did not complete in time"}),
        ),
        (
            "/admin/v1/accounts".into(),
            format!("Authorization: Bearer {ADMIN_TOKEN}"),
            json!({"error": "request_timeout", "message": "the request did not complete in time"}),
        ),
    ];
    for (path, auth, want) in cases {
        let mut s = TcpStream::connect(addr(&server.base)).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Type: application/json\r\n\
             Content-Length: 1000\r\n\r\n{{\"e164\": "
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let got = until_closed(&mut s, HELD)
            .await
            .unwrap_or_else(|| panic!("{path}: a body that never ended was held"));
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 408"), "{path}: {text}");
        assert!(
            text.to_ascii_lowercase().contains("connection: close"),
            "{text}"
        );
        let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or(""))
            .unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        assert_eq!(body, want, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn healthz_answers_with_more_idle_sockets_than_the_server_has_descriptors() {
    const SOCKETS: usize = 1_100;
    const OPEN_FILES: u64 = 1_024;
    let mine = didpool::conn::raise_descriptor_limit().expect("reading the open-file limit");
    assert!(
        mine >= SOCKETS as u64 + 256,
        "this test needs {} descriptors of its own; the hard limit allows {mine}",
        SOCKETS + 256
    );
    tokio::time::timeout(Duration::from_secs(180), async {
        let db = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/didpool.db", db.path().display());
        let logs = tempfile::tempdir().unwrap();
        let launch = Launch {
            serve_args: &["--header-timeout", "2s"],
            open_files: Some(OPEN_FILES),
            ..Launch::default()
        };
        let server = Proc::launch(&url, logs.path(), "nofile", &launch).await;
        let at = addr(&server.base);

        let connects = (0..SOCKETS).map(|_| async move {
            tokio::time::timeout(Duration::from_secs(30), TcpStream::connect(at))
                .await
                .ok()
                .and_then(Result::ok)
        });
        // A few at a time, so the server's accepts keep up and the listen backlog (1,024)
        // never overflows: an overflowed connect looks open to the client but is not.
        let idle: Vec<TcpStream> = futures::stream::iter(connects)
            .buffer_unordered(16)
            .filter_map(|s| async move { s })
            .collect()
            .await;
        assert_eq!(
            idle.len(),
            SOCKETS,
            "the listen backlog refused connections"
        );

        let started = Instant::now();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .unwrap();
        let health = http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .expect("/healthz did not answer behind the idle sockets");
        assert_eq!(health.status(), StatusCode::OK);
        let waited = started.elapsed();
        // The database still has descriptors: a write goes through.
        let api = Api::new(&server.base);
        api.master("after-the-flood", 1).await;

        // Every idle socket is closed in its turn: at most the cap at once, each after the
        // header timeout.
        let closes = idle
            .into_iter()
            .map(|mut s| async move { until_closed(&mut s, Duration::from_secs(60)).await });
        let held = futures::future::join_all(closes)
            .await
            .into_iter()
            .filter(Option::is_none)
            .count();
        assert_eq!(held, 0, "idle sockets still open after a minute");
        let metrics = http
            .get(format!("{}/metrics", server.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let closed = series(
            &metrics,
            "didpool_http_connections_timed_out_total{timeout=\"header\"}",
        )
        .unwrap_or(0.0);
        assert!(
            closed >= SOCKETS as f64,
            "only {closed} closed by the header timeout:\n{metrics}"
        );
        let log = std::fs::read_to_string(&server.log).unwrap();
        assert!(!log.contains("Too many open files"), "{log}");
        summary(&format!(
            "{SOCKETS} idle sockets on {OPEN_FILES} descriptors: at most {} open at once, all \
             closed by the 2s header timeout; /healthz answered after {waited:?}",
            didpool::conn::max_connections_for(OPEN_FILES)
        ));
    })
    .await
    .expect("the test finished within 3 minutes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_connection_does_not_stop_sigterm_beyond_the_shutdown_timeout() {
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/didpool.db", db.path().display());
    let logs = tempfile::tempdir().unwrap();
    let launch = Launch {
        serve_args: &[
            "--shutdown-timeout",
            "1s",
            "--request-timeout",
            "10m",
            "--header-timeout",
            "10m",
            "--idle-timeout",
            "10m",
        ],
        ..Launch::default()
    };
    let mut server = Proc::launch(&url, logs.path(), "shutdown", &launch).await;
    let at = addr(&server.base);
    // A request in flight whose body never ends, and a connection that sent half a head.
    let mut held = TcpStream::connect(at).await.unwrap();
    held.write_all(
        format!(
            "POST /admin/v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\": "
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut half = TcpStream::connect(at).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    // The request is in: a scrape on another connection counts two open besides itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = reqwest::get(format!("{}/metrics", server.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if series(&text, "didpool_http_connections").unwrap_or(0.0) >= 3.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the held connections never opened:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let started = Instant::now();
    let status = server
        .terminate(Duration::from_secs(30))
        .await
        .expect("didpool was still running 30s after SIGTERM with a held connection");
    assert!(status.success(), "{status}");
    summary(&format!(
        "SIGTERM with a held request: exited after {:?} (--shutdown-timeout 1s)",
        started.elapsed()
    ));
    assert!(until_closed(&mut held, HELD).await.is_some());
    assert!(until_closed(&mut half, HELD).await.is_some());
}
