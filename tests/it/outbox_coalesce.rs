//! Coalescing on every member kind (issue 27 item 5): per-contact runs mixing every
//! UpdateContact member, one update the service refuses inside a merged run, and a run whose
//! merged body would be too large to send. The final contacts must equal applying the good
//! updates one by one; the dead letter must be exactly the refused one; the update log must
//! show the refused run split into solo sends and the large run cut where merging would make
//! an invalid body.

use std::collections::BTreeSet;
use std::time::Duration;

use connect_contact::{Outbox, UpdateContactRequest};
use connect_emulator::Faults;
use serde_json::{json, Map, Value};

use crate::outbox::{client, emulator, fast, fresh_file, INSTANCE};

/// Update `seq` of contact `contact`: a marker reference `u{seq}` (to trace it in the update
/// log) and, in turn, every other member: Name, Description, SegmentAttributes keys (three
/// keys reused across updates, so later ones overwrite earlier ones), QueueInfo, UserInfo,
/// CustomerEndpoint, SystemEndpoint and AdditionalRecipients.
fn member_mix(contact: &str, seq: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("InstanceId".into(), json!(INSTANCE));
    m.insert("ContactId".into(), json!(contact));
    m.insert(
        "References".into(),
        json!({format!("u{seq}"): {"Type": "STRING", "Value": seq.to_string()},
               format!("shared{}", seq % 2): {"Type": "URL", "Value": format!("https://t/{seq}")}}),
    );
    if seq % 2 == 0 {
        m.insert("Name".into(), json!(format!("name {seq}")));
    }
    if seq % 3 == 0 {
        m.insert("Description".into(), json!(format!("description {seq}")));
    }
    if seq % 2 == 1 {
        m.insert(
            "SegmentAttributes".into(),
            json!({format!("attr{}", seq % 3): {"ValueString": format!("v{seq}")}}),
        );
    }
    if seq % 4 == 0 {
        m.insert("QueueInfo".into(), json!({"Id": format!("queue-{seq}")}));
    }
    if seq % 4 == 1 {
        m.insert("UserInfo".into(), json!({"UserId": format!("agent-{seq}")}));
    }
    if seq % 3 == 1 {
        m.insert(
            "CustomerEndpoint".into(),
            json!({"Type": "TELEPHONE_NUMBER", "Address": format!("+1555010{seq:04}")}),
        );
    }
    if seq % 3 == 2 {
        m.insert(
            "SystemEndpoint".into(),
            json!({"Type": "TELEPHONE_NUMBER", "Address": format!("+1555020{seq:04}")}),
        );
    }
    if seq % 5 == 0 || seq % 5 == 3 {
        m.insert(
            "AdditionalRecipients".into(),
            json!({"CcEmailAddresses": [{"EmailAddress": format!("cc{seq}@example.com"), "DisplayName": "Cc"}]}),
        );
    }
    m
}

fn request(m: &Map<String, Value>) -> UpdateContactRequest {
    UpdateContactRequest::from_json(&Value::Object(m.clone()).to_string()).unwrap()
}

/// The update numbers a logged call carried (its `u{seq}` marker references).
fn carried(call: &Value) -> Vec<u64> {
    call["References"]
        .as_object()
        .unwrap()
        .keys()
        .filter_map(|k| k.strip_prefix('u')?.parse().ok())
        .collect()
}

/// A contact as stored, without the times the emulator stamps.
fn stored(emulator: &connect_emulator::Emulator, contact: &str) -> Value {
    let mut c = emulator.contact(INSTANCE, contact).unwrap();
    let map = c.as_object_mut().unwrap();
    map.remove("LastUpdateTimestamp");
    map.remove("InitiationTimestamp");
    c
}

