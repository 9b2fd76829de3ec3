#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Dedicated threads for blocking calls (curl_easy_perform, waitpid, getaddrinfo, reads).
///
/// Why not Dispatch: on Linux, Swift's cooperative executor and `DispatchQueue.global()` share
/// libdispatch's worker-thread machinery, which adds threads only slowly when work items block.
/// Forty blocked transfers on a Dispatch queue were measured to stall a 10 ms `Task.sleep` for
/// 14 s. Here every queued job gets a waiting thread or a new one at once, so blocking work never
/// waits behind other blocking work and never occupies the cooperative pool.
public final class ThreadPool: @unchecked Sendable {
    public static let shared = ThreadPool(maxIdle: 16)

    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var idle = 0
    private let maxIdle: Int

    public init(maxIdle: Int) {
        self.maxIdle = maxIdle
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    /// Runs `job` on a pool thread, starting one when no idle thread is free for it.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(&mutex)
        jobs.append(job)
        // Invariant: each queued job has a distinct waiting thread, or a new thread is started.
        let spawn = idle < jobs.count - head
        if !spawn { pthread_cond_signal(&condition) }
        pthread_mutex_unlock(&mutex)
        if spawn { startThread() }
    }

    /// Runs a blocking `body` on a pool thread and returns its result to the async caller.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { cont in
            submit { cont.resume(with: Result { try body() }) }
        }
    }

    /// Like `run`, for bodies that cannot fail.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { cont in submit { cont.resume(returning: body()) } }
    }

    private func startThread() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 512 * 1024)
        let rc = pthread_create(
            &thread, &attributes,
            { raw in
                guard let raw else { return nil }
                let pool = Unmanaged<ThreadPool>.fromOpaque(raw).takeRetainedValue()
                pool.workLoop()
                return nil
            }, box)
        pthread_attr_destroy(&attributes)
        if rc != 0 {
            // No thread could be made: run the job here rather than lose it.
            Unmanaged<ThreadPool>.fromOpaque(box).release()
            if let job = takeJob() { job() }
        }
    }

    private func takeJob() -> (@Sendable () -> Void)? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return dequeue()
    }

    /// Caller holds the mutex.
    private func dequeue() -> (@Sendable () -> Void)? {
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        if head > 64 && head * 2 > jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    private func workLoop() {
        pthread_mutex_lock(&mutex)
        while true {
            if let job = dequeue() {
                pthread_mutex_unlock(&mutex)
                job()
                pthread_mutex_lock(&mutex)
                continue
            }
            if idle >= maxIdle { break }
            idle += 1
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_sec += 30
            let rc = pthread_cond_timedwait(&condition, &mutex, &deadline)
            idle -= 1
            if rc == ETIMEDOUT && head >= jobs.count { break }
        }
        pthread_mutex_unlock(&mutex)
    }
}
