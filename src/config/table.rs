//! The settings table: each setting declared once (its config key, environment variables,
//! profile key, type and bounds, default, secrecy and documentation), and the one lookup that
//! decides an ordinary setting's value and source — explicit, then the environment, then the
//! profile, then the default.
//!
//! [`settings!`] turns the declarations into [`SETTINGS`], the `ClientConfig` fields, its
//! `from_json` and its redacting `Debug`; docs/configuration.md, the header's key list and
//! the Python `ClientConfig` are generated from [`SETTINGS`] (tests/it/derived_docs.rs).
#![forbid(unsafe_code)]

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::env::profile::Section;
use crate::env::{parse_flag, Env};
use crate::error::Error;
use crate::retry::RetryMode;

/// How a setting's value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// A string.
    Text,
    /// `true` or `false` (any case in the environment and the profile).
    Flag,
    /// A whole number in `min..=max`.
    Whole {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// Milliseconds in `min..=max`.
    Millis {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// One of the listed words.
    Choice(&'static [&'static str]),
}

/// A setting's default: a value of its kind (which the lookup uses and the docs show), or,
/// for the settings `resolve` decides itself, a description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultValue {
    /// `true` or `false`.
    Flag(bool),
    /// A whole number (milliseconds for a `Millis` setting).
    Number(u64),
    /// One of a `Choice` setting's words.
    Word(&'static str),
    /// No value: the setting is unset unless given.
    Unset(&'static str),
    /// Decided by `resolve` (region, endpoint, credentials, proxy, CA bundle): what the docs
    /// say it is.
    Described(&'static str),
}

impl fmt::Display for DefaultValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefaultValue::Flag(b) => write!(f, "`{b}`"),
            DefaultValue::Number(n) => write!(f, "{n}"),
            DefaultValue::Word(w) => write!(f, "`{w}`"),
            DefaultValue::Unset(s) | DefaultValue::Described(s) => f.write_str(s),
        }
    }
}

/// One setting, declared once in the `settings!` call of src/config/mod.rs: everything else
/// (the known config keys, the bounds the parsers check, the lookup's default, the docs, the
/// key list in connect_client_new's header comment and the Python `ClientConfig` TypedDict)
/// is derived from [`SETTINGS`](crate::config::SETTINGS).
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// The config JSON key, or `None` for a setting only the environment sets.
    pub key: Option<&'static str>,
    /// The name in the docs and the resolved configuration (the config key when there is one).
    pub name: &'static str,
    /// Environment variables, in the order they are read.
    pub env: &'static [&'static str],
    /// The shared-profile key, if the profile can set it.
    pub profile: Option<&'static str>,
    /// The value's type and bounds.
    pub kind: ValueKind,
    /// The default.
    pub default: DefaultValue,
    /// Whether the value is a secret (never shown: Debug, logs, messages, the resolved JSON).
    pub secret: bool,
    /// One line of documentation.
    pub doc: &'static str,
}

impl Setting {
    /// `config key "name"`, as messages and sources say it.
    pub(crate) fn config_source(&self) -> String {
        format!("config key \"{}\"", self.key.unwrap_or(self.name))
    }

    fn bounds(&self) -> (u64, u64) {
        match self.kind {
            ValueKind::Whole { min, max } | ValueKind::Millis { min, max } => (min, max),
            _ => (0, u64::MAX),
        }
    }
}

/// A type a setting's value can have: how it is read from the config JSON and from text (an
/// environment variable or a profile key), checked against the setting's bounds, made from
/// its default and shown in the resolved configuration.
pub(crate) trait SettingValue: Sized {
    /// From a config JSON value (not null).
    fn from_json(value: &Value, setting: &Setting) -> Result<Self, Error>;
    /// From the text of `source` (`AWS_MAX_ATTEMPTS`, `profile "dev" key "max_attempts"`).
    fn from_text(text: &str, setting: &Setting, source: &str) -> Result<Self, Error>;
    /// The setting's default, if it has one of this type.
    fn from_default(default: DefaultValue) -> Option<Self>;
    /// A value given in Rust (not parsed) within the setting's bounds.
    fn check(&self, _setting: &Setting, _source: &str) -> Result<(), Error> {
        Ok(())
    }
    /// The value in the resolved configuration.
    fn shown(&self) -> Value;
}

fn expected(setting: &Setting, what: &str) -> Error {
    Error::InvalidConfig(format!("{}: expected {what}", setting.config_source()))
}

