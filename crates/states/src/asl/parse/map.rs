//! Parsing of Map states: the item processor and its mode, and the Distributed Map fields
//! (`ItemReader`, `ItemBatcher`, `ResultWriter`, `Label`, tolerated failures).

use super::*;

/// Upper bound of `ReaderConfig.MaxItems`.
const MAX_ITEMS: u64 = 100_000_000;
/// Upper bound of `ItemBatcher.MaxInputBytesPerBatch` (256 KiB).
const MAX_BATCH_BYTES: u64 = 262_144;
/// Longest Distributed Map `Label`.
const MAX_LABEL_CHARS: usize = 40;
/// Characters a `Label` must not contain, besides whitespace and control characters.
const LABEL_FORBIDDEN: &str = "?*<>{}[]:;,\\^~$#%&\"|`";
/// Fields of a Map's `ItemProcessor` (or `Iterator`).
const PROCESSOR_FIELDS: &[&str] = &["Comment", "StartAt", "States", "ProcessorConfig"];
/// Fields of an `ItemReader.ReaderConfig`.
const READER_CONFIG_FIELDS: &[&str] =
    &["InputType", "CSVHeaderLocation", "CSVHeaders", "CSVDelimiter", "MaxItems", "MaxItemsPath"];
/// `ReaderConfig` fields that only apply to `s3:getObject`.
const GET_OBJECT_ONLY: &[&str] = &["InputType", "CSVHeaderLocation", "CSVHeaders", "CSVDelimiter"];
/// `ReaderConfig` fields that only apply to CSV input.
const CSV_ONLY: &[&str] = &["CSVHeaderLocation", "CSVHeaders", "CSVDelimiter"];
/// Map fields that only a Distributed Map may have.
const DISTRIBUTED_ONLY: &[&str] = &[
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "Label",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
];

