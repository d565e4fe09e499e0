//! The rules a request must meet before it is sent.
//!
//! Two tiers: rules that hold whatever the service's current limits are (ID rules, at least
//! one member to update, nesting depth) always apply; the model's limits (lengths in Unicode
//! code points, enums, the ARN pattern) apply unless the client sets
//! `client_validation: false`, because the service changes them over time (Name went from
//! 512 to 1024 characters). The constants below come from the service model and a test
//! checks them against `tests/data/update-contact-model.json`.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use crate::error::Error;
use crate::model::{
    Endpoint, FieldPath, Reference, SegmentAttributeValue, UpdateContactRequest,
    MAX_SEGMENT_ATTRIBUTE_DEPTH,
};

/// `(min, max)` lengths in characters, from the model.
pub const INSTANCE_ID_LEN: (usize, usize) = (1, 100);
pub const CONTACT_ID_LEN: (usize, usize) = (1, 256);
pub const NAME_LEN: (usize, usize) = (0, 1024);
pub const DESCRIPTION_LEN: (usize, usize) = (0, 4096);
pub const REFERENCE_KEY_LEN: (usize, usize) = (1, 4096);
pub const REFERENCE_VALUE_LEN: (usize, usize) = (0, 4096);
pub const REFERENCE_ARN_LEN: (usize, usize) = (20, 256);
pub const REFERENCE_STATUS_REASON_LEN: (usize, usize) = (0, 100);
pub const SEGMENT_ATTRIBUTE_NAME_LEN: (usize, usize) = (1, 128);
pub const SEGMENT_ATTRIBUTE_STRING_LEN: (usize, usize) = (0, 1024);
pub const AGENT_RESOURCE_ID_LEN: (usize, usize) = (1, 256);
pub const ENDPOINT_ADDRESS_LEN: (usize, usize) = (0, 256);

/// `Reference.Type` values.
pub const REFERENCE_TYPES: &[&str] = &[
    "URL",
    "ATTACHMENT",
    "CONTACT_ANALYSIS",
    "NUMBER",
    "STRING",
    "DATE",
    "EMAIL",
    "EMAIL_MESSAGE",
    "EMAIL_MESSAGE_PLAIN_TEXT",
    "EMAIL_MESSAGE_PLAIN_TEXT_REDACTED",
    "EMAIL_MESSAGE_REDACTED",
];
/// `Reference.Status` values.
pub const REFERENCE_STATUSES: &[&str] = &[
    "AVAILABLE",
    "DELETED",
    "APPROVED",
    "REJECTED",
    "PROCESSING",
    "FAILED",
];
/// `Endpoint.Type` values.
pub const ENDPOINT_TYPES: &[&str] = &[
    "TELEPHONE_NUMBER",
    "VOIP",
    "CONTACT_FLOW",
    "CONNECT_PHONENUMBER_ARN",
    "EMAIL_ADDRESS",
];

/// Checks `request`; `model_limits` switches the model-limit tier (see the module docs).
pub fn validate(request: &UpdateContactRequest, model_limits: bool) -> Result<(), Error> {
    let root = FieldPath::Root;
    for (name, id) in [
        ("InstanceId", &request.instance_id),
        ("ContactId", &request.contact_id),
    ] {
        check_uri_label(&root.member(name), id)?;
    }
    if !request.has_update() {
        return Err(Error::Validation(
            "request: nothing to update; give at least one of Name, Description, References, SegmentAttributes, \
             QueueInfo, UserInfo, CustomerEndpoint, SystemEndpoint"
                .into(),
        ));
    }
    if let Some(attributes) = &request.segment_attributes {
        check_depth(&root.member("SegmentAttributes"), attributes, 1)?;
    }
    if model_limits {
        ModelLimits.request(request)?;
    }
    Ok(())
}

/// A URI label must name one resource: never empty, and never `.` or `..`, which the labels'
/// encoding keeps as they are and path normalisation would then collapse onto another resource.
fn check_uri_label(path: &FieldPath, id: &str) -> Result<(), Error> {
    match id {
        "" => Err(Error::Validation(format!("{path}: must not be empty"))),
        "." | ".." => Err(Error::Validation(format!(
            "{path}: \"{id}\" is not allowed; path normalisation would change which resource is updated"
        ))),
        _ => Ok(()),
    }
}

fn check_depth(
    path: &FieldPath,
    map: &BTreeMap<String, SegmentAttributeValue>,
    depth: usize,
) -> Result<(), Error> {
    for (key, value) in map {
        check_value_depth(&path.member(key), value, depth)?;
    }
    Ok(())
}