#[test]
fn coalesced_runs_of_every_member_kind_equal_sequential_application_of_the_good_updates() {
    // "mixed": ten updates of every member kind, all good: one merged call.
    // "refused": six updates with one the service refuses (a reference type the model does
    // not list: the client's enums are open, the service's closed) at the third place: the
    // merged call is refused, so each is sent alone, and only the refused one dies.
    // "large": five updates, three of them carrying 1.5 MB of references each: merging all
    // would exceed the 4 MiB request limit, so the run is cut where the body would be invalid.
    let mut runs: Vec<(&str, Vec<Map<String, Value>>)> = Vec::new();
    let mut seq = 0u64;
    let mut next = |contact: &str| {
        seq += 1;
        member_mix(contact, seq)
    };
    runs.push(("mixed", (0..10).map(|_| next("mixed")).collect()));
    let mut refused: Vec<Map<String, Value>> = (0..6).map(|_| next("refused")).collect();
    let bad_seq = 13;
    refused[2]["References"][format!("u{bad_seq}")]["Type"] = json!("CARRIER_PIGEON");
    runs.push(("refused", refused));
    let mut large: Vec<Map<String, Value>> = (0..5).map(|_| next("large")).collect();
    for (i, update) in large.iter_mut().enumerate().skip(1).take(3) {
        let refs = update["References"].as_object_mut().unwrap();
        for j in 0..185 {
            refs.insert(
                format!("bulk{i}-{j}-{}", "k".repeat(4000)),
                json!({"Type": "STRING", "Value": "v".repeat(4000)}),
            );
        }
    }
    runs.push(("large", large));

    let emulator = emulator(true, Faults::default());
    let path = fresh_file("coalesce-members");
    // Enqueued while nothing is delivered (an endpoint nothing listens on, one thread), so
    // each contact's run is pending together; interleaved across contacts.
    let mut ids = std::collections::HashMap::new();
    {
        let mut parked = fast();
        parked.workers = 1;
        let outbox = Outbox::open(client(&crate::support::dead_url()), &path, parked).unwrap();
        let longest = runs.iter().map(|(_, r)| r.len()).max().unwrap();
        for i in 0..longest {
            for (_, run) in &runs {
                if let Some(update) = run.get(i) {
                    let id = outbox.enqueue(&request(update)).unwrap();
                    ids.insert(carried(&Value::Object(update.clone()))[0], id);
                }
            }
        }
        outbox.close();
    }
    let outbox = Outbox::open(client(&emulator.endpoint_url()), &path, fast()).unwrap();
    assert!(outbox.flush(Duration::from_secs(120)).unwrap());

    // The oracle: the good updates applied one by one, each alone, to a second emulator.
    let oracle = crate::outbox::emulator(true, Faults::default());
    let direct = client(&oracle.endpoint_url());
    let mut refusal = None;
    for (_, run) in &runs {
        for update in run {
            match direct.update_contact(&request(update)) {
                Ok(_) => {}
                Err(e) => {
                    assert!(refusal.is_none(), "a second update refused: {e}");
                    assert_eq!(carried(&Value::Object(update.clone())), vec![bad_seq]);
                    refusal = Some(e);
                }
            }
        }
    }
    let refusal = refusal.expect("the service refused the bad update");
    for (contact, _) in &runs {
        assert_eq!(
            stored(&emulator, contact),
            stored(&oracle, contact),
            "contact {contact}: coalesced delivery differs from applying the updates in order"
        );
    }
    // Every member kind was in play on the merged contact.
    let mixed = stored(&emulator, "mixed");
    for member in [
        "Name",
        "Description",
        "References",
        "SegmentAttributes",
        "QueueInfo",
        "UserInfo",
        "CustomerEndpoint",
        "SystemEndpoint",
        "AdditionalRecipients",
    ] {
        assert!(mixed.get(member).is_some(), "{member} never sent");
    }

    let dead = outbox.dead_letters().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].id, ids[&bad_seq]);
    assert_eq!(dead[0].message, refusal.message());
    let dead_request: Value = serde_json::from_str(&dead[0].request).unwrap();
    assert_eq!(
        dead_request,
        Value::Object(runs[1].1[2].clone()),
        "the dead letter is the refused update, alone"
    );

    let log = emulator.updates();
    let calls_of = |contact: &str| -> Vec<Vec<u64>> {
        log.as_array()
            .unwrap()
            .iter()
            .filter(|c| c["ContactId"] == contact)
            .map(carried)
            .collect()
    };
    let seqs = |contact: &str| -> Vec<u64> {
        let run = &runs.iter().find(|(c, _)| *c == contact).unwrap().1;
        run.iter()
            .map(|u| carried(&Value::Object(u.clone()))[0])
            .collect()
    };
    // All good, merged: one call carrying the ten.
    let mut all_mixed: Vec<u64> = calls_of("mixed").concat();
    all_mixed.sort();
    assert_eq!(calls_of("mixed").len(), 1, "{:?}", calls_of("mixed"));
    assert_eq!(all_mixed, seqs("mixed"));
    // The refused run: every good update alone, in order (the merged call was refused).
    let good: Vec<Vec<u64>> = seqs("refused")
        .into_iter()
        .filter(|s| *s != bad_seq)
        .map(|s| vec![s])
        .collect();
    assert_eq!(calls_of("refused"), good, "solo sends after the refusal");
    // The large run: cut once, where one more update would make the body too large; each
    // update once, in order.
    let large_calls = calls_of("large");
    assert_eq!(large_calls.len(), 2, "{large_calls:?}");
    let mut flat: Vec<u64> = Vec::new();
    for call in &large_calls {
        let mut c = call.clone();
        c.sort();
        flat.extend(c);
    }
    assert_eq!(flat, seqs("large"));
    assert!(large_calls.iter().all(|c| c.len() >= 2), "{large_calls:?}");
    let all: BTreeSet<u64> = log.as_array().unwrap().iter().flat_map(carried).collect();
    assert_eq!(all.len() as u64, 21 - 1, "each good update once");
    outbox.close();
}

#[test]
fn the_outbox_and_the_emulator_merge_the_same_members_by_key() {
    assert_eq!(
        connect_contact::unstable::OUTBOX_MERGED_MEMBERS,
        connect_emulator::MERGED_MEMBERS
    );
}
