//! `connect-contact update-contact`: the AWS CLI's options, values, `--cli-input-json`,
//! `--generate-cli-skeleton`, output, error wording and exit codes for UpdateContact.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use connect_contact::{Client, Error, UpdateContactRequest};
use serde_json::{Map, Value};

use crate::generated::{self, Member, MEMBERS};
use crate::global::Global;
use crate::{Failure, EXIT_CONFIG, EXIT_OTHER, EXIT_PARAMETERS, EXIT_SERVICE};

const CLI_INPUT_JSON: &str = "cli-input-json";
const GENERATE_SKELETON: &str = "generate-cli-skeleton";

/// The parsed options: each member's raw value as typed, in the model's order.
#[derive(Debug, Default)]
pub struct UpdateContactArgs {
    values: Vec<(&'static Member, String)>,
    cli_input_json: Option<String>,
    skeleton: bool,
}

impl FromArgMatches for UpdateContactArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(UpdateContactArgs {
            values: MEMBERS
                .iter()
                .filter_map(|m| {
                    let v = matches.get_one::<String>(m.option).cloned();
                    v.map(|v| (m, v))
                })
                .collect(),
            cli_input_json: matches.get_one::<String>(CLI_INPUT_JSON).cloned(),
            skeleton: matches.get_one::<String>(GENERATE_SKELETON).is_some(),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for UpdateContactArgs {
    fn augment_args(cmd: Command) -> Command {
        let members = MEMBERS.iter().map(|m| {
            let help = if m.takes_json() {
                format!(
                    "{} ({}, as JSON; file://PATH reads it from a file){}",
                    m.name,
                    m.kind,
                    if m.required { "; required" } else { "" }
                )
            } else {
                format!(
                    "{} ({}; file://PATH reads it from a file){}",
                    m.name,
                    m.kind,
                    if m.required { "; required" } else { "" }
                )
            };
            // Required is checked after --cli-input-json is merged, as the AWS CLI does.
            Arg::new(m.option)
                .long(m.option)
                .value_name(if m.takes_json() { "JSON" } else { "VALUE" })
                .allow_hyphen_values(true)
                .action(ArgAction::Set)
                .help(help)
        });
        cmd.args(members)
            .arg(
                Arg::new(CLI_INPUT_JSON)
                    .long(CLI_INPUT_JSON)
                    .value_name("JSON")
                    .help("the whole request as JSON with the API's member names (or file://PATH); options given on the command line win"),
            )
            .arg(
                Arg::new(GENERATE_SKELETON)
                    .long(GENERATE_SKELETON)
                    .num_args(0..=1)
                    .default_missing_value("input")
                    .value_parser(["input"])
                    .help("print a JSON skeleton of the request for --cli-input-json and exit"),
            )
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl Member {
    /// Scalars are taken as typed; structures, maps and lists as JSON.
    fn takes_json(&self) -> bool {
        matches!(self.kind, "structure" | "map" | "list")
    }
}

/// `file://PATH` values are read from the file, as the AWS CLI does for every parameter.
fn load(option: &str, value: &str) -> Result<String, Failure> {
    match value.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Failure::new(
                EXIT_PARAMETERS,
                format!(
                    "\nError parsing parameter '{option}': Unable to load paramfile {value}: {e}"
                ),
            )
        }),
        None => Ok(value.to_string()),
    }
}

fn parse_json(option: &str, text: &str) -> Result<Value, Failure> {
    if !text.trim_start().starts_with(['{', '[']) {
        return Err(Failure::new(
            EXIT_PARAMETERS,
            format!("\nError parsing parameter '{option}': Invalid JSON:\n{text}"),
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        Failure::new(
            EXIT_PARAMETERS,
            format!(
                "\nError parsing parameter '{option}': Invalid JSON: {e}\nJSON received: {text}"
            ),
        )
    })
}

/// The request document: `--cli-input-json` first, then each option given (options win).
fn request_document(args: &UpdateContactArgs) -> Result<Map<String, Value>, Failure> {
    let mut document = Map::new();
    if let Some(input) = &args.cli_input_json {
        let text = load(CLI_INPUT_JSON, input)?;
        match parse_json(CLI_INPUT_JSON, &text)? {
            Value::Object(m) => document = m,
            _ => {
                return Err(Failure::new(
                    EXIT_PARAMETERS,
                    format!("\nError parsing parameter '{CLI_INPUT_JSON}': Invalid type for cli-input-json, must be a JSON object"),
                ))
            }
        }
    } else {
        let missing: Vec<String> = MEMBERS
            .iter()
            .filter(|m| m.required && !args.values.iter().any(|(g, _)| g.name == m.name))
            .map(|m| format!("--{}", m.option))
            .collect();
        if !missing.is_empty() {
            return Err(Failure::usage(format!(
                "the following arguments are required: {}",
                missing.join(", ")
            )));
        }
    }
    for (member, raw) in &args.values {
        let option = format!("--{}", member.option);
        let text = load(&option, raw)?;
        let value = if member.takes_json() {
            parse_json(&option, &text)?
        } else {
            match member.kind {
                "integer" | "long" => text.trim().parse::<i64>().map(Value::from).map_err(|_| {
                    Failure::new(EXIT_PARAMETERS, format!("\nError parsing parameter '{option}': expected an integer, received: {text}"))
                })?,
                "boolean" => Value::Bool(text.eq_ignore_ascii_case("true")),
                _ => Value::String(text),
            }
        };
        document.insert(member.name.to_string(), value);
    }
    Ok(document)
}

/// botocore's ClientError sentence, with `(reached max retries: N)` whenever the call used
/// its last attempt (botocore's standard retry mode, which the library follows, marks every
/// failure at the limit; the AWS CLI v1's default legacy mode only retryable ones).
pub fn client_error(error: &Error) -> String {
    let retries = match error.metadata() {
        Some(m) if m.max_attempts_reached => {
            format!(" (reached max retries: {})", m.retry_attempts)
        }
        _ => String::new(),
    };
    format!(
        "\nAn error occurred ({}) when calling the {} operation{retries}: {}",
        error.code(),
        generated::OPERATION,
        error.message()
    )
}

/// The AWS CLI's message and exit code for a failed call.
pub fn failure_of(error: &Error) -> Failure {
    let url = error
        .metadata()
        .and_then(|m| m.url())
        .unwrap_or_default()
        .to_string();
    match error {
        Error::InvalidJson(m) => Failure::new(
            EXIT_PARAMETERS,
            format!("\nError parsing parameter '{CLI_INPUT_JSON}': Invalid JSON: {m}"),
        ),
        Error::Validation(m) => {
            Failure::new(EXIT_PARAMETERS, format!("\nParameter validation failed:\n{m}"))
        }
        Error::NoRegion(_) => Failure::new(
            EXIT_CONFIG,
            "You must specify a region. You can also configure your region by running \"aws configure\".".into(),
        ),
        Error::NoCredentials(_) => Failure::new(
            EXIT_CONFIG,
            "\nUnable to locate credentials. You can configure credentials by running \"aws configure\".".into(),
        ),
        Error::InvalidConfig(m) | Error::CredentialsProvider(m) => {
            Failure::new(EXIT_CONFIG, format!("\n{m}"))
        }
        Error::Service(_) => Failure::new(EXIT_SERVICE, client_error(error)),
        _ => match error.transport_kind() {
            Some("ConnectTimeout") => Failure::new(
                EXIT_OTHER,
                format!("\nConnect timeout on endpoint URL: \"{url}\""),
            ),
            Some("ReadTimeout") => Failure::new(
                EXIT_OTHER,
                format!("\nRead timeout on endpoint URL: \"{url}\""),
            ),
            Some("EndpointConnection") => Failure::new(
                EXIT_OTHER,
                format!("\nCould not connect to the endpoint URL: \"{url}\""),
            ),
            _ => Failure::new(EXIT_OTHER, format!("\n{}", error.sentence())),
        },
    }
}

/// Runs the command: prints the skeleton, or sends the request (nothing on stdout on success:
/// UpdateContact's output has no members, and the AWS CLI prints nothing for `{}`).
pub fn run(global: &Global, args: &UpdateContactArgs) -> Result<(), Failure> {
    if args.skeleton {
        print!("{}", generated::INPUT_SKELETON);
        return Ok(());
    }
    let document = request_document(args)?;
    let request =
        UpdateContactRequest::from_value(&Value::Object(document)).map_err(|e| failure_of(&e))?;
    let client = Client::new(&global.client_config()).map_err(|e| failure_of(&e))?;
    let output = client
        .update_contact(&request)
        .map_err(|e| failure_of(&e))?;
    if global.debug {
        eprintln!("connect-contact: {}", output.to_document());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `update-contact` options of the real command line: one per generated member, in
    /// the model's order, and nothing else beyond the two request-wide ones.
    #[test]
    fn the_options_are_exactly_the_generated_members() {
        let cli = <crate::Cli as clap::CommandFactory>::command();
        let update = cli
            .find_subcommand("update-contact")
            .expect("update-contact is a command");
        let options: Vec<&str> = update
            .get_arguments()
            .filter(|a| !a.is_global_set())
            .filter_map(|a| a.get_long())
            .collect();
        let mut expected: Vec<&str> = MEMBERS.iter().map(|m| m.option).collect();
        expected.extend([CLI_INPUT_JSON, GENERATE_SKELETON]);
        assert_eq!(options, expected);
        // Every option is an argument of its own, with the member's kind in its help.
        for m in MEMBERS {
            let arg = update
                .get_arguments()
                .find(|a| a.get_id() == m.option)
                .unwrap();
            let help = arg.get_help().unwrap().to_string();
            assert!(
                help.starts_with(&format!("{} ({}", m.name, m.kind)),
                "{help}"
            );
            assert_eq!(help.ends_with("; required"), m.required, "{help}");
        }
    }

    #[test]
    fn members_are_the_models() {
        let names: Vec<&str> = MEMBERS.iter().map(|m| m.name).collect();
        assert_eq!(&names[..3], ["InstanceId", "ContactId", "Name"]);
        let required: Vec<&str> = MEMBERS
            .iter()
            .filter(|m| m.required)
            .map(|m| m.option)
            .collect();
        assert_eq!(required, ["instance-id", "contact-id"]);
        let references = MEMBERS.iter().find(|m| m.name == "References").unwrap();
        assert!(references.takes_json());
        assert!(!MEMBERS[2].takes_json());
        assert!(generated::INPUT_SKELETON.contains("\"SegmentAttributes\": {"));
    }
}
