//! A loopback fault proxy in front of an S3 endpoint (the embedded `LocalS3`): it forwards each
//! request, or answers it with an injected fault (SlowDown, 500, a stall, a connection reset)
//! chosen by a rule over the request's index and request line. The storage tests use it for
//! the SDK's retries and multipart aborts; `graphetl chaos` puts it between the handlers' S3
//! client and the endpoint.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does instead of forwarding a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 with S3's `SlowDown` error body.
    SlowDown,
    /// 500 with S3's `InternalError` error body.
    InternalError,
    /// 400 with an `InvalidRequest` error body (not retryable).
    BadRequest,
    /// Reads the request and never answers (the client's attempt timeout ends it).
    Stall,
    /// Reads the request and closes the connection without answering (a connection reset).
    Reset,
}

impl Fault {
    /// Status line, S3 error code and message of the answer (none for a stall or a reset).
    fn response(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Fault::SlowDown => {
                Some(("503 Slow Down", "SlowDown", "Please reduce your request rate."))
            }
            Fault::InternalError => Some((
                "500 Internal Server Error",
                "InternalError",
                "We encountered an internal error. Please try again.",
            )),
            Fault::BadRequest => {
                Some(("400 Bad Request", "InvalidRequest", "Injected by the fault proxy."))
            }
            Fault::Stall | Fault::Reset => None,
        }
    }
}

type Rule = dyn Fn(usize, &str) -> Option<Fault> + Send + Sync;

/// A loopback HTTP/1.1 proxy in front of the local server that injects faults by rule.
///
/// Each connection carries one request: forwarded requests get `connection: close`, so the
/// server closes after answering and the client opens a new connection for the next one.
/// That keeps the proxy free of HTTP framing beyond the request head and `content-length`.
pub struct FaultProxy {
    url: String,
    log: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// The proxy's URL, to give S3 clients as their endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Starts the proxy; `rule(index, request_line)` picks a fault for the index-th request.
    pub async fn start(
        upstream_url: &str,
        rule: impl Fn(usize, &str) -> Option<Fault> + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let upstream: SocketAddr = upstream_url
            .trim_start_matches("http://")
            .parse()
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let log = Arc::new(Mutex::new(Vec::new()));
        let rule: Arc<Rule> = Arc::new(rule);
        let task_log = Arc::clone(&log);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let log = Arc::clone(&task_log);
                let rule = Arc::clone(&rule);
                tokio::spawn(async move {
                    // Connection resets are part of the game (timeouts, aborted parts).
                    let _ = handle_connection(client, upstream, &log, &*rule).await;
                });
            }
        });
        Ok(FaultProxy { url, log, task })
    }

    /// Every request line seen so far, in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many requests so far match `predicate` (on the request line).
    pub fn count(&self, predicate: impl Fn(&str) -> bool) -> usize {
        self.requests().iter().filter(|line| predicate(line)).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle_connection(
    mut client: TcpStream,
    upstream: SocketAddr,
    log: &Mutex<Vec<String>>,
    rule: &Rule,
) -> std::io::Result<()> {
    let Some((head, already_read)) = read_head(&mut client).await? else { return Ok(()) };
    let head_text = String::from_utf8_lossy(&head).into_owned();
    let request_line = head_text.lines().next().unwrap_or("").to_owned();
    let index = {
        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
        log.push(request_line.clone());
        log.len() - 1
    };

    let Some(fault) = rule(index, &request_line) else {
        let mut server = TcpStream::connect(upstream).await?;
        server.write_all(with_connection_close(&head_text).as_bytes()).await?;
        server.write_all(&already_read).await?;
        tokio::io::copy_bidirectional(&mut client, &mut server).await?;
        return Ok(());
    };

    // Read the body first so that the client is not cut off while still sending it.
    let mut remaining = content_length(&head_text).saturating_sub(already_read.len());
    let mut sink = vec![0_u8; 64 * 1024];
    while remaining > 0 {
        let n = client.read(&mut sink).await?;
        if n == 0 {
            break;
        }
        remaining = remaining.saturating_sub(n);
    }
    let Some((status, code, message)) = fault.response() else {
        // Stall: keep the connection open and silent until the client gives up.
        while client.read(&mut sink).await? > 0 {}
        return Ok(());
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\nx-amz-request-id: fault-proxy\r\n\r\n{body}",
        body.len()
    );
    client.write_all(response.as_bytes()).await?;
    client.shutdown().await
}

/// Reads until the end of the request head; returns the head and any body bytes read with it.
async fn read_head(client: &mut TcpStream) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 8192];
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok(Some((buffer, rest)));
        }
        if buffer.len() > 64 * 1024 {
            return Err(std::io::Error::other("request head too large"));
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

fn with_connection_close(head: &str) -> String {
    let mut rewritten = String::with_capacity(head.len() + 20);
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        let is_connection = line
            .split_once(':')
            .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("connection"));
        if !is_connection {
            rewritten.push_str(line);
            rewritten.push_str("\r\n");
        }
    }
    rewritten.push_str("connection: close\r\n\r\n");
    rewritten
}
