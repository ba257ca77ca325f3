//! End to end with real SIP: SIPp plays the caller and, as a UAS, the customer's trunk; Kamailio
//! runs the shipped configuration (`deploy/kamailio/kamailio.cfg`) against a `didpool serve`
//! started here. Calls route by didpool at each INVITE (seeds 002 and 000: off its trunk or
//! released, a number gets 404 at once), the calls Kamailio reports drive the sub-account
//! cool-off (seed 004) and the Vobiz number health. Loopback only, free ports, temporary
//! directories, bounded in time; every child process is killed at the end, also on a panic.
//!
//! Needs `kamailio` (with `kamailio-utils-modules` and `kamailio-json-modules`) and `sipp`
//! (`sip-tester`): without them the test is skipped with a message, and fails under `CI=true`.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, Utc};
use didpool_store::testing::{Backend, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{blr, enc, Acct, Api, Proc};

/// The whole test, both servers' start included.
const DEADLINE: Duration = Duration::from_secs(180);
/// One SIPp call, from its INVITE to its end.
const CALL_TIMEOUT: &str = "20s";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn installed(program: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "command -v {program} || test -x /usr/sbin/{program}"
        ))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The path of `program`: on PATH, or in /usr/sbin (where Debian puts kamailio).
fn program(name: &str) -> String {
    let sbin = format!("/usr/sbin/{name}");
    if Path::new(&sbin).exists() {
        sbin
    } else {
        name.to_owned()
    }
}

/// Whether the SIP tools are here; outside CI their absence skips the test, under CI it fails.
fn sip_tools() -> bool {
    let missing: Vec<_> = ["kamailio", "sipp"]
        .into_iter()
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "the SIP edge test needs {} (apt-get install kamailio kamailio-utils-modules \
         kamailio-json-modules sip-tester)",
        missing.join(" and ")
    );
    assert!(!in_ci(), "{message}; CI must have them");
    eprintln!("skipped: {message}");
    false
}

/// A UDP port free on loopback now (the OS picks it; the test's processes bind it next).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

/// A child process in a process group of its own, killed with its whole group when dropped (a
/// panicking test included): Kamailio forks its workers.
struct Group {
    child: std::process::Child,
    name: &'static str,
    log: PathBuf,
}

