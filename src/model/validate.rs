//! The rules a request must meet before it is sent.
//!
//! Two tiers: rules that hold whatever the service's current limits are (ID rules, at least
//! one member to update, nesting depth) always apply; the model's limits (lengths in Unicode
//! code points, patterns) apply unless the client sets `client_validation: false`, because
//! the service changes them over time (Name went from 512 to 1024 characters).
//!
//! Enums are open, as in the AWS SDKs: a value the vendored model does not list is sent as
//! given (with a debug log line), so a value the service adds keeps working without a new
//! build. `strict_enums: true` refuses such values instead.
//!
//! The limits and the walk over the request are generated from the model (src/model/generated.rs);
//! this module holds the rules' logic and wording, which follows botocore's
//! ParamValidationError. Values are never echoed, except a refused enum value of a shape
//! that is not sensitive.
#![forbid(unsafe_code)]

use crate::error::Error;
use crate::json::FieldPath;
pub use crate::model::rules::Checker;
use crate::model::UpdateContactRequest;

/// Checks `request` with the checks `checker` selects.
pub fn validate(request: &UpdateContactRequest, checker: Checker) -> Result<(), Error> {
    let root = FieldPath::Root;
    for (name, id) in [
        ("InstanceId", &request.instance_id),
        ("ContactId", &request.contact_id),
    ] {
        check_uri_label(&root.member(name), id)?;
    }
    if !request.has_update() {
        return Err(Error::Validation(format!(
            "Invalid input: nothing to update; give at least one of {}",
            UpdateContactRequest::BODY_MEMBERS.join(", ")
        )));
    }
    // One walk: the depth bound always holds, the rest as `checker` says.
    request.check(&root, &checker, 1)
}

