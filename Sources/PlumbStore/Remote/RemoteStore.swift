import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// A name in a shared store, after Bazel's HTTP remote cache: `cas/<sha256>` for content (files),
/// `ac/<key>` for action entries. Plumb's action entries are a fingerprint's outcome
/// (`CachedOutcome` JSON) under `ac/<fingerprint>`, and a folder's manifest under
/// `ac/<manifest digest>` — so whether a digest names a folder is one lookup, unambiguous (a file
/// whose bytes form a manifest is still a file, under `cas/`), and verified like any object
/// (docs/decisions.md).
package enum RemoteKey: Sendable, Hashable, CustomStringConvertible {
    case content(Digest)
    case action(Digest)

    /// The path under the store's base URL or folder; built from a `Digest` (hex only), so it
    /// never climbs out.
    package var path: String {
        switch self {
        case let .content(d): return "cas/\(d.hex)"
        case let .action(d): return "ac/\(d.hex)"
        }
    }

    package var description: String { path }

    package enum Kind: String, Sendable, CaseIterable { case content = "cas", action = "ac" }

    package var kind: Kind {
        switch self {
        case .content: return .content
        case .action: return .action
        }
    }

    package var digest: Digest {
        switch self {
        case let .content(d), let .action(d): return d
        }
    }

    package init(_ kind: Kind, _ digest: Digest) {
        self = kind == .content ? .content(digest) : .action(digest)
    }
}

/// A store other machines share: blobs by name, nothing more. `LayeredStore` puts the local cache
/// in front of it, verifies every byte it downloads, and decides what to upload.
package protocol RemoteStore: Sendable {
    /// The store's address for messages (never with credentials).
    var location: String { get }
    /// Whether the blob exists (HTTP `HEAD`).
    func exists(_ key: RemoteKey) throws -> Bool
    /// Streams the blob into the open file `fd`, returning the SHA-256 of the bytes written, or
    /// nil when the store has no such blob. The caller verifies and discards on a mismatch.
    func download(_ key: RemoteKey, into fd: Int32) throws -> Digest?
    /// Stores the file at `path` under `key`, atomically (readers see all of it or nothing).
    func upload(_ key: RemoteKey, from path: String) throws
    /// Every blob of one kind (`cas/` or `ac/`), for `plumb gc --remote`; nil when the store cannot
    /// list (Bazel's protocol has no listing: only folders and nginx's JSON index can).
    func list(_ kind: RemoteKey.Kind) throws -> [RemoteBlob]?
    /// Removes the blob; removing one that is gone is no error.
    func delete(_ key: RemoteKey) throws
}

/// One blob in a store's listing.
package struct RemoteBlob: Sendable, Hashable {
    package var key: RemoteKey
    package var bytes: Int64
    /// When it was last written: `gc --remote` spares what is newer than its grace period.
    package var modified: Date
}

/// Opens the store named by `url`: `http://` and `https://` speak Bazel's HTTP cache protocol,
/// `file://` is a shared folder.
package func openRemoteStore(url: String, credentials: HTTPCredentials, caFile: String?) throws -> any RemoteStore {
    guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased() else {
        throw PlumbError("the cache URL \(Redactor.none.redact(url)) is not a URL", hint: "write http://host/path, https://host/path or file:///folder")
    }
    switch scheme {
    case "http", "https":
        return HTTPRemoteStore(base: url, credentials: credentials, caFile: caFile)
    case "file":
        guard parsed.host == nil || parsed.host == "" || parsed.host == "localhost" else {
            throw PlumbError("the cache URL \(url) names a host; a file:// store is a folder on this machine", hint: "mount the share and write file:///mnt/share/plumb-cache")
        }
        return try FolderRemoteStore(root: parsed.path)
    default:
        throw PlumbError("the cache URL \(Redactor.none.redact(url)) has the scheme '\(scheme)'", hint: "use http://, https:// or file://")
    }
}

// MARK: - HTTP

