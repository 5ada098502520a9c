//! Trino functions the dataset SQL may use that DataFusion lacks or names differently,
//! registered as functions (no SQL text is rewritten).
//!
//! | Trino (Athena)                 | Here                                                        |
//! |--------------------------------|-------------------------------------------------------------|
//! | `approx_percentile(x, p)`      | DataFusion's exact `percentile_cont(x, p)` under Trino's name: the exact percentile, interpolated between the two neighbouring values, which is within Trino's approximation; exact rather than t-digest because a t-digest depends on the order partial results merge in, and local runs must give the same bytes twice |
//! | `approx_distinct(x)`           | DataFusion's own (HyperLogLog), same name, for integers, strings and dates; not for doubles here (cast them) |
//! | `date_parse(text, format)`     | a scalar function taking Trino's MySQL-style format (`%Y-%m-%d %H:%i:%s`, `%c`, `%e`, `%f`, `%T`, `%p`…) and returning a timestamp (UTC, milliseconds); text that does not match gives NULL here where Trino fails the query |
//!
//! Everything else our SQL uses (`count`, `sum`, `min`, `max`, `CAST(… AS DOUBLE)`, `CASE`,
//! `coalesce`, `FULL OUTER JOIN`, `row_number() OVER`, `BETWEEN` on the `dt` strings) means the
//! same in both engines.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray, TimestampMillisecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::functions_aggregate::percentile_cont::percentile_cont_udaf;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// Registers the Trino-named functions on `ctx` (see the module docs).
pub fn register_trino_aliases(ctx: &SessionContext) {
    let approx = percentile_cont_udaf().as_ref().clone().with_aliases(["approx_percentile"]);
    ctx.register_udaf(approx);
    ctx.register_udf(ScalarUDF::new_from_impl(DateParse::new()));
}

/// Trino's `date_parse(string, format)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateParse {
    signature: Signature,
}

impl DateParse {
    fn new() -> DateParse {
        DateParse { signature: Signature::string(2, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for DateParse {
    fn name(&self) -> &str {
        "date_parse"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Millisecond, None))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [text, format] = args.args.as_slice() else {
            return Err(DataFusionError::Plan("date_parse takes (text, format)".to_owned()));
        };
        let format = match format {
            ColumnarValue::Scalar(value) => match value.cast_to(&DataType::Utf8)? {
                ScalarValue::Utf8(Some(f)) => Some(mysql_to_chrono(&f)?),
                _ => None,
            },
            ColumnarValue::Array(_) => {
                return Err(DataFusionError::NotImplemented(
                    "date_parse: the format must be a constant".to_owned(),
                ));
            }
        };
        let texts: ArrayRef = cast(&text.to_array(args.number_rows)?, &DataType::Utf8)?;
        let texts = texts
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| DataFusionError::Internal("date_parse: cast to Utf8".to_owned()))?;
        let out: TimestampMillisecondArray = texts
            .iter()
            .map(|value| match (value, &format) {
                (Some(v), Some(f)) => parse_with(v, f),
                _ => None,
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}

/// Milliseconds since the epoch of `text` read with a chrono format (date-only formats give
/// midnight), or None.
fn parse_with(text: &str, format: &str) -> Option<i64> {
    use chrono::{NaiveDate, NaiveDateTime};
    if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
        return Some(t.and_utc().timestamp_millis());
    }
    NaiveDate::parse_from_str(text, format)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Translates Trino's MySQL-style date format to chrono's.
fn mysql_to_chrono(format: &str) -> Result<String> {
    let mut out = String::with_capacity(format.len() + 4);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            return Err(DataFusionError::Plan(format!(
                "date_parse: format {format:?} ends with a lone %"
            )));
        };
        let mapped = match spec {
            'Y' => "%Y",
            'y' => "%y",
            'm' => "%m",
            'c' => "%-m",
            'd' => "%d",
            'e' => "%-d",
            'H' | 'k' => "%H",
            'h' | 'I' | 'l' => "%I",
            'i' => "%M",
            's' | 'S' => "%S",
            'f' => "%.f",
            'p' => "%p",
            'T' => "%H:%M:%S",
            'r' => "%I:%M:%S %p",
            'M' => "%B",
            'b' => "%b",
            'W' => "%A",
            'a' => "%a",
            'j' => "%j",
            '%' => "%%",
            other => {
                return Err(DataFusionError::NotImplemented(format!(
                    "date_parse: format specifier %{other} is not supported locally"
                )));
            }
        };
        if spec == 'f' && out.ends_with('.') {
            // `%s.%f` in MySQL style: chrono's `%.f` includes the dot.
            out.pop();
        }
        out.push_str(mapped);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn mysql_formats_translate() {
        assert_eq!(mysql_to_chrono("%Y-%m-%d %H:%i:%s").unwrap(), "%Y-%m-%d %H:%M:%S");
        assert_eq!(mysql_to_chrono("%Y-%m-%d %T.%f").unwrap(), "%Y-%m-%d %H:%M:%S%.f");
        assert_eq!(mysql_to_chrono("%c/%e/%Y").unwrap(), "%-m/%-d/%Y");
        assert!(mysql_to_chrono("%Y-%").is_err());
        assert!(mysql_to_chrono("%Q").is_err());
    }

    #[test]
    fn parse_with_reads_dates_and_datetimes() {
        assert_eq!(parse_with("1970-01-02 00:00:01", "%Y-%m-%d %H:%M:%S"), Some(86_401_000));
        assert_eq!(parse_with("1970-01-02", "%Y-%m-%d"), Some(86_400_000));
        assert_eq!(parse_with("02/01/1970", "%Y-%m-%d"), None);
    }
}