fn check_value_depth(
    path: &FieldPath,
    value: &SegmentAttributeValue,
    depth: usize,
) -> Result<(), Error> {
    if depth > MAX_SEGMENT_ATTRIBUTE_DEPTH {
        return Err(Error::Validation(format!(
            "{path}: segment attribute values nest deeper than {MAX_SEGMENT_ATTRIBUTE_DEPTH} levels"
        )));
    }
    if let Some(map) = &value.value_map {
        check_depth(&path.member("ValueMap"), map, depth + 1)?;
    }
    if let Some(list) = &value.value_list {
        let list_path = path.member("ValueList");
        for (i, item) in list.iter().enumerate() {
            check_value_depth(&list_path.index(i), item, depth + 1)?;
        }
    }
    Ok(())
}

/// The model's limits. Nesting is already bounded by `check_depth`, so recursion is too.
struct ModelLimits;

impl ModelLimits {
    fn request(&self, r: &UpdateContactRequest) -> Result<(), Error> {
        let root = FieldPath::Root;
        length(&root.member("InstanceId"), &r.instance_id, INSTANCE_ID_LEN)?;
        length(&root.member("ContactId"), &r.contact_id, CONTACT_ID_LEN)?;
        optional_length(&root.member("Name"), &r.name, NAME_LEN)?;
        optional_length(&root.member("Description"), &r.description, DESCRIPTION_LEN)?;
        if let Some(references) = &r.references {
            let path = root.member("References");
            for (key, reference) in references {
                let entry = path.member(key);
                key_length(&entry, key, REFERENCE_KEY_LEN)?;
                self.reference(&entry, reference)?;
            }
        }
        if let Some(attributes) = &r.segment_attributes {
            self.segment_attributes(&root.member("SegmentAttributes"), attributes)?;
        }
        if let Some(user) = &r.user_info {
            optional_length(
                &root.member("UserInfo").member("UserId"),
                &user.user_id,
                AGENT_RESOURCE_ID_LEN,
            )?;
        }
        for (name, endpoint) in [
            ("CustomerEndpoint", &r.customer_endpoint),
            ("SystemEndpoint", &r.system_endpoint),
        ] {
            if let Some(endpoint) = endpoint {
                self.endpoint(&root.member(name), endpoint)?;
            }
        }
        Ok(())
    }

    fn reference(&self, path: &FieldPath, r: &Reference) -> Result<(), Error> {
        one_of(&path.member("Type"), &r.reference_type, REFERENCE_TYPES)?;
        optional_length(&path.member("Value"), &r.value, REFERENCE_VALUE_LEN)?;
        if let Some(status) = &r.status {
            one_of(&path.member("Status"), status, REFERENCE_STATUSES)?;
        }
        if let Some(arn) = &r.arn {
            let arn_path = path.member("Arn");
            length(&arn_path, arn, REFERENCE_ARN_LEN)?;
            // The model's pattern is `^[-:/A-Za-z0-9]+` with no closing `$`; Smithy patterns
            // are searched, not fully matched, so only the first character is constrained.
            if !arn.starts_with(|c: char| c.is_ascii_alphanumeric() || "-:/".contains(c)) {
                return Err(Error::Validation(format!(
                    "{arn_path}: must match the pattern ^[-:/A-Za-z0-9]+ (start with a letter, digit, '-', ':' or '/')"
                )));
            }
        }
        optional_length(
            &path.member("StatusReason"),
            &r.status_reason,
            REFERENCE_STATUS_REASON_LEN,
        )
    }

    fn segment_attributes(
        &self,
        path: &FieldPath,
        map: &BTreeMap<String, SegmentAttributeValue>,
    ) -> Result<(), Error> {
        for (key, value) in map {
            let entry = path.member(key);
            key_length(&entry, key, SEGMENT_ATTRIBUTE_NAME_LEN)?;
            self.segment_value(&entry, value)?;
        }
        Ok(())
    }

    fn segment_value(&self, path: &FieldPath, value: &SegmentAttributeValue) -> Result<(), Error> {
        optional_length(
            &path.member("ValueString"),
            &value.value_string,
            SEGMENT_ATTRIBUTE_STRING_LEN,
        )?;
        optional_length(
            &path.member("ValueArn"),
            &value.value_arn,
            SEGMENT_ATTRIBUTE_STRING_LEN,
        )?;
        if let Some(map) = &value.value_map {
            self.segment_attributes(&path.member("ValueMap"), map)?;
        }
        if let Some(list) = &value.value_list {
            let list_path = path.member("ValueList");
            for (i, item) in list.iter().enumerate() {
                self.segment_value(&list_path.index(i), item)?;
            }
        }
        Ok(())
    }

