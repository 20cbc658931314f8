import CCurl
import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// How the shared store's HTTP client authenticates. Values come from the environment only
/// (`RemoteStoreSettings`); they are never written anywhere, and `redactor` removes them from errors.
package enum HTTPCredentials: Sendable, Equatable {
    case none
    /// `PLUMB_CACHE_USER` + `PLUMB_CACHE_PASSWORD`.
    case basic(user: String, password: String)
    /// `PLUMB_CACHE_TOKEN`.
    case bearer(token: String)

    var secrets: [String] {
        switch self {
        case .none: return []
        case let .basic(_, password): return [password]
        case let .bearer(token): return [token]
        }
    }
}

/// One HTTP exchange's result: the status, or why there was none.
struct CurlResponse {
    var status: Int
}

/// A transport failure: no HTTP status (connection refused, TLS, timeout). Retried, unless the
/// peer's certificate is refused: that does not get better by asking again.
struct CurlFailure: Error {
    var code: CURLcode
    var message: String

    var isCertificateProblem: Bool {
        [CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM, CURLE_SSL_ISSUER_ERROR,
         CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_CRL_BADFILE].contains(code)
    }
}

/// The one owner of a libcurl easy handle, freed in deinit. Every libcurl call Plumb makes goes
/// through this class. Not thread-safe: a handle belongs to one transfer at a time (`CurlPool`).
final class CurlHandle {
    private let handle: UnsafeMutableRawPointer
    /// libcurl's message for the last failure; owned with the handle.
    private let errorBuffer: UnsafeMutablePointer<CChar>

    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    init() throws {
        guard Self.globalInit, let handle = curl_easy_init() else {
            throw PlumbError("cannot initialise libcurl")
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// A streaming body: bytes to write (downloads) or read (uploads), through a file descriptor.
    private final class Body {
        let fd: Int32
        let hasher: SHA256Hasher?
        var writeError: Int32 = 0
        init(fd: Int32, hasher: SHA256Hasher?) { self.fd = fd; self.hasher = hasher }
    }

    /// Performs one request. `download`: the response body (on 2xx) streams into this descriptor,
    /// hashed by `hasher`. `upload`: the request body (PUT) is read from this descriptor, `size` bytes.
    func perform(method: String, url: String, credentials: HTTPCredentials, caFile: String?, timeout: Int,
                 download: Int32? = nil, hasher: SHA256Hasher? = nil, upload: (fd: Int32, size: Int64)? = nil) throws -> CurlResponse {
        curl_easy_reset(handle)
        try set(CURLOPT_URL, url)
        try set(CURLOPT_NOSIGNAL, 1)  // several transfers run on threads; no SIGALRM for timeouts
        try set(CURLOPT_BUFFERSIZE, 512 * 1024)  // receive in 512 KiB reads, not 16 KiB: 32x fewer recv/write calls and callbacks
        try set(CURLOPT_CONNECTTIMEOUT, 10)
        // A stalled transfer (under 1 byte/s for `timeout` seconds) fails; a slow large one does not.
        try set(CURLOPT_LOW_SPEED_LIMIT, 1)
        try set(CURLOPT_LOW_SPEED_TIME, timeout)
        try set(CURLOPT_FOLLOWLOCATION, 0)
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        try set(CURLOPT_SSL_VERIFYPEER, 1)
        try set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile { try set(CURLOPT_CAINFO, caFile) }
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        try check(plumb_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        switch credentials {
        case .none: break
        case let .basic(user, password):
            try set(CURLOPT_HTTPAUTH, plumb_curlauth_basic)
            try set(CURLOPT_USERNAME, user)
            try set(CURLOPT_PASSWORD, password)
        case let .bearer(token):
            try set(CURLOPT_HTTPAUTH, plumb_curlauth_bearer)
            try set(CURLOPT_XOAUTH2_BEARER, token)
        }

        var body: Body?
        switch method {
        case "HEAD": try set(CURLOPT_NOBODY, 1)
        case "GET": try set(CURLOPT_HTTPGET, 1)
        case "PUT": try set(CURLOPT_UPLOAD, 1)
        case "DELETE": try set(CURLOPT_CUSTOMREQUEST, "DELETE")
        default: throw PlumbError("unsupported HTTP method \(method)")
        }
        if let download {
            body = Body(fd: download, hasher: hasher)
            try check(plumb_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION) { buffer, size, count, context in
                let body = Unmanaged<Body>.fromOpaque(context!).takeUnretainedValue()
                let total = size * count
                guard let buffer, total > 0 else { return 0 }
                let bytes = UnsafeRawBufferPointer(start: buffer, count: total)
                do { try AtomicFile.writeAll(body.fd, bytes, path: "download") } catch {
                    body.writeError = errno
                    return 0  // libcurl aborts the transfer (CURLE_WRITE_ERROR)
                }
                body.hasher?.update(bytes)
                return total
            }, "CURLOPT_WRITEFUNCTION")
        } else {
            // Bodies of refusals and the like are not wanted: discard them.
            try check(plumb_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION) { _, size, count, _ in size * count }, "CURLOPT_WRITEFUNCTION")
        }
        if let upload {
            body = Body(fd: upload.fd, hasher: nil)
            try check(plumb_curl_setopt_callback(handle, CURLOPT_READFUNCTION) { buffer, size, count, context in
                let body = Unmanaged<Body>.fromOpaque(context!).takeUnretainedValue()
                while true {
                    let n = read(body.fd, buffer, size * count)
                    if n >= 0 { return n }
                    if errno == EINTR { continue }
                    body.writeError = errno
                    return Int(CURL_READFUNC_ABORT)
                }
            }, "CURLOPT_READFUNCTION")
            try check(plumb_curl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(upload.size)), "CURLOPT_INFILESIZE_LARGE")
        }
        let context = body.map { Unmanaged.passUnretained($0).toOpaque() }
        if download != nil { try check(plumb_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context), "CURLOPT_WRITEDATA") }
        if upload != nil { try check(plumb_curl_setopt_pointer(handle, CURLOPT_READDATA, context), "CURLOPT_READDATA") }

        let code = curl_easy_perform(handle)
        withExtendedLifetime(body) {}
        if let body, body.writeError != 0 {
            throw PlumbError("cannot \(download != nil ? "write the download" : "read the upload"): \(String(cString: strerror(body.writeError)))")
        }
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            throw CurlFailure(code: code, message: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        }
        var status = 0
        _ = plumb_curl_response_code(handle, &status)
        return CurlResponse(status: status)
    }

    private func set(_ option: CURLoption, _ value: Int) throws {
        try check(plumb_curl_setopt_long(handle, option, value), "\(option)")
    }

    private func set(_ option: CURLoption, _ value: String) throws {
        try check(plumb_curl_setopt_string(handle, option, value), "\(option)")
    }

    private func check(_ code: CURLcode, _ what: String) throws {
        guard code == CURLE_OK else {
            throw PlumbError("libcurl refused option \(what): \(String(cString: curl_easy_strerror(code)))")
        }
    }
}

/// Idle easy handles, so that transfers reuse connections (libcurl keeps them per handle).
/// Sendable: the handles are only reached through the lock, and a handle taken out belongs to
/// the one transfer that took it until it is put back.
final class CurlPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [CurlHandle] = []

    func withHandle<T>(_ body: (CurlHandle) throws -> T) throws -> T {
        let handle = try lock.withLock { idle.popLast() } ?? CurlHandle()
        defer { lock.withLock { if idle.count < 16 { idle.append(handle) } } }
        return try body(handle)
    }
}
