//! TLS for the scrapes: the rustls configuration of one target's [`Tls`] settings, and the one
//! sentence each TLS failure becomes.
//!
//! Trust: the system's CA certificates plus those of `--ca-cert`. What is checked depends on the
//! certificate the target presents:
//!
//! - signed by a CA (of the system or of `--ca-cert`): webpki's full checks, the chain to that
//!   CA, the host name of the URL, the dates of every certificate of the chain, and key usage.
//!   A CA-signed certificate found in `--ca-cert` (a `fullchain.pem`) is no exception: it is
//!   checked like any other, its CA in the file (or the system's) being the root.
//! - self-signed (its issuer and subject, DER-equal) and in `--ca-cert` byte for byte: pinned,
//!   trusted as it is, without a chain. That is how a certificate made with `openssl req -x509`
//!   works, which is a CA certificate (`CA:TRUE`) that the server also uses as its own, and which
//!   webpki refuses as an end entity (`CaUsedAsEndEntity`) whatever the roots. A pinned
//!   certificate must still be valid now (its notBefore and notAfter, read here) and valid for
//!   the URL's host (its subjectAltName, by webpki), as curl's `--cacert` checks it: one
//!   `--ca-cert` serves every target of a targets file, and the holder of one target's key must
//!   not pass for another.
//!
//! Either way the handshake's signature is checked against the certificate's key, so only the
//! holder of that key passes.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, OtherError,
    RootCertStore, SignatureScheme,
};

use super::targets::Tls;

