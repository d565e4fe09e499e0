//! SigV4 with aws-sigv4: service `connect` for the client, `sts` for AssumeRole.
#![forbid(unsafe_code)]

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

use crate::error::Error;
use crate::protocol::identity::Credentials;

/// The signing name of Amazon Connect.
pub const SERVICE: &str = "connect";

/// Signs requests for one region and service; built once per client.
pub struct Signer {
    region: String,
    service: &'static str,
    /// The derived signing key of the last (day, secret): aws-sigv4 derives it again (four
    /// HMACs, most of a signature's cost) on every call.
    key: Mutex<Option<CachedKey>>,
    /// How many times a key was derived (tests check the cache's promise: once per day and
    /// secret).
    #[cfg(test)]
    derivations: std::sync::atomic::AtomicUsize,
}

struct CachedKey {
    day: u64,
    secret: String,
    key: ring::hmac::Key,
}

impl Signer {
    /// A signer for Amazon Connect.
    pub fn new(region: &str) -> Self {
        Signer::for_service(region, SERVICE)
    }

    /// A signer for another service's signing name (`sts`).
    pub fn for_service(region: &str, service: &'static str) -> Self {
        Signer {
            region: region.to_owned(),
            service,
            key: Mutex::new(None),
            #[cfg(test)]
            derivations: Default::default(),
        }
    }

    /// The headers to add to a request: `authorization`, `x-amz-date` and, with a session
    /// token, `x-amz-security-token`. `headers` are the ones sent and signed besides `host`,
    /// which aws-sigv4 takes from `url`. aws-sigv4's defaults double-encode the path in the
    /// canonical request, as botocore does for every service but S3.
    pub fn sign(
        &self,
        credentials: &Credentials,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(&'static str, String)>, Error> {
        match self.sign_fast(credentials, method, url, headers, body, time) {
            Some(signed) => Ok(signed),
            None => self.sign_with_aws_sigv4(credentials, method, url, headers, body, time),
        }
    }

    /// aws-sigv4 itself: every request the fast path does not take, and its reference in tests.
    pub fn sign_with_aws_sigv4(
        &self,
        credentials: &Credentials,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(&'static str, String)>, Error> {
        let params = v4::SigningParams::builder()
            .identity(credentials.signing_identity())
            .region(&self.region)
            .name(self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| Error::InvalidConfig(format!("signing parameters are incomplete: {e}")))?
            .into();
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| Error::Validation(format!("request cannot be signed: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| Error::Validation(format!("request cannot be signed: {e}")))?
            .into_parts();
        let (headers, _params) = instructions.into_parts();
        Ok(headers
            .into_iter()
            .map(|h| (h.name(), h.value().to_owned()))
            .collect())
    }
}

impl Signer {
    /// SigV4 with the cached signing key, for the requests whose canonical form is plain: no
    /// query, a path of unreserved characters, `/` and percent escapes (what
    /// `update_contact_path` makes) without dot segments or `//`, and at most a few lowercase
    /// headers with values free of spaces and control characters. None means "ask aws-sigv4",
    /// which produces the same output for these (tests compare the two on many inputs).
    fn sign_fast(
        &self,
        credentials: &Credentials,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Option<Vec<(&'static str, String)>> {
        let (scheme, rest) = url.split_once("://")?;
        let split = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let plain_path = path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b))
            && !path.contains("//")
            && !path
                .split('/')
                .any(|segment| segment == "." || segment == "..");
        if !plain_path || authority.is_empty() || authority.contains(['@', '[']) {
            return None;
        }
        // aws-sigv4 signs the host without a default port.
        let host = match authority.rsplit_once(':') {
            Some((host, "80")) if scheme == "http" => host,
            Some((host, "443")) if scheme == "https" => host,
            _ => authority,
        };
        let plain = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic());
        let token = credentials.session_token();
        if headers.len() > 4
            || !token.is_none_or(plain)
            || !headers.iter().all(|(n, v)| {
                plain(v)
                    && !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                    && !matches!(*n, "host" | "authorization")
                    && !n.starts_with("x-amz-")
            })
        {
            return None;
        }
        let seconds = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
        let amz_date = amz_date(seconds);
        let day = &amz_date[..8];

        let mut signed: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 3);
        signed.extend_from_slice(headers);
        signed.push(("host", host));
        signed.push(("x-amz-date", &amz_date));
        if let Some(token) = token {
            signed.push(("x-amz-security-token", token));
        }
        signed.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if signed.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        let mut names = String::with_capacity(64);
        for (i, (name, _)) in signed.iter().enumerate() {
            if i > 0 {
                names.push(';');
            }
            names.push_str(name);
        }

        // The canonical request, hashed as it is written.
        let mut canonical = String::with_capacity(512);
        canonical.push_str(method);
        canonical.push('\n');
        if path.is_empty() {
            canonical.push('/');
        }
        // Non-S3 services encode the already encoded path again: only `%` changes here.
        for piece in path.split_inclusive('%') {
            match piece.strip_suffix('%') {
                Some(before) => {
                    canonical.push_str(before);
                    canonical.push_str("%25");
                }
                None => canonical.push_str(piece),
            }
        }
        canonical.push_str("\n\n");
        for (name, value) in &signed {
            for piece in [*name, ":", *value, "\n"] {
                canonical.push_str(piece);
            }
        }
        canonical.push('\n');
        canonical.push_str(&names);
        canonical.push('\n');
        hex_into(
            &mut canonical,
            ring::digest::digest(&ring::digest::SHA256, body).as_ref(),
        );

        let mut scope = String::with_capacity(64);
        for piece in [day, "/", &self.region, "/", self.service, "/aws4_request"] {
            scope.push_str(piece);
        }
        let mut to_sign = String::with_capacity(160);
        to_sign.push_str("AWS4-HMAC-SHA256\n");
        to_sign.push_str(&amz_date);
        to_sign.push('\n');
        to_sign.push_str(&scope);
        to_sign.push('\n');
        hex_into(
            &mut to_sign,
            ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref(),
        );
        let key = self.signing_key(seconds / 86_400, day, credentials.secret_access_key());
        let signature = ring::hmac::sign(&key, to_sign.as_bytes());

        let mut authorization = String::with_capacity(256);
        for piece in [
            "AWS4-HMAC-SHA256 Credential=",
            credentials.access_key_id(),
            "/",
            &scope,
            ", SignedHeaders=",
            &names,
            ", Signature=",
        ] {
            authorization.push_str(piece);
        }
        hex_into(&mut authorization, signature.as_ref());
        let mut out = Vec::with_capacity(3);
        out.push(("x-amz-date", amz_date));
        out.push(("authorization", authorization));
        if let Some(token) = token {
            out.push(("x-amz-security-token", token.to_owned()));
        }
        Some(out)
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request"),
    /// derived once per day and secret.
    fn signing_key(&self, day_number: u64, day: &str, secret: &str) -> ring::hmac::Key {
        let mut cache = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cached) = cache.as_ref() {
            if cached.day == day_number && cached.secret == secret {
                return cached.key.clone();
            }
        }
        #[cfg(test)]
        self.derivations
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let hmac = |key: &[u8], data: &str| {
            ring::hmac::sign(
                &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
                data.as_bytes(),
            )
        };
        let k_date = hmac(format!("AWS4{secret}").as_bytes(), day);
        let k_region = hmac(k_date.as_ref(), &self.region);
        let k_service = hmac(k_region.as_ref(), self.service);
        let k_signing = hmac(k_service.as_ref(), "aws4_request");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, k_signing.as_ref());
        *cache = Some(CachedKey {
            day: day_number,
            secret: secret.to_owned(),
            key: key.clone(),
        });
        key
    }
}

