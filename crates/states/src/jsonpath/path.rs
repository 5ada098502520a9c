//! JSONPath as the Amazon States Language uses it: parse once when a definition is loaded,
//! then select from the state input or the context object, and write results (`ResultPath`).
//!
//! Supported syntax, following the ASL spec ("Paths", "Reference Paths") and the Step Functions
//! developer guide (amazon-states-language-paths.html), which both defer to Jayway JsonPath:
//! `$`, `$$` (context object), `.name`, `['name']`/`["name"]`, `[index]` (negative counts from
//! the end), `.*`/`[*]`, `..name`/`..*` (recursive descent), unions `[0,1]`/`['a','b']`, slices
//! `[start:end]` and simple filters `[?(@.a >= 5)]` (comparisons, existence, `&&`, `||`).
//! Everything else (functions like `length()`, regex filters, filters that reference `$`,
//! slice steps) is rejected by [`JsonPath::parse`] with a message.
//!
//! This module never panics on any input and does no I/O.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value};

use crate::error::{StatesError, names};

/// Where the workflow variables sit in the context value a path is evaluated with: the query
/// seam adds them under this key (no context object field starts with `$`).
pub const VARIABLES_KEY: &str = "$variables";

/// A parsed JSONPath (`$...`), context-object path (`$$...`) or variable path (`$name...`).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    text: String,
    context: bool,
    variable: Option<String>,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    /// `.x`, `[..]`: applies to the current nodes.
    Child(Selector),
    /// `..x`, `..[..]`: applies to the current nodes and all their descendants.
    Descendant(Selector),
}

#[derive(Debug, Clone, PartialEq)]
enum Selector {
    Name(String),
    Index(i64),
    Wildcard,
    Names(Vec<String>),
    Indexes(Vec<i64>),
    Slice { start: Option<i64>, end: Option<i64> },
    Filter(Filter),
}

/// A filter expression `?( ... )`.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Or(Box<Filter>, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Exists(Vec<RelStep>),
    Compare(Operand, CmpOp, Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// `@` followed by steps.
    Current(Vec<RelStep>),
    Literal(Value),
}