/// The rustls configuration of `tls`: trust as described above (or none at all with
/// `insecure_skip_verify`), the client certificate when there is one, and ALPN for HTTP/2 and
/// HTTP/1.1.
pub fn client_config(tls: &Tls) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut ca_file = Vec::new();
    if let Some(path) = &tls.ca_cert {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read the CA certificate {}", path.display()))?;
        ca_file = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is no PEM certificate file", path.display()))?;
        if ca_file.is_empty() {
            bail!("{} holds no PEM certificate", path.display());
        }
    }
    let trust = if tls.insecure_skip_verify {
        Trust::Anything
    } else {
        // The system's store as rustls-native-certs finds it (SSL_CERT_FILE and SSL_CERT_DIR
        // first); a certificate it cannot parse is skipped, as reqwest skips it.
        let system = rustls_native_certs::load_native_certs().certs;
        Trust::checked(system, ca_file, &provider)?
    };
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = Arc::new(Verifier { trust, algorithms });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key_path)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .with_context(|| {
                    format!("cannot read the client certificate {}", cert.display())
                })?;
            if chain.is_empty() {
                bail!("{} holds no PEM certificate", cert.display());
            }
            let key = PrivateKeyDer::from_pem_file(key_path)
                .with_context(|| format!("cannot read the client key {}", key_path.display()))?;
            builder.with_client_auth_cert(chain, key).with_context(|| {
                format!(
                    "{} and {} are no certificate and its key",
                    cert.display(),
                    key_path.display()
                )
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => bail!("--client-cert and --client-key go together"),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Which server certificates are trusted. Whatever it is, the handshake's signature is checked
/// against the certificate's key, as TLS requires for the keys to be agreed.
#[derive(Debug)]
struct Verifier {
    trust: Trust,
    algorithms: WebPkiSupportedAlgorithms,
}

#[derive(Debug)]
enum Trust {
    /// Full checks by webpki (none when there is no CA at all), or, for a self-signed
    /// certificate of `--ca-cert` that is exactly the target's, the checks of [`check_pinned`].
    Checked { webpki: Option<Arc<WebPkiServerVerifier>>, pinned: Vec<CertificateDer<'static>> },
    /// `--insecure-skip-verify`: any certificate.
    Anything,
}

impl Trust {
    /// The roots are the `system`'s certificates and those of the `--ca-cert` file (`ca_file`);
    /// of the file's, the self-signed ones may be pinned.
    fn checked(
        system: Vec<CertificateDer<'static>>,
        ca_file: Vec<CertificateDer<'static>>,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Trust> {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(system);
        roots.add_parsable_certificates(ca_file.iter().cloned());
        let webpki = if roots.is_empty() {
            None // no CA at all: only a pinned certificate can pass
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .context("cannot set up TLS verification")?,
            )
        };
        let pinned = ca_file.into_iter().filter(|cert| self_signed(cert)).collect();
        Ok(Trust::Checked { webpki, pinned })
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Trust::Checked { webpki, pinned } = &self.trust else {
            return Ok(ServerCertVerified::assertion());
        };
        if pinned.iter().any(|pinned| pinned.as_ref() == end_entity.as_ref()) {
            return check_pinned(end_entity, server_name, now)
                .map(|()| ServerCertVerified::assertion())
                .map_err(rustls::Error::InvalidCertificate);
        }
        match webpki {
            Some(webpki) => webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            None => Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Whether `cert` is self-signed: its issuer is its subject, DER-equal.
fn self_signed(cert: &CertificateDer<'_>) -> bool {
    head(cert).is_some_and(|head| head.issuer == head.subject)
}

/// The checks of a pinned certificate, `end_entity` (its bytes are those of `--ca-cert`): valid
/// `now`, and valid for `server_name` (its subjectAltName; the common name is not read, as
/// webpki reads it for no certificate).
fn check_pinned(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<(), CertificateError> {
    let refused = |why: Pinned| CertificateError::Other(OtherError(Arc::new(why)));
    let head = head(end_entity).ok_or(CertificateError::BadEncoding)?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if now < head.not_before.unix() {
        return Err(refused(Pinned::NotValidYet { not_before: head.not_before }));
    }
    if now > head.not_after.unix() {
        return Err(refused(Pinned::Expired { not_after: head.not_after }));
    }
    let cert =
        webpki::EndEntityCert::try_from(end_entity).map_err(|_| CertificateError::BadEncoding)?;
    match cert.verify_is_valid_for_subject_name(server_name) {
        Ok(()) => Ok(()),
        Err(webpki::Error::CertNotValidForName(context)) => {
            let host = Host::of(server_name);
            Err(refused(if context.presented.is_empty() {
                Pinned::NoSubjectAltName { host }
            } else {
                let names = context.presented.iter().map(|name| general_name(name)).collect();
                Pinned::NotForName { host, names }
            }))
        }
        Err(other) => Err(CertificateError::Other(OtherError(Arc::new(other)))),
    }
}

/// A name of a certificate as webpki's context lists it (the `Debug` of its general name:
/// `DnsName("a.example")`, `IpAddress(127.0.0.1)`), as it is written in a certificate request.
fn general_name(listed: &str) -> String {
    if let Some(dns) = listed.strip_prefix("DnsName(\"").and_then(|n| n.strip_suffix("\")")) {
        return format!("DNS:{dns}");
    }
    if let Some(ip) = listed.strip_prefix("IpAddress(").and_then(|n| n.strip_suffix(')')) {
        return format!("IP:{ip}");
    }
    listed.to_owned()
}

/// Why a pinned certificate (self-signed, given with `--ca-cert`) was refused: its sentence.
#[derive(Debug)]
enum Pinned {
    Expired {
        not_after: CertTime,
    },
    NotValidYet {
        not_before: CertTime,
    },
    /// Not valid for `host`, the URL's; it lists `names`.
    NotForName {
        host: Host,
        names: Vec<String>,
    },
    /// It names no host at all.
    NoSubjectAltName {
        host: Host,
    },
}

/// The host of a URL, as a certificate names it.
#[derive(Debug)]
struct Host {
    /// As in the URL.
    name: String,
    ip: bool,
}

impl Host {
    fn of(server_name: &ServerName<'_>) -> Host {
        let ip = matches!(server_name, ServerName::IpAddress(_));
        Host { name: server_name.to_str().into_owned(), ip }
    }

    /// The command that makes a self-signed certificate for this host.
    fn make_one(&self) -> String {
        let name = &self.name;
        let kind = if self.ip { "IP" } else { "DNS" };
        format!(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
             -subj /CN={name} -addext subjectAltName={kind}:{name} -keyout key.pem -out cert.pem"
        )
    }
}

impl std::fmt::Display for Pinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the target's certificate (pinned with --ca-cert) ")?;
        match self {
            Pinned::Expired { not_after } => write!(f, "expired at {not_after}: make a new one"),
            Pinned::NotValidYet { not_before } => {
                write!(f, "is valid only from {not_before} (is this machine's clock right?)")
            }
            Pinned::NotForName { host, names } => write!(
                f,
                "is not valid for {} (it names {}): scrape it by a name it lists, or make one \
                 that names its host: `{}`",
                host.name,
                names.join(", "),
                host.make_one()
            ),
            Pinned::NoSubjectAltName { host } => write!(
                f,
                "has no subjectAltName, so it is valid for no host (its common name is not \
                 read): make one that names its host: `{}`",
                host.make_one()
            ),
        }
    }
}

impl std::error::Error for Pinned {}

/// What [`head`] reads of a certificate.
#[derive(Debug)]
struct Head<'a> {
    /// The issuer's Name, all of its DER.
    issuer: &'a [u8],
    /// The subject's Name, all of its DER.
    subject: &'a [u8],
    not_before: CertTime,
    not_after: CertTime,
}

/// The issuer, validity and subject of a DER certificate: the TBSCertificate's fields up to the
/// subject (RFC 5280, 4.1), or `None` when they cannot be read.
fn head(cert: &[u8]) -> Option<Head<'_>> {
    const SEQUENCE: u8 = 0x30;
    let (certificate, _) = der(cert, SEQUENCE)?;
    let (tbs, _) = der(certificate.contents, SEQUENCE)?;
    let mut fields = tbs.contents;
    let mut next = |tag| {
        let (field, rest) = der(fields, tag)?;
        fields = rest;
        Some(field)
    };
    if tbs.contents.first() == Some(&0xa0) {
        next(0xa0)?; // version, [0] EXPLICIT (absent in a v1 certificate)
    }
    next(0x02)?; // serialNumber
    next(SEQUENCE)?; // signature (the algorithm)
    let issuer = next(SEQUENCE)?.all;
    let validity = next(SEQUENCE)?.contents;
    let subject = next(SEQUENCE)?.all;
    let (not_before, rest) = CertTime::read(validity)?;
    let (not_after, rest) = CertTime::read(rest)?;
    rest.is_empty().then_some(Head { issuer, subject, not_before, not_after })
}

/// One DER element.
struct Der<'a> {
    /// Its contents.
    contents: &'a [u8],
    /// All of its bytes: tag, length and contents.
    all: &'a [u8],
}

/// The DER element at the start of `input` if its tag (one byte) is `tag`, and the bytes after
/// it.
fn der(input: &[u8], tag: u8) -> Option<(Der<'_>, &[u8])> {
    let (&found, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        // Long form: 1 to 4 bytes of length (0x80, indefinite, is no DER).
        0x81..=0x84 => {
            let (bytes, rest) = rest.split_at_checked(usize::from(first & 0x7f))?;
            (bytes.iter().fold(0, |length, &byte| length << 8 | usize::from(byte)), rest)
        }
        _ => return None,
    };
    if found != tag || rest.len() < length {
        return None;
    }
    let header = input.len() - rest.len();
    let (all, after) = input.split_at(header + length);
    Some((Der { contents: &all[header..], all }, after))
}

/// A time of a certificate's validity, UTC, to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CertTime {
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl CertTime {
    /// The Time at the start of `input` (RFC 5280, 4.1.2.5: UTCTime `YYMMDDHHMMSSZ`, a year
    /// `YY` of 50 or more being 19YY, else 20YY; GeneralizedTime `YYYYMMDDHHMMSSZ`), and the
    /// bytes after it.
    fn read(input: &[u8]) -> Option<(CertTime, &[u8])> {
        const UTC_TIME: u8 = 0x17;
        const GENERALIZED_TIME: u8 = 0x18;
        let (year, mut text, rest) = if let Some((time, rest)) = der(input, UTC_TIME) {
            let (yy, text) = digits(time.contents, 2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text, rest)
        } else {
            let (time, rest) = der(input, GENERALIZED_TIME)?;
            let (year, text) = digits(time.contents, 4)?;
            (year, text, rest)
        };
        let mut two = || {
            let (n, after) = digits(text, 2)?;
            text = after;
            u8::try_from(n).ok()
        };
        let (month, day, hour, minute, second) = (two()?, two()?, two()?, two()?, two()?);
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days_in_month = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        // Seconds, no fraction, and Z (RFC 5280 allows no other form).
        let valid = text == b"Z"
            && (1..=12).contains(&month)
            && (1..=days_in_month).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        valid.then_some((CertTime { year, month, day, hour, minute, second }, rest))
    }

    /// Seconds since the Unix epoch (negative before it).
    fn unix(&self) -> i64 {
        // Days before the month, in a common year.
        const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        // The leap years from year 1 to `year` - 1 (the proleptic Gregorian calendar).
        let leap_years_before = |year: i64| {
            let y = year - 1;
            y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)
        };
        let year = self.year;
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = 365 * (year - 1970) + leap_years_before(year) - leap_years_before(1970)
            + BEFORE[usize::from(self.month - 1)]
            + i64::from(leap && self.month > 2)
            + i64::from(self.day)
            - 1;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

/// RFC 3339, `2026-01-01T00:00:00Z`.
impl std::fmt::Display for CertTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let CertTime { year, month, day, hour, minute, second } = self;
        write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }
}

