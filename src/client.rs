//! The client: validates, signs, sends and retries one UpdateContact at a time per call,
//! safely shared by any number of threads.
#![forbid(unsafe_code)]

use std::time::{Instant, SystemTime};

use crate::config::{ClientConfig, Settings};
use crate::error::{Error, ResponseMetadata, ServiceError};
use crate::model::UpdateContactRequest;
use crate::protocol::{parse_error, update_contact_path};
use crate::response::UpdateContactOutput;
use crate::retry::{backoff, is_retryable, random_unit};
use crate::signing::Signer;
use crate::transport::Transport;
use crate::validate::validate;

/// An Amazon Connect client for UpdateContact. Cheap to share: `&Client` is `Sync`, and
/// connections are pooled across threads.
#[derive(Debug)]
pub struct Client {
    settings: Settings,
    signer: Signer,
    transport: Transport,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transport")
    }
}

impl Client {
    /// Builds a client, resolving anything `config` leaves out from the environment.
    pub fn new(config: &ClientConfig) -> Result<Client, Error> {
        Ok(Client::with_settings(config.resolve()?))
    }

    /// Builds a client from the config JSON (see [`ClientConfig::from_json`]).
    pub fn from_json(config_json: &str) -> Result<Client, Error> {
        Client::new(&ClientConfig::from_json(config_json)?)
    }

    /// Builds a client from fully resolved settings.
    pub fn with_settings(settings: Settings) -> Client {
        Client {
            signer: Signer::new(&settings.region),
            transport: Transport::new(&settings),
            settings,
        }
    }

    /// The settings this client uses (credentials redacted in `Debug`).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Adds or updates the contact's information. Validates first (nothing is sent when the
    /// request breaks a rule), then sends, retrying throttling and transient failures up to
    /// `max_attempts` within the call's deadline.
    pub fn update_contact(
        &self,
        request: &UpdateContactRequest,
    ) -> Result<UpdateContactOutput, Error> {
        validate(request, self.settings.client_validation)?;
        let path = update_contact_path(
            &self.settings.endpoint.base_path,
            &request.instance_id,
            &request.contact_id,
        );
        let url = self.settings.endpoint.url_for(&path);
        let body = request.to_body();
        let deadline = Instant::now() + self.settings.timeout;
        let mut attempt = 1;
        loop {
            let mut result = self.attempt(&url, &body, deadline);
            let retry_attempts = attempt - 1;
            match &mut result {
                Ok(output) => output.metadata.retry_attempts = retry_attempts,
                Err(e) => {
                    if let Some(m) = e.metadata_mut() {
                        m.retry_attempts = retry_attempts;
                    }
                }
            }
            let error = match result {
                Ok(output) => return Ok(output),
                Err(e) if attempt >= self.settings.max_attempts || !is_retryable(&e) => {
                    return Err(e)
                }
                Err(e) => e,
            };
            let delay = backoff(attempt, random_unit());
            if Instant::now() + delay >= deadline {
                return Err(error);
            }
            std::thread::sleep(delay);
            attempt += 1;
        }
    }

    fn attempt(
        &self,
        url: &str,
        body: &[u8],
        deadline: Instant,
    ) -> Result<UpdateContactOutput, Error> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::Timeout {
                message: format!(
                    "call deadline of {} ms passed",
                    self.settings.timeout.as_millis()
                ),
                metadata: ResponseMetadata::default(),
            });
        }
        const CONTENT_TYPE: (&str, &str) = ("content-type", "application/json");
        let credentials = self.settings.credentials.provide()?;
        let signed = self.signer.sign(
            &credentials,
            "POST",
            url,
            &[CONTENT_TYPE],
            body,
            SystemTime::now(),
        )?;
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(signed.len() + 1);
        headers.push(CONTENT_TYPE);
        headers.extend(signed.iter().map(|(k, v)| (*k, v.as_str())));
        let response = self.transport.post(url, &headers, body, remaining)?;
        if (200..300).contains(&response.status) {
            return Ok(UpdateContactOutput {
                metadata: response.metadata(),
            });
        }
        let document = parse_error(
            response.status,
            response.error_type.as_deref(),
            &response.body,
        );
        Err(Error::Service(ServiceError {
            code: document.code,
            message: document.message,
            metadata: response.metadata(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Client>();
    }
}
