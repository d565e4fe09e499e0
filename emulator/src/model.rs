//! The emulator's own reading of the service model: a generic validator that interprets the
//! vendored model file (model/connect.json, the botocore extract) at run time.
//!
//! It shares no code with the client library's generated types or validation, so a test that
//! sends the same input to both finds any place where they read the model differently. Like
//! the service, it refuses enum values the model does not list (the client lets them through).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value};

/// The vendored model, compiled in.
const MODEL_JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../model/connect.json"
));

/// Nesting bound for any input document, counted in JSON containers: deep enough for every
/// real request, shallow enough that recursion cannot exhaust a stack.
pub const MAX_DEPTH: usize = 100;

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub message: String,
}

/// The kind of rule broken, for tests comparing verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Type,
    Unknown,
    Missing,
    Length,
    Pattern,
    Enum,
    Range,
    Depth,
}

pub struct ServiceModel {
    shapes: Map<String, Value>,
    operations: Map<String, Value>,
    patterns: Mutex<HashMap<String, Option<regex_lite::Regex>>>,
}

impl ServiceModel {
    /// The model compiled into the emulator, parsed on first use.
    pub fn vendored() -> &'static ServiceModel {
        static MODEL: OnceLock<ServiceModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            ServiceModel::parse(MODEL_JSON).expect("model/connect.json is a valid model")
        })
    }

    pub fn parse(text: &str) -> Result<ServiceModel, String> {
        let mut doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let take = |doc: &mut Value, key: &str| match doc.get_mut(key).map(Value::take) {
            Some(Value::Object(m)) => Ok(m),
            _ => Err(format!("the model has no \"{key}\" object")),
        };
        Ok(ServiceModel {
            shapes: take(&mut doc, "shapes")?,
            operations: take(&mut doc, "operations")?,
            patterns: Mutex::new(HashMap::new()),
        })
    }

    /// The shape named `name`.
    pub fn shape(&self, name: &str) -> Option<&Value> {
        self.shapes.get(name)
    }

    /// The input shape of `operation`.
    pub fn input_shape(&self, operation: &str) -> Option<&str> {
        self.operations
            .get(operation)?
            .get("input")?
            .get("shape")?
            .as_str()
    }

    /// The members of `operation`'s input that travel in the URI.
    pub fn uri_members(&self, operation: &str) -> Vec<String> {
        let Some(members) = self
            .input_shape(operation)
            .and_then(|s| self.shape(s))
            .and_then(|s| s.get("members"))
            .and_then(Value::as_object)
        else {
            return Vec::new();
        };
        members
            .iter()
            .filter(|(_, m)| m.get("location").and_then(Value::as_str) == Some("uri"))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Checks a whole input document (URI members included) of `operation`.
    pub fn check_input(&self, operation: &str, input: &Value) -> Result<(), Violation> {
        let shape = self
            .input_shape(operation)
            .ok_or_else(|| violation(Rule::Unknown, format!("no operation {operation}")))?;
        self.check(shape, input, "", 0)
    }

    /// Checks `value` against shape `name`; `path` is where it sits ("" for the root).
    pub fn check(
        &self,
        name: &str,
        value: &Value,
        path: &str,
        depth: usize,
    ) -> Result<(), Violation> {
        if depth > MAX_DEPTH {
            return Err(violation(
                Rule::Depth,
                format!("{}: nested deeper than {MAX_DEPTH} levels", shown(path)),
            ));
        }
        let shape = self
            .shape(name)
            .ok_or_else(|| violation(Rule::Type, format!("the model has no shape {name}")))?;
        let kind = shape
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let int = |key: &str| shape.get(key).and_then(Value::as_i64);
        match kind {
            "structure" => {
                let object = expect(value, path, "an object", Value::as_object)?;
                let members = shape.get("members").and_then(Value::as_object);
                let members = members.cloned().unwrap_or_default();
                if let Some(unknown) = object.keys().find(|k| !members.contains_key(*k)) {
                    let names: Vec<&str> = members.keys().map(String::as_str).collect();
                    return Err(violation(
                        Rule::Unknown,
                        format!(
                            "{}: unknown member; expected one of {}",
                            join(path, unknown),
                            names.join(", ")
                        ),
                    ));
                }
                for required in shape
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let required = required.as_str().unwrap_or_default();
                    if !object.contains_key(required) {
                        return Err(violation(
                            Rule::Missing,
                            format!("{}: required member is missing", join(path, required)),
                        ));
                    }
                }
                for (member, v) in object {
                    let target = members[member]["shape"].as_str().unwrap_or_default();
                    self.check(target, v, &join(path, member), depth + 1)?;
                }
                Ok(())
            }
            "map" => {
                let object = expect(value, path, "an object", Value::as_object)?;
                let key_shape = shape["key"]["shape"].as_str().unwrap_or_default();
                let value_shape = shape["value"]["shape"].as_str().unwrap_or_default();
                self.count(shape, object.len(), path, "entries")?;
                for (k, v) in object {
                    let entry = join(path, k);
                    self.check(
                        key_shape,
                        &Value::String(k.clone()),
                        &format!("{entry} (key)"),
                        depth + 1,
                    )
                    .map_err(|e| Violation {
                        message: e.message.replacen(
                            &format!("{entry} (key): length"),
                            &format!("{entry}: key length"),
                            1,
                        ),
                        ..e
                    })?;
                    self.check(value_shape, v, &entry, depth + 1)?;
                }
                Ok(())
            }
            "list" => {
                let items = expect(value, path, "an array", Value::as_array)?;
                self.count(shape, items.len(), path, "items")?;
                let member = shape["member"]["shape"].as_str().unwrap_or_default();
                for (i, item) in items.iter().enumerate() {
                    self.check(member, item, &format!("{}[{i}]", shown(path)), depth + 1)?;
                }
                Ok(())
            }
            "string" => {
                let text = expect(value, path, "a string", Value::as_str)?;
                let sensitive = shape.get("sensitive").and_then(Value::as_bool) == Some(true);
                if let Some(values) = shape.get("enum").and_then(Value::as_array) {
                    if !values.iter().any(|v| v.as_str() == Some(text)) {
                        let listed: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                        let quoted = if sensitive {
                            "a value".to_string()
                        } else {
                            serde_json::to_string(&text.chars().take(64).collect::<String>())
                                .unwrap_or_default()
                        };
                        return Err(violation(
                            Rule::Enum,
                            format!(
                                "{}: {quoted} is not one of {}",
                                shown(path),
                                listed.join(", ")
                            ),
                        ));
                    }
                }
                let n = text.chars().count() as i64;
                if let Some(min) = int("min").filter(|min| n < *min) {
                    return Err(violation(
                        Rule::Length,
                        format!(
                            "{}: length {n} is below the minimum of {min} characters",
                            shown(path)
                        ),
                    ));
                }
                if let Some(max) = int("max").filter(|max| n > *max) {
                    return Err(violation(
                        Rule::Length,
                        format!(
                            "{}: length {n} exceeds the maximum of {max} characters",
                            shown(path)
                        ),
                    ));
                }
                if let Some(pattern) = shape.get("pattern").and_then(Value::as_str) {
                    if !self.search(pattern, text) {
                        return Err(violation(
                            Rule::Pattern,
                            format!("{}: must match the pattern {pattern}", shown(path)),
                        ));
                    }
                }
                Ok(())
            }
            "integer" | "long" => {
                let n = value
                    .as_i64()
                    .ok_or_else(|| type_violation(path, "an integer", value))?;
                let (lo, hi) = if kind == "integer" {
                    (i64::from(i32::MIN), i64::from(i32::MAX))
                } else {
                    (i64::MIN, i64::MAX)
                };
                let lo = int("min").unwrap_or(lo).max(lo);
                let hi = int("max").unwrap_or(hi).min(hi);
                if n < lo || n > hi {
                    return Err(violation(
                        Rule::Range,
                        format!("{}: expected a whole number from {lo} to {hi}", shown(path)),
                    ));
                }
                Ok(())
            }
            "boolean" => expect(value, path, "a boolean", Value::as_bool).map(|_| ()),
            "timestamp" | "double" | "float" => {
                expect(value, path, "a number", Value::as_f64).map(|_| ())
            }
            other => Err(violation(
                Rule::Type,
                format!("{}: the model's type {other} is not supported", shown(path)),
            )),
        }
    }

    fn count(&self, shape: &Value, n: usize, path: &str, what: &str) -> Result<(), Violation> {
        let n = n as i64;
        if let Some(min) = shape.get("min").and_then(Value::as_i64).filter(|m| n < *m) {
            return Err(violation(
                Rule::Length,
                format!("{}: {n} {what}, below the minimum of {min}", shown(path)),
            ));
        }
        if let Some(max) = shape.get("max").and_then(Value::as_i64).filter(|m| n > *m) {
            return Err(violation(
                Rule::Length,
                format!(
                    "{}: {n} {what}, more than the maximum of {max}",
                    shown(path)
                ),
            ));
        }
        Ok(())
    }

    /// Smithy patterns are ECMA-262 expressions searched anywhere in the value.
    fn search(&self, pattern: &str, text: &str) -> bool {
        let mut cache = self.patterns.lock().unwrap_or_else(|p| p.into_inner());
        let re = cache
            .entry(pattern.to_string())
            .or_insert_with(|| regex_lite::Regex::new(pattern).ok());
        // A pattern this engine cannot read refuses nothing; a test compiles every pattern.
        re.as_ref().map_or(true, |re| re.is_match(text))
    }
}