/// The number written by the first `n` bytes of `text`, all ASCII digits, and the bytes after.
fn digits(text: &[u8], n: usize) -> Option<(i64, &[u8])> {
    let (number, rest) = text.split_at_checked(n)?;
    number.iter().all(u8::is_ascii_digit).then_some(())?;
    Some((number.iter().fold(0, |value, digit| value * 10 + i64::from(digit - b'0')), rest))
}

/// Where to give a CA, in every message that needs one.
const CA_HINT: &str = "--ca-cert (or ca_cert in the targets file)";

/// One sentence for a TLS failure, with what to do about it; never rustls's debug text.
/// `client_cert`: whether the target has a client certificate to present.
pub fn describe(error: &rustls::Error, client_cert: bool) -> String {
    use rustls::Error as E;
    let sentence = match error {
        E::InvalidCertificate(why) => return certificate(why),
        // The first bytes back were no TLS record: most often an HTTP answer ("HTTP/1.1 400").
        E::InvalidMessage(_) => {
            "the target did not answer in TLS (a plain HTTP port?): use http://".to_owned()
        }
        E::AlertReceived(alert) => return alert_received(*alert, client_cert),
        E::NoCertificatesPresented => "the target presented no certificate".to_owned(),
        E::PeerIncompatible(_) => {
            "the target offers no TLS version or cipher suite in common (TLS 1.2 or 1.3 with \
             modern suites is needed)"
                .to_owned()
        }
        E::PeerMisbehaved(_) => "the target broke the TLS protocol".to_owned(),
        _ => "the TLS connection failed".to_owned(),
    };
    format!("TLS: {sentence}")
}

