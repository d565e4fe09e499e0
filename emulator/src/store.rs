//! The data: instances → contacts → the members written to them, as JSON.
//!
//! The seed file, the state file and `GET /_emulator/contacts` share one format:
//! `{"instances": {"<InstanceId>": {"contacts": {"<ContactId>": {<UpdateContact members>}}}}}`.

use std::collections::BTreeMap;

use connect_contact::model::UpdateContactRequest;
use serde_json::{json, Map, Value};

use crate::reply::ApiError;

/// Members that merge by key on update; the others replace.
const MERGED_MEMBERS: &[&str] = &["References", "SegmentAttributes"];
/// Kept beside the API members; not an UpdateContact member.
const LAST_UPDATE: &str = "LastUpdateTimestamp";
/// The account shown in ARNs.
const ACCOUNT: &str = "123456789012";

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

    /// Merges a validated update into the stored contact: References and SegmentAttributes by
    /// key, the other members by replacement.
    pub fn update(
        &mut self,
        request: &UpdateContactRequest,
        auto_create: bool,
        now_epoch_secs: f64,
    ) -> Result<(), ApiError> {
        if auto_create {
            self.ensure(&request.instance_id, Some(&request.contact_id));
        }
        let contact = self.contact_mut(&request.instance_id, &request.contact_id)?;
        merge(contact, request);
        contact.insert(LAST_UPDATE.into(), json!(now_epoch_secs));
        Ok(())
    }

    /// DescribeContact's answer, `{"Contact": {...}}`, shaped as the service's output. The
    /// service's DescribeContact has no References; they are added so raw clients can read
    /// them back (SDKs ignore the extra member).
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
            json!(format!(
                "arn:aws:connect:{region}:{ACCOUNT}:instance/{instance_id}/contact/{contact_id}"
            )),
        );
        out.insert("Id".into(), json!(contact_id));
        for name in [
            "Name",
            "Description",
            "References",
            "SegmentAttributes",
            "QueueInfo",
            "CustomerEndpoint",
            "SystemEndpoint",
            LAST_UPDATE,
        ] {
            if let Some(v) = stored.get(name) {
                out.insert(name.into(), v.clone());
            }
        }
        // UpdateContact's UserInfo.UserId is DescribeContact's AgentInfo.Id.
        if let Some(user_id) = stored.get("UserInfo").and_then(|u| u.get("UserId")) {
            out.insert("AgentInfo".into(), json!({ "Id": user_id }));
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

fn merge(contact: &mut Contact, request: &UpdateContactRequest) {
    let Ok(Value::Object(members)) = serde_json::to_value(request) else {
        return;
    };
    for (name, value) in members {
        match (MERGED_MEMBERS.contains(&name.as_str()), value) {
            (true, Value::Object(entries)) => {
                let slot = contact.entry(name).or_insert_with(|| json!({}));
                if !slot.is_object() {
                    *slot = json!({});
                }
                if let Value::Object(existing) = slot {
                    existing.extend(entries);
                }
            }
            (_, value) => {
                contact.insert(name, value);
            }
        }
    }
}

/// Checks a seeded contact with the core's reader, so only well-formed members are stored.
fn read_contact(instance_id: &str, contact_id: &str, members: &Value) -> Result<Contact, String> {
    let Value::Object(map) = members else {
        return Err("a contact must be an object of UpdateContact members".into());
    };
    let mut input = map.clone();
    let last_update = input.remove(LAST_UPDATE);
    input.insert("InstanceId".into(), json!(instance_id));
    input.insert("ContactId".into(), json!(contact_id));
    let request =
        UpdateContactRequest::from_value(&Value::Object(input)).map_err(|e| e.to_string())?;
    let mut contact = Contact::new();
    merge(&mut contact, &request);
    if let Some(t) = last_update {
        contact.insert(LAST_UPDATE.into(), t);
    }
    Ok(contact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> UpdateContactRequest {
        UpdateContactRequest::from_json(json).unwrap()
    }

    #[test]
    fn update_merges_maps_and_replaces_the_rest() {
        let mut store = Store::default();
        store.ensure("i", Some("c"));
        store
            .update(&request(r#"{"InstanceId":"i","ContactId":"c","Name":"a","References":{"x":{"Type":"URL","Value":"1"}}}"#), false, 1.0)
            .unwrap();
        store
            .update(&request(r#"{"InstanceId":"i","ContactId":"c","Name":"b","References":{"y":{"Type":"STRING","Value":"2"}}}"#), false, 2.0)
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
        let e = store.update(&r, false, 0.0).unwrap_err();
        assert_eq!((e.status, e.code), (404, "ResourceNotFoundException"));
        assert!(e.message.contains("Instance not found: i"));
        store.ensure("i", None);
        assert!(store
            .update(&r, false, 0.0)
            .unwrap_err()
            .message
            .contains("Contact not found: c"));
        store.update(&r, true, 0.0).unwrap();
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
}
