//! What to scrape: the targets named on the command line and in a targets file, each resolved to
//! the URL to fetch, the address its events name, its own options, credentials, headers and TLS.
//! Credentials are kept apart from the URL from here on, so that no message can show them.
//!
//! A targets file is read by the caller, once ([`resolve_with`] takes its bytes): our TOML, or
//! Prometheus's `file_sd` lists in JSON or YAML. Whatever its format, it holds UTF-8 text of at
//! most [`MAX_TARGETS_FILE_BYTES`] (4 MiB), and an empty list (`[]`, an empty YAML document, a
//! TOML file without `[[targets]]`) is no error: no target yet. Of a `file_sd` group's labels,
//! `__scheme__` (`http` or `https`, in any case) and `__metrics_path__` (a path: no `?`, `#`,
//! `@` or `://`) make the URL and must be strings; `name` and `memory_limit` are what a TOML
//! entry's fields of those names are (see [`Label`]); the others may hold any scalar and are
//! ignored. A YAML file with an anchor or an alias is refused before it is loaded (their
//! expansion is unbounded), as is one nested more than 32 deep.

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
    /// What `watch` shows of it besides its address.
    pub label: Label,
}

/// What the page of `watch` shows of a target besides its address: none of it is in its events.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Label {
    /// A name for people (`name`), shown above the address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The memory the process must stay under, in bytes (`memory_limit`): the page tells how much
    /// of it the runtime holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<u64>,
    /// The custom variable that publishes that limit, as a dotted path (`memory_limit_variable`),
    /// read from each scrape's `golang.expvar` event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit_variable: Option<String>,
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
    name: Option<String>,
    memory_limit: Option<Size>,
    memory_limit_variable: Option<String>,
}

/// A size in bytes, as a targets file writes it: a number of bytes, or a string in the syntax of
/// Go's `GOMEMLIMIT` (a whole number with an optional suffix `B`, `KiB`, `MiB`, `GiB` or `TiB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Size(u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Size, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Size;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of bytes above 0, or a size such as \"512MiB\"")
            }
            fn visit_u64<E: serde::de::Error>(self, bytes: u64) -> Result<Size, E> {
                match bytes {
                    0 => Err(E::custom("a memory limit of 0 bytes is no limit")),
                    bytes => Ok(Size(bytes)),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, bytes: i64) -> Result<Size, E> {
                match u64::try_from(bytes) {
                    Ok(bytes) => self.visit_u64(bytes),
                    Err(_) => Err(E::custom("a memory limit is not negative")),
                }
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Size, E> {
                parse_size(text).map(Size).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The longest name a target may have: a row's first line.
const MAX_NAME_CHARS: usize = 200;

/// A size in the syntax of Go's `GOMEMLIMIT` (runtime/debug: "a numeric value in bytes with an
/// optional unit suffix"; the suffixes `B`, `KiB`, `MiB`, `GiB`, `TiB`), not 0.
fn parse_size(text: &str) -> Result<u64> {
    const UNITS: [(&str, u32); 5] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10), ("B", 0)];
    let (digits, shift) = UNITS
        .iter()
        .find_map(|(unit, shift)| text.strip_suffix(unit).map(|digits| (digits, *shift)))
        .unwrap_or((text, 0));
    let refused = || {
        anyhow::anyhow!(
            "the size {} is not a whole number of bytes with an optional suffix B, KiB, MiB, GiB or TiB (as in GOMEMLIMIT: 512MiB)",
            shown(text)
        )
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused());
    }
    let number: u64 = digits.parse().map_err(|_| refused())?;
    let bytes = number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| anyhow::anyhow!("the size {} is over 2^64 bytes", shown(text)))?;
    if bytes == 0 {
        bail!("a memory limit of 0 bytes is no limit");
    }
    Ok(bytes)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    #[serde(default)]
    targets: Vec<FileTarget>,
}

/// The most a targets file may hold, in every format: 4 MiB, room for tens of thousands of
/// targets. A larger file is refused before it is parsed.
pub const MAX_TARGETS_FILE_BYTES: usize = 4 << 20;

