//! Column conversions: raw text → typed value, exactly, or a reason why not.
//!
//! Every function here is total: arbitrary input gives a value or a [`ConvError`], never a
//! panic. Decimals never pass through floating point. Dates and timestamps are UTC; a value
//! without an offset is taken as UTC.

use std::borrow::Cow;
use std::fmt;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

/// Why a value could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvError(pub String);

impl fmt::Display for ConvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(reason: impl Into<String>) -> Result<T, ConvError> {
    Err(ConvError(reason.into()))
}

/// A converted value, ready for an Arrow builder.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Text.
    Str(Cow<'a, str>),
    /// Boolean.
    Bool(bool),
    /// 64-bit integer.
    Int(i64),
    /// Finite float.
    Float(f64),
    /// Unscaled decimal (the column gives precision and scale).
    Decimal(i128),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
    /// List of strings.
    List(Vec<Cow<'a, str>>),
}

/// A compiled conversion for one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Converter {
    /// Text, optionally trimmed and checked against allowed values.
    String(StringRules),
    /// Boolean tokens.
    Bool(BoolTokens),
    /// Strict 64-bit integer.
    Int,
    /// Finite 64-bit float.
    Float,
    /// Money and decimal strings.
    Decimal(DecimalFormat),
    /// Calendar dates.
    Date(TimeFormats),
    /// UTC instants.
    Timestamp(TimeFormats),
    /// Separated lists.
    List(ListFormat),
}

impl Converter {
    /// Converts one non-null raw value.
    pub fn convert<'a>(&self, raw: &'a str) -> Result<Value<'a>, ConvError> {
        match self {
            Converter::String(rules) => rules.apply(raw).map(Value::Str),
            Converter::Bool(tokens) => tokens.parse(raw).map(Value::Bool),
            Converter::Int => parse_int(raw).map(Value::Int),
            Converter::Float => parse_float(raw).map(Value::Float),
            Converter::Decimal(format) => format.parse(raw).map(Value::Decimal),
            Converter::Date(formats) => formats.parse_date(raw).map(Value::Date),
            Converter::Timestamp(formats) => formats.parse_timestamp(raw).map(Value::Timestamp),
            Converter::List(format) => Ok(Value::List(format.split(raw))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// string

/// Rules for string columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StringRules {
    /// Trim surrounding whitespace.
    pub trim: bool,
    /// If set, the only values accepted.
    pub allowed: Option<Vec<String>>,
}

impl StringRules {
    fn apply<'a>(&self, raw: &'a str) -> Result<Cow<'a, str>, ConvError> {
        let value = if self.trim { raw.trim() } else { raw };
        if let Some(allowed) = &self.allowed
            && !allowed.iter().any(|a| a == value)
        {
            return err(format!("not one of the allowed values ({})", allowed.join(", ")));
        }
        Ok(Cow::Borrowed(value))
    }
}

// ---------------------------------------------------------------------------------------------
// bool

/// Default tokens for true.
pub const DEFAULT_TRUE: &[&str] =
    &["Y", "y", "1", "true", "TRUE", "True", "yes", "YES", "Yes", "T", "t"];
/// Default tokens for false.
pub const DEFAULT_FALSE: &[&str] =
    &["N", "n", "0", "false", "FALSE", "False", "no", "NO", "No", "F", "f"];

/// The tokens that mean true and false (compared after trimming).
#[derive(Debug, Clone, PartialEq)]
pub struct BoolTokens {
    true_values: Vec<String>,
    false_values: Vec<String>,
}

impl BoolTokens {
    /// Builds the token sets; `None` takes the defaults.
    pub fn new(true_values: Option<Vec<String>>, false_values: Option<Vec<String>>) -> BoolTokens {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        BoolTokens {
            true_values: true_values.unwrap_or_else(|| owned(DEFAULT_TRUE)),
            false_values: false_values.unwrap_or_else(|| owned(DEFAULT_FALSE)),
        }
    }

