//! The UpdateContact request: typed members, read from JSON with field-path errors,
//! written as the restJson1 body.
//!
//! Reading checks what must hold whatever the service's current limits are: JSON types,
//! required members and unknown members. The model's limits (lengths, enums, patterns)
//! are checked by [`crate::validate`], which a client can switch off.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;

/// Largest request document accepted, in bytes. The service's own limit is lower; this bound
/// keeps a runaway caller from making us parse and sign gigabytes.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Deepest nesting of `SegmentAttributeValue` (ValueMap / ValueList) accepted. Bounds the
/// recursion of validation and serialization for requests built in Rust, too.
pub const MAX_SEGMENT_ATTRIBUTE_DEPTH: usize = 32;

/// Adds or updates a contact's user-defined information. Every member of the service model.
///
/// `Debug` redacts `name` and `description`, which the model marks sensitive.
#[derive(Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateContactRequest {
    /// The Amazon Connect instance (URI label).
    #[serde(skip)]
    pub instance_id: String,
    /// The contact (URI label).
    #[serde(skip)]
    pub contact_id: String,
    /// The contact's name (sensitive; 0..=1024 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The contact's description (sensitive; 0..=4096 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Well-formed data shown to agents, by reference key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub references: Option<BTreeMap<String, Reference>>,
    /// System-defined key-value pairs stored on the contact segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_attributes: Option<BTreeMap<String, SegmentAttributeValue>>,
    /// The queue (external audio contacts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_info: Option<QueueInfo>,
    /// The agent (external audio contacts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_info: Option<UserInfo>,
    /// The customer's endpoint (external audio contacts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_endpoint: Option<Endpoint>,
    /// The external system's endpoint (external audio contacts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_endpoint: Option<Endpoint>,
}

/// One entry of `References`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Reference {
    /// The reference's value (0..=4096 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Required: one of [`crate::validate::REFERENCE_TYPES`].
    #[serde(rename = "Type")]
    pub reference_type: String,
    /// One of [`crate::validate::REFERENCE_STATUSES`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The reference's ARN (20..=256 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Why the status is what it is (0..=100 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
}

/// A segment attribute's value: a string, an integer, an ARN, or a nested map or list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SegmentAttributeValue {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_map: Option<BTreeMap<String, SegmentAttributeValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_integer: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_list: Option<Vec<SegmentAttributeValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_arn: Option<String>,
}

/// `QueueInfo` (the model's QueueInfoInput).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `UserInfo`: the agent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// `CustomerEndpoint` / `SystemEndpoint`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    /// One of [`crate::validate::ENDPOINT_TYPES`].
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub endpoint_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

const REDACTED: &str = "*** Sensitive Data Redacted ***";

