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

/// One target, ready to scrape. Two equal targets are the same target: a targets file read again
/// keeps those that stayed equal (their schedule, collector and history).
#[derive(Clone, PartialEq, Eq)]
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
#[derive(Clone, Default, PartialEq, Eq)]
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

/// A target group of Prometheus's `file_sd` (`[{"targets": ["host:port"], "labels": {...}}]`, in
/// JSON or YAML), as service discovery tools write them. Of the labels, `__scheme__` (default
/// http) and `__metrics_path__` (default /debug/vars) make the URL; the others name nothing in an
/// event and are ignored.
#[derive(Deserialize)]
struct TargetGroup {
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// The entries of a targets file: ours in TOML, or Prometheus's `file_sd` lists in JSON
/// (`.json`) or YAML (`.yaml`, `.yml`).
fn file_entries(path: &Path, text: &str) -> Result<Vec<FileTarget>> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let groups: Vec<TargetGroup> = match extension.as_str() {
        "json" => serde_json::from_str(text)?,
        "yaml" | "yml" => serde_json::from_value(yaml_to_json(text)?)?,
        _ => return Ok(toml::from_str::<TargetsFile>(text)?.targets),
    };
    let mut entries = Vec::new();
    for group in groups {
        let scheme = group.labels.get("__scheme__").map_or("http", String::as_str);
        // No path is /debug/vars, and keeps `service.address` as a URL of the command line would.
        let path = group.labels.get("__metrics_path__").map_or("", String::as_str);
        if !path.is_empty() && !path.starts_with('/') {
            bail!("__metrics_path__ must start with /");
        }
        for target in group.targets {
            if target.contains(['/', '@']) {
                bail!("a file_sd target is host:port, without scheme, path or userinfo");
            }
            entries.push(FileTarget::url(format!("{scheme}://{target}{path}")));
        }
    }
    Ok(entries)
}

