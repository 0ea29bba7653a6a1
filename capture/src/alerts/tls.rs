//! TLS for `https://` alert targets: rustls with the *ring* provider (a C
//! compiler is all it needs to build; both are already linked into capture
//! through the S3 client), trusting the system's certificate store
//! (`rustls-native-certs`: `SSL_CERT_FILE`, `SSL_CERT_DIR`, the
//! distribution's bundle) and the CA certificates of `--alerts-ca` (a
//! private falcosidekick endpoint's CA).
//!
//! The configuration is built once, before the workload starts, so a CA
//! file that does not load, or no trusted certificate at all, stops
//! capture with exit 125 rather than failing every alert later.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// Why no TLS configuration could be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--alerts-ca `{}`: cannot read a PEM certificate", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("--alerts-ca `{}`: holds no certificate", path.display())]
    CaEmpty { path: PathBuf },
    #[error("--alerts-ca `{}`: a certificate is not a usable CA", path.display())]
    CaRejected {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error(
        "https alert targets: no trusted CA certificate (the system store is empty or \
         unreadable; give the endpoint's CA with --alerts-ca PEM)"
    )]
    NoRoots,
    #[error("building the TLS configuration")]
    Config(#[source] rustls::Error),
}

/// The client configuration for every `https://` target: the system's
/// roots plus those of `ca` (when given).
pub fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    // Certificates the system store holds that rustls cannot parse are
    // skipped, as every rustls user of this store does.
    let native = rustls_native_certs::load_native_certs();
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|source| TlsError::CaFile {
                path: path.to_path_buf(),
                source,
            })?;
        if certs.is_empty() {
            return Err(TlsError::CaEmpty {
                path: path.to_path_buf(),
            });
        }
        for c in certs {
            roots.add(c).map_err(|source| TlsError::CaRejected {
                path: path.to_path_buf(),
                source,
            })?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_that_is_not_pem_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate\n").unwrap();
        let e = client_config(Some(&p)).unwrap_err();
        assert!(matches!(e, TlsError::CaEmpty { .. }), "{e}");
        let e = client_config(Some(&dir.path().join("missing.pem"))).unwrap_err();
        assert!(matches!(e, TlsError::CaFile { .. }), "{e}");
    }
}
