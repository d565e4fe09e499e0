//! How the commands name a store given as a URL: never with its password.

/// `url` without the password of its user information (`postgresql://user@host/db`).
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_left_out() {
        assert_eq!(
            without_password("postgresql://ops:s3cret@db.example:5432/app?sslmode=require"),
            "postgresql://ops@db.example:5432/app?sslmode=require"
        );
        assert_eq!(
            without_password("postgresql://db/app"),
            "postgresql://db/app"
        );
        assert_eq!(without_password("/var/lib/outbox.db"), "/var/lib/outbox.db");
    }
}
