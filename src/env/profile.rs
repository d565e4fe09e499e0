//! The shared config and credentials files (`~/.aws/config`, `~/.aws/credentials`).
//!
//! Hand-written rather than an INI crate: these files are INI with AWS rules no general
//! INI reader has — `[profile x]` in one file but `[x]` in the other, `[sso-session x]` and
//! `[services x]` sections, indented sub-properties (`connect =` then `  endpoint_url = ...`),
//! comments only when preceded by whitespace inside values — and errors must name the file
//! and line. The grammar is the one botocore and aws-sdk-rust read.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Which of the two files some text came from; they name profiles differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `~/.aws/config`: `[default]`, `[profile NAME]`, `[sso-session NAME]`, `[services NAME]`.
    Config,
    /// `~/.aws/credentials`: `[NAME]`.
    Credentials,
}

/// One property: a value, or (when the value is empty) indented sub-properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Property {
    pub value: String,
    pub sub: BTreeMap<String, String>,
}

impl Property {
    /// True for a property that holds (or may still receive) sub-properties: its value was
    /// empty on the line that named it.
    pub fn is_block(&self) -> bool {
        self.value.is_empty() || self.value.starts_with('\n')
    }
}

/// The properties of one section. `Debug` shows keys only: values can be secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// Property name (lower-cased) to value or sub-property block.
    pub properties: BTreeMap<String, Property>,
}

impl Section {
    /// A property's value; empty values count as unset, as in the SDKs.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties
            .get(key)
            .filter(|p| !p.is_block())
            .map(|p| p.value.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A property as written, block or value.
    pub fn property(&self, key: &str) -> Option<&Property> {
        self.properties.get(key)
    }
}

impl std::fmt::Debug for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.properties.keys()).finish()
    }
}

/// Every profile, sso-session and services section of both files, merged.
#[derive(Clone, Debug, Default)]
pub struct ProfileSet {
    profiles: BTreeMap<String, Section>,
    sso_sessions: BTreeMap<String, Section>,
    services: BTreeMap<String, Section>,
    /// The files read (existing or not), for messages.
    files: Vec<PathBuf>,
}

impl ProfileSet {
    /// Reads both files. A missing file is an empty one; an unreadable or malformed one is
    /// [`Error::InvalidConfig`] naming the file (and line).
    pub fn load(config: Option<&Path>, credentials: Option<&Path>) -> Result<Self, Error> {
        let mut set = ProfileSet::default();
        // The credentials file is read last: its keys win over the config file's.
        for (path, kind) in [
            (config, FileKind::Config),
            (credentials, FileKind::Credentials),
        ] {
            let Some(path) = path else { continue };
            set.files.push(path.to_owned());
            let text = match std::fs::read(path) {
                Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
                    Error::InvalidConfig(format!("{}: not UTF-8 text", path.display()))
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(Error::InvalidConfig(format!(
                        "{}: cannot be read: {e}",
                        path.display()
                    )))
                }
            };
            set.add(&text, &path.display().to_string(), kind)?;
        }
        Ok(set)
    }

    /// Adds the sections of one file's text; `name` is used in error messages.
    ///
    /// Read as the SDKs read it: a section or property whose name is not a valid identifier
    /// (`[profile in valid]`, `in valid = x`) is skipped with a warning in the log, not an
    /// error; property names are lower-cased; in the config file `[profile default]` wins
    /// over `[default]`, whose keys are then ignored.
    pub fn add(&mut self, text: &str, name: &str, kind: FileKind) -> Result<(), Error> {
        let sections = parse(text, name)?;
        let has_profile_default = kind == FileKind::Config
            && sections
                .iter()
                .any(|(h, _)| section_kind(h, kind) == Some((Kind::Profile, "default", true)));
        for (header, section) in sections {
            let Some((what, key, prefixed)) = section_kind(&header, kind) else {
                // Like botocore and aws-sdk-rust: other headers in the config file
                // (`[foo]` without `profile`) are not profiles.
                continue;
            };
            if !valid_identifier(key) {
                warn(format_args!(
                    "{name}: section [{header}] ignored: \"{key}\" is not a valid name \
                     (letters, digits and - / . % @ _ : + only)"
                ));
                continue;
            }
            if what == Kind::Profile && key == "default" && has_profile_default && !prefixed {
                warn(format_args!(
                    "{name}: [default] ignored because [profile default] is present"
                ));
                continue;
            }
            let map = match what {
                Kind::Profile => &mut self.profiles,
                Kind::SsoSession => &mut self.sso_sessions,
                Kind::Services => &mut self.services,
            };
            let entry = map.entry(key.to_owned()).or_default();
            for (property, value) in section.properties {
                if property.contains(char::is_whitespace) {
                    warn(format_args!(
                        "{name}: [{header}] property \"{property}\" ignored: names cannot contain spaces"
                    ));
                    continue;
                }
                entry.properties.insert(property, value);
            }
        }
        Ok(())
    }

    /// The names of all profiles, in order.
    pub fn profile_names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    /// The names of all `[sso-session]` sections, in order.
    pub fn sso_session_names(&self) -> impl Iterator<Item = &str> {
        self.sso_sessions.keys().map(String::as_str)
    }

    /// The profile of that name, merged from both files.
    pub fn profile(&self, name: &str) -> Option<&Section> {
        self.profiles.get(name)
    }

    /// The `[sso-session NAME]` section.
    pub fn sso_session(&self, name: &str) -> Option<&Section> {
        self.sso_sessions.get(name)
    }

    /// The `[services NAME]` section.
    pub fn services(&self, name: &str) -> Option<&Section> {
        self.services.get(name)
    }

    /// "~/.aws/config and ~/.aws/credentials", for messages.
    pub fn describe_files(&self) -> String {
        if self.files.is_empty() {
            return "no profile files (HOME is not set)".into();
        }
        self.files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Profile,
    SsoSession,
    Services,
}

