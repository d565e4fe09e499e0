//! The UpdateContact request: typed members, read from JSON with field-path errors,
//! written as the restJson1 body.
//!
//! The types, their members and their readers are generated from the vendored service model
//! (model/connect.json, by scripts/generate-from-model into src/model/generated.rs) and re-exported
//! here; this module holds what they share. Messages follow botocore's ParamValidationError.
//!
//! Reading checks what must hold whatever the service's current limits are: JSON types,
//! required members and unknown members. The model's limits (lengths, patterns, and enums
//! when asked) are checked by [`crate::model::validate`], which a client can switch off.
#![forbid(unsafe_code)]

use serde_json::Value;

use crate::error::Error;
use crate::json::{parse_json_document, FieldPath};

/// Largest request document accepted, in bytes. The service's own limit is lower; this bound
/// keeps a runaway caller from making us parse and sign gigabytes.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

pub mod generated;
pub mod rules;
pub mod validate;

pub use self::generated::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::REDACTED;

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
