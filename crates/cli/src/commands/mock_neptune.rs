//! `graphetl mock-neptune`: a loopback stand-in for Neptune's Gremlin HTTP endpoint, for
//! benchmarks and trying `graphetl load` without a cluster. It answers every POST /gremlin
//! with an empty typed-GraphSON result after a fixed latency, and counts requests; stream reads
//! find no records. The bulk loader's API is there too: `POST /loader` starts job
//! `mock-load-<n>`, and `GET /loader/<id>` answers `LOAD_IN_PROGRESS` on the first poll of a job,
//! then `--loader-status` (`LOAD_COMPLETED` by default; `LOAD_FAILED` comes with an insert error
//! and its error log). It reads nothing from S3.
//! It checks nothing about the query: it is a stand-in for the wire, not for Gremlin.
//! It bounds what one request can make it allocate: a header line over 8 KiB, more than 100
//! header lines, or a `Content-Length` over 150 MiB (Neptune's own request limit) is answered
//! with 431 or 413 and the connection is closed.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Arguments of `graphetl mock-neptune`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Port on 127.0.0.1 (0 picks a free one; the chosen URL is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Latency added to every answer, in milliseconds.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    /// Stop after this many requests (0 = serve until killed).
    #[arg(long, default_value_t = 0)]
    max_requests: u64,
    /// The final status of every bulk-loader job (LOAD_COMPLETED, LOAD_FAILED, …).
    #[arg(long, default_value = "LOAD_COMPLETED")]
    loader_status: String,
}

/// What the stand-in shares between connections.
struct Shared {
    latency: Duration,
    served: AtomicU64,
    loads_started: AtomicU64,
    polled: std::sync::Mutex<std::collections::BTreeSet<String>>,
    loader_status: String,
}

/// The longest request body accepted (Neptune's HTTP request limit is 150 MiB).
const MAX_BODY_BYTES: usize = 150 * 1024 * 1024;

/// The longest header line, and the most header lines, of one request.
const MAX_HEADER_LINE: u64 = 8 * 1024;
const MAX_HEADER_LINES: usize = 100;

const BODY: &str = r#"{"requestId":"mock","status":{"message":"","code":200,"attributes":{"@type":"g:Map","@value":[]}},"result":{"data":{"@type":"g:List","@value":[]},"meta":{"@type":"g:Map","@value":[]}}}"#;

const NO_STREAM_RECORDS: &str = r#"{"code":"StreamRecordsNotFoundException","requestId":"mock","detailedMessage":"No records found after the given position"}"#;

/// The loader's answer to a status poll of `id`: in progress on the first poll, then final.
fn loader_status_body(shared: &Shared, id: &str) -> String {
    let first = shared.polled.lock().map(|mut seen| seen.insert(id.to_owned())).unwrap_or(false);
    let status = if first { "LOAD_IN_PROGRESS" } else { shared.loader_status.as_str() };
    let failed = status == "LOAD_FAILED";
    let logs = if failed {
        serde_json::json!([{"errorCode": "FROM_OR_TO_VERTEX_ARE_MISSING",
            "errorMessage": "injected by graphetl mock-neptune", "fileName": "edges.csv", "recordNum": 1}])
    } else {
        serde_json::json!([])
    };
    serde_json::json!({"status": "200 OK", "payload": {
        "overallStatus": {"status": status, "totalRecords": 0, "totalDuplicates": 0,
            "parsingErrors": 0, "datatypeMismatchErrors": 0, "insertErrors": u64::from(failed)},
        "errors": {"errorLogs": logs}}})
    .to_string()
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        let mut first = true;
        let mut request_line = String::new();
        let mut lines = 0usize;
        loop {
            line.clear();
            let read = (&mut reader).take(MAX_HEADER_LINE).read_line(&mut line).await?;
            if read == 0 {
                return Ok(());
            }
            lines += 1;
            if !line.ends_with('\n') || lines > MAX_HEADER_LINES {
                return refuse(&mut reader, &mut write, "431 Request Header Fields Too Large")
                    .await;
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() && !first {
                break;
            }
            if first {
                request_line = trimmed.to_owned();
            }
            first = false;
            if let Some((name, value)) = trimmed.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                match value.trim().parse::<usize>() {
                    Ok(n) if n <= MAX_BODY_BYTES => length = n,
                    Ok(_) => return refuse(&mut reader, &mut write, "413 Payload Too Large").await,
                    Err(_) => return refuse(&mut reader, &mut write, "400 Bad Request").await,
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).await?;
        tokio::time::sleep(shared.latency).await;
        shared.served.fetch_add(1, Ordering::Relaxed);
        let target = request_line.split_whitespace().nth(1).unwrap_or("");
        // Streams: the stand-in keeps no log, so every read finds no records, as Neptune answers
        // when nothing changed after the position.
        let (status, body) = if request_line.starts_with("GET /propertygraph/stream") {
            ("404 Not Found", NO_STREAM_RECORDS.to_owned())
        } else if request_line.starts_with("POST /loader ") {
            let n = shared.loads_started.fetch_add(1, Ordering::Relaxed) + 1;
            let id = format!("mock-load-{n}");
            (
                "200 OK",
                serde_json::json!({"status": "200 OK", "payload": {"loadId": id}}).to_string(),
            )
        } else if let Some(rest) = target.strip_prefix("/loader/")
            && request_line.starts_with("GET ")
        {
            let id = rest.split('?').next().unwrap_or("");
            ("200 OK", loader_status_body(&shared, id))
        } else {
            ("200 OK", BODY.to_owned())
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        write.write_all(response.as_bytes()).await?;
    }
}

/// Answers `status` with a Neptune-style error body, then closes the connection. Up to 1 MiB
/// of what is left of the request is read and dropped first (for at most a second), so the
/// close does not reset the connection before the client has read the answer.
async fn refuse(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    status: &str,
) -> std::io::Result<()> {
    let body = serde_json::json!({"code": "BadRequestException", "requestId": "mock",
        "detailedMessage": format!("graphetl mock-neptune: {status}")})
    .to_string();
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    write.write_all(response.as_bytes()).await?;
    write.shutdown().await?;
    let mut rest = reader.take(1 << 20);
    let mut sink = tokio::io::sink();
    let _ =
        tokio::time::timeout(Duration::from_secs(1), tokio::io::copy(&mut rest, &mut sink)).await;
    Ok(())
}

/// Runs the command until killed (or `--max-requests`).
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
        println!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            latency: Duration::from_millis(args.latency_ms),
            served: AtomicU64::new(0),
            loads_started: AtomicU64::new(0),
            polled: std::sync::Mutex::default(),
            loader_status: args.loader_status.clone(),
        });
        loop {
            if args.max_requests > 0 && shared.served.load(Ordering::Relaxed) >= args.max_requests {
                return Ok(ExitCode::SUCCESS);
            }
            let accepted =
                tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
            if let Ok(Ok((stream, _))) = accepted {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, shared).await;
                });
            }
        }
    })
}
