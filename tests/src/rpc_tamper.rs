//! A JSON-RPC proxy in front of a real EVM node that, while switched on, forges the storage
//! proofs in `eth_getProof` answers (one byte of the deepest node flipped): a node serving
//! forged proofs is a fault a real node does not produce on demand. Everything else passes
//! through unchanged. One request per connection (`Connection: close`), HTTP/1.1.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The running proxy.
pub struct TamperProxy {
    /// Where clients connect (`http://` + this).
    pub addr: SocketAddr,
    /// Forge proofs while true.
    pub forging: Arc<AtomicBool>,
    /// How many answers were forged.
    pub forged: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TamperProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TamperProxy {
    /// Listens on 127.0.0.1 (ephemeral port) and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> std::io::Result<TamperProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let forging = Arc::new(AtomicBool::new(false));
        let forged = Arc::new(AtomicU64::new(0));
        let (f, n) = (forging.clone(), forged.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, f, n) = (upstream.clone(), f.clone(), n.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &upstream, &f, &n).await;
                });
            }
        });
        Ok(TamperProxy {
            addr,
            forging,
            forged,
            task,
        })
    }

    /// The URL to give clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Reads one HTTP message (headers, then `Content-Length` bytes of body).
async fn read_message(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())
            .flatten()
    });
    let mut body = buf[head_end..].to_vec();
    // Without a length the message ends with the connection (`Connection: close`).
    while len.is_none_or(|l| body.len() < l) {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, body))
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    forging: &AtomicBool,
    forged: &AtomicU64,
) -> std::io::Result<()> {
    let (_, body) = read_message(&mut client).await?;
    let is_proof = serde_json::from_slice::<serde_json::Value>(&body)
        .map(|v| v["method"] == "eth_getProof")
        .unwrap_or(false);
    let mut node = TcpStream::connect(upstream).await?;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {upstream}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    node.write_all(request.as_bytes()).await?;
    node.write_all(&body).await?;
    let (head, mut answer) = read_message(&mut node).await?;
    if is_proof && forging.load(Ordering::Relaxed) {
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&answer) {
            if let Some(proofs) = v["result"]["storageProof"].as_array_mut() {
                for p in proofs {
                    if let Some(last) = p["proof"].as_array_mut().and_then(|n| n.last_mut()) {
                        if let Some(hex) = last.as_str() {
                            let mut bytes: Vec<char> = hex.chars().collect();
                            let i = bytes.len() - 1;
                            bytes[i] = if bytes[i] == '0' { '1' } else { '0' };
                            *last = serde_json::Value::String(bytes.into_iter().collect());
                        }
                    }
                }
                forged.fetch_add(1, Ordering::Relaxed);
            }
            answer = serde_json::to_vec(&v)?;
        }
    }
    let status = head.lines().next().unwrap_or("HTTP/1.1 200 OK").to_string();
    let response = format!(
        "{status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        answer.len()
    );
    client.write_all(response.as_bytes()).await?;
    client.write_all(&answer).await?;
    client.shutdown().await
}
