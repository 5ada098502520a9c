//! The 18 JSONPath intrinsic functions (`States.Format`, `States.ArrayPartition`, ...): parse an
//! invocation once when a definition is loaded, then evaluate it against the payload template's
//! input and the context object.
//!
//! Sources: the Amazon States Language spec ("Intrinsic Functions", Appendix B) and the Step
//! Functions developer guide (intrinsic-functions.html). Where those are silent, behaviour
//! observed on AWS (LocalStack's AWS-validated tests) is followed and marked as such.
//! Parse errors are plain strings for the definition loader; evaluation errors are
//! `States.IntrinsicFailure`. Nothing here panics on any input.

use std::collections::HashSet;

use base64::Engine as _;
use serde_json::{Number, Value};
use sha2::Digest as _;

use super::path::JsonPath;
use crate::error::{StatesError, names};
use crate::rng::Rng;

/// "You can nest up to 10 intrinsic functions within a field" (intrinsic-functions.html).
const MAX_NESTING: usize = 10;
/// "The newly generated array MUST NOT contain more than 1000 items" (spec, States.ArrayRange).
const MAX_RANGE_ITEMS: i128 = 1000;
/// Base64Encode/Base64Decode take strings "of up to 10,000 characters"; States.Hash takes data
/// whose "stringified version ... must be 10,000 characters or less" (spec, Appendix B).
const MAX_DATA_CHARS: usize = 10_000;

/// True when a `.$` value should be parsed as an intrinsic call (it starts with "States.").
pub fn looks_like_intrinsic(text: &str) -> bool {
    text.starts_with("States.")
}

/// A parsed intrinsic invocation such as `States.Format('run-{}', $.runId)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    func: Func,
    args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Str(StringLiteral),
    Number(Number),
    Bool(bool),
    Null,
    Path(JsonPath),
    Call(Box<Intrinsic>),
}

/// A `'...'` literal after unescaping, with the byte offsets of its unescaped `{}` pairs
/// (escaped braces `\{` `\}` never form a States.Format placeholder).
#[derive(Debug, Clone, PartialEq)]
struct StringLiteral {
    value: String,
    placeholders: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

const FUNCTIONS: [(&str, Func); 18] = [
    ("States.Format", Func::Format),
    ("States.StringToJson", Func::StringToJson),
    ("States.JsonToString", Func::JsonToString),
    ("States.Array", Func::Array),
    ("States.ArrayPartition", Func::ArrayPartition),
    ("States.ArrayContains", Func::ArrayContains),
    ("States.ArrayRange", Func::ArrayRange),
    ("States.ArrayGetItem", Func::ArrayGetItem),
    ("States.ArrayLength", Func::ArrayLength),
    ("States.ArrayUnique", Func::ArrayUnique),
    ("States.Base64Encode", Func::Base64Encode),
    ("States.Base64Decode", Func::Base64Decode),
    ("States.Hash", Func::Hash),
    ("States.JsonMerge", Func::JsonMerge),
    ("States.MathRandom", Func::MathRandom),
    ("States.MathAdd", Func::MathAdd),
    ("States.StringSplit", Func::StringSplit),
    ("States.UUID", Func::Uuid),
];

/// The algorithms States.Hash accepts (spec, Appendix B, States.Hash).
const HASH_ALGORITHMS: [&str; 5] = ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"];

/// What an argument's value must be; checked on literals at parse time and on every value at
/// run time, with the same message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Any,
    String,
    Array,
    Object,
    /// An integral number.
    Integer,
    /// A positive integral number.
    PositiveInteger,
    /// A non-negative integral number.
    Index,
    /// Any number; non-integers are rounded like Java's Math.round.
    RoundedInteger,
    /// The boolean `false` (JsonMerge's deep flag).
    False,
    /// One of [`HASH_ALGORITHMS`].
    Algorithm,
}

impl Func {
    fn name(self) -> &'static str {
        FUNCTIONS.iter().find(|(_, func)| *func == self).map_or("States.?", |(name, _)| name)
    }

    /// Minimum and maximum number of arguments (`None`: unbounded).
    fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Format => (1, None),
            Func::Array => (0, None),
            Func::Uuid => (0, Some(0)),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, Some(1)),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, Some(2)),
            Func::ArrayRange | Func::JsonMerge => (3, Some(3)),
            Func::MathRandom => (2, Some(3)),
        }
    }

    fn kind(self, index: usize) -> Kind {
        match (self, index) {
            (Func::Format, 0) => Kind::String,
            (Func::StringToJson | Func::Base64Encode | Func::Base64Decode, _) => Kind::String,
            (Func::StringSplit, _) => Kind::String,
            (Func::ArrayPartition, 0) => Kind::Array,
            (Func::ArrayPartition, _) => Kind::PositiveInteger,
            (Func::ArrayContains, 0) => Kind::Array,
            (Func::ArrayRange, _) => Kind::Integer,
            (Func::ArrayGetItem, 0) => Kind::Array,
            (Func::ArrayGetItem, _) => Kind::Index,
            (Func::ArrayLength | Func::ArrayUnique, _) => Kind::Array,
            (Func::Hash, 1) => Kind::Algorithm,
            (Func::JsonMerge, 2) => Kind::False,
            (Func::JsonMerge, _) => Kind::Object,
            (Func::MathRandom | Func::MathAdd, _) => Kind::RoundedInteger,
            _ => Kind::Any,
        }
    }
}