impl SettingValue for String {
    fn from_json(value: &Value, setting: &Setting) -> Result<Self, Error> {
        let text = value
            .as_str()
            .ok_or_else(|| expected(setting, "a string"))?;
        Self::from_text(text, setting, &setting.config_source())
    }
    fn from_text(text: &str, setting: &Setting, source: &str) -> Result<Self, Error> {
        match setting.kind {
            ValueKind::Choice(words)
                if !words.iter().any(|w| w.eq_ignore_ascii_case(text.trim())) =>
            {
                Err(Error::InvalidConfig(format!(
                    "{source}: \"{text}\" is not one of {}",
                    words.join(", ")
                )))
            }
            _ => Ok(text.to_owned()),
        }
    }
    fn from_default(default: DefaultValue) -> Option<Self> {
        match default {
            DefaultValue::Word(w) => Some(w.to_owned()),
            _ => None,
        }
    }
    fn shown(&self) -> Value {
        Value::from(self.as_str())
    }
}

impl SettingValue for bool {
    fn from_json(value: &Value, setting: &Setting) -> Result<Self, Error> {
        value
            .as_bool()
            .ok_or_else(|| expected(setting, "true or false"))
    }
    fn from_text(text: &str, _setting: &Setting, source: &str) -> Result<Self, Error> {
        parse_flag(text, source)
    }
    fn from_default(default: DefaultValue) -> Option<Self> {
        match default {
            DefaultValue::Flag(b) => Some(b),
            _ => None,
        }
    }
    fn shown(&self) -> Value {
        Value::from(*self)
    }
}

/// Whole numbers (u32, usize) and milliseconds (Duration) share their reading and bounds.
fn number_from_json(value: &Value, setting: &Setting) -> Result<u64, Error> {
    let (min, max) = setting.bounds();
    match value.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(expected(
            setting,
            &format!("a whole number from {min} to {max}"),
        )),
    }
}

fn number_from_text(text: &str, setting: &Setting, source: &str) -> Result<u64, Error> {
    let n: u64 = text
        .trim()
        .parse()
        .map_err(|_| Error::InvalidConfig(format!("{source}: \"{text}\" is not a whole number")))?;
    check_number(n, setting, source)?;
    Ok(n)
}

fn check_number(n: u64, setting: &Setting, source: &str) -> Result<(), Error> {
    let (min, max) = setting.bounds();
    let unit = if matches!(setting.kind, ValueKind::Millis { .. }) {
        " ms"
    } else {
        ""
    };
    if (min..=max).contains(&n) {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "{source}: {n}{unit} is outside {min}..={max}{unit}"
        )))
    }
}

macro_rules! whole_number {
    ($($t:ty),*) => {$(
        impl SettingValue for $t {
            fn from_json(value: &Value, setting: &Setting) -> Result<Self, Error> {
                number_from_json(value, setting).map(|n| n as $t)
            }
            fn from_text(text: &str, setting: &Setting, source: &str) -> Result<Self, Error> {
                number_from_text(text, setting, source).map(|n| n as $t)
            }
            fn from_default(default: DefaultValue) -> Option<Self> {
                match default {
                    DefaultValue::Number(n) => Some(n as $t),
                    _ => None,
                }
            }
            fn check(&self, setting: &Setting, source: &str) -> Result<(), Error> {
                check_number(*self as u64, setting, source)
            }
            fn shown(&self) -> Value {
                Value::from(*self as u64)
            }
        }
    )*};
}
whole_number!(u32, usize);

impl SettingValue for Duration {
    fn from_json(value: &Value, setting: &Setting) -> Result<Self, Error> {
        number_from_json(value, setting).map(Duration::from_millis)
    }
    fn from_text(text: &str, setting: &Setting, source: &str) -> Result<Self, Error> {
        number_from_text(text, setting, source).map(Duration::from_millis)
    }
    fn from_default(default: DefaultValue) -> Option<Self> {
        match default {
            DefaultValue::Number(n) => Some(Duration::from_millis(n)),
            _ => None,
        }
    }
    fn check(&self, setting: &Setting, source: &str) -> Result<(), Error> {
        check_number(
            u64::try_from(self.as_millis()).unwrap_or(u64::MAX),
            setting,
            source,
        )
    }
    fn shown(&self) -> Value {
        Value::from(self.as_millis() as u64)
    }
}

impl SettingValue for RetryMode {
    fn from_json(value: &Value, setting: &Setting) -> Result<Self, Error> {
        let text = value
            .as_str()
            .ok_or_else(|| expected(setting, "a string"))?;
        Self::from_text(text, setting, &setting.config_source())
    }
    /// `legacy` is accepted as the standard mode: the SDKs' legacy mode differs only in
    /// constants, and users who set it for another SDK should not see this one fail.
    fn from_text(text: &str, _setting: &Setting, source: &str) -> Result<Self, Error> {
        match text.trim().to_ascii_lowercase().as_str() {
            "standard" | "legacy" => Ok(RetryMode::Standard),
            "adaptive" => Ok(RetryMode::Adaptive),
            _ => Err(Error::InvalidConfig(format!(
                "{source}: {text:?} is not a retry mode (standard, adaptive or legacy)"
            ))),
        }
    }
    fn from_default(default: DefaultValue) -> Option<Self> {
        match default {
            DefaultValue::Word(w) => RetryMode::from_text(w, setting("retry_mode"), "default").ok(),
            _ => None,
        }
    }
    fn shown(&self) -> Value {
        Value::from(match self {
            RetryMode::Standard => "standard",
            RetryMode::Adaptive => "adaptive",
        })
    }
}

