import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// Where the shared artifact store is and how to reach it: the URL from `PLUMB_CACHE_URL`, else
/// from `cache: {url: …}` in spec/pipeline.yaml of HEAD (of the working tree before the first
/// commit); credentials and the CA file from the environment only. Nothing here is ever recorded.
package struct SharedStoreSettings: Sendable {
    package var url: String
    package var credentials: HTTPCredentials
    /// `PLUMB_CACHE_CA_FILE`: the certificates an https store's is checked against (else the system's).
    package var caFile: String?

    /// The settings in force for `repository`, or nil when no store is configured. Throws when the
    /// URL or the credential variables are unusable, naming the variable to fix.
    package static func resolve(repository: Repository, environment: [String: String]) throws -> SharedStoreSettings? {
        let url: String
        if let fromEnvironment = environment["PLUMB_CACHE_URL"], !fromEnvironment.isEmpty {
            if let problem = CacheSettings.problem(with: fromEnvironment) {
                throw PlumbError("PLUMB_CACHE_URL \(Redactor.none.redact(fromEnvironment)) \(problem)",
                                 hint: "set it to http(s)://host/path or file:///folder, or unset it to use cache.url of spec/pipeline.yaml", kind: .usage)
            }
            url = fromEnvironment
        } else if let configured = configuredURL(repository) {
            url = configured
        } else {
            return nil
        }
        return SharedStoreSettings(url: url, credentials: try credentials(environment), caFile: environment["PLUMB_CACHE_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 })
    }

    /// `cache.url` of spec/pipeline.yaml at HEAD, or in the working tree when there is no commit yet.
    static func configuredURL(_ repository: Repository) -> String? {
        let data: Data?
        if let commit = try? repository.head().commit {
            data = (try? repository.file(at: SpecPaths.pipeline, in: commit)) ?? nil
        } else {
            data = FileManager.default.contents(atPath: repository.root + "/" + SpecPaths.pipeline)
        }
        return data.flatMap { CacheSettings.read(pipelineYAML: $0, file: SpecPaths.pipeline)?.url }
    }

    /// Basic from `PLUMB_CACHE_USER` + `PLUMB_CACHE_PASSWORD`, Bearer from `PLUMB_CACHE_TOKEN`, or none.
    static func credentials(_ environment: [String: String]) throws -> HTTPCredentials {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let user = value("PLUMB_CACHE_USER"), password = value("PLUMB_CACHE_PASSWORD"), token = value("PLUMB_CACHE_TOKEN")
        if token != nil, user != nil || password != nil {
            throw PlumbError("both PLUMB_CACHE_TOKEN and PLUMB_CACHE_USER/PLUMB_CACHE_PASSWORD are set",
                             hint: "set PLUMB_CACHE_TOKEN for Bearer authentication or PLUMB_CACHE_USER and PLUMB_CACHE_PASSWORD for Basic, not both", kind: .usage)
        }
        if let token { return .bearer(token: token) }
        switch (user, password) {
        case let (user?, password?): return .basic(user: user, password: password)
        case (nil, nil): return .none
        case (_?, nil): throw PlumbError("PLUMB_CACHE_USER is set but PLUMB_CACHE_PASSWORD is not", hint: "set both for Basic authentication", kind: .usage)
        case (nil, _?): throw PlumbError("PLUMB_CACHE_PASSWORD is set but PLUMB_CACHE_USER is not", hint: "set both for Basic authentication", kind: .usage)
        }
    }

    /// The shared store these settings name, behind `local`.
    package func open(over local: Cache) throws -> LayeredStore {
        LayeredStore(local: local, remote: try openRemoteStore(url: url, credentials: credentials, caFile: caFile))
    }
}