impl Intrinsic {
    /// Parses an invocation; errors say what is wrong and where (for the definition loader).
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        let mut parser = Parser { chars: text.chars().collect(), pos: 0 };
        let call = parser.call(1)?;
        parser.skip_spaces();
        if parser.pos < parser.chars.len() {
            return Err(parser.unexpected("expected the end after the closing ')'"));
        }
        Ok(call)
    }

    /// Evaluates with the payload template's input and the context object; failures are
    /// `States.IntrinsicFailure`. `rng` feeds States.UUID and unseeded States.MathRandom.
    pub fn eval(
        &self,
        input: &Value,
        context: &Value,
        rng: &mut Rng,
    ) -> Result<Value, StatesError> {
        let mut values = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            values.push(match arg {
                Arg::Str(literal) => Value::String(literal.value.clone()),
                Arg::Number(number) => Value::Number(number.clone()),
                Arg::Bool(flag) => Value::Bool(*flag),
                Arg::Null => Value::Null,
                Arg::Path(path) => path.select(input, context).map_err(|err| {
                    StatesError::new(
                        names::INTRINSIC_FAILURE,
                        format!("{}: {}", self.func.name(), err.cause),
                    )
                })?,
                Arg::Call(call) => call.eval(input, context, rng)?,
            });
        }
        for (index, value) in values.iter().enumerate() {
            check_kind(self.func, index, value).map_err(|message| self.failure(message))?;
        }
        self.apply(&values, rng).map_err(|message| self.failure(message))
    }

    fn failure(&self, message: String) -> StatesError {
        StatesError::new(
            names::INTRINSIC_FAILURE,
            format!("Invalid arguments in {}: {message}", self.func.name()),
        )
    }

    /// The function body, on argument values that passed [`check_kind`].
    fn apply(&self, values: &[Value], rng: &mut Rng) -> Result<Value, String> {
        let arg = |index: usize| values.get(index).unwrap_or(&Value::Null);
        let integer = |index: usize| {
            let kind = self.func.kind(index);
            integer_value(arg(index), kind == Kind::RoundedInteger)
                .ok_or_else(|| format!("argument {} is not an integer", index + 1))
        };
        match self.func {
            Func::Format => self.format(values),
            Func::StringToJson => string_to_json(arg(0).as_str().unwrap_or_default()),
            Func::JsonToString => serde_json::to_string(arg(0))
                .map(Value::String)
                .map_err(|err| format!("the argument cannot be serialized ({err})")),
            Func::Array => Ok(Value::Array(values.to_vec())),
            Func::ArrayPartition => {
                let items = arg(0).as_array().map_or(&[][..], Vec::as_slice);
                let size = usize::try_from(integer(1)?)
                    .map_err(|_| "chunk size is too large".to_owned())?;
                Ok(Value::Array(
                    items.chunks(size.max(1)).map(|chunk| Value::Array(chunk.to_vec())).collect(),
                ))
            }
            Func::ArrayContains => {
                let items = arg(0).as_array().map_or(&[][..], Vec::as_slice);
                Ok(Value::Bool(items.contains(arg(1))))
            }
            Func::ArrayRange => {
                let (start, end, step) = (integer(0)?, integer(1)?, integer(2)?);
                if step == 0 {
                    return Err("the step (argument 3) must not be zero".to_owned());
                }
                let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
                let count = if (end - start).signum() * step.signum() < 0 {
                    0
                } else {
                    (end - start) / step + 1
                };
                if count > MAX_RANGE_ITEMS {
                    return Err(format!(
                        "the range would have {count} items; at most {MAX_RANGE_ITEMS} are allowed"
                    ));
                }
                let items = (0..count)
                    .filter_map(|i| i64::try_from(start + i * step).ok())
                    .map(Value::from);
                Ok(Value::Array(items.collect()))
            }
            Func::ArrayGetItem => {
                let items = arg(0).as_array().map_or(&[][..], Vec::as_slice);
                let index = integer(1)?;
                usize::try_from(index).ok().and_then(|i| items.get(i)).cloned().ok_or_else(|| {
                    format!("index {index} is out of bounds for an array of length {}", items.len())
                })
            }
            Func::ArrayLength => Ok(Value::from(arg(0).as_array().map_or(0, Vec::len))),
            Func::ArrayUnique => {
                // Keeps the first occurrence of each value, in order. Values are compared by
                // their JSON text (object keys are sorted), so 1 and 1.0 stay distinct, like
                // ArrayContains's JSON equality (our reading of a Java service; not verified).
                let mut seen = HashSet::new();
                let items = arg(0).as_array().map_or(&[][..], Vec::as_slice);
                let unique = items.iter().filter(|item| seen.insert(item.to_string())).cloned();
                Ok(Value::Array(unique.collect()))
            }
            Func::Base64Encode => {
                let text = limited_string(arg(0))?;
                Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(text.as_bytes())))
            }
            Func::Base64Decode => {
                let text = limited_string(arg(0))?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map_err(|err| format!("the argument is not valid Base64 ({err})"))?;
                String::from_utf8(bytes)
                    .map(Value::String)
                    .map_err(|_| "the decoded data is not valid UTF-8 text".to_owned())
            }
            Func::Hash => {
                let data = match arg(0) {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                if data.chars().count() > MAX_DATA_CHARS {
                    return Err(format!(
                        "the data to hash is longer than {MAX_DATA_CHARS} characters"
                    ));
                }
                let algorithm = arg(1).as_str().unwrap_or_default();
                hash_hex(algorithm, data.as_bytes()).map(Value::String)
            }
            Func::JsonMerge => {
                let mut merged = arg(0).as_object().cloned().unwrap_or_default();
                if let Some(second) = arg(1).as_object() {
                    for (key, value) in second {
                        merged.insert(key.clone(), value.clone());
                    }
                }
                Ok(Value::Object(merged))
            }
            Func::MathRandom => {
                let (start, end) = (integer(0)?, integer(1)?);
                // The developer guide describes the range as start (inclusive) to end
                // (exclusive); the spec only says "between". Not verified on the service.
                if end <= start {
                    return Err(format!(
                        "the end ({end}) must be greater than the start ({start})"
                    ));
                }
                let value = if values.len() > 2 {
                    // "Each use of this function with the same seed value will produce the same
                    // result" (spec, States.MathRandom).
                    let seed = integer(2)?;
                    Rng::seeded(seed as u64).range_inclusive(start, end - 1)
                } else {
                    rng.range_inclusive(start, end - 1)
                };
                Ok(Value::from(value))
            }
            Func::MathAdd => {
                let (a, b) = (integer(0)?, integer(1)?);
                a.checked_add(b)
                    .map(Value::from)
                    .ok_or_else(|| format!("{a} + {b} overflows a 64-bit integer"))
            }
            Func::StringSplit => {
                // Splits on any of the delimiter characters and drops empty parts, as the
                // developer guide's example ("This.is+a,test=string" split by ".+,=") and
                // AWS-validated LocalStack tests show.
                let text = arg(0).as_str().unwrap_or_default();
                let delimiters: Vec<char> = arg(1).as_str().unwrap_or_default().chars().collect();
                let parts = text
                    .split(|c: char| delimiters.contains(&c))
                    .filter(|part| !part.is_empty())
                    .map(|part| Value::String(part.to_owned()));
                Ok(Value::Array(parts.collect()))
            }
            Func::Uuid => Ok(Value::String(uuid_v4(rng))),
        }
    }

    fn format(&self, values: &[Value]) -> Result<Value, String> {
        let (template, placeholders): (&str, Vec<usize>) = match (self.args.first(), values.first())
        {
            (Some(Arg::Str(literal)), _) => (literal.value.as_str(), literal.placeholders.clone()),
            (_, Some(Value::String(text))) => {
                (text.as_str(), text.match_indices("{}").map(|(at, _)| at).collect())
            }
            _ => return Err("the first argument must be a string".to_owned()),
        };
        let fillers = values.get(1..).unwrap_or_default();
        if placeholders.len() != fillers.len() {
            return Err(format!(
                "the template has {} '{{}}' placeholder(s) but {} value(s) were given",
                placeholders.len(),
                fillers.len()
            ));
        }
        let mut out = String::with_capacity(template.len());
        let mut copied = 0;
        for (at, filler) in placeholders.iter().zip(fillers) {
            out.push_str(template.get(copied..*at).unwrap_or_default());
            format_value(filler, &mut out);
            copied = at + 2;
        }
        out.push_str(template.get(copied..).unwrap_or_default());
        Ok(Value::String(out))
    }
}