    /// A token that is both true and false, if any.
    pub fn overlap(&self) -> Option<&str> {
        self.true_values.iter().find(|t| self.false_values.contains(t)).map(String::as_str)
    }

    /// Parses one value.
    pub fn parse(&self, raw: &str) -> Result<bool, ConvError> {
        let value = raw.trim();
        if self.true_values.iter().any(|t| t == value) {
            Ok(true)
        } else if self.false_values.iter().any(|t| t == value) {
            Ok(false)
        } else {
            err(format!(
                "not a boolean token (true: {}; false: {})",
                self.true_values.join(", "),
                self.false_values.join(", ")
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// int and float

/// Parses a strict 64-bit integer: optional sign, ASCII digits, surrounding whitespace.
pub fn parse_int(raw: &str) -> Result<i64, ConvError> {
    let value = raw.trim();
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return err("not an integer");
    }
    let unsigned = value.strip_prefix('+').unwrap_or(value);
    unsigned.parse::<i64>().or_else(|_| err("integer out of range (64-bit)"))
}

/// Parses a finite 64-bit float (decimal or exponent notation).
pub fn parse_float(raw: &str) -> Result<f64, ConvError> {
    let value = raw.trim();
    let plausible = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        && value.bytes().any(|b| b.is_ascii_digit());
    if !plausible {
        return err("not a number");
    }
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => err("number out of range for a float"),
        Err(_) => err("not a number"),
    }
}

// ---------------------------------------------------------------------------------------------
// decimal

/// Default currency symbols stripped from money strings.
pub const DEFAULT_CURRENCY_SYMBOLS: &[&str] = &["$", "€", "£", "¥", "₩"];

/// How money and decimal strings are read for a `decimal(P,S)` column.
#[derive(Debug, Clone, PartialEq)]
pub struct DecimalFormat {
    /// Total digits.
    pub precision: u8,
    /// Digits after the point.
    pub scale: u8,
    currency_symbols: Vec<String>,
    decimal_comma: bool,
}

fn is_group_separator(c: char, decimal_comma: bool) -> bool {
    let thousands = if decimal_comma { '.' } else { ',' };
    c == thousands || matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\'')
}

impl DecimalFormat {
    /// Builds a format; `None` takes the default currency symbols.
    pub fn new(
        precision: u8,
        scale: u8,
        currency_symbols: Option<Vec<String>>,
        decimal_comma: bool,
    ) -> DecimalFormat {
        DecimalFormat {
            precision,
            scale,
            currency_symbols: currency_symbols.unwrap_or_else(|| {
                DEFAULT_CURRENCY_SYMBOLS.iter().map(|s| (*s).to_owned()).collect()
            }),
            decimal_comma,
        }
    }

    /// A configured symbol that could be confused with the number itself, if any.
    pub fn bad_symbol(&self) -> Option<&str> {
        self.currency_symbols
            .iter()
            .find(|s| {
                s.is_empty()
                    || s.chars().any(|c| {
                        c.is_ascii_digit()
                            || c.is_whitespace()
                            || matches!(c, '+' | '-' | '.' | ',' | '(' | ')' | '\'')
                    })
            })
            .map(String::as_str)
    }

    fn strip_symbol<'a>(&self, text: &'a str, front: bool) -> Option<&'a str> {
        self.currency_symbols.iter().find_map(|sym| {
            if front { text.strip_prefix(sym.as_str()) } else { text.strip_suffix(sym.as_str()) }
        })
    }