fn certificate(why: &CertificateError) -> String {
    use CertificateError as C;
    if let C::Other(other) = why
        && let Some(pinned) = other.0.downcast_ref::<Pinned>()
    {
        return format!("TLS: {pinned}");
    }
    let sentence = match why {
        C::UnknownIssuer => format!(
            "the target's certificate is not signed by a CA this machine trusts: pass its CA, or \
             the certificate itself when it is self-signed, with {CA_HINT}"
        ),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "the target's certificate is not valid for the host name in the URL: scrape it by a \
             name (or IP address) that the certificate lists"
                .to_owned()
        }
        C::ExpiredContext { not_after, .. } => {
            format!("the target's certificate expired at {}", rfc3339(*not_after))
        }
        C::Expired => "the target's certificate has expired".to_owned(),
        C::NotValidYetContext { not_before, .. } => format!(
            "the target's certificate is valid only from {} (is this machine's clock right?)",
            rfc3339(*not_before)
        ),
        C::NotValidYet => {
            "the target's certificate is not valid yet (is this machine's clock right?)".to_owned()
        }
        C::Revoked => "the target's certificate is revoked".to_owned(),
        C::BadSignature => "the target's certificate has a bad signature".to_owned(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "the target's certificate is not meant for a TLS server".to_owned()
        }
        C::BadEncoding => "the target's certificate cannot be read".to_owned(),
        C::Other(other)
            if other.0.downcast_ref::<webpki::Error>()
                == Some(&webpki::Error::CaUsedAsEndEntity) =>
        {
            format!(
                "the target presents a CA certificate as its own (as `openssl req -x509` makes \
             them): pass that very certificate with {CA_HINT} to trust it"
            )
        }
        _ => format!(
            "the target's certificate was refused: pass its CA with {CA_HINT}, or \
             --insecure-skip-verify to skip the checks"
        ),
    };
    format!("TLS: {sentence}")
}

/// A time of rustls as RFC 3339, `2026-01-01T00:00:00Z`.
fn rfc3339(time: UnixTime) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(time.as_secs());
    humantime::format_rfc3339_seconds(time).to_string()
}

/// The alert named in rustls's text of an alert from the peer (`received fatal alert:
/// BadCertificate`, rustls's `Display` of `Error::AlertReceived`, which names the alert as its
/// `Debug` does), for the alerts that [`alert_received`] words.
pub fn alert_in(text: &str) -> Option<AlertDescription> {
    use AlertDescription as A;
    let name = text.strip_prefix("received fatal alert: ")?;
    [
        A::CertificateRequired,
        A::BadCertificate,
        A::UnknownCA,
        A::CertificateUnknown,
        A::UnsupportedCertificate,
        A::CertificateExpired,
        A::CertificateRevoked,
        A::AccessDenied,
        A::ProtocolVersion,
        A::HandshakeFailure,
        A::InsufficientSecurity,
        A::UnrecognisedName,
    ]
    .into_iter()
    .find(|alert| format!("{alert:?}") == name)
}