/// How deep a YAML targets file may nest. A `file_sd` list is three levels (the list, a group,
/// its targets or labels); the bound keeps yaml-rust2's loader and [`yaml_to_json`], which both
/// recurse once a level, far from the end of a thread's stack.
const MAX_YAML_DEPTH: usize = 32;

/// A target group of Prometheus's `file_sd` (`[{"targets": ["host:port"], "labels": {...}}]`, in
/// JSON or YAML), as service discovery tools write them. Of the labels, `__scheme__` (`http`, the
/// default, or `https`, in any case) and `__metrics_path__` (default /debug/vars) make the URL
/// and must be strings; the others name nothing in an event and are ignored, whatever scalar
/// they hold (`shard: 3`, `canary: true`, a float, null). A list or a map is no label value.
#[derive(Deserialize)]
struct TargetGroup {
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, serde_json::Value>,
}

impl TargetGroup {
    /// The value of the label `name` that makes the URL, when it is set: a string.
    fn url_label(&self, name: &str) -> Result<Option<&str>> {
        match self.labels.get(name) {
            None => Ok(None),
            Some(serde_json::Value::String(value)) => Ok(Some(value)),
            Some(_) => bail!("the label {name} must be a string"),
        }
    }

    /// Its entries: the URLs of its targets, checked, with the labels `name` and `memory_limit`
    /// (a number of bytes or a `GOMEMLIMIT` size).
    fn entries(&self) -> Result<Vec<FileTarget>> {
        let name = match self.labels.get("name") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(name)) => Some(name.clone()),
            Some(serde_json::Value::Number(name)) => Some(name.to_string()),
            Some(_) => bail!("the label name must be a string"),
        };
        let memory_limit = match self.labels.get("memory_limit") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(size)) => {
                Some(Size(parse_size(size).context("the label memory_limit")?))
            }
            Some(serde_json::Value::Number(bytes)) => match bytes.as_u64() {
                Some(bytes) if bytes > 0 => Some(Size(bytes)),
                _ => bail!(
                    "the label memory_limit must be a number of bytes above 0, or a size such as 512MiB"
                ),
            },
            Some(_) => {
                bail!("the label memory_limit must be a number of bytes or a size such as 512MiB")
            }
        };
        Ok(self
            .urls()?
            .into_iter()
            .map(|url| FileTarget { name: name.clone(), memory_limit, ..FileTarget::url(url) })
            .collect())
    }

    /// The URLs of its targets, checked.
    fn urls(&self) -> Result<Vec<String>> {
        for (name, value) in &self.labels {
            if value.is_array() || value.is_object() {
                bail!(
                    "the label {} is a list or a map: a label is a string, a number, a boolean or null",
                    shown(name)
                );
            }
        }
        let scheme = match self.url_label("__scheme__")? {
            None => "http",
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => "http",
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => "https",
            Some(_) => bail!("the label __scheme__ must be http or https (in any case)"),
        };
        // No path is /debug/vars, and keeps `service.address` as a URL of the command line would.
        let path = self.url_label("__metrics_path__")?.unwrap_or("");
        if !path.is_empty() && !path.starts_with('/') {
            bail!("the label __metrics_path__ must start with /");
        }
        if path.contains(['?', '#', '@']) || path.contains("://") {
            bail!("the label __metrics_path__ is a path: it may not hold ?, #, @ or ://");
        }
        let mut urls = Vec::with_capacity(self.targets.len());
        for target in &self.targets {
            if target.contains(['/', '\\', '@', '?', '#']) {
                bail!("a file_sd target is host:port, without scheme, path, query or userinfo");
            }
            urls.push(format!("{scheme}://{target}{path}"));
        }
        Ok(urls)
    }
}

/// A name from a targets file, quoted, its first 64 characters at most (a message repeats it).
fn shown(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((end, _)) => format!("{:?}...", &name[..end]),
        None => format!("{name:?}"),
    }
}

