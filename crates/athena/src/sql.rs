//! Placeholder substitution for the dataset's SQL files.
//!
//! The SQL files are written in Athena's (Trino's) dialect with four placeholders: `{table}`,
//! `{dt_from}`, `{dt_to}` and `{run_id}`. [`render_sql`] is a pure function: it validates each
//! value against a narrow alphabet first (so no value can change the query's structure: they land
//! inside identifiers or single-quoted literals), then replaces every placeholder, and rejects any
//! other `{…}` so a typo fails before a query is started rather than inside the engine.

use chrono::NaiveDate;

/// The placeholders [`render_sql`] knows.
pub const PLACEHOLDERS: [&str; 4] = ["table", "dt_from", "dt_to", "run_id"];

/// Why a SQL template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The template uses placeholders other than [`PLACEHOLDERS`].
    #[error("unknown placeholder(s) {}: only {{table}}, {{dt_from}}, {{dt_to}} and {{run_id}} are substituted", names.iter().map(|n| format!("{{{n}}}")).collect::<Vec<_>>().join(", "))]
    UnknownPlaceholders {
        /// The unknown names, in order of first appearance.
        names: Vec<String>,
    },
    /// A `{` without a closing `}` on the same line.
    #[error("unclosed '{{' at line {line}")]
    UnclosedBrace {
        /// 1-based line of the brace.
        line: usize,
    },
    /// The table name is not a (optionally dotted) plain SQL identifier.
    #[error("table name {0:?} is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, dotted)")]
    BadTable(String),
    /// A window bound is not a `YYYY-MM-DD` date.
    #[error("{which} {value:?} is not a YYYY-MM-DD date")]
    BadDate {
        /// `dt_from` or `dt_to`.
        which: &'static str,
        /// The value given.
        value: String,
    },
    /// `dt_from` is after `dt_to`.
    #[error("dt_from {dt_from} is after dt_to {dt_to}")]
    EmptyWindow {
        /// The window's first day.
        dt_from: String,
        /// The window's last day.
        dt_to: String,
    },
    /// The run id is empty, longer than 128 characters or has characters outside
    /// `[A-Za-z0-9._:-]`.
    #[error("run id {0:?} must be 1-128 characters of [A-Za-z0-9._:-]")]
    BadRunId(String),
}

/// Substitutes the placeholders of `sql` after validating every value.
///
/// `table` must be a plain identifier, optionally dotted (`curated.service_calls`); `dt_from` and
/// `dt_to` must be `YYYY-MM-DD` dates with `dt_from <= dt_to`; `run_id` must be 1–128 characters
/// of `[A-Za-z0-9._:-]`. Every `{name}` in the text (comments included) must be one of
/// [`PLACEHOLDERS`]; a lone `}` is kept as is.
pub fn render_sql(
    sql: &str,
    table: &str,
    dt_from: &str,
    dt_to: &str,
    run_id: &str,
) -> Result<String, RenderError> {
    check_table(table)?;
    let from = check_date("dt_from", dt_from)?;
    let to = check_date("dt_to", dt_to)?;
    if from > to {
        return Err(RenderError::EmptyWindow {
            dt_from: dt_from.to_owned(),
            dt_to: dt_to.to_owned(),
        });
    }
    check_run_id(run_id)?;

    let mut out = String::with_capacity(sql.len() + 64);
    let mut unknown: Vec<String> = Vec::new();
    let mut rest = sql;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find(['}', '\n']).filter(|&i| after[i..].starts_with('}'));
        let Some(close) = close else {
            let line = sql[..sql.len() - rest.len() + open].matches('\n').count() + 1;
            return Err(RenderError::UnclosedBrace { line });
        };
        let name = &after[..close];
        match name {
            "table" => out.push_str(table),
            "dt_from" => out.push_str(dt_from),
            "dt_to" => out.push_str(dt_to),
            "run_id" => out.push_str(run_id),
            other => {
                if !unknown.iter().any(|u| u == other) {
                    unknown.push(other.to_owned());
                }
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(RenderError::UnknownPlaceholders { names: unknown })
    }
}

fn check_table(table: &str) -> Result<(), RenderError> {
    let part_ok = |p: &str| {
        let mut chars = p.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !table.is_empty() && table.split('.').all(part_ok) {
        Ok(())
    } else {
        Err(RenderError::BadTable(table.to_owned()))
    }
}

fn check_date(which: &'static str, value: &str) -> Result<NaiveDate, RenderError> {
    let shaped = value.len() == 10
        && value
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    shaped
        .then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| RenderError::BadDate { which, value: value.to_owned() })
}

fn check_run_id(run_id: &str) -> Result<(), RenderError> {
    let ok = (1..=128).contains(&run_id.len())
        && run_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if ok { Ok(()) } else { Err(RenderError::BadRunId(run_id.to_owned())) }
}