    fn endpoint(&self, path: &FieldPath, e: &Endpoint) -> Result<(), Error> {
        if let Some(t) = &e.endpoint_type {
            one_of(&path.member("Type"), t, ENDPOINT_TYPES)?;
        }
        optional_length(&path.member("Address"), &e.address, ENDPOINT_ADDRESS_LEN)
    }
}

fn length(path: &FieldPath, value: &str, (min, max): (usize, usize)) -> Result<(), Error> {
    // Limits are in characters (Unicode code points), not bytes; values are never echoed,
    // since some (Name, Description) are sensitive.
    let n = value.chars().count();
    if n < min {
        Err(Error::Validation(format!(
            "{path}: length {n} is below the minimum of {min} characters"
        )))
    } else if n > max {
        Err(Error::Validation(format!(
            "{path}: length {n} exceeds the maximum of {max} characters"
        )))
    } else {
        Ok(())
    }
}

fn optional_length(
    path: &FieldPath,
    value: &Option<String>,
    limits: (usize, usize),
) -> Result<(), Error> {
    value.as_deref().map_or(Ok(()), |v| length(path, v, limits))
}

fn key_length(path: &FieldPath, key: &str, (min, max): (usize, usize)) -> Result<(), Error> {
    let n = key.chars().count();
    if n < min || n > max {
        Err(Error::Validation(format!(
            "{path}: key length {n} is outside {min}..={max} characters"
        )))
    } else {
        Ok(())
    }
}