    /// Parses a money or decimal string into an unscaled integer at this format's scale.
    pub fn parse(&self, raw: &str) -> Result<i128, ConvError> {
        let mut text = raw.trim();
        let mut negative = false;
        let mut signed = false;
        if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
            negative = true;
            signed = true;
            text = inner.trim();
        }
        let mut symbol = false;
        // Leading sign and currency symbol, in either order.
        loop {
            if !signed && let Some(rest) = text.strip_prefix(['-', '+', '\u{2212}']) {
                negative = text.starts_with(['-', '\u{2212}']);
                signed = true;
                text = rest.trim_start();
            } else if !symbol && let Some(rest) = self.strip_symbol(text, true) {
                symbol = true;
                text = rest.trim_start();
            } else {
                break;
            }
        }
        // Trailing currency symbol and trailing minus (as some ledgers write it).
        loop {
            if !symbol && let Some(rest) = self.strip_symbol(text, false) {
                symbol = true;
                text = rest.trim_end();
            } else if !signed && let Some(rest) = text.strip_suffix('-') {
                negative = true;
                signed = true;
                text = rest.trim_end();
            } else {
                break;
            }
        }
        let point = if self.decimal_comma { ',' } else { '.' };
        let (int_part, frac_part) = match text.split_once(point) {
            Some((i, f)) => (i, Some(f)),
            None => (text, None),
        };
        // Integer part: digits with optional, well-formed digit grouping, accumulated without
        // allocating (at most 38 significant digits fit i128: max ≈ 1.7e38).
        let mut int_value: i128 = 0;
        let mut int_significant = 0usize;
        let mut int_digits = 0usize;
        let mut group_sep: Option<char> = None;
        let mut group_len = 0usize;
        let mut groups = 0usize;
        for c in int_part.chars() {
            if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
                int_digits += 1;
                group_len += 1;
                if int_significant > 0 || d != 0 {
                    int_significant += 1;
                    if int_significant <= 38 {
                        int_value = int_value * 10 + i128::from(d);
                    }
                }
            } else if is_group_separator(c, self.decimal_comma) {
                if group_sep.is_some_and(|g| g != c) {
                    return err("mixes digit-group separators");
                }
                group_sep = Some(c);
                if (groups == 0 && !(1..=3).contains(&group_len)) || (groups > 0 && group_len != 3)
                {
                    return err("malformed digit grouping");
                }
                groups += 1;
                group_len = 0;
            } else {
                return err(format!("unexpected character '{c}' in a decimal"));
            }
        }
        if groups > 0 && group_len != 3 {
            return err("malformed digit grouping");
        }
        let frac_digits = match frac_part {
            Some(f) if f.bytes().all(|b| b.is_ascii_digit()) => f,
            Some(_) => return err("unexpected characters after the decimal point"),
            None => "",
        };
        if int_digits == 0 && frac_digits.is_empty() {
            return err("no digits");
        }
        let scale = usize::from(self.scale);
        let significant_frac = frac_digits.trim_end_matches('0');
        if significant_frac.len() > scale {
            return err(format!(
                "{} digits after the point exceed the column's scale {}",
                significant_frac.len(),
                self.scale
            ));
        }
        let max_int = usize::from(self.precision) - scale;
        if int_significant > max_int {
            return err(format!(
                "does not fit decimal({},{}): {} digits before the point, at most {}",
                self.precision, self.scale, int_significant, max_int
            ));
        }
        let mut unscaled = int_value;
        let frac_padded = significant_frac.bytes().chain(std::iter::repeat(b'0')).take(scale);
        for b in frac_padded {
            unscaled = unscaled * 10 + i128::from(b - b'0');
        }
        Ok(if negative { -unscaled } else { unscaled })
    }
}

/// Formats an unscaled decimal as plain text (`-1234.50`), the inverse of [`DecimalFormat::parse`].
pub fn format_decimal(unscaled: i128, scale: u8) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let sign = if unscaled < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    format!("{sign}{int_part}.{frac_part}")
}

// ---------------------------------------------------------------------------------------------
// list

/// How list<string> values are split.
#[derive(Debug, Clone, PartialEq)]
pub struct ListFormat {
    /// Any of these separates items.
    pub separators: Vec<String>,
}

