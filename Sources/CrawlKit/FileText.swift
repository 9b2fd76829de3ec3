#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a file cannot be read, as a sentence a user can act on ("cannot read jobs/x.json:
/// permission denied"), never a Foundation error dump.
public struct FileProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    /// The sentence for `errno` after opening or reading `path` (or, with another `action`,
    /// creating or writing it).
    public init(path: String, errno code: Int32, action: String = "read") {
        switch code {
        case ENOENT where action == "read": message = "\(path) does not exist"
        case EACCES, EPERM: message = "cannot \(action) \(path): permission denied"
        case EISDIR where action == "read": message = "\(path) is a directory, not a file"
        case ENOTDIR: message = "cannot \(action) \(path): a part of the path is a file, not a directory"
        default:
            let reason = strerror(code).map { String(cString: $0) } ?? "error \(code)"
            message = "cannot \(action) \(path): \(reason.prefix(1).lowercased() + reason.dropFirst())"
        }
    }

    public init(_ message: String) { self.message = message }
}

/// Reading the files a job names, with POSIX calls so that every failure has its errno.
public enum FileText {
    /// The whole file.
    public static func contents(of path: String) throws(FileProblem) -> [UInt8] {
        let fd = try openRegularFile(path)
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return out }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileProblem(path: path, errno: errno)
            }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// Whether `path` is a regular file this process can open for reading (a URL list is read
    /// later, line by line).
    public static func checkReadable(_ path: String) throws(FileProblem) {
        close(try openRegularFile(path))
    }

    /// Opens a regular file for reading; a directory is refused here, since open(2) accepts it.
    static func openRegularFile(_ path: String) throws(FileProblem) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileProblem(path: path, errno: errno) }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            close(fd)
            throw FileProblem(path: path, errno: EISDIR)
        }
        return fd
    }
}
