import CrawlKit
import Foundation

/// One live run per job in a runs directory: `<runs>/locks/<job>.lock`, held with flock(2) for
/// the life of the crawlrun process that runs the job. The kernel releases it however the process
/// ends (SIGKILL, a reboot), so a stale lock is simply taken over; the file's content says who
/// holds it, for the message a second `crawlrun run` prints.
/// https://man7.org/linux/man-pages/man2/flock.2.html
public final class RunLock: @unchecked Sendable {
    public struct Holder: Codable, Sendable, Equatable {
        public var run: String
        public var job: String
        public var pid: Int32
        public var host: String
        public var startedAt: String
        public init(run: String, job: String, pid: Int32, host: String, startedAt: String) {
            self.run = run
            self.job = job
            self.pid = pid
            self.host = host
            self.startedAt = startedAt
        }
    }

    public enum Failure: Error, Sendable {
        /// Another crawlrun runs the job (its record, when it could be read).
        case held(Holder?)
        case io(RunFailure)
    }

    private let fd: Int32
    public let path: String

    public static func path(runsDirectory: String, job: String) -> String {
        runsDirectory + "/" + RunLayout.locks + "/" + job + ".lock"
    }

    /// Takes the job's lock, or fails at once with who holds it. With `wait`, blocks until the
    /// holder ends (on a thread of its own: flock blocks).
    public static func acquire(
        runsDirectory: String, job: String, as holder: Holder, wait: Bool
    ) async throws(Failure) -> RunLock {
        let path = path(runsDirectory: runsDirectory, job: job)
        do {
            try RunStore.makeDirectories(Paths.directory(of: path))
        } catch {
            throw .io(RunFailure(error.message))
        }
        // O_CLOEXEC: no child inherits the descriptor (it would keep the lock after we die).
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .io(RunFailure("cannot open the lock \(path)", errno: errno))
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK, wait else {
                let holder = Self.holder(path)
                close(fd)
                throw .held(holder)
            }
            let locked: Bool = await withCheckedContinuation { c in
                Thread.detachNewThread {
                    var rc: Int32
                    repeat { rc = flock(fd, LOCK_EX) } while rc != 0 && errno == EINTR
                    c.resume(returning: rc == 0)
                }
            }
            guard locked else {
                close(fd)
                throw .io(RunFailure("cannot lock \(path)", errno: errno))
            }
        }
        let lock = RunLock(fd: fd, path: path)
        lock.record(holder)
        return lock
    }

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Rewrites who holds the lock (a resumed run is another run id).
    public func record(_ holder: Holder) {
        guard let data = try? JSONEncoder().encode(holder) else { return }
        _ = ftruncate(fd, 0)
        _ = lseek(fd, 0, SEEK_SET)
        writeAll(fd, [UInt8](data) + [10])
    }

    /// Who holds the lock, as its file says.
    public static func holder(_ path: String) -> Holder? {
        FileManager.default.contents(atPath: path).flatMap { try? JSONDecoder().decode(Holder.self, from: $0) }
    }
}
