//! The data: instances → contacts → the members written to them, as JSON.
//!
//! The seed file, the state file and `GET /_emulator/contacts` share one format:
//! `{"instances": {"<InstanceId>": {"contacts": {"<ContactId>": {<UpdateContact members>}}}}}`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::model::ServiceModel;
use crate::reply::ApiError;

/// Members that merge by key on update; the others replace. The outbox's coalescing rule has
/// the same list (src/outbox/mod.rs); a test holds the two equal.
pub const MERGED_MEMBERS: &[&str] = &["References", "SegmentAttributes"];
/// Kept beside the API members; not an UpdateContact member.
const LAST_UPDATE: &str = "LastUpdateTimestamp";
/// Members of the model's `Contact` a seed may set beside the UpdateContact members (each is
/// checked against the `Contact` member's shape), with what DescribeContact answers without.
const CONTACT_FACTS: &[(&str, Option<&str>)] = &[
    (LAST_UPDATE, None),
    ("InitiationTimestamp", None),
    ("Channel", Some("VOICE")),
    ("InitiationMethod", Some("API")),
];

type Contact = Map<String, Value>;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Store {
    instances: BTreeMap<String, BTreeMap<String, Contact>>,
}

impl Store {
    /// Reads the seed/state format; every contact's members are checked with the core's reader.
    pub fn from_json(value: &Value) -> Result<Store, String> {
        let instances = value
            .get("instances")
            .and_then(Value::as_object)
            .ok_or("expected {\"instances\": {\"<InstanceId>\": {\"contacts\": {...}}}}")?;
        let mut store = Store::default();
        for (instance_id, instance) in instances {
            let contacts = match instance.get("contacts") {
                None => &Map::new(),
                Some(Value::Object(c)) => c,
                Some(_) => {
                    return Err(format!(
                        "instances.{instance_id}.contacts must be an object"
                    ))
                }
            };
            let entry = store.instances.entry(instance_id.clone()).or_default();
            for (contact_id, members) in contacts {
                let contact = read_contact(instance_id, contact_id, members)
                    .map_err(|e| format!("instances.{instance_id}.contacts.{contact_id}: {e}"))?;
                entry.insert(contact_id.clone(), contact);
            }
        }
        Ok(store)
    }

    pub fn to_json(&self) -> Value {
        let instances: Map<String, Value> = self
            .instances
            .iter()
            .map(|(id, contacts)| {
                let contacts: Map<String, Value> = contacts
                    .iter()
                    .map(|(cid, c)| (cid.clone(), Value::Object(c.clone())))
                    .collect();
                (id.clone(), json!({ "contacts": contacts }))
            })
            .collect();
        json!({ "instances": instances })
    }

    /// Creates the instance (and the contact, when given) if missing.
    pub fn ensure(&mut self, instance_id: &str, contact_id: Option<&str>) {
        let contacts = self.instances.entry(instance_id.to_string()).or_default();
        if let Some(contact_id) = contact_id {
            contacts.entry(contact_id.to_string()).or_default();
        }
    }

    /// The stored members of one contact.
    pub fn contact(&self, instance_id: &str, contact_id: &str) -> Option<&Contact> {
        self.instances.get(instance_id)?.get(contact_id)
    }

    fn contact_mut(
        &mut self,
        instance_id: &str,
        contact_id: &str,
    ) -> Result<&mut Contact, ApiError> {
        let contacts = self
            .instances
            .get_mut(instance_id)
            .ok_or_else(|| ApiError::not_found(format!("Instance not found: {instance_id}")))?;
        contacts.get_mut(contact_id).ok_or_else(|| {
            ApiError::not_found(format!(
                "Contact not found: {contact_id} in instance {instance_id}"
            ))
        })
    }

    /// Merges a validated UpdateContact input into the stored contact: References and
    /// SegmentAttributes by key, the other members by replacement. A contact created here
    /// starts at `now_epoch_secs`.
    pub fn update(
        &mut self,
        instance_id: &str,
        contact_id: &str,
        input: &Value,
        auto_create: bool,
        now_epoch_secs: f64,
    ) -> Result<(), ApiError> {
        if auto_create && self.contact(instance_id, contact_id).is_none() {
            self.ensure(instance_id, Some(contact_id));
            let contact = self.contact_mut(instance_id, contact_id)?;
            contact.insert("InitiationTimestamp".into(), json!(now_epoch_secs));
        }
        let contact = self.contact_mut(instance_id, contact_id)?;
        merge(contact, input);
        contact.insert(LAST_UPDATE.into(), json!(now_epoch_secs));
        Ok(())
    }

