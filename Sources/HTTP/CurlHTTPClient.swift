import Blocking
import CCurl
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The HTTP client every part of CrawlRun uses: WebDriver, AWS, the Docker Engine API.
///
/// - Connection reuse: finished easy handles go back to a small pool; `curl_easy_reset` keeps a
///   handle's live connections, so the next request to the same host reuses the socket
///   (https://curl.se/libcurl/c/curl_easy_reset.html).
/// - Blocking `curl_easy_perform` runs on `ThreadPool` threads, never on Swift's cooperative
///   pool (nor on Dispatch, which shares its threads on Linux), so a slow page cannot starve
///   the async tasks around it.
/// - Task cancellation aborts the transfer through the progress callback.
public final class CurlHTTPClient: HTTPTransport, Sendable {
    public let defaultConnectTimeout: Duration
    public let defaultTimeout: Duration
    private let idle = Mutex<[EasyHandle]>([])
    private let maxIdle: Int
    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    public init(
        connectTimeout: Duration = .seconds(10),
        timeout: Duration = .seconds(60),
        maxIdleConnections: Int = 16
    ) {
        _ = Self.globalInit
        defaultConnectTimeout = connectTimeout
        defaultTimeout = timeout
        maxIdle = maxIdleConnections
    }

    deinit {
        for handle in idle.withLock({ $0 }) { curl_easy_cleanup(handle.raw) }
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await send(request, onBody: nil)
    }

    /// Like `send`, but a 2xx response's body goes to `onBody` piece by piece as it arrives, on
    /// the transfer's thread (the returned response's body is then empty): a body as long as
    /// the exchange, such as Docker's followed logs. Other statuses collect their body as usual,
    /// so the caller reads the error. Cancelling the task ends the transfer.
    public func stream(
        _ request: HTTPRequest, onBody: @escaping @Sendable (Data) -> Void
    ) async throws
        -> HTTPResponse
    {
        try await send(request, onBody: onBody)
    }

    private func send(_ request: HTTPRequest, onBody: (@Sendable (Data) -> Void)?) async throws -> HTTPResponse {
        let state = TransferState()
        return try await withTaskCancellationHandler {
            try await ThreadPool.shared.run { try self.perform(request, state: state, onBody: onBody) }
        } onCancel: {
            state.cancelled.store(true, ordering: .relaxed)
        }
    }

    private func checkout() throws -> EasyHandle {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        guard let raw = curl_easy_init() else {
            throw HTTPError(code: .transfer, curlCode: -1, message: "libcurl could not create a handle", url: "")
        }
        return EasyHandle(raw: raw)
    }

    private func checkin(_ handle: EasyHandle) {
        curl_easy_reset(handle.raw)
        let kept = idle.withLock { pool -> Bool in
            guard pool.count < maxIdle else { return false }
            pool.append(handle)
            return true
        }
        if !kept { curl_easy_cleanup(handle.raw) }
    }

    private func perform(
        _ request: HTTPRequest, state: TransferState, onBody: (@Sendable (Data) -> Void)?
    ) throws -> HTTPResponse {
        if state.cancelled.load(ordering: .relaxed) {
            throw HTTPError(
                code: .cancelled, curlCode: Int32(CURLE_ABORTED_BY_CALLBACK.rawValue), message: "request cancelled",
                url: request.url)
        }
        let handle = try checkout()
        var reusable = true
        defer {
            if reusable { checkin(handle) } else { curl_easy_cleanup(handle.raw) }
        }
        let h = handle.raw
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer {
            errorBuffer.deallocate()
            curl_slist_free_all(headerList)
        }

        crawlrun_setopt_string(h, CURLOPT_URL, request.url)
        crawlrun_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBuffer)
        crawlrun_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        crawlrun_setopt_long(h, CURLOPT_TCP_NODELAY, 1)
        crawlrun_setopt_long(
            h, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(request.connectTimeout ?? defaultConnectTimeout))
        crawlrun_setopt_long(h, CURLOPT_TIMEOUT_MS, milliseconds(request.timeout ?? defaultTimeout))
        if let socket = request.unixSocketPath {
            crawlrun_setopt_string(h, CURLOPT_UNIX_SOCKET_PATH, socket)
        }