impl Parser {
    /// A Map state's own fields.
    pub(super) fn map(&mut self, path: &str, entries: &[(String, Node)]) -> Parsed<Map> {
        let at = Some(path);
        let processor_key = match (get(entries, "ItemProcessor"), get(entries, "Iterator")) {
            (Some(_), Some(_)) => Err(self.report(
                at,
                "Iterator",
                "cannot be given together with ItemProcessor (its newer name)",
            )),
            (Some(_), None) => Ok("ItemProcessor"),
            (None, Some(_)) => Ok("Iterator"),
            (None, None) => Err(self.report(at, "ItemProcessor", "is required")),
        };
        let (mode, processor) = match processor_key {
            Ok(key) => self.item_processor(path, key, get(entries, key)),
            Err(Reported) => (Err(Reported), Err(Reported)),
        };

        let items_path = match get(entries, "ItemsPath") {
            None => Ok(None),
            Some(Node::String(text)) => {
                self.json_path(at, "ItemsPath", text, REFERENCE_PATH).map(Some)
            }
            Some(other) => {
                Err(self.report(at, "ItemsPath", format!("must be a path, found {}", other.kind())))
            }
        };
        let jsonata = self.language == Language::Jsonata;
        let items = match jsonata {
            true => self.jsonata_template(at, "Items", get(entries, "Items")),
            false => Ok(None),
        };
        let jsonata_item_selector = match jsonata {
            true => self.jsonata_template(at, "ItemSelector", get(entries, "ItemSelector")),
            false => Ok(None),
        };
        let item_selector = match (get(entries, "ItemSelector"), get(entries, "Parameters")) {
            _ if jsonata => Ok(None),
            (Some(_), Some(_)) => Err(self.report(
                at,
                "Parameters",
                "cannot be given together with ItemSelector (its newer name on a Map)",
            )),
            (Some(node), None) => self.opt_template(at, "ItemSelector", Some(node)),
            (None, Some(node)) => self.opt_template(at, "Parameters", Some(node)),
            (None, None) => Ok(None),
        };
        let max_concurrency =
            self.dynamic_int(at, "", entries, "MaxConcurrency", 0, u32::MAX.into()).map(|limit| {
                limit.map(|limit| match limit {
                    Dynamic::Fixed(value) => {
                        Dynamic::Fixed(u32::try_from(value).unwrap_or(u32::MAX))
                    }
                    Dynamic::Path(path) => Dynamic::Path(path),
                    Dynamic::Expression(expression) => Dynamic::Expression(expression),
                })
            });
        let retry = self.retriers(path, entries);
        let catch = self.catchers(path, entries);

        let mut item_reader = Ok(None);
        let mut item_batcher = Ok(None);
        let mut result_writer = Ok(None);
        let mut tolerated_failure_percentage = Ok(None);
        let mut tolerated_failure_count = Ok(None);
        let mut label = Ok(None);
        match &mode {
            Ok(MapMode::Inline) => {
                for key in DISTRIBUTED_ONLY {
                    if get(entries, key).is_some() {
                        self.report(
                            at,
                            key,
                            "is only allowed in a Distributed Map (ItemProcessor.ProcessorConfig.Mode \
                             \"DISTRIBUTED\")",
                        );
                    }
                }
            }
            Ok(MapMode::Distributed { .. }) => {
                item_reader = self.item_reader(at, get(entries, "ItemReader"));
                item_batcher = self.item_batcher(at, get(entries, "ItemBatcher"));
                result_writer = self.result_writer(at, get(entries, "ResultWriter"));
                tolerated_failure_percentage = self.dynamic_percentage(at, entries);
                tolerated_failure_count =
                    self.dynamic_int(at, "", entries, "ToleratedFailureCount", 0, u64::MAX);
                label = self.label(at, get(entries, "Label"));
            }
            // The processor's problem is already reported.
            Err(Reported) => {}
        }
        if get(entries, "ItemsPath").is_some() && get(entries, "ItemReader").is_some() {
            self.report(
                at,
                "ItemsPath",
                "cannot be combined with ItemReader; ItemsPath selects items from the state input",
            );
        }
        if let (
            Ok(MapMode::Distributed { execution_type: ExecutionType::Express }),
            Ok(processor),
            Ok(key),
        ) = (&mode, &processor, &processor_key)
        {
            let mut sync_states = Vec::new();
            sync_tasks(processor, &mut sync_states);
            for name in sync_states {
                self.report(
                    at,
                    &format!("{key}.ProcessorConfig.ExecutionType"),
                    format!(
                        "EXPRESS child executions cannot run .sync integrations, but state {name:?} \
                         uses states:startExecution.sync"
                    ),
                );
            }
        }

        Ok(Map {
            processor: processor?,
            mode: mode?,
            items_path: items_path?,
            item_selector: item_selector?,
            items: items?,
            jsonata_item_selector: jsonata_item_selector?,
            max_concurrency: max_concurrency?,
            item_reader: item_reader?,
            item_batcher: item_batcher?,
            result_writer: result_writer?,
            tolerated_failure_percentage: tolerated_failure_percentage?,
            tolerated_failure_count: tolerated_failure_count?,
            label: label?,
            retry: retry?,
            catch: catch?,
        })
    }

    /// A Map's `ItemProcessor` (or `Iterator`, named by `key`): its mode and its machine.
    fn item_processor(
        &mut self,
        path: &str,
        key: &str,
        node: Option<&Node>,
    ) -> (Parsed<MapMode>, Parsed<StateMachine>) {
        let at = Some(path);
        let Some(entries) = node.and_then(Node::as_object) else {
            let kind = node.map_or("nothing", Node::kind);
            self.report(
                at,
                key,
                format!("must be an object with StartAt and States, found {kind}"),
            );
            return (Err(Reported), Err(Reported));
        };
        self.check_fields(
            at,
            &format!("{key}."),
            entries,
            PROCESSOR_FIELDS,
            "a Map item processor",
        );
        let mode = self.processor_config(at, key, get(entries, "ProcessorConfig"));
        let machine = self.machine(entries, Some(&format!("{path}/{key}")));
        (mode, machine)
    }

