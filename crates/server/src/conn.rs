//! The connection loop: accepts TCP connections up to a cap, serves each with hyper's HTTP/1
//! server, closes the ones that send nothing useful (the header and idle timeouts), bounds the
//! time of each request, and drains the connections on shutdown within a deadline. What a slow or
//! idle client can hold is bounded: a descriptor for at most the header or idle timeout, and at
//! most `max_connections` descriptors in all, so the database always has descriptors to spare.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::app::App;

/// The bounds on what clients may hold; each is a `serve` flag (see the README's "Slow and idle
/// clients").
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long a client has to send a request's head, counted from the connection's accept or
    /// from the first byte of each later request on it.
    pub header_timeout: Duration,
    /// How long a connection may wait with no request in progress and no byte from the client
    /// (kept alive between requests, or silent since its accept) before it is closed.
    pub idle_timeout: Duration,
    /// How long a request may take once its head is in (its body and the answer): past it, a
    /// `408` in the face's shape, and the connection is closed.
    pub request_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// On shutdown, how long the requests in flight may take to finish before their connections
    /// are dropped.
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    /// The defaults of the `serve` flags, with a cap fit for the usual 1,024 descriptors.
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            request_timeout: Duration::from_secs(30),
            max_connections: max_connections_for(1024),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Descriptors kept for everything but client connections: the database (SQLite's files and
/// readers, the PostgreSQL pool), the listener, logs, files an operator command opens.
pub const RESERVED_DESCRIPTORS: u64 = 128;

/// The connection cap for a process allowed `nofile` descriptors: all but the reserved ones.
pub fn max_connections_for(nofile: u64) -> usize {
    usize::try_from(nofile.saturating_sub(RESERVED_DESCRIPTORS).max(16)).unwrap_or(usize::MAX)
}

/// Raises the soft limit on open descriptors to the hard limit, as far as the system allows;
/// returns the soft limit in force afterwards.
pub fn raise_descriptor_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// The deadline of the request in flight, set when its head is in: `crate::app`'s time limit
/// answers a `408` in the face's shape when it passes. Requests served otherwise (in-process
/// tests) carry none.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub tokio::time::Instant);

/// Serves `app` on `listener` under `limits` until `shutdown` completes; then stops accepting,
/// lets the requests in flight finish (closing each connection after its answer) for at most
/// `limits.shutdown_timeout`, and drops the connections still open.
pub async fn serve(
    listener: TcpListener,
    app: App,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Arc::new(limits);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, say: waiting beats spinning; the cap makes it rare.
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (app, limits, stopping) = (app.clone(), limits.clone(), stopping.clone());
        connections.spawn(async move {
            metrics::gauge!("didpool_http_connections").increment(1.0);
            connection(stream, peer, app, &limits, stopping).await;
            metrics::gauge!("didpool_http_connections").decrement(1.0);
            drop(permit);
        });
        // Reap the finished ones, so the set holds only open connections.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop.send(true);
    let open = connections.len();
    if tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            of = open,
            timeout = ?limits.shutdown_timeout,
            "connections still open at the shutdown deadline are dropped"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// What a connection is doing, for its watchdog.
const WAITING_HEAD: u64 = 0;
const IDLE: u64 = 1;
const BUSY: u64 = 2;

/// A connection's progress, shared by its reader, its requests and its watchdog.
struct Progress {
    start: Instant,
    /// `WAITING_HEAD`, `IDLE` or `BUSY`.
    phase: AtomicU64,
    /// When the phase began, in milliseconds since `start`.
    since: AtomicU64,
    /// Requests being answered (more than one only when a client pipelines).
    busy: AtomicUsize,
}

impl Progress {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn enter(&self, phase: u64) {
        self.since.store(self.now(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Relaxed);
    }

    /// Bytes arrived: an idle connection starts its next request's head.
    fn read(&self) {
        if self.phase.load(Ordering::Relaxed) == IDLE {
            self.enter(WAITING_HEAD);
        }
    }

    /// Sleeps until the connection has waited past its timeout with no request in progress;
    /// returns which timeout it was.
    async fn expired(&self, limits: &Limits) -> &'static str {
        loop {
            let (phase, since) = (
                self.phase.load(Ordering::Relaxed),
                self.since.load(Ordering::Relaxed),
            );
            let (limit, which) = match phase {
                WAITING_HEAD => (limits.header_timeout, "header"),
                IDLE => (limits.idle_timeout, "idle"),
                // A request's own time is bounded by the request timeout.
                _ => (limits.request_timeout, "busy"),
            };
            let waited = Duration::from_millis(self.now().saturating_sub(since));
            if phase != BUSY && waited >= limit {
                return which;
            }
            let next = limit.saturating_sub(waited).max(Duration::from_millis(10));
            tokio::time::sleep(next).await;
        }
    }
}

/// Serves one connection until the client closes it, a timeout closes it, or shutdown.
async fn connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    app: App,
    limits: &Limits,
    mut stopping: watch::Receiver<bool>,
) {
    let progress = Arc::new(Progress {
        start: Instant::now(),
        phase: AtomicU64::new(WAITING_HEAD),
        since: AtomicU64::new(0),
        busy: AtomicUsize::new(0),
    });
    let io = TokioIo::new(Watched {
        inner: stream,
        progress: progress.clone(),
    });
    let request_timeout = limits.request_timeout;
    let requests = progress.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let (app, progress) = (app.clone(), requests.clone());
        if progress.busy.fetch_add(1, Ordering::Relaxed) == 0 {
            progress.enter(BUSY);
        }
        req.extensions_mut()
            .insert(Deadline(tokio::time::Instant::now() + request_timeout));
        // The peer, as `axum::serve` gives it: the failed-authentication limit counts by it.
        req.extensions_mut().insert(ConnectInfo(peer));
        async move {
            let res = app.oneshot(req.map(axum::body::Body::new)).await;
            if progress.busy.fetch_sub(1, Ordering::Relaxed) == 1 {
                progress.enter(IDLE);
            }
            res
        }
    });
    // The watchdog below times the head and the idle wait: hyper's header-read timer starts
    // whenever a connection waits for a request, so it cannot tell a slow head from a kept-alive
    // connection between requests.
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = *stopping.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            which = progress.expired(limits) => {
                metrics::counter!("didpool_http_connections_timed_out_total", "timeout" => which)
                    .increment(1);
                tracing::debug!(timeout = which, "closing a connection that sent no request in time");
                return;
            }
            changed = stopping.changed(), if !draining => {
                draining = true;
                if changed.is_ok() {
                    // Answers what is in flight with `Connection: close`; closes idle ones now.
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The client's stream, telling its connection's [`Progress`] when bytes arrive.
struct Watched {
    inner: TcpStream,
    progress: Arc<Progress>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.progress.read();
        }
        res
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
