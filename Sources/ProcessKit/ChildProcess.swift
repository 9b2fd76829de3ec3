import Blocking
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a child process ended.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// The status as a shell reports it: the exit code, or 128 + the signal number.
    public var code: Int32 {
        switch self {
        case .exited(let c): return c
        case .signaled(let s): return 128 + s
        }
    }

    public var description: String {
        switch self {
        case .exited(let c): return "exit \(c)"
        case .signaled(let s): return "signal \(s)"
        }
    }
}

public struct ProcessError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var errno: Int32
    public var description: String { "\(message): \(String(cString: strerror(errno)))" }
}

/// A child process started in its own process group, so that it and everything it starts
/// (chromedriver starts Chrome, Chrome starts renderers) can be signalled together and nothing
/// outlives its owner.
public final class ChildProcess: Sendable {
    public enum Output: Sendable {
        case inherit
        case null
        /// Append to this file (created with mode 0644).
        case file(String)
        /// Deliver each line to the handler, from a reader thread.
        case lines(@Sendable (String) -> Void)
    }

    public let pid: pid_t
    public let name: String
    private let box = WaitBox()

    private final class WaitBox: Sendable {
        let state = Mutex<WaitState>(WaitState())
    }

    private struct WaitState {
        var status: ExitStatus?
        var peakRSSKilobytes: Int?
        var waiters: [CheckedContinuation<ExitStatus, Never>] = []
    }

    /// Starts `executable` (searched in PATH when it has no slash).
    public init(
        _ executable: String,
        arguments: [String] = [],
        environment: [String: String]? = nil,
        stdout: Output = .inherit,
        stderr: Output = .inherit,
        name: String? = nil
    ) throws {
        self.name = name ?? executable
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new process group whose id is the child's pid; default signal dispositions, so a
        // parent that ignores SIGTERM does not pass that on.
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGPIPE, SIGHUP] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var noMask = sigset_t()
        sigemptyset(&noMask)
        posix_spawnattr_setsigmask(&attributes, &noMask)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var readers: [(Int32, @Sendable (String) -> Void)] = []
        var closeInParent: [Int32] = []
        for (fd, output) in [(Int32(1), stdout), (Int32(2), stderr)] {
            switch output {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0)
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            case .lines(let handler):
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else { throw ProcessError(message: "cannot create a pipe", errno: errno) }
                _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
                _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
                posix_spawn_file_actions_adddup2(&actions, fds[1], fd)
                readers.append((fds[0], handler))
                closeInParent.append(fds[1])
            }
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

        let argv = [executable] + arguments
        let env = environment.map { $0.map { "\($0.key)=\($0.value)" } }
        var child: pid_t = 0
        let rc = withCStrings(argv) { argvPtr in
            if let env {
                return withCStrings(env) { envPtr in
                    posix_spawnp(&child, executable, &actions, &attributes, argvPtr, envPtr)
                }
            }
            return posix_spawnp(&child, executable, &actions, &attributes, argvPtr, environ)
        }
        for fd in closeInParent { close(fd) }
        guard rc == 0 else {
            for (fd, _) in readers { close(fd) }
            throw ProcessError(message: "cannot start \(executable)", errno: rc)
        }
        pid = child
        for (fd, handler) in readers { Self.readLines(fd: fd, handler: handler) }
        let pid = child
        ThreadPool.shared.submit { [box] in
            var raw: Int32 = 0
            var usage = rusage()
            while wait4(pid, &raw, 0, &usage) == -1 && errno == EINTR {}
            let status: ExitStatus =
                (raw & 0x7f) == 0 ? .exited((raw >> 8) & 0xff) : .signaled(raw & 0x7f)
            let waiters = box.state.withLock { s -> [CheckedContinuation<ExitStatus, Never>] in
                s.status = status
                s.peakRSSKilobytes = Int(usage.ru_maxrss)
                defer { s.waiters.removeAll() }
                return s.waiters
            }
            for w in waiters { w.resume(returning: status) }
        }
    }

    /// The child's peak resident set size (getrusage ru_maxrss), once it has ended.
    public var peakRSSKilobytes: Int? { box.state.withLock { $0.peakRSSKilobytes } }

    /// The exit status, if the process has ended.
    public var exitStatus: ExitStatus? { box.state.withLock { $0.status } }

    /// Waits for the process to end (its process group may live on; see `terminate`).
    public func wait() async -> ExitStatus {
        await withCheckedContinuation { cont in
            let ready = box.state.withLock { s -> ExitStatus? in
                if let status = s.status { return status }
                s.waiters.append(cont)
                return nil
            }
            if let ready { cont.resume(returning: ready) }
        }
    }

    /// Waits at most `timeout`; nil when the process is still running then.
    public func wait(timeout: Duration) async -> ExitStatus? {
        await withTaskGroup(of: ExitStatus?.self) { group in
            group.addTask { await self.wait() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            if let first { return first }
            return self.exitStatus
        }
    }

    /// Sends `signal` to the whole process group.
    public func signalGroup(_ signal: Int32) {
        _ = kill(-pid, signal)
    }

    /// ECS semantics: SIGTERM to the group, SIGKILL after `grace`, then SIGKILL to any member of
    /// the group still alive (a browser whose parent already exited).
    @discardableResult
    public func terminate(grace: Duration) async -> ExitStatus {
        if exitStatus == nil { signalGroup(SIGTERM) }
        let status: ExitStatus
        if let s = await wait(timeout: grace) {
            status = s
        } else {
            signalGroup(SIGKILL)
            status = await wait()
        }
        signalGroup(SIGKILL)
        return status
    }

    private static func readLines(fd: Int32, handler: @escaping @Sendable (String) -> Void) {
        ThreadPool.shared.submit {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 16384)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending.append(contentsOf: buffer[0..<n])
                while let nl = pending.firstIndex(of: 10) {
                    handler(String(decoding: pending[..<nl], as: UTF8.self))
                    pending.removeSubrange(...nl)
                }
            }
            if !pending.isEmpty { handler(String(decoding: pending, as: UTF8.self)) }
            close(fd)
        }
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { buf in
        // posix_spawn's prototype takes `char *const[]`; the strings are never modified.
        body(buf.baseAddress.unsafelyUnwrapped)
    }
}