    /// `ProcessorConfig`: `Mode` and `ExecutionType`.
    fn processor_config(
        &mut self,
        at: Option<&str>,
        key: &str,
        node: Option<&Node>,
    ) -> Parsed<MapMode> {
        let Some(node) = node else { return Ok(MapMode::Inline) };
        let prefix = format!("{key}.ProcessorConfig");
        let Some(entries) = node.as_object() else {
            return Err(self.report(
                at,
                &prefix,
                format!("must be an object, found {}", node.kind()),
            ));
        };
        self.check_fields(
            at,
            &format!("{prefix}."),
            entries,
            &["Mode", "ExecutionType"],
            "ProcessorConfig",
        );
        let distributed = match get(entries, "Mode") {
            None => Ok(false),
            Some(Node::String(mode)) if mode == "INLINE" => Ok(false),
            Some(Node::String(mode)) if mode == "DISTRIBUTED" => Ok(true),
            Some(_) => Err(self.report(
                at,
                &format!("{prefix}.Mode"),
                "must be \"INLINE\" or \"DISTRIBUTED\"",
            )),
        };
        let execution_type = match get(entries, "ExecutionType") {
            None => Ok(None),
            Some(Node::String(kind)) if kind == "STANDARD" => Ok(Some(ExecutionType::Standard)),
            Some(Node::String(kind)) if kind == "EXPRESS" => Ok(Some(ExecutionType::Express)),
            Some(_) => Err(self.report(
                at,
                &format!("{prefix}.ExecutionType"),
                "must be \"STANDARD\" or \"EXPRESS\"",
            )),
        };
        match (distributed?, execution_type?) {
            (true, Some(execution_type)) => Ok(MapMode::Distributed { execution_type }),
            (true, None) => Err(self.report(
                at,
                &format!("{prefix}.ExecutionType"),
                "is required when Mode is \"DISTRIBUTED\"",
            )),
            (false, Some(_)) => Err(self.report(
                at,
                &format!("{prefix}.ExecutionType"),
                "is only allowed when Mode is \"DISTRIBUTED\"",
            )),
            (false, None) => Ok(MapMode::Inline),
        }
    }

    /// A Distributed Map's `ItemReader`.
    fn item_reader(&mut self, at: Option<&str>, node: Option<&Node>) -> Parsed<Option<ItemReader>> {
        let Some(node) = node else { return Ok(None) };
        let Some(entries) = node.as_object() else {
            return Err(self.report(
                at,
                "ItemReader",
                format!("must be an object, found {}", node.kind()),
            ));
        };
        self.check_fields(
            at,
            "ItemReader.",
            entries,
            &["Resource", self.payload_key(), "ReaderConfig"],
            "an ItemReader",
        );
        let payload_key = format!("ItemReader.{}", self.payload_key());
        let is_listing = match get(entries, "Resource") {
            Some(Node::String(resource)) => match states_integration(resource).as_deref() {
                Some("s3:listObjectsV2") => Ok(true),
                Some("s3:getObject") => Ok(false),
                _ => Err(self.report(
                    at,
                    "ItemReader.Resource",
                    format!(
                        "unsupported ItemReader resource {resource:?}; supported: \
                         arn:aws:states:::s3:listObjectsV2 and arn:aws:states:::s3:getObject"
                    ),
                )),
            },
            Some(other) => Err(self.report(
                at,
                "ItemReader.Resource",
                format!("must be a string, found {}", other.kind()),
            )),
            None => Err(self.report(at, "ItemReader.Resource", "is required")),
        };
        let parameters = match (get(entries, self.payload_key()), &is_listing) {
            (Some(node), Ok(true)) => {
                self.s3_parameters(at, &payload_key, node, &["Bucket"], &["Prefix"])
            }
            (Some(node), Ok(false)) => {
                self.s3_parameters(at, &payload_key, node, &["Bucket", "Key"], &[])
            }
            (Some(_), Err(Reported)) => Err(Reported),
            (None, _) => {
                Err(self.report(at, &payload_key, "is required (Bucket, and Prefix or Key)"))
            }
        };
        let config: &[(String, Node)] = match get(entries, "ReaderConfig") {
            None => &[],
            Some(Node::Object(config)) => config,
            Some(other) => {
                return Err(self.report(
                    at,
                    "ItemReader.ReaderConfig",
                    format!("must be an object, found {}", other.kind()),
                ));
            }
        };
        self.check_fields(
            at,
            "ItemReader.ReaderConfig.",
            config,
            READER_CONFIG_FIELDS,
            "ReaderConfig",
        );
        let max_items =
            self.dynamic_int(at, "ItemReader.ReaderConfig.", config, "MaxItems", 1, MAX_ITEMS);
        let source = match is_listing {
            Ok(true) => {
                for key in GET_OBJECT_ONLY {
                    if get(config, key).is_some() {
                        self.report(
                            at,
                            &format!("ItemReader.ReaderConfig.{key}"),
                            "only applies to the s3:getObject reader",
                        );
                    }
                }
                Ok(ReaderSource::ListObjectsV2)
            }
            Ok(false) => {
                self.input_type(at, config).map(|input_type| ReaderSource::GetObject { input_type })
            }
            Err(Reported) => Err(Reported),
        };
        Ok(Some(ItemReader { source: source?, parameters: parameters?, max_items: max_items? }))
    }

