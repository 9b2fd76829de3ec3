import Synchronization

/// A value set once, awaited by any number of tasks; a cancelled waiter gets nil and leaves.
public final class OnceValue<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var next = 0
        var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    public var value: Value? { state.withLock { $0.value } }

    /// Sets the value; false when it was already set (the first value wins).
    @discardableResult
    public func set(_ value: Value) -> Bool {
        let waiters = state.withLock { s -> [CheckedContinuation<Value?, Never>]? in
            guard s.value == nil else { return nil }
            s.value = value
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        guard let waiters else { return false }
        for w in waiters { w.resume(returning: value) }
        return true
    }

    public func wait() async -> Value? {
        let id = state.withLock { s -> Int in
            s.next += 1
            return s.next
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { cont in
                let ready = state.withLock { s -> Value?? in
                    if let v = s.value { return .some(v) }
                    if Task.isCancelled { return .some(nil) }
                    s.waiters[id] = cont
                    return nil
                }
                if let ready { cont.resume(returning: ready) }
            }
        } onCancel: {
            let w = state.withLock { $0.waiters.removeValue(forKey: id) }
            w?.resume(returning: nil)
        }
    }
}

/// Runs the operations concurrently and returns the first result; the others are cancelled
/// (each must return promptly when cancelled).
public func firstOf<T: Sendable>(_ operations: [@Sendable () async -> T?]) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        for op in operations { group.addTask { await op() } }
        while let result = await group.next() {
            if let result {
                group.cancelAll()
                return result
            }
        }
        return nil
    }
}
