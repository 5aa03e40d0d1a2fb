//! The `url` setting: comma-separated server URLs, normalised, with credentials taken out of them (never kept in a printable URL).

use super::{err, Secret, ServerUrl, SettingsError, UrlCredentials};

/// Split the comma-separated `url` setting, normalise each entry and take credentials out of it.
pub(super) fn parse_urls(raw: &str) -> Result<(Vec<ServerUrl>, Option<UrlCredentials>), SettingsError> {
    let mut servers = Vec::new();
    let mut creds: Option<UrlCredentials> = None;
    for (i, part) in raw.split(',').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let with_scheme = if part.contains("://") {
            part.to_string()
        } else {
            format!("nats://{part}")
        };
        // Never echo the raw text back: it may hold a password.
        let shown = format!("server #{} in url", i + 1);
        let parsed = url::Url::parse(&with_scheme).map_err(|e| {
            SettingsError(format!(
                "{shown} is not a valid URL ({e}); write it as nats://host:4222"
            ))
        })?;
        let scheme = parsed.scheme().to_ascii_lowercase();
        if !matches!(scheme.as_str(), "nats" | "tls" | "ws" | "wss") {
            return err(format!(
                "{shown} uses scheme '{scheme}': use nats://, tls://, ws:// or wss://"
            ));
        }
        let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
            return err(format!("{shown} has no host name"));
        };
        let port = parsed.port().unwrap_or(match scheme.as_str() {
            "ws" => 80,
            "wss" => 443,
            _ => 4222,
        });
        let mut address = format!("{scheme}://{host}:{port}");
        if matches!(scheme.as_str(), "ws" | "wss") && parsed.path() != "/" && !parsed.path().is_empty() {
            address.push_str(parsed.path());
        }
        let user = percent_decode(parsed.username());
        let pass = parsed.password().map(percent_decode);
        let found = match (user.is_empty(), pass) {
            (true, None) => None,
            (false, None) => Some(UrlCredentials::Token(Secret::new(user))),
            (_, Some(p)) => Some(UrlCredentials::UserPass {
                username: user,
                password: Secret::new(p),
            }),
        };
        if let Some(found) = found {
            match &creds {
                Some(existing) if *existing != found => {
                    return err("the URLs in url carry different credentials: use the same ones in every URL, or set them with authType")
                }
                _ => creds = Some(found),
            }
        }
        servers.push(ServerUrl {
            address,
            tls: matches!(scheme.as_str(), "tls" | "wss"),
        });
    }
    if servers.is_empty() {
        return err("url is empty: enter one or more NATS server URLs, comma separated, e.g. nats://localhost:4222");
    }
    Ok((servers, creds))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}
