//! A loopback stand-in for an AWS JSON-protocol API (awsJson 1.0/1.1 over HTTP/1.1), shared by
//! the tests that need one: the Athena adapter's (`crates/athena/src/athena/tests.rs`) and the
//! CLI's Step Functions commands (`crates/cli/tests/it/aws.rs`). Each includes this one file with
//! `#[path]`, so there is one implementation and no extra crate to build.
//!
//! Every request's `X-Amz-Target` and JSON body are recorded in order; the answer comes from the
//! caller's function of (target, body): a JSON value, or an AWS error (`__type` and `message`)
//! with status 400.

// Each includer uses part of it (the CLI's stand-in never answers an error).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// What the stand-in answers one request with.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// 200 with this JSON body.
    Ok(Value),
    /// 400 with `{"__type": kind, "message": message}`.
    Error(&'static str, String),
}

/// The answer to one request, from its target and body.
pub(crate) type Answer = dyn Fn(&str, &Value) -> Reply + Send + Sync;

/// A running stand-in: its endpoint URL and the requests it received.
pub(crate) struct AwsJsonStub {
    /// `http://127.0.0.1:<port>`.
    pub(crate) endpoint: String,
    requests: Arc<Mutex<Vec<(String, Value)>>>,
}

impl AwsJsonStub {
    /// Starts a stand-in on 127.0.0.1 that answers with `content_type`
    /// (`application/x-amz-json-1.0` or `-1.1`) and `answer`.
    pub(crate) fn start(
        content_type: &'static str,
        answer: impl Fn(&str, &Value) -> Reply + Send + Sync + 'static,
    ) -> AwsJsonStub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let requests: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let recorded = requests.clone();
        let answer: Arc<Answer> = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = recorded.clone();
                let answer = answer.clone();
                std::thread::spawn(move || serve(stream, &recorded, &*answer, content_type));
            }
        });
        AwsJsonStub { endpoint: format!("http://{address}"), requests }
    }

    /// The (target, body) of every request so far, in order.
    pub(crate) fn requests(&self) -> Vec<(String, Value)> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn serve(
    stream: TcpStream,
    requests: &Mutex<Vec<(String, Value)>>,
    answer: &Answer,
    content_type: &str,
) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut target = String::new();
        let mut line = String::new();
        let mut first = true;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() && !first {
                break;
            }
            first = false;
            if let Some((name, value)) = trimmed.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "x-amz-target" => target = value.trim().to_owned(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        let reply = answer(&target, &body);
        if let Ok(mut r) = requests.lock() {
            r.push((target, body));
        }
        let (status, text) = match reply {
            Reply::Ok(value) => ("200 OK", value.to_string()),
            Reply::Error(kind, message) => {
                ("400 Bad Request", json!({"__type": kind, "message": message}).to_string())
            }
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
