//! `graphetl validate`: check a spec and its SQL files without running anything.

use std::path::PathBuf;
use std::process::ExitCode;

use graphetl_core::DatasetSpec;

/// Arguments of `graphetl validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The dataset spec (TOML), e.g. datasets/service-calls.toml.
    #[arg(long)]
    dataset: PathBuf,
}

/// Renders a query exactly as the aggregate step does (`graphetl_athena::sql::render_sql`, with
/// sample values) and parses the result (Athena's dialect is Trino's; sqlparser's generic dialect
/// accepts the constructs our queries use), so `validate` and the real render cannot disagree.
fn check_sql(sql: &str) -> Result<(), String> {
    let filled =
        graphetl_athena::sql::render_sql(sql, "curated_table", "2026-01-01", "2026-01-02", "run")
            .map_err(|e| e.to_string())?;
    let dialect = sqlparser::dialect::GenericDialect {};
    let statements = sqlparser::parser::Parser::parse_sql(&dialect, &filled)
        .map_err(|e| format!("does not parse: {e}"))?;
    match statements.as_slice() {
        [sqlparser::ast::Statement::Query(_)] => Ok(()),
        [] => Err("no statement".into()),
        [_] => Err("expected one SELECT query".into()),
        _ => Err("expected one statement, found several".into()),
    }
}

/// Problems in the SQL files a spec refers to (missing, empty, unknown placeholders).
pub(crate) fn sql_problems(spec: &DatasetSpec, spec_dir: &std::path::Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, query) in spec.queries.iter().enumerate() {
        let path = spec_dir.join(&query.sql);
        let at = format!("aggregate.queries[{i}].sql");
        match std::fs::read_to_string(&path) {
            Err(e) => problems.push(format!("{at}: cannot read {}: {e}", path.display())),
            Ok(sql) if sql.trim().is_empty() => {
                problems.push(format!("{at}: {} is empty", path.display()))
            }
            Ok(sql) => {
                if let Err(e) = check_sql(&sql) {
                    problems.push(format!("{at}: {}: {e}", path.display()));
                }
            }
        }
    }
    problems
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let text = match std::fs::read_to_string(&args.dataset) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", args.dataset.display());
            return Ok(ExitCode::from(1));
        }
    };
    let origin = args.dataset.display().to_string();
    let spec = match DatasetSpec::from_toml_str(&text, &origin) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    let spec_dir = args.dataset.parent().unwrap_or(std::path::Path::new("."));
    let problems = sql_problems(&spec, spec_dir);
    if !problems.is_empty() {
        for p in problems {
            eprintln!("{origin}: {p}");
        }
        return Ok(ExitCode::from(1));
    }
    println!(
        "{origin}: ok: dataset {} ({} columns, {} queries, {} vertex and {} edge mappings)",
        spec.name,
        spec.columns.len(),
        spec.queries.len(),
        spec.graph.vertices.len(),
        spec.graph.edges.len()
    );
    Ok(ExitCode::SUCCESS)
}