impl ListFormat {
    /// Splits on every separator, trims items and drops empty ones.
    pub fn split<'a>(&self, raw: &'a str) -> Vec<Cow<'a, str>> {
        // Fast path: every separator is one character.
        let single: Vec<char> = self
            .separators
            .iter()
            .filter_map(|s| {
                let mut chars = s.chars();
                let c = chars.next()?;
                chars.next().is_none().then_some(c)
            })
            .collect();
        if single.len() == self.separators.len() {
            return raw
                .split(|c: char| single.contains(&c))
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(Cow::Borrowed)
                .collect();
        }
        let mut items = Vec::new();
        let mut rest = raw;
        loop {
            let next = self
                .separators
                .iter()
                .filter(|s| !s.is_empty())
                .filter_map(|s| rest.find(s.as_str()).map(|at| (at, s.len())))
                .min_by_key(|(at, _)| *at);
            let (item, tail) = match next {
                Some((at, len)) => (&rest[..at], Some(&rest[at + len..])),
                None => (rest, None),
            };
            let item = item.trim();
            if !item.is_empty() {
                items.push(Cow::Borrowed(item));
            }
            match tail {
                Some(t) => rest = t,
                None => break,
            }
        }
        items
    }
}

// ---------------------------------------------------------------------------------------------
// dates and timestamps

const MICROS_PER_SECOND: i64 = 1_000_000;

/// One way of reading a date or timestamp.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeFormat {
    /// ISO-8601 / RFC 3339: date, optional time with fraction, optional `Z` or offset.
    Iso8601,
    /// Seconds since the epoch, optionally with up to 6 fractional digits.
    EpochSeconds,
    /// Milliseconds since the epoch, optionally with up to 3 fractional digits.
    EpochMillis,
    /// Microseconds since the epoch.
    EpochMicros,
    /// A strftime pattern (chrono syntax).
    Strftime {
        /// The pattern.
        pattern: String,
        /// It has an offset (`%z`, `%:z`…): the value is converted to UTC.
        has_offset: bool,
        /// It has time-of-day fields.
        has_time: bool,
    },
}

impl TimeFormat {
    /// Parses a format name from a spec.
    pub fn parse(text: &str) -> Result<TimeFormat, String> {
        match text {
            "iso8601" | "rfc3339" => return Ok(TimeFormat::Iso8601),
            "epoch_seconds" => return Ok(TimeFormat::EpochSeconds),
            "epoch_millis" => return Ok(TimeFormat::EpochMillis),
            "epoch_micros" => return Ok(TimeFormat::EpochMicros),
            _ => {}
        }
        if !text.contains('%') {
            return Err(format!(
                "\"{text}\" is not a format; expected iso8601, epoch_seconds, epoch_millis, epoch_micros or a strftime pattern such as \"%Y-%m-%d %H:%M:%S\""
            ));
        }
        if StrftimeItems::new(text).any(|item| matches!(item, Item::Error)) {
            return Err(format!("\"{text}\" is not a valid strftime pattern"));
        }
        let has = |specs: &[&str]| specs.iter().any(|s| text.contains(s));
        Ok(TimeFormat::Strftime {
            pattern: text.to_owned(),
            has_offset: has(&["%z", "%:z", "%::z", "%:::z", "%#z"]),
            has_time: has(&["%H", "%I", "%k", "%l", "%M", "%S", "%T", "%R", "%X", "%r", "%s"]),
        })
    }

    fn name(&self) -> &str {
        match self {
            TimeFormat::Iso8601 => "iso8601",
            TimeFormat::EpochSeconds => "epoch_seconds",
            TimeFormat::EpochMillis => "epoch_millis",
            TimeFormat::EpochMicros => "epoch_micros",
            TimeFormat::Strftime { pattern, .. } => pattern,
        }
    }