/// The entries of a targets file of `bytes`: ours in TOML, or Prometheus's `file_sd` lists in
/// JSON (`.json`) or YAML (`.yaml`, `.yml`). An empty list is no error: no entry.
fn file_entries(path: &Path, bytes: &[u8]) -> Result<Vec<FileTarget>> {
    if bytes.len() > MAX_TARGETS_FILE_BYTES {
        bail!(
            "it is over 4 MiB ({MAX_TARGETS_FILE_BYTES} bytes), the most a targets file may hold"
        );
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("it is not UTF-8 text (from byte {} on)", e.valid_up_to()))?;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let groups: Vec<TargetGroup> = match extension.as_str() {
        "json" => serde_json::from_str(text)?,
        "yaml" | "yml" => serde_json::from_value(yaml_to_json(text)?)?,
        _ => return Ok(toml::from_str::<TargetsFile>(text)?.targets),
    };
    let mut entries = Vec::new();
    for group in groups {
        entries.extend(group.entries()?);
    }
    Ok(entries)
}

/// Refuses a YAML document that could not be loaded in memory in proportion to its text, before
/// yaml-rust2 loads it: one with an anchor or an alias, or nested more than [`MAX_YAML_DEPTH`].
///
/// yaml-rust2's loader expands an alias by cloning the node of its anchor, so a few hundred
/// bytes of aliases of aliases (a "billion laughs" document) make billions of nodes. Refusing
/// every alias and anchor from the event parser's stream, which holds no node and expands
/// nothing, is what makes the loaded document proportional to its text: without them every node
/// is written out (each takes at least a byte), so [`MAX_TARGETS_FILE_BYTES`] bounds the tree. A
/// bound on the nodes counted while loading instead would come too late: the loader clones an
/// alias's whole tree in one step. Anchors alone are refused too (each anchored node is cloned
/// once more; a targets file has no use for them).
fn check_yaml(text: &str) -> Result<()> {
    use yaml_rust2::parser::{Event, Parser};
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    loop {
        let (event, mark) = parser.next_token()?;
        let anchor = match event {
            Event::StreamEnd => return Ok(()),
            Event::Alias(_) => true,
            Event::Scalar(_, _, anchor, _) => anchor > 0,
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                depth += 1;
                if depth > MAX_YAML_DEPTH {
                    bail!(
                        "line {}: the YAML is nested more than {MAX_YAML_DEPTH} deep",
                        mark.line()
                    );
                }
                anchor > 0
            }
            Event::SequenceEnd | Event::MappingEnd => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => false,
        };
        if anchor {
            bail!(
                "line {}: YAML aliases and anchors (*name, &name) are not read: write each value out",
                mark.line()
            );
        }
    }
}

