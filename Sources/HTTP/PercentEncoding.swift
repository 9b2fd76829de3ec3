extension StringProtocol {
    /// Decodes `%XX` escapes, leaving malformed ones as they are (RFC 3986 §2.1); with
    /// `plusAsSpace`, `+` is a space as in form encoding. FoundationEssentials has no
    /// `removingPercentEncoding`.
    public func percentDecoded(plusAsSpace: Bool = false) -> String {
        var out: [UInt8] = []
        var bytes = Array(utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%"), bytes.count >= 2,
                let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
            {
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(plusAsSpace && b == UInt8(ascii: "+") ? 32 : b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
