//! Permissions: an optional policy file saying which identities may call which actions on
//! which resources, evaluated on every API call after the signature check.
//!
//! The file is IAM-shaped, reduced to what the emulator needs:
//!
//! ```json
//! {"Statement": [
//!   {"Effect": "Allow", "Principal": "AKIDAGENTS",
//!    "Action": ["connect:UpdateContact", "connect:DescribeContact"],
//!    "Resource": "arn:aws:connect:*:*:instance/sales/contact/*"},
//!   {"Effect": "Deny", "Principal": "*", "Action": "connect:*",
//!    "Resource": "arn:aws:connect:*:*:instance/sales/contact/vip-*"}
//! ]}
//! ```
//!
//! `Principal` matches the access key ID that signed the request (for temporary credentials,
//! the ID that goes with the session token). `Principal`, `Action` and `Resource` take a string
//! or a list, with `*` (any run of characters) and `?` (one character); actions match without
//! regard to case, as IAM's do. A call is allowed when an Allow statement matches it and no
//! Deny statement does; otherwise it gets the service's AccessDeniedException (403).

use std::path::Path;

use serde_json::Value;

use crate::reply::ApiError;

/// The account the emulator's resources belong to.
pub const ACCOUNT: &str = "123456789012";

/// A contact's ARN, as the service writes it.
pub fn contact_arn(region: &str, instance_id: &str, contact_id: &str) -> String {
    format!("arn:aws:connect:{region}:{ACCOUNT}:instance/{instance_id}/contact/{contact_id}")
}

/// Largest policy file read.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Clone, Debug, PartialEq)]
struct Statement {
    allow: bool,
    principals: Vec<String>,
    actions: Vec<String>,
    resources: Vec<String>,
}

impl Policy {
    /// Reads a policy file; errors name the file and the member.
    pub fn load(path: &Path) -> Result<Policy, String> {
        let shown = path.display();
        let size = std::fs::metadata(path)
            .map_err(|e| format!("policy file {shown}: {e}"))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(format!(
                "policy file {shown} is {size} bytes; the limit is {MAX_FILE_BYTES}"
            ));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("policy file {shown}: {e}"))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("policy file {shown} is not valid JSON: {e}"))?;
        Policy::from_json(&value).map_err(|e| format!("policy file {shown}: {e}"))
    }

    pub fn from_json(value: &Value) -> Result<Policy, String> {
        let statements = value
            .get("Statement")
            .and_then(Value::as_array)
            .ok_or("expected {\"Statement\": [{\"Effect\", \"Principal\", \"Action\", \"Resource\"}, ...]}")?;
        let statements = statements
            .iter()
            .enumerate()
            .map(|(i, s)| statement(s).map_err(|e| format!("Statement[{i}].{e}")))
            .collect::<Result<_, _>>()?;
        Ok(Policy { statements })
    }

    /// Whether `principal` may do `action` on `resource`.
    pub fn allows(&self, principal: &str, action: &str, resource: &str) -> bool {
        let applies = |s: &&Statement| {
            s.principals.iter().any(|p| matches(p, principal, false))
                && s.actions.iter().any(|a| matches(a, action, true))
                && s.resources.iter().any(|r| matches(r, resource, false))
        };
        let mut allowed = false;
        for s in self.statements.iter().filter(applies) {
            if !s.allow {
                return false;
            }
            allowed = true;
        }
        allowed
    }

    /// `Ok` when allowed, else the service's AccessDeniedException.
    pub fn check(&self, principal: &str, action: &str, resource: &str) -> Result<(), ApiError> {
        if self.allows(principal, action, resource) {
            return Ok(());
        }
        Err(ApiError::new(
            403,
            "AccessDeniedException",
            format!(
                "User: arn:aws:iam::{ACCOUNT}:user/{principal} is not authorized to perform: {action} on resource: \
                 {resource} because no identity-based policy allows the {action} action"
            ),
        ))
    }
}

fn statement(value: &Value) -> Result<Statement, String> {
    let Value::Object(map) = value else {
        return Err("must be an object".into());
    };
    const MEMBERS: &[&str] = &["Sid", "Effect", "Principal", "Action", "Resource"];
    if let Some(unknown) = map.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(format!(
            "{unknown}: unknown member; expected {}",
            MEMBERS.join(", ")
        ));
    }
    let allow = match map.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        _ => return Err("Effect must be \"Allow\" or \"Deny\"".into()),
    };
    let list = |name: &str| -> Result<Vec<String>, String> {
        let patterns = match map.get(name) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{name} must be a string or a list of strings"))?,
            _ => return Err(format!("{name} must be a string or a list of strings")),
        };
        if patterns.is_empty() {
            return Err(format!("{name} must not be empty"));
        }
        Ok(patterns)
    };
    Ok(Statement {
        allow,
        principals: list("Principal")?,
        actions: list("Action")?,
        resources: list("Resource")?,
    })
}

/// Glob match with `*` and `?`, linear time (no backtracking blow-up).
fn matches(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let norm = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (norm(pattern), norm(text));
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        assert!(matches("arn:*:contact/*", "arn:aws:x:contact/c1", false));
        assert!(matches("a?c", "abc", false));
        assert!(!matches("a?c", "ac", false));
        assert!(matches("*", "", false));
        assert!(!matches("abc", "abcd", false));
        assert!(matches("connect:update*", "connect:UpdateContact", true));
        assert!(!matches("connect:update*", "connect:UpdateContact", false));
        assert!(matches("*a*b*c*", "xxaxxbxxcxx", false));
        assert!(!matches("*a*b*c", "xxaxxbxxcxx", false));
    }

    #[test]
    fn allow_needs_a_match_and_deny_wins() {
        let policy = Policy::from_json(&json!({"Statement": [
            {"Effect": "Allow", "Principal": "AK1", "Action": ["connect:UpdateContact", "connect:DescribeContact"],
             "Resource": "arn:aws:connect:*:*:instance/sales/contact/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "connect:*",
             "Resource": "arn:aws:connect:*:*:instance/sales/contact/vip-*"}
        ]}))
        .unwrap();
        let arn = |c: &str| contact_arn("us-east-1", "sales", c);
        assert!(policy.allows("AK1", "connect:UpdateContact", &arn("c1")));
        assert!(
            !policy.allows("AK2", "connect:UpdateContact", &arn("c1")),
            "other key"
        );
        assert!(
            !policy.allows("AK1", "connect:UpdateContact", &arn("vip-1")),
            "denied"
        );
        assert!(!policy.allows(
            "AK1",
            "connect:UpdateContact",
            &contact_arn("us-east-1", "support", "c1")
        ));
        let e = policy
            .check("AK2", "connect:UpdateContact", &arn("c1"))
            .unwrap_err();
        assert_eq!((e.status, e.code), (403, "AccessDeniedException"));
        assert!(e
            .message
            .contains("not authorized to perform: connect:UpdateContact"));
    }

    #[test]
    fn bad_policies_are_named() {
        let e = Policy::from_json(&json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": 3, "Resource": "*"}]}))
            .unwrap_err();
        assert_eq!(
            e,
            "Statement[0].Action must be a string or a list of strings"
        );
        let e = Policy::from_json(&json!({"Statement": [{"Effect": "Maybe"}]})).unwrap_err();
        assert!(e.contains("Statement[0].Effect"), "{e}");
        let e = Policy::from_json(&json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {}}]}))
            .unwrap_err();
        assert!(e.contains("Condition: unknown member"), "{e}");
        assert!(Policy::from_json(&json!({})).is_err());
    }
}