/// States.Format's rendering of a value: strings without quotes, numbers, booleans and null as
/// JSON text. The spec says arrays and objects MUST NOT be formatted; AWS accepts them and
/// renders them the way Java's `toString` does (`[a, 1]`, `{k=v}`), which LocalStack's
/// AWS-validated tests record, so that is what we do too.
fn format_value(value: &Value, out: &mut String) {
    match value {
        Value::String(text) => out.push_str(text),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                format_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                format_value(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn limited_string(value: &Value) -> Result<&str, String> {
    let text = value.as_str().unwrap_or_default();
    if text.chars().count() > MAX_DATA_CHARS {
        return Err(format!("the string is longer than {MAX_DATA_CHARS} characters"));
    }
    Ok(text)
}

pub(crate) fn hash_hex(algorithm: &str, data: &[u8]) -> Result<String, String> {
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(data).to_vec(),
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        other => return Err(format!("unknown hash algorithm '{other}'")),
    };
    Ok(digest.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// A random (version 4, RFC 9562) UUID in lowercase 8-4-4-4-12 form.
pub(crate) fn uuid_v4(rng: &mut Rng) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or_default(),
        hex.get(8..12).unwrap_or_default(),
        hex.get(12..16).unwrap_or_default(),
        hex.get(16..20).unwrap_or_default(),
        hex.get(20..32).unwrap_or_default()
    )
}

/// An integral value as i64: exact integers, or (when `round`) any finite number rounded half
/// up like Java's Math.round. "If you specify a non-integer value ... Step Functions will round
/// it off to the nearest integer" (developer guide, MathRandom and MathAdd).
fn integer_value(value: &Value, round: bool) -> Option<i64> {
    let number = value.as_number()?;
    if let Some(int) = number.as_i64() {
        return Some(int);
    }
    let float = number.as_f64()?;
    let float = if round { (float + 0.5).floor() } else { float };
    // i64::MAX as f64 rounds up to 2^63, so the upper bound is exclusive.
    if float.fract() == 0.0 && float >= i64::MIN as f64 && float < i64::MAX as f64 {
        Some(float as i64)
    } else {
        None
    }
}

fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".to_owned(),
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{kind} {}...", text.chars().take(40).collect::<String>())
    } else {
        format!("{kind} {text}")
    }
}

