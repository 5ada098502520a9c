//! Parsing of Task states: the resource and its integration parameters, timeouts, and the
//! `Retry` and `Catch` arrays that Task, Parallel and Map states share.

use super::*;

/// The Task resources the runner can call, for error messages.
const SUPPORTED_RESOURCES: &str = "supported: arn:aws:states:::lambda:invoke, legacy Lambda function \
                                   ARNs (or a bare ${Placeholder}), \
                                   arn:aws:states:::states:startExecution[.sync|.sync:2]";
/// Upper bound of a retrier's `MaxDelaySeconds` (one year).
const MAX_DELAY_SECONDS: u64 = 31_622_400;
/// Fields of a retrier.
const RETRIER_FIELDS: &[&str] = &[
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
];
/// Fields of a catcher.
const CATCHER_FIELDS: &[&str] = &["ErrorEquals", "Next", "ResultPath", "Comment", "Assign"];
/// Fields of a catcher in a JSONata state.
const JSONATA_CATCHER_FIELDS: &[&str] = &["ErrorEquals", "Next", "Output", "Comment", "Assign"];

impl Parser {
    /// A Task state's own fields.
    pub(super) fn task(&mut self, path: &str, entries: &[(String, Node)]) -> Parsed<Task> {
        let at = Some(path);
        let resource_arn = match get(entries, "Resource") {
            Some(Node::String(resource)) => Ok(resource.clone()),
            Some(other) => Err(self.report(
                at,
                "Resource",
                format!("must be a string, found {}", other.kind()),
            )),
            None => Err(self.report(at, "Resource", "is required")),
        };
        let resource = match &resource_arn {
            Ok(text) => {
                parse_resource(text).map_err(|message| self.report(at, "Resource", message))
            }
            Err(Reported) => Err(Reported),
        };
        if let Ok(resource) = &resource {
            let key = self.payload_key();
            self.check_integration_parameters(path, resource, (key, get(entries, key)));
        }
        let timeout = self.dynamic_int(at, "", entries, "TimeoutSeconds", 1, MAX_SECONDS);
        let heartbeat = self.dynamic_int(at, "", entries, "HeartbeatSeconds", 1, MAX_SECONDS);
        if let (Ok(Some(Dynamic::Fixed(timeout))), Ok(Some(Dynamic::Fixed(heartbeat)))) =
            (&timeout, &heartbeat)
            && heartbeat >= timeout
        {
            self.report(
                at,
                "HeartbeatSeconds",
                format!("must be smaller than TimeoutSeconds ({timeout})"),
            );
        }
        let retry = self.retriers(path, entries);
        let catch = self.catchers(path, entries);
        Ok(Task {
            resource: resource?,
            resource_arn: resource_arn?,
            timeout: timeout?,
            heartbeat: heartbeat?,
            retry: retry?,
            catch: catch?,
        })
    }

    /// Checks the `Parameters` an integration needs and rejects the ones the runner lacks.
    fn check_integration_parameters(
        &mut self,
        path: &str,
        resource: &Resource,
        (key, parameters): (&str, Option<&Node>),
    ) {
        let at = Some(path);
        let (integration, required, allowed): (&str, &str, &[&str]) = match resource {
            Resource::LambdaInvoke => (
                "lambda:invoke",
                "FunctionName",
                &["FunctionName", "Payload", "Qualifier", "InvocationType"],
            ),
            Resource::StartExecution { .. } => {
                ("states:startExecution", "StateMachineArn", &["StateMachineArn", "Input", "Name"])
            }
            Resource::LambdaFunction { .. } => return,
        };
        let entries = match parameters {
            Some(Node::Object(entries)) => entries,
            // A non-object Parameters is reported by `io`.
            Some(_) => return,
            None => {
                self.report(
                    at,
                    key,
                    format!("is required for {integration}: it must give {required}"),
                );
                return;
            }
        };
        let payload_key = key;
        let mut has_required = false;
        for (key, value) in entries {
            let name = key.strip_suffix(".$").unwrap_or(key);
            let field = format!("{payload_key}.{key}");
            if name == required {
                has_required = true;
            } else if !allowed.contains(&name) {
                let message = match name {
                    "ClientContext" | "LogType" | "TraceHeader" => {
                        format!("{name} is {UNSUPPORTED}")
                    }
                    _ => format!(
                        "is not a parameter of {integration}; allowed: {}",
                        allowed.join(", ")
                    ),
                };
                self.report(at, &field, message);
            } else if name == "InvocationType"
                && (key.ends_with(".$") || value.as_str() != Some("RequestResponse"))
            {
                self.report(
                    at,
                    &field,
                    format!("only \"RequestResponse\" is supported; Event and DryRun invocations are {UNSUPPORTED}"),
                );
            }
        }
        if !has_required {
            let message = match self.language {
                Language::JsonPath => format!("{integration} needs {required} (or {required}.$)"),
                Language::Jsonata => format!("{integration} needs {required}"),
            };
            self.report(at, payload_key, message);
        }
    }