fn violation(rule: Rule, message: String) -> Violation {
    Violation { rule, message }
}

fn type_violation(path: &str, expected: &str, got: &Value) -> Violation {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    violation(
        Rule::Type,
        format!("{}: expected {expected}, got {got}", shown(path)),
    )
}

fn expect<'v, T>(
    value: &'v Value,
    path: &str,
    expected: &str,
    get: impl Fn(&'v Value) -> Option<T>,
) -> Result<T, Violation> {
    get(value).ok_or_else(|| type_violation(path, expected, value))
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "request"
    } else {
        path
    }
}

/// `a.b` for plain keys, `a["x y"]` for others, so a message stays on one line.
fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 128
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-:".contains(&b));
    match (plain, path.is_empty()) {
        (true, true) => key.to_string(),
        (true, false) => format!("{path}.{key}"),
        (false, _) => {
            let cut: String = key.chars().take(64).collect();
            let more = if cut.len() < key.len() { "…" } else { "" };
            format!(
                "{path}[{}{more}]",
                serde_json::to_string(&cut).unwrap_or_default()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: Value) -> Result<(), Violation> {
        ServiceModel::vendored().check_input("UpdateContact", &input)
    }

    /// Every pattern UpdateContact's input can meet compiles (outside it, DescribeContact's tag
    /// keys use a lookahead this engine does not read; the emulator never checks those).
    #[test]
    fn every_input_pattern_compiles() {
        let model = ServiceModel::vendored();
        let mut seen = Vec::new();
        let mut stack = vec!["UpdateContactRequest".to_string()];
        while let Some(name) = stack.pop() {
            if seen.contains(&name) {
                continue;
            }
            let shape = model.shape(&name).unwrap();
            for key in ["member", "key", "value"] {
                if let Some(s) = shape.get(key).and_then(|r| r["shape"].as_str()) {
                    stack.push(s.into());
                }
            }
            for m in shape
                .get("members")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                stack.push(m.1["shape"].as_str().unwrap().into());
            }
            if let Some(p) = shape.get("pattern").and_then(Value::as_str) {
                assert!(regex_lite::Regex::new(p).is_ok(), "{p}");
            }
            seen.push(name);
        }
        assert!(seen.contains(&"EmailAddress".to_string()));
    }

    #[test]
    fn refuses_what_the_model_refuses_like_the_service() {
        assert!(check(json!({"InstanceId": "i", "ContactId": "c", "Name": "n"})).is_ok());
        let e = check(json!({"InstanceId": "i", "ContactId": "c", "References": {"r": {"Type": "NOT_A_TYPE"}}})).unwrap_err();
        assert_eq!(e.rule, Rule::Enum, "the service's enums are closed: {e:?}");
        assert!(
            e.message
                .starts_with("References.r.Type: \"NOT_A_TYPE\" is not one of URL"),
            "{}",
            e.message
        );
        let e = check(json!({"InstanceId": "i", "ContactId": "c", "AdditionalRecipients": {"CcEmailAddresses": [{"EmailAddress": "secret-not-an-email"}]}})).unwrap_err();
        assert_eq!(e.rule, Rule::Pattern);
        assert!(
            !e.message.contains("secret"),
            "sensitive values are not echoed: {}",
            e.message
        );
        let e = check(json!({"ContactId": "c"})).unwrap_err();
        assert_eq!(
            (e.rule, e.message.as_str()),
            (Rule::Missing, "InstanceId: required member is missing")
        );
        let e = check(json!({"InstanceId": "i", "ContactId": "c", "SegmentAttributes": {"k": {"ValueInteger": 2147483648u64}}})).unwrap_err();
        assert_eq!(e.rule, Rule::Range);
        let e = check(json!({"InstanceId": "i", "ContactId": "c", "SegmentAttributes": {"": {"ValueString": "x"}}})).unwrap_err();
        assert_eq!(e.rule, Rule::Length);
        assert!(e.message.contains("key length 0"), "{}", e.message);
    }

    #[test]
    fn describe_output_shape_is_known() {
        let model = ServiceModel::vendored();
        assert!(model.shape("Contact").is_some());
        let mut uri = model.uri_members("UpdateContact");
        uri.sort();
        assert_eq!(uri, vec!["ContactId", "InstanceId"]);
    }
}
