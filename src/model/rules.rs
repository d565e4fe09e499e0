//! The model's limits as rules, and the checks that apply them (the walk over a request is
//! generated: src/model/generated.rs). Wording follows botocore's ParamValidationError; values are
//! never echoed, except a refused enum value of a shape that is not sensitive.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::RwLock;

use once_cell::sync::Lazy;

use crate::error::Error;
use crate::json::{FieldPath, REDACTED};
use crate::log::{self, LogLevel};

/// Deepest nesting of a recursive shape (`SegmentAttributeValue` through ValueMap / ValueList)
/// accepted. Bounds the
/// recursion of validation and serialization for requests built in Rust, too.
pub const MAX_SEGMENT_ATTRIBUTE_DEPTH: usize = 32;

/// A string shape's limits, from the model.
#[derive(Debug)]
pub struct StringRule {
    pub shape: &'static str,
    /// Characters (Unicode code points).
    pub min: usize,
    pub max: Option<usize>,
    /// Searched, not fully matched, as Smithy patterns are (ECMA-262 `test`).
    pub pattern: Option<&'static str>,
    /// The enum values the model lists; open unless `strict_enums`.
    pub values: Option<&'static [&'static str]>,
    pub sensitive: bool,
}

/// A list shape's limits, from the model.
#[derive(Debug)]
pub struct ListRule {
    #[allow(dead_code)] // shown by Debug, like StringRule's
    pub shape: &'static str,
    pub min: usize,
    pub max: Option<usize>,
}

/// Which of the optional checks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checker {
    /// The model's lengths and patterns (`client_validation`, default on).
    pub model_limits: bool,
    /// Refuse enum values the model does not list (`strict_enums`, default off).
    pub strict_enums: bool,
}

impl Default for Checker {
    fn default() -> Self {
        Checker {
            model_limits: true,
            strict_enums: false,
        }
    }
}

impl Checker {
    /// The nesting bound of recursive shapes; applies whatever the checker says.
    pub(crate) fn depth(path: &FieldPath, shape: &str, depth: usize) -> Result<(), Error> {
        if depth > MAX_SEGMENT_ATTRIBUTE_DEPTH {
            return Err(Error::Validation(format!(
                "Invalid depth for parameter {path}, {shape} values nest deeper than {MAX_SEGMENT_ATTRIBUTE_DEPTH} levels"
            )));
        }
        Ok(())
    }

    pub(crate) fn string(
        &self,
        path: &FieldPath,
        value: &str,
        rule: &StringRule,
    ) -> Result<(), Error> {
        self.string_as(path, "", value, rule)
    }

    /// A map key, checked against the map's key shape.
    pub(crate) fn key(&self, path: &FieldPath, key: &str, rule: &StringRule) -> Result<(), Error> {
        self.string_as(path, " (key)", key, rule)
    }

    fn string_as(
        &self,
        path: &FieldPath,
        what: &str,
        value: &str,
        rule: &StringRule,
    ) -> Result<(), Error> {
        if let Some(values) = rule.values {
            if !values.contains(&value) {
                if self.strict_enums {
                    let shown = if rule.sensitive {
                        REDACTED.to_string()
                    } else {
                        value.chars().take(64).collect()
                    };
                    return Err(Error::Validation(format!(
                        "Invalid value for parameter {path}{what}, value: {shown}, valid values: {}",
                        values.join(", ")
                    )));
                }
                if log::enabled(LogLevel::Debug) {
                    log::emit(
                        LogLevel::Debug,
                        format_args!(
                            "{path}{what}: a value the model's {} enum does not list; sent as given",
                            rule.shape
                        ),
                    );
                }
            }
        }
        if !self.model_limits {
            return Ok(());
        }
        length(path, what, value.chars().count(), rule.min, rule.max)?;
        if let Some(pattern) = rule.pattern {
            if !matches(pattern, value) {
                return Err(Error::Validation(format!(
                    "Invalid value for parameter {path}{what}: does not match the pattern {pattern}"
                )));
            }
        }
        Ok(())
    }

    #[allow(dead_code)] // used once the model has a list with limits
    pub(crate) fn list(&self, path: &FieldPath, len: usize, rule: &ListRule) -> Result<(), Error> {
        if !self.model_limits {
            return Ok(());
        }
        length(path, "", len, rule.min, rule.max)
    }
}

/// botocore's wording; the length, never the value.
fn length(
    path: &FieldPath,
    what: &str,
    n: usize,
    min: usize,
    max: Option<usize>,
) -> Result<(), Error> {
    if n < min {
        return Err(Error::Validation(format!(
            "Invalid length for parameter {path}{what}, value: {n}, valid min length: {min}"
        )));
    }
    match max {
        Some(max) if n > max => Err(Error::Validation(format!(
            "Invalid length for parameter {path}{what}, value: {n}, valid max length: {max}"
        ))),
        _ => Ok(()),
    }
}

/// The model's patterns, compiled once each. A pattern the engine cannot compile is a model
/// the generator should not have let through; it is treated as matching (the service judges).
fn matches(pattern: &'static str, value: &str) -> bool {
    static COMPILED: Lazy<RwLock<HashMap<&'static str, Option<regex_lite::Regex>>>> =
        Lazy::new(Default::default);
    if let Some(re) = COMPILED
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(pattern)
    {
        return re.as_ref().is_none_or(|re| re.is_match(value));
    }
    let re = regex_lite::Regex::new(pattern).ok();
    let result = re.as_ref().is_none_or(|re| re.is_match(value));
    COMPILED
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(pattern, re);
    result
}