    /// A state's `Retry` array.
    pub(super) fn retriers(
        &mut self,
        path: &str,
        entries: &[(String, Node)],
    ) -> Parsed<Vec<Retrier>> {
        self.error_handlers(path, entries, "Retry", "retriers", Self::retrier)
    }

    /// A `Retry` or `Catch` array: each entry parsed by `one`, told whether it is the last.
    fn error_handlers<T>(
        &mut self,
        path: &str,
        entries: &[(String, Node)],
        field: &str,
        what: &str,
        one: fn(&mut Self, &str, &str, &Node, bool) -> Parsed<T>,
    ) -> Parsed<Vec<T>> {
        let items = match get(entries, field) {
            None => return Ok(Vec::new()),
            Some(Node::Array(items)) => items,
            Some(other) => {
                return Err(self.report(
                    Some(path),
                    field,
                    format!("must be an array of {what}, found {}", other.kind()),
                ));
            }
        };
        let mut parsed = Vec::with_capacity(items.len());
        let mut complete = true;
        for (position, item) in items.iter().enumerate() {
            let prefix = format!("{field}[{position}]");
            match one(self, path, &prefix, item, position + 1 == items.len()) {
                Ok(value) => parsed.push(value),
                Err(Reported) => complete = false,
            }
        }
        if complete { Ok(parsed) } else { Err(Reported) }
    }

    /// One retrier.
    fn retrier(&mut self, path: &str, prefix: &str, node: &Node, is_last: bool) -> Parsed<Retrier> {
        let at = Some(path);
        let Some(entries) = node.as_object() else {
            return Err(self.report(
                at,
                prefix,
                format!("must be an object, found {}", node.kind()),
            ));
        };
        self.check_fields(at, &format!("{prefix}."), entries, RETRIER_FIELDS, "a retrier");
        let error_equals = self.error_equals(path, prefix, entries, is_last, "retrier");
        let interval_seconds = match get(entries, "IntervalSeconds") {
            Some(node) => self.int(at, &format!("{prefix}.IntervalSeconds"), node, 1, MAX_SECONDS),
            None => Ok(1),
        };
        let max_attempts = match get(entries, "MaxAttempts") {
            Some(node) => self
                .int(at, &format!("{prefix}.MaxAttempts"), node, 0, MAX_SECONDS)
                .map(|attempts| u32::try_from(attempts).unwrap_or(u32::MAX)),
            None => Ok(3),
        };
        let backoff_rate = match get(entries, "BackoffRate") {
            Some(node) => self.number(at, &format!("{prefix}.BackoffRate"), node, 1.0, None),
            None => Ok(2.0),
        };
        let max_delay_seconds = match get(entries, "MaxDelaySeconds") {
            Some(node) => self
                .int(at, &format!("{prefix}.MaxDelaySeconds"), node, 1, MAX_DELAY_SECONDS)
                .map(Some),
            None => Ok(None),
        };
        let jitter = match get(entries, "JitterStrategy") {
            None => Ok(Jitter::None),
            Some(Node::String(strategy)) if strategy == "NONE" => Ok(Jitter::None),
            Some(Node::String(strategy)) if strategy == "FULL" => Ok(Jitter::Full),
            Some(_) => Err(self.report(
                at,
                &format!("{prefix}.JitterStrategy"),
                "must be \"FULL\" or \"NONE\"",
            )),
        };
        Ok(Retrier {
            error_equals: error_equals?,
            interval_seconds: interval_seconds?,
            max_attempts: max_attempts?,
            backoff_rate: backoff_rate?,
            max_delay_seconds: max_delay_seconds?,
            jitter: jitter?,
        })
    }

    /// A state's `Catch` array.
    pub(super) fn catchers(
        &mut self,
        path: &str,
        entries: &[(String, Node)],
    ) -> Parsed<Vec<Catcher>> {
        self.error_handlers(path, entries, "Catch", "catchers", Self::catcher)
    }