#[derive(Debug, Clone, PartialEq)]
enum RelStep {
    Name(String),
    Index(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl JsonPath {
    /// Parses a path; the error names the offending character and why it is not supported.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let (context, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            (false, rest)
        } else {
            return Err(format!("'{text}' is not a path: a path must start with '$'"));
        };
        // `$name...`: a workflow variable.
        let name_len = if context {
            0
        } else {
            rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len())
        };
        let (variable, rest) = match name_len {
            0 => (None, rest),
            n => (Some(rest[..n].to_owned()), &rest[n..]),
        };
        let offset = if context { 2 } else { 1 + name_len };
        let mut parser = Parser { chars: rest.chars().collect(), pos: 0, offset };
        if let Some(c) = parser.peek()
            && c != '.'
            && c != '['
        {
            return Err(format!("'{text}': expected '.' or '[' after '$', found '{c}'"));
        }
        let segments = parser.segments().map_err(|message| format!("'{text}': {message}"))?;
        Ok(JsonPath { text: text.to_owned(), context, variable, segments })
    }

    /// The path exactly as written in the definition.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for `$$...` paths, which select from the context object.
    pub fn is_context(&self) -> bool {
        self.context
    }

    /// The workflow variable a `$name...` path reads.
    pub fn variable(&self) -> Option<&str> {
        self.variable.as_deref()
    }

    /// True when every segment is `.name`, `['name']` or a non-negative `[index]`
    /// (a Reference Path in the ASL spec, required by `ResultPath` and Choice rules).
    pub fn is_reference(&self) -> bool {
        self.segments.iter().all(|segment| {
            matches!(
                segment,
                Segment::Child(Selector::Name(_)) | Segment::Child(Selector::Index(0..))
            )
        })
    }

    /// True when the path can select at most one node (no wildcard, union, slice, `..` or filter).
    pub fn is_definite(&self) -> bool {
        self.segments.iter().all(|segment| {
            matches!(
                segment,
                Segment::Child(Selector::Name(_)) | Segment::Child(Selector::Index(_))
            )
        })
    }

    /// All nodes the path selects from `input` (or `context` if [`Self::is_context`]), in
    /// document order; empty when nothing matches.
    pub fn matches<'v>(&self, input: &'v Value, context: &'v Value) -> Vec<&'v Value> {
        let root = match &self.variable {
            Some(name) => {
                match context.get(VARIABLES_KEY).and_then(|variables| variables.get(name)) {
                    Some(value) => value,
                    None => return Vec::new(),
                }
            }
            None if self.context => context,
            None => input,
        };
        let mut current = vec![root];
        for segment in &self.segments {
            let mut next = Vec::new();
            for node in current {
                match segment {
                    Segment::Child(selector) => apply_selector(selector, node, &mut next),
                    Segment::Descendant(selector) => {
                        for descendant in self_and_descendants(node) {
                            apply_selector(selector, descendant, &mut next);
                        }
                    }
                }
            }
            if next.is_empty() {
                return next;
            }
            current = next;
        }
        current
    }

    /// Selects from `input` (or `context` if [`Self::is_context`]). Definite path: the value,
    /// Err if absent. Indefinite path: a JSON array of all matches (possibly empty), as Step
    /// Functions returns.
    ///
    /// The error is `States.Runtime` with Jayway's wording as AWS reports it for InputPath and
    /// OutputPath ("Invalid path '$.x' : No results for path: $['x']"); callers re-label it.
    pub fn select(&self, input: &Value, context: &Value) -> Result<Value, StatesError> {
        let found = self.matches(input, context);
        if self.is_definite() {
            match found.first() {
                Some(value) => Ok((*value).clone()),
                None => Err(StatesError::new(
                    names::RUNTIME,
                    format!("Invalid path '{}' : {}", self.text, self.miss(input, context)),
                )),
            }
        } else {
            Ok(Value::Array(found.into_iter().cloned().collect()))
        }
    }

    /// Writes `value` at this reference path inside `root` (ResultPath semantics: "$" replaces
    /// root; creates missing objects; fails with States.ResultPathMatchFailure when a segment
    /// traverses a non-object or an index is out of range).
    ///
    /// `root` is left unchanged when this fails. The cause follows AWS's wording:
    /// "Unable to apply ReferencePath $.x to input \"foo\"" (input as a JSON-encoded string).
    pub fn set(&self, root: &mut Value, value: Value) -> Result<(), StatesError> {
        if self.context || self.variable.is_some() || !self.is_reference() {
            return Err(StatesError::new(
                names::RESULT_PATH_MATCH_FAILURE,
                format!("'{}' is not a reference path into the state input", self.text),
            ));
        }
        if !self.can_set(root) {
            return Err(self.set_failure(root));
        }
        // `can_set` has checked every step, so the failure branches below cannot be reached;
        // they still return an error instead of panicking.
        let failure = || {
            StatesError::new(
                names::RESULT_PATH_MATCH_FAILURE,
                format!("Unable to apply ReferencePath {}", self.text),
            )
        };
        let mut node = root;
        let last = self.segments.len().saturating_sub(1);
        for (i, segment) in self.segments.iter().enumerate() {
            let is_last = i == last;
            node = match segment {
                Segment::Child(Selector::Name(name)) => {
                    let Value::Object(map) = node else { return Err(failure()) };
                    if is_last {
                        map.insert(name.clone(), value);
                        return Ok(());
                    }
                    map.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()))
                }
                Segment::Child(Selector::Index(index)) => {
                    let slot = usize::try_from(*index)
                        .ok()
                        .and_then(|index| node.as_array_mut()?.get_mut(index));
                    let Some(slot) = slot else { return Err(failure()) };
                    if is_last {
                        *slot = value;
                        return Ok(());
                    }
                    slot
                }
                _ => return Err(failure()),
            };
        }
        // Only reached for "$": the result replaces the whole input.
        *node = value;
        Ok(())
    }

    /// Checks, without writing, that [`Self::set`] can apply: names only traverse objects or
    /// missing fields (created as objects), indexes only existing array slots.
    fn can_set(&self, root: &Value) -> bool {
        // `None` means "will be created as an empty object".
        let mut node = Some(root);
        for segment in &self.segments {
            node = match (segment, node) {
                (Segment::Child(Selector::Name(_)), None) => None,
                (Segment::Child(Selector::Name(name)), Some(Value::Object(map))) => map.get(name),
                (Segment::Child(Selector::Index(index)), Some(Value::Array(items))) => {
                    match usize::try_from(*index).ok().and_then(|index| items.get(index)) {
                        Some(item) => Some(item),
                        None => return false,
                    }
                }
                _ => return false,
            };
        }
        true
    }

    fn set_failure(&self, root: &Value) -> StatesError {
        let input_text = root.to_string();
        StatesError::new(
            names::RESULT_PATH_MATCH_FAILURE,
            format!(
                "Unable to apply ReferencePath {} to input {}",
                self.text,
                Value::String(input_text)
            ),
        )
    }

    /// Why a definite path matched nothing, in Jayway's words as AWS reports them: a property
    /// missing before the last step is "Missing property in path $['no']" (the path up to it),
    /// anything else "No results for path: $['a']['b']" (LocalStack
    /// `scenarios/test_base_scenarios.snapshot.json`, `test_catch_states_runtime` and
    /// `test_invalid_jsonpath`).
    fn miss(&self, input: &Value, context: &Value) -> String {
        let mut node = if self.context { context } else { input };
        let last = self.segments.len().saturating_sub(1);
        for (i, segment) in self.segments.iter().enumerate() {
            let next = match (segment, node) {
                (Segment::Child(Selector::Name(name)), Value::Object(map)) => match map.get(name) {
                    Some(next) => next,
                    None if i < last => {
                        return format!("Missing property in path {}", self.normalized_to(i + 1));
                    }
                    None => break,
                },
                (Segment::Child(Selector::Index(index)), Value::Array(items)) => {
                    match usize::try_from(*index).ok().and_then(|index| items.get(index)) {
                        Some(next) => next,
                        None => break,
                    }
                }
                _ => break,
            };
            node = next;
        }
        format!("No results for path: {}", self.normalized())
    }

    /// Jayway's bracket-notation rendering (`$['a'][0]`), used in error causes.
    fn normalized(&self) -> String {
        self.normalized_to(self.segments.len())
    }

    /// [`Self::normalized`] of the first `count` segments.
    fn normalized_to(&self, count: usize) -> String {
        let mut out = String::from("$");
        for segment in self.segments.iter().take(count) {
            let selector = match segment {
                Segment::Child(selector) => selector,
                Segment::Descendant(selector) => {
                    out.push_str("..");
                    selector
                }
            };
            match selector {
                Selector::Name(name) => out.push_str(&format!("['{name}']")),
                Selector::Index(index) => out.push_str(&format!("[{index}]")),
                Selector::Wildcard => out.push_str("[*]"),
                Selector::Names(keys) => {
                    let quoted: Vec<String> = keys.iter().map(|n| format!("'{n}'")).collect();
                    out.push_str(&format!("[{}]", quoted.join(",")));
                }
                Selector::Indexes(indexes) => {
                    let listed: Vec<String> = indexes.iter().map(i64::to_string).collect();
                    out.push_str(&format!("[{}]", listed.join(",")));
                }
                Selector::Slice { start, end } => {
                    let start = start.map(|s| s.to_string()).unwrap_or_default();
                    let end = end.map(|e| e.to_string()).unwrap_or_default();
                    out.push_str(&format!("[{start}:{end}]"));
                }
                Selector::Filter(_) => out.push_str("[?]"),
            }
        }
        out
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn apply_selector<'v>(selector: &Selector, node: &'v Value, out: &mut Vec<&'v Value>) {
    match selector {
        Selector::Name(name) => {
            if let Some(value) = node.as_object().and_then(|map| map.get(name)) {
                out.push(value);
            }
        }
        Selector::Index(index) => {
            if let Some(value) = node.as_array().and_then(|items| array_get(items, *index)) {
                out.push(value);
            }
        }
        Selector::Wildcard => match node {
            Value::Object(map) => out.extend(map.values()),
            Value::Array(items) => out.extend(items.iter()),
            _ => {}
        },
        Selector::Names(keys) => {
            if let Some(map) = node.as_object() {
                out.extend(keys.iter().filter_map(|name| map.get(name)));
            }
        }
        Selector::Indexes(indexes) => {
            if let Some(items) = node.as_array() {
                out.extend(indexes.iter().filter_map(|index| array_get(items, *index)));
            }
        }
        Selector::Slice { start, end } => {
            if let Some(items) = node.as_array() {
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let clamp = |bound: i64| {
                    let bound = if bound < 0 { bound.saturating_add(len) } else { bound };
                    usize::try_from(bound.clamp(0, len)).unwrap_or(0)
                };
                let from = clamp(start.unwrap_or(0));
                let to = clamp(end.unwrap_or(len));
                if from < to {
                    out.extend(items.iter().skip(from).take(to - from));
                }
            }
        }
        Selector::Filter(filter) => match node {
            // "The @ operator ... does not match scalar values. It only matches objects."
            // (developer guide, amazon-states-language-paths.html)
            Value::Array(items) => {
                out.extend(items.iter().filter(|item| item.is_object() && filter.test(item)));
            }
            Value::Object(_) if filter.test(node) => out.push(node),
            _ => {}
        },
    }
}

