//! The HTTP transport the EVM adapter speaks JSON-RPC over: alloy's reqwest transport
//! reads whatever a node sends, so a node answering with an endless body would make the
//! relayer's memory grow without bound. This one reads the body chunk by chunk and gives
//! up past [`MAX_RESPONSE_BYTES`], like the devchain client's cap.

use std::task;

use alloy::rpc::json_rpc::{RequestPacket, ResponsePacket};
use alloy::transports::http::reqwest::{self, Url};
use alloy::transports::{TransportError, TransportErrorKind, TransportFut, TransportResult};

/// Largest answer read from an EVM node: far above any answer the relayer asks for (a
/// batch's `eth_getProof`, a range of logs sized to about 2,000 events), far below what
/// would hurt.
pub const MAX_RESPONSE_BYTES: usize = 10 << 20;

/// JSON-RPC over HTTP POST with a bounded answer.
#[derive(Debug, Clone)]
pub struct CappedHttp {
    client: reqwest::Client,
    url: Url,
    cap: usize,
}

impl CappedHttp {
    /// A transport to `url` that refuses answers over `cap` bytes.
    pub fn new(url: Url, cap: usize) -> Self {
        CappedHttp {
            client: reqwest::Client::new(),
            url,
            cap,
        }
    }

    async fn send(self, req: RequestPacket) -> TransportResult<ResponsePacket> {
        let body = serde_json::to_vec(&req).map_err(TransportErrorKind::custom)?;
        let mut resp = self
            .client
            .post(self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .headers(req.headers())
            .body(body)
            .send()
            .await
            .map_err(TransportErrorKind::custom)?;
        let status = resp.status();
        if resp.content_length().is_some_and(|n| n > self.cap as u64) {
            return Err(too_big(self.cap));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(TransportErrorKind::custom)? {
            if body.len() + chunk.len() > self.cap {
                return Err(too_big(self.cap));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(TransportErrorKind::http_error(
                status.as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|err| TransportError::deser_err(err, String::from_utf8_lossy(&body)))
    }
}

fn too_big(cap: usize) -> TransportError {
    TransportErrorKind::custom_str(&format!("answer larger than {cap} bytes; refused"))
}

impl tower::Service<RequestPacket> for CappedHttp {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _cx: &mut task::Context<'_>) -> task::Poll<Result<(), Self::Error>> {
        task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RequestPacket) -> Self::Future {
        Box::pin(self.clone().send(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::providers::{Provider, RootProvider};
    use alloy::rpc::client::RpcClient;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-connection HTTP server answering `body`.
    async fn serve(body: Vec<u8>) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    let _ = s.read(&mut buf).await;
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
                    let _ = s.write_all(head.as_bytes()).await;
                    let _ = s.write_all(&body).await;
                });
            }
        });
        format!("http://{addr}").parse().unwrap()
    }

    #[tokio::test]
    async fn answers_within_the_cap_are_read_and_larger_ones_refused() {
        let ok = serve(br#"{"jsonrpc":"2.0","id":0,"result":"0x2a"}"#.to_vec()).await;
        let p = RootProvider::<alloy::network::Ethereum>::new(RpcClient::new(
            CappedHttp::new(ok, 1024),
            true,
        ));
        assert_eq!(p.get_block_number().await.unwrap(), 42);
        // An answer that never ends within the cap (no length announced).
        let mut huge = br#"{"jsonrpc":"2.0","id":0,"result":""#.to_vec();
        huge.extend(std::iter::repeat_n(b'a', 4096));
        huge.extend(br#""}"#);
        let big = serve(huge).await;
        let p = RootProvider::<alloy::network::Ethereum>::new(RpcClient::new(
            CappedHttp::new(big, 1024),
            true,
        ));
        let e = p.get_block_number().await.unwrap_err();
        assert!(e.to_string().contains("larger than 1024"), "{e}");
    }
}
