//! A TCP proxy on loopback that the chaos test puts between clients (relayers, senders)
//! and a devchain node, so it can break their connections without touching either
//! process: cut every live connection at once (both sides see a reset), refuse new ones
//! for a while, and point at a node that came back on another port.
//!
//! It runs on its own thread and runtime: a test that blocks its own runtime (waiting for
//! a child process, reading a pipe) must not stall the traffic it is proxying.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted and forwarded.
    pub forwarded: u64,
    /// Live connections reset by [`Proxy::cut`].
    pub cut: u64,
    /// Connections reset on arrival during [`Proxy::refuse_for`].
    pub refused: u64,
    /// Connections reset because the upstream did not accept (node down).
    pub upstream_down: u64,
}

struct Shared {
    upstream: Mutex<SocketAddr>,
    refuse_until: Mutex<Option<Instant>>,
    stats: Mutex<ProxyStats>,
    /// Bumped by `cut`: every connection task watches it and resets its two sockets.
    generation: watch::Sender<u64>,
}

/// A running proxy; it stops (and resets its connections) when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Listens on `127.0.0.1:0` and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            refuse_until: Mutex::new(None),
            stats: Mutex::new(ProxyStats::default()),
            generation: watch::channel(0).0,
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let task_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("proxy-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(std_listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = accept_loop(listener, task_shared) => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime here drops every connection task and its sockets.
            })?;
        Ok(Proxy {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Forwards new connections to `upstream` from now on (a node restarted on another
    /// port); live connections keep their old upstream until they end or are cut.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *lock(&self.shared.upstream) = upstream;
    }

    /// Resets every live connection, on both sides.
    pub fn cut(&self) {
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// Resets every connection that arrives during the next `d` (live ones are untouched:
    /// combine with [`Proxy::cut`] for a full outage).
    pub fn refuse_for(&self, d: Duration) {
        *lock(&self.shared.refuse_until) = Some(Instant::now() + d);
    }

    /// Accepts connections again now.
    pub fn accept_again(&self) {
        *lock(&self.shared.refuse_until) = None;
    }

    /// What happened so far.
    pub fn stats(&self) -> ProxyStats {
        *lock(&self.shared.stats)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The proxy's state stays usable if a connection task panicked while holding a lock.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A reset (RST) rather than an orderly close: what a client sees when a peer or a
/// middlebox drops the connection.
fn reset(s: &TcpStream) {
    let _ = s.set_zero_linger();
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of file descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let refusing = lock(&shared.refuse_until).is_some_and(|until| Instant::now() < until);
        if refusing {
            lock(&shared.stats).refused += 1;
            reset(&client);
            continue;
        }
        tokio::spawn(forward(client, shared.clone()));
    }
}

async fn forward(mut client: TcpStream, shared: Arc<Shared>) {
    let upstream = *lock(&shared.upstream);
    let mut generation = shared.generation.subscribe();
    let connect = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(upstream));
    let mut server = match connect.await {
        Ok(Ok(s)) => s,
        _ => {
            lock(&shared.stats).upstream_down += 1;
            reset(&client);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    lock(&shared.stats).forwarded += 1;
    let was_cut = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
        _ = generation.changed() => true,
    };
    if was_cut {
        lock(&shared.stats).cut += 1;
        reset(&client);
        reset(&server);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// An upstream that echoes one read back, then keeps the connection open.
    fn echo_server() -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn roundtrip(s: &mut std::net::TcpStream) -> std::io::Result<Vec<u8>> {
        s.write_all(b"ping")?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf)?;
        Ok(buf.to_vec())
    }

    #[test]
    fn forwards_cuts_refuses_and_follows_a_new_upstream() {
        let proxy = Proxy::start(echo_server()).unwrap();
        let mut a = std::net::TcpStream::connect(proxy.addr()).unwrap();
        a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(roundtrip(&mut a).unwrap(), b"ping");

        proxy.cut();
        std::thread::sleep(Duration::from_millis(100));
        assert!(roundtrip(&mut a).is_err(), "a cut connection still works");

        proxy.refuse_for(Duration::from_secs(60));
        let mut b = std::net::TcpStream::connect(proxy.addr()).unwrap();
        b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(roundtrip(&mut b).is_err(), "a refused connection works");
        proxy.accept_again();

        proxy.set_upstream(echo_server());
        let mut c = std::net::TcpStream::connect(proxy.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(roundtrip(&mut c).unwrap(), b"ping");
        let s = proxy.stats();
        assert_eq!((s.forwarded, s.cut, s.refused), (2, 1, 1), "{s:?}");
    }
}
