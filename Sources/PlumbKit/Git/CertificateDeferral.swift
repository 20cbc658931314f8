import CGit2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// libgit2's CA certificates, loaded when a remote is first used instead of at every start.
///
/// Debian's libgit2 1.5 is built with mbedTLS, whose global initialisation (run by `git_libgit2_init`, before any
/// `git_libgit2_opts` call can be made) parses the whole CA bundle: about 4 ms and 55 million instructions,
/// a quarter of a `plumb plan` on small data, for certificates that only an `https://` remote ever needs.
/// `git_libgit2_opts` cannot skip it, so while `git_libgit2_init` runs, the one function it calls to parse the
/// bundle is answered here (Plumb's definition of `mbedtls_x509_crt_parse_file` takes precedence over the
/// library's for libgit2's calls) and only the path is kept. Before any remote operation,
/// `loadCertificates()` (called for an `https://` remote) hands that path back to libgit2 (`GIT_OPT_SET_SSL_CERT_LOCATIONS`), which then parses it
/// with mbedTLS's own function: the same bundle, just later. A libgit2 built with OpenSSL never calls it.
enum CertificateDeferral {
    /// True while `git_libgit2_init` runs (inside `Git.initialised`, once).
    nonisolated(unsafe) static var deferring = false
    /// The bundle libgit2 asked for while deferring.
    nonisolated(unsafe) static var deferredPath: String?

    typealias ParseFile = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Int32

    /// mbedTLS's own `mbedtls_x509_crt_parse_file`, next after this definition in lookup order.
    static let mbedtlsParseFile: ParseFile? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: -1), "mbedtls_x509_crt_parse_file") else { return nil }
        return unsafeBitCast(symbol, to: ParseFile.self)
    }()

    /// Hands the deferred bundle to libgit2 (once); a no-op if nothing was deferred.
    static func loadCertificates() { _ = loaded }
    private static let loaded: Void = {
        Git.ensureInitialised()
        guard let path = deferredPath else { return }
        _ = plumb_git_set_ssl_cert_file(path)
    }()
}

/// Called by libgit2's mbedTLS stream (never by Plumb): while libgit2 initialises, remembers the bundle and
/// reports success with an empty chain; afterwards, parses with mbedTLS.
@_cdecl("mbedtls_x509_crt_parse_file")
public func plumbDeferredCertificateParse(_ chain: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    if CertificateDeferral.deferring, let path {
        CertificateDeferral.deferredPath = String(cString: path)
        return 0
    }
    guard let parse = CertificateDeferral.mbedtlsParseFile else { return -0x2900 } // MBEDTLS_ERR_X509_FILE_IO_ERROR
    return parse(chain, path)
}