impl fmt::Debug for UpdateContactRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateContactRequest")
            .field("instance_id", &self.instance_id)
            .field("contact_id", &self.contact_id)
            .field("name", &self.name.as_ref().map(|_| REDACTED))
            .field("description", &self.description.as_ref().map(|_| REDACTED))
            .field("references", &self.references)
            .field("segment_attributes", &self.segment_attributes)
            .field("queue_info", &self.queue_info)
            .field("user_info", &self.user_info)
            .field("customer_endpoint", &self.customer_endpoint)
            .field("system_endpoint", &self.system_endpoint)
            .finish()
    }
}

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
    /// [`MAX_REQUEST_BYTES`], or nested deeper than serde_json's limit of 128), and with
    /// [`Error::Validation`] for a wrong type, a missing required member or an unknown member.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let value = parse_json_document(text, "request", MAX_REQUEST_BYTES)?;
        Self::from_value(&value)
    }

    /// Reads a request from an already parsed JSON value (see [`UpdateContactRequest::from_json`]).
    pub fn from_value(value: &Value) -> Result<Self, Error> {
        let root = FieldPath::Root;
        let mut obj = Object::new(value, &root, REQUEST_MEMBERS)?;
        Ok(UpdateContactRequest {
            instance_id: obj.required("InstanceId", read_string)?,
            contact_id: obj.required("ContactId", read_string)?,
            name: obj.optional("Name", read_string)?,
            description: obj.optional("Description", read_string)?,
            references: obj.optional("References", |v, p| read_map(v, p, read_reference))?,
            segment_attributes: obj.optional("SegmentAttributes", |v, p| {
                read_map(v, p, |v, p| read_segment_attribute_value(v, p, 1))
            })?,
            queue_info: obj.optional("QueueInfo", read_queue_info)?,
            user_info: obj.optional("UserInfo", read_user_info)?,
            customer_endpoint: obj.optional("CustomerEndpoint", read_endpoint)?,
            system_endpoint: obj.optional("SystemEndpoint", read_endpoint)?,
        })
    }

    /// The restJson1 body: every member but the two URI labels.
    pub fn to_body(&self) -> Vec<u8> {
        // Serializing plain strings, maps and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// True when a member other than the two IDs is present.
    pub fn has_update(&self) -> bool {
        self.name.is_some()
            || self.description.is_some()
            || self.references.is_some()
            || self.segment_attributes.is_some()
            || self.queue_info.is_some()
            || self.user_info.is_some()
            || self.customer_endpoint.is_some()
            || self.system_endpoint.is_some()
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

pub(crate) const REQUEST_MEMBERS: &[&str] = &[
    "InstanceId",
    "ContactId",
    "Name",
    "Description",
    "References",
    "SegmentAttributes",
    "QueueInfo",
    "UserInfo",
    "CustomerEndpoint",
    "SystemEndpoint",
];
const REFERENCE_MEMBERS: &[&str] = &["Value", "Type", "Status", "Arn", "StatusReason"];
const SEGMENT_ATTRIBUTE_VALUE_MEMBERS: &[&str] = &[
    "ValueString",
    "ValueMap",
    "ValueInteger",
    "ValueList",
    "ValueArn",
];
const QUEUE_INFO_MEMBERS: &[&str] = &["Id"];
const USER_INFO_MEMBERS: &[&str] = &["UserId"];
const ENDPOINT_MEMBERS: &[&str] = &["Type", "Address"];

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
            FieldPath::Root => f.write_str("request"),
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
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn type_error(path: &FieldPath, expected: &str, got: &Value) -> Error {
    Error::Validation(format!(
        "{path}: expected {expected}, got {}",
        json_type(got)
    ))
}

/// A JSON object whose members are taken one by one; unknown members are refused up front.
struct Object<'v, 'p> {
    map: &'v Map<String, Value>,
    path: &'p FieldPath<'p>,
}

impl<'v, 'p> Object<'v, 'p> {
    fn new(value: &'v Value, path: &'p FieldPath<'p>, members: &[&str]) -> Result<Self, Error> {
        let Value::Object(map) = value else {
            return Err(type_error(path, "an object", value));
        };
        if let Some(unknown) = map.keys().find(|k| !members.contains(&k.as_str())) {
            let hint = closest(unknown, members)
                .map(|m| format!("; did you mean {m}?"))
                .unwrap_or_default();
            return Err(Error::Validation(format!(
                "{}: unknown member; expected one of {}{hint}",
                path.member(unknown),
                members.join(", ")
            )));
        }
        Ok(Object { map, path })
    }

    fn optional<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&Value, &FieldPath) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        match self.map.get(name) {
            None => Ok(None),
            Some(v) => read(v, &self.path.member(name)).map(Some),
        }
    }

    fn required<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&Value, &FieldPath) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.optional(name, read)?.ok_or_else(|| {
            Error::Validation(format!(
                "{}: required member is missing",
                self.path.member(name)
            ))
        })
    }
}

/// The member a typo most likely meant (edit distance ≤ 2, ignoring case).
fn closest<'m>(word: &str, members: &[&'m str]) -> Option<&'m str> {
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

fn read_string(v: &Value, path: &FieldPath) -> Result<String, Error> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(type_error(path, "a string", other)),
    }
}

fn read_map<T>(
    v: &Value,
    path: &FieldPath,
    read: impl Fn(&Value, &FieldPath) -> Result<T, Error>,
) -> Result<BTreeMap<String, T>, Error> {
    let Value::Object(map) = v else {
        return Err(type_error(path, "an object", v));
    };
    map.iter()
        .map(|(k, v)| read(v, &path.member(k)).map(|t| (k.clone(), t)))
        .collect()
}

fn read_reference(v: &Value, path: &FieldPath) -> Result<Reference, Error> {
    let mut obj = Object::new(v, path, REFERENCE_MEMBERS)?;
    Ok(Reference {
        value: obj.optional("Value", read_string)?,
        reference_type: obj.required("Type", read_string)?,
        status: obj.optional("Status", read_string)?,
        arn: obj.optional("Arn", read_string)?,
        status_reason: obj.optional("StatusReason", read_string)?,
    })
}