fn array_get(items: &[Value], index: i64) -> Option<&Value> {
    let index =
        if index < 0 { i64::try_from(items.len()).ok()?.checked_add(index)? } else { index };
    items.get(usize::try_from(index).ok()?)
}

/// The node and every value below it, in document order, without recursion.
fn self_and_descendants(node: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(current) = stack.pop() {
        out.push(current);
        match current {
            Value::Object(map) => stack.extend(map.values().rev()),
            Value::Array(items) => stack.extend(items.iter().rev()),
            _ => {}
        }
    }
    out
}

impl Filter {
    fn test(&self, current: &Value) -> bool {
        match self {
            Filter::Or(a, b) => a.test(current) || b.test(current),
            Filter::And(a, b) => a.test(current) && b.test(current),
            Filter::Exists(steps) => resolve_relative(current, steps).is_some(),
            Filter::Compare(left, op, right) => {
                let (Some(left), Some(right)) = (left.resolve(current), right.resolve(current))
                else {
                    return false;
                };
                compare_values(left, *op, right)
            }
        }
    }
}

impl Operand {
    fn resolve<'v>(&'v self, current: &'v Value) -> Option<&'v Value> {
        match self {
            Operand::Current(steps) => resolve_relative(current, steps),
            Operand::Literal(value) => Some(value),
        }
    }
}