/// A YAML document as JSON (strings, numbers, booleans, lists and maps with string keys).
fn yaml_to_json(text: &str) -> Result<serde_json::Value> {
    use yaml_rust2::{Yaml, YamlLoader};
    fn convert(yaml: &Yaml) -> Result<serde_json::Value> {
        Ok(match yaml {
            Yaml::String(s) => s.clone().into(),
            Yaml::Integer(i) => (*i).into(),
            Yaml::Real(r) => r.clone().into(),
            Yaml::Boolean(b) => (*b).into(),
            Yaml::Null => serde_json::Value::Null,
            Yaml::Array(items) => items.iter().map(convert).collect::<Result<Vec<_>>>()?.into(),
            Yaml::Hash(map) => {
                let mut object = serde_json::Map::new();
                for (key, value) in map {
                    let Some(key) = key.as_str() else { bail!("a YAML map key is not a string") };
                    object.insert(key.to_owned(), convert(value)?);
                }
                object.into()
            }
            _ => bail!("YAML aliases and other tags are not read"),
        })
    }
    let documents = YamlLoader::load_from_str(text)?;
    match documents.as_slice() {
        [] => Ok(serde_json::Value::Array(Vec::new())),
        [document] => convert(document),
        _ => bail!("more than one YAML document"),
    }
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
        let entries = file_entries(path, &text)
            .with_context(|| format!("the targets file {} is not valid", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for entry in &entries {
            let target = target(args, &defaults, entry, Some(base))
                .with_context(|| format!("in the targets file {}", path.display()))?;
            targets.push(target);
        }
    }
    if targets.is_empty() {
        bail!("no target: name one or more URLs, or a --targets file");
    }
    // A target named twice is scraped once.
    let mut unique: Vec<Target> = Vec::with_capacity(targets.len());
    for target in targets {
        if !unique.contains(&target) {
            unique.push(target);
        }
    }
    Ok(unique)
}

impl FileTarget {
    /// An entry of only a URL: every other setting from the command line.
    fn url(url: String) -> FileTarget {
        FileTarget {
            url,
            namespace: None,
            tags: None,
            username: None,
            password_file: None,
            bearer_token_file: None,
            headers: BTreeMap::new(),
            ca_cert: None,
            client_cert: None,
            client_key: None,
            insecure_skip_verify: None,
        }
    }
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

    let own = Credentials {
        username: entry.username.clone(),
        password_file: at(&entry.password_file),
        bearer_token_file: at(&entry.bearer_token_file),
    };
    let command_line = Credentials {
        username: defaults.username.clone(),
        password_file: defaults.password_file.clone(),
        bearer_token_file: defaults.bearer_token_file.clone(),
    };
    let auth = match userinfo {
        Some((username, password)) => Auth::Basic { username, password },
        None => own.over(command_line).auth(&address)?,
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

/// The credentials a target entry or the command line names (paths already resolved).
#[derive(Clone, Debug, Default)]
struct Credentials {
    username: Option<String>,
    password_file: Option<PathBuf>,
    bearer_token_file: Option<PathBuf>,
}

impl Credentials {
    /// An entry's own credentials, of whatever kind, win over every credential of the command
    /// line: a bearer token of its own is used alone; a user or password file of its own is basic
    /// auth, which takes only the part it lacks from the command line (`--username` for
    /// per-target password files, say), never its bearer token. An entry with none of its own
    /// takes the command line's.
    fn over(self, command_line: Credentials) -> Credentials {
        if self.bearer_token_file.is_some() {
            self
        } else if self.username.is_some() || self.password_file.is_some() {
            Credentials {
                username: self.username.or(command_line.username),
                password_file: self.password_file.or(command_line.password_file),
                bearer_token_file: None,
            }
        } else {
            command_line
        }
    }

    /// How a target with these credentials (and no userinfo) authenticates; the secrets are
    /// read here.
    fn auth(self, address: &str) -> Result<Auth> {
        match self {
            Credentials { username: Some(_), bearer_token_file: Some(_), .. } => {
                bail!("{address}: both a user and a bearer token file are given: choose one")
            }
            Credentials { bearer_token_file: Some(file), password_file: None, .. } => {
                Ok(Auth::Bearer(read_secret(&file, "bearer token")?))
            }
            Credentials { bearer_token_file: Some(_), password_file: Some(_), .. } => bail!(
                "{address}: both a password file and a bearer token file are given: choose one"
            ),
            Credentials { username: Some(username), password_file, .. } => {
                let password = match password_file {
                    Some(file) => read_secret(&file, "password")?,
                    None => std::env::var(PASSWORD_ENV).map_err(|_| {
                        anyhow::anyhow!(
                            "{address}: --username needs --password-file or the {PASSWORD_ENV} environment variable"
                        )
                    })?,
                };
                Ok(Auth::Basic { username, password })
            }
            Credentials { username: None, password_file: Some(_), .. } => bail!(
                "{address}: --password-file needs --username (the basic auth user) or a user in the URL"
            ),
            Credentials { username: None, password_file: None, bearer_token_file: None } => {
                Ok(Auth::None)
            }
        }
    }
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
    fn prometheus_file_sd_lists_in_json_and_yaml() {
        let json = r#"[
            {"targets": ["127.0.0.1:6060", "10.0.0.5:6060"], "labels": {"job": "api"}},
            {"targets": ["db:8443"], "labels": {"__scheme__": "https", "__metrics_path__": "/vars"}}
        ]"#;
        let yaml = "- targets: [127.0.0.1:6060, '10.0.0.5:6060']\n  labels: {job: api}\n\
                    - targets:\n    - db:8443\n  labels:\n    __scheme__: https\n    __metrics_path__: /vars\n";
        for (file, text) in [("sd.json", json), ("sd.yaml", yaml), ("sd.yml", yaml)] {
            let entries = file_entries(Path::new(file), text).unwrap();
            let urls: Vec<_> = entries.iter().map(|e| e.url.as_str()).collect();
            assert_eq!(
                urls,
                ["http://127.0.0.1:6060", "http://10.0.0.5:6060", "https://db:8443/vars"],
                "{file}"
            );
        }
        for bad in [
            r#"[{"targets": ["http://a:1"]}]"#,
            r#"[{"targets": ["u:p@a:1"]}]"#,
            r#"{"targets": []}"#,
        ] {
            assert!(file_entries(Path::new("sd.json"), bad).is_err(), "{bad}");
        }
        assert!(
            file_entries(Path::new("sd.yaml"), "- targets: [a:1]\n---\n- targets: [b:1]\n")
                .is_err()
        );
    }

    /// What a target resolves to, from a targets file entry of `entry` TOML and command-line
    /// flags, as (kind, user or token, password); secrets are files in a fresh folder.
    fn auth_of(entry: &str, flags: &[&str]) -> Result<(String, String, String)> {
        use clap::Parser;
        let dir = std::env::temp_dir().join(format!(
            "expvar-heap-credentials-{}-{}",
            std::process::id(),
            flags.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, secret) in [("cli-pass", "cli-secret"), ("own-pass", "own-secret")] {
            std::fs::write(dir.join(name), secret).unwrap();
        }
        for (name, secret) in [("cli-token", "cli-bearer"), ("own-token", "own-bearer")] {
            std::fs::write(dir.join(name), secret).unwrap();
        }
        let file = dir.join("targets.toml");
        std::fs::write(&file, format!("[[targets]]\nurl = \"http://127.0.0.1:9\"\n{entry}\n"))
            .unwrap();
        let mut argv = vec!["expvar-heap".to_owned(), "scrape".to_owned()];
        for flag in flags {
            argv.push(flag.replace("DIR", dir.to_str().unwrap()));
        }
        argv.extend(["--targets".to_owned(), file.to_str().unwrap().to_owned()]);
        let crate::args::Command::Scrape(args) = crate::args::Cli::parse_from(argv).command else {
            unreachable!()
        };
        let resolved = resolve(&args);
        let _ = std::fs::remove_dir_all(&dir);
        let auth = resolved?.remove(0).auth;
        Ok(match auth {
            Auth::None => ("none".into(), String::new(), String::new()),
            Auth::Basic { username, password } => ("basic".into(), username, password),
            Auth::Bearer(token) => ("bearer".into(), token, String::new()),
        })
    }

    fn triple(kind: &str, who: &str, secret: &str) -> (String, String, String) {
        (kind.to_owned(), who.to_owned(), secret.to_owned())
    }

    /// An entry's own credentials win over the command line's, of any kind (each combination
    /// that can conflict); the command line's fill in what an entry lacks, or serve an entry with
    /// none. Paths of the entry are relative to the targets file.
    #[test]
    fn an_entrys_own_credentials_win() {
        let cli_bearer = ["--bearer-token-file", "DIR/cli-token"];
        let cli_basic = ["--username", "cli-user", "--password-file", "DIR/cli-pass"];
        let own_basic = "username = \"own-user\"\npassword_file = \"own-pass\"";
        let own_bearer = "bearer_token_file = \"own-token\"";
        assert_eq!(
            auth_of(own_basic, &cli_bearer).unwrap(),
            triple("basic", "own-user", "own-secret")
        );
        assert_eq!(auth_of(own_bearer, &cli_basic).unwrap(), triple("bearer", "own-bearer", ""));
        assert_eq!(
            auth_of(own_basic, &cli_basic).unwrap(),
            triple("basic", "own-user", "own-secret")
        );
        assert_eq!(auth_of(own_bearer, &cli_bearer).unwrap(), triple("bearer", "own-bearer", ""));
        // Part of basic auth of its own: the rest from the command line, never its bearer.
        let own_password = "password_file = \"own-pass\"";
        assert_eq!(
            auth_of(own_password, &cli_basic).unwrap(),
            triple("basic", "cli-user", "own-secret")
        );
        let own_user = "username = \"own-user\"";
        assert_eq!(
            auth_of(own_user, &cli_basic).unwrap(),
            triple("basic", "own-user", "cli-secret")
        );
        let err = format!("{:#}", auth_of(own_user, &cli_bearer).unwrap_err());
        assert!(err.contains("--username needs --password-file"), "{err}");
        // None of its own: the command line's.
        assert_eq!(auth_of("", &cli_bearer).unwrap(), triple("bearer", "cli-bearer", ""));
        assert_eq!(auth_of("", &cli_basic).unwrap(), triple("basic", "cli-user", "cli-secret"));
        assert_eq!(auth_of("", &[]).unwrap(), triple("none", "", ""));
        // Two kinds in one entry are refused.
        let both = format!("{own_user}\n{own_bearer}");
        let err = format!("{:#}", auth_of(&both, &[]).unwrap_err());
        assert!(err.contains("both a user and a bearer token file"), "{err}");
    }

    #[test]
    fn headers_are_name_colon_value() {
        let parsed = parse_headers(&["X-A: 1".to_owned(), "X-B:two: three".to_owned()]).unwrap();
        assert_eq!(parsed["X-A"], "1");
        assert_eq!(parsed["X-B"], "two: three");
        assert!(parse_headers(&["nocolon".to_owned()]).is_err());
    }
}