    /// `ReaderConfig.InputType` of an `s3:getObject` reader, with its CSV options.
    fn input_type(
        &mut self,
        at: Option<&str>,
        config: &[(String, Node)],
    ) -> Parsed<ReaderInputType> {
        let field = "ItemReader.ReaderConfig.InputType";
        let input_type = match get(config, "InputType") {
            Some(Node::String(kind)) => match kind.as_str() {
                "JSON" => ReaderInputType::Json,
                "JSONL" => ReaderInputType::Jsonl,
                "CSV" => return self.csv_options(at, config),
                "PARQUET" | "MANIFEST" => {
                    return Err(self.report(
                        at,
                        field,
                        format!("{kind} input is {UNSUPPORTED}; use JSON, JSONL or CSV"),
                    ));
                }
                _ => return Err(self.report(at, field, "must be \"JSON\", \"JSONL\" or \"CSV\"")),
            },
            Some(other) => {
                return Err(self.report(
                    at,
                    field,
                    format!("must be a string, found {}", other.kind()),
                ));
            }
            None => return Err(self.report(at, field, "is required with the s3:getObject reader")),
        };
        for key in CSV_ONLY {
            if get(config, key).is_some() {
                self.report(
                    at,
                    &format!("ItemReader.ReaderConfig.{key}"),
                    "only applies when InputType is \"CSV\"",
                );
            }
        }
        Ok(input_type)
    }

    /// The CSV options of an `s3:getObject` reader.
    fn csv_options(
        &mut self,
        at: Option<&str>,
        config: &[(String, Node)],
    ) -> Parsed<ReaderInputType> {
        let headers_field = "ItemReader.ReaderConfig.CSVHeaders";
        let header_location = match get(config, "CSVHeaderLocation") {
            None => Ok("FIRST_ROW"),
            Some(Node::String(location)) if location == "FIRST_ROW" || location == "GIVEN" => {
                Ok(location.as_str())
            }
            Some(_) => Err(self.report(
                at,
                "ItemReader.ReaderConfig.CSVHeaderLocation",
                "must be \"FIRST_ROW\" or \"GIVEN\"",
            )),
        };
        let header_location = match (header_location?, get(config, "CSVHeaders")) {
            ("FIRST_ROW", None) => Ok(CsvHeaderLocation::FirstRow),
            ("FIRST_ROW", Some(_)) => Err(self.report(
                at,
                headers_field,
                "only applies when CSVHeaderLocation is \"GIVEN\"",
            )),
            (_, Some(Node::Array(headers))) if !headers.is_empty() => {
                let names: Option<Vec<String>> =
                    headers.iter().map(|header| header.as_str().map(str::to_owned)).collect();
                match names {
                    Some(names) => Ok(CsvHeaderLocation::Given(names)),
                    None => Err(self.report(at, headers_field, "must be an array of strings")),
                }
            }
            (_, Some(_)) => {
                Err(self.report(at, headers_field, "must be a non-empty array of column names"))
            }
            (_, None) => Err(self.report(
                at,
                headers_field,
                "is required when CSVHeaderLocation is \"GIVEN\"",
            )),
        };
        let delimiter = match get(config, "CSVDelimiter") {
            None => Ok(CsvDelimiter::Comma),
            Some(Node::String(name)) => match name.as_str() {
                "COMMA" => Ok(CsvDelimiter::Comma),
                "PIPE" => Ok(CsvDelimiter::Pipe),
                "SEMICOLON" => Ok(CsvDelimiter::Semicolon),
                "SPACE" => Ok(CsvDelimiter::Space),
                "TAB" => Ok(CsvDelimiter::Tab),
                _ => Err(Reported),
            },
            Some(_) => Err(Reported),
        }
        .map_err(|Reported| {
            self.report(
                at,
                "ItemReader.ReaderConfig.CSVDelimiter",
                "must be \"COMMA\", \"PIPE\", \"SEMICOLON\", \"SPACE\" or \"TAB\"",
            )
        });
        Ok(ReaderInputType::Csv { header_location: header_location?, delimiter: delimiter? })
    }

