import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Makes every process group a run starts die with the run, however the run dies — SIGKILL
/// included, which no handler sees. `posix_spawn` cannot set PR_SET_PDEATHSIG (and it would only
/// reach the direct child, not the browsers chromedriver starts), so a small guard process does
/// it: it reads the lifeline pipe, whose only write end this process holds. Each group is
/// announced on it (`+PGID START`) and retired when it is gone (`-PGID`); at end of file — this
/// process has exited, whatever the way — the guard sends SIGTERM to every group still announced,
/// then SIGKILL after `grace`, and exits. Chrome's processes stay in chromedriver's group, so
/// they go too.
public final class Lifeline: Sendable {
    private let writeEnd: Int32
    private let guardProcess: ChildProcess
    private let lock = Mutex(())

    /// Starts the guard: `command` runs `Lifeline.guardMain` (crawlrun's hidden `__guard`).
    public init(command: [String]) throws(ProcessError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ProcessError(message: "cannot create the lifeline pipe", errno: errno) }
        // The write end must reach no child: one inherited copy would keep the pipe open after
        // this process dies. The read end is given to the guard as its standard input only.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        do {
            guardProcess = try ChildProcess(
                command[0], arguments: Array(command.dropFirst()), stdout: .null, stderr: .inherit, stdin: fds[0],
                name: "guard")
        } catch let error as ProcessError {
            close(fds[0])
            close(fds[1])
            throw error
        } catch {
            close(fds[0])
            close(fds[1])
            throw ProcessError(message: "cannot start the guard: \(error)", errno: 0)
        }
        close(fds[0])
        writeEnd = fds[1]
    }

    deinit { close(writeEnd) }

    public var guardPID: pid_t { guardProcess.pid }

    /// The guard will stop this process group if this process dies.
    public func watch(group: pid_t) { send("+\(group) \(Self.startTime(of: group) ?? 0)\n") }

    /// The group is gone (or stopped by us): nothing to do for it any more.
    public func release(group: pid_t) { send("-\(group)\n") }

    private func send(_ line: String) {
        lock.withLock { _ in
            var bytes = Array(line.utf8)
            var off = 0
            while off < bytes.count {
                let n = bytes.withUnsafeMutableBytes {
                    write(writeEnd, $0.baseAddress.map { $0 + off }, $0.count - off)
                }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                off += n
            }
            bytes.removeAll()
        }
    }

    /// The guard's side: reads standard input until end of file, then stops every group still
    /// announced whose leader (if alive) is the process that was announced. Ignores the terminal's
    /// signals: Ctrl-C reaches the whole foreground group, and the guard must outlive its parent.
    public static func guardMain(grace: Double = 5) -> Never {
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { signal(sig, SIG_IGN) }
        var groups: [pid_t: UInt64] = [:]
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending.append(contentsOf: buffer[0..<n])
            while let nl = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                let parts = line.dropFirst().split(separator: " ")
                guard let group = parts.first.flatMap({ pid_t($0) }), group > 1 else { continue }
                if line.hasPrefix("+") {
                    groups[group] = parts.dropFirst().first.flatMap { UInt64($0) } ?? 0
                } else if line.hasPrefix("-") {
                    groups[group] = nil
                }
            }
        }
        // Our parent is gone: whatever it started goes too.
        let ours = groups.filter { group, start in
            // A leader still alive must be the process announced (not a reused pid).
            guard let now = startTime(of: group) else { return true }
            return start == 0 || now == start
        }.keys
        for group in ours { _ = kill(-group, SIGTERM) }
        var waited = 0.0
        while waited < grace, ours.contains(where: { kill(-$0, 0) == 0 }) {
            usleep(50_000)
            waited += 0.05
        }
        for group in ours { _ = kill(-group, SIGKILL) }
        exit(0)
    }

    /// A process's start time in clock ticks since boot (/proc/PID/stat, field 22); nil when
    /// there is no such process. With the pid it names one process for good.
    public static func startTime(of pid: pid_t) -> UInt64? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
        let text = buffer[0..<n]
        guard let close = text.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = text[(close + 1)...].split(separator: UInt8(ascii: " "))
        // Field 3 is fields[0] here; field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }
}
