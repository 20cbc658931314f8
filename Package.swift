// swift-tools-version:6.0
// Plumb: a GitOps reconciler for ML pipelines. No Swift package dependencies:
// the toolchain plus Debian's libgit2, libyaml and libcrypto, through pkg-config.
import PackageDescription

let package = Package(
    name: "plumb",
    products: [
        .executable(name: "plumb", targets: ["plumb"]),
        .library(name: "PlumbKit", targets: ["PlumbKit"]),
        // libFuzzer target when built by scripts/fuzz.sh; a replayer of saved inputs otherwise.
        .executable(name: "plumb-fuzz", targets: ["PlumbFuzz"]),
    ],
    targets: [
        .systemLibrary(name: "CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "PlumbKit", dependencies: ["CGit2", "CYAML", "CCrypto"]),
        .executableTarget(name: "plumb", dependencies: ["PlumbKit"]),
        .executableTarget(name: "PlumbFuzz", dependencies: ["PlumbKit"]),
        .testTarget(name: "PlumbKitTests", dependencies: ["PlumbKit", "plumb"], exclude: ["Fixtures"]),
    ]
)
