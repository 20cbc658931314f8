import CCrypto
import CYAML
import Foundation

/// The versions of the C libraries PlumbCore links, for `plumb doctor`.
package enum CoreLibraries {
    /// libyaml's version, as it reports it (`0.2.5`).
    package static var yaml: String { String(cString: yaml_get_version_string()) }
    /// libcrypto's version line (`OpenSSL 3.0.15 3 Sep 2024`).
    package static var crypto: String { String(cString: OpenSSL_version(OPENSSL_VERSION)) }
}