fn check_kind(func: Func, index: usize, value: &Value) -> Result<(), String> {
    let kind = func.kind(index);
    let ok = match kind {
        Kind::Any => true,
        Kind::String => value.is_string(),
        Kind::Array => value.is_array(),
        Kind::Object => value.is_object(),
        Kind::Integer => integer_value(value, false).is_some(),
        Kind::PositiveInteger => integer_value(value, false).is_some_and(|n| n > 0),
        Kind::Index => integer_value(value, false).is_some_and(|n| n >= 0),
        Kind::RoundedInteger => integer_value(value, true).is_some(),
        Kind::False => value == &Value::Bool(false),
        Kind::Algorithm => value.as_str().is_some_and(|name| HASH_ALGORITHMS.contains(&name)),
    };
    if ok {
        return Ok(());
    }
    let wanted = match kind {
        Kind::Any => "any value",
        Kind::String => "a string",
        Kind::Array => "an array",
        Kind::Object => "an object",
        Kind::Integer => "an integer",
        Kind::PositiveInteger => "a positive integer",
        Kind::Index => "a non-negative integer",
        Kind::RoundedInteger => "a number",
        // "Currently, Step Functions only supports the shallow merging mode; therefore, you
        // must specify the boolean value as false" (developer guide, States.JsonMerge).
        Kind::False => "false (only shallow merges are supported)",
        Kind::Algorithm => "one of MD5, SHA-1, SHA-256, SHA-384, SHA-512",
    };
    Err(format!("argument {} must be {wanted}, got {}", index + 1, describe(value)))
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn rest_starts_with(&self, prefix: &str) -> bool {
        prefix.chars().enumerate().all(|(i, c)| self.chars.get(self.pos + i) == Some(&c))
    }

    fn slice(&self, from: usize) -> String {
        self.chars.get(from..self.pos).unwrap_or_default().iter().collect()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, what: &str) -> String {
        match self.peek() {
            Some(c) => format!("unexpected '{c}' at offset {} ({what})", self.pos),
            None => format!("unexpected end of the intrinsic function ({what})"),
        }
    }

    /// `States.Name(arg, ...)`; `depth` counts this call (the outermost is 1).
    fn call(&mut self, depth: usize) -> Result<Intrinsic, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
            self.pos += 1;
        }
        let name = self.slice(start);
        if !looks_like_intrinsic(&name) {
            return Err(format!(
                "'{name}' is not an intrinsic function: names start with 'States.'"
            ));
        }
        let Some(func) = FUNCTIONS.iter().find(|(known, _)| *known == name).map(|(_, func)| *func)
        else {
            return Err(format!("unknown intrinsic function '{name}'"));
        };
        if self.peek() != Some('(') {
            return Err(self.unexpected(&format!("expected '(' right after {name}")));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_spaces();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_spaces();
                args.push(self.arg(depth)?);
                self.skip_spaces();
                match self.bump() {
                    Some(',') => continue,
                    Some(')') => break,
                    Some(c) => {
                        self.pos -= 1;
                        return Err(format!(
                            "unexpected '{c}' at offset {} in {name} (expected ',' or ')')",
                            self.pos
                        ));
                    }
                    None => return Err(format!("unexpected end of {name} (missing ')')")),
                }
            }
        }
        let call = Intrinsic { func, args };
        call.validate()?;
        Ok(call)
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, String> {
        match self.peek() {
            Some('\'') => {
                self.pos += 1;
                Ok(Arg::Str(self.string_literal()?))
            }
            Some('$') => {
                let text = self.path_token();
                JsonPath::parse(&text)
                    .map(Arg::Path)
                    .map_err(|message| format!("invalid path: {message}"))
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| !(c == ',' || c == ')' || c.is_whitespace())) {
                    self.pos += 1;
                }
                let text = self.slice(start);
                serde_json::from_str::<Number>(&text)
                    .map(Arg::Number)
                    .map_err(|_| format!("'{text}' at offset {start} is not a number"))
            }
            Some(_) if self.rest_starts_with("States.") => {
                if depth >= MAX_NESTING {
                    return Err(format!(
                        "intrinsic functions can be nested at most {MAX_NESTING} deep"
                    ));
                }
                self.call(depth + 1).map(|call| Arg::Call(Box::new(call)))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
                {
                    self.pos += 1;
                }
                match self.slice(start).as_str() {
                    "true" => Ok(Arg::Bool(true)),
                    "false" => Ok(Arg::Bool(false)),
                    "null" => Ok(Arg::Null),
                    word => Err(format!(
                        "'{word}' at offset {start} is not an argument: use a 'string', a number, \
                         true, false, null, a path or a States.* call"
                    )),
                }
            }
            _ => Err(self.unexpected("expected an argument")),
        }
    }

    /// The rest of a `'...'` literal after the opening quote. Escapes (spec, "Intrinsic
    /// Functions"): `\'` `\{` `\}` `\\`; any other backslash is an error.
    fn string_literal(&mut self) -> Result<StringLiteral, String> {
        let start = self.pos;
        let mut value = String::new();
        let mut placeholders = Vec::new();
        loop {
            match self.bump() {
                None => {
                    return Err(format!(
                        "unterminated string literal starting at offset {}",
                        start - 1
                    ));
                }
                Some('\'') => return Ok(StringLiteral { value, placeholders }),
                Some('\\') => match self.bump() {
                    Some(c @ ('\'' | '{' | '}' | '\\')) => value.push(c),
                    Some(c) => {
                        return Err(format!(
                            "invalid escape '\\{c}' at offset {} (only \\' \\{{ \\}} \\\\ are allowed)",
                            self.pos - 2
                        ));
                    }
                    None => {
                        return Err(
                            "open escape '\\' at the end of the intrinsic function".to_owned()
                        );
                    }
                },
                Some('{') if self.peek() == Some('}') => {
                    self.pos += 1;
                    placeholders.push(value.len());
                    value.push_str("{}");
                }
                Some(c) => value.push(c),
            }
        }
    }

    /// A path argument: up to the next `,` `)` or space outside brackets and quotes.
    fn path_token(&mut self) -> String {
        let start = self.pos;
        let mut brackets = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            match (quote, c) {
                (Some(_), '\\') => self.pos += 1,
                (Some(open), _) if c == open => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') if brackets > 0 => quote = Some(c),
                (None, '[') => brackets += 1,
                (None, ']') => brackets = brackets.saturating_sub(1),
                (None, '\\') => self.pos += 1,
                (None, ',' | ')') if brackets == 0 => break,
                (None, c) if c.is_whitespace() && brackets == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        self.pos = self.pos.min(self.chars.len());
        self.slice(start)
    }
}

