//! What the TLS clients of the SQL and file-transfer connections share: the trusted roots.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;
use std::io;

/// The certificates of the PEM file at `path` (the error names it as `key`), or, without
/// one, the Mozilla roots (webpki-roots).
pub fn root_store(path: Option<&str>, key: &str) -> io::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let Some(path) = path else {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(roots);
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| io::Error::other(format!("{key} {path}: {e}")))?;
    if certs.is_empty() {
        return Err(io::Error::other(format!(
            "{key} {path}: no PEM certificate in it"
        )));
    }
    for c in certs {
        roots
            .add(c)
            .map_err(|e| io::Error::other(format!("{key} {path}: {e}")))?;
    }
    Ok(roots)
}