/// `YYYYMMDDTHHMMSSZ` for seconds since the epoch (UTC, proleptic Gregorian).
fn amz_date(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Fixed-width fields; a year outside 0..=9999 cannot be signed for and is clamped.
    let mut out = String::with_capacity(16);
    let field = |out: &mut String, value: u64, width: u32| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (value / 10u64.pow(place) % 10) as u8));
        }
    };
    field(&mut out, y.clamp(0, 9999) as u64, 4);
    field(&mut out, m as u64, 2);
    field(&mut out, d as u64, 2);
    out.push('T');
    field(&mut out, rem / 3600, 2);
    field(&mut out, rem / 60 % 60, 2);
    field(&mut out, rem % 60, 2);
    out.push('Z');
    out
}

fn hex_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn signs_with_scope_date_and_token() {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("TOKEN"),
            None,
            "test",
        )
        .unwrap();
        let signer = Signer::new("us-west-2");
        let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        let headers = signer
            .sign(
                &creds,
                "POST",
                "https://connect.us-west-2.amazonaws.com/contacts/a%2Fb/c",
                &[("content-type", "application/json")],
                b"{}",
                time,
            )
            .unwrap();
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(get("x-amz-security-token"), Some("TOKEN"));
        let auth = get("authorization").unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/connect/aws4_request, "
            ),
            "{auth}"
        );
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"),
            "{auth}"
        );
        assert!(!format!("{signer:?} {creds:?}").contains("wJalr"));
    }

    /// A small deterministic generator: the same inputs on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[(self.next() % from.len() as u64) as usize]
        }
        fn text(&mut self, alphabet: &[&str], max: u64) -> String {
            (0..self.next() % max)
                .map(|_| self.pick(alphabet))
                .collect()
        }
    }

    fn sorted(mut headers: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
        headers.sort();
        headers
    }

    #[test]
    fn the_cached_key_path_matches_aws_sigv4_on_many_inputs() {
        let awkward = [
            "a", "Z", "0", "-", "_", ".", "~", "/", "%", " ", "+", "=", "?", "#", "&", "é", "日",
            "😀", "..", ":", "@", "\\", "\"", "'",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut fast = 0;
        for case in 0..2000 {
            let instance = rng.text(&awkward, 12);
            let contact = rng.text(&awkward, 12);
            let base = rng.pick(&["", "", "/prefix", "/a%20b", "/x/./y", "//z"]);
            let authority = rng.pick(&[
                "connect.us-east-1.amazonaws.com",
                "127.0.0.1:8080",
                "localhost:80",
                "example.com:443",
            ]);
            let scheme = rng.pick(&["https", "http"]);
            let path = crate::protocol::rest_json::update_contact_path(base, &instance, &contact);
            let url = format!("{scheme}://{authority}{path}");
            let body = rng.text(&awkward, 40);
            let token = match rng.next() % 3 {
                0 => None,
                1 => Some("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH+/=".to_owned()),
                _ => Some(rng.text(&["a", "B", "/", "+", "=", " "], 30)).filter(|t| !t.is_empty()),
            };
            let secret = rng.text(&["k", "/", "+", "E"], 40) + "x";
            let Ok(creds) = Credentials::new("AKIDEXAMPLE", &secret, token.as_deref(), None, "t")
            else {
                continue;
            };
            let signer = Signer::for_service(
                rng.pick(&["us-east-1", "eu-central-1", "ap-southeast-2"]),
                rng.pick(&["connect", "sts"]),
            );
            // 1970 to 2100, including leap days and year ends.
            let time = UNIX_EPOCH + Duration::from_secs(rng.next() % 4_102_444_800);
            let headers: &[(&str, &str)] = if case % 5 == 0 {
                &[("content-type", "application/json"), ("x-extra", "a  b")]
            } else {
                &[("content-type", "application/json")]
            };
            let reference = signer
                .sign_with_aws_sigv4(&creds, "POST", &url, headers, body.as_bytes(), time)
                .map(sorted);
            if let Some(ours) =
                signer.sign_fast(&creds, "POST", &url, headers, body.as_bytes(), time)
            {
                fast += 1;
                assert_eq!(Ok(sorted(ours)), reference, "{url} {body:?} {token:?}");
            }
            let through_sign = signer
                .sign(&creds, "POST", &url, headers, body.as_bytes(), time)
                .map(sorted);
            assert_eq!(
                through_sign.as_ref().ok(),
                reference.as_ref().ok(),
                "{url} {body:?} {token:?}"
            );
        }
        assert!(fast > 500, "the fast path was taken {fast} times");
    }

    #[test]
    fn the_signing_key_is_derived_once_per_day_and_secret() {
        let signer = Signer::new("us-east-1");
        let a = Credentials::new("AKID", "secret-a", None, None, "t").unwrap();
        let b = Credentials::new("AKID", "secret-b", None, None, "t").unwrap();
        let url = "https://connect.us-east-1.amazonaws.com/contacts/i/c";
        // 1_800_000_000 is 2027-01-15T08:00:00Z: hours(15) is 23:00 the same UTC day,
        // hours(16) and hours(30) the next day. The cache holds one (day, secret).
        let day = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let hours = |h: u64| day + Duration::from_secs(h * 3600);
        let derived = || signer.derivations.load(std::sync::atomic::Ordering::SeqCst);
        // (credentials, time, derivations so far after this signature)
        for (creds, time, expected) in [
            (&a, day, 1),
            (&a, day, 1),
            (&a, hours(15), 1),
            (&b, day, 2),
            (&a, hours(15), 3),
            (&a, hours(16), 4),
            (&a, hours(30), 4),
            (&a, hours(15), 5),
        ] {
            let ours = signer
                .sign(creds, "POST", url, &[], b"{}", time)
                .map(sorted);
            let reference = signer
                .sign_with_aws_sigv4(creds, "POST", url, &[], b"{}", time)
                .map(sorted);
            assert_eq!(ours.unwrap(), reference.unwrap());
            assert_eq!(derived(), expected, "at {time:?}");
        }
    }
}