/// What a section header names in a file of `kind`: (kind, name, whether the config file
/// used the `profile` prefix). `None` for headers the SDKs ignore.
fn section_kind(header: &str, kind: FileKind) -> Option<(Kind, &str, bool)> {
    let split = header
        .split_once(char::is_whitespace)
        .map(|(a, b)| (a, b.trim()));
    match (kind, split) {
        (FileKind::Config, Some(("profile", n))) => Some((Kind::Profile, n, true)),
        (FileKind::Config, Some(("sso-session", n))) => Some((Kind::SsoSession, n, false)),
        (FileKind::Config, Some(("services", n))) => Some((Kind::Services, n, false)),
        (FileKind::Config, None) if header == "default" => Some((Kind::Profile, "default", false)),
        (FileKind::Config, _) => None,
        (FileKind::Credentials, _) => Some((Kind::Profile, header, false)),
    }
}

/// Profile and section names the SDKs accept: ASCII letters, digits and `- / . % @ _ : +`.
fn valid_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-/.%@:+".contains(c))
}

fn warn(message: std::fmt::Arguments<'_>) {
    crate::log::emit(crate::log::LogLevel::Warn, message);
}

/// Parses one file into (header, section) pairs in order. Errors name `file:line`.
///
/// Property names are lower-cased. A property whose value is empty and is followed by
/// indented `key = value` lines holds them as sub-properties; its `value` is then the raw
/// block (`"\nkey = value..."`, as the other SDKs keep it), which [`Section::get`] treats
/// as unset.
pub fn parse(text: &str, file: &str) -> Result<Vec<(String, Section)>, Error> {
    let mut sections: Vec<(String, Section)> = Vec::new();
    // The property a continuation line belongs to.
    let mut last_property: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let bad = |why: &str| Error::InvalidConfig(format!("{file}:{line_no}: {why}"));
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if indented && !trimmed.starts_with('[') {
            let Some((_, section)) = sections.last_mut() else {
                return Err(bad("indented line outside any section"));
            };
            let Some(key) = &last_property else {
                return Err(bad("indented line without a property above it"));
            };
            let property = section
                .properties
                .get_mut(key)
                .expect("last property exists");
            if property.is_block() {
                let (k, v) = match split_property(trimmed) {
                    Split::Property(k, v) => (k, v),
                    Split::NoEquals => {
                        return Err(bad("expected \"key = value\" in a sub-section"))
                    }
                    Split::NoName => return Err(bad("a sub-property needs a name before '='")),
                };
                property.value.push('\n');
                property.value.push_str(trimmed);
                // Kept as written, even with a space in its name: botocore's parsed map and
                // the cross-SDK suite keep it (a top-level property with one is skipped).
                property.sub.insert(k, v);
            } else {
                // A continuation of a value, joined as botocore does.
                property.value.push('\n');
                property.value.push_str(trimmed);
            }
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                return Err(bad("section header without a closing ']'"));
            };
            let after = rest[end + 1..].trim();
            if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
                return Err(bad("unexpected text after a section header"));
            }
            let header: Vec<&str> = rest[..end].split_whitespace().collect();
            if header.is_empty() {
                return Err(bad("empty section name"));
            }
            sections.push((header.join(" "), Section::default()));
            last_property = None;
            continue;
        }
        let Some((_, section)) = sections.last_mut() else {
            return Err(bad("property before the first [section]"));
        };
        let (key, value) = match split_property(trimmed) {
            Split::Property(k, v) => (k, v),
            Split::NoEquals => {
                return Err(bad("expected \"key = value\", a [section] or a comment"))
            }
            Split::NoName => return Err(bad("a property needs a name before '='")),
        };
        let key = key.to_lowercase();
        section.properties.insert(
            key.clone(),
            Property {
                value,
                sub: BTreeMap::new(),
            },
        );
        last_property = Some(key);
    }
    Ok(sections)
}

