//! A raw input field as the readers hand it to the sink, before conversion.

use std::borrow::Cow;

use graphetl_core::convert::Value;

/// One input field for one output column.
#[derive(Debug, Clone)]
pub(crate) enum Cell<'a> {
    /// The field is absent or null in the input.
    Absent,
    /// Text to convert with the column's converter (after null-token checks).
    Text(Cow<'a, str>),
    /// List items from a structured source (a JSON array).
    Items(Vec<Cow<'a, str>>),
    /// A value already of the column's type (typed Parquet input).
    Typed(Value<'static>),
    /// A field of a shape the column cannot take (e.g. a JSON object for an int).
    Invalid {
        /// The raw text, for the quarantine record.
        raw: String,
        /// Why it cannot be used.
        reason: String,
    },
}
