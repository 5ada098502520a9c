//! infra/template.yaml against the code it deploys: every `${Placeholder}` of an ASL file is
//! filled by the DefinitionSubstitutions of the state machine that loads it, every
//! DefinitionUri exists, every Lambda binary has a function `sam build` builds from the lambda
//! crate, and the observability settings (state machine logs at ERROR without execution data,
//! X-Ray as the `XRayTracing` option) hold.
//!
//! The template is read as text with a minimal, indentation-based reader (no YAML dependency):
//! enough for the block mappings the template uses, not a general YAML parser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use graphetl_states::asl::placeholders;

use super::repo;

/// One `key: value` line of a block mapping, with the lines nested under it.
struct Entry<'a> {
    key: &'a str,
    value: &'a str,
    body: Vec<&'a str>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Blank lines and whole-line comments carry no structure.
fn is_content(line: &str) -> bool {
    let trimmed = line.trim();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

/// The entries of the mapping formed by `lines` (its keys sit at the smallest indentation).
fn entries<'a>(lines: &[&'a str]) -> Vec<Entry<'a>> {
    let content: Vec<&'a str> = lines.iter().copied().filter(|l| is_content(l)).collect();
    let Some(level) = content.iter().map(|l| indent(l)).min() else {
        return Vec::new();
    };
    let mut out: Vec<Entry<'a>> = Vec::new();
    for line in content {
        if indent(line) == level {
            let trimmed = line.trim();
            let (key, value) = trimmed.split_once(':').unwrap_or((trimmed, ""));
            let value = value.split(" #").next().unwrap_or("").trim();
            out.push(Entry { key: key.trim().trim_matches(['\'', '"']), value, body: Vec::new() });
        } else if let Some(last) = out.last_mut() {
            last.body.push(line);
        }
    }
    out
}

fn entry<'e, 'a>(entries: &'e [Entry<'a>], key: &str) -> Option<&'e Entry<'a>> {
    entries.iter().find(|e| e.key == key)
}

/// A resource of the template: logical id, type and the entries under `Properties`.
struct Resource<'a> {
    id: &'a str,
    kind: &'a str,
    metadata: Vec<Entry<'a>>,
    properties: Vec<Entry<'a>>,
}

