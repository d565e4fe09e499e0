//! What the generated readers share: bounded JSON parsing, the field path of a value (for
//! messages), the member-by-member object reader that refuses unknown members, and the typed
//! value readers. Messages follow botocore's ParamValidationError.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::error::Error;

/// Appends `n` in decimal: what `write!(out, "{n}")` writes, without the formatting machinery
/// (every call writes a few numbers: Content-Length, the date, the response's status).
pub(crate) fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Shown in place of a sensitive member's value.
pub(crate) const REDACTED: &str = "*** Sensitive Data Redacted ***";

/// Parses a JSON document with a size bound; `what` names it in the error.
pub(crate) fn parse_json_document(
    text: &str,
    what: &str,
    max_bytes: usize,
) -> Result<Value, Error> {
    if text.len() > max_bytes {
        return Err(Error::InvalidJson(format!(
            "{what} JSON is {} bytes; the limit is {max_bytes} bytes",
            text.len()
        )));
    }
    // serde_json refuses nesting deeper than 128 with an error, so hostile input cannot
    // overflow the stack here.
    serde_json::from_str(text)
        .map_err(|e| Error::InvalidJson(format!("{what} is not valid JSON: {e}")))
}

/// Where a value sits in the request, for error messages: `References.ticket.Type`,
/// `SegmentAttributes.x.ValueList[2]`. Built on the stack as the reader descends.
#[derive(Clone, Copy, Debug)]
pub enum FieldPath<'a> {
    Root,
    Member(&'a FieldPath<'a>, &'a str),
    Index(&'a FieldPath<'a>, usize),
}

impl<'a> FieldPath<'a> {
    pub fn member(&'a self, name: &'a str) -> FieldPath<'a> {
        FieldPath::Member(self, name)
    }

    pub fn index(&'a self, i: usize) -> FieldPath<'a> {
        FieldPath::Index(self, i)
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPath::Root => f.write_str("input"),
            FieldPath::Member(FieldPath::Root, name) => write_key(f, name, false),
            FieldPath::Member(parent, name) => {
                parent.fmt(f)?;
                write_key(f, name, true)
            }
            FieldPath::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Map keys are user data: plain ones print as `a.b`, others JSON-quoted as `a["x y"]` so a
/// message stays on one line and unambiguous.
fn write_key(f: &mut fmt::Formatter<'_>, key: &str, dot: bool) -> fmt::Result {
    let plain = !key.is_empty()
        && key.len() <= 128
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-:".contains(&b));
    if plain {
        if dot {
            f.write_str(".")?;
        }
        f.write_str(key)
    } else {
        let shown: String = key.chars().take(64).collect();
        let quoted = serde_json::to_string(&shown).unwrap_or_default();
        let more = if shown.len() < key.len() { "…" } else { "" };
        write!(f, "[{quoted}{more}]")
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// botocore's wording, without the value: it may be sensitive.
fn type_error(path: &FieldPath, expected: &str, got: &Value) -> Error {
    Error::Validation(format!(
        "Invalid type for parameter {path}, type: {}, valid types: {expected}",
        json_type(got)
    ))
}

/// A member name as the caller wrote it, JSON-quoted and cut to 64 characters.
fn quoted_name(name: &str) -> String {
    let shown: String = name.chars().take(64).collect();
    let more = if shown.len() < name.len() { "…" } else { "" };
    format!(
        "{}{more}",
        serde_json::to_string(&shown).unwrap_or_default()
    )
}

/// A JSON object whose members are taken one by one; unknown members are refused up front.
pub(crate) struct Object<'v, 'p> {
    map: &'v Map<String, Value>,
    path: &'p FieldPath<'p>,
}

impl<'v, 'p> Object<'v, 'p> {
    pub(crate) fn new(
        value: &'v Value,
        path: &'p FieldPath<'p>,
        members: &[&str],
    ) -> Result<Self, Error> {
        let Value::Object(map) = value else {
            return Err(type_error(path, "object", value));
        };
        if let Some(unknown) = map.keys().find(|k| !members.contains(&k.as_str())) {
            let hint = closest(unknown, members)
                .map(|m| format!("; did you mean \"{m}\"?"))
                .unwrap_or_default();
            return Err(Error::Validation(format!(
                "Unknown parameter in {path}: {}, must be one of: {}{hint}",
                quoted_name(unknown),
                members.join(", ")
            )));
        }
        Ok(Object { map, path })
    }

    pub(crate) fn optional<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&Value, &FieldPath) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        match self.map.get(name) {
            None => Ok(None),
            Some(v) => read(v, &self.path.member(name)).map(Some),
        }
    }

    pub(crate) fn required<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&Value, &FieldPath) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.optional(name, read)?.ok_or_else(|| {
            Error::Validation(format!(
                "Missing required parameter in {}: \"{name}\"",
                self.path
            ))
        })
    }
}

/// The member a typo most likely meant (edit distance ≤ 2, ignoring case).
pub(crate) fn closest<'m>(word: &str, members: &[&'m str]) -> Option<&'m str> {
    let word = word.to_ascii_lowercase();
    members
        .iter()
        .map(|m| (edit_distance(&word, &m.to_ascii_lowercase()), *m))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, m)| m)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

pub(crate) fn read_string(v: &Value, path: &FieldPath) -> Result<String, Error> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(type_error(path, "string", other)),
    }
}

pub(crate) fn read_map<T>(
    v: &Value,
    path: &FieldPath,
    read: impl Fn(&Value, &FieldPath) -> Result<T, Error>,
) -> Result<BTreeMap<String, T>, Error> {
    let Value::Object(map) = v else {
        return Err(type_error(path, "object", v));
    };
    map.iter()
        .map(|(k, v)| read(v, &path.member(k)).map(|t| (k.clone(), t)))
        .collect()
}

pub(crate) fn read_list<T>(
    v: &Value,
    path: &FieldPath,
    read: impl Fn(&Value, &FieldPath) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let Value::Array(items) = v else {
        return Err(type_error(path, "array", v));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| read(item, &path.index(i)))
        .collect()
}

pub(crate) fn read_i32(v: &Value, path: &FieldPath) -> Result<i32, Error> {
    v.as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| match v {
            Value::Number(n) => Error::Validation(format!(
                "Invalid range for parameter {path}, value: {n}, valid range: {} to {}",
                i32::MIN,
                i32::MAX
            )),
            other => type_error(path, "integer", other),
        })
}

#[cfg(test)]
mod decimal_tests {
    #[test]
    fn push_decimal_writes_what_display_writes() {
        for n in [0, 1, 9, 10, 99, 100, 204, 65_535, 1_000_000_007, u64::MAX] {
            let mut out = b"x".to_vec();
            super::push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }
}
