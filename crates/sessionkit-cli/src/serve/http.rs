//! The demo's HTTP/1.1 server: hyper with limits a slow or hostile client cannot get
//! around, and a graceful shutdown.
//!
//! `axum::serve` sets no header timeout, so a client that never finishes its headers holds
//! a connection (and a task) forever. Here every connection gets:
//!
//! - a **header timeout**: from the moment the server waits for a request's head until the
//!   head is complete (hyper's `header_read_timeout`); a half-sent request is closed;
//! - a **keep-alive timeout**: an idle connection (no request in progress, nothing received
//!   since its last response) is closed after this long; `0` turns keep-alive off;
//! - a **maximum head size**: a request line plus headers larger than this gets 431;
//! - the form routes' **body limit** is applied by the app (`--max-body-bytes`, 413).
//!
//! On shutdown (SIGTERM or Ctrl-C) the listener is closed first, so new connections are
//! refused; requests in progress finish (their session saves included, as the engine
//! saves before it answers), idle connections are closed, and the server waits up to the
//! shutdown timeout for them.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// The per-connection limits (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest wait for a complete request head.
    pub header_timeout: Duration,
    /// The longest idle time between requests; zero turns keep-alive off.
    pub keep_alive_timeout: Duration,
    /// The largest request head, in bytes.
    pub max_header_bytes: usize,
    /// How long a shutdown waits for requests in progress.
    pub shutdown_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` resolves, then shuts down gracefully.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let io = TokioIo::new(IdleClose::new(
            stream,
            limits.keep_alive_timeout,
            Arc::clone(&in_flight),
        ));
        let app = app.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let guard = InFlight::enter(&in_flight);
            let app = app.clone();
            let mut req = req.map(Body::new);
            // The peer, for the session layer's client info (what axum's
            // `into_make_service_with_connect_info::<SocketAddr>()` hands on).
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            async move {
                let res = app.oneshot(req).await;
                drop(guard);
                res
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_header_size(limits.max_header_bytes)
            .keep_alive(!limits.keep_alive_timeout.is_zero());
        let conn = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing the requests in progress");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(limits.shutdown_timeout) => {
            tracing::warn!(timeout = ?limits.shutdown_timeout, "requests still in progress at the shutdown timeout; stopping anyway");
        }
    }
}

/// Counts a request as in progress on its connection while alive.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(count: &Arc<AtomicUsize>) -> InFlight {
        count.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection that reads as closed (end of stream) once it has been idle for the
/// keep-alive timeout: no request in progress and no byte received or sent since.
struct IdleClose {
    inner: TcpStream,
    limit: Option<Duration>,
    in_flight: Arc<AtomicUsize>,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
}

impl IdleClose {
    fn new(inner: TcpStream, limit: Duration, in_flight: Arc<AtomicUsize>) -> IdleClose {
        let now = Instant::now();
        IdleClose {
            inner,
            // Zero: keep-alive is off; hyper closes after one response.
            limit: Some(limit).filter(|l| !l.is_zero()),
            in_flight,
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now)),
        }
    }

    /// Whether the idle limit has passed; if not, arms the timer to wake the reader then.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(limit) = self.limit else {
            return false;
        };
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return false;
        }
        // `Instant + Duration` past the clock's range: never idle out.
        let Some(deadline) = self.last_activity.checked_add(limit) else {
            return false;
        };
        if Instant::now() >= deadline {
            return true;
        }
        self.timer.as_mut().reset(deadline);
        self.timer.as_mut().poll(cx).is_ready()
    }
}

impl AsyncRead for IdleClose {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.last_activity = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if self.idle_expired(cx) => {
                tracing::debug!("keep-alive timeout: closing an idle connection");
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for IdleClose {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = res
            && n > 0
        {
            self.last_activity = Instant::now();
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = res
            && n > 0
        {
            self.last_activity = Instant::now();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT), whichever comes first.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C received"),
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("Ctrl-C received");
}