    /// One catcher.
    fn catcher(&mut self, path: &str, prefix: &str, node: &Node, is_last: bool) -> Parsed<Catcher> {
        let at = Some(path);
        let Some(entries) = node.as_object() else {
            return Err(self.report(
                at,
                prefix,
                format!("must be an object, found {}", node.kind()),
            ));
        };
        let jsonata = self.language == Language::Jsonata;
        let allowed = if jsonata { JSONATA_CATCHER_FIELDS } else { CATCHER_FIELDS };
        self.check_fields(at, &format!("{prefix}."), entries, allowed, "a catcher");
        let error_equals = self.error_equals(path, prefix, entries, is_last, "catcher");
        let next = match get(entries, "Next") {
            Some(Node::String(next)) => Ok(next.clone()),
            Some(other) => Err(self.report(
                at,
                &format!("{prefix}.Next"),
                format!("must be a state name, found {}", other.kind()),
            )),
            None => Err(self.report(at, &format!("{prefix}.Next"), "is required")),
        };
        let result_path = match jsonata {
            true => Ok(PathField::Default),
            false => self.path_field(
                at,
                &format!("{prefix}.ResultPath"),
                get(entries, "ResultPath"),
                RESULT_PATH,
            ),
        };
        let output = match jsonata {
            true => self.jsonata_template(at, &format!("{prefix}.Output"), get(entries, "Output")),
            false => Ok(None),
        };
        let assign = self.assign(at, &format!("{prefix}.Assign"), get(entries, "Assign"));
        Ok(Catcher {
            error_equals: error_equals?,
            next: next?,
            result_path: result_path?,
            output: output?,
            assign: assign?,
        })
    }

    /// A retrier's or catcher's `ErrorEquals`.
    fn error_equals(
        &mut self,
        path: &str,
        prefix: &str,
        entries: &[(String, Node)],
        is_last: bool,
        what: &str,
    ) -> Parsed<Vec<String>> {
        let at = Some(path);
        let field = format!("{prefix}.ErrorEquals");
        let items = match get(entries, "ErrorEquals") {
            Some(Node::Array(items)) if !items.is_empty() => items,
            Some(Node::Array(_)) => {
                return Err(self.report(at, &field, "must list at least one error name"));
            }
            Some(other) => {
                return Err(self.report(
                    at,
                    &field,
                    format!("must be an array of error names, found {}", other.kind()),
                ));
            }
            None => return Err(self.report(at, &field, "is required")),
        };
        let mut names = Vec::with_capacity(items.len());
        for (position, item) in items.iter().enumerate() {
            match item {
                Node::String(name) if !name.is_empty() => names.push(name.clone()),
                _ => {
                    return Err(self.report(
                        at,
                        &format!("{field}[{position}]"),
                        "must be a non-empty string",
                    ));
                }
            }
        }
        if names.iter().any(|name| name == "States.ALL") {
            if names.len() > 1 {
                return Err(self.report(at, &field, "States.ALL must appear alone in ErrorEquals"));
            }
            if !is_last {
                return Err(self.report(
                    at,
                    &field,
                    format!("States.ALL must be in the last {what}"),
                ));
            }
        }
        Ok(names)
    }
}

/// Parses a Task `Resource`.
fn parse_resource(text: &str) -> Result<Resource, String> {
    if is_bare_placeholder(text) || is_lambda_function_arn(text) {
        return Ok(Resource::LambdaFunction { function: text.to_owned() });
    }
    let Some(integration) = states_integration(text) else {
        return Err(format!("unsupported resource {text:?}; {SUPPORTED_RESOURCES}"));
    };
    match integration.as_str() {
        "lambda:invoke" => Ok(Resource::LambdaInvoke),
        "states:startExecution" => Ok(Resource::StartExecution { mode: ExecMode::FireAndForget }),
        "states:startExecution.sync" => Ok(Resource::StartExecution { mode: ExecMode::Sync }),
        "states:startExecution.sync:2" => Ok(Resource::StartExecution { mode: ExecMode::Sync2 }),
        name if name.ends_with(".waitForTaskToken") => Err(format!(
            "the callback pattern (.waitForTaskToken) is {UNSUPPORTED}; {SUPPORTED_RESOURCES}"
        )),
        _ => Err(format!("unsupported resource {text:?}; {SUPPORTED_RESOURCES}")),
    }
}

/// Whether `text` is `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`,
/// any part of which may be a placeholder.
fn is_lambda_function_arn(text: &str) -> bool {
    let masked = mask_placeholders(text);
    let parts: Vec<&str> = masked.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "lambda", region, account, "function", name_and_qualifier @ ..] => {
            !partition.is_empty()
                && !region.is_empty()
                && !account.is_empty()
                && matches!(name_and_qualifier.len(), 1 | 2)
                && name_and_qualifier.iter().all(|part| !part.is_empty())
        }
        _ => false,
    }
}

/// Whether `text` is exactly one `${Name}` placeholder.
fn is_bare_placeholder(text: &str) -> bool {
    text.strip_prefix("${").and_then(|rest| rest.strip_suffix('}')).is_some_and(is_placeholder_name)
}