fn read_segment_attribute_value(
    v: &Value,
    path: &FieldPath,
    depth: usize,
) -> Result<SegmentAttributeValue, Error> {
    if depth > MAX_SEGMENT_ATTRIBUTE_DEPTH {
        return Err(Error::Validation(format!(
            "{path}: segment attribute values nest deeper than {MAX_SEGMENT_ATTRIBUTE_DEPTH} levels"
        )));
    }
    let mut obj = Object::new(v, path, SEGMENT_ATTRIBUTE_VALUE_MEMBERS)?;
    let nested = |v: &Value, p: &FieldPath| read_segment_attribute_value(v, p, depth + 1);
    Ok(SegmentAttributeValue {
        value_string: obj.optional("ValueString", read_string)?,
        value_map: obj.optional("ValueMap", |v, p| read_map(v, p, nested))?,
        value_integer: obj.optional("ValueInteger", read_i32)?,
        value_list: obj.optional("ValueList", |v, p| {
            let Value::Array(items) = v else {
                return Err(type_error(p, "an array", v));
            };
            items
                .iter()
                .enumerate()
                .map(|(i, item)| nested(item, &p.index(i)))
                .collect()
        })?,
        value_arn: obj.optional("ValueArn", read_string)?,
    })
}

fn read_i32(v: &Value, path: &FieldPath) -> Result<i32, Error> {
    v.as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| match v {
            Value::Number(_) => Error::Validation(format!(
                "{path}: expected a whole number from {} to {}",
                i32::MIN,
                i32::MAX
            )),
            other => type_error(path, "an integer", other),
        })
}

fn read_queue_info(v: &Value, path: &FieldPath) -> Result<QueueInfo, Error> {
    let mut obj = Object::new(v, path, QUEUE_INFO_MEMBERS)?;
    Ok(QueueInfo {
        id: obj.optional("Id", read_string)?,
    })
}

fn read_user_info(v: &Value, path: &FieldPath) -> Result<UserInfo, Error> {
    let mut obj = Object::new(v, path, USER_INFO_MEMBERS)?;
    Ok(UserInfo {
        user_id: obj.optional("UserId", read_string)?,
    })
}

fn read_endpoint(v: &Value, path: &FieldPath) -> Result<Endpoint, Error> {
    let mut obj = Object::new(v, path, ENDPOINT_MEMBERS)?;
    Ok(Endpoint {
        endpoint_type: obj.optional("Type", read_string)?,
        address: obj.optional("Address", read_string)?,
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
        assert!(m.starts_with("Nmae: unknown member"), "{m}");
        assert!(m.contains("did you mean Name?"), "{m}");
        let m = refusal(
            r#"{"InstanceId":"i","ContactId":"c","References":{"t":{"Type":"URL","Vaule":"x"}}}"#,
        );
        assert!(m.starts_with("References.t.Vaule: unknown member"), "{m}");
    }

    #[test]
    fn types_and_required_members_are_checked_with_paths() {
        assert_eq!(
            refusal(r#"{"ContactId":"c","Name":"x"}"#),
            "InstanceId: required member is missing"
        );
        assert_eq!(
            refusal(r#"{"InstanceId":1,"ContactId":"c"}"#),
            "InstanceId: expected a string, got a number"
        );
        assert_eq!(
            refusal(r#"[]"#),
            "request: expected an object, got an array"
        );
        assert_eq!(
            refusal(r#"{"InstanceId":"i","ContactId":"c","References":{"t":{"Value":"v"}}}"#),
            "References.t.Type: required member is missing"
        );
        assert_eq!(
            refusal(
                r#"{"InstanceId":"i","ContactId":"c","SegmentAttributes":{"a":{"ValueList":[{},{"ValueInteger":"1"}]}}}"#
            ),
            "SegmentAttributes.a.ValueList[1].ValueInteger: expected an integer, got a string"
        );
        assert_eq!(
            refusal(r#"{"InstanceId":"i","ContactId":"c","SegmentAttributes":{"a":{"ValueInteger":2147483648}}}"#),
            "SegmentAttributes.a.ValueInteger: expected a whole number from -2147483648 to 2147483647"
        );
        assert_eq!(
            refusal(r#"{"InstanceId":"i","ContactId":"c","Name":null}"#),
            "Name: expected a string, got null"
        );
        let m = refusal(r#"{"InstanceId":"i","ContactId":"c","References":{"a b":{"Type":3}}}"#);
        assert_eq!(
            m,
            r#"References["a b"].Type: expected a string, got a number"#
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
        let mut req = UpdateContactRequest::new("i", "c");
        req.name = Some("Jane Secret-Name".into());
        req.description = Some("private notes".into());
        let shown = format!("{req:?}");
        assert!(
            !shown.contains("Secret-Name") && !shown.contains("private notes"),
            "{shown}"
        );
        assert!(shown.contains(REDACTED));
    }
}
