//! `connect-contact update-contact`: the AWS CLI's options, values, `--cli-input-json`,
//! `--generate-cli-skeleton`, output, error wording and exit codes for UpdateContact.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use connect_contact::{Client, Error, UpdateContactRequest};
use serde_json::{Map, Value};

use crate::global::Global;
use crate::model::{self, Member};
use crate::{Failure, EXIT_CONFIG, EXIT_OTHER, EXIT_PARAMETERS, EXIT_SERVICE};

const CLI_INPUT_JSON: &str = "cli-input-json";
const GENERATE_SKELETON: &str = "generate-cli-skeleton";

/// The parsed options: each member's raw value as typed, in the model's order.
#[derive(Debug, Default)]
pub struct UpdateContactArgs {
    values: Vec<(Member, String)>,
    cli_input_json: Option<String>,
    skeleton: bool,
}

impl FromArgMatches for UpdateContactArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(UpdateContactArgs {
            values: model::members()
                .into_iter()
                .filter_map(|m| {
                    let v = matches.get_one::<String>(&m.option).cloned();
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
        let members = model::members().into_iter().map(|m| {
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
            Arg::new(m.option.clone())
                .long(m.option.clone())
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
        let missing: Vec<String> = model::members()
            .into_iter()
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
            match member.kind.as_str() {
                "integer" | "long" => text.trim().parse::<i64>().map(Value::from).map_err(|_| {
                    Failure::new(EXIT_PARAMETERS, format!("\nError parsing parameter '{option}': expected an integer, received: {text}"))
                })?,
                "boolean" => Value::Bool(text.eq_ignore_ascii_case("true")),
                _ => Value::String(text),
            }
        };
        document.insert(member.name.clone(), value);
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
        model::OPERATION,
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
        print!("{}", model::input_skeleton());
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
