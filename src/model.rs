//! The UpdateContact request: typed members, read from JSON with field-path errors,
//! written as the restJson1 body.
//!
//! The types, their members and their readers are generated from the vendored service model
//! (model/connect.json, by scripts/generate-from-model into src/generated.rs) and re-exported
//! here; this module holds what they share. Messages follow botocore's ParamValidationError.
//!
//! Reading checks what must hold whatever the service's current limits are: JSON types,
//! required members and unknown members. The model's limits (lengths, patterns, and enums
//! when asked) are checked by [`crate::validate`], which a client can switch off.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::error::Error;

/// Largest request document accepted, in bytes. The service's own limit is lower; this bound
/// keeps a runaway caller from making us parse and sign gigabytes.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Deepest nesting of a recursive shape (`SegmentAttributeValue` through ValueMap / ValueList)
/// accepted. Bounds the
/// recursion of validation and serialization for requests built in Rust, too.
pub const MAX_SEGMENT_ATTRIBUTE_DEPTH: usize = 32;

pub use crate::generated::*;

/// Shown in place of a sensitive member's value.
pub(crate) const REDACTED: &str = "*** Sensitive Data Redacted ***";

impl UpdateContactRequest {
    /// A request for this instance and contact, with nothing to update yet.
    pub fn new(instance_id: impl Into<String>, contact_id: impl Into<String>) -> Self {
        UpdateContactRequest {
            instance_id: instance_id.into(),
            contact_id: contact_id.into(),
            ..Default::default()
        }
    }

