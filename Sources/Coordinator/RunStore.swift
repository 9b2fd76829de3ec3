import CrawlKit
import Foundation
import JSONKit

/// Writes and reads a run directory (`RunLayout`): the merged results (appended), the files
/// written atomically (temp file + rename), and `state.json`, whose writes are debounced — a
/// 1,000,000-URL job is 20,000 batches, and rewriting the whole state on every task start and end
/// would be quadratic. `persist` waits until a write holding everything set so far is on disk
/// (what a launch needs before it uses its idempotency token); writes are at most one per
/// `minimumInterval`, and always one at the end.
public final class RunStore: @unchecked Sendable {
    public let layout: RunLayout
    public var id: String { layout.id }
    public var directory: String { layout.directory }
    private let resultsFD: Int32
    private let lock = NSLock()
    private let state: StateWriter
    /// The run's copy on S3 when the runs directory is there (`--runs-dir s3://…`).
    public let mirror: (any RunMirror)?

    /// Creates a new run directory.
    public convenience init(
        runsDirectory: String, id: String = RunStore.newID(), mirror: (any RunMirror)? = nil
    ) throws(RunFailure) {
        let layout = RunLayout(runsDirectory: runsDirectory, id: id)
        do throws(FileProblem) {
            try Self.makeDirectories(runsDirectory)
            // Never two runs in one directory, should two crawlruns draw the same id.
            guard mkdir(layout.directory, 0o755) == 0 else {
                throw FileProblem(path: layout.directory, errno: errno, action: "create")
            }
            for sub in RunLayout.directories {
                try Self.makeDirectories(layout.directory + "/" + sub)
            }
        } catch {
            throw RunFailure(error.message)
        }
        try self.init(existing: layout, mirror: mirror)
    }

    /// Opens an existing run directory (resume).
    public init(
        existing layout: RunLayout, minimumInterval: Duration = .milliseconds(250), mirror: (any RunMirror)? = nil
    ) throws(RunFailure) {
        self.layout = layout
        self.mirror = mirror
        resultsFD = open(layout.resultsPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard resultsFD >= 0 else {
            throw RunFailure("cannot write \(layout.resultsPath)", errno: errno)
        }
        state = StateWriter(path: layout.statePath, minimumInterval: minimumInterval, mirror: mirror)
    }

    deinit { close(resultsFD) }

    public var resultsPath: String { layout.resultsPath }
    public var logsPath: String { layout.logsPath }
    public var reportPath: String { layout.reportPath }

    /// `YYYYMMDD-HHMMSS-xxxx` (UTC): sorts by start time, fits ECS's 36-character `startedBy`.
    /// `xxxx` is the millisecond times 16 plus a random nibble, in hex, so two runs started in the
    /// same second still sort in the order they started (`run --keep` and `runs` rely on it; a
    /// random suffix once let `--keep 1` keep the older of two such runs).
    public static func newID() -> String {
        id(at: Timestamp.now(), nibble: Int.random(in: 0...15))
    }

    /// The id of a run started at `timestamp` (`Timestamp` form, milliseconds included).
    public static func id(at timestamp: String, nibble: Int) -> String {
        let digits = timestamp.filter(\.isNumber)
        let stamp = String(digits.prefix(8)) + "-" + String(digits.dropFirst(8).prefix(6))
        let millisecond = Int(String(digits.dropFirst(14).prefix(3))) ?? 0
        return stamp + "-" + String(millisecond * 16 + (nibble & 15), radix: 16).leftPadded(to: 4)
    }

    /// `mkdir -p`, with the failure as a sentence naming the path (never a Foundation error dump).
    static func makeDirectories(_ path: String) throws(FileProblem) {
        var partial = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            partial += "/" + part
            if mkdir(partial, 0o755) != 0 && errno != EEXIST {
                throw FileProblem(path: partial, errno: errno, action: "create")
            }
        }
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & S_IFMT != S_IFDIR {
            throw FileProblem(path: path, errno: ENOTDIR, action: "create")
        }
    }

    /// Writes `name` (relative to the run directory) atomically.
    public func writeAtomically(_ name: String, _ bytes: [UInt8]) throws(RunFailure) {
        try Self.writeAtomically(path: layout.path(name), bytes)
        mirror?.enqueue(name)
    }

    /// A file put into the run directory by other means (a copy): the mirror takes it too.
    public func added(_ name: String) { mirror?.enqueue(name) }