impl Intrinsic {
    /// Load-time checks: arity, literal argument kinds, States.Format's placeholder count,
    /// and, when every argument is a literal, a trial evaluation (e.g. ArrayRange bounds).
    fn validate(&self) -> Result<(), String> {
        let name = self.func.name();
        let (min, max) = self.func.arity();
        let count = self.args.len();
        if count < min || max.is_some_and(|max| count > max) {
            let expected = match max {
                Some(max) if max == min => format!("{min}"),
                Some(max) => format!("{min} to {max}"),
                None => format!("at least {min}"),
            };
            return Err(format!("{name} takes {expected} argument(s), got {count}"));
        }
        for (index, arg) in self.args.iter().enumerate() {
            if let Some(value) = arg.literal() {
                check_kind(self.func, index, &value)
                    .map_err(|message| format!("{name}: {message}"))?;
            }
        }
        if let (Func::Format, Some(Arg::Str(template))) = (self.func, self.args.first())
            && template.placeholders.len() != count - 1
        {
            return Err(format!(
                "States.Format: the template has {} '{{}}' placeholder(s) but {} value(s) follow it",
                template.placeholders.len(),
                count - 1
            ));
        }
        if self.args.iter().all(|arg| arg.literal().is_some()) {
            self.eval(&Value::Null, &Value::Null, &mut Rng::seeded(0)).map_err(|err| err.cause)?;
        }
        Ok(())
    }
}

impl Arg {
    fn literal(&self) -> Option<Value> {
        match self {
            Arg::Str(literal) => Some(Value::String(literal.value.clone())),
            Arg::Number(number) => Some(Value::Number(number.clone())),
            Arg::Bool(flag) => Some(Value::Bool(*flag)),
            Arg::Null => Some(Value::Null),
            Arg::Path(_) | Arg::Call(_) => None,
        }
    }
}

