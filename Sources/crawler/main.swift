// The crawler container's entry point: configuration from the environment, then the worker.
// Exit codes and environment: `crawler --help`, README.md.
import Crawler
import LoopbackRelay

#if canImport(Glibc)
    import Glibc
#endif

// The crawler shares a small Fargate task with a browser: one malloc arena instead of one per
// thread keeps its resident memory flat (the blocking-call threads would each get their own).
_ = mallopt(-8 /* M_ARENA_MAX, malloc.h */, 1)

// malloc.h is not part of the Glibc module map.
@_silgen_name("mallopt") func mallopt(_ param: Int32, _ value: Int32) -> Int32

let arguments = CommandLine.arguments.dropFirst()
// The docker backend's relay to the host's loopback on Docker Engine (LoopbackRelay): runs until stopped.
if arguments.first == "relay" {
    do {
        let relay = LoopbackRelay(settings: try RelaySettings(arguments: Array(arguments.dropFirst()))) {
            FileHandleStderr.write($0 + "\n")
        }
        _ = try relay.start()
    } catch {
        FileHandleStderr.write("crawler relay: \(error)\n")
        exit(64)
    }
    while true { pause() }
}
if arguments.contains("--help") || arguments.contains("-h") {
    print(CrawlerSettings.usage)
    exit(0)
}
if let unknown = arguments.first {
    FileHandleStderr.write(
        "crawler: unknown argument \(unknown); configuration comes from the environment (see --help)\n")
    exit(64)
}
let log = Log()
let settings: CrawlerSettings
do {
    settings = try CrawlerSettings(environment: ProcessEnvironment.current)
} catch {
    log.error(error.message)
    exit(error.exitCode.rawValue)
}
let code = await Crawler(settings: settings, log: log).run()
exit(code.rawValue)
