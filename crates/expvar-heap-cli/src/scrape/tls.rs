//! TLS for the scrapes: the rustls configuration of one target's [`Tls`] settings, and the one
//! sentence each TLS failure becomes.
//!
//! Trust: the system's CA certificates plus those of `--ca-cert`, checked in full by webpki
//! (chain, names, dates, key usage). A certificate of `--ca-cert` that is exactly the one the
//! target presents is trusted as it is (pinned): that is how a self-signed certificate made with
//! `openssl req -x509` works, which is a CA certificate (`CA:TRUE`) that the server also uses as
//! its own, and which webpki refuses as an end entity (`CaUsedAsEndEntity`) whatever the roots.
//! The handshake's signature is still checked against that certificate's key, so only its
//! holder passes.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};

use super::targets::Tls;

/// The rustls configuration of `tls`: trust as described above (or none at all with
/// `insecure_skip_verify`), the client certificate when there is one, and ALPN for HTTP/2 and
/// HTTP/1.1.
pub fn client_config(tls: &Tls) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut pinned = Vec::new();
    if let Some(path) = &tls.ca_cert {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read the CA certificate {}", path.display()))?;
        pinned = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is no PEM certificate file", path.display()))?;
        if pinned.is_empty() {
            bail!("{} holds no PEM certificate", path.display());
        }
    }
    let trust = if tls.insecure_skip_verify {
        Trust::Anything
    } else {
        let mut roots = RootCertStore::empty();
        // The system's store as rustls-native-certs finds it (SSL_CERT_FILE and SSL_CERT_DIR
        // first); a certificate it cannot parse is skipped, as reqwest skips it.
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        roots.add_parsable_certificates(pinned.iter().cloned());
        let webpki = if roots.is_empty() {
            None // no CA at all: only a pinned certificate can pass
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .context("cannot set up TLS verification")?,
            )
        };
        Trust::Checked { webpki, pinned }
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
    /// Full checks by webpki (none when there is no CA at all), or the exact certificate of
    /// `--ca-cert` (the certificates of that file, trusted exactly as they are).
    Checked { webpki: Option<Arc<WebPkiServerVerifier>>, pinned: Vec<CertificateDer<'static>> },
    /// `--insecure-skip-verify`: any certificate.
    Anything,
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
            return Ok(ServerCertVerified::assertion());
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
        C::Expired | C::ExpiredContext { .. } => "the target's certificate has expired".to_owned(),
        C::NotValidYet | C::NotValidYetContext { .. } => {
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
    use super::*;

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