/// Bazel's HTTP remote-cache protocol over libcurl: `HEAD`/`GET`/`PUT` of `<base>/cas/<sha256>`
/// and `<base>/ac/<key>`. Downloads stream to a file (never whole in memory), uploads stream from
/// one. A transport error or a 5xx answer is retried with backoff; a refusal of the credentials
/// (401, 403) is an error that names the variables that hold them.
package final class HTTPRemoteStore: RemoteStore, Sendable {
    package let location: String
    private let base: String
    private let credentials: HTTPCredentials
    private let caFile: String?
    private let redactor: Redactor
    private let pool = CurlPool()
    /// Attempts per request, and the first pause between them (doubled each time).
    private let attempts = 4
    private let backoff = 0.25

    package init(base: String, credentials: HTTPCredentials, caFile: String?) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.location = Redactor.none.redact(self.base)
        self.credentials = credentials
        self.caFile = caFile
        self.redactor = Redactor(secrets: credentials.secrets)
    }

    package func exists(_ key: RemoteKey) throws -> Bool {
        let status = try request("HEAD", key.path)
        switch status {
        case 200...299: return true
        case 404: return false
        default: throw refusal(status, "HEAD", key.path)
        }
    }

    package func download(_ key: RemoteKey, into fd: Int32) throws -> Digest? {
        var hasher = SHA256Hasher()
        let status = try request("GET", key.path) { handle in
            // A retry starts the file again.
            guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
                throw PlumbError("cannot rewind the download of \(key): \(String(cString: strerror(errno)))")
            }
            hasher = SHA256Hasher()
            return try handle.perform(method: "GET", url: self.url(key), credentials: self.credentials, caFile: self.caFile,
                                      timeout: 60, download: fd, hasher: hasher)
        }
        switch status {
        case 200...299: return hasher.finish()
        case 404: return nil
        default: throw refusal(status, "GET", key.path)
        }
    }

    package func upload(_ key: RemoteKey, from path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PlumbError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var s = stat()
        guard fstat(fd, &s) == 0 else { throw PlumbError("cannot stat \(path): \(String(cString: strerror(errno)))") }
        let status = try request("PUT", key.path) { handle in
            guard lseek(fd, 0, SEEK_SET) == 0 else { throw PlumbError("cannot rewind \(path): \(String(cString: strerror(errno)))") }
            return try handle.perform(method: "PUT", url: self.url(key), credentials: self.credentials, caFile: self.caFile,
                                      timeout: 60, upload: (fd, Int64(s.st_size)))
        }
        guard (200...299).contains(status) else { throw refusal(status, "PUT", key.path) }
    }

    package func delete(_ key: RemoteKey) throws {
        let status = try request("DELETE", key.path) { handle in
            try handle.perform(method: "DELETE", url: self.url(key), credentials: self.credentials, caFile: self.caFile, timeout: 30)
        }
        guard (200...299).contains(status) || status == 404 else { throw refusal(status, "DELETE", key.path) }
    }

    /// nginx's `autoindex_format json` listing of `<base>/cas/` (docs/store.md): an array of
    /// `{"name", "type", "mtime", "size"}`. Anything else — bazel-remote's 404, an HTML index —
    /// means the store cannot list. Names that are not digests are skipped, never trusted.
    package func list(_ kind: RemoteKey.Kind) throws -> [RemoteBlob]? {
        let listing = FileManager.default.temporaryDirectory.appendingPathComponent("plumb-listing-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        let fd = open(listing, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PlumbError("cannot create \(listing): \(String(cString: strerror(errno)))") }
        defer { close(fd); unlink(listing) }
        let index = "\(kind.rawValue)/"
        let status = try request("GET", index) { handle in
            guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else { throw PlumbError("cannot rewind \(listing)") }
            return try handle.perform(method: "GET", url: "\(self.base)/\(index)", credentials: self.credentials,
                                      caFile: self.caFile, timeout: 60, download: fd)
        }
        if status == 401 || status == 403 { throw refusal(status, "GET", index) }
        guard (200...299).contains(status), let data = FileManager.default.contents(atPath: listing),
              let entries = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return nil }
        let dates = DateFormatter()
        dates.locale = Locale(identifier: "en_US_POSIX")
        dates.timeZone = TimeZone(identifier: "GMT")
        dates.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return entries.compactMap { entry in
            guard entry["type"] as? String == "file", let name = entry["name"] as? String, let digest = Digest(hex: name),
                  let mtime = entry["mtime"] as? String, let modified = dates.date(from: mtime) else { return nil }
            let size = (entry["size"] as? NSNumber)?.int64Value ?? 0
            return RemoteBlob(key: RemoteKey(kind, digest), bytes: max(0, size), modified: modified)
        }
    }

    private func url(_ key: RemoteKey) -> String { "\(base)/\(key.path)" }

    /// Runs one request with retries; returns the final HTTP status.
    private func request(_ method: String, _ path: String, perform: ((CurlHandle) throws -> CurlResponse)? = nil) throws -> Int {
        var pause = backoff
        var attempt = 0
        while true {
            attempt += 1
            do {
                let response = try pool.withHandle { handle in
                    try perform?(handle) ?? handle.perform(method: method, url: "\(base)/\(path)", credentials: credentials, caFile: caFile, timeout: 30)
                }
                let transient = response.status >= 500 || response.status == 429 || response.status == 408
                if !transient || attempt >= attempts { return response.status }
            } catch let failure as CurlFailure {
                if failure.isCertificateProblem {
                    throw PlumbError(redactor.redact("cannot reach the shared store \(location) securely: \(failure.message)"),
                                     hint: "if the store's certificate comes from a private CA, set PLUMB_CACHE_CA_FILE to that CA's PEM file")
                }
                if attempt >= attempts {
                    throw PlumbError(redactor.redact("cannot reach the shared store \(location) (\(method) \(path)): \(failure.message)"),
                                     hint: "check that the store is up and the URL (spec/pipeline.yaml cache.url, or PLUMB_CACHE_URL) is right; --no-upload reconciles without uploading")
                }
            }
            Thread.sleep(forTimeInterval: pause)
            pause *= 2
        }
    }

    private func refusal(_ status: Int, _ method: String, _ path: String) -> PlumbError {
        if status == 401 || status == 403 {
            let given = switch credentials {
            case .none: "no credentials were given"
            case .basic: "PLUMB_CACHE_USER and PLUMB_CACHE_PASSWORD were refused"
            case .bearer: "PLUMB_CACHE_TOKEN was refused"
            }
            return PlumbError(redactor.redact("the shared store \(location) refused \(method) \(path) (HTTP \(status)): \(given)"),
                              hint: "set PLUMB_CACHE_USER and PLUMB_CACHE_PASSWORD (Basic), or PLUMB_CACHE_TOKEN (Bearer), to credentials the store accepts")
        }
        return PlumbError(redactor.redact("the shared store \(location) answered \(method) \(path) with HTTP \(status)"))
    }
}