/// A `key = value` line, split.
enum Split {
    Property(String, String),
    /// No `=` on the line.
    NoEquals,
    /// Nothing before the `=`.
    NoName,
}

/// `key = value # comment` → (key, value). A comment in a value needs whitespace before it,
/// so `#` and `;` inside secrets and URLs survive. The key may contain spaces (the caller
/// decides what such a name means, as the SDKs do).
fn split_property(line: &str) -> Split {
    let Some((key, value)) = line.split_once('=') else {
        return Split::NoEquals;
    };
    let key = key.trim();
    if key.is_empty() {
        return Split::NoName;
    }
    let mut value = value;
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if (bytes[i] == b'#' || bytes[i] == b';') && bytes[i - 1].is_ascii_whitespace() {
            value = &value[..i];
            break;
        }
    }
    Split::Property(key.to_owned(), value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(config: &str, credentials: &str) -> ProfileSet {
        let mut s = ProfileSet::default();
        s.add(config, "config", FileKind::Config).unwrap();
        s.add(credentials, "credentials", FileKind::Credentials)
            .unwrap();
        s
    }

    #[test]
    fn profiles_sessions_services_and_comments() {
        let s = set(
            "# comment\n; another\n[default]\nregion = us-west-2 # trailing\n\
             [profile dev]\nregion=eu-west-1\nsso_session = corp\nservices = local\n\
             [sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://x/start#frag\n\
             [services local]\nconnect =\n  endpoint_url = http://127.0.0.1:9\n  other = x\n\
             [stray]\nregion = nowhere\n",
            "[dev]\naws_access_key_id = AKID\naws_secret_access_key = se#cret;x\n[profile odd]\nk = v\n",
        );
        assert_eq!(
            s.profile("default").unwrap().get("region"),
            Some("us-west-2")
        );
        let dev = s.profile("dev").unwrap();
        assert_eq!(dev.get("region"), Some("eu-west-1"));
        assert_eq!(dev.get("aws_secret_access_key"), Some("se#cret;x"));
        assert_eq!(
            s.sso_session("corp").unwrap().get("sso_start_url"),
            Some("https://x/start#frag")
        );
        let connect = s.services("local").unwrap().property("connect").unwrap();
        assert_eq!(
            connect.sub.get("endpoint_url").map(String::as_str),
            Some("http://127.0.0.1:9")
        );
        assert!(
            s.profile("stray").is_none(),
            "[stray] in config is no profile"
        );
        assert!(
            s.profile("profile odd").is_none(),
            "a name with a space is no profile in the credentials file"
        );
        assert!(!format!("{dev:?}").contains("se#cret"));
    }

    #[test]
    fn credentials_file_wins_and_values_continue() {
        let s = set(
            "[profile a]\nregion = r1\naws_access_key_id = FROMCONFIG\nnote = one\n  two\n",
            "[a]\naws_access_key_id = FROMCREDS\n",
        );
        let a = s.profile("a").unwrap();
        assert_eq!(a.get("aws_access_key_id"), Some("FROMCREDS"));
        assert_eq!(a.get("region"), Some("r1"));
        assert_eq!(a.get("note"), Some("one\ntwo"));
        assert_eq!(Section::default().get("x"), None);
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        for (text, line, why) in [
            ("region = x\n", 1, "before the first"),
            ("[default]\nregion = x\nnonsense\n", 3, "expected"),
            ("[default\n", 1, "closing"),
            ("[]\n", 1, "empty section"),
            ("\n\n  indented = x\n", 3, "outside any section"),
            ("[default]\n  x = y\n", 2, "without a property"),
            ("[default]\nk =\n  no equals here\n", 3, "sub-section"),
            ("[default]\nk =\n  = v\n", 3, "a sub-property needs a name"),
            ("[default] junk\n", 1, "after a section header"),
            ("[default]\n= v\n", 2, "a property needs a name"),
        ] {
            let err = parse(text, "/tmp/cfg").unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("/tmp/cfg:{line}: ")),
                "{text:?}: {err}"
            );
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn names_are_read_as_the_sdks_read_them() {
        let s = set(
            "[profile foo]\nRegion = eu-west-1\nin valid = x\nok = 1\n\
             [profile in valid]\nregion = nowhere\n[profile bad!name]\nk = v\n\
             [services local]\nconnect =\n  in valid = x\n  Endpoint_URL = http://127.0.0.1:1\n",
            "[in valid 2]\nk = v\n",
        );
        let foo = s.profile("foo").unwrap();
        assert_eq!(foo.get("region"), Some("eu-west-1"), "lower-cased");
        assert_eq!(
            foo.get("ok"),
            Some("1"),
            "the line after a bad one still counts"
        );
        assert_eq!(format!("{foo:?}"), r#"{"ok", "region"}"#);
        assert_eq!(s.profile_names().collect::<Vec<_>>(), ["foo"]);
        let connect = s.services("local").unwrap().property("connect").unwrap();
        assert_eq!(
            connect.sub.keys().collect::<Vec<_>>(),
            ["Endpoint_URL", "in valid"],
            "a sub-property with a space is kept, as botocore keeps it"
        );
        assert_eq!(
            connect.value,
            "\nin valid = x\nEndpoint_URL = http://127.0.0.1:1"
        );
        assert_eq!(s.services("local").unwrap().get("connect"), None);
    }

    #[test]
    fn profile_default_wins_over_default_in_the_config_file() {
        for config in [
            "[default]\nregion = r1\nonly_plain = x\n[profile default]\nregion = r2\n",
            "[profile default]\nregion = r2\n[default]\nregion = r1\nonly_plain = x\n",
        ] {
            let s = set(config, "[default]\nsecret = s\n");
            let d = s.profile("default").unwrap();
            assert_eq!(d.get("region"), Some("r2"), "{config}");
            assert_eq!(d.get("only_plain"), None, "{config}");
            assert_eq!(d.get("secret"), Some("s"), "credentials still merge");
        }
        let s = set("[default]\nregion = r1\n", "");
        assert_eq!(s.profile("default").unwrap().get("region"), Some("r1"));
    }

    #[test]
    fn load_reads_files_and_tolerates_missing_ones() {
        let dir = std::env::temp_dir().join(format!("cc-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config");
        std::fs::write(&config, "[default]\nregion = ap-south-1\n").unwrap();
        let s = ProfileSet::load(Some(&config), Some(&dir.join("missing"))).unwrap();
        assert_eq!(
            s.profile("default").unwrap().get("region"),
            Some("ap-south-1")
        );
        assert!(s.describe_files().contains("missing"));
        std::fs::write(&config, "[default]\n???\n").unwrap();
        let err = ProfileSet::load(Some(&config), None).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("{}:2:", config.display())),
            "{err}"
        );
        let err = ProfileSet::load(Some(&dir), None).unwrap_err();
        assert!(err.to_string().contains("cannot be read"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