fn one_of(path: &FieldPath, value: &str, allowed: &[&str]) -> Result<(), Error> {
    if allowed.contains(&value) {
        return Ok(());
    }
    let shown: String = value.chars().take(64).collect();
    Err(Error::Validation(format!(
        "{path}: {} is not one of {}",
        serde_json::to_string(&shown).unwrap_or_default(),
        allowed.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(json: &str, model_limits: bool) -> String {
        let req = UpdateContactRequest::from_json(json).expect("well-typed");
        match validate(&req, model_limits) {
            Err(Error::Validation(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn passes(json: &str, model_limits: bool) -> bool {
        validate(
            &UpdateContactRequest::from_json(json).unwrap(),
            model_limits,
        )
        .is_ok()
    }

    #[test]
    fn enum_refusal_names_path_value_and_choices() {
        let m = refusal(
            r#"{"InstanceId":"i","ContactId":"c","References":{"ticket":{"Type":"BOGUS"}}}"#,
            true,
        );
        assert!(
            m.starts_with(r#"References.ticket.Type: "BOGUS" is not one of URL, ATTACHMENT,"#),
            "{m}"
        );
        assert!(passes(
            r#"{"InstanceId":"i","ContactId":"c","References":{"ticket":{"Type":"BOGUS"}}}"#,
            false
        ));
        let m = refusal(
            r#"{"InstanceId":"i","ContactId":"c","SystemEndpoint":{"Type":"FAX"}}"#,
            true,
        );
        assert!(
            m.starts_with("SystemEndpoint.Type: \"FAX\" is not one of TELEPHONE_NUMBER"),
            "{m}"
        );
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
            passes(&name(1024, "é"), true),
            "1024 two-byte characters are 1024 characters"
        );
        assert!(
            passes(&name(600, "x"), true),
            "the model's 1024 wins over the seed page's 512"
        );
        let m = refusal(&name(1025, "😀"), true);
        assert_eq!(
            m,
            "Name: length 1025 exceeds the maximum of 1024 characters"
        );
        assert!(!m.contains('😀'), "sensitive values are never echoed");
        assert!(
            passes(&name(1025, "x"), false),
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
            refusal(&json, true),
            "SegmentAttributes.a.ValueList[0].ValueMap.b.ValueString: length 1025 exceeds the maximum of 1024 characters"
        );
        let key = "k".repeat(129);
        let json = format!(
            r#"{{"InstanceId":"i","ContactId":"c","SegmentAttributes":{{"{key}":{{"ValueInteger":1}}}}}}"#
        );
        assert!(refusal(&json, true).contains("key length 129 is outside 1..=128"));
    }

    #[test]
    fn arn_pattern_and_length() {
        let with_arn = |arn: &str| {
            format!(
                r#"{{"InstanceId":"i","ContactId":"c","References":{{"r":{{"Type":"URL","Arn":"{arn}"}}}}}}"#
            )
        };
        assert!(passes(
            &with_arn("arn:aws:connect:us-east-1:123456789012:x"),
            true
        ));
        assert!(refusal(&with_arn("arn:short"), true).contains("below the minimum of 20"));
        assert!(refusal(&with_arn(" arn:aws:connect:us-east-1:1"), true)
            .contains("must match the pattern"));
    }

    #[test]
    fn id_rules_and_an_update_are_required_even_without_model_limits() {
        for model_limits in [true, false] {
            for id in [".", ".."] {
                let m = refusal(
                    &format!(r#"{{"InstanceId":"{id}","ContactId":"c","Name":"n"}}"#),
                    model_limits,
                );
                assert!(
                    m.starts_with("InstanceId:") && m.contains("path normalisation"),
                    "{m}"
                );
                let m = refusal(
                    &format!(r#"{{"InstanceId":"i","ContactId":"{id}","Name":"n"}}"#),
                    model_limits,
                );
                assert!(m.starts_with("ContactId:"), "{m}");
            }
            assert!(refusal(
                r#"{"InstanceId":"","ContactId":"c","Name":"n"}"#,
                model_limits
            )
            .contains("must not be empty"));
            assert!(
                refusal(r#"{"InstanceId":"i","ContactId":"c"}"#, model_limits)
                    .contains("nothing to update")
            );
        }
        assert!(passes(
            r#"{"InstanceId":"...","ContactId":"a/..","Name":""}"#,
            true
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
        for model_limits in [true, false] {
            let err = validate(&req, model_limits).unwrap_err();
            assert!(err.to_string().contains("nest deeper than 32"), "{err}");
        }
        // Drop iteratively-deep structures without blowing the test thread's stack.
        let mut v = req.segment_attributes.take().unwrap().remove("a");
        while let Some(mut x) = v {
            v = x.value_list.as_mut().and_then(|l| l.pop());
        }
    }

    /// The limits above must be the model's: a model update fails this test until they follow.
    #[test]
    fn constants_match_the_service_model() {
        let dir = env!("CARGO_MANIFEST_DIR");
        let model: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{dir}/tests/data/update-contact-model.json"))
                .unwrap(),
        )
        .unwrap();
        let shapes = &model["shapes"];
        let range = |shape: &str| {
            let s = &shapes[shape];
            (
                s["min"].as_u64().unwrap() as usize,
                s["max"].as_u64().unwrap() as usize,
            )
        };
        let names = |shape: &str| -> Vec<String> {
            shapes[shape]["enum"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(range("InstanceId"), INSTANCE_ID_LEN);
        assert_eq!(range("ContactId"), CONTACT_ID_LEN);
        assert_eq!(range("Name"), NAME_LEN);
        assert_eq!(range("Description"), DESCRIPTION_LEN);
        assert_eq!(range("ReferenceKey"), REFERENCE_KEY_LEN);
        assert_eq!(range("ReferenceValue"), REFERENCE_VALUE_LEN);
        assert_eq!(range("ReferenceArn"), REFERENCE_ARN_LEN);
        assert_eq!(range("ReferenceStatusReason"), REFERENCE_STATUS_REASON_LEN);
        assert_eq!(range("SegmentAttributeName"), SEGMENT_ATTRIBUTE_NAME_LEN);
        assert_eq!(
            range("SegmentAttributeValueString"),
            SEGMENT_ATTRIBUTE_STRING_LEN
        );
        assert_eq!(range("AgentResourceId"), AGENT_RESOURCE_ID_LEN);
        assert_eq!(range("EndpointAddress"), ENDPOINT_ADDRESS_LEN);
        assert_eq!(names("ReferenceType"), REFERENCE_TYPES);
        assert_eq!(names("ReferenceStatus"), REFERENCE_STATUSES);
        assert_eq!(names("EndpointType"), ENDPOINT_TYPES);
        assert_eq!(shapes["ReferenceArn"]["pattern"], "^[-:/A-Za-z0-9]+");
        assert!(
            shapes["Name"]["sensitive"].as_bool().unwrap()
                && shapes["Description"]["sensitive"].as_bool().unwrap()
        );
        // Every request member is read by the model module.
        let mut members: Vec<&str> = shapes["UpdateContactRequest"]["members"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        members.sort_unstable();
        let mut ours = crate::model::REQUEST_MEMBERS.to_vec();
        ours.sort_unstable();
        assert_eq!(members, ours);
    }
}
