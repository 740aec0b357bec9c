//! What to scrape: the targets named on the command line and in a targets file, each resolved to
//! the URL to fetch, the address its events name, its own options, credentials, headers and TLS.
//! Credentials are kept apart from the URL from here on, so that no message can show them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use expvar_heap::{Options, ValidOptions};
use reqwest::Url;
use serde::Deserialize;

use crate::args::ScrapeArgs;

/// The environment variable that holds the password for `--username`, when no file is given.
pub const PASSWORD_ENV: &str = "EXPVAR_HEAP_PASSWORD";

/// The path scraped when a URL names none.
pub const DEFAULT_PATH: &str = "/debug/vars";

/// One target, ready to scrape.
pub struct Target {
    /// The URL fetched: the one given, without userinfo, `/debug/vars` when it had no path.
    pub url: Url,
    /// Its events' options (`service.address` is the URL as given, without userinfo).
    pub options: ValidOptions,
    pub auth: Auth,
    /// Extra request headers, `(name, value)`.
    pub headers: Vec<(String, String)>,
    pub tls: Tls,
}

/// How a target is authenticated.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer(String),
}

/// A target's TLS settings beyond the system's roots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tls {
    pub ca_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub insecure_skip_verify: bool,
}

/// A target as a targets file writes it: every field but `url` is optional and falls back to the
/// command line's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTarget {
    url: String,
    namespace: Option<String>,
    tags: Option<Vec<String>>,
    username: Option<String>,
    password_file: Option<PathBuf>,
    bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    ca_cert: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    insecure_skip_verify: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    #[serde(default)]
    targets: Vec<FileTarget>,
}