    /// Reads an instant as UTC microseconds.
    fn timestamp(&self, value: &str) -> Option<i64> {
        let micros = match self {
            TimeFormat::Iso8601 => parse_iso8601(value)?,
            TimeFormat::EpochSeconds => parse_epoch(value, 6, MICROS_PER_SECOND)?,
            TimeFormat::EpochMillis => parse_epoch(value, 3, 1000)?,
            TimeFormat::EpochMicros => parse_epoch(value, 0, 1)?,
            TimeFormat::Strftime { pattern, has_offset, has_time } => {
                // Digits past microseconds must be zero: nothing is silently truncated.
                if *has_offset {
                    let parsed = DateTime::parse_from_str(value, pattern).ok()?;
                    (parsed.timestamp_subsec_nanos() % 1000 == 0).then_some(())?;
                    parsed.timestamp_micros()
                } else if *has_time {
                    let parsed = NaiveDateTime::parse_from_str(value, pattern).ok()?.and_utc();
                    (parsed.timestamp_subsec_nanos() % 1000 == 0).then_some(())?;
                    parsed.timestamp_micros()
                } else {
                    NaiveDate::parse_from_str(value, pattern)
                        .ok()?
                        .and_time(NaiveTime::MIN)
                        .and_utc()
                        .timestamp_micros()
                }
            }
        };
        in_supported_range(micros).then_some(micros)
    }
}

/// Timestamps outside years 1..=9999 are rejected (Athena and most tools cannot hold them).
const MIN_MICROS: i64 = -62_135_596_800 * MICROS_PER_SECOND; // 0001-01-01T00:00:00Z
const MAX_MICROS: i64 = 253_402_300_799 * MICROS_PER_SECOND + 999_999; // 9999-12-31T23:59:59.999999Z

fn in_supported_range(micros: i64) -> bool {
    (MIN_MICROS..=MAX_MICROS).contains(&micros)
}

/// The ordered list of formats a date or timestamp column tries.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeFormats {
    formats: Vec<TimeFormat>,
}

impl TimeFormats {
    /// Wraps an ordered list of formats.
    pub fn new(formats: Vec<TimeFormat>) -> TimeFormats {
        TimeFormats { formats }
    }

    fn no_match(&self) -> ConvError {
        let names: Vec<&str> = self.formats.iter().map(TimeFormat::name).collect();
        ConvError(format!(
            "matches none of the formats ({}) or is out of range (years 1–9999)",
            names.join(", ")
        ))
    }

    /// Parses a UTC timestamp in microseconds, trying each format in order.
    pub fn parse_timestamp(&self, raw: &str) -> Result<i64, ConvError> {
        let value = raw.trim();
        self.formats.iter().find_map(|f| f.timestamp(value)).ok_or_else(|| self.no_match())
    }

    /// Parses a date (days since the epoch); a value with a time keeps its UTC date.
    pub fn parse_date(&self, raw: &str) -> Result<i32, ConvError> {
        let value = raw.trim();
        for format in &self.formats {
            if let TimeFormat::Strftime { pattern, has_time: false, has_offset: false } = format {
                if let Ok(date) = NaiveDate::parse_from_str(value, pattern) {
                    return Ok(days_since_epoch(date));
                }
            } else if let Some(micros) = format.timestamp(value) {
                return Ok(i32::try_from(micros.div_euclid(86_400 * MICROS_PER_SECOND))
                    .unwrap_or(i32::MAX));
            }
        }
        Err(self.no_match())
    }
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    // 719_163 = days from 0001-01-01 (CE day 1) to 1970-01-01.
    date.num_days_from_ce() - 719_163
}

use chrono::Datelike;

/// Parses `-?digits(.digits)?` as an epoch count with at most `max_frac` fractional digits,
/// scaled by `micros_per_unit`.
fn parse_epoch(value: &str, max_frac: usize, micros_per_unit: i64) -> Option<i64> {
    let (negative, body) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
        || frac_part.len() > max_frac
        || int_part.len() > 18
    {
        return None;
    }
    let whole: i64 = int_part.parse().ok()?;
    let mut frac_micros: i64 = 0;
    if !frac_part.is_empty() {
        let unit_digits = micros_per_unit.checked_ilog10()? as usize;
        let padded: String =
            frac_part.chars().chain(std::iter::repeat('0')).take(unit_digits).collect();
        frac_micros = padded.parse().ok()?;
    }
    let micros = whole.checked_mul(micros_per_unit)?.checked_add(frac_micros)?;
    Some(if negative { -micros } else { micros })
}