fn resolve_relative<'v>(current: &'v Value, steps: &[RelStep]) -> Option<&'v Value> {
    let mut node = current;
    for step in steps {
        node = match step {
            RelStep::Name(name) => node.as_object()?.get(name)?,
            RelStep::Index(index) => array_get(node.as_array()?, *index)?,
        };
    }
    Some(node)
}

fn compare_values(left: &Value, op: CmpOp, right: &Value) -> bool {
    let ordering = match (left, right) {
        (Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
        (Value::String(a), Value::String(b)) => Some(a.encode_utf16().cmp(b.encode_utf16())),
        _ => None,
    };
    match (op, ordering) {
        (CmpOp::Eq, Some(ordering)) => ordering == Ordering::Equal,
        (CmpOp::Ne, Some(ordering)) => ordering != Ordering::Equal,
        (CmpOp::Eq, None) => left == right,
        (CmpOp::Ne, None) => left != right,
        (CmpOp::Lt, Some(ordering)) => ordering == Ordering::Less,
        (CmpOp::Le, Some(ordering)) => ordering != Ordering::Greater,
        (CmpOp::Gt, Some(ordering)) => ordering == Ordering::Greater,
        (CmpOp::Ge, Some(ordering)) => ordering != Ordering::Less,
        (_, None) => false,
    }
}

/// Numeric comparison that is exact for integers and falls back to f64 otherwise.
pub(crate) fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Characters that cannot appear unescaped in a dot-notation name.
fn ends_or_forbids_dot_name(c: char) -> bool {
    matches!(c, '.' | '[' | ']' | '(' | ')' | '*' | '?' | ',' | '\'' | '"')
        || c.is_whitespace()
        || c.is_control()
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    /// Characters before `chars` in the original text (`$` or `$$`), for error positions.
    offset: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn here(&self) -> usize {
        self.pos + self.offset
    }

    fn unexpected(&self, what: &str) -> String {
        match self.peek() {
            Some(c) => format!("unexpected '{c}' at offset {} ({what})", self.here()),
            None => format!("unexpected end of path ({what})"),
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, wanted: char, what: &str) -> Result<(), String> {
        if self.peek() == Some(wanted) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn segments(&mut self) -> Result<Vec<Segment>, String> {
        let mut segments = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '.' if self.peek_at(1) == Some('.') => {
                    self.pos += 2;
                    let selector = match self.peek() {
                        Some('*') => {
                            self.pos += 1;
                            Selector::Wildcard
                        }
                        Some('[') => {
                            self.pos += 1;
                            self.bracket()?
                        }
                        _ => Selector::Name(self.dot_name()?),
                    };
                    segments.push(Segment::Descendant(selector));
                }
                '.' => {
                    self.pos += 1;
                    if self.peek() == Some('*') {
                        self.pos += 1;
                        segments.push(Segment::Child(Selector::Wildcard));
                    } else {
                        segments.push(Segment::Child(Selector::Name(self.dot_name()?)));
                    }
                }
                '[' => {
                    self.pos += 1;
                    segments.push(Segment::Child(self.bracket()?));
                }
                _ => return Err(self.unexpected("expected '.' or '['")),
            }
        }
        Ok(segments)
    }

    /// A dot-notation field name; `\` escapes the next character (ASL spec examples such as
    /// `$.store\.book` and `$.foo\@bar.baz\[\[.\?pretty`).
    fn dot_name(&mut self) -> Result<String, String> {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                self.pos += 1;
                match self.bump() {
                    Some(escaped) => name.push(escaped),
                    None => return Err("dangling '\\' at the end of the path".to_owned()),
                }
            } else if c == '(' {
                return Err(format!(
                    "unexpected '(' at offset {}: functions such as length() are not supported",
                    self.here()
                ));
            } else if c == '.' || c == '[' {
                break;
            } else if ends_or_forbids_dot_name(c) {
                return Err(self.unexpected("not allowed in a field name; use ['...']"));
            } else {
                name.push(c);
                self.pos += 1;
            }
        }
        if name.is_empty() {
            return Err(self.unexpected("expected a field name"));
        }
        Ok(name)
    }

    /// Everything after a `[` up to and including the matching `]`.
    fn bracket(&mut self) -> Result<Selector, String> {
        self.skip_spaces();
        let selector = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Selector::Wildcard
            }
            Some('\'' | '"') => {
                let mut keys = vec![self.quoted()?];
                self.skip_spaces();
                while self.peek() == Some(',') {
                    self.pos += 1;
                    self.skip_spaces();
                    keys.push(self.quoted()?);
                    self.skip_spaces();
                }
                match <[String; 1]>::try_from(keys) {
                    Ok([key]) => Selector::Name(key),
                    Err(keys) => Selector::Names(keys),
                }
            }
            Some('?') => {
                self.pos += 1;
                self.skip_spaces();
                self.expect('(', "expected '(' after '?'")?;
                let filter = self.filter_or(0)?;
                self.skip_spaces();
                self.expect(')', "expected ')' closing the filter")?;
                Selector::Filter(filter)
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == ':' => self.indexes_or_slice()?,
            _ => return Err(self.unexpected("expected an index, a quoted name, '*' or '?(...)'")),
        };
        self.skip_spaces();
        self.expect(']', "expected ']'")?;
        Ok(selector)
    }

    fn quoted(&mut self) -> Result<String, String> {
        let Some(quote) = self.bump() else {
            return Err("unexpected end of path (expected a quoted name)".to_owned());
        };
        let mut name = String::new();
        loop {
            match self.bump() {
                None => return Err("unterminated quoted name".to_owned()),
                Some('\\') => match self.bump() {
                    Some(escaped) => name.push(escaped),
                    None => return Err("unterminated quoted name".to_owned()),
                },
                Some(c) if c == quote => return Ok(name),
                Some(c) => name.push(c),
            }
        }
    }

    fn integer(&mut self) -> Result<i64, String> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars.get(start..self.pos).unwrap_or_default().iter().collect();
        digits.parse::<i64>().map_err(|_| {
            self.pos = start;
            self.unexpected("expected an integer")
        })
    }

    fn indexes_or_slice(&mut self) -> Result<Selector, String> {
        let first = if self.peek() == Some(':') { None } else { Some(self.integer()?) };
        self.skip_spaces();
        if self.peek() == Some(':') {
            self.pos += 1;
            self.skip_spaces();
            let end = if self.peek().is_some_and(|c| c.is_ascii_digit() || c == '-') {
                Some(self.integer()?)
            } else {
                None
            };
            self.skip_spaces();
            if self.peek() == Some(':') {
                return Err(format!(
                    "slice steps ('[a:b:c]') are not supported (offset {})",
                    self.here()
                ));
            }
            return Ok(Selector::Slice { start: first, end });
        }
        let Some(first) = first else {
            return Err(self.unexpected("expected an index"));
        };
        let mut indexes = vec![first];
        while self.peek() == Some(',') {
            self.pos += 1;
            self.skip_spaces();
            indexes.push(self.integer()?);
            self.skip_spaces();
        }
        Ok(if indexes.len() == 1 { Selector::Index(first) } else { Selector::Indexes(indexes) })
    }

    fn filter_or(&mut self, depth: usize) -> Result<Filter, String> {
        let mut left = self.filter_and(depth)?;
        loop {
            self.skip_spaces();
            if self.peek() == Some('|') && self.peek_at(1) == Some('|') {
                self.pos += 2;
                let right = self.filter_and(depth)?;
                left = Filter::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn filter_and(&mut self, depth: usize) -> Result<Filter, String> {
        let mut left = self.filter_primary(depth)?;
        loop {
            self.skip_spaces();
            if self.peek() == Some('&') && self.peek_at(1) == Some('&') {
                self.pos += 2;
                let right = self.filter_primary(depth)?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn filter_primary(&mut self, depth: usize) -> Result<Filter, String> {
        const MAX_FILTER_NESTING: usize = 32;
        self.skip_spaces();
        if self.peek() == Some('(') {
            if depth >= MAX_FILTER_NESTING {
                return Err("filter expression nested too deeply".to_owned());
            }
            self.pos += 1;
            let inner = self.filter_or(depth + 1)?;
            self.skip_spaces();
            self.expect(')', "expected ')'")?;
            return Ok(inner);
        }
        let left = self.filter_operand()?;
        self.skip_spaces();
        let op = match (self.peek(), self.peek_at(1)) {
            (Some('='), Some('=')) => Some((CmpOp::Eq, 2)),
            (Some('!'), Some('=')) => Some((CmpOp::Ne, 2)),
            (Some('<'), Some('=')) => Some((CmpOp::Le, 2)),
            (Some('>'), Some('=')) => Some((CmpOp::Ge, 2)),
            (Some('<'), _) => Some((CmpOp::Lt, 1)),
            (Some('>'), _) => Some((CmpOp::Gt, 1)),
            (Some('='), Some('~')) => {
                return Err("regular-expression filters ('=~') are not supported".to_owned());
            }
            (Some(c), _) if c.is_alphabetic() => {
                return Err(format!(
                    "filter operators such as 'in' or 'subsetof' are not supported (offset {})",
                    self.here()
                ));
            }
            _ => None,
        };
        match op {
            Some((op, width)) => {
                self.pos += width;
                self.skip_spaces();
                let right = self.filter_operand()?;
                Ok(Filter::Compare(left, op, right))
            }
            None => match left {
                Operand::Current(steps) => Ok(Filter::Exists(steps)),
                Operand::Literal(_) => Err(self.unexpected("expected a comparison operator")),
            },
        }
    }

    fn filter_operand(&mut self) -> Result<Operand, String> {
        match self.peek() {
            Some('@') => {
                self.pos += 1;
                let mut steps = Vec::new();
                loop {
                    match self.peek() {
                        Some('.') => {
                            self.pos += 1;
                            let mut name = String::new();
                            while let Some(c) = self.peek() {
                                if c.is_alphanumeric() || matches!(c, '_' | '-' | '$') {
                                    name.push(c);
                                    self.pos += 1;
                                } else {
                                    break;
                                }
                            }
                            if name.is_empty() {
                                return Err(self.unexpected("expected a field name after '@.'"));
                            }
                            if self.peek() == Some('(') {
                                return Err("functions such as length() are not supported".into());
                            }
                            steps.push(RelStep::Name(name));
                        }
                        Some('[') => {
                            self.pos += 1;
                            self.skip_spaces();
                            let step = match self.peek() {
                                Some('\'' | '"') => RelStep::Name(self.quoted()?),
                                Some(c) if c.is_ascii_digit() || c == '-' => {
                                    RelStep::Index(self.integer()?)
                                }
                                _ => return Err(self.unexpected("expected an index or a quoted name")),
                            };
                            self.skip_spaces();
                            self.expect(']', "expected ']'")?;
                            steps.push(step);
                        }
                        _ => return Ok(Operand::Current(steps)),
                    }
                }
            }
            Some('$') => Err(
                "filters that reference another value in the JSON structure ('$') are not supported"
                    .to_owned(),
            ),
            Some('\'' | '"') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                {
                    self.pos += 1;
                }
                let text: String = self.chars.get(start..self.pos).unwrap_or_default().iter().collect();
                match serde_json::from_str::<serde_json::Number>(&text) {
                    Ok(number) => Ok(Operand::Literal(Value::Number(number))),
                    Err(_) => Err(format!("'{text}' is not a number")),
                }
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                let word: String = self.chars.get(start..self.pos).unwrap_or_default().iter().collect();
                match word.as_str() {
                    "true" => Ok(Operand::Literal(Value::Bool(true))),
                    "false" => Ok(Operand::Literal(Value::Bool(false))),
                    "null" => Ok(Operand::Literal(Value::Null)),
                    _ => Err(format!("'{word}' is not supported in a filter")),
                }
            }
            _ => Err(self.unexpected("expected '@', a string, a number, true, false or null")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn path(text: &str) -> JsonPath {
        match JsonPath::parse(text) {
            Ok(parsed) => parsed,
            Err(message) => panic!("{text}: {message}"),
        }
    }

    fn select(text: &str, input: &Value) -> Result<Value, StatesError> {
        path(text).select(input, &json!({"Execution": {"Id": "exec-1"}, "DayOfWeek": "TUESDAY"}))
    }

    #[test]
    fn reference_paths_from_the_spec() {
        // ASL spec, "Reference Paths": $.foo => 123, $.bar => [...], $.car.cdr => true.
        let input = json!({"foo": 123, "bar": ["a", "b", "c"], "car": {"cdr": true}});
        let cases = [
            ("$.foo", json!(123)),
            ("$.bar", json!(["a", "b", "c"])),
            ("$.car.cdr", json!(true)),
            ("$", input.clone()),
            ("$['car']['cdr']", json!(true)),
            ("$[\"car\"].cdr", json!(true)),
            ("$.bar[0]", json!("a")),
            ("$.bar[-1]", json!("c")),
        ];
        for (text, expected) in cases {
            assert_eq!(select(text, &input), Ok(expected), "{text}");
            assert!(path(text).is_definite(), "{text}");
        }
    }

    #[test]
    fn filter_example_from_the_developer_guide() {
        // amazon-states-language-paths.html: $.jar[?(@.a >= 5)] => [{"a": 5}, {"a": 7}]
        let input = json!({"jar": [{"a": 1}, {"a": 5}, {"a": 2}, {"a": 7}, {"a": 3}]});
        assert_eq!(select("$.jar[?(@.a >= 5)]", &input), Ok(json!([{"a": 5}, {"a": 7}])));
    }

    #[test]
    fn indefinite_paths_return_arrays() {
        let input = json!({
            "vals": [0, 10, 20, 30, 40, 50],
            "a": [1, 2, 3, 4],
            "items": [{"b": 1, "n": "x"}, {"c": 2}, {"b": 3, "n": "y"}],
            "o": {"p": 1, "q": 2}
        });
        let cases = [
            // ASL spec, "Payload Template": "last3.$": "$.vals[-3:]" gives [30, 40, 50].
            ("$.vals[-3:]", json!([30, 40, 50])),
            // ASL spec, "Using InputPath ...": $.a[0,1] gives [1, 2].
            ("$.a[0,1]", json!([1, 2])),
            ("$.a[1:3]", json!([2, 3])),
            ("$.a[:2]", json!([1, 2])),
            ("$.a[2:]", json!([3, 4])),
            ("$.a[:-1]", json!([1, 2, 3])),
            ("$.a[3:1]", json!([])),
            ("$.a[-10:2]", json!([1, 2])),
            ("$.a[*]", json!([1, 2, 3, 4])),
            ("$.items[*].b", json!([1, 3])),
            ("$..b", json!([1, 3])),
            ("$.o.*", json!([1, 2])),
            ("$['o']['p','q']", json!([1, 2])),
            ("$.items[?(@.b)]", json!([{"b": 1, "n": "x"}, {"b": 3, "n": "y"}])),
            ("$.items[?(@.n == 'y')].b", json!([3])),
            ("$.items[?(@.b > 1 || @.c)]", json!([{"c": 2}, {"b": 3, "n": "y"}])),
            ("$.items[?(@.b >= 1 && @.n != 'x')]", json!([{"b": 3, "n": "y"}])),
            ("$.o..*", json!([1, 2])),
            // Document order (serde_json keeps key order: jsonata-core enables preserve_order).
            ("$..[0]", json!([0, 1, {"b": 1, "n": "x"}])),
            ("$.missing[*]", json!([])),
            ("$.a[?(@ > 1)]", json!([])),
        ];
        for (text, expected) in cases {
            assert_eq!(select(text, &input), Ok(expected), "{text}");
            assert!(!path(text).is_definite(), "{text}");
        }
    }

    #[test]
    fn context_paths_read_the_context_object() {
        let p = path("$$.Execution.Id");
        assert!(p.is_context());
        assert_eq!(select("$$.Execution.Id", &json!({})), Ok(json!("exec-1")));
        assert_eq!(select("$$.DayOfWeek", &json!({})), Ok(json!("TUESDAY")));
        assert!(path("$$").is_context());
        assert!(!path("$.x").is_context());
    }

    #[test]
    fn missing_definite_path_is_a_runtime_error_with_aws_wording() {
        let err = select("$.x", &json!({"y": 1}));
        assert_eq!(
            err,
            Err(StatesError::new(
                "States.Runtime",
                "Invalid path '$.x' : No results for path: $['x']"
            ))
        );
        let err = select("$.a[3].b", &json!({"a": [1]}));
        assert_eq!(
            err.map_err(|e| e.cause),
            Err("Invalid path '$.a[3].b' : No results for path: $['a'][3]['b']".to_owned())
        );
        // Traversing a scalar is a miss too, and null is a present value.
        assert!(select("$.a.b", &json!({"a": "text"})).is_err());
        assert_eq!(select("$.a", &json!({"a": null})), Ok(Value::Null));
    }

    #[test]
    fn escapes_in_names() {
        // ASL spec examples of acceptable Reference Path syntax.
        let input = json!({"store.book": 1, "foo@bar": {"baz[[": {"?pretty": 2}}});
        assert_eq!(select("$.store\\.book", &input), Ok(json!(1)));
        assert_eq!(select("$.foo\\@bar.baz\\[\\[.\\?pretty", &input), Ok(json!(2)));
        assert_eq!(select("$['store.book']", &input), Ok(json!(1)));
        assert_eq!(select("$.&Ж中", &json!({"&Ж中": 3})), Ok(json!(3)));
        assert_eq!(select("$.error-info", &json!({"error-info": 4})), Ok(json!(4)));
    }

    #[test]
    fn classification() {
        let cases = [
            // (path, reference, definite)
            ("$", true, true),
            ("$.a.b", true, true),
            ("$['a b'][0]", true, true),
            ("$.a[-1]", false, true),
            ("$.a[*]", false, false),
            ("$..a", false, false),
            ("$.a[1:2]", false, false),
            ("$.a[0,1]", false, false),
            ("$.a[?(@.x)]", false, false),
            ("$$.Map.Item.Value", true, true),
        ];
        for (text, reference, definite) in cases {
            let p = path(text);
            assert_eq!(p.is_reference(), reference, "{text}");
            assert_eq!(p.is_definite(), definite, "{text}");
            assert_eq!(p.as_str(), text);
            assert_eq!(p.to_string(), text);
        }
    }

    #[test]
    fn rejects_unsupported_syntax_with_a_reason() {
        let cases = [
            ("", "must start with '$'"),
            ("a.b", "must start with '$'"),
            ("$name!", "expected '.' or '['"),
            ("$.", "expected a field name"),
            ("$..", "expected a field name"),
            ("$.a.", "expected a field name"),
            ("$[", "unexpected end"),
            ("$.a[", "unexpected end"),
            ("$.a[0", "expected ']'"),
            ("$.a.length()", "length()"),
            ("$.a[?(@.b =~ /x/)]", "regular-expression"),
            ("$.a[?(@.b == $.c)]", "another value"),
            ("$.a[?(@.b in ['x'])]", "'in'"),
            ("$.a[::2]", "slice steps"),
            ("$.a[0:4:2]", "slice steps"),
            ("$.a b", "not allowed in a field name"),
            ("$['a", "unterminated"),
            ("$ .a", "expected '.' or '['"),
            ("$.a\\", "dangling"),
            ("$.a[x]", "expected an index"),
        ];
        for (text, needle) in cases {
            match JsonPath::parse(text) {
                Ok(parsed) => panic!("{text} parsed as {parsed:?}"),
                Err(message) => assert!(message.contains(needle), "{text}: {message}"),
            }
        }
    }

    #[test]
    fn set_follows_result_path_semantics() {
        // ASL spec, "Using InputPath ...": ResultPath examples.
        let raw = json!({"master": {"detail": [1, 2, 3]}});
        let cases = [
            ("$.master.detail", json!({"master": {"detail": 6}})),
            ("$.master.result.sum", json!({"master": {"detail": [1, 2, 3], "result": {"sum": 6}}})),
            ("$", json!(6)),
            ("$.master.detail[1]", json!({"master": {"detail": [1, 6, 3]}})),
        ];
        for (text, expected) in cases {
            let mut root = raw.clone();
            assert_eq!(path(text).set(&mut root, json!(6)), Ok(()), "{text}");
            assert_eq!(root, expected, "{text}");
        }
        let mut root = json!({"a": 1});
        assert_eq!(path("$.b.greeting").set(&mut root, json!("Hi!")), Ok(()));
        assert_eq!(root, json!({"a": 1, "b": {"greeting": "Hi!"}}));
    }

    #[test]
    fn set_failures_leave_input_untouched() {
        // ASL spec, "JSONPath Runtime Errors": input "foo" with ResultPath "$.x".
        let mut root = json!("foo");
        let err = path("$.x").set(&mut root, json!(1));
        assert_eq!(
            err,
            Err(StatesError::new(
                "States.ResultPathMatchFailure",
                r#"Unable to apply ReferencePath $.x to input "\"foo\"""#
            ))
        );
        assert_eq!(root, json!("foo"));
        let failing = [
            ("$.a.b", json!({"a": 1})),
            ("$.a[5]", json!({"a": [1]})),
            ("$.a[0]", json!({"a": {"0": 1}})),
            ("$.n.m[0]", json!({})),
            ("$.a[*]", json!({"a": [1]})),
            ("$$.x", json!({})),
        ];
        for (text, input) in failing {
            let mut root = input.clone();
            let err = path(text).set(&mut root, json!(1));
            assert_eq!(err.map_err(|e| e.error), Err("States.ResultPathMatchFailure".to_owned()));
            assert_eq!(root, input, "{text} changed the input");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "[$@.\\[\\]'\"*?()0-9a-z:,=<>!&| \\\\-]{0,24}") {
            if let Ok(parsed) = JsonPath::parse(&text) {
                let input = json!({"a": [1, {"b": 2}], "b": {"c": [3]}});
                let _ = parsed.select(&input, &input);
                let mut root = input.clone();
                let _ = parsed.set(&mut root, json!(0));
            }
        }

        #[test]
        fn parse_never_panics_on_any_string(text in any::<String>()) {
            let _ = JsonPath::parse(&text);
            let _ = JsonPath::parse(&format!("$.{text}"));
            let _ = JsonPath::parse(&format!("$[{text}]"));
        }
    }
}