        switch request.method {
        case "GET": crawlrun_setopt_long(h, CURLOPT_HTTPGET, 1)
        case "HEAD": crawlrun_setopt_long(h, CURLOPT_NOBODY, 1)
        case "POST": crawlrun_setopt_long(h, CURLOPT_POST, 1)
        default: crawlrun_setopt_string(h, CURLOPT_CUSTOMREQUEST, request.method)
        }
        // A POST needs a body even when empty: without one libcurl would read it from stdin (its
        // default read callback), chunked (https://curl.se/libcurl/c/CURLOPT_POST.html).
        if let body = request.body ?? (request.method == "POST" ? Data() : nil) {
            // COPYPOSTFIELDS copies the bytes, so the Data need not outlive this call's scope.
            crawlrun_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            _ = body.withUnsafeBytes { raw in
                if let base = raw.baseAddress {
                    crawlrun_setopt_pointer(h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
                } else {
                    crawlrun_setopt_string(h, CURLOPT_COPYPOSTFIELDS, "")
                }
            }
        }

        // An empty "Expect:" stops libcurl from waiting for 100-continue on larger bodies.
        var names = Set<String>()
        for header in request.headers {
            names.insert(header.name.lowercased())
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        if !names.contains("expect") { headerList = curl_slist_append(headerList, "Expect:") }
        crawlrun_setopt_slist(h, CURLOPT_HTTPHEADER, headerList)

        let sink = Unmanaged.passRetained(ResponseSink(state: state, onBody: onBody))
        defer { sink.release() }
        let context = sink.toOpaque()
        crawlrun_setopt_data_cb(h, CURLOPT_WRITEFUNCTION, curlWriteBody)
        crawlrun_setopt_pointer(h, CURLOPT_WRITEDATA, context)
        crawlrun_setopt_data_cb(h, CURLOPT_HEADERFUNCTION, curlWriteHeader)
        crawlrun_setopt_pointer(h, CURLOPT_HEADERDATA, context)
        crawlrun_setopt_long(h, CURLOPT_NOPROGRESS, 0)
        crawlrun_setopt_xferinfo_cb(h, curlProgress)
        crawlrun_setopt_pointer(h, CURLOPT_XFERINFODATA, context)

        let code = curl_easy_perform(h)
        guard code == CURLE_OK else {
            reusable = false
            let detail = String(cString: errorBuffer)
            let text = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw HTTPError(code: Self.classify(code), curlCode: Int32(code.rawValue), message: text, url: request.url)
        }
        var status = 0
        crawlrun_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        let out = sink.takeUnretainedValue()
        return HTTPResponse(status: status, headers: out.headers, body: out.body)
    }

    private func milliseconds(_ d: Duration) -> Int {
        let (s, atto) = d.components
        return max(1, Int(s) * 1000 + Int(atto / 1_000_000_000_000_000))
    }

    static func classify(_ code: CURLcode) -> HTTPError.Code {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .dns
        case CURLE_COULDNT_CONNECT: return .connect
        case CURLE_OPERATION_TIMEDOUT: return .timeout
        case CURLE_ABORTED_BY_CALLBACK: return .cancelled
        case CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE: return .connectionLost
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: return .invalidRequest
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE:
            return .tls
        default: return .transfer
        }
    }
}

/// A libcurl easy handle; only ever used by one transfer at a time (pool discipline).
final class EasyHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    init(raw: UnsafeMutableRawPointer) { self.raw = raw }
}

final class TransferState: Sendable {
    let cancelled = Atomic<Bool>(false)
}

/// Collects one response. Touched only by the thread running curl_easy_perform.
final class ResponseSink {
    let state: TransferState
    let onBody: (@Sendable (Data) -> Void)?
    var status = 0
    var body = Data()
    var headers: [(name: String, value: String)] = []
    init(state: TransferState, onBody: (@Sendable (Data) -> Void)?) {
        self.state = state
        self.onBody = onBody
    }
}

private let curlWriteBody: crawlrun_data_cb = { data, size, count, context in
    guard let data, let context else { return 0 }
    let n = size * count
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let bytes = UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self)
    if let onBody = sink.onBody, (200..<300).contains(sink.status) {
        onBody(Data(bytes: bytes, count: n))
    } else {
        sink.body.append(bytes, count: n)
    }
    return n
}

private let curlWriteHeader: crawlrun_data_cb = { data, size, count, context in
    guard let data, let context else { return 0 }
    let n = size * count
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        sink.headers.removeAll()  // a new status line: redirects and 1xx restart the header set
        sink.status = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    } else if let colon = line.firstIndex(of: ":") {
        let name = String(line[..<colon])
        let value = String(line[line.index(after: colon)...].trimmingWhitespace())
        sink.headers.append((name, value))
    }
    return n
}

private let curlProgress: crawlrun_xferinfo_cb = { context, _, _, _, _ in
    guard let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    return sink.state.cancelled.load(ordering: .relaxed) ? 1 : 0
}

extension StringProtocol {
    /// The string without leading and trailing spaces, tabs and line breaks.
    public func trimmingWhitespace() -> SubSequence {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0.isNewline }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
