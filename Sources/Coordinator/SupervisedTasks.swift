import Synchronization

/// A task a backend supervises in this process (the local backend's processes, the docker
/// backend's containers): it knows its phase at once and stops when asked.
public protocol SupervisedTask: AnyObject, Sendable {
    var phase: TaskPhase { get }
    /// Set once to ask the task to stop, with the reason.
    var stopRequest: OnceValue<String> { get }
    /// The task's end once it has stopped; nil if the waiting task is cancelled.
    func ended() async -> TaskEnd?
}

/// The table of a backend's supervised tasks, and the `TaskBackend` calls that only read it:
/// `observe` answers from memory (a stopped task is reported once, then forgotten), `changed`
/// returns as soon as a task announces a change, `stop` sets the stop request, `shutdown` stops
/// every task and waits for all of them.
public final class SupervisedTasks<Task: SupervisedTask>: Sendable {
    private let tasks = Mutex<[String: Task]>([:])
    private let changes: AsyncStream<Void>
    private let announcer: AsyncStream<Void>.Continuation

    public init() {
        (changes, announcer) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public subscript(id: String) -> Task? { tasks.withLock { $0[id] } }

    public func insert(_ task: Task, as id: String) { tasks.withLock { $0[id] = task } }

    public func remove(_ id: String) { tasks.withLock { _ = $0.removeValue(forKey: id) } }

    /// What a task calls when its phase changed.
    public var announce: @Sendable () -> Void { { [announcer] in announcer.yield() } }

    public func observe(_ ids: [String]) -> [String: TaskPhase] {
        let known = tasks.withLock { t in ids.compactMap { id in t[id].map { (id, $0) } } }
        var phases = Dictionary(uniqueKeysWithValues: ids.map { ($0, TaskPhase.missing) })
        for (id, task) in known {
            let phase = task.phase
            phases[id] = phase
            if case .stopped = phase { remove(id) }
        }
        return phases
    }

    public func changed() async {
        for await _ in changes { return }
    }

    public func stop(_ id: String, reason: String) { self[id]?.stopRequest.set(reason) }

    /// Asks every task to stop and waits until all have.
    public func shutdown(reason: String) async {
        let all = tasks.withLock { Array($0.values) }
        for task in all { task.stopRequest.set(reason) }
        for task in all { _ = await task.ended() }
    }
}
