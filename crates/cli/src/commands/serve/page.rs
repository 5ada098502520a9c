//! The read-only web page of `graphetl serve`: at `/` the state machines and their executions,
//! at `/execution?arn=…` one execution with its status, error and cause, its Map Runs with the
//! failed items (each child's input, error and cause: the console's failed-item view, locally)
//! and its history.
//!
//! The page is a client of the same API operations the aws CLI calls (no second path into the
//! engine), rendered on the server as plain HTML with every value escaped; it needs no script.

use serde_json::{Value, json};

use super::api::Api;

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value shown as text (strings without their quotes).
fn shown(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => escape(text),
        other => escape(&other.to_string()),
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte))
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Decodes a percent-encoded query value (`+` is a space); `None` if it is not valid UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The value of `name` in a query string.
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| decode(value)).flatten()
    })
}

/// One API call from the page; an error becomes its message.
fn call(api: &Api, operation: &str, request: Value) -> Result<Value, String> {
    api.call(operation, request.to_string().as_bytes()).map_err(|e| e.body().to_string())
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}}\
         .FAILED,.TIMED_OUT,.ABORTED{{color:#b00}}.SUCCEEDED{{color:#070}}\
         pre{{white-space:pre-wrap;margin:0}}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

fn status(value: &Value) -> String {
    let text = shown(value);
    format!("<span class=\"{text}\">{text}</span>")
}

/// The page at `path` with `query`; `None` for a path the page does not have.
pub(crate) fn render(api: &Api, path: &str, query: &str) -> Option<Result<String, String>> {
    match path {
        "/" => Some(index(api)),
        "/execution" => Some(match query_value(query, "arn") {
            Some(arn) => execution(api, &arn),
            None => Err("give ?arn=<execution ARN>".to_owned()),
        }),
        _ => None,
    }
}

fn index(api: &Api) -> Result<String, String> {
    let machines = call(api, "ListStateMachines", json!({}))?;
    let mut body =
        String::from("<h1>graphetl serve</h1><p>Local Step Functions executions (read only).</p>");
    let list = machines["stateMachines"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        body.push_str("<p>No state machines yet: create one with <code>aws stepfunctions create-state-machine</code>.</p>");
    }
    for machine in list {
        let arn = machine["stateMachineArn"].as_str().unwrap_or_default();
        body.push_str(&format!("<h2>{}</h2>", shown(&machine["name"])));
        let executions = call(api, "ListExecutions", json!({"stateMachineArn": arn}))?;
        body.push_str(
            "<table><tr><th>execution</th><th>status</th><th>redrives</th><th>started</th></tr>",
        );
        for execution in executions["executions"].as_array().into_iter().flatten() {
            let arn = execution["executionArn"].as_str().unwrap_or_default();
            body.push_str(&format!(
                "<tr><td><a href=\"/execution?arn={}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                encode(arn),
                shown(&execution["name"]),
                status(&execution["status"]),
                shown(&execution["redriveCount"]),
                shown(&execution["startDate"]),
            ));
        }
        body.push_str("</table>");
    }
    Ok(document("graphetl serve", &body))
}

fn execution(api: &Api, arn: &str) -> Result<String, String> {
    let described = call(api, "DescribeExecution", json!({"executionArn": arn}))?;
    let mut body = format!(
        "<p><a href=\"/\">all executions</a></p><h1>{}</h1><table>\
         <tr><th>status</th><td>{}</td></tr><tr><th>ARN</th><td>{}</td></tr>\
         <tr><th>redrives</th><td>{} ({})</td></tr>",
        shown(&described["name"]),
        status(&described["status"]),
        escape(arn),
        shown(&described["redriveCount"]),
        shown(&described["redriveStatus"]),
    );
    for field in ["error", "cause", "input", "output"] {
        if !described[field].is_null() {
            body.push_str(&format!(
                "<tr><th>{field}</th><td><pre>{}</pre></td></tr>",
                shown(&described[field])
            ));
        }
    }
    body.push_str("</table>");
    let runs = call(api, "ListMapRuns", json!({"executionArn": arn}))?;
    for run in runs["mapRuns"].as_array().into_iter().flatten() {
        body.push_str(&map_run(api, run["mapRunArn"].as_str().unwrap_or_default())?);
    }
    let history =
        call(api, "GetExecutionHistory", json!({"executionArn": arn, "maxResults": 1000}))?;
    body.push_str(
        "<h2>History</h2><table><tr><th>id</th><th>type</th><th>time</th><th>details</th></tr>",
    );
    for event in history["events"].as_array().into_iter().flatten() {
        let details = event
            .as_object()
            .and_then(|o| {
                o.iter().find(|(k, _)| k.ends_with("EventDetails")).map(|(_, v)| v.clone())
            })
            .unwrap_or(Value::Null);
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            shown(&event["id"]),
            shown(&event["type"]),
            shown(&event["timestamp"]),
            shown(&details),
        ));
    }
    body.push_str("</table>");
    Ok(document(described["name"].as_str().unwrap_or("execution"), &body))
}

/// One Map Run: its counts and its failed items with error and cause.
fn map_run(api: &Api, run_arn: &str) -> Result<String, String> {
    let run = call(api, "DescribeMapRun", json!({"mapRunArn": run_arn}))?;
    let counts = &run["executionCounts"];
    let mut out = format!(
        "<h2>Map Run</h2><p>{} · {} · succeeded {}, failed {}, pending {}, total {} · redrives {}</p>",
        escape(run_arn),
        status(&run["status"]),
        shown(&counts["succeeded"]),
        shown(&counts["failed"]),
        shown(&counts["pending"]),
        shown(&counts["total"]),
        shown(&run["redriveCount"]),
    );
    let failed = call(
        api,
        "ListExecutions",
        json!({"mapRunArn": run_arn, "statusFilter": "FAILED", "maxResults": 1000}),
    )?;
    let children = failed["executions"].as_array().cloned().unwrap_or_default();
    out.push_str(&format!("<h3>Failed items ({})</h3>", children.len()));
    if children.is_empty() {
        return Ok(out);
    }
    out.push_str(
        "<table><tr><th>child execution</th><th>input</th><th>error</th><th>cause</th></tr>",
    );
    for child in children {
        let arn = child["executionArn"].as_str().unwrap_or_default();
        let described = call(api, "DescribeExecution", json!({"executionArn": arn}))?;
        out.push_str(&format!(
            "<tr class=\"failed-item\"><td><a href=\"/execution?arn={}\">{}</a></td><td><pre>{}</pre></td><td>{}</td><td><pre>{}</pre></td></tr>",
            encode(arn),
            shown(&described["name"]),
            shown(&described["input"]),
            shown(&described["error"]),
            shown(&described["cause"]),
        ));
    }
    out.push_str("</table>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_arns_survive_the_query_string() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let arn = "arn:aws:states:us-east-1:123456789012:execution:m/Label:ab cd";
        let query = format!("x=1&arn={}", encode(arn));
        assert_eq!(query_value(&query, "arn").as_deref(), Some(arn));
        assert_eq!(query_value("arn=%zz", "arn"), None);
        assert_eq!(query_value("arn=%4", "arn"), Some("%4".to_owned()));
    }
}