    /// DescribeContact's answer, `{"Contact": {...}}`, in the model's `Contact` shape: only
    /// members `Contact` has (References are not one; read them with the admin API).
    pub fn describe(
        &self,
        instance_id: &str,
        contact_id: &str,
        region: &str,
    ) -> Result<Value, ApiError> {
        if !self.instances.contains_key(instance_id) {
            return Err(ApiError::not_found(format!(
                "Instance not found: {instance_id}"
            )));
        }
        let stored = self.contact(instance_id, contact_id).ok_or_else(|| {
            ApiError::not_found(format!(
                "Contact not found: {contact_id} in instance {instance_id}"
            ))
        })?;
        let mut out = Map::new();
        out.insert(
            "Arn".into(),
            json!(crate::policy::contact_arn(region, instance_id, contact_id)),
        );
        out.insert("Id".into(), json!(contact_id));
        // Every contact the emulator knows is its own initial contact.
        out.insert("InitialContactId".into(), json!(contact_id));
        for (name, default) in CONTACT_FACTS {
            match (stored.get(*name), default) {
                (Some(v), _) => {
                    out.insert((*name).into(), v.clone());
                }
                (None, Some(d)) => {
                    out.insert((*name).into(), json!(d));
                }
                (None, None) => {}
            }
        }
        for name in [
            "Name",
            "Description",
            "SegmentAttributes",
            "QueueInfo",
            "CustomerEndpoint",
            "SystemEndpoint",
        ] {
            if let Some(v) = stored.get(name) {
                out.insert(name.into(), v.clone());
            }
        }
        // UpdateContact's UserInfo.UserId is DescribeContact's AgentInfo.Id.
        if let Some(user_id) = stored.get("UserInfo").and_then(|u| u.get("UserId")) {
            out.insert("AgentInfo".into(), json!({ "Id": user_id }));
        }
        // AdditionalRecipients.CcEmailAddresses[{EmailAddress, DisplayName}] is
        // AdditionalEmailRecipients.CcList[{Address, DisplayName}].
        if let Some(cc) = stored
            .get("AdditionalRecipients")
            .and_then(|r| r.get("CcEmailAddresses"))
            .and_then(Value::as_array)
        {
            let list: Vec<Value> = cc
                .iter()
                .map(|r| {
                    let mut e = Map::new();
                    if let Some(a) = r.get("EmailAddress") {
                        e.insert("Address".into(), a.clone());
                    }
                    if let Some(d) = r.get("DisplayName") {
                        e.insert("DisplayName".into(), d.clone());
                    }
                    Value::Object(e)
                })
                .collect();
            out.insert(
                "AdditionalEmailRecipients".into(),
                json!({ "CcList": list }),
            );
        }
        Ok(json!({ "Contact": out }))
    }

    /// Instances and contacts, counted.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.instances.len(),
            self.instances.values().map(BTreeMap::len).sum(),
        )
    }
}

fn merge(contact: &mut Contact, input: &Value) {
    let Some(members) = input.as_object() else {
        return;
    };
    for (name, value) in members {
        if name == "InstanceId" || name == "ContactId" {
            continue;
        }
        match (MERGED_MEMBERS.contains(&name.as_str()), value) {
            (true, Value::Object(entries)) => {
                let slot = contact.entry(name.clone()).or_insert_with(|| json!({}));
                if !slot.is_object() {
                    *slot = json!({});
                }
                if let Value::Object(existing) = slot {
                    existing.extend(entries.clone());
                }
            }
            (_, value) => {
                contact.insert(name.clone(), value.clone());
            }
        }
    }
}

