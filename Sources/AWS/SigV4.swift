import HTTP

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// AWS Signature Version 4, header form.
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
/// Checked against every case of AWS's SigV4 test suite (Tests/CrawlRunTests/Fixtures).
public enum SigV4 {
    /// SHA-256 of the empty payload.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// S3 only: the payload is not part of the signature (`x-amz-content-sha256: UNSIGNED-PAYLOAD`).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    public struct Request: Sendable {
        public var method: String
        /// The path as sent on the wire (S3 keys already percent-encoded once).
        public var path: String
        /// The raw query string, without `?`.
        public var query: String
        /// Every header to sign, `host` and `x-amz-date` (and the session token) included.
        public var headers: [(name: String, value: String)]
        /// Hex SHA-256 of the body, or `unsignedPayload`.
        public var payloadHash: String

        public init(
            method: String, path: String, query: String = "", headers: [(name: String, value: String)],
            payloadHash: String = SigV4.emptyPayloadHash
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    public struct Signature: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signedHeaders: String
        public var signature: String
        public var authorization: String
    }

    /// Signs `request`. `s3` keeps the path as sent (S3 neither normalises nor re-encodes it);
    /// every other service gets a normalised path, URI-encoded once more.
    public static func sign(
        _ request: Request, accessKeyId: String, secretAccessKey: String, region: String, service: String,
        amzDate: String, s3: Bool = false
    ) -> Signature {
        let (canonicalHeaders, signedHeaders) = canonical(headers: request.headers)
        let canonicalRequest = [
            request.method,
            s3
                ? (request.path.isEmpty ? "/" : request.path)
                : uriEncode(normalize(path: request.path), keepSlash: true),
            canonical(query: request.query),
            canonicalHeaders,
            signedHeaders,
            request.payloadHash,
        ].joined(separator: "\n")
        let date = String(amzDate.prefix(8))
        let scope = "\(date)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", amzDate, scope, SHA256.hex(Array(canonicalRequest.utf8)),
        ].joined(separator: "\n")
        var key = hmacSHA256(key: Array(("AWS4" + secretAccessKey).utf8), Array(date.utf8))
        for part in [region, service, "aws4_request"] { key = hmacSHA256(key: key, Array(part.utf8)) }
        let signature = hmacSHA256(key: key, Array(stringToSign.utf8)).hexString
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signedHeaders: signedHeaders,
            signature: signature,
            authorization:
                "AWS4-HMAC-SHA256 Credential=\(accessKeyId)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        )
    }

    /// The request to `base + path[?query]`, signed with `credentials` at `date` (seconds since
    /// the epoch; now when nil; `SigningClock` corrects it for skew): `headers` plus
    /// `X-Amz-Date`, the session token and `Authorization`. `Host` is signed, and sent by the HTTP
    /// client from the URL.
    public static func signedRequest(
        method: String, base: String, path: String, query: String = "", headers: [(name: String, value: String)],
        body: Data?, payloadHash: String, credentials: AWSCredentials, region: String, service: String,
        s3: Bool = false, date: Double? = nil
    ) -> HTTPRequest {
        let amzDate = amzDate(date.map { time_t($0) } ?? time(nil))
        var signed: [(name: String, value: String)] = [("X-Amz-Date", amzDate)] + headers
        if let token = credentials.sessionToken { signed.append(("X-Amz-Security-Token", token)) }
        let signature = sign(
            Request(
                method: method, path: path, query: query, headers: [("Host", host(of: base))] + signed,
                payloadHash: payloadHash),
            accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, region: region,
            service: service, amzDate: amzDate, s3: s3)
        signed.append(("Authorization", signature.authorization))
        return HTTPRequest(
            method: method, url: base + path + (query.isEmpty ? "" : "?" + query), headers: signed, body: body)
    }

    /// `name=value&…`, each part URI-encoded the strict way SigV4 canonicalises it.
    public static func encodeQuery(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(uriEncode($0.0, keepSlash: false))=\(uriEncode($0.1, keepSlash: false))" }
            .joined(separator: "&")
    }

    /// `host[:port]` of `scheme://host[:port][/…]`.
    static func host(of base: String) -> String {
        var rest = Substring(base)
        if let r = rest.firstRange(of: "://") { rest = rest[r.upperBound...] }
        return String(rest.prefix { $0 != "/" })
    }

    /// `YYYYMMDDTHHMMSSZ`, UTC: SigV4's `X-Amz-Date`.
    static func amzDate(_ at: time_t = time(nil)) -> String {
        var t = at
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))\(pad(parts.tm_mon + 1, 2))\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2))\(pad(parts.tm_min, 2))\(pad(parts.tm_sec, 2))Z"
    }

    /// Lower-case names, sorted; values trimmed with inner whitespace runs collapsed; repeated
    /// headers joined with commas in their order.
    static func canonical(headers: [(name: String, value: String)]) -> (String, String) {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            values[name.lowercased(), default: []].append(collapse(value))
        }
        let names = values.keys.sorted()
        let lines = names.map { "\($0):\((values[$0] ?? []).joined(separator: ","))\n" }.joined()
        return (lines, names.joined(separator: ";"))
    }

    static func collapse(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }

    /// Parameters decoded, then encoded strictly (RFC 3986 unreserved kept), sorted by name then value.
    static func canonical(query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: true).map { item -> (String, String) in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = uriEncode(parts[0].percentDecoded(), keepSlash: false)
            let value = parts.count > 1 ? uriEncode(parts[1].percentDecoded(), keepSlash: false) : ""
            return (name, value)
        }
        return pairs.sorted {
            ($0.0.utf8.lexicographicallyPrecedes($1.0.utf8))
                || ($0.0 == $1.0 && $0.1.utf8.lexicographicallyPrecedes($1.1.utf8))
        }
        .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// RFC 3986 remove_dot_segments, and empty segments dropped (`//` → `/`).
    static func normalize(path: String) -> String {
        var out: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        for s in segments {
            switch s {
            case "", ".": continue
            case "..": _ = out.popLast()
            default: out.append(s)
            }
        }
        var result = "/" + out.joined(separator: "/")
        let last = segments.last ?? ""
        if !out.isEmpty && (path.hasSuffix("/") || last == "." || last == "..") { result += "/" }
        return result
    }

    public static func uriEncode(_ s: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.append(b)
            case UInt8(ascii: "/") where keepSlash: out.append(b)
            default: out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 0xf)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