impl Group {
    fn spawn(name: &'static str, mut command: std::process::Command, log: PathBuf) -> Group {
        use std::os::unix::process::CommandExt as _;
        let out = std::fs::File::create(&log).expect("a log file");
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("a log file handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Group { child, name, log }
    }

    fn exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // TERM first, so Kamailio's main process stops and reaps its workers; then KILL
        // whatever of the group is left.
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            let _ = std::process::Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        for _ in 0..30 {
            if self.exited() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        signal("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            eprintln!("--- {} ({}), last lines:", self.name, self.log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Waits until Kamailio answers an OPTIONS on `addr` (or panics after a while).
async fn wait_sip(addr: SocketAddr, kamailio: &mut Group) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("a read timeout");
    let local = socket.local_addr().expect("a local address");
    for i in 0..100 {
        assert!(!kamailio.exited(), "kamailio exited at start");
        let options = format!(
            "OPTIONS sip:ping@{addr} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-ping{i}\r\n\
             From: <sip:test@{local}>;tag=t{i}\r\nTo: <sip:ping@{addr}>\r\nCall-ID: ping-{i}@test\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        socket
            .send_to(options.as_bytes(), addr)
            .expect("sending OPTIONS");
        let mut buf = [0u8; 2048];
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            if buf[..n].starts_with(b"SIP/2.0 200") {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("kamailio did not answer OPTIONS on {addr}");
}

struct Edge {
    kamailio: SocketAddr,
    scenarios: PathBuf,
    dir: PathBuf,
}

impl Edge {
    /// One call from SIPp to `e164` through Kamailio, played by `scenario`: true when SIPp
    /// counts it successful (the scenario's every expected message came).
    /// SIPp's messages and errors go to `<dir>/<scenario>_<pid>_{messages,errors}.log`.
    fn call(&self, scenario: &str, e164: &str) -> bool {
        let port = free_udp_port().to_string();
        let out = std::process::Command::new("sipp")
            .arg(self.kamailio.to_string())
            .args(["-sf"])
            .arg(self.scenarios.join(scenario))
            .args([
                "-s",
                e164,
                "-i",
                "127.0.0.1",
                "-p",
                &port,
                "-m",
                "1",
                "-nostdin",
            ])
            .args([
                "-timeout",
                CALL_TIMEOUT,
                "-timeout_error",
                "-recv_timeout",
                "10000",
            ])
            .args(["-trace_err", "-trace_msg"])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("running sipp");
        if !out.status.success() {
            eprintln!(
                "sipp {scenario} to {e164}: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out.status.success()
    }
}

async fn admin_master(api: &Api, name: &str) -> Acct {
    let r = api
        .send(
            Method::POST,
            "/admin/v1/accounts",
            None,
            Some(json!({"name": name, "role": "admin", "balance": 100000, "currency": "INR"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    Acct {
        id: r.body["auth_id"].as_str().unwrap().to_owned(),
        token: r.body["auth_token"].as_str().unwrap().to_owned(),
    }
}

/// The number's `last_call_at`, once Kamailio's report has arrived (it follows the BYE).
async fn last_call_after(api: &Api, e164: &str) -> DateTime<Utc> {
    for _ in 0..100 {
        let n = api.number(e164).await;
        if let Some(t) = n["last_call_at"].as_str() {
            return DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no call on {e164} was reported");
}

async fn health(api: &Api, who: &Acct, e164: &str) -> Value {
    let r = api
        .send(
            Method::GET,
            &format!("/api/v1/account/{}/numbers/{}/health", who.id, enc(e164)),
            Some(who),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn calls_route_by_didpool_and_drive_the_cool_off(backend: Backend) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (url, _db) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}/didpool.db", dir.path().display()),
            None,
        ),
        Backend::Postgres => {
            let Some(db) = TestDb::new(Backend::Postgres, "sip_edge").await else {
                return;
            };
            (db.url.clone(), Some(db))
        }
    };
    let server = Proc::start(&url, dir.path(), "didpool").await;
    let api = Api::new(&server.base);

    // The platform: an admin-role main account with a sub-account, two numbers and a trunk
    // whose inbound destination is the UAS.
    let alice = admin_master(&api, "Edge Co").await;
    let r = api
        .send(
            Method::POST,
            &format!("/admin/v1/accounts/{}/keys", alice.id),
            None,
            Some(json!({"kind": "edge"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let key = r.body["key"].as_str().unwrap().to_owned();
    let bob = api.sub_account(&alice, "Night shift").await;
    let (one, two) = (blr(1), blr(2));
    api.stock(&[one.clone(), two.clone()], 1, 2).await;
    for n in [&one, &two] {
        let r = api.purchase(&alice, n).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let uas_port = free_udp_port();
    let r = api
        .send(
            Method::POST,
            &format!("{}/trunks", alice.base()),
            Some(&alice),
            Some(json!({"name": "PBX", "inbound_destination": format!("127.0.0.1:{uas_port}")})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let trunk = r.body["trunk_id"].as_str().unwrap().to_owned();

    // The trunk (SIPp as UAS) and the edge (Kamailio, the shipped configuration).
    let scenarios = repo().join("deploy/kamailio/sipp");
    let mut uas = std::process::Command::new("sipp");
    uas.arg("-sf")
        .arg(scenarios.join("uas.xml"))
        .args(["-i", "127.0.0.1", "-p", &uas_port.to_string(), "-nostdin"])
        .args(["-timeout", "170s"])
        .current_dir(dir.path());
    let _uas = Group::spawn("sipp uas", uas, dir.path().join("uas.log"));
    let kam_port = free_udp_port();
    let run = dir.path().join("kamailio");
    std::fs::create_dir_all(&run).unwrap();
    let mut kam = std::process::Command::new(program("kamailio"));
    kam.arg("-f")
        .arg(repo().join("deploy/kamailio/kamailio.cfg"))
        .args(["-DD", "-E", "-m", "64", "-M", "8"])
        .args([
            "-A",
            &format!("LISTEN=udp:127.0.0.1:{kam_port}"),
            "-A",
            "CHILDREN=2",
        ])
        .arg("-Y")
        .arg(&run)
        .arg("-w")
        .arg(&run)
        .env("DIDPOOL_URL", &server.base)
        .env("DIDPOOL_EDGE_KEY", &key);
    let mut kamailio = Group::spawn("kamailio", kam, dir.path().join("kamailio.log"));
    let kam_addr: SocketAddr = format!("127.0.0.1:{kam_port}").parse().unwrap();
    wait_sip(kam_addr, &mut kamailio).await;
    let edge = Edge {
        kamailio: kam_addr,
        scenarios,
        dir: dir.path().to_owned(),
    };

    // Assigned to the trunk: the INVITE reaches the UAS and the call completes.
    let assign = |n: String| {
        let api = api.clone();
        let (alice, trunk) = (alice.clone(), trunk.clone());
        async move {
            let r = api.assign_trunk(&alice, &n, &trunk).await;
            assert!(r.status.is_success(), "{}", r.body);
        }
    };
    assign(one.clone()).await;
    assert!(
        edge.call("uac.xml", &one),
        "a call to {one} on its trunk completes"
    );
    let first = last_call_after(&api, &one).await;

    // Seed 002: off its trunk, the next INVITE gets 404 at once.
    let r = api
        .send(
            Method::DELETE,
            &format!("{}/numbers/{}/assign", alice.base(), enc(&one)),
            Some(&alice),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(edge.call("uac_404.xml", &one), "off its trunk: 404");
    assert!(
        !edge.call("uac.xml", &one),
        "off its trunk: no call completes"
    );

    // Back on it, a second call; released (seed 000): 404.
    assign(one.clone()).await;
    assert!(edge.call("uac.xml", &one));
    // Reported after its BYE, maybe within the first call's second: counted by the health.
    let mut h = health(&api, &alice, &one).await;
    for _ in 0..100 {
        if h["summary"]["answered_calls"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        h = health(&api, &alice, &one).await;
    }
    assert_eq!(h["summary"]["answered_calls"], 2, "{h}");
    assert!(last_call_after(&api, &one).await >= first);
    assert_eq!(h["usage_status"], "in_use");
    let r = api.release(&alice, &one).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(edge.call("uac_404.xml", &one), "released: 404");

    // Seed 004: a completed call on a DID the sub-account holds holds it there for 15 days
    // from that call; an admin's force=true takes it back, audited.
    let r = api.assign_sub(&alice, &two, &bob).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assign(two.clone()).await;
    assert!(
        edge.call("uac.xml", &two),
        "a call to the sub-account's {two}"
    );
    let call = last_call_after(&api, &two).await;
    let asked = Utc::now();
    let r = api.unassign_sub(&alice, &two).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["error"], "did_cool_off_in_effect");
    let until = call + chrono::Duration::days(15);
    assert_eq!(
        r.body["cool_off_until"],
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let remaining = r.body["cool_off_remaining_seconds"].as_i64().unwrap();
    let expected = (until - asked).num_seconds();
    assert!(
        (expected - 5..=expected + 1).contains(&remaining),
        "{remaining} s left, counted from the call at {call}"
    );
    let r = api
        .send(
            Method::DELETE,
            &format!(
                "{}/numbers/{}/assign-subaccount?force=true",
                alice.base(),
                enc(&two)
            ),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = api
        .send(
            Method::GET,
            &format!("/admin/v1/numbers/{}/audit", enc(&two)),
            None,
            None,
        )
        .await;
    let audits = r.body["did_assignment_audit"].as_array().unwrap();
    assert_eq!(audits.len(), 1, "{}", r.body);
    assert_eq!(audits[0]["from_account_id"], bob.id.as_str());

    // The health route shows the call made.
    let h = health(&api, &alice, &two).await;
    assert_eq!(h["summary"]["total_calls"], 1, "{h}");
    assert_eq!(h["summary"]["answered_calls"], 1, "{h}");
    assert!(!kamailio.exited(), "kamailio ran throughout");
}

async fn bounded(backend: Backend) {
    if !sip_tools() {
        return;
    }
    tokio::time::timeout(
        DEADLINE,
        calls_route_by_didpool_and_drive_the_cool_off(backend),
    )
    .await
    .unwrap_or_else(|_| panic!("the SIP edge test did not finish within {DEADLINE:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_calls_route_by_didpool_and_drive_the_cool_off() {
    bounded(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_calls_route_by_didpool_and_drive_the_cool_off() {
    if !didpool_store::testing::postgres_configured("sip_edge") {
        return;
    }
    bounded(Backend::Postgres).await;
}