    /// Reads a request document as `aws connect update-contact --cli-input-json` takes it.
    ///
    /// Fails with [`Error::InvalidJson`] for text that is not JSON (or larger than
    /// 4 MiB, or nested deeper than serde_json's limit of 128), and with
    /// [`Error::Validation`] for a wrong type, a missing required member or an unknown member.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let value = parse_json_document(text, "request", MAX_REQUEST_BYTES)?;
        Self::from_value(&value)
    }

    /// Reads a request from an already parsed JSON value (see [`UpdateContactRequest::from_json`]).
    pub fn from_value(value: &Value) -> Result<Self, Error> {
        UpdateContactRequest::read(value, &FieldPath::Root, 1)
    }

    /// The restJson1 body: every member but the two URI labels.
    pub fn to_body(&self) -> Vec<u8> {
        // Serializing plain strings, maps and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// The values of every member the service model marks sensitive (
    /// Name, Description, and the EmailAddress and DisplayName of each recipient), present and
    /// non-empty, wherever they sit in the request: what the library keeps out
    /// of the messages of this request's call. Found by walking the request's JSON form, so a
    /// member the model marks sensitive later is covered with no change here.
    pub fn sensitive_values(&self) -> Vec<String> {
        fn collect(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(members) => {
                    for (name, value) in members {
                        match value {
                            Value::String(s) if SENSITIVE_MEMBERS.contains(&name.as_str()) => {
                                if !s.is_empty() {
                                    out.push(s.clone());
                                }
                            }
                            other => collect(other, out),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        // Serializing plain strings, maps and integers cannot fail.
        if let Ok(value) = serde_json::to_value(self) {
            collect(&value, &mut out);
        }
        out
    }

    /// True when a member other than the two IDs is present.
    pub fn has_update(&self) -> bool {
        self.has_body_member()
    }
}

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
mod tests {
    use super::*;

    fn refusal(json: &str) -> String {
        match UpdateContactRequest::from_json(json) {
            Err(Error::Validation(m)) => m,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn reads_every_member_and_writes_them_back() {
        let json = r#"{"InstanceId":"i","ContactId":"c","Name":"n","Description":"d",
            "References":{"r":{"Type":"URL","Value":"https://x","Status":"AVAILABLE","Arn":"arn:aws:x:1234567890123","StatusReason":"ok"}},
            "SegmentAttributes":{"connect:Subtype":{"ValueString":"s","ValueInteger":-5,"ValueArn":"arn",
               "ValueMap":{"k":{"ValueList":[{"ValueString":"deep"}]}}}},
            "QueueInfo":{"Id":"q"},"UserInfo":{"UserId":"u"},
            "CustomerEndpoint":{"Type":"TELEPHONE_NUMBER","Address":"+15555550100"},
            "SystemEndpoint":{"Type":"VOIP","Address":"sip:x"}}"#;
        let req = UpdateContactRequest::from_json(json).unwrap();
        assert_eq!(req.instance_id, "i");
        assert_eq!(req.contact_id, "c");
        let mut input: Value = serde_json::from_str(json).unwrap();
        let map = input.as_object_mut().unwrap();
        map.remove("InstanceId");
        map.remove("ContactId");
        let body: Value = serde_json::from_slice(&req.to_body()).unwrap();
        assert_eq!(body, input, "the body is the input minus the URI labels");
    }

    #[test]
    fn unknown_member_is_named_with_a_suggestion() {
        let m = refusal(r#"{"InstanceId":"i","ContactId":"c","Nmae":"x"}"#);
        assert!(
            m.starts_with(r#"Unknown parameter in input: "Nmae", must be one of: InstanceId, ContactId, Name,"#),
            "{m}"
        );
        assert!(m.ends_with(r#"; did you mean "Name"?"#), "{m}");
        let m = refusal(
            r#"{"InstanceId":"i","ContactId":"c","References":{"t":{"Type":"URL","Vaule":"x"}}}"#,
        );
        assert_eq!(
            m,
            r#"Unknown parameter in References.t: "Vaule", must be one of: Value, Type, Status, Arn, StatusReason; did you mean "Value"?"#
        );
    }

    #[test]
    fn types_and_required_members_are_checked_with_paths() {
        assert_eq!(
            refusal(r#"{"ContactId":"c","Name":"x"}"#),
            r#"Missing required parameter in input: "InstanceId""#
        );
        assert_eq!(
            refusal(r#"{"InstanceId":1,"ContactId":"c"}"#),
            "Invalid type for parameter InstanceId, type: number, valid types: string"
        );
        assert_eq!(
            refusal(r#"[]"#),
            "Invalid type for parameter input, type: array, valid types: object"
        );
        assert_eq!(
            refusal(r#"{"InstanceId":"i","ContactId":"c","References":{"t":{"Value":"v"}}}"#),
            r#"Missing required parameter in References.t: "Type""#
        );
        assert_eq!(
            refusal(
                r#"{"InstanceId":"i","ContactId":"c","SegmentAttributes":{"a":{"ValueList":[{},{"ValueInteger":"1"}]}}}"#
            ),
            "Invalid type for parameter SegmentAttributes.a.ValueList[1].ValueInteger, type: string, valid types: integer"
        );
        assert_eq!(
            refusal(r#"{"InstanceId":"i","ContactId":"c","SegmentAttributes":{"a":{"ValueInteger":2147483648}}}"#),
            "Invalid range for parameter SegmentAttributes.a.ValueInteger, value: 2147483648, valid range: -2147483648 to 2147483647"
        );
        assert_eq!(
            refusal(r#"{"InstanceId":"i","ContactId":"c","Name":null}"#),
            "Invalid type for parameter Name, type: null, valid types: string"
        );
        let m = refusal(r#"{"InstanceId":"i","ContactId":"c","References":{"a b":{"Type":3}}}"#);
        assert_eq!(
            m,
            r#"Invalid type for parameter References["a b"].Type, type: number, valid types: string"#
        );
        assert_eq!(
            refusal(
                r#"{"InstanceId":"i","ContactId":"c","AdditionalRecipients":{"CcEmailAddresses":[{"DisplayName":"d"}]}}"#
            ),
            r#"Missing required parameter in AdditionalRecipients.CcEmailAddresses[0]: "EmailAddress""#
        );
    }

    #[test]
    fn deep_or_huge_documents_are_refused_without_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            UpdateContactRequest::from_json(&deep),
            Err(Error::InvalidJson(_))
        ));
        let mut nested = String::from(r#"{"ValueString":"x"}"#);
        for _ in 0..40 {
            nested = format!(r#"{{"ValueList":[{nested}]}}"#);
        }
        let json =
            format!(r#"{{"InstanceId":"i","ContactId":"c","SegmentAttributes":{{"a":{nested}}}}}"#);
        assert!(refusal(&json).contains("nest deeper than 32 levels"));
        let huge = format!(
            r#"{{"InstanceId":"i","ContactId":"c","Name":"{}"}}"#,
            "x".repeat(MAX_REQUEST_BYTES)
        );
        assert!(matches!(
            UpdateContactRequest::from_json(&huge),
            Err(Error::InvalidJson(_))
        ));
    }

    #[test]
    fn debug_redacts_sensitive_members() {
        let req = UpdateContactRequest::from_json(
            r#"{"InstanceId":"i","ContactId":"c","Name":"Jane Secret-Name","Description":"private notes",
                "AdditionalRecipients":{"CcEmailAddresses":[{"EmailAddress":"hidden.person@example.com","DisplayName":"Hidden Person"}]}}"#,
        )
        .unwrap();
        let shown = format!("{req:?} {req:#?}");
        for secret in [
            "Secret-Name",
            "private notes",
            "hidden.person",
            "Hidden Person",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains(REDACTED));
        assert!(
            shown.contains("cc_email_addresses"),
            "the structure stays visible: {shown}"
        );
        assert_eq!(
            SENSITIVE_MEMBERS,
            &["Description", "DisplayName", "EmailAddress", "Name"],
            "the model's sensitive members"
        );
    }

    #[test]
    fn additional_recipients_round_trip() {
        let json = r#"{"InstanceId":"i","ContactId":"c","AdditionalRecipients":{"CcEmailAddresses":[{"EmailAddress":"a@b.co","DisplayName":"A"},{"EmailAddress":"c@d.co"}]}}"#;
        let req = UpdateContactRequest::from_json(json).unwrap();
        assert!(req.has_update());
        let body: Value = serde_json::from_slice(&req.to_body()).unwrap();
        let mut input: Value = serde_json::from_str(json).unwrap();
        let map = input.as_object_mut().unwrap();
        map.remove("InstanceId");
        map.remove("ContactId");
        assert_eq!(body, input);
        let cleared = UpdateContactRequest::from_json(
            r#"{"InstanceId":"i","ContactId":"c","AdditionalRecipients":{"CcEmailAddresses":[]}}"#,
        )
        .unwrap();
        assert_eq!(
            cleared.to_body(),
            br#"{"AdditionalRecipients":{"CcEmailAddresses":[]}}"#.to_vec(),
            "an empty list (clear the CC recipients) is sent, not dropped"
        );
    }
}