/// Checks a seeded contact with the emulator's model: UpdateContact members, plus the
/// `Contact` facts a seed may set.
fn read_contact(instance_id: &str, contact_id: &str, members: &Value) -> Result<Contact, String> {
    let Value::Object(map) = members else {
        return Err("a contact must be an object of UpdateContact members".into());
    };
    let model = ServiceModel::vendored();
    let mut input = map.clone();
    let mut facts = Map::new();
    for (name, _) in CONTACT_FACTS {
        if let Some(v) = input.remove(*name) {
            let shape = model
                .shape("Contact")
                .and_then(|c| c["members"][*name]["shape"].as_str())
                .ok_or_else(|| format!("the model's Contact has no {name}"))?;
            model.check(shape, &v, name, 1).map_err(|e| e.message)?;
            facts.insert((*name).into(), v);
        }
    }
    input.insert("InstanceId".into(), json!(instance_id));
    input.insert("ContactId".into(), json!(contact_id));
    let input = Value::Object(input);
    model
        .check_input("UpdateContact", &input)
        .map_err(|e| e.message)?;
    let mut contact = Contact::new();
    merge(&mut contact, &input);
    contact.extend(facts);
    Ok(contact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    fn update(
        store: &mut Store,
        input: &Value,
        auto_create: bool,
        now: f64,
    ) -> Result<(), ApiError> {
        let (i, c) = (
            input["InstanceId"].as_str().unwrap(),
            input["ContactId"].as_str().unwrap(),
        );
        store.update(i, c, input, auto_create, now)
    }

    #[test]
    fn update_merges_maps_and_replaces_the_rest() {
        let mut store = Store::default();
        store.ensure("i", Some("c"));
        update(&mut store, &request(r#"{"InstanceId":"i","ContactId":"c","Name":"a","References":{"x":{"Type":"URL","Value":"1"}}}"#), false, 1.0)
            .unwrap();
        update(&mut store, &request(r#"{"InstanceId":"i","ContactId":"c","Name":"b","References":{"y":{"Type":"STRING","Value":"2"}}}"#), false, 2.0)
            .unwrap();
        let c = store.contact("i", "c").unwrap();
        assert_eq!(c["Name"], "b");
        assert_eq!(c["References"]["x"]["Value"], "1");
        assert_eq!(c["References"]["y"]["Value"], "2");
        assert_eq!(c[LAST_UPDATE], 2.0);
    }

    #[test]
    fn unknown_instance_or_contact_is_404_unless_auto_created() {
        let mut store = Store::default();
        let r = request(r#"{"InstanceId":"i","ContactId":"c","Name":"a"}"#);
        let e = update(&mut store, &r, false, 0.0).unwrap_err();
        assert_eq!((e.status, e.code), (404, "ResourceNotFoundException"));
        assert!(e.message.contains("Instance not found: i"));
        store.ensure("i", None);
        assert!(update(&mut store, &r, false, 0.0)
            .unwrap_err()
            .message
            .contains("Contact not found: c"));
        update(&mut store, &r, true, 0.0).unwrap();
        assert_eq!(
            store.describe("i", "c", "us-east-1").unwrap()["Contact"]["Name"],
            "a"
        );
    }

    #[test]
    fn seed_format_round_trips_and_is_checked() {
        let seed = json!({"instances": {"i": {"contacts": {"c": {"Name": "n", "UserInfo": {"UserId": "u"}}}}, "empty": {}}});
        let store = Store::from_json(&seed).unwrap();
        assert_eq!(store.counts(), (2, 1));
        assert_eq!(Store::from_json(&store.to_json()).unwrap(), store);
        let d = store.describe("i", "c", "eu-west-2").unwrap();
        assert_eq!(d["Contact"]["AgentInfo"]["Id"], "u");
        assert_eq!(
            d["Contact"]["Arn"],
            "arn:aws:connect:eu-west-2:123456789012:instance/i/contact/c"
        );
        let bad = json!({"instances": {"i": {"contacts": {"c": {"Name": 3}}}}});
        assert_eq!(
            Store::from_json(&bad).unwrap_err(),
            "instances.i.contacts.c: Name: expected a string, got a number"
        );
    }

    #[test]
    fn describe_answers_in_the_models_contact_shape() {
        let mut store = Store::default();
        let input = request(
            r#"{"InstanceId":"i","ContactId":"c","Name":"n","References":{"v":{"Type":"VOICEMAIL_RECORDING","Status":"DRAFTING"}},
                "UserInfo":{"UserId":"u"},"QueueInfo":{"Id":"q"},
                "AdditionalRecipients":{"CcEmailAddresses":[{"EmailAddress":"a@b.co","DisplayName":"A"},{"EmailAddress":"c@d.co"}]}}"#,
        );
        update(&mut store, &input, true, 12.5).unwrap();
        let answer = store.describe("i", "c", "us-west-2").unwrap();
        ServiceModel::vendored()
            .check("DescribeContactResponse", &answer, "", 0)
            .unwrap();
        let c = &answer["Contact"];
        assert!(
            c.get("References").is_none(),
            "References is not a member of Contact"
        );
        assert_eq!(
            c["AdditionalEmailRecipients"],
            json!({"CcList": [{"Address": "a@b.co", "DisplayName": "A"}, {"Address": "c@d.co"}]})
        );
        assert_eq!(
            (
                &c["Channel"],
                &c["InitiationMethod"],
                &c["InitialContactId"],
                &c["InitiationTimestamp"]
            ),
            (&json!("VOICE"), &json!("API"), &json!("c"), &json!(12.5))
        );
        // The references are stored, for the admin API.
        assert_eq!(
            store.contact("i", "c").unwrap()["References"]["v"]["Status"],
            "DRAFTING"
        );
        // An empty list clears the CC recipients.
        let clear = request(
            r#"{"InstanceId":"i","ContactId":"c","AdditionalRecipients":{"CcEmailAddresses":[]}}"#,
        );
        update(&mut store, &clear, false, 13.0).unwrap();
        assert_eq!(
            store.describe("i", "c", "us-west-2").unwrap()["Contact"]["AdditionalEmailRecipients"],
            json!({"CcList": []})
        );
    }

    #[test]
    fn seeds_may_set_contact_facts_checked_against_the_model() {
        let seed = json!({"instances": {"i": {"contacts": {"c": {"Name": "n", "Channel": "CHAT", "InitiationTimestamp": 5.0}}}}});
        let store = Store::from_json(&seed).unwrap();
        assert_eq!(
            store.describe("i", "c", "r").unwrap()["Contact"]["Channel"],
            "CHAT"
        );
        let bad = json!({"instances": {"i": {"contacts": {"c": {"Channel": "CARRIER_PIGEON"}}}}});
        let e = Store::from_json(&bad).unwrap_err();
        assert!(
            e.contains("Channel: \"CARRIER_PIGEON\" is not one of VOICE"),
            "{e}"
        );
    }
}
