#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Normalises URLs for de-duplication: lower-case scheme and host, default ports and fragments
/// dropped, optionally tracking parameters removed. Records keep the URL as written.
public struct URLNormalizer: Sendable {
    public var removeTrackingParameters: Bool
    public init(removeTrackingParameters: Bool = false) { self.removeTrackingParameters = removeTrackingParameters }

    static let trackingPrefixes = ["utm_"]
    static let trackingNames: Set<String> = [
        "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "yclid", "_ga", "igshid",
    ]

    public enum Problem: Error, Equatable { case unparsable, notHTTP(String), noHost, whitespace }

    /// The normalised form and the host, or why the URL cannot be crawled.
    public func normalize(_ raw: String) -> Result<(url: String, host: String), Problem> {
        guard let comps = URLComponents(string: raw), let scheme = comps.scheme?.lowercased() else {
            return .failure(.unparsable)
        }
        // A URL never holds a blank (RFC 3986: it is written %20); Foundation would encode it
        // silently, and `…/a.html # note` would be crawled as `…/a.html%20#%20note`.
        if raw.contains(where: { $0 == " " || $0 == "\t" }) { return .failure(.whitespace) }
        guard scheme == "http" || scheme == "https" else { return .failure(.notHTTP(scheme)) }
        guard let host = comps.host?.lowercased(), !host.isEmpty else { return .failure(.noHost) }
        var out = scheme + "://" + host
        if let port = comps.port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) {
            out += ":\(port)"
        }
        let path = comps.percentEncodedPath
        out += path.isEmpty ? "/" : path
        if var query = comps.percentEncodedQuery, !query.isEmpty {
            if removeTrackingParameters {
                query = query.split(separator: "&").filter { pair in
                    let name = String(pair.split(separator: "=", maxSplits: 1).first ?? "").lowercased()
                    return !Self.trackingNames.contains(name) && !Self.trackingPrefixes.contains { name.hasPrefix($0) }
                }.joined(separator: "&")
            }
            if !query.isEmpty { out += "?" + query }
        }
        return .success((out, host))
    }

    /// A stable 64-bit FNV-1a hash: de-duplication of millions of URLs in bounded memory
    /// (8 bytes per distinct URL; a collision among 10^6 URLs has odds of about 3 in 10^8).
    public static func fingerprint(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }
}

/// One line of a URL list that holds a URL.
public struct URLListEntry: Sendable, Equatable {
    public var line: Int
    /// The URL, blanks trimmed; U+FFFD where the line is not valid UTF-8.
    public var url: String
    public var isValidUTF8: Bool
}

/// Reads a URL list one line at a time without loading the file: the line number travels with
/// each URL for `file:line` messages. Blank lines are skipped, and so are comments: a line whose
/// first non-blank character is `#`, and the rest of a line from a `#` that follows a blank
/// (`https://a.example/x  # note`). A `#` right after a URL's text is its fragment
/// (`https://a.example/x#top`). A UTF-8 byte order mark at the start (Windows tools write one)
/// is not part of the first URL.
public struct URLListReader: Sequence {
    let path: String
    public init(path: String) { self.path = path }

    public func makeIterator() -> Iterator { Iterator(path: path) }

    public final class Iterator: IteratorProtocol {
        private let file: UnsafeMutablePointer<FILE>?
        private var line = 0
        private var buffer: UnsafeMutablePointer<CChar>?
        private var capacity = 0
        init(path: String) { file = fopen(path, "r") }
        deinit {
            if let file { fclose(file) }
            free(buffer)
        }

        public func next() -> URLListEntry? {
            guard let file else { return nil }
            while true {
                let count = getline(&buffer, &capacity, file)
                guard count > 0, let buffer else { return nil }
                line += 1
                var bytes = UnsafeRawBufferPointer(start: buffer, count: count)[...]
                if line == 1 && bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
                let valid = String(validating: bytes, as: UTF8.self)
                let text = (valid ?? String(decoding: bytes, as: UTF8.self)).withoutURLListComment()
                if text.isEmpty { continue }
                return URLListEntry(line: line, url: text, isValidUTF8: valid != nil)
            }
        }
    }
}

extension String {
    /// One line of a URL list without its comment (see `URLListReader`) and blanks around it.
    public func withoutURLListComment() -> String {
        var text = trimmingLineWhitespace()
        if text.hasPrefix("#") { return "" }
        if let hash = text.indices.first(where: { i in
            text[i] == "#" && i > text.startIndex && [" ", "\t"].contains(text[text.index(before: i)])
        }) {
            text = String(text[..<hash]).trimmingLineWhitespace()
        }
        return text
    }

    func trimmingLineWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0.isNewline }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
