//! `graphetl serve`: the Step Functions API (awsJson 1.0) on 127.0.0.1 over the local engine,
//! with the embedded S3 endpoint beside it, so the aws CLI, boto3 and the AWS SDKs drive local
//! executions unchanged (`--endpoint-url`). Tasks call the same local functions `run --local`
//! registers (graphetl-extract/transform/aggregate/load) on the same engine code.
//!
//! `api` holds the operations and their AWS shapes; this file the command and the HTTP loop.

mod api;
mod page;

use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use graphetl_states::exec::EngineOptions;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::local::{LocalEnv, LocalSettings};
pub(crate) use api::Api;

/// Help text of `graphetl serve`.
pub(crate) const LONG_ABOUT: &str = "\
Serve the local Step Functions interpreter over the Step Functions API (awsJson 1.0) on \
127.0.0.1, with the embedded S3 endpoint beside it. Real clients work unchanged:

  aws stepfunctions --endpoint-url http://127.0.0.1:8083 create-state-machine \\
      --name graphetl-process-files --role-arn arn:aws:iam::123456789012:role/local \\
      --definition file://statemachine/process-files.asl.json
  aws stepfunctions --endpoint-url http://127.0.0.1:8083 start-execution --state-machine-arn ARN

Operations: CreateStateMachine (validated; ${Placeholders} substituted as run --local does), \
ListStateMachines, DescribeStateMachine, DeleteStateMachine, StartExecution, StopExecution, \
DescribeExecution, DescribeStateMachineForExecution, ListExecutions (by state machine or Map Run), \
GetExecutionHistory, ListMapRuns, DescribeMapRun, RedriveExecution. A read-only web page at \
http://127.0.0.1:PORT/ shows the executions, their history, Map Runs and failed items with \
error and cause. Task states call the local functions \
graphetl-extract, -transform, -aggregate and -load against the printed S3 endpoint (objects \
under DATA_DIR/s3). Any credentials and region are accepted. Serves until interrupted; \
everything is kept in memory.";

/// Arguments of `graphetl serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Port of the Step Functions endpoint on 127.0.0.1 (0 picks a free one; the URL is printed).
    #[arg(long, default_value_t = 8083)]
    port: u16,
    /// Where the embedded S3 endpoint keeps its objects (DATA_DIR/s3) and the functions work.
    #[arg(long, default_value = ".graphetl")]
    data_dir: PathBuf,
    /// Concurrent invocations of each local function before it throttles like Lambda.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// Runs the command until interrupted.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async {
        let env =
            LocalEnv::start(LocalSettings::new(args.data_dir.clone(), args.concurrency)).await?;
        let functions = env.functions(super::local::new_graph())?;
        let options = EngineOptions { keep_records: true, ..EngineOptions::default() };
        let engine = env.engine_builder(functions.functions)?.options(options).build();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, args.port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
        let address = listener.local_addr().context("cannot read the listening address")?;
        println!("states endpoint http://{address}");
        println!(
            "s3 endpoint     {} (access key {}, secret key {}, bucket {}, objects under {})",
            env.endpoint_url(),
            graphetl_storage::LOCAL_ACCESS_KEY,
            graphetl_storage::LOCAL_SECRET_KEY,
            super::local::LOCAL_BUCKET,
            args.data_dir.join("s3").display()
        );
        println!("serving the Step Functions API (Ctrl-C stops); executions at http://{address}/");
        serve(listener, Arc::new(Api::new(engine))).await;
        env.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Accepts connections until Ctrl-C.
async fn serve(listener: TcpListener, api: Arc<Api>) {
    let http = ConnectionBuilder::new(TokioExecutor::new());
    let mut connections = JoinSet::new();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut interrupted => return,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    let api = api.clone();
                    let service = service_fn(move |request: Request<Incoming>| {
                        let api = api.clone();
                        async move { Ok::<_, Infallible>(answer(&api, request).await) }
                    });
                    let connection =
                        http.serve_connection(TokioIo::new(socket), service).into_owned();
                    connections.spawn(async move {
                        if let Err(err) = connection.await {
                            tracing::debug!(error = %err, "states connection ended with an error");
                        }
                    });
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the states endpoint cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// One awsJson 1.0 request: `X-Amz-Target: AWSStepFunctions.<Operation>` and a JSON body; a
/// `GET` is the read-only web page.
async fn answer(api: &Api, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() == hyper::Method::GET {
        let uri = request.uri();
        let (status, html) = match page::render(api, uri.path(), uri.query().unwrap_or_default()) {
            Some(Ok(html)) => (StatusCode::OK, html),
            Some(Err(message)) => (StatusCode::BAD_REQUEST, message),
            None => (StatusCode::NOT_FOUND, format!("no page at {}", uri.path())),
        };
        let mut response = Response::new(Full::new(Bytes::from(html)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return response;
    }
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let error = api::ApiError::new("SerializationException", format!("{e}"));
            return respond(StatusCode::BAD_REQUEST, &error.body(), Some(&error.code));
        }
    };
    let outcome = match target.strip_prefix("AWSStepFunctions.") {
        Some(operation) => api.call(operation, &body),
        None => Err(api::ApiError::new(
            "UnknownOperationException",
            format!("no X-Amz-Target AWSStepFunctions.<Operation> header (got \"{target}\")"),
        )),
    };
    match outcome {
        Ok(value) => respond(StatusCode::OK, &value, None),
        Err(error) => respond(StatusCode::BAD_REQUEST, &error.body(), Some(&error.code)),
    }
}

fn respond(
    status: StatusCode,
    body: &serde_json::Value,
    error: Option<&str>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Some(value) = error.and_then(|e| hyper::header::HeaderValue::from_str(e).ok()) {
        headers.insert("x-amzn-errortype", value);
    }
    response
}