/// A URI label must name one resource: never empty, and never `.` or `..`, which the labels'
/// encoding keeps as they are and path normalisation would then collapse onto another resource.
fn check_uri_label(path: &FieldPath, id: &str) -> Result<(), Error> {
    match id {
        "" => Err(Error::Validation(format!(
            "Invalid length for parameter {path}, value: 0, valid min length: 1"
        ))),
        "." | ".." => Err(Error::Validation(format!(
            "Invalid value for parameter {path}, value: \"{id}\": path normalisation would change which resource is updated"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::SegmentAttributeValue;

    const LIMITS: Checker = Checker {
        model_limits: true,
        strict_enums: false,
    };
    const NO_LIMITS: Checker = Checker {
        model_limits: false,
        strict_enums: false,
    };
    const STRICT: Checker = Checker {
        model_limits: true,
        strict_enums: true,
    };

    fn refusal(json: &str, checker: Checker) -> String {
        let req = UpdateContactRequest::from_json(json).expect("well-typed");
        match validate(&req, checker) {
            Err(Error::Validation(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn passes(json: &str, checker: Checker) -> bool {
        validate(&UpdateContactRequest::from_json(json).unwrap(), checker).is_ok()
    }

    #[test]
    fn enums_are_open_unless_strict() {
        let unknown_type =
            r#"{"InstanceId":"i","ContactId":"c","References":{"ticket":{"Type":"BOGUS"}}}"#;
        assert!(
            passes(unknown_type, LIMITS),
            "unknown enum values are sent as given"
        );
        assert!(passes(unknown_type, NO_LIMITS));
        assert_eq!(
            refusal(unknown_type, STRICT),
            "Invalid value for parameter References.ticket.Type, value: BOGUS, valid values: URL, ATTACHMENT, \
             CONTACT_ANALYSIS, NUMBER, STRING, DATE, EMAIL, EMAIL_MESSAGE, EMAIL_MESSAGE_PLAIN_TEXT, \
             EMAIL_MESSAGE_PLAIN_TEXT_REDACTED, EMAIL_MESSAGE_REDACTED, VOICEMAIL_RECORDING, \
             VOICEMAIL_RECORDING_REDACTED, VOICEMAIL_ANALYSIS, VOICEMAIL_ANALYSIS_REDACTED"
        );
        let m = refusal(
            r#"{"InstanceId":"i","ContactId":"c","SystemEndpoint":{"Type":"FAX"}}"#,
            STRICT,
        );
        assert!(
            m.starts_with("Invalid value for parameter SystemEndpoint.Type, value: FAX, valid values: TELEPHONE_NUMBER"),
            "{m}"
        );
        // The new values of the 1.44.8 model pass even when strict.
        assert!(passes(
            r#"{"InstanceId":"i","ContactId":"c","References":{"v":{"Type":"VOICEMAIL_RECORDING","Status":"DRAFTING"}}}"#,
            STRICT
        ));
    }

    #[test]
    fn lengths_count_code_points_and_follow_the_model_not_the_seed() {
        let name = |n: usize, c: &str| {
            format!(
                r#"{{"InstanceId":"i","ContactId":"c","Name":"{}"}}"#,
                c.repeat(n)
            )
        };
        assert!(
            passes(&name(1024, "é"), LIMITS),
            "1024 two-byte characters are 1024 characters"
        );
        assert!(
            passes(&name(600, "x"), LIMITS),
            "the model's 1024 wins over the seed page's 512"
        );
        let m = refusal(&name(1025, "😀"), LIMITS);
        assert_eq!(
            m,
            "Invalid length for parameter Name, value: 1025, valid max length: 1024"
        );
        assert!(!m.contains('😀'), "sensitive values are never echoed");
        assert!(
            passes(&name(1025, "x"), NO_LIMITS),
            "client_validation false lifts model limits"
        );
    }

    #[test]
    fn nested_segment_attributes_are_checked_everywhere() {
        let long = "x".repeat(1025);
        let json = format!(
            r#"{{"InstanceId":"i","ContactId":"c","SegmentAttributes":{{"a":{{"ValueList":[{{"ValueMap":{{"b":{{"ValueString":"{long}"}}}}}}]}}}}}}"#
        );
        assert_eq!(
            refusal(&json, LIMITS),
            "Invalid length for parameter SegmentAttributes.a.ValueList[0].ValueMap.b.ValueString, value: 1025, valid max length: 1024"
        );
        let key = "k".repeat(129);
        let json = format!(
            r#"{{"InstanceId":"i","ContactId":"c","SegmentAttributes":{{"{key}":{{"ValueInteger":1}}}}}}"#
        );
        let m = refusal(&json, LIMITS);
        assert!(
            m.starts_with("Invalid length for parameter SegmentAttributes[\"kkkk")
                && m.ends_with("…] (key), value: 129, valid max length: 128"),
            "long keys are cut in messages: {m}"
        );
    }

    #[test]
    fn patterns_are_searched_and_values_never_echoed() {
        let with_arn = |arn: &str| {
            format!(
                r#"{{"InstanceId":"i","ContactId":"c","References":{{"r":{{"Type":"URL","Arn":"{arn}"}}}}}}"#
            )
        };
        assert!(passes(
            &with_arn("arn:aws:connect:us-east-1:123456789012:x"),
            LIMITS
        ));
        assert!(refusal(&with_arn("arn:short"), LIMITS).contains("valid min length: 20"));
        assert_eq!(
            refusal(&with_arn(" arn:aws:connect:us-east-1:1"), LIMITS),
            "Invalid value for parameter References.r.Arn: does not match the pattern ^[-:/A-Za-z0-9]+"
        );
        let cc = |address: &str| {
            format!(
                r#"{{"InstanceId":"i","ContactId":"c","AdditionalRecipients":{{"CcEmailAddresses":[{{"EmailAddress":"{address}","DisplayName":"Jane Private"}}]}}}}"#
            )
        };
        assert!(passes(&cc("jane@example.com"), LIMITS));
        let m = refusal(&cc("jane-private-at-example"), LIMITS);
        assert_eq!(
            m,
            r"Invalid value for parameter AdditionalRecipients.CcEmailAddresses[0].EmailAddress: does not match the pattern [^\s@]+@[^\s@]+\.[^\s@]+"
        );
        assert!(!m.contains("jane") && !m.contains("Private"), "{m}");
        assert!(passes(&cc("jane-private-at-example"), NO_LIMITS));
    }

    #[test]
    fn list_limits_come_from_the_model() {
        let entries = |n: usize| {
            let one = r#"{"EmailAddress":"a@b.co"}"#;
            format!(
                r#"{{"InstanceId":"i","ContactId":"c","AdditionalRecipients":{{"CcEmailAddresses":[{}]}}}}"#,
                vec![one; n].join(",")
            )
        };
        assert!(
            passes(&entries(0), LIMITS),
            "an empty list clears the CC recipients"
        );
        assert!(passes(&entries(50), LIMITS));
        assert_eq!(
            refusal(&entries(51), LIMITS),
            "Invalid length for parameter AdditionalRecipients.CcEmailAddresses, value: 51, valid max length: 50"
        );
    }

    #[test]
    fn id_rules_and_an_update_are_required_even_without_model_limits() {
        for checker in [LIMITS, NO_LIMITS] {
            for id in [".", ".."] {
                let m = refusal(
                    &format!(r#"{{"InstanceId":"{id}","ContactId":"c","Name":"n"}}"#),
                    checker,
                );
                assert!(
                    m.starts_with("Invalid value for parameter InstanceId,")
                        && m.contains("path normalisation"),
                    "{m}"
                );
                let m = refusal(
                    &format!(r#"{{"InstanceId":"i","ContactId":"{id}","Name":"n"}}"#),
                    checker,
                );
                assert!(
                    m.starts_with("Invalid value for parameter ContactId,"),
                    "{m}"
                );
            }
            assert_eq!(
                refusal(r#"{"InstanceId":"","ContactId":"c","Name":"n"}"#, checker),
                "Invalid length for parameter InstanceId, value: 0, valid min length: 1"
            );
            assert_eq!(
                refusal(r#"{"InstanceId":"i","ContactId":"c"}"#, checker),
                "Invalid input: nothing to update; give at least one of Name, Description, References, \
                 SegmentAttributes, QueueInfo, UserInfo, CustomerEndpoint, SystemEndpoint, AdditionalRecipients"
            );
        }
        assert!(passes(
            r#"{"InstanceId":"...","ContactId":"a/..","Name":""}"#,
            LIMITS
        ));
    }

    #[test]
    fn rust_built_requests_are_bounded_in_depth() {
        let mut value = SegmentAttributeValue {
            value_string: Some("x".into()),
            ..Default::default()
        };
        for _ in 0..10_000 {
            value = SegmentAttributeValue {
                value_list: Some(vec![value]),
                ..Default::default()
            };
        }
        let mut req = UpdateContactRequest::new("i", "c");
        req.segment_attributes = Some(BTreeMap::from([("a".to_string(), value)]));
        for checker in [LIMITS, NO_LIMITS] {
            let err = validate(&req, checker).unwrap_err();
            assert!(err.to_string().contains("nest deeper than 32"), "{err}");
        }
        // Drop iteratively-deep structures without blowing the test thread's stack.
        let mut v = req.segment_attributes.take().unwrap().remove("a");
        while let Some(mut x) = v {
            v = x.value_list.as_mut().and_then(|l| l.pop());
        }
    }

    /// Every pattern of the request's shapes (the generator writes them all into `shapes`).
    #[test]
    fn every_request_pattern_compiles() {
        use crate::model::shapes;
        for rule in [shapes::REFERENCE_ARN, shapes::EMAIL_ADDRESS] {
            let p = rule.pattern.unwrap();
            assert!(regex_lite::Regex::new(p).is_ok(), "{p}");
        }
    }
}