    /// A Distributed Map's `ItemBatcher`.
    fn item_batcher(
        &mut self,
        at: Option<&str>,
        node: Option<&Node>,
    ) -> Parsed<Option<ItemBatcher>> {
        let Some(node) = node else { return Ok(None) };
        let Some(entries) = node.as_object() else {
            return Err(self.report(
                at,
                "ItemBatcher",
                format!("must be an object, found {}", node.kind()),
            ));
        };
        self.check_fields(
            at,
            "ItemBatcher.",
            entries,
            &[
                "MaxItemsPerBatch",
                "MaxItemsPerBatchPath",
                "MaxInputBytesPerBatch",
                "MaxInputBytesPerBatchPath",
                "BatchInput",
            ],
            "an ItemBatcher",
        );
        let max_items_per_batch =
            self.dynamic_int(at, "ItemBatcher.", entries, "MaxItemsPerBatch", 1, u64::MAX);
        let max_input_bytes_per_batch = self.dynamic_int(
            at,
            "ItemBatcher.",
            entries,
            "MaxInputBytesPerBatch",
            1,
            MAX_BATCH_BYTES,
        );
        let batch_input = match (self.language, get(entries, "BatchInput")) {
            (_, None) => Ok(None),
            (Language::JsonPath, node) => {
                self.opt_template(at, "ItemBatcher.BatchInput", node).map(|t| t.map(Payload::Paths))
            }
            (Language::Jsonata, node) => self
                .jsonata_template(at, "ItemBatcher.BatchInput", node)
                .map(|t| t.map(Payload::Expressions)),
        };
        let has_limit = [
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
        ]
        .into_iter()
        .any(|key| get(entries, key).is_some());
        if !has_limit {
            self.report(
                at,
                "ItemBatcher",
                "needs MaxItemsPerBatch, MaxItemsPerBatchPath, MaxInputBytesPerBatch or \
                 MaxInputBytesPerBatchPath",
            );
        }
        Ok(Some(ItemBatcher {
            max_items_per_batch: max_items_per_batch?,
            max_input_bytes_per_batch: max_input_bytes_per_batch?,
            batch_input: batch_input?,
        }))
    }

    /// A Distributed Map's `ResultWriter`.
    fn result_writer(
        &mut self,
        at: Option<&str>,
        node: Option<&Node>,
    ) -> Parsed<Option<ResultWriter>> {
        let Some(node) = node else { return Ok(None) };
        let Some(entries) = node.as_object() else {
            return Err(self.report(
                at,
                "ResultWriter",
                format!("must be an object, found {}", node.kind()),
            ));
        };
        self.check_fields(
            at,
            "ResultWriter.",
            entries,
            &["Resource", self.payload_key()],
            "a ResultWriter",
        );
        let payload_key = format!("ResultWriter.{}", self.payload_key());
        let resource = match get(entries, "Resource") {
            Some(Node::String(resource)) if states_integration(resource).as_deref() == Some("s3:putObject") => Ok(()),
            Some(Node::String(resource)) => Err(self.report(
                at,
                "ResultWriter.Resource",
                format!("unsupported ResultWriter resource {resource:?}; supported: arn:aws:states:::s3:putObject"),
            )),
            Some(other) => {
                Err(self.report(at, "ResultWriter.Resource", format!("must be a string, found {}", other.kind())))
            }
            None => Err(self.report(at, "ResultWriter.Resource", "is required")),
        };
        let parameters = match get(entries, self.payload_key()) {
            Some(node) => self.s3_parameters(at, &payload_key, node, &["Bucket"], &["Prefix"]),
            None => {
                Err(self.report(at, &payload_key, "is required (Bucket and optionally Prefix)"))
            }
        };
        resource?;
        Ok(Some(ResultWriter { parameters: parameters? }))
    }