fn resources(template: &str) -> Vec<Resource<'_>> {
    let lines: Vec<&str> = template.lines().collect();
    let top = entries(&lines);
    let section =
        entry(&top, "Resources").unwrap_or_else(|| panic!("infra/template.yaml has no Resources"));
    entries(&section.body)
        .into_iter()
        .map(|resource| {
            let body = entries(&resource.body);
            let kind = entry(&body, "Type").map_or("", |e| e.value);
            let metadata = entry(&body, "Metadata").map(|e| entries(&e.body)).unwrap_or_default();
            let properties =
                entry(&body, "Properties").map(|e| entries(&e.body)).unwrap_or_default();
            Resource { id: resource.key, kind, metadata, properties }
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The logical id an intrinsic names: `!Ref X`, `!GetAtt X.Arn`, `!GetAtt X.Name`.
fn referenced_id(value: &str) -> Option<&str> {
    let rest = value.strip_prefix("!Ref ").or_else(|| value.strip_prefix("!GetAtt "))?;
    Some(rest.trim().split('.').next().unwrap_or(""))
}

#[test]
fn every_asl_placeholder_is_substituted_by_the_state_machine_that_loads_it() {
    let infra = repo().join("infra");
    let template = read(&infra.join("template.yaml"));
    let resources = resources(&template);
    let ids: BTreeSet<&str> = resources.iter().map(|r| r.id).collect();

    let mut deployed = BTreeSet::new();
    let mut substituted = BTreeSet::new();
    for machine in resources.iter().filter(|r| r.kind == "AWS::Serverless::StateMachine") {
        let uri = entry(&machine.properties, "DefinitionUri")
            .map(|e| e.value)
            .unwrap_or_else(|| panic!("{} has no DefinitionUri", machine.id));
        let path = infra.join(uri);
        assert!(path.is_file(), "{}: DefinitionUri {uri} does not exist", machine.id);
        deployed.insert(canonical(&path));

        let substitutions: BTreeMap<&str, &str> =
            entry(&machine.properties, "DefinitionSubstitutions")
                .map(|e| entries(&e.body).iter().map(|s| (s.key, s.value)).collect())
                .unwrap_or_default();
        let keys: BTreeSet<String> = substitutions.keys().map(|k| (*k).to_owned()).collect();
        let used = placeholders(&read(&path));
        let missing: Vec<&String> = used.difference(&keys).collect();
        assert!(
            missing.is_empty(),
            "{}: {uri} uses {missing:?}, which DefinitionSubstitutions does not fill",
            machine.id
        );
        let unused: Vec<&String> = keys.difference(&used).collect();
        assert!(
            unused.is_empty(),
            "{}: substitutions {unused:?} are not used by {uri}",
            machine.id
        );
        for (key, value) in &substitutions {
            let target = referenced_id(value).unwrap_or_else(|| {
                panic!(
                    "{}: {key} should be a !Ref or !GetAtt of a resource, is {value}",
                    machine.id
                )
            });
            assert!(
                ids.contains(target),
                "{}: {key} refers to unknown resource {target}",
                machine.id
            );
        }
        substituted.extend(keys);
    }

    let shipped: BTreeSet<PathBuf> = std::fs::read_dir(repo().join("statemachine"))
        .unwrap_or_else(|e| panic!("statemachine/: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
        // The JSONata version of process-files is a local alternative (GRAPHETL_PROCESS_FILES_ASL),
        // not deployed.
        .filter(|p| !p.to_string_lossy().ends_with(".jsonata.asl.json"))
        .map(|p| canonical(&p))
        .collect();
    assert_eq!(deployed.len(), 2, "expected the pipeline and process-files state machines");
    assert_eq!(
        deployed, shipped,
        "every statemachine/*.asl.json is deployed exactly by the template"
    );

    let known: BTreeSet<String> =
        super::pipeline::PLACEHOLDERS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(substituted, known, "the template substitutes exactly the known placeholders");
}

/// `sam build` with `BuildMethod: rust-cargolambda` needs CodeUri to be the folder holding the
/// Cargo manifest (aws-lambda-builders runs `cargo lambda build --release --arm64 --bin <Binary>`
/// there), and BuildProperties.Binary to name one of that crate's binaries.
#[test]
fn every_lambda_binary_has_a_function_sam_builds_from_the_lambda_crate() {
    let template = read(&repo().join("infra/template.yaml"));
    let mut functions = BTreeSet::new();
    for function in resources(&template).iter().filter(|r| r.kind == "AWS::Serverless::Function") {
        let code_uri = entry(&function.properties, "CodeUri").map_or("", |e| e.value);
        assert_eq!(code_uri, "../crates/lambda", "{}: CodeUri", function.id);
        assert!(
            repo().join("infra").join(code_uri).join("Cargo.toml").is_file(),
            "{}: {code_uri} has no Cargo.toml",
            function.id
        );
        assert_eq!(
            entry(&function.metadata, "BuildMethod").map(|e| e.value),
            Some("rust-cargolambda"),
            "{}",
            function.id
        );
        let built = entry(&function.metadata, "BuildProperties")
            .and_then(|e| entry(&entries(&e.body), "Binary").map(|b| b.value.to_owned()));
        let binary = built.unwrap_or_else(|| panic!("{}: no BuildProperties.Binary", function.id));
        functions.insert(binary);
    }
    let expected: BTreeSet<String> =
        ["aggregate", "extract", "load", "transform"].iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(functions, expected);

    // Every Lambda binary the workspace builds is deployed (extract, aggregate and load are
    // declared ahead of their binaries).
    let manifest = read(&repo().join("crates/lambda/Cargo.toml"));
    let lines: Vec<&str> = manifest.lines().collect();
    let bins: BTreeSet<String> = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.trim() == "[[bin]]")
        .filter_map(|(at, _)| {
            lines[at + 1..]
                .iter()
                .take_while(|l| !l.trim_start().starts_with('['))
                .find_map(|l| l.trim().strip_prefix("name"))
                .map(|rest| rest.trim_start_matches([' ', '=']).trim().trim_matches('"').to_owned())
        })
        .collect();
    assert!(bins.contains("transform"), "{bins:?}");
    let undeployed: Vec<&String> = bins.difference(&functions).collect();
    assert!(undeployed.is_empty(), "Lambda binaries without a function: {undeployed:?}");
}

/// Issue 19's deploy guarantees, against the names the code reads: the extract function gets
/// its allowed hosts from the template (the variable `ExtractSettings::from_env` reads),
/// secrets are scoped to `graphetl/<dataset>/`, every function has reserved concurrency, the
/// schedule has a dead-letter queue, and the data bucket is versioned and logged.
#[test]
fn the_template_wires_the_security_settings_the_code_reads() {
    let template = read(&repo().join("infra/template.yaml"));
    let all = resources(&template);
    let resource = |id: &str| {
        all.iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no resource {id} in the template"))
    };
    let extract = resource("ExtractFunction");
    let variables = entry(&extract.properties, "Environment")
        .and_then(|e| entry(&entries(&e.body), "Variables").map(|v| entries(&v.body)))
        .unwrap_or_default();
    assert_eq!(
        entry(&variables, "GRAPHETL_SOURCE_ALLOWED_HOSTS").map(|e| e.value),
        Some("!Ref SourceAllowedHosts")
    );
    let kit = read(&repo().join("crates/lambda/src/kit.rs"));
    assert!(kit.contains("\"GRAPHETL_SOURCE_ALLOWED_HOSTS\""), "kit.rs reads another name");
    let policies =
        entry(&extract.properties, "Policies").map(|e| e.body.join("\n")).unwrap_or_default();
    assert!(
        policies.contains("parameter/graphetl/*/*") && policies.contains("secret:graphetl/*/*")
    );
    assert!(!policies.contains("parameter/graphetl/*'"), "{policies}");

    for function in all.iter().filter(|r| r.kind == "AWS::Serverless::Function") {
        assert!(
            entry(&function.properties, "ReservedConcurrentExecutions").is_some(),
            "{} has no reserved concurrency",
            function.id
        );
    }
    let target = entry(&resource("PipelineSchedule").properties, "Target")
        .map(|e| entries(&e.body))
        .unwrap_or_default();
    let dlq = entry(&target, "DeadLetterConfig").map(|e| e.body.join("\n")).unwrap_or_default();
    assert!(dlq.contains("!GetAtt ScheduleDeadLetterQueue.Arn"), "{dlq}");
    assert_eq!(resource("ScheduleDeadLetterQueue").kind, "AWS::SQS::Queue");
    let alarm =
        resource("ScheduleDeadLetterAlarm").properties.iter().map(|e| e.value).collect::<Vec<_>>();
    assert!(alarm.contains(&"ApproximateNumberOfMessagesVisible"), "{alarm:?}");

    let bucket = resource("DataBucket");
    let versioning = entry(&bucket.properties, "VersioningConfiguration")
        .map(|e| e.body.join("\n"))
        .unwrap_or_default();
    assert!(versioning.contains("Status: Enabled"), "{versioning}");
    let logging = entry(&bucket.properties, "LoggingConfiguration")
        .map(|e| e.body.join("\n"))
        .unwrap_or_default();
    assert!(logging.contains("!Ref AccessLogBucket"), "{logging}");
    let lifecycle = entry(&bucket.properties, "LifecycleConfiguration")
        .map(|e| e.body.join("\n"))
        .unwrap_or_default();
    assert!(lifecycle.contains("NoncurrentVersionExpiration"), "{lifecycle}");
}

/// Both state machines log to their own log group at ERROR without execution data (inputs and
/// outputs can hold source records), and X-Ray on the functions and state machines follows the
/// `XRayTracing` parameter.
#[test]
fn state_machines_log_errors_only_and_tracing_is_an_option() {
    let template = read(&repo().join("infra/template.yaml"));
    let all = resources(&template);
    let machines: Vec<&Resource<'_>> =
        all.iter().filter(|r| r.kind == "AWS::Serverless::StateMachine").collect();
    assert_eq!(machines.len(), 2, "the pipeline and process-files state machines");
    for machine in machines {
        let logging = entry(&machine.properties, "Logging")
            .map(|e| entries(&e.body))
            .unwrap_or_else(|| panic!("{}: no Logging", machine.id));
        assert_eq!(entry(&logging, "Level").map(|e| e.value), Some("ERROR"), "{}", machine.id);
        assert_eq!(
            entry(&logging, "IncludeExecutionData").map(|e| e.value),
            Some("false"),
            "{}",
            machine.id
        );
        let destinations = entry(&logging, "Destinations").map_or(Vec::new(), |e| e.body.clone());
        let group = destinations
            .iter()
            .find_map(|l| l.trim().strip_prefix("LogGroupArn:"))
            .and_then(|v| referenced_id(v.trim()))
            .unwrap_or_else(|| panic!("{}: no log group", machine.id));
        let log_group = all
            .iter()
            .find(|r| r.id == group)
            .unwrap_or_else(|| panic!("{}: log group {group} is not in the template", machine.id));
        assert!(entry(&log_group.properties, "RetentionInDays").is_some(), "{group}: retention");
        let tracing =
            entry(&machine.properties, "Tracing").map_or(Vec::new(), |e| entries(&e.body));
        assert_eq!(
            entry(&tracing, "Enabled").map(|e| e.value),
            Some("!If [UseXRay, true, false]"),
            "{}",
            machine.id
        );
    }
    assert!(template.contains("    Tracing: !If [UseXRay, Active, PassThrough]\n"));
    assert!(template.contains("  UseXRay: !Equals [!Ref XRayTracing, 'true']\n"));
}
