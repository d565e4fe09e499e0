//! UpdateContact's command-line options, read from the vendored service model
//! (model/connect.json, compiled in): one option per input member, named as the AWS CLI names
//! it, and the `--generate-cli-skeleton` document. Nothing here lists a member by hand, so a
//! new model (scripts/update-model) brings its new options with it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// The operation the `update-contact` command calls.
pub const OPERATION: &str = "UpdateContact";

const MODEL: &str = include_str!("../../model/connect.json");

/// A JSON object read with its members in document order (serde_json's `Map` sorts them;
/// the AWS CLI lists members in the model's order).
#[derive(Debug, Default)]
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, Value>()? {
                    pairs.push(pair);
                }
                Ok(Ordered(pairs))
            }
        }
        deserializer.deserialize_map(Pairs)
    }
}

/// The parts of a shape the command line needs.
#[derive(Debug, Deserialize)]
struct Shape {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    members: Ordered,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    member: Option<Value>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default, rename = "enum")]
    values: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Model {
    operations: BTreeMap<String, Value>,
    shapes: BTreeMap<String, Shape>,
}

fn model() -> &'static Model {
    static PARSED: OnceLock<Model> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(MODEL).expect("model/connect.json is a model"))
}

fn shape(name: &str) -> &'static Shape {
    model()
        .shapes
        .get(name)
        .unwrap_or_else(|| panic!("model/connect.json has no shape {name}"))
}

fn target(reference: &Value) -> &str {
    reference["shape"].as_str().unwrap_or_default()
}

fn input_shape() -> &'static str {
    model().operations[OPERATION]["input"]["shape"]
        .as_str()
        .expect("the model defines UpdateContact's input")
}

/// One input member of the operation.
#[derive(Clone, Debug)]
pub struct Member {
    /// The API's member name (`SegmentAttributes`).
    pub name: String,
    /// The option without its dashes, as the AWS CLI spells it (`segment-attributes`).
    pub option: String,
    /// `string`, `structure`, `map`, `list`, `integer`, `boolean`, ...
    pub kind: String,
    /// Required by the model.
    pub required: bool,
}

impl Member {
    /// Scalars are taken as typed; structures, maps and lists as JSON.
    pub fn takes_json(&self) -> bool {
        matches!(self.kind.as_str(), "structure" | "map" | "list")
    }
}

/// The operation's input members, in the model's order.
pub fn members() -> Vec<Member> {
    let input = shape(input_shape());
    input
        .members
        .0
        .iter()
        .map(|(name, m)| Member {
            option: option_name(name),
            kind: shape(target(m)).kind.clone(),
            required: input.required.contains(name),
            name: name.clone(),
        })
        .collect()
}

/// botocore's `xform_name(name, "-")`: `SegmentAttributes` → `segment-attributes`,
/// `ARNName` → `arn-name`, `Ipv4Address` → `ipv4-address`.
pub fn option_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            // `(.)([A-Z][a-z]+)` and `([a-z0-9])([A-Z])`.
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || next_lower {
                out.push('-');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out.replace("--", "-")
}

/// A JSON value with its members in the model's order, printed as Python's
/// `json.dumps(value, indent=4)` prints it (the AWS CLI's skeleton format).
enum Node {
    Object(Vec<(String, Node)>),
    List(Vec<Node>),
    Scalar(String),
}

impl Node {
    fn write(&self, out: &mut String, depth: usize) {
        let pad = |n: usize| "    ".repeat(n);
        match self {
            Node::Scalar(s) => out.push_str(s),
            Node::Object(m) if m.is_empty() => out.push_str("{}"),
            Node::List(l) if l.is_empty() => out.push_str("[]"),
            Node::Object(members) => {
                out.push_str("{\n");
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    out.push_str(&pad(depth + 1));
                    out.push_str(&Value::from(k.as_str()).to_string());
                    out.push_str(": ");
                    v.write(out, depth + 1);
                }
                out.push('\n');
                out.push_str(&pad(depth));
                out.push('}');
            }
            Node::List(items) => {
                out.push_str("[\n");
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    out.push_str(&pad(depth + 1));
                    v.write(out, depth + 1);
                }
                out.push('\n');
                out.push_str(&pad(depth));
                out.push(']');
            }
        }
    }
}

/// botocore's ArgumentGenerator: a structure already on the stack becomes `{}`; an enum
/// takes its first value (botocore picks one at random).
fn skeleton_of(name: &str, stack: &mut Vec<String>) -> Node {
    let s = shape(name);
    stack.push(name.to_string());
    let node = match s.kind.as_str() {
        "structure" if stack.iter().filter(|n| *n == name).count() > 1 => Node::Object(Vec::new()),
        "structure" => Node::Object(
            s.members
                .0
                .iter()
                .map(|(k, v)| (k.clone(), skeleton_of(target(v), stack)))
                .collect(),
        ),
        "list" => Node::List(vec![skeleton_of(
            s.member.as_ref().map(target).unwrap_or_default(),
            stack,
        )]),
        "map" => Node::Object(vec![(
            "KeyName".to_string(),
            skeleton_of(s.value.as_ref().map(target).unwrap_or_default(), stack),
        )]),
        "integer" | "long" => Node::Scalar("0".into()),
        "float" | "double" => Node::Scalar("0.0".into()),
        "boolean" => Node::Scalar("true".into()),
        "timestamp" => Node::Scalar("\"1970-01-01T00:00:00\"".into()),
        _ => {
            let first = s.values.first().map(String::as_str).unwrap_or("");
            Node::Scalar(Value::from(first).to_string())
        }
    };
    stack.pop();
    node
}

/// What `--generate-cli-skeleton` prints: every input member with a placeholder value.
pub fn input_skeleton() -> String {
    let mut out = String::new();
    skeleton_of(input_shape(), &mut Vec::new()).write(&mut out, 0);
    out.push('\n');
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_names_follow_botocore() {
        for (name, option) in [
            ("InstanceId", "instance-id"),
            ("SegmentAttributes", "segment-attributes"),
            ("AdditionalRecipients", "additional-recipients"),
            ("ARNName", "arn-name"),
            ("Ipv4Address", "ipv4-address"),
            ("Name", "name"),
        ] {
            assert_eq!(option_name(name), option, "{name}");
        }
    }

    #[test]
    fn members_come_from_the_model() {
        let members = members();
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(&names[..3], ["InstanceId", "ContactId", "Name"]);
        assert!(members.iter().filter(|m| m.required).count() == 2);
        let refs = members.iter().find(|m| m.name == "References").unwrap();
        assert!(refs.takes_json());
        assert!(!members[2].takes_json());
    }
}