/// One sentence for an alert the target sent. `client_cert`: whether we had a client
/// certificate to present (a target that requires one sends `bad_certificate` or
/// `certificate_required` when none came).
pub fn alert_received(alert: AlertDescription, client_cert: bool) -> String {
    use AlertDescription as A;
    let refused_ours = matches!(
        alert,
        A::BadCertificate
            | A::UnknownCA
            | A::CertificateUnknown
            | A::UnsupportedCertificate
            | A::CertificateRequired
            | A::AccessDenied
    );
    let sentence = match alert {
        _ if refused_ours && !client_cert => {
            "the target requires a client certificate: pass --client-cert and --client-key"
        }
        A::CertificateRequired => {
            "the target asks for a client certificate: pass --client-cert and --client-key"
        }
        A::BadCertificate
        | A::UnknownCA
        | A::CertificateUnknown
        | A::UnsupportedCertificate
        | A::AccessDenied => {
            "the target refused our client certificate (--client-cert): is it signed by a CA the \
             target trusts?"
        }
        A::CertificateExpired => "the target refused our client certificate: it has expired",
        A::CertificateRevoked => "the target refused our client certificate: it is revoked",
        A::ProtocolVersion | A::HandshakeFailure | A::InsufficientSecurity => {
            "the target refused the handshake: no TLS version or cipher suite in common"
        }
        A::UnrecognisedName => "the target does not serve the host name in the URL",
        _ => "the target ended the TLS connection with an alert",
    };
    format!("TLS: {sentence}")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Made with `openssl ca -selfsign` (OpenSSL 3.0) from a P-256 key and a request for
    /// `/CN=a` with subjectAltName `DNS:a.example`: `-startdate 200102030405Z -enddate
    /// 210607080910Z`, two UTCTimes.
    const OPENSSL_UTC_TIMES: &str = "-----BEGIN CERTIFICATE-----
MIIBPDCB5KADAgECAgEBMAoGCCqGSM49BAMCMAwxCjAIBgNVBAMMAWEwHhcNMjAw
MTAyMDMwNDA1WhcNMjEwNjA3MDgwOTEwWjAMMQowCAYDVQQDDAFhMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAErGcZPq2ecyXiot+rqyD2DjlDaoTqHXzHZCMyBa4L
4w1fmiHZZ6GCWGpD3cVyoOC1PfiFpJZQ1cbkNqkNG3ufIKM3MDUwFAYDVR0RBA0w
C4IJYS5leGFtcGxlMB0GA1UdDgQWBBQ2f7/EWAcC0AQn/Pr+B9lZzwhnOjAKBggq
hkjOPQQDAgNHADBEAiBXjwGevoOf1kKnieofIqWm3nm+TGeiuPjsGIvq9mn9jwIg
T5OYkN1OuTDLX6llgso/+lgHqEmrzxMQfcwCpRlqv3o=
-----END CERTIFICATE-----";

    /// The same for `/CN=b` (`DNS:b.example`): `-startdate 991231235959Z` (a UTCTime of 1999)
    /// `-enddate 20510203040506Z` (a GeneralizedTime, as every time from 2050 on).
    const OPENSSL_GENERALIZED_TIME: &str = "-----BEGIN CERTIFICATE-----
MIIBQDCB5qADAgECAgECMAoGCCqGSM49BAMCMAwxCjAIBgNVBAMMAWIwIBcNOTkx
MjMxMjM1OTU5WhgPMjA1MTAyMDMwNDA1MDZaMAwxCjAIBgNVBAMMAWIwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAART1sLXGyG0H9DUp4sBN/W3niqQpocXw03sXQrj
aThLRcpa1ShMTKVQQxn28WwFKUnAFS0aWRC8Zqxr770J4k35ozcwNTAUBgNVHREE
DTALggliLmV4YW1wbGUwHQYDVR0OBBYEFH/LlUO1bQKNxKKm9NYDpM9hoR+iMAoG
CCqGSM49BAMCA0kAMEYCIQDg2Tyit9LxTwBOyBZDt14VDV8borhGLQEcGeCg+JMe
zgIhAJpWyoJeg6zcvhrYnA3TyRov8pAqUH38DI4C0X2LlTuf
-----END CERTIFICATE-----";

    // Made by rcgen 0.13 (`CertificateParams` with a common name, notBefore 2020-01-01 and
    // notAfter 2030-01-01 from `date_time_ymd`, the subjectAltNames told, a P-256 key), as the
    // tests of `tests/scrape.rs` make theirs. (rcgen is not called here: its `time` crate would
    // make some comparisons of `Duration` ambiguous in the other unit tests of this binary.)
    /// Self-signed, `CA:TRUE` (as `openssl req -x509` makes them), `/CN=self`, `IP:127.0.0.1`.
    const SELF_LOOPBACK: &str = "-----BEGIN CERTIFICATE-----
MIIBYzCCAQmgAwIBAgIUcp/r06aCDCmDiqC8oXnzt7kBsyMwCgYIKoZIzj0EAwIw
DzENMAsGA1UEAwwEc2VsZjAeFw0yMDAxMDEwMDAwMDBaFw0zMDAxMDEwMDAwMDBa
MA8xDTALBgNVBAMMBHNlbGYwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATCdIDP
SmqIFV2YZ/zhpaJWQloPJupq82jpLzCAnkZstdiJdsF48iuTot45nslF3iBkNl4H
aITFXbPI6jcEbdY8o0MwQTAPBgNVHREECDAGhwR/AAABMB0GA1UdDgQWBBTLnFk4
x3IazolrsGRs+NnAh3tf0TAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gA
MEUCIQCqgd/nvGU6p6Wq6m4ozQlvF6SGbCPFHnw39MPkhpWqEgIgL+4UEjnieM1Q
rfT+R1bzWad836Xc2HzC4jCa8cQBNlI=
-----END CERTIFICATE-----";
    /// The same with `DNS:other.example, IP:10.0.0.1`.
    const SELF_OTHER: &str = "-----BEGIN CERTIFICATE-----
MIIBcjCCARigAwIBAgIUAY6zkXujLAqzlGWOqwUWYI1SXlMwCgYIKoZIzj0EAwIw
DzENMAsGA1UEAwwEc2VsZjAeFw0yMDAxMDEwMDAwMDBaFw0zMDAxMDEwMDAwMDBa
MA8xDTALBgNVBAMMBHNlbGYwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATtrez5
hQLEZDCTKMcoGDerFFJ3oWt+hIPQGOQPG5tPW4W1hemcFaLRqkIXY8hmyJ+UMyuz
T2Ktwm3tzhC7/L5Co1IwUDAeBgNVHREEFzAVgg1vdGhlci5leGFtcGxlhwQKAAAB
MB0GA1UdDgQWBBRC9p8Cwq6lOVE7rbH1R11VVENtYDAPBgNVHRMBAf8EBTADAQH/
MAoGCCqGSM49BAMCA0gAMEUCIQCaowTZy6bwE6kID97lLdJsk42PDdwTq1mzWcKl
NnpTlQIgUIxYRp2zEIidtxcV/5qbKG/KE0EJfjETAxahS8j4S1E=
-----END CERTIFICATE-----";
    /// The same with no subjectAltName.
    const SELF_NAMELESS: &str = "-----BEGIN CERTIFICATE-----
MIIBUTCB+KADAgECAhRR4fED9DGOcuhxC1uemoGdrOK1GDAKBggqhkjOPQQDAjAP
MQ0wCwYDVQQDDARzZWxmMB4XDTIwMDEwMTAwMDAwMFoXDTMwMDEwMTAwMDAwMFow
DzENMAsGA1UEAwwEc2VsZjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCfHJwIU
IlJ42IKQ1Wleoxl1tVgLWHs9jYFM5GFWHBmOPcdqpqvi099495FdR+l/sUxnzAOJ
Zrtc3h0vf+pFbnGjMjAwMB0GA1UdDgQWBBRgHDPaKHwsLZ8hvjf1ZC8FbXcWNDAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCICaoi3gHflibdxecPijX
dyi+OECaSMKahkVUZ20JKwJQAiEArZqbBqja34qQOPLELtrm6jmXl3MQwkWMtf7S
TvdFdFo=
-----END CERTIFICATE-----";
    /// Self-signed, `/CN=long`, `IP:127.0.0.1`, notAfter 2060-03-04 (a GeneralizedTime).
    const LONG: &str = "-----BEGIN CERTIFICATE-----
MIIBNDCB26ADAgECAhQWQGfvmhABPcYOW7yBJplNSouPPzAKBggqhkjOPQQDAjAP
MQ0wCwYDVQQDDARsb25nMCAXDTIwMDEwMTAwMDAwMFoYDzIwNjAwMzA0MDAwMDAw
WjAPMQ0wCwYDVQQDDARsb25nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqLtp
8tTX8KmWSBf7CkUEimPxKUECx2Pk9BXYDIpTs/jCabpCgtAj8gB9Tpq+y+/wKUrE
7j95JnIeVkNRiAyty6MTMBEwDwYDVR0RBAgwBocEfwAAATAKBggqhkjOPQQDAgNI
ADBFAiAc7vGFqv5hDAwzSyg8YMZyDhz4IncR1uq9tllo6Oh4DAIhALIdiP+yVKaD
wnliXBb9py2UBxx9FpKOHMzQpW2kjfa2
-----END CERTIFICATE-----";
    /// A CA, `/CN=a CA`, `CA:TRUE`.
    const CA: &str = "-----BEGIN CERTIFICATE-----
MIIBUDCB+KADAgECAhQFNMESHztI/5KRy7oEHgWXGxorhTAKBggqhkjOPQQDAjAP
MQ0wCwYDVQQDDARhIENBMB4XDTIwMDEwMTAwMDAwMFoXDTMwMDEwMTAwMDAwMFow
DzENMAsGA1UEAwwEYSBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABAixe83l
LqOqdd1+0kk5V3syC2/UqmhP4Ulaa8GGRwNWZ7n7pylJuOaWpUFbm16+AqcFv+Jr
qxoq5n6sNAwEeY2jMjAwMB0GA1UdDgQWBBQGHjqYjNackSh6hzMcXGQe8bO+dDAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIDEML6zBbcI3o797OSae
C71R9zKiXPEMSWyoKvNvut0AAiAaFAQ80djImLGcVRuxkD/UIshdubb4zQmvbK0S
ukrAHQ==
-----END CERTIFICATE-----";
    /// Signed by [`CA`]: `/CN=leaf`, `IP:127.0.0.1`.
    const LEAF: &str = "-----BEGIN CERTIFICATE-----
MIIBMTCB2aADAgECAhR88d1d5yH+5LBSUwLVBrAnQ+PrATAKBggqhkjOPQQDAjAP
MQ0wCwYDVQQDDARhIENBMB4XDTIwMDEwMTAwMDAwMFoXDTMwMDEwMTAwMDAwMFow
DzENMAsGA1UEAwwEbGVhZjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABIwS0UVa
sG4Dx1GpPNKfNbyy4dnfqFlx6rpbHBWW5x65/s3Dn+hqH2GKqA+r0WTpuyEx5ZBb
PskaMEyM4jtoOFajEzARMA8GA1UdEQQIMAaHBH8AAAEwCgYIKoZIzj0EAwIDRwAw
RAIgMkxYcpEr6JhPDLZgowv34paUk7tVSVm2vNrzHvcK2L0CIFodo5HKhaq+BWz+
Sd5Ih7HzXDmwmIFKmGq6BVvVg94r
-----END CERTIFICATE-----";

    fn pem(text: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(text.as_bytes()).unwrap()
    }

    /// A certificate's validity as RFC 3339 and as Unix seconds.
    fn validity(cert: &[u8]) -> [(String, i64); 2] {
        let head = head(cert).expect("a readable certificate");
        [head.not_before, head.not_after].map(|time| (time.to_string(), time.unix()))
    }

    /// Seconds since the Unix epoch, from Python's `calendar.timegm`.
    const S_2020_01_01: i64 = 1_577_836_800;
    const S_2030_01_01: i64 = 1_893_456_000;

    #[test]
    fn the_validity_is_read_from_certificates_of_openssl_and_rcgen() {
        let utc = pem(OPENSSL_UTC_TIMES);
        assert_eq!(
            validity(&utc),
            [
                ("2020-01-02T03:04:05Z".to_owned(), 1_577_934_245),
                ("2021-06-07T08:09:10Z".to_owned(), 1_623_053_350)
            ]
        );
        assert!(self_signed(&utc));
        let generalized = pem(OPENSSL_GENERALIZED_TIME);
        assert_eq!(
            validity(&generalized),
            [
                ("1999-12-31T23:59:59Z".to_owned(), 946_684_799),
                ("2051-02-03T04:05:06Z".to_owned(), 2_559_009_906)
            ]
        );
        assert!(self_signed(&generalized));

        // rcgen writes a UTCTime before 2050 and a GeneralizedTime from 2050 on.
        let long = pem(LONG);
        assert_eq!(
            validity(&long),
            [
                ("2020-01-01T00:00:00Z".to_owned(), S_2020_01_01),
                ("2060-03-04T00:00:00Z".to_owned(), 2_845_584_000)
            ]
        );
        assert!(self_signed(&long));
        assert!(self_signed(&pem(SELF_LOOPBACK)));

        // Signed by a CA: its issuer is the CA's name, not its own.
        assert!(self_signed(&pem(CA)));
        assert!(!self_signed(&pem(LEAF)));
        assert_eq!(
            validity(&pem(LEAF)),
            [
                ("2020-01-01T00:00:00Z".to_owned(), S_2020_01_01),
                ("2030-01-01T00:00:00Z".to_owned(), S_2030_01_01)
            ]
        );

        // Cut anywhere inside its head, a certificate cannot be read.
        for end in 0..200 {
            assert!(head(&utc[..end]).is_none(), "{end}");
        }
        assert!(head(b"").is_none());
    }

    #[test]
    fn times_are_read_as_rfc_5280_writes_them_and_no_other_way() {
        let read = |tag: u8, text: &str| {
            let mut der = vec![tag, text.len() as u8];
            der.extend_from_slice(text.as_bytes());
            der.extend_from_slice(b"rest");
            CertTime::read(&der).map(|(time, rest)| {
                assert_eq!(rest, b"rest");
                (time.to_string(), time.unix())
            })
        };
        let (utc, generalized) = (0x17, 0x18);
        let at = |text: &str, unix| Some((text.to_owned(), unix));
        assert_eq!(read(utc, "700101000000Z"), at("1970-01-01T00:00:00Z", 0));
        assert_eq!(read(utc, "500101000000Z"), at("1950-01-01T00:00:00Z", -631_152_000));
        assert_eq!(read(utc, "491231235959Z"), at("2049-12-31T23:59:59Z", 2_524_607_999));
        assert_eq!(read(utc, "000301000000Z"), at("2000-03-01T00:00:00Z", 951_868_800));
        assert_eq!(read(utc, "000229120000Z"), at("2000-02-29T12:00:00Z", 951_825_600));
        assert_eq!(
            read(generalized, "99991231235959Z"),
            at("9999-12-31T23:59:59Z", 253_402_300_799)
        );
        assert_eq!(read(generalized, "20300101000000Z"), at("2030-01-01T00:00:00Z", S_2030_01_01));
        for (tag, bad) in [
            (utc, "010229000000Z"),             // 2001 is no leap year
            (utc, "211301000000Z"),             // month 13
            (utc, "210100000000Z"),             // day 0
            (utc, "210101240000Z"),             // hour 24
            (utc, "210101006000Z"),             // minute 60
            (utc, "2101010000Z"),               // no seconds
            (utc, "210101000000"),              // no Z
            (utc, "210101000000+0100"),         // an offset
            (utc, "20210101000000Z"),           // four digits of year in a UTCTime
            (generalized, "210101000000Z"),     // two in a GeneralizedTime
            (generalized, "20210101000000.5Z"), // a fraction
            (generalized, "2021010100000aZ"),
            (0x04, "20210101000000Z"), // no time at all (an OCTET STRING)
        ] {
            assert_eq!(read(tag, bad), None, "{bad}");
        }
        // A length past the end.
        assert!(CertTime::read(&[0x17, 13, b'7', b'0']).is_none());
    }

    /// A verifier that trusts only the certificates of a `--ca-cert` file, `ca_file`.
    fn verifier(ca_file: &[&CertificateDer<'static>]) -> Verifier {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let ca_file = ca_file.iter().map(|cert| (*cert).clone()).collect();
        let trust = Trust::checked(Vec::new(), ca_file, &provider).unwrap();
        Verifier { trust, algorithms: provider.signature_verification_algorithms }
    }

    /// Whether `verifier` accepts `cert` for `host` at `at` (Unix seconds), or its sentence.
    fn verify(verifier: &Verifier, cert: &CertificateDer<'_>, host: &str, at: i64) -> String {
        let now = UnixTime::since_unix_epoch(Duration::from_secs(at as u64));
        let name = ServerName::try_from(host).unwrap();
        match verifier.verify_server_cert(cert, &[], &name, &[], now) {
            Ok(_) => "ok".to_owned(),
            Err(e) => describe(&e, false),
        }
    }

    #[test]
    fn a_pinned_certificate_is_checked_for_dates_and_name() {
        let cert = pem(SELF_LOOPBACK);
        let pinned = verifier(&[&cert]);
        let mid = S_2020_01_01 + 86_400 * 365 * 5;
        assert_eq!(verify(&pinned, &cert, "127.0.0.1", mid), "ok");
        // Both ends are inside (RFC 5280, 4.1.2.5).
        assert_eq!(verify(&pinned, &cert, "127.0.0.1", S_2020_01_01), "ok");
        assert_eq!(verify(&pinned, &cert, "127.0.0.1", S_2030_01_01), "ok");
        assert_eq!(
            verify(&pinned, &cert, "127.0.0.1", S_2030_01_01 + 1),
            "TLS: the target's certificate (pinned with --ca-cert) expired at \
             2030-01-01T00:00:00Z: make a new one"
        );
        assert_eq!(
            verify(&pinned, &cert, "127.0.0.1", S_2020_01_01 - 1),
            "TLS: the target's certificate (pinned with --ca-cert) is valid only from \
             2020-01-01T00:00:00Z (is this machine's clock right?)"
        );
        assert_eq!(
            verify(&pinned, &cert, "db.internal", mid),
            "TLS: the target's certificate (pinned with --ca-cert) is not valid for db.internal \
             (it names IP:127.0.0.1): scrape it by a name it lists, or make one that names its \
             host: `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days \
             365 -subj /CN=db.internal -addext subjectAltName=DNS:db.internal -keyout key.pem \
             -out cert.pem`"
        );
        let other = pem(SELF_OTHER);
        let message = verify(&verifier(&[&other]), &other, "127.0.0.1", mid);
        assert!(
            message
                .contains("is not valid for 127.0.0.1 (it names DNS:other.example, IP:10.0.0.1)")
                && message.contains("-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"),
            "{message}"
        );
        let nameless = pem(SELF_NAMELESS);
        assert_eq!(
            verify(&verifier(&[&nameless]), &nameless, "127.0.0.1", mid),
            "TLS: the target's certificate (pinned with --ca-cert) has no subjectAltName, so it \
             is valid for no host (its common name is not read): make one that names its host: \
             `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
             -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out \
             cert.pem`"
        );
        // A certificate that is not the one pinned is not trusted for it (webpki refuses a CA
        // certificate as a server's before it looks for its issuer).
        let unpinned = verify(&pinned, &other, "127.0.0.1", mid);
        assert!(unpinned.contains("presents a CA certificate as its own"), "{unpinned}");
    }

    #[test]
    fn a_ca_signed_certificate_of_ca_cert_is_not_pinned() {
        let (ca, leaf) = (pem(CA), pem(LEAF));
        let mid = S_2020_01_01 + 86_400 * 365 * 5;
        // The leaf alone (a fullchain.pem without its root): a chain to no CA.
        let alone = verifier(&[&leaf]);
        assert!(verify(&alone, &leaf, "127.0.0.1", mid).contains("not signed by a CA"));
        // With its CA: checked in full, dates and names included.
        let chain = verifier(&[&leaf, &ca]);
        assert_eq!(verify(&chain, &leaf, "127.0.0.1", mid), "ok");
        assert_eq!(
            verify(&chain, &leaf, "127.0.0.1", S_2030_01_01 + 1),
            "TLS: the target's certificate expired at 2030-01-01T00:00:00Z"
        );
        assert!(verify(&chain, &leaf, "db.internal", mid).contains("not valid for the host name"));
    }

    #[test]
    fn alerts_are_read_from_rustls_text_and_worded() {
        let alert = rustls::Error::AlertReceived(AlertDescription::BadCertificate).to_string();
        assert_eq!(alert, "received fatal alert: BadCertificate");
        assert_eq!(alert_in(&alert), Some(AlertDescription::BadCertificate));
        assert_eq!(alert_in("received fatal alert: DecodeError"), None);
        assert_eq!(alert_in("connection reset"), None);
        assert_eq!(
            alert_received(AlertDescription::BadCertificate, false),
            "TLS: the target requires a client certificate: pass --client-cert and --client-key"
        );
        assert!(alert_received(AlertDescription::BadCertificate, true).contains("refused our"));
        // rustls's debug text never reaches a sentence.
        let unknown =
            describe(&rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer), false);
        assert!(!unknown.contains("UnknownIssuer"), "{unknown}");
    }
}
