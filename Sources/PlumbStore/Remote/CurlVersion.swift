import CCurl
import Foundation

/// The version of libcurl this process runs with, for `plumb doctor`.
package enum CurlLibrary {
    /// `libcurl/8.11.1 OpenSSL/3.0.15 zlib/1.3.1 …`: the library and what it was built with.
    package static var version: String { String(cString: curl_version()) }
}