fn take_digits(bytes: &[u8], at: &mut usize, n: usize) -> Option<u32> {
    let slice = bytes.get(*at..*at + n)?;
    let mut v = 0u32;
    for b in slice {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    *at += n;
    Some(v)
}

/// A fast ISO-8601 / RFC 3339 reader: `YYYY-MM-DD[(T|t| )HH:MM[:SS[.f{1,9}]]][Z|±HH[:MM]|±HHMM]`.
fn parse_iso8601(value: &str) -> Option<i64> {
    let bytes = value.as_bytes();
    let mut at = 0;
    let year = take_digits(bytes, &mut at, 4)?;
    (bytes.get(at) == Some(&b'-')).then_some(())?;
    at += 1;
    let month = take_digits(bytes, &mut at, 2)?;
    (bytes.get(at) == Some(&b'-')).then_some(())?;
    at += 1;
    let day = take_digits(bytes, &mut at, 2)?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let mut seconds_of_day: i64 = 0;
    let mut micros: i64 = 0;
    let mut offset_seconds: i64 = 0;
    if at < bytes.len() {
        if !matches!(bytes[at], b'T' | b't' | b' ') {
            return None;
        }
        at += 1;
        let hour = take_digits(bytes, &mut at, 2)?;
        (bytes.get(at) == Some(&b':')).then_some(())?;
        at += 1;
        let minute = take_digits(bytes, &mut at, 2)?;
        let mut second = 0;
        if bytes.get(at) == Some(&b':') {
            at += 1;
            second = take_digits(bytes, &mut at, 2)?;
            if matches!(bytes.get(at), Some(b'.') | Some(b',')) {
                at += 1;
                let start = at;
                while at < bytes.len() && bytes[at].is_ascii_digit() {
                    at += 1;
                }
                let frac = &value[start..at];
                if frac.is_empty() || frac.len() > 9 {
                    return None;
                }
                // Digits past microseconds must be zero: nothing is silently truncated.
                if frac.len() > 6 && frac[6..].bytes().any(|b| b != b'0') {
                    return None;
                }
                micros = frac
                    .bytes()
                    .chain(std::iter::repeat(b'0'))
                    .take(6)
                    .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        seconds_of_day = i64::from(hour * 3600 + minute * 60 + second);
        match bytes.get(at) {
            None => {}
            Some(b'Z') | Some(b'z') => at += 1,
            Some(&sign @ (b'+' | b'-')) => {
                at += 1;
                let oh = take_digits(bytes, &mut at, 2)?;
                let mut om = 0;
                if bytes.get(at) == Some(&b':') {
                    at += 1;
                    om = take_digits(bytes, &mut at, 2)?;
                } else if at < bytes.len() {
                    om = take_digits(bytes, &mut at, 2)?;
                }
                if oh > 23 || om > 59 {
                    return None;
                }
                offset_seconds = i64::from(oh * 3600 + om * 60);
                if sign == b'-' {
                    offset_seconds = -offset_seconds;
                }
            }
            Some(_) => return None,
        }
        if at != bytes.len() {
            return None;
        }
    }
    let days = i64::from(days_since_epoch(date));
    let seconds = days * 86_400 + seconds_of_day - offset_seconds;
    Some(seconds * MICROS_PER_SECOND + micros)
}

/// Formats UTC microseconds as RFC 3339 with microseconds (`2026-11-20T03:04:05.123000Z`).
pub fn format_timestamp(micros: i64) -> String {
    match DateTime::from_timestamp_micros(micros) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => micros.to_string(),
    }
}

/// Formats days since the epoch as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    match NaiveDate::from_num_days_from_ce_opt(days.saturating_add(719_163)) {
        Some(date) => date.format("%Y-%m-%d").to_string(),
        None => days.to_string(),
    }
}