    /// A task's logs were collected into `logs/<batch>/`: they go up as they are.
    public func logsCollected(batch: String) {
        guard let mirror else { return }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.logDirectory(batch: batch))) ?? []
        for name in names.sorted() { mirror.enqueue(RunLayout.logs + "/" + batch + "/" + name) }
    }

    /// The end of the run: what the mirror still holds goes up (results.jsonl whole).
    public func finishMirror() async throws(RunFailure) { try await mirror?.finish() }

    /// A temporary file in the same directory, then rename(2): readers see the old or the new file.
    public static func writeAtomically(path: String, _ bytes: [UInt8]) throws(RunFailure) {
        do {
            try replace(path: path) { write in try write(bytes) }
        } catch let failure as RunFailure {
            throw failure
        } catch {
            throw RunFailure("cannot write \(path)", error: error)
        }
    }

    /// Writes `name` from a stream of chunks (a temporary file, then rename(2)), for files too
    /// large to hold whole (plan.json of a million URLs); the mirror takes it once it is whole.
    public func writeStreaming<T>(_ name: String, _ body: (_ write: ([UInt8]) throws -> Void) throws -> T) throws -> T {
        let result = try Self.replace(path: layout.path(name), body)
        added(name)
        return result
    }

    /// `body` writes the temporary file beside `path` in chunks, then rename(2) puts it in place;
    /// a failure removes the temporary file.
    private static func replace<T>(path: String, _ body: (_ write: ([UInt8]) throws -> Void) throws -> T) throws -> T {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RunFailure("cannot write \(temp)", errno: errno) }
        let result: T
        do {
            result = try body { chunk in
                guard writeAll(fd, chunk) else { throw RunFailure("cannot write \(temp)", errno: errno) }
            }
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        close(fd)
        guard rename(temp, path) == 0 else { throw RunFailure("cannot replace \(path)", errno: errno) }
        return result
    }

    public func writeJSON(_ name: String, _ value: JSONValue) throws(RunFailure) {
        var bytes = [UInt8](value.encoded())
        bytes.append(10)
        try writeAtomically(name, bytes)
    }

    /// Appends merged records (whole lines) to results.jsonl.
    public func appendResults(_ bytes: [UInt8]) throws(RunFailure) {
        lock.lock()
        defer { lock.unlock() }
        guard writeAll(resultsFD, bytes) else {
            throw RunFailure("cannot append to \(resultsPath)", errno: errno)
        }
        mirror?.resultsAppended()
    }

    /// The batch file of one attempt, kept in the run directory whatever the backend.
    public func batchPath(_ batch: String, attempt: Int) -> String { layout.batchPath(batch, attempt: attempt) }

    /// The URLs of a batch attempt's file.
    public func batchURLs(_ batch: String, attempt: Int) throws(RunFailure) -> [String] {
        let path = batchPath(batch, attempt: attempt)
        guard let data = FileManager.default.contents(atPath: path),
            let file = try? JSONDecoder().decode(BatchFile.self, from: data)
        else { throw RunFailure("cannot read the batch file \(path)") }
        return file.urls
    }

    public func writeBatch(_ file: BatchFile, attempt: Int) throws(RunFailure) {
        let data: Data
        do {
            data = try JSONEncoder().encode(file)
        } catch {
            throw RunFailure("cannot encode batch \(file.batch)", error: error)
        }
        try writeAtomically(RunLayout.batchName(file.batch, attempt: attempt), [UInt8](data))
    }

    /// Rewrites results.jsonl keeping only the records `keep` accepts (resume drops the
    /// `incomplete` records an interrupt wrote for URLs it is about to crawl). Call it before the
    /// store is opened: the store appends through its own descriptor.
    public static func filterResults(_ layout: RunLayout, keep: (ResultRecord) -> Bool) throws(RunFailure) -> Int {
        guard let data = FileManager.default.contents(atPath: layout.resultsPath) else { return 0 }
        var kept: [UInt8] = []
        var dropped = 0
        let decoder = JSONDecoder()
        for line in data.split(separator: 10) {
            if let record = try? decoder.decode(ResultRecord.self, from: Data(line)), !keep(record) {
                dropped += 1
                continue
            }
            kept += line
            kept.append(10)
        }
        if dropped > 0 { try writeAtomically(path: layout.resultsPath, kept) }
        return dropped
    }

    // MARK: - state.json

    /// Where the state comes from when it is written: the run's driver, asked for a snapshot.
    public func setStateSource(_ source: @escaping @Sendable () async -> RunState) { state.setSource(source) }

    /// The state changed: it reaches the disk within the debounce interval.
    public func stateChanged() { state.changed() }

    /// Returns once a write holding every change so far is on disk.
    public func persist() async throws(RunFailure) { try await state.persist() }

    /// Writes this state now (at the end of a run).
    public func flushState(_ final: RunState) throws(RunFailure) { try state.flush(final) }

    /// How many times state.json has been written (figures for the benchmark).
    public var stateWrites: Int { state.writes }

    /// Reads `state.json` back.
    public static func loadState(_ layout: RunLayout) throws(RunFailure) -> RunState {
        guard let data = FileManager.default.contents(atPath: layout.statePath) else {
            throw RunFailure("\(layout.directory) is not a run directory", cause: "no \(RunLayout.state) in it")
        }
        do {
            return try JSONDecoder().decode(RunState.self, from: data)
        } catch {
            throw RunFailure("cannot read \(layout.statePath)", error: error)
        }
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