/// `States.StringToJson` as AWS answers it (LocalStack
/// `intrinsic_functions/test_json_manipulation.snapshot.json`, `test_string_to_json`): an empty
/// or all-whitespace string is `null`, `-0` is `0`, anything else is parsed as JSON.
fn string_to_json(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Value::Null);
    }
    let value: Value = serde_json::from_str(trimmed)
        .map_err(|err| format!("the argument is not valid JSON ({err})"))?;
    let integer_zero = !trimmed.contains(['.', 'e', 'E']);
    match value.as_f64() {
        Some(zero) if zero == 0.0 && integer_zero && value.is_f64() => Ok(Value::from(0)),
        _ => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(text: &str) -> Intrinsic {
        match Intrinsic::parse(text) {
            Ok(call) => call,
            Err(message) => panic!("{text}: {message}"),
        }
    }

    fn eval(text: &str, input: &Value) -> Result<Value, StatesError> {
        let context = json!({"DayOfWeek": "TUESDAY", "Execution": {"Id": "exec-1"}});
        parse(text).eval(input, &context, &mut Rng::seeded(1))
    }

    fn parse_error(text: &str) -> String {
        match Intrinsic::parse(text) {
            Ok(call) => panic!("{text} parsed as {call:?}"),
            Err(message) => message,
        }
    }

    /// Examples from the ASL spec (Appendix B) and the developer guide
    /// (intrinsic-functions.html), each `(expression, input, expected)`.
    #[test]
    fn documented_examples() {
        let nine = json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5, "index": 5});
        let cases = [
            (
                "States.Format('Your name is {}, we are in the year {}', $.name, 2020)",
                json!({"name": "Foo", "zebra": "stripe"}),
                json!("Your name is Foo, we are in the year 2020"),
            ),
            (
                "States.Format('Hello, my name is {}.', $.name)",
                json!({"name": "Arnav"}),
                json!("Hello, my name is Arnav."),
            ),
            (
                "States.Format($.template, $.name)",
                json!({"name": "Arnav", "template": "Hello, my name is {}."}),
                json!("Hello, my name is Arnav."),
            ),
            (
                "States.StringToJson($.someString)",
                json!({"someString": "{\"number\": 20}", "zebra": "stripe"}),
                json!({"number": 20}),
            ),
            (
                "States.StringToJson($.escapedJsonString)",
                json!({"escapedJsonString": "{\"foo\": \"bar\"}"}),
                json!({"foo": "bar"}),
            ),
            (
                "States.JsonToString($.someJson)",
                json!({"someJson": {"name": "Foo", "year": 2020}, "zebra": "stripe"}),
                json!("{\"name\":\"Foo\",\"year\":2020}"),
            ),
            (
                "States.Array('Foo', 2020, $.someJson, null)",
                json!({"someJson": {"random": "abcdefg"}, "zebra": "stripe"}),
                json!(["Foo", 2020, {"random": "abcdefg"}, null]),
            ),
            ("States.Array($.Id)", json!({"Id": 123456}), json!([123456])),
            (
                "States.ArrayPartition($.inputArray,4)",
                nine.clone(),
                json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]]),
            ),
            ("States.ArrayContains($.inputArray, $.lookingFor)", nine.clone(), json!(true)),
            ("States.ArrayRange(1, 9, 2)", json!({}), json!([1, 3, 5, 7, 9])),
            ("States.ArrayGetItem($.inputArray, $.index)", nine.clone(), json!(6)),
            ("States.ArrayLength($.inputArray)", nine.clone(), json!(9)),
            (
                "States.ArrayUnique($.inputArray)",
                json!({"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]}),
                json!([1, 2, 3, 4]),
            ),
            (
                "States.Base64Encode($.input)",
                json!({"input": "Data to encode"}),
                json!("RGF0YSB0byBlbmNvZGU="),
            ),
            // The guide prints "Decoded data" as the result; the example string decodes to this.
            (
                "States.Base64Decode($.base64)",
                json!({"base64": "RGF0YSB0byBlbmNvZGU="}),
                json!("Data to encode"),
            ),
            // The guide prints a 39-digit value (one '4' dropped); this is SHA-1("input data").
            (
                "States.Hash($.Data, $.Algorithm)",
                json!({"Data": "input data", "Algorithm": "SHA-1"}),
                json!("aaff4a450a104cd177d28d18d74485e8cae074b7"),
            ),
            (
                "States.JsonMerge($.json1, $.json2, false)",
                json!({"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}),
                json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}),
            ),
            ("States.MathAdd($.value1, $.step)", json!({"value1": 111, "step": -1}), json!(110)),
            (
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "1,2,3,4,5", "splitter": ","}),
                json!(["1", "2", "3", "4", "5"]),
            ),
            (
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "This.is+a,test=string", "splitter": ".+,="}),
                json!(["This", "is", "a", "test", "string"]),
            ),
            // ASL spec, "Payload Template": "States.Format('Today is {}', $$.DayOfWeek)".
            ("States.Format('Today is {}', $$.DayOfWeek)", json!({}), json!("Today is TUESDAY")),
        ];
        for (text, input, expected) in cases {
            assert_eq!(eval(text, &input), Ok(expected), "{text}");
        }
    }

    #[test]
    fn string_literal_escapes() {
        // ASL spec, "Intrinsic Functions": the JSON text "...{} {}\\'s playlist." is this string.
        let input = json!({"firstName": "Ada", "lastName": "Lovelace"});
        let cases = [
            (
                "States.Format('Welcome to {} {}\\'s playlist.', $.firstName, $.lastName)",
                "Welcome to Ada Lovelace's playlist.",
            ),
            ("States.Format('\\{\\} is literal, {} is not', 'this')", "{} is literal, this is not"),
            ("States.Format('back\\\\slash {}', 1)", "back\\slash 1"),
            ("States.Format('{ lone brace }')", "{ lone brace }"),
        ];
        for (text, expected) in cases {
            assert_eq!(eval(text, &input), Ok(json!(expected)), "{text}");
        }
    }

    #[test]
    fn format_renders_values_like_aws() {
        let input =
            json!({"n": 1.5, "b": true, "z": null, "list": ["a", 1], "obj": {"k": "v", "n": [1]}});
        assert_eq!(
            eval("States.Format('{} {} {} {} {}', $.n, $.b, $.z, $.list, $.obj)", &input),
            Ok(json!("1.5 true null [a, 1] {k=v, n=[1]}"))
        );
    }

    #[test]
    fn hash_algorithms() {
        let cases = [
            ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
            ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
            ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
            (
                "SHA-384",
                "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562",
            ),
            (
                "SHA-512",
                "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4",
            ),
        ];
        for (algorithm, expected) in cases {
            let text = format!("States.Hash('input data', '{algorithm}')");
            assert_eq!(eval(&text, &json!({})), Ok(json!(expected)), "{algorithm}");
        }
        assert_eq!(
            eval("States.Hash($.n, 'MD5')", &json!({"n": 1})),
            Ok(json!("c4ca4238a0b923820dcc509a6f75849b"))
        );
    }

    #[test]
    fn ranges_and_rounding() {
        let cases = [
            ("States.ArrayRange(9, 1, -2)", json!([9, 7, 5, 3, 1])),
            ("States.ArrayRange(1, 1, 5)", json!([1])),
            ("States.ArrayRange(9, 1, 2)", json!([])),
            ("States.ArrayRange(-1, 9, 4)", json!([-1, 3, 7])),
            ("States.ArrayRange(1, 1000, 1)", Value::Array((1..=1000).map(Value::from).collect())),
            ("States.MathAdd(1.5, 0)", json!(2)),
            ("States.MathAdd(-2.5, 0)", json!(-2)),
            ("States.MathAdd(-1, 1)", json!(0)),
            ("States.ArrayPartition(States.Array(1, 2), 5)", json!([[1, 2]])),
            ("States.ArrayPartition(States.Array(), 2)", json!([])),
            ("States.StringSplit('a,,b,', ',')", json!(["a", "b"])),
            ("States.StringSplit('abc', '')", json!(["abc"])),
            ("States.ArrayContains(States.Array(1, 'a'), 'a')", json!(true)),
            ("States.ArrayContains(States.Array(1, 'a'), 2)", json!(false)),
            ("States.JsonToString('x')", json!("\"x\"")),
        ];
        for (text, expected) in cases {
            assert_eq!(eval(text, &json!({})), Ok(expected), "{text}");
        }
    }

    #[test]
    fn math_random_is_in_range_and_seedable() {
        let call = parse("States.MathRandom($.start, $.end)");
        let input = json!({"start": 1, "end": 999});
        let mut rng = Rng::seeded(9);
        for _ in 0..500 {
            let value = call.eval(&input, &Value::Null, &mut rng).ok().and_then(|v| v.as_i64());
            assert!(value.is_some_and(|v| (1..999).contains(&v)), "{value:?}");
        }
        // Same seed argument, same result, whatever the execution's generator.
        let seeded = parse("States.MathRandom(1, 1000000, 42)");
        let first = seeded.eval(&Value::Null, &Value::Null, &mut Rng::seeded(1));
        let second = seeded.eval(&Value::Null, &Value::Null, &mut Rng::seeded(2));
        assert_eq!(first, second);
        assert!(first.is_ok());
        assert_eq!(eval("States.MathRandom(5, 6)", &json!({})), Ok(json!(5)));
    }

    #[test]
    fn uuid_is_version_4_and_deterministic() {
        let call = parse("States.UUID()");
        let a = call.eval(&Value::Null, &Value::Null, &mut Rng::seeded(5));
        let b = call.eval(&Value::Null, &Value::Null, &mut Rng::seeded(5));
        assert_eq!(a, b);
        let text = a.ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let groups: Vec<&str> = text.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12],
            "{text}"
        );
        assert!(
            text.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{text}"
        );
        assert_eq!(text.chars().nth(14), Some('4'), "{text}");
        assert!(matches!(text.chars().nth(19), Some('8' | '9' | 'a' | 'b')), "{text}");
    }

    #[test]
    fn nested_calls() {
        // The developer guide's nine-call example (it shows two values for three placeholders;
        // here the third value is added so the call is valid).
        let text = "States.Format('{}.{}.{}', \
            States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), \
            States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1), \
            States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 2))";
        let input = json!({"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/web/1.2.3"}});
        assert_eq!(eval(text, &input), Ok(json!("1.2.3")));

        let mut ten = String::from("'x'");
        for _ in 0..10 {
            ten = format!("States.Array({ten})");
        }
        assert!(Intrinsic::parse(&ten).is_ok());
        let eleven = format!("States.Array({ten})");
        assert!(parse_error(&eleven).contains("nested at most 10"));
    }

    #[test]
    fn paths_with_brackets_and_spaces_as_arguments() {
        let input = json!({"a b": [1, 2, 3], "x": {"y,z": "q"}});
        assert_eq!(eval("States.ArrayLength($['a b'])", &input), Ok(json!(3)));
        assert_eq!(
            eval("States.Array( $['x']['y,z'] , $['a b'][0,1] )", &input),
            Ok(json!(["q", [1, 2]]))
        );
    }

    #[test]
    fn runtime_failures_are_intrinsic_failures() {
        let cases = [
            (
                "States.ArrayLength($.s)",
                json!({"s": "text"}),
                "argument 1 must be an array, got string \"text\"",
            ),
            ("States.ArrayGetItem($.a, 3)", json!({"a": [1]}), "index 3 is out of bounds"),
            ("States.ArrayPartition($.a, $.n)", json!({"a": [1], "n": 0}), "positive integer"),
            ("States.StringToJson($.s)", json!({"s": "{nope"}), "not valid JSON"),
            ("States.Base64Decode($.s)", json!({"s": "***"}), "not valid Base64"),
            (
                "States.Format($.t, 1)",
                json!({"t": "no placeholders"}),
                "0 '{}' placeholder(s) but 1",
            ),
            (
                "States.JsonMerge($.a, $.b, $.deep)",
                json!({"a": {}, "b": {}, "deep": true}),
                "shallow",
            ),
            ("States.Hash($.d, $.alg)", json!({"d": "x", "alg": "SHA-3"}), "one of MD5"),
            ("States.MathAdd($.a, 1)", json!({"a": 9223372036854775807_i64}), "overflows"),
            ("States.ArrayRange(0, $.end, 1)", json!({"end": 5000}), "at most 1000"),
            ("States.Format('{}', $.missing)", json!({}), "No results for path: $['missing']"),
            ("States.Base64Encode($.s)", json!({"s": "x".repeat(10_001)}), "longer than 10000"),
        ];
        for (text, input, needle) in cases {
            match eval(text, &input) {
                Ok(value) => panic!("{text} gave {value}"),
                Err(err) => {
                    assert_eq!(err.error, "States.IntrinsicFailure", "{text}");
                    assert!(err.cause.contains(needle), "{text}: {}", err.cause);
                }
            }
        }
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let cases = [
            ("States.Nope()", "unknown intrinsic function 'States.Nope'"),
            ("Foo.Bar()", "not an intrinsic function"),
            ("States.Array", "expected '(' right after States.Array"),
            ("States.Array (1)", "expected '(' right after States.Array"),
            ("States.Array(1", "missing ')'"),
            ("States.Array(1) x", "expected the end"),
            ("States.Array(1 2)", "expected ',' or ')'"),
            ("States.Array('abc)", "unterminated string literal"),
            ("States.Array('a\\nb')", "invalid escape '\\n'"),
            ("States.Array('a\\", "open escape"),
            ("States.Array(nope)", "'nope' at offset 13 is not an argument"),
            ("States.Array(1x)", "is not a number"),
            ("States.Array($.a[)", "invalid path"),
            ("States.UUID(1)", "States.UUID takes 0 argument(s), got 1"),
            ("States.MathRandom(1)", "takes 2 to 3 argument(s)"),
            ("States.Format()", "takes at least 1 argument(s)"),
            ("States.Format('{} {}', 1)", "2 '{}' placeholder(s) but 1 value(s)"),
            ("States.Format(1)", "argument 1 must be a string"),
            ("States.Hash($.x, 'SHA-3')", "one of MD5, SHA-1"),
            ("States.JsonMerge($.a, $.b, true)", "only shallow merges"),
            ("States.ArrayPartition($.a, 0)", "positive integer"),
            ("States.ArrayRange(1, 9, 0)", "must not be zero"),
            ("States.ArrayRange(0, 1000, 1)", "1001 items"),
            ("States.ArrayRange(1.5, 9, 1)", "an integer"),
            ("States.ArrayLength('abc')", "an array"),
            ("States.Base64Decode('***')", "not valid Base64"),
            ("States.StringToJson('{')", "not valid JSON"),
            ("", "not an intrinsic function"),
        ];
        for (text, needle) in cases {
            let message = parse_error(text);
            assert!(message.contains(needle), "{text}: {message}");
        }
    }

    #[test]
    fn looks_like_intrinsic_checks_the_prefix() {
        assert!(looks_like_intrinsic("States.Format('x')"));
        assert!(!looks_like_intrinsic("$.States"));
        assert!(!looks_like_intrinsic("states.Format('x')"));
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_any_string(text in any::<String>()) {
            let _ = Intrinsic::parse(&text);
            let _ = Intrinsic::parse(&format!("States.Format({text})"));
        }

        #[test]
        fn parse_and_eval_never_panic_on_intrinsic_like_text(
            name in prop::sample::select(FUNCTIONS.iter().map(|(name, _)| *name).collect::<Vec<_>>()),
            args in "[$.a-z0-9'{}\\\\(),\\[\\] -]{0,30}",
        ) {
            let text = format!("{name}({args})");
            if let Ok(call) = Intrinsic::parse(&text) {
                let input = json!({"a": [1, "x", {"b": 2}], "b": "s", "c": 3});
                let _ = call.eval(&input, &input, &mut Rng::seeded(0));
            }
        }
    }
}