    /// The payload key of an S3 reader or writer: `Parameters`, or `Arguments` in JSONata.
    pub(super) fn payload_key(&self) -> &'static str {
        match self.language {
            Language::JsonPath => "Parameters",
            Language::Jsonata => "Arguments",
        }
    }

    /// The `Parameters` (`Arguments`) of an S3 reader or writer: an object with exactly the
    /// given keys (each literal, `.$` in JSONPath, `{% … %}` in JSONata), or in JSONata one
    /// expression (its keys are checked when it is evaluated).
    fn s3_parameters(
        &mut self,
        at: Option<&str>,
        field: &str,
        node: &Node,
        required: &[&str],
        optional: &[&str],
    ) -> Parsed<Payload> {
        if self.language == Language::Jsonata
            && let Node::String(text) = node
            && crate::jsonata::is_expression(text)
        {
            return Template::parse(&node.to_value())
                .map(Payload::Expressions)
                .map_err(|message| self.report(at, field, message));
        }
        let Some(entries) = node.as_object() else {
            return Err(self.report(
                at,
                field,
                format!("must be an object, found {}", node.kind()),
            ));
        };
        let mut complete = true;
        for (key, _) in entries {
            let name = key.strip_suffix(".$").unwrap_or(key);
            if !required.contains(&name) && !optional.contains(&name) {
                let allowed: Vec<&str> = required.iter().chain(optional).copied().collect();
                self.report(
                    at,
                    &format!("{field}.{key}"),
                    format!("is {UNSUPPORTED} here; allowed: {}", allowed.join(", ")),
                );
                complete = false;
            }
        }
        for name in required {
            let dynamic = format!("{name}.$");
            if get(entries, name).is_none() && get(entries, &dynamic).is_none() {
                self.report(at, field, format!("needs {name} (or {dynamic})"));
                complete = false;
            }
        }
        let template = match self.language {
            Language::JsonPath => self.template(at, field, node).map(Payload::Paths),
            Language::Jsonata => Template::parse(&node.to_value())
                .map(Payload::Expressions)
                .map_err(|message| self.report(at, field, message)),
        };
        if !complete {
            return Err(Reported);
        }
        template
    }

    /// A Distributed Map's `Label`.
    fn label(&mut self, at: Option<&str>, node: Option<&Node>) -> Parsed<Option<String>> {
        let text = match node {
            None => return Ok(None),
            Some(Node::String(text)) => text,
            Some(other) => {
                return Err(self.report(
                    at,
                    "Label",
                    format!("must be a string, found {}", other.kind()),
                ));
            }
        };
        let n_chars = text.chars().count();
        if n_chars == 0 || n_chars > MAX_LABEL_CHARS {
            return Err(self.report(
                at,
                "Label",
                format!("must have 1 to {MAX_LABEL_CHARS} characters, found {n_chars}"),
            ));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || LABEL_FORBIDDEN.contains(*c))
        {
            return Err(self.report(
                at,
                "Label",
                format!(
                    "must not contain {bad:?}: no whitespace, control characters or any of \
                     ? * < > {{ }} [ ] : ; , \\ ^ ~ $ # % & \" | `"
                ),
            ));
        }
        Ok(Some(text.clone()))
    }

    /// `ToleratedFailurePercentage` / `ToleratedFailurePercentagePath`.
    fn dynamic_percentage(
        &mut self,
        at: Option<&str>,
        entries: &[(String, Node)],
    ) -> Parsed<Option<Dynamic<f64>>> {
        let key = "ToleratedFailurePercentage";
        let path_key = "ToleratedFailurePercentagePath";
        match (get(entries, key), get(entries, path_key)) {
            (Some(_), Some(_)) => {
                Err(self.report(at, path_key, format!("cannot be given together with {key}")))
            }
            (Some(node), None) => match self.dynamic_expression(at, key, node) {
                Some(expression) => expression.map(|e| Some(Dynamic::Expression(e))),
                None => self
                    .number(at, key, node, 0.0, Some(100.0))
                    .map(|value| Some(Dynamic::Fixed(value))),
            },
            (None, Some(node)) => {
                self.value_path(at, path_key, node).map(|path| Some(Dynamic::Path(path)))
            }
            (None, None) => Ok(None),
        }
    }
}

/// Names of the states in `machine` (and its Parallel branches and inline Maps) that run
/// `states:startExecution.sync` or `.sync:2`.
fn sync_tasks<'m>(machine: &'m StateMachine, out: &mut Vec<&'m str>) {
    for state in &machine.states {
        match &state.kind {
            StateKind::Task(task)
                if matches!(
                    task.resource,
                    Resource::StartExecution { mode: ExecMode::Sync | ExecMode::Sync2 }
                ) =>
            {
                out.push(&state.name);
            }
            StateKind::Parallel(parallel) => {
                for branch in &parallel.branches {
                    sync_tasks(branch, out);
                }
            }
            StateKind::Map(map) if map.mode == MapMode::Inline => sync_tasks(&map.processor, out),
            _ => {}
        }
    }
}