// MARK: - Shared folder

/// A folder shared by several machines (NFS, SMB, a mounted bucket): `<root>/cas/<sha256>` and
/// `<root>/ac/<key>`, the same layout as the HTTP store. A write goes to a uniquely named file in
/// `<root>/tmp/` (host, process and a random number in its name), is fsync'ed and renamed into
/// place: readers on any host see the old blob or the new, whole; two writers of the same blob
/// both succeed, the last rename wins, and for content both wrote the same bytes.
package final class FolderRemoteStore: RemoteStore, Sendable {
    package let location: String
    private let root: String

    package init(root: String) throws {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        location = "file://" + self.root
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: self.root, isDirectory: &isFolder), isFolder.boolValue else {
            throw PlumbError("the shared store folder \(self.root) does not exist", hint: "create it (and mount it on every machine), or fix cache.url / PLUMB_CACHE_URL")
        }
        for folder in ["cas", "ac", "tmp"] {
            try PlumbError.wrap("cannot prepare the shared store \(location)") {
                try FileManager.default.createDirectory(atPath: "\(self.root)/\(folder)", withIntermediateDirectories: true)
            }
        }
    }

    private func path(_ key: RemoteKey) -> String { "\(root)/\(key.path)" }

    package func exists(_ key: RemoteKey) throws -> Bool { access(path(key), F_OK) == 0 }

    package func list(_ kind: RemoteKey.Kind) throws -> [RemoteBlob]? {
        let folder = "\(root)/\(kind.rawValue)"
        let names = try PlumbError.wrap("cannot list \(folder)") { try FileManager.default.contentsOfDirectory(atPath: folder) }
        return names.compactMap { name in
            var s = stat()
            guard let digest = Digest(hex: name), lstat("\(folder)/\(name)", &s) == 0, (s.st_mode & S_IFMT) == S_IFREG else { return nil }
            let modified = Date(timeIntervalSince1970: Double(s.st_mtim.tv_sec) + Double(s.st_mtim.tv_nsec) / 1e9)
            return RemoteBlob(key: RemoteKey(kind, digest), bytes: Int64(s.st_size), modified: modified)
        }
    }

    package func delete(_ key: RemoteKey) throws {
        guard unlink(path(key)) == 0 || errno == ENOENT else {
            throw PlumbError("cannot remove \(path(key)): \(String(cString: strerror(errno)))")
        }
    }

    package func download(_ key: RemoteKey, into fd: Int32) throws -> Digest? {
        let source = open(path(key), O_RDONLY | O_CLOEXEC)
        guard source >= 0 else {
            if errno == ENOENT { return nil }
            throw PlumbError("cannot read \(path(key)): \(String(cString: strerror(errno)))")
        }
        defer { close(source) }
        return try Cache.copyHashing(from: source, to: fd, path: path(key))
    }

    package func upload(_ key: RemoteKey, from source: String) throws {
        let final = path(key)
        let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" }
        let temporary = "\(root)/tmp/\(host)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw PlumbError("cannot read \(source): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        let output = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        guard output >= 0 else { throw PlumbError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(output) }
            _ = try Cache.copyHashing(from: input, to: output, path: source)
            guard fsync(output) == 0 else { throw PlumbError("cannot fsync \(temporary): \(String(cString: strerror(errno)))") }
        }
        guard rename(temporary, final) == 0 else {
            throw PlumbError("cannot move \(temporary) to \(final): \(String(cString: strerror(errno)))")
        }
        renamed = true
    }
}
