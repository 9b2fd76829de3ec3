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
    public init(message: String, errno: Int32) {
        self.message = message
        self.errno = errno
    }
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
        var nextWaiter = 0
        var waiters: [Int: @Sendable (ExitStatus?) -> Void] = [:]
        /// Output readers still running, and who waits for them to reach end of file.
        var openReaders = 0
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Starts `executable` (searched in PATH when it has no slash) in a process group of its own.
    /// `stdin` is a descriptor to give the child as its standard input (else /dev/null).
    public init(
        _ executable: String,
        arguments: [String] = [],
        environment: [String: String]? = nil,
        stdout: Output = .inherit,
        stderr: Output = .inherit,
        stdin: Int32? = nil,
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
        // Standard input: /dev/null, or the descriptor given (a lifeline pipe's read end).
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }

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
        box.state.withLock { $0.openReaders = readers.count }
        for (fd, handler) in readers {
            Self.readLines(fd: fd, handler: handler) { [box] in
                let waiters = box.state.withLock { s -> [CheckedContinuation<Void, Never>] in
                    s.openReaders -= 1
                    guard s.openReaders == 0 else { return [] }
                    defer { s.drainWaiters.removeAll() }
                    return s.drainWaiters
                }
                for w in waiters { w.resume() }
            }
        }
        let pid = child
        ThreadPool.shared.submit { [box] in
            var raw: Int32 = 0
            var usage = rusage()
            while wait4(pid, &raw, 0, &usage) == -1 && errno == EINTR {}
            let status: ExitStatus =
                (raw & 0x7f) == 0 ? .exited((raw >> 8) & 0xff) : .signaled(raw & 0x7f)
            let waiters = box.state.withLock { s -> [@Sendable (ExitStatus?) -> Void] in
                s.status = status
                s.peakRSSKilobytes = Int(usage.ru_maxrss)
                defer { s.waiters.removeAll() }
                return Array(s.waiters.values)
            }
            for w in waiters { w(status) }
        }
    }

    /// Waits until every `.lines` output has reached end of file (all lines delivered), at most
    /// `timeout`: a process's last lines are read after it exits.
    public func outputDrained(timeout: Duration = .seconds(2)) async {
        let drained: @Sendable () async -> Void = { [box] in
            await withCheckedContinuation { cont in
                let done = box.state.withLock { s -> Bool in
                    if s.openReaders == 0 { return true }
                    s.drainWaiters.append(cont)
                    return false
                }
                if done { cont.resume() }
            }
        }
        let racer = Task { await drained() }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            return ()
        }
        // Whichever comes first; a reader held open by a stray grandchild must not hang us.
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            let once = Once(cont)
            Task {
                await racer.value; once.fire()
            }
            Task {
                await timer.value; once.fire()
            }
        }
        timer.cancel()
    }

    /// The child's peak resident set size (getrusage ru_maxrss), once it has ended.
    public var peakRSSKilobytes: Int? { box.state.withLock { $0.peakRSSKilobytes } }

    /// The exit status, if the process has ended.
    public var exitStatus: ExitStatus? { box.state.withLock { $0.status } }

    /// Waits for the process to end (its process group may live on; see `terminate`).
    public func wait() async -> ExitStatus {
        while true {
            if let status = await waitUnlessCancelled(ignoringCancellation: true) { return status }
        }
    }

    /// Waits for the process to end; nil when the calling task is cancelled first.
    public func waitUnlessCancelled() async -> ExitStatus? {
        await waitUnlessCancelled(ignoringCancellation: false)
    }

    private func waitUnlessCancelled(ignoringCancellation: Bool) async -> ExitStatus? {
        let id = box.state.withLock { s -> Int in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (cont: CheckedContinuation<ExitStatus?, Never>) in
                let ready = box.state.withLock { s -> ExitStatus?? in
                    if let status = s.status { return .some(status) }
                    if !ignoringCancellation && Task.isCancelled { return .some(nil) }
                    s.waiters[id] = { cont.resume(returning: $0) }
                    return nil
                }
                if let ready { cont.resume(returning: ready) }
            }
        } onCancel: { [box] in
            guard !ignoringCancellation else { return }
            let waiter = box.state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?(nil)
        }
    }

    /// Waits at most `timeout`; nil when the process is still running then.
    public func wait(timeout: Duration) async -> ExitStatus? {
        await withTaskGroup(of: ExitStatus?.self) { group in
            group.addTask { await self.waitUnlessCancelled() }
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

    private static func readLines(
        fd: Int32, handler: @escaping @Sendable (String) -> Void, done: @escaping @Sendable () -> Void
    ) {
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
            done()
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

/// Resumes a continuation once, whoever calls first.
private final class Once: Sendable {
    private let cont: Mutex<CheckedContinuation<Void, Never>?>
    init(_ cont: CheckedContinuation<Void, Never>) { self.cont = Mutex(cont) }
    func fire() {
        let c = cont.withLock { c -> CheckedContinuation<Void, Never>? in
            defer { c = nil }
            return c
        }
        c?.resume()
    }
}