/// A config JSON member: `None` when absent or null.
pub(crate) fn from_json_member<T: SettingValue>(
    map: &Map<String, Value>,
    setting: &Setting,
) -> Result<Option<T>, Error> {
    match setting.key.and_then(|k| map.get(k)) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => T::from_json(v, setting).map(Some),
    }
}

/// Where the lookup reads: the environment and the selected profile.
pub(crate) struct Lookup<'a> {
    pub env: &'a Env<'a>,
    pub profile: &'a Section,
    pub profile_name: &'a str,
}

impl Lookup<'_> {
    /// `profile "dev" key "region"`.
    pub(crate) fn in_profile(&self, key: &str) -> String {
        format!("profile \"{}\" key \"{key}\"", self.profile_name)
    }

    /// The value of an ordinary setting and where it came from: `explicit` (the config),
    /// else the first of its environment variables that is set, else its profile key, else
    /// its default (source `default`); `None` when none of them gives one. A value that does
    /// not parse or is out of bounds is `INVALID_CONFIG` naming where it came from.
    pub(crate) fn get<T: SettingValue + Clone>(
        &self,
        setting: &Setting,
        explicit: Option<&T>,
    ) -> Result<Option<(T, String)>, Error> {
        if let Some(v) = explicit {
            let source = setting.config_source();
            v.check(setting, &source)?;
            return Ok(Some((v.clone(), source)));
        }
        for var in setting.env {
            if let Some(text) = self.env.var(var) {
                return T::from_text(&text, setting, var).map(|v| Some((v, (*var).to_owned())));
            }
        }
        if let Some(key) = setting.profile {
            if let Some(text) = self.profile.get(key) {
                let source = self.in_profile(key);
                return T::from_text(text, setting, &source).map(|v| Some((v, source)));
            }
        }
        Ok(T::from_default(setting.default).map(|v| (v, "default".to_owned())))
    }
}

/// Declares the settings: `config { field: Type = "key" { ... } ... }` for those the config
/// JSON can set (each a `ClientConfig` field `Option<Type>`), then `environment { "name" {
/// ... } ... }` for those only the environment sets. Generates `SETTINGS` (config settings
/// first, in declaration order), `ClientConfig` with its redacting `Debug`, and
/// `ClientConfig::members_from_json`.
macro_rules! settings {
    (
        config {
            $(
                $(#[doc = $field_doc:literal])*
                $field:ident: $ty:ty = $key:literal {
                    env: [$($env:literal),* $(,)?],
                    profile: $profile:expr,
                    kind: $kind:expr,
                    default: $default:expr,
                    secret: $secret:literal,
                    doc: $doc:literal $(,)?
                }
            )*
        }
        environment {
            $(
                $name:literal {
                    env: [$($only_env:literal),* $(,)?],
                    kind: $only_kind:expr,
                    default: $only_default:expr,
                    doc: $only_doc:literal $(,)?
                }
            )*
        }
    ) => {
        /// Every setting, in the order the docs list them.
        pub const SETTINGS: &[Setting] = &[
            $(Setting {
                key: Some($key),
                name: $key,
                env: &[$($env),*],
                profile: $profile,
                kind: $kind,
                default: $default,
                secret: $secret,
                doc: $doc,
            },)*
            $(Setting {
                key: None,
                name: $name,
                env: &[$($only_env),*],
                profile: None,
                kind: $only_kind,
                default: $only_default,
                secret: false,
                doc: $only_doc,
            },)*
        ];

        /// What the caller configures; anything left `None` comes from the environment, the
        /// shared profile or a default (docs/configuration.md).
        ///
        /// `Debug` never shows a secret (the secret key, the session token, the proxy URL).
        #[derive(Clone, Default, PartialEq, Eq)]
        pub struct ClientConfig {
            $(
                $(#[doc = $field_doc])*
                pub $field: Option<$ty>,
            )*
        }

        impl fmt::Debug for ClientConfig {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct("ClientConfig");
                $(
                    if $secret {
                        d.field(stringify!($field), &self.$field.as_ref().map(|_| crate::redact::REDACTED));
                    } else {
                        d.field(stringify!($field), &self.$field);
                    }
                )*
                d.finish()
            }
        }

        impl ClientConfig {
            /// Every member of a config JSON object whose keys are known.
            fn members_from_json(map: &Map<String, Value>) -> Result<ClientConfig, Error> {
                Ok(ClientConfig {
                    $($field: from_json_member(map, setting($key))?,)*
                })
            }
        }
    };
}
pub(crate) use settings;

/// The setting named `name` (a config key or an environment-only setting's name).
pub(crate) fn setting(name: &str) -> &'static Setting {
    crate::config::SETTINGS
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("setting {name} is not in SETTINGS"))
}