/// A YAML document as JSON (strings, numbers, booleans, nulls, lists and maps with string keys);
/// an empty document (or none, or a null) is an empty list.
fn yaml_to_json(text: &str) -> Result<serde_json::Value> {
    use yaml_rust2::{Yaml, YamlLoader};
    fn convert(yaml: &Yaml) -> Result<serde_json::Value> {
        Ok(match yaml {
            Yaml::String(s) => s.clone().into(),
            Yaml::Integer(i) => (*i).into(),
            // A float JSON cannot write (.inf, .nan) stays text.
            Yaml::Real(r) => match yaml.as_f64().and_then(serde_json::Number::from_f64) {
                Some(number) => number.into(),
                None => r.clone().into(),
            },
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
    check_yaml(text)?;
    let documents = YamlLoader::load_from_str(text)?;
    match documents.as_slice() {
        [] | [Yaml::Null] => Ok(serde_json::Value::Array(Vec::new())),
        [document] => convert(document),
        _ => bail!("more than one YAML document"),
    }
}

/// Every target of the run: the command line's URLs, then those of the targets file
/// `args.targets`, whose bytes the caller read (`file`). A targets file that names no target
/// (an empty list) is no error: the run has none yet. With neither URLs nor a targets file, it
/// is one.
pub fn resolve_with(args: &ScrapeArgs, file: Option<&[u8]>) -> Result<Vec<Target>> {
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
        name: None,
        memory_limit: None,
        memory_limit_variable: None,
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
    match (&args.targets, file) {
        (Some(path), Some(bytes)) => {
            let entries = file_entries(path, bytes)
                .with_context(|| format!("the targets file {} is not valid", path.display()))?;
            let base = path.parent().unwrap_or(Path::new("."));
            for entry in &entries {
                let target = target(args, &defaults, entry, Some(base))
                    .with_context(|| format!("in the targets file {}", path.display()))?;
                targets.push(target);
            }
        }
        (Some(path), None) => bail!("the targets file {} was not read", path.display()),
        (None, Some(_)) => bail!("a targets file's content was given without --targets"),
        (None, None) => {
            if targets.is_empty() {
                bail!("no target: name one or more URLs, or a --targets file");
            }
        }
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

/// Every target of the run: reads the targets file ([`read_targets_file`]), then
/// [`resolve_with`].
// The run reads the file itself (to tell a change from it); the tests call this.
#[cfg(test)]
pub fn resolve(args: &ScrapeArgs) -> Result<Vec<Target>> {
    let file = match &args.targets {
        Some(path) => Some(read_targets_file(path)?),
        None => None,
    };
    resolve_with(args, file.as_deref())
}

/// A targets file's bytes: no more than [`MAX_TARGETS_FILE_BYTES`] and one, enough for
/// [`resolve_with`] to tell a file too large without reading all of it.
pub fn read_targets_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_TARGETS_FILE_BYTES as u64 + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read the targets file {}", path.display()))?;
    Ok(bytes)
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
            name: None,
            memory_limit: None,
            memory_limit_variable: None,
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
            name: self.name.clone(),
            memory_limit: self.memory_limit,
            memory_limit_variable: self.memory_limit_variable.clone(),
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
        label: label(entry).with_context(|| format!("target {address}"))?,
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

/// What `watch` shows of an entry besides its address, checked.
fn label(entry: &FileTarget) -> Result<Label> {
    if let Some(name) = &entry.name {
        if name.trim().is_empty() {
            bail!("its name is empty");
        }
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            bail!(
                "its name {} is over {MAX_NAME_CHARS} characters or holds a control character",
                shown(name)
            );
        }
    }
    if let Some(variable) = &entry.memory_limit_variable {
        if entry.memory_limit.is_some() {
            bail!("it has both memory_limit and memory_limit_variable: give one");
        }
        if variable.is_empty() || variable.split('.').any(str::is_empty) {
            bail!(
                "memory_limit_variable {} is not a dotted path of a custom variable (limits.memory)",
                shown(variable)
            );
        }
    }
    Ok(Label {
        name: entry.name.clone(),
        memory_limit: entry.memory_limit.map(|Size(bytes)| bytes),
        memory_limit_variable: entry.memory_limit_variable.clone(),
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
    // `localhost:7001` parses as a URL of the scheme `localhost`; `127.0.0.1:7001` as none.
    if !text.contains("://") {
        bail!("a target URL needs its scheme: write it as http://HOST:PORT[/PATH]");
    }
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
        // With no scheme, a name and an address get the same help.
        for bare in ["localhost:7001", "127.0.0.1:7001", "me:secret@db:6060"] {
            let err = parse_url(bare).unwrap_err().to_string();
            assert_eq!(
                err, "a target URL needs its scheme: write it as http://HOST:PORT[/PATH]",
                "{bare}"
            );
        }
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
            let entries = file_entries(Path::new(file), text.as_bytes()).unwrap();
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
            assert!(file_entries(Path::new("sd.json"), bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(
            file_entries(Path::new("sd.yaml"), b"- targets: [a:1]\n---\n- targets: [b:1]\n")
                .is_err()
        );
    }

    /// The arguments of `expvar-heap scrape FLAGS`.
    fn scrape_args(flags: &[&str]) -> ScrapeArgs {
        use clap::Parser;
        let argv = ["expvar-heap", "scrape"].into_iter().chain(flags.iter().copied());
        let crate::args::Command::Scrape(args) = crate::args::Cli::parse_from(argv).command else {
            unreachable!()
        };
        *args
    }

    /// The targets of the command line `flags` and a targets file `name` whose bytes, as the
    /// caller read them, are `bytes`; the file on disk holds `on_disk` (else the same bytes).
    fn resolved_with(
        name: &str,
        bytes: &[u8],
        on_disk: Option<&[u8]>,
        flags: &[&str],
    ) -> Result<Vec<Target>> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "expvar-heap-targets-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, on_disk.unwrap_or(bytes)).unwrap();
        let mut flags = flags.to_vec();
        flags.extend(["--targets", path.to_str().unwrap()]);
        let resolved = resolve_with(&scrape_args(&flags), Some(bytes));
        let _ = std::fs::remove_dir_all(&dir);
        resolved
    }

    /// The targets of a targets file `name` of `text`, no URL on the command line.
    fn resolved(name: &str, text: &str) -> Result<Vec<Target>> {
        resolved_with(name, text.as_bytes(), None, &[])
    }

    fn urls(targets: &[Target]) -> Vec<&str> {
        targets.iter().map(|t| t.url.as_str()).collect()
    }

    /// The whole message of an error, its contexts included.
    fn error(result: Result<Vec<Target>>) -> String {
        match result {
            Ok(targets) => panic!("no error, but targets {:?}", urls(&targets)),
            Err(e) => format!("{e:#}"),
        }
    }

    /// The caller reads the targets file once and hands its bytes over: they are what counts,
    /// whatever the file holds by then. Bytes that are not UTF-8 are refused, saying so.
    #[test]
    fn resolve_with_takes_the_bytes_it_is_given() {
        let on_disk = b"[[targets]]\nurl = \"http://127.0.0.1:1\"\n";
        let given = b"[[targets]]\nurl = \"http://127.0.0.1:2\"\n";
        let targets = resolved_with("targets.toml", given, Some(on_disk), &[]).unwrap();
        assert_eq!(urls(&targets), ["http://127.0.0.1:2/debug/vars"]);
        let not_utf8 = b"[[targets]]\nurl = \"http://127.0.0.1:3/\xff\"\n";
        let err = error(resolved_with("targets.toml", not_utf8, None, &[]));
        assert!(err.contains("not valid: it is not UTF-8 text (from byte 38 on)"), "{err}");
        let err = error(resolve_with(&scrape_args(&["--targets", "t.toml"]), None));
        assert!(err.contains("the targets file t.toml was not read"), "{err}");
    }

    /// A targets file that names no target yet is no error, in every format, with or without
    /// URLs on the command line; neither URLs nor a targets file is one.
    #[test]
    fn an_empty_targets_file_is_no_target_yet() {
        for (name, text) in [
            ("sd.json", "[]"),
            ("sd.json", " [ ]\n"),
            ("sd.yaml", ""),
            ("sd.yaml", "[]\n"),
            ("sd.yml", "---\n"),
            ("sd.yaml", "# none yet\n"),
            ("sd.yaml", "~\n"),
            ("targets.toml", ""),
            ("targets.toml", "# none yet\n"),
            ("targets.toml", "targets = []\n"),
        ] {
            let targets = resolved(name, text).unwrap_or_else(|e| panic!("{name} {text:?}: {e:#}"));
            assert_eq!(urls(&targets), [] as [&str; 0], "{name} {text:?}");
        }
        let targets = resolved_with("sd.json", b"[]", None, &["http://127.0.0.1:4"]).unwrap();
        assert_eq!(urls(&targets), ["http://127.0.0.1:4/debug/vars"]);
        let err = format!("{:#}", resolve_with(&scrape_args(&[]), None).err().unwrap());
        assert!(err.starts_with("no target: name one or more URLs, or a --targets file"), "{err}");
    }

    /// A file_sd label may hold any scalar (other labels than the two of the URL are ignored);
    /// `__scheme__` and `__metrics_path__` are strings, and a list or a map is no label value.
    #[test]
    fn file_sd_labels_may_be_any_scalar() {
        let json = r#"[{"targets": ["a:1"], "labels":
            {"shard": 3, "canary": true, "weight": 0.5, "gone": null, "big": -1e300, "job": "x"}}]"#;
        let yaml = "- targets: [a:1]\n  labels: {shard: 3, canary: true, weight: 0.5, gone: null, \
                    tilde: ~, inf: .inf, big: 18446744073709551616, job: x}\n";
        for (name, text) in [("sd.json", json), ("sd.yaml", yaml)] {
            let targets = resolved(name, text).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert_eq!(urls(&targets), ["http://a:1/debug/vars"], "{name}");
        }
        for (label, value) in
            [("__scheme__", "3"), ("__scheme__", "true"), ("__metrics_path__", "null")]
        {
            for (name, text) in [
                (
                    "sd.json",
                    format!(r#"[{{"targets": ["a:1"], "labels": {{"{label}": {value}}}}}]"#),
                ),
                ("sd.yaml", format!("- targets: [a:1]\n  labels: {{{label}: {value}}}\n")),
            ] {
                let err = error(resolved(name, &text));
                assert!(err.ends_with(&format!("the label {label} must be a string")), "{err}");
            }
        }
        for (name, text) in [
            ("sd.json", r#"[{"targets": ["a:1"], "labels": {"zones": ["x", "y"]}}]"#),
            ("sd.json", r#"[{"targets": ["a:1"], "labels": {"zones": {"x": 1}}}]"#),
            ("sd.yaml", "- targets: [a:1]\n  labels: {zones: [x, y]}\n"),
            ("sd.yaml", "- targets: [a:1]\n  labels:\n    zones:\n      x: 1\n"),
        ] {
            let err = error(resolved(name, text));
            assert!(
                err.ends_with(
                    "the label \"zones\" is a list or a map: a label is a string, a number, a boolean or null"
                ),
                "{name}: {err}"
            );
        }
    }

    /// `__scheme__` is http or https in any case, written in lower case; `__metrics_path__` is
    /// a path; a target is host:port. Anything else refuses the file, naming what is wrong.
    #[test]
    fn names_and_memory_limits_are_read_in_every_format() {
        let toml = r#"
            [[targets]]
            url = "http://a:1"
            name = "checkout (eu)"
            memory_limit = "512MiB"
            [[targets]]
            url = "http://b:2"
            memory_limit = 1073741824
            [[targets]]
            url = "http://c:3"
            memory_limit_variable = "limits.memory"
            [[targets]]
            url = "http://d:4"
        "#;
        let json = r#"[{"targets": ["a:1"], "labels": {"name": "checkout (eu)", "memory_limit": "512MiB"}},
                       {"targets": ["b:2"], "labels": {"memory_limit": 1073741824, "job": "x"}}]"#;
        let yaml = "- targets: [a:1]\n  labels: {name: checkout (eu), memory_limit: 512MiB}\n\
                    - targets: [b:2]\n  labels: {memory_limit: 1073741824}\n";
        let a = Label {
            name: Some("checkout (eu)".into()),
            memory_limit: Some(512 << 20),
            ..Label::default()
        };
        let b = Label { memory_limit: Some(1 << 30), ..Label::default() };
        let c = Label { memory_limit_variable: Some("limits.memory".into()), ..Label::default() };
        let labels =
            |targets: Vec<Target>| targets.into_iter().map(|t| t.label).collect::<Vec<_>>();
        assert_eq!(
            labels(resolved("t.toml", toml).unwrap()),
            [a.clone(), b.clone(), c, Label::default()]
        );
        for (name, text) in [("sd.json", json), ("sd.yaml", yaml)] {
            let found = labels(resolved(name, text).unwrap_or_else(|e| panic!("{name}: {e:#}")));
            assert_eq!(found, [a.clone(), b.clone()], "{name}");
        }
        // A group's name is every one of its targets' name; a number is a name too.
        let group = r#"[{"targets": ["a:1", "b:2"], "labels": {"name": 7}}]"#;
        let found = labels(resolved("sd.json", group).unwrap());
        assert!(found.iter().all(|l| l.name.as_deref() == Some("7")), "{found:?}");
        // The target's name is part of it: renamed, it is a new target.
        let one = resolved("t.toml", "[[targets]]\nurl = \"http://a:1\"\nname = \"x\"\n").unwrap();
        let two = resolved("t.toml", "[[targets]]\nurl = \"http://a:1\"\nname = \"y\"\n").unwrap();
        assert!(one != two);
    }

    #[test]
    fn sizes_are_gomemlimits_syntax() {
        for (text, bytes) in [
            ("1", 1),
            ("4096B", 4096),
            ("1KiB", 1024),
            ("512MiB", 512 << 20),
            ("3GiB", 3 << 30),
            ("2TiB", 2 << 40),
            ("18446744073709551615", u64::MAX),
            ("18446744073709551615B", u64::MAX),
            ("16777215TiB", 16_777_215 << 40),
        ] {
            assert_eq!(parse_size(text).unwrap(), bytes, "{text}");
        }
        for text in [
            "", "MiB", "0", "0MiB", "-1", "1.5GiB", " 1GiB", "1 GiB", "1GB", "1gib", "1Mi", "+1",
            "0x10",
        ] {
            assert!(parse_size(text).is_err(), "{text:?} was read");
        }
        let over = format!("{:#}", parse_size("16777216TiB").unwrap_err());
        assert_eq!(over, "the size \"16777216TiB\" is over 2^64 bytes");
        let bad = format!("{:#}", parse_size("1GB").unwrap_err());
        assert!(bad.contains("B, KiB, MiB, GiB or TiB (as in GOMEMLIMIT: 512MiB)"), "{bad}");
        for (entry, says) in [
            ("memory_limit = 0", "a memory limit of 0 bytes is no limit"),
            ("memory_limit = -5", "a memory limit is not negative"),
            ("memory_limit = \"1GB\"", "not a whole number of bytes"),
            ("memory_limit = true", "a number of bytes above 0, or a size such as \"512MiB\""),
            ("name = \" \"", "its name is empty"),
            ("name = \"a\\u0007b\"", "holds a control character"),
            (
                "memory_limit = 1\nmemory_limit_variable = \"x\"",
                "both memory_limit and memory_limit_variable",
            ),
            ("memory_limit_variable = \"a..b\"", "not a dotted path"),
        ] {
            let text = format!("[[targets]]\nurl = \"http://a:1\"\n{entry}\n");
            let err = error(resolved("t.toml", &text));
            assert!(err.contains(says), "{entry}: {err}");
        }
        for (labels, says) in [
            (r#"{"memory_limit": 0}"#, "a number of bytes above 0"),
            (r#"{"memory_limit": -1}"#, "a number of bytes above 0"),
            (r#"{"memory_limit": 1.5}"#, "a number of bytes above 0"),
            (r#"{"memory_limit": "lots"}"#, "the label memory_limit"),
            (r#"{"memory_limit": true}"#, "the label memory_limit must be"),
            (r#"{"name": true}"#, "the label name must be a string"),
        ] {
            let text = format!(r#"[{{"targets": ["a:1"], "labels": {labels}}}]"#);
            let err = error(resolved("sd.json", &text));
            assert!(err.contains(says), "{labels}: {err}");
        }
    }

    #[test]
    fn file_sd_scheme_and_path_are_checked() {
        let group = |labels: &str| format!(r#"[{{"targets": ["a:1"], "labels": {{{labels}}}}}]"#);
        for (scheme, url) in
            [("HTTPS", "https://a:1/debug/vars"), ("Http", "http://a:1/debug/vars")]
        {
            let targets = resolved("sd.json", &group(&format!(r#""__scheme__": "{scheme}""#)));
            assert_eq!(urls(&targets.unwrap()), [url], "{scheme}");
        }
        for scheme in ["http://127.0.0.1:2/x?", "ftp", "", "https:", " http"] {
            let text = group(&format!(r#""__scheme__": "{scheme}""#));
            let err = error(resolved("sd.json", &text));
            assert!(
                err.ends_with("the label __scheme__ must be http or https (in any case)"),
                "{scheme:?}: {err}"
            );
            let yaml = format!("- targets: [a:1]\n  labels: {{__scheme__: '{scheme}'}}\n");
            let err = error(resolved("sd.yaml", &yaml));
            assert!(
                err.ends_with("the label __scheme__ must be http or https (in any case)"),
                "{err}"
            );
        }
        for path in ["/x?y", "/x#y", "/u@h", "/a://b", "/debug/vars?x=1"] {
            let err =
                error(resolved("sd.json", &group(&format!(r#""__metrics_path__": "{path}""#))));
            assert!(
                err.ends_with(
                    "the label __metrics_path__ is a path: it may not hold ?, #, @ or ://"
                ),
                "{path}: {err}"
            );
        }
        let targets = resolved("sd.json", &group(r#""__metrics_path__": "/v/x:y""#)).unwrap();
        assert_eq!(urls(&targets), ["http://a:1/v/x:y"]);
        for target in ["a:1?x", "a:1#x", "a:1\\\\x"] {
            let text = format!(r#"[{{"targets": ["{target}"]}}]"#);
            let err = error(resolved("sd.json", &text));
            assert!(
                err.ends_with(
                    "a file_sd target is host:port, without scheme, path, query or userinfo"
                ),
                "{target}: {err}"
            );
        }
    }

    /// A YAML alias bomb (nine levels of nine aliases: 9^9 strings once expanded) is refused from
    /// the event stream, before yaml-rust2 would expand it; so is any alias or anchor, and a
    /// document nested past the bound.
    #[test]
    fn yaml_aliases_anchors_and_deep_nesting_are_refused_before_loading() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (name, previous) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip('a'..) {
            let items = vec![format!("*{previous}"); 9].join(", ");
            bomb.push_str(&format!("{name}: &{name} [{items}]\n"));
        }
        let err = error(resolved("bomb.yaml", &bomb));
        assert!(
            err.ends_with(
                "line 1: YAML aliases and anchors (*name, &name) are not read: write each value out"
            ),
            "{err}"
        );
        let alias = "- targets: [a:1]\n  labels: &l {job: x}\n- targets: [b:1]\n  labels: *l\n";
        let err = error(resolved("sd.yaml", alias));
        assert!(err.contains("line 2: YAML aliases and anchors"), "{err}");
        let anchor = "- targets: [a:1]\n  labels: {job: &j x}\n";
        assert!(error(resolved("sd.yaml", anchor)).contains("YAML aliases and anchors"));
        let deep =
            format!("- targets: [a:1]\n  labels: {{x: {}{}}}\n", "[".repeat(40), "]".repeat(40));
        let err = error(resolved("sd.yaml", &deep));
        assert!(err.ends_with("line 2: the YAML is nested more than 32 deep"), "{err}");
    }

    /// A targets file over 4 MiB is refused before it is parsed, in every format, whether the
    /// caller read it or `resolve` does (which reads no more than it needs to tell).
    #[test]
    fn a_targets_file_over_4_mib_is_refused() {
        for (name, empty) in [("sd.json", "[]"), ("sd.yaml", "[]"), ("targets.toml", "#")] {
            let mut text = empty.as_bytes().to_vec();
            text.resize(MAX_TARGETS_FILE_BYTES, b' ');
            let url = ["http://127.0.0.1:5"];
            let targets = resolved_with(name, &text, None, &url).unwrap();
            assert_eq!(urls(&targets), ["http://127.0.0.1:5/debug/vars"], "{name}");
            text.push(b' ');
            let err = error(resolved_with(name, &text, None, &url));
            assert!(
                err.ends_with(
                    "not valid: it is over 4 MiB (4194304 bytes), the most a targets file may hold"
                ),
                "{name}: {err}"
            );
        }
        let path =
            std::env::temp_dir().join(format!("expvar-heap-big-{}.json", std::process::id()));
        std::fs::write(&path, vec![b' '; 2 * MAX_TARGETS_FILE_BYTES]).unwrap();
        let resolved = resolve(&scrape_args(&["--targets", path.to_str().unwrap()]));
        let _ = std::fs::remove_file(&path);
        assert!(error(resolved).contains("it is over 4 MiB"));
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
