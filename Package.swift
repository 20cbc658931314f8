// swift-tools-version:6.0
// Plumb: a GitOps reconciler for ML pipelines. No Swift package dependencies:
// the toolchain plus Debian's libgit2, libyaml, libcrypto and libcurl, through pkg-config.
//
// Layers, each a target so that the compiler refuses a reference that runs the wrong way
// (docs/architecture.md):
//
//   plumb (executable) → PlumbCLI → PlumbEngine → PlumbGit, PlumbStore → PlumbCore
//
// PlumbCore is the spec, the plan and the record formats: values and pure functions, no git, no
// processes. It links libyaml and libcrypto, which parse text and hash bytes (docs/decisions.md).
import PackageDescription

let package = Package(
    name: "plumb",
    products: [
        .executable(name: "plumb", targets: ["plumb"]),
        // libFuzzer target when built by scripts/fuzz.sh; a replayer of saved inputs otherwise.
        .executable(name: "plumb-fuzz", targets: ["PlumbFuzz"]),
    ],
    targets: [
        .systemLibrary(name: "CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // The shared store's HTTP client (docs/decisions.md: why not URLSession).
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "PlumbCore", dependencies: ["CYAML", "CCrypto"]),
        .target(name: "PlumbGit", dependencies: ["PlumbCore", "CGit2"]),
        .target(name: "PlumbStore", dependencies: ["PlumbCore", "CCurl"]),
        .target(name: "PlumbEngine", dependencies: ["PlumbCore", "PlumbGit", "PlumbStore"]),
        .target(name: "PlumbCLI", dependencies: ["PlumbCore", "PlumbGit", "PlumbStore", "PlumbEngine"]),
        .executableTarget(name: "plumb", dependencies: ["PlumbCLI"]),
        .executableTarget(name: "PlumbFuzz", dependencies: ["PlumbCore", "PlumbGit", "PlumbStore", "PlumbEngine", "PlumbCLI"]),
        // Specs and plans as values, shared by the tests of every layer.
        .target(name: "PlumbCoreFixtures", dependencies: ["PlumbCore"], path: "Tests/PlumbCoreFixtures"),
        // The spec, the planner and the record formats, tested without libgit2.
        .testTarget(name: "PlumbCoreTests", dependencies: ["PlumbCore", "PlumbCoreFixtures"]),
        .testTarget(name: "PlumbKitTests", dependencies: ["PlumbCore", "PlumbGit", "PlumbStore", "PlumbEngine", "PlumbCLI", "PlumbCoreFixtures", "plumb"],
                    exclude: ["Fixtures"]),
    ]
)
