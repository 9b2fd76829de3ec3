// swift-tools-version:6.0
// CrawlRun — batch crawler runner for AWS Fargate.
// No Swift package dependencies by design: Foundation, Dispatch and libcurl only.
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "CrawlRun",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "crawlrun", targets: ["crawlrun"]),
        .executable(name: "crawler", targets: ["crawler"]),
    ],
    targets: [
        // libcurl, bound as a system library; shim.h adds typed wrappers for the variadic
        // curl_easy_setopt / curl_easy_getinfo, which Swift cannot call directly.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "Blocking", swiftSettings: strict),
        .target(name: "HTTP", dependencies: ["CCurl", "Blocking"], swiftSettings: strict),
        .target(name: "ProcessKit", dependencies: ["Blocking"], swiftSettings: strict),
        .target(name: "JSONKit", swiftSettings: strict),
        // SHA-1, which both the AWS clients (SSO cache file names) and the WebSocket handshake need.
        .target(name: "Digest", swiftSettings: strict),
        // An RFC 6455 client over a POSIX socket (ws:// only): WebDriver BiDi's transport.
        .target(name: "WebSocket", dependencies: ["Digest"], swiftSettings: strict),
        .target(name: "WebDriver", dependencies: ["HTTP", "JSONKit", "WebSocket"], swiftSettings: strict),
        .target(name: "CrawlKit", dependencies: ["JSONKit"], swiftSettings: strict),
        // SHA-256/HMAC, SigV4, credentials, and the ECS, CloudWatch Logs and S3 clients (no SDK).
        .target(name: "AWS", dependencies: ["HTTP", "JSONKit", "Blocking", "ProcessKit", "Digest"], swiftSettings: strict),
        // The docker backend: the task definition as containers through the Docker Engine API
        // over a Unix socket (DOCKER_HOST), and its client.
        .target(
            name: "DockerBackend",
            dependencies: ["Coordinator", "CrawlKit", "HTTP", "JSONKit", "Blocking", "LoopbackRelay"],
            path: "Sources/Backends/Docker", swiftSettings: strict),
        .target(
            name: "Crawler", dependencies: ["CrawlKit", "WebDriver", "HTTP", "Blocking", "AWS"], swiftSettings: strict),
        // `crawler relay`: the docker backend's way to the host's loopback on Docker Engine.
        .target(name: "LoopbackRelay", dependencies: ["Blocking"], swiftSettings: strict),
        .executableTarget(name: "crawler", dependencies: ["Crawler", "LoopbackRelay"], swiftSettings: strict),
        // The engine: planning a run, the batch ledger and its driver, the backend protocol, the
        // run directory. No AWS and no process code: backends bring those.
        .target(name: "Coordinator", dependencies: ["CrawlKit", "JSONKit"], swiftSettings: strict),
        .target(
            name: "LocalBackend", dependencies: ["Coordinator", "CrawlKit", "JSONKit", "HTTP", "ProcessKit"],
            path: "Sources/Backends/Local", swiftSettings: strict),
        .target(
            name: "FargateBackend", dependencies: ["Coordinator", "CrawlKit", "JSONKit", "AWS"],
            path: "Sources/Backends/Fargate", swiftSettings: strict),
        // Runs on S3 (`--runs-dir s3://…`): a run directory's copy, the job's lease, stop requests.
        .target(
            name: "S3Runs", dependencies: ["Coordinator", "CrawlKit", "AWS"], path: "Sources/S3Runs",
            swiftSettings: strict),
        // One file per command, Output/ for what a person sees, one argument parser.
        .target(
            name: "CrawlRunCLI",
            dependencies: [
                "Coordinator", "LocalBackend", "FargateBackend", "DockerBackend", "CrawlKit", "JSONKit", "AWS",
                "Blocking", "S3Runs",
                "ProcessKit",
            ],
            swiftSettings: strict),
        .executableTarget(name: "crawlrun", dependencies: ["CrawlRunCLI"], swiftSettings: strict),
        // Fixture site and real-peer launchers shared by the tests, the benchmark and the demo.
        .target(
            name: "TestSupport",
            dependencies: ["ProcessKit", "HTTP", "Blocking", "AWS", "JSONKit", "Coordinator", "DockerBackend"],
            swiftSettings: strict),
        .executableTarget(name: "fixture-site", dependencies: ["TestSupport"], swiftSettings: strict),
        .executableTarget(
            name: "bench",
            dependencies: [
                "Crawler", "Coordinator", "CrawlKit", "TestSupport", "WebDriver", "ProcessKit", "FargateBackend", "AWS",
                "S3Runs",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CrawlRunTests",
            dependencies: [
                "HTTP", "WebDriver", "CrawlKit", "Crawler", "Coordinator", "LocalBackend", "FargateBackend",
                "DockerBackend", "CrawlRunCLI", "TestSupport", "ProcessKit", "AWS", "JSONKit", "LoopbackRelay",
                "S3Runs", "WebSocket", "Digest",
            ],
            // AWS's SigV4 test suite (Apache 2.0, LICENSE and NOTICE beside it), read from disk.
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
    ]
)