/// Every target of the run: the command line's URLs, then the targets file's.
pub fn resolve(args: &ScrapeArgs) -> Result<Vec<Target>> {
    let defaults = FileTarget {
        url: String::new(),
        namespace: None,
        tags: None,
        username: args.username.clone(),
        password_file: args.password_file.clone(),
        bearer_token_file: args.bearer_token_file.clone(),
        headers: parse_headers(&args.headers)?,
        ca_cert: args.ca_cert.clone(),
        client_cert: args.client_cert.clone(),
        client_key: args.client_key.clone(),
        insecure_skip_verify: Some(args.insecure_skip_verify),
    };
    let mut targets = Vec::new();
    for url in &args.urls {
        targets.push(target(
            args,
            &defaults,
            &FileTarget { url: url.clone(), ..defaults.clone() },
            None,
        )?);
    }
    if let Some(path) = &args.targets {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the targets file {}", path.display()))?;
        let file: TargetsFile = toml::from_str(&text)
            .with_context(|| format!("the targets file {} is not valid", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for entry in &file.targets {
            let target = target(args, &defaults, entry, Some(base))
                .with_context(|| format!("in the targets file {}", path.display()))?;
            targets.push(target);
        }
    }
    if targets.is_empty() {
        bail!("no target: name one or more URLs, or a --targets file");
    }
    Ok(targets)
}

impl Clone for FileTarget {
    fn clone(&self) -> Self {
        FileTarget {
            url: self.url.clone(),
            namespace: self.namespace.clone(),
            tags: self.tags.clone(),
            username: self.username.clone(),
            password_file: self.password_file.clone(),
            bearer_token_file: self.bearer_token_file.clone(),
            headers: self.headers.clone(),
            ca_cert: self.ca_cert.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
        }
    }
}

/// One target, its own settings over the command line's; paths of a targets file are relative to
/// the file's folder.
fn target(
    args: &ScrapeArgs,
    defaults: &FileTarget,
    entry: &FileTarget,
    base: Option<&Path>,
) -> Result<Target> {
    let ParsedUrl { url, userinfo, address } = parse_url(&entry.url)?;
    let at = |path: &Option<PathBuf>| path.as_ref().map(|p| base.map_or(p.clone(), |b| b.join(p)));
    let or = |own: &Option<PathBuf>, default: &Option<PathBuf>| at(own).or_else(|| default.clone());

    let username = entry.username.clone().or_else(|| defaults.username.clone());
    let password_file = or(&entry.password_file, &defaults.password_file);
    let bearer_file = or(&entry.bearer_token_file, &defaults.bearer_token_file);
    if password_file.is_some() && username.is_none() && userinfo.is_none() {
        bail!(
            "{address}: --password-file needs --username (the basic auth user) or a user in the URL"
        );
    }
    let auth = if let Some((user, password)) = userinfo {
        Auth::Basic { username: user, password }
    } else if let Some(file) = bearer_file {
        Auth::Bearer(read_secret(&file, "bearer token")?)
    } else if let Some(username) = username {
        let password = match password_file {
            Some(file) => read_secret(&file, "password")?,
            None => std::env::var(PASSWORD_ENV).map_err(|_| {
                anyhow::anyhow!(
                    "{}: --username needs --password-file or the {PASSWORD_ENV} environment variable",
                    address
                )
            })?,
        };
        Auth::Basic { username, password }
    } else {
        Auth::None
    };

    let mut headers = defaults.headers.clone();
    headers.extend(entry.headers.clone());
    let mut options = args.events.options(Some(address.clone())).map(ValidOptions::into_options)?;
    if let Some(namespace) = &entry.namespace {
        options.namespace = namespace.clone();
    }
    if let Some(tags) = &entry.tags {
        options.tags = tags.clone();
    }
    let options = Options::validate(options).with_context(|| format!("target {address}"))?;
    Ok(Target {
        url,
        options,
        auth,
        headers: headers.into_iter().collect(),
        tls: Tls {
            ca_cert: or(&entry.ca_cert, &defaults.ca_cert),
            client_cert: or(&entry.client_cert, &defaults.client_cert),
            client_key: or(&entry.client_key, &defaults.client_key),
            insecure_skip_verify: entry
                .insecure_skip_verify
                .or(defaults.insecure_skip_verify)
                .unwrap_or(false),
        },
    })
}

/// A target URL taken apart.
#[derive(Debug)]
pub struct ParsedUrl {
    /// What to fetch: no userinfo; `/debug/vars` when it had no path.
    pub url: Url,
    /// The userinfo, percent-decoded: user and password.
    pub userinfo: Option<(String, String)>,
    /// For `service.address`: the URL as given, less userinfo.
    pub address: String,
}

/// Takes a target URL apart.
pub fn parse_url(text: &str) -> Result<ParsedUrl> {
    let mut url = Url::parse(text).map_err(|e| {
        // The text may hold credentials: say what is wrong without repeating it.
        anyhow::anyhow!("a target URL is not valid ({e}); write it as http://HOST:PORT[/PATH]")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("a target URL must be http:// or https://, not {}://", url.scheme());
    }
    let userinfo = if url.username().is_empty() && url.password().is_none() {
        None
    } else {
        let decode =
            |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        Some((decode(url.username()), decode(url.password().unwrap_or(""))))
    };
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let address = if userinfo.is_some() || text.contains('@') {
        let as_given = url.as_str().to_owned();
        if text.trim_end().ends_with('/') || url.path() != "/" {
            as_given
        } else {
            as_given.trim_end_matches('/').to_owned()
        }
    } else {
        text.to_owned()
    };
    if url.path() == "/" || url.path().is_empty() {
        url.set_path(DEFAULT_PATH);
    }
    Ok(ParsedUrl { url, userinfo, address })
}

fn read_secret(path: &Path, what: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// `Name: value` headers.
fn parse_headers(headers: &[String]) -> Result<BTreeMap<String, String>> {
    headers
        .iter()
        .map(|header| {
            let Some((name, value)) = header.split_once(':') else {
                bail!("a --header is `Name: value`; one has no colon");
            };
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_the_default_path_and_lose_their_userinfo() {
        let parsed = parse_url("http://127.0.0.1:6060").unwrap();
        assert_eq!(parsed.url.as_str(), "http://127.0.0.1:6060/debug/vars");
        assert!(parsed.userinfo.is_none());
        assert_eq!(parsed.address, "http://127.0.0.1:6060");

        let parsed = parse_url("https://me:p%40ss%3Aword@10.0.0.5:6060/vars").unwrap();
        assert_eq!(parsed.url.as_str(), "https://10.0.0.5:6060/vars");
        assert_eq!(parsed.userinfo, Some(("me".to_owned(), "p@ss:word".to_owned())));
        assert_eq!(parsed.address, "https://10.0.0.5:6060/vars");

        let parsed = parse_url("http://me:secret@127.0.0.1:6060").unwrap();
        assert_eq!(parsed.address, "http://127.0.0.1:6060");
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        let err = parse_url("http://me:secret@[bad").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(parse_url("ftp://127.0.0.1/").unwrap_err().to_string().contains("http://"));
    }

    #[test]
    fn the_example_targets_file_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/targets.toml");
        let file: TargetsFile = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(file.targets.len(), 3);
        assert_eq!(file.targets[2].headers["X-Scope"], "observability");
        for target in &file.targets {
            assert!(parse_url(&target.url).is_ok(), "{}", target.url);
        }
    }

    #[test]
    fn headers_are_name_colon_value() {
        let parsed = parse_headers(&["X-A: 1".to_owned(), "X-B:two: three".to_owned()]).unwrap();
        assert_eq!(parsed["X-A"], "1");
        assert_eq!(parsed["X-B"], "two: three");
        assert!(parse_headers(&["nocolon".to_owned()]).is_err());
    }
}
